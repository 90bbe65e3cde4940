package garden

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// wire is name in lowercase wire form, as the resolver has it.
func wire(t *testing.T, name string) []byte {
	t.Helper()
	b := make([]byte, 255)
	n, err := dns.PackDomainName(dns.Fqdn(strings.ToLower(name)), b, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	return b[:n]
}

func TestMatch(t *testing.T) {
	d := NewDomains([]string{"example.org", "Shop.Test.", "co.uk"})
	tests := []struct {
		name string
		want bool
	}{
		{"example.org.", true},
		{"example.org", true},
		{"www.example.org.", true},
		{"a.b.c.example.org.", true},
		{"shop.test.", true},
		{"cdn.shop.test.", true},
		{"example.com.", false},
		{"notexample.org.", false}, // a suffix, not a subdomain
		{"example.org.evil.test.", false},
		{"org.", false},
		{".", false},
		{"", false},
		{"bbc.co.uk.", true},
	}
	for _, tt := range tests {
		if got := d.Match(wire(t, tt.name)); got != tt.want {
			t.Errorf("Match(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	if NewDomains(nil).Match(wire(t, "example.org.")) {
		t.Error("an empty set matched")
	}
}

func TestAddrs(t *testing.T) {
	m := new(dns.Msg)
	for _, s := range []string{
		"www.shop.test. 300 IN CNAME cdn.shop.test.",
		"cdn.shop.test. 120 IN A 198.51.100.20",
		"cdn.shop.test. 120 IN A 198.51.100.21",
		"cdn.shop.test. 200 IN AAAA 2001:db8::20",
		`shop.test. 600 IN HTTPS 1 . alpn="h2" ipv4hint="198.51.100.22" ipv6hint="2001:db8::22"`,
	} {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		m.Answer = append(m.Answer, rr)
	}
	// Authority and additional records are not the answer.
	extra, _ := dns.NewRR("ns.shop.test. 5 IN A 192.0.2.99")
	m.Extra = []dns.RR{extra}
	addrs, ttl := Addrs(m)
	want := []netip.Addr{
		netip.MustParseAddr("198.51.100.20"), netip.MustParseAddr("198.51.100.21"), netip.MustParseAddr("2001:db8::20"),
		netip.MustParseAddr("198.51.100.22"), netip.MustParseAddr("2001:db8::22"),
	}
	if !slices.Equal(addrs, want) || ttl != 120*time.Second {
		t.Errorf("Addrs = %v, %v; want %v, 2m0s", addrs, ttl, want)
	}
	if addrs, _ := Addrs(new(dns.Msg)); len(addrs) != 0 {
		t.Errorf("empty answer gave %v", addrs)
	}
}

type fakeFirewall struct {
	calls []call
	err   error
}

type call struct {
	addrs []netip.Addr
	ttl   time.Duration
}

func (f *fakeFirewall) AllowGarden(addrs []netip.Addr, ttl time.Duration) error {
	f.calls = append(f.calls, call{slices.Clone(addrs), ttl})
	return f.err
}

func TestOpener(t *testing.T) {
	fw := &fakeFirewall{}
	o := NewOpener(fw)
	t0 := time.Unix(1000, 0)
	a, b := netip.MustParseAddr("198.51.100.20"), netip.MustParseAddr("198.51.100.21")

	steps := []struct {
		addrs    []netip.Addr
		ttl      time.Duration
		at       time.Duration
		wantCall *call
	}{
		{[]netip.Addr{a}, 300 * time.Second, 0, &call{[]netip.Addr{a}, 300 * time.Second}},
		// Served again from the cache, 100 s later, with 200 s left: the
		// firewall already holds a that long.
		{[]netip.Addr{a}, 200 * time.Second, 100 * time.Second, nil},
		// b is new; a is held long enough.
		{[]netip.Addr{a, b}, 200 * time.Second, 100 * time.Second, &call{[]netip.Addr{b}, 200 * time.Second}},
		// A fresh answer after the first one expired opens a again.
		{[]netip.Addr{a}, 300 * time.Second, 301 * time.Second, &call{[]netip.Addr{a}, 300 * time.Second}},
		// A TTL of 0 still gives the client time to connect.
		{[]netip.Addr{netip.MustParseAddr("198.51.100.22")}, 0, 301 * time.Second, &call{[]netip.Addr{netip.MustParseAddr("198.51.100.22")}, MinTTL}},
		{nil, 300 * time.Second, 400 * time.Second, nil},
	}
	for i, s := range steps {
		n := len(fw.calls)
		if err := o.Open(s.addrs, s.ttl, t0.Add(s.at)); err != nil {
			t.Fatal(err)
		}
		switch {
		case s.wantCall == nil && len(fw.calls) != n:
			t.Errorf("step %d: firewall called with %v; want no call", i, fw.calls[n:])
		case s.wantCall != nil && len(fw.calls) != n+1:
			t.Errorf("step %d: %d firewall calls; want one", i, len(fw.calls)-n)
		case s.wantCall != nil && (!slices.Equal(fw.calls[n].addrs, s.wantCall.addrs) || fw.calls[n].ttl != s.wantCall.ttl):
			t.Errorf("step %d: firewall called with %v; want %v", i, fw.calls[n], *s.wantCall)
		}
	}
}

func TestOpenerFailureIsRetried(t *testing.T) {
	fw := &fakeFirewall{err: errors.New("netlink: no such set")}
	o := NewOpener(fw)
	a := []netip.Addr{netip.MustParseAddr("198.51.100.20")}
	if err := o.Open(a, time.Minute, time.Unix(1000, 0)); err == nil {
		t.Fatal("firewall error not reported")
	}
	fw.err = nil
	if err := o.Open(a, time.Minute, time.Unix(1001, 0)); err != nil || len(fw.calls) != 2 {
		t.Errorf("after a failure: err %v, %d calls; want the address opened on the next answer", err, len(fw.calls))
	}
}

func TestNilFirewall(t *testing.T) {
	if err := NewOpener(nil).Open([]netip.Addr{netip.MustParseAddr("198.51.100.20")}, time.Minute, time.Now()); err != nil {
		t.Error(err)
	}
}
