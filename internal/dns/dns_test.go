package dns

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// want describes an answer.
type want struct {
	rcode    int
	answers  []string // each record's type and data, e.g. "A 10.77.0.1"
	ttl      int      // of the first answer record; -1: any
	upstream bool     // the upstreams were asked
}

func rdata(rr dns.RR) string {
	h := rr.Header()
	return dns.Type(h.Rrtype).String() + " " + strings.TrimPrefix(rr.String(), h.String())
}

func TestAnswers(t *testing.T) {
	portalA := []string{"A 10.77.0.1"}
	tests := []struct {
		name  string
		src   netip.Addr
		qname string
		qtype uint16
		want  want
	}{
		// preauth, and addresses the table does not know (SPEC §3).
		{"preauth A", preauthIP, "www.example.org.", dns.TypeA, want{dns.RcodeSuccess, portalA, 0, false}},
		{"unknown A", unknownIP, "www.example.org.", dns.TypeA, want{dns.RcodeSuccess, portalA, 0, false}},
		{"preauth AAAA", preauthIP, "www.example.org.", dns.TypeAAAA, want{dns.RcodeSuccess, nil, -1, false}},
		{"preauth TXT", preauthIP, "tunnel.example.org.", dns.TypeTXT, want{dns.RcodeSuccess, nil, -1, false}},
		{"preauth NULL", preauthIP, "tunnel.example.org.", dns.TypeNULL, want{dns.RcodeSuccess, nil, -1, false}},
		{"preauth MX", preauthIP, "example.org.", dns.TypeMX, want{dns.RcodeSuccess, nil, -1, false}},
		{"preauth HTTPS", preauthIP, "www.example.org.", dns.TypeHTTPS, want{dns.RcodeSuccess, nil, -1, false}},
		{"preauth SVCB", preauthIP, "_dns.resolver.arpa.", dns.TypeSVCB, want{dns.RcodeSuccess, nil, -1, false}},
		{"preauth CNAME", preauthIP, "www.example.org.", dns.TypeCNAME, want{dns.RcodeSuccess, nil, -1, false}},
		{"preauth ANY", preauthIP, "example.org.", dns.TypeANY, want{dns.RcodeSuccess, nil, -1, false}},
		{"preauth nx name A", preauthIP, "a.nx.test.", dns.TypeA, want{dns.RcodeSuccess, portalA, 0, false}},
		{"preauth hostname", preauthIP, "portal.lan.", dns.TypeA, want{dns.RcodeSuccess, portalA, hostnameTTL, false}},
		{"preauth hostname, other case", unknownIP, "Portal.LAN.", dns.TypeA, want{dns.RcodeSuccess, portalA, hostnameTTL, false}},
		{"preauth hostname AAAA", preauthIP, "portal.lan.", dns.TypeAAAA, want{dns.RcodeSuccess, nil, -1, false}},
		{"preauth garden", preauthIP, "garden.test.", dns.TypeA, want{dns.RcodeSuccess, []string{"A 198.51.100.20"}, 300, true}},
		{"preauth garden subdomain", preauthIP, "www.Garden.test.", dns.TypeA, want{dns.RcodeSuccess, []string{"A 198.51.100.20"}, 300, true}},
		{"preauth garden TXT", unknownIP, "garden.test.", dns.TypeTXT, want{dns.RcodeSuccess, []string{`TXT "upstream-txt"`}, 300, true}},
		{"preauth not a subdomain", preauthIP, "notgarden.test.", dns.TypeA, want{dns.RcodeSuccess, portalA, 0, false}},
		// authenticated and trusted: the upstream's answers.
		{"authenticated A", authIP, "www.example.org.", dns.TypeA, want{dns.RcodeSuccess, []string{"A 198.51.100.10"}, 300, true}},
		{"authenticated AAAA", authIP, "www.example.org.", dns.TypeAAAA, want{dns.RcodeSuccess, []string{"AAAA 2001:db8::10"}, 300, true}},
		{"authenticated MX", authIP, "example.org.", dns.TypeMX, want{dns.RcodeSuccess, []string{"MX 10 mail.example.org."}, 300, true}},
		{"authenticated NXDOMAIN", authIP, "a.nx.test.", dns.TypeA, want{dns.RcodeNameError, nil, -1, true}},
		{"authenticated hostname", authIP, "portal.lan.", dns.TypeA, want{dns.RcodeSuccess, portalA, hostnameTTL, false}},
		{"trusted A", trustIP, "www.example.net.", dns.TypeA, want{dns.RcodeSuccess, []string{"A 198.51.100.10"}, 300, true}},
		{"trusted hostname", trustIP, "portal.lan.", dns.TypeA, want{dns.RcodeSuccess, portalA, hostnameTTL, false}},
		{"the router itself", portalIP, "www.example.com.", dns.TypeA, want{dns.RcodeSuccess, []string{"A 198.51.100.10"}, 300, true}},
		// blocked: nothing.
		{"blocked A", blockIP, "www.example.org.", dns.TypeA, want{dns.RcodeRefused, nil, -1, false}},
		{"blocked hostname", blockIP, "portal.lan.", dns.TypeA, want{dns.RcodeSuccess, portalA, hostnameTTL, false}},
		{"zone transfer", authIP, "example.org.", dns.TypeAXFR, want{dns.RcodeRefused, nil, -1, false}},
	}
	for _, proto := range []string{"udp", "tcp"} {
		f := newFixture(t)
		for _, tt := range tests {
			before := f.up.queries.Load()
			req := question(tt.qname, tt.qtype)
			m := f.ask(t, req, tt.src, proto == "tcp")
			name := proto + " " + tt.name
			if m.Rcode != tt.want.rcode {
				t.Errorf("%s: rcode %s, want %s", name, dns.RcodeToString[m.Rcode], dns.RcodeToString[tt.want.rcode])
			}
			var got []string
			for _, rr := range m.Answer {
				got = append(got, rdata(rr))
				if rr.Header().Name != tt.qname {
					t.Errorf("%s: answer for %q; want the name as asked, %q", name, rr.Header().Name, tt.qname)
				}
			}
			if !slices.Equal(got, tt.want.answers) {
				t.Errorf("%s: answers %q, want %q", name, got, tt.want.answers)
			}
			if tt.want.ttl >= 0 && len(m.Answer) > 0 && int(m.Answer[0].Header().Ttl) != tt.want.ttl {
				t.Errorf("%s: TTL %d, want %d", name, m.Answer[0].Header().Ttl, tt.want.ttl)
			}
			if asked := f.up.queries.Load() != before; asked != tt.want.upstream {
				t.Errorf("%s: upstream asked: %v, want %v", name, asked, tt.want.upstream)
			}
			// Nothing that the portal makes up may be cached negatively
			// by the client (RFC 2308 §5: no SOA, no caching).
			if !tt.want.upstream && len(m.Ns) != 0 {
				t.Errorf("%s: authority section %v; want none", name, m.Ns)
			}
			if !m.RecursionAvailable {
				t.Errorf("%s: RA not set", name)
			}
		}
		if got := f.garden.opened(); !slices.Equal(got, []netip.Addr{netip.MustParseAddr("198.51.100.20")}) {
			t.Errorf("%s: garden opened %v; want 198.51.100.20 once", proto, got)
		}
	}
}

func TestGardenOpenedForTheAnswersTTL(t *testing.T) {
	f := newFixture(t)
	f.ask(t, question("www.garden.test.", dns.TypeA), preauthIP, false)
	if len(f.garden.ttls) != 1 || f.garden.ttls[0] != 300*time.Second {
		t.Errorf("garden opened for %v; want 300s, the answer's TTL", f.garden.ttls)
	}
	// An authenticated client asking for a garden name opens nothing: it
	// needs no garden.
	f.ask(t, question("cdn.garden.test.", dns.TypeA), authIP, false)
	if len(f.garden.ttls) != 1 {
		t.Errorf("garden opened for a signed-in client: %v", f.garden.ttls)
	}
	// The same answer later from the cache, to a preauth client: the
	// firewall already holds the address long enough.
	f.now = f.now.Add(100 * time.Second)
	m := f.ask(t, question("cdn.garden.test.", dns.TypeA), preauthIP, false)
	if m.Answer[0].Header().Ttl != 200 {
		t.Errorf("cached garden answer TTL %d, want 200", m.Answer[0].Header().Ttl)
	}
	if len(f.garden.ttls) != 1 {
		t.Errorf("garden opened again for an address it holds: %v", f.garden.ttls)
	}
}

func TestNilGarden(t *testing.T) {
	up := startUpstream(t)
	s, err := New(testConfig(up.addr), testTable(t), nil, newFixture(t).s.log)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{s: s, up: up}
	m := f.ask(t, question("garden.test.", dns.TypeA), preauthIP, false)
	if len(m.Answer) != 1 || rdata(m.Answer[0]) != "A 198.51.100.20" {
		t.Errorf("garden name without a firewall: %v", m.Answer)
	}
}

func TestCache(t *testing.T) {
	f := newFixture(t)
	first := f.ask(t, question("www.example.org.", dns.TypeA), authIP, false)
	f.now = f.now.Add(10 * time.Second)
	n := f.up.queries.Load()
	// Another client, another case: the same question.
	second := f.ask(t, question("WWW.example.org.", dns.TypeA), trustIP, false)
	if f.up.queries.Load() != n {
		t.Error("a cached answer was asked upstream again")
	}
	if first.Answer[0].Header().Ttl != 300 || second.Answer[0].Header().Ttl != 290 {
		t.Errorf("TTLs %d then %d; want 300 then 290", first.Answer[0].Header().Ttl, second.Answer[0].Header().Ttl)
	}
	if second.Answer[0].Header().Name != "WWW.example.org." {
		t.Errorf("cached answer for %q; want the name as this client asked it", second.Answer[0].Header().Name)
	}
	f.now = f.now.Add(291 * time.Second)
	f.ask(t, question("www.example.org.", dns.TypeA), authIP, false)
	if f.up.queries.Load() != n+1 {
		t.Error("an expired answer was not asked again")
	}

	// RFC 2308: NXDOMAIN is cached for the SOA's minimum (60 s here).
	nx := question("gone.nx.test.", dns.TypeA)
	f.ask(t, nx, authIP, false)
	n = f.up.queries.Load()
	f.now = f.now.Add(30 * time.Second)
	if m := f.ask(t, nx, authIP, false); m.Rcode != dns.RcodeNameError || f.up.queries.Load() != n {
		t.Errorf("NXDOMAIN not answered from the cache (rcode %d)", m.Rcode)
	}
	f.now = f.now.Add(31 * time.Second)
	f.ask(t, nx, authIP, false)
	if f.up.queries.Load() != n+1 {
		t.Error("NXDOMAIN kept past its SOA minimum")
	}
}

func TestEDNS(t *testing.T) {
	f := newFixture(t)
	// No OPT in, none out.
	m := f.ask(t, question("www.example.org.", dns.TypeA), authIP, false)
	if m.IsEdns0() != nil {
		t.Error("OPT record in the answer to a query without one")
	}
	for _, src := range []netip.Addr{authIP, preauthIP} {
		req := question("www.example.org.", dns.TypeA)
		req.SetEdns0(4096, true)
		m = f.ask(t, req, src, false)
		opt := m.IsEdns0()
		if opt == nil || opt.UDPSize() != maxUDP || !opt.Do() || opt.Version() != 0 {
			t.Errorf("from %v: answer OPT %v; want payload %d, DO echoed, version 0", src, opt, maxUDP)
		}
	}

	req := question("www.example.org.", dns.TypeA)
	req.SetEdns0(1232, false)
	req.IsEdns0().SetVersion(1)
	if m = f.ask(t, req, authIP, false); m.Rcode != dns.RcodeBadVers || m.IsEdns0() == nil {
		t.Errorf("EDNS version 1: rcode %d, OPT %v; want BADVERS with an OPT (RFC 6891 §6.1.3)", m.Rcode, m.IsEdns0())
	}
	req = question("www.example.org.", dns.TypeA)
	req.SetEdns0(1232, false)
	req.SetEdns0(1232, false)
	if m = f.ask(t, req, authIP, false); m.Rcode != dns.RcodeFormatError {
		t.Errorf("two OPT records: rcode %d, want FORMERR", m.Rcode)
	}
}

func TestTruncation(t *testing.T) {
	f := newFixture(t)
	big := dns.Question{Name: "big.test.", Qtype: dns.TypeTXT, Qclass: dns.ClassINET}
	tests := []struct {
		name    string
		edns    uint16 // 0: none
		tcp     bool
		wantTC  bool
		maxSize int
	}{
		{"UDP without EDNS0", 0, false, true, 512},
		{"UDP with EDNS0 4096", 4096, false, true, maxUDP},
		{"UDP with EDNS0 600", 600, false, true, 600},
		{"TCP", 0, true, false, dns.MaxMsgSize},
	}
	for _, tt := range tests {
		req := &dns.Msg{Question: []dns.Question{big}}
		req.Id = dns.Id()
		req.RecursionDesired = true
		if tt.edns > 0 {
			req.SetEdns0(tt.edns, false)
		}
		b, _ := req.Pack()
		out := f.exchange(t, b, authIP, tt.tcp)
		m := new(dns.Msg)
		if err := m.Unpack(out); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if m.Truncated != tt.wantTC || len(out) > tt.maxSize {
			t.Errorf("%s: TC %v, %d bytes; want TC %v, at most %d", tt.name, m.Truncated, len(out), tt.wantTC, tt.maxSize)
		}
		if !tt.wantTC && len(m.Answer) != bigTXTCount {
			t.Errorf("%s: %d records, want all %d", tt.name, len(m.Answer), bigTXTCount)
		}
	}
	// The upstream's UDP answer was truncated too: it was asked over TCP.
	if !f.up.saw("big.test. TXT tcp") {
		t.Error("the upstream was never asked over TCP after a truncated answer")
	}
}

func TestMalformed(t *testing.T) {
	f := newFixture(t)
	valid, _ := question("www.example.org.", dns.TypeA).Pack()
	notify := question("example.org.", dns.TypeSOA)
	notify.Opcode = dns.OpcodeNotify
	notifyB, _ := notify.Pack()
	noQuestion := question("example.org.", dns.TypeA)
	noQuestion.Question = nil
	noQuestionB, _ := noQuestion.Pack()
	twoQuestions := question("example.org.", dns.TypeA)
	twoQuestions.Question = append(twoQuestions.Question, twoQuestions.Question[0])
	twoQuestionsB, _ := twoQuestions.Pack()
	response := question("example.org.", dns.TypeA)
	response.Response = true
	responseB, _ := response.Pack()
	optQ, _ := question("example.org.", dns.TypeOPT).Pack()

	tests := []struct {
		name  string
		b     []byte
		rcode int // -1: dropped
	}{
		{"empty", nil, -1},
		{"short", []byte{0x12, 0x34, 0x01}, -1},
		{"header only, claims a question", []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}, dns.RcodeFormatError},
		{"cut in the name", valid[:18], dns.RcodeFormatError},
		{"label past the end", append(append([]byte{}, valid[:12]...), 63, 'a'), dns.RcodeFormatError},
		{"compression loop", append(append([]byte{}, valid[:12]...), 0xc0, 12, 0, 1, 0, 1), dns.RcodeFormatError},
		{"a response", responseB, -1},
		{"response, unparsable", []byte{0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xff}, -1},
		{"NOTIFY", notifyB, dns.RcodeNotImplemented},
		{"no question", noQuestionB, dns.RcodeFormatError},
		{"two questions", twoQuestionsB, dns.RcodeFormatError},
		{"qtype OPT", optQ, dns.RcodeFormatError},
	}
	for _, tt := range tests {
		for _, src := range []netip.Addr{preauthIP, authIP} {
			out := f.exchange(t, tt.b, src, false)
			if tt.rcode < 0 {
				if out != nil {
					t.Errorf("%s from %v: answered; want it dropped", tt.name, src)
				}
				continue
			}
			m := new(dns.Msg)
			if err := m.Unpack(out); err != nil {
				t.Errorf("%s from %v: answer does not parse: %v", tt.name, src, err)
				continue
			}
			if m.Rcode != tt.rcode || !m.Response || m.Id != uint16(tt.b[0])<<8|uint16(tt.b[1]) {
				t.Errorf("%s from %v: rcode %s, QR %v, ID %#x; want %s, a response, ID %#x", tt.name, src,
					dns.RcodeToString[m.Rcode], m.Response, m.Id, dns.RcodeToString[tt.rcode], uint16(tt.b[0])<<8|uint16(tt.b[1]))
			}
		}
	}
}

func TestNoUpstreamIsServfail(t *testing.T) {
	cfg := testConfig()
	f := newFixture(t)
	s, err := New(cfg, testTable(t), nil, f.s.log)
	if err != nil {
		t.Fatal(err)
	}
	s.files = nil
	s.Reload(cfg)
	g := &fixture{s: s, up: f.up}
	if m := g.ask(t, question("www.example.org.", dns.TypeA), authIP, false); m.Rcode != dns.RcodeServerFailure {
		t.Errorf("no upstream: rcode %s, want SERVFAIL", dns.RcodeToString[m.Rcode])
	}
	// The portal's own answers need no upstream.
	if m := g.ask(t, question("www.example.org.", dns.TypeA), preauthIP, false); len(m.Answer) != 1 {
		t.Errorf("no upstream: preauth answer %v", m.Answer)
	}
}

func TestReload(t *testing.T) {
	f := newFixture(t)
	other := startUpstream(t)
	cfg := testConfig(other.addr)
	cfg.Hostname = "login.hotspot"
	cfg.AllowDomain = []string{"shop.test"}
	cfg.CacheSize = 7
	f.s.Reload(cfg)

	f.ask(t, question("www.example.org.", dns.TypeA), authIP, false)
	if other.queries.Load() != 1 || f.up.queries.Load() != 0 {
		t.Errorf("after reload: new upstream asked %d times, old %d; want 1 and 0", other.queries.Load(), f.up.queries.Load())
	}
	if m := f.ask(t, question("login.hotspot.", dns.TypeA), authIP, false); len(m.Answer) != 1 || rdata(m.Answer[0]) != "A 10.77.0.1" {
		t.Errorf("new hostname: %v", m.Answer)
	}
	if m := f.ask(t, question("portal.lan.", dns.TypeA), preauthIP, false); m.Answer[0].Header().Ttl != 0 {
		t.Errorf("old hostname still special: %v", m.Answer)
	}
	if m := f.ask(t, question("shop.test.", dns.TypeA), preauthIP, false); rdata(m.Answer[0]) != "A 198.51.100.10" {
		t.Errorf("new garden domain hijacked: %v", m.Answer)
	}
	if m := f.ask(t, question("garden.test.", dns.TypeA), preauthIP, false); rdata(m.Answer[0]) != "A 10.77.0.1" {
		t.Errorf("old garden domain still open: %v", m.Answer)
	}
	if f.s.cache.Load().Size() != 7 {
		t.Errorf("cache size %d after reload, want 7", f.s.cache.Load().Size())
	}
}

func TestUpstreamsFromResolvConf(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// OpenWrt: /etc/resolv.conf names the local dnsmasq, netifd's file
	// the real ones.
	etc := write("resolv.conf", "# generated\nsearch lan\nnameserver 127.0.0.1\nnameserver ::1\n")
	auto := write("resolv.conf.auto", "# Interface wan\nnameserver 192.0.2.53\nnameserver 10.77.0.1\nnameserver 2001:db8::53\nnameserver bogus\noptions ndots:1\n")
	missing := filepath.Join(dir, "none")
	cfg := testConfig()

	ups, from := upstreams(cfg.Upstream, cfg.Address, []string{missing, etc, auto})
	want := []netip.AddrPort{netip.MustParseAddrPort("192.0.2.53:53"), netip.MustParseAddrPort("[2001:db8::53]:53")}
	if !slices.Equal(ups, want) || from != auto {
		t.Errorf("upstreams = %v from %s; want %v from %s (loopback and the portal address skipped)", ups, from, want, auto)
	}
	write("resolv.conf", "nameserver 198.51.100.53\n")
	if ups, from = upstreams(cfg.Upstream, cfg.Address, []string{etc, auto}); len(ups) != 1 || ups[0] != netip.MustParseAddrPort("198.51.100.53:53") || from != etc {
		t.Errorf("upstreams = %v from %s; want the first file's", ups, from)
	}
	cfg.Upstream = []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:5353")}
	if ups, from = upstreams(cfg.Upstream, cfg.Address, []string{etc}); !slices.Equal(ups, cfg.Upstream) || from != "config" {
		t.Errorf("list upstream set: %v from %s", ups, from)
	}

	// The running server notices when the file changes.
	f := newFixture(t)
	f.s.files = []string{etc}
	f.s.Reload(testConfig())
	if got := f.s.fwd.Upstreams(); len(got) != 1 || got[0] != netip.MustParseAddrPort("198.51.100.53:53") {
		t.Fatalf("after reload without list upstream: %v", got)
	}
	write("resolv.conf", "nameserver 198.51.100.54\nnameserver 198.51.100.55\n")
	future := time.Now().Add(time.Minute) // a new mtime even on coarse clocks
	os.Chtimes(etc, future, future)
	f.s.rereadFiles()
	if got := f.s.fwd.Upstreams(); len(got) != 2 || got[0] != netip.MustParseAddrPort("198.51.100.54:53") {
		t.Errorf("after resolv.conf changed: %v", got)
	}
}

// A query of another shape than the quick path reads in place (EDNS
// options, a compressed question, trailing bytes) gets the same answer as
// the common shape of it.
func TestOtherShapesSameAnswer(t *testing.T) {
	f := newFixture(t)
	plain := question("Www.Example.ORG.", dns.TypeA)
	plain.Id = 4242
	plain.SetEdns0(1232, true)
	raw, err := plain.Pack()
	if err != nil {
		t.Fatal(err)
	}
	withOption := plain.Copy()
	withOption.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}}
	opt, err := withOption.Pack()
	if err != nil {
		t.Fatal(err)
	}
	shapes := map[string][]byte{
		"EDNS option":    opt,
		"trailing bytes": append(slices.Clone(raw), 0, 0, 0),
	}
	for _, src := range []netip.Addr{preauthIP, authIP, blockIP} {
		f.exchange(t, raw, src, false) // a signed-in client's fills the cache
		want := f.exchange(t, raw, src, false)
		var wq wireQuery
		if !wq.parse(raw, false) {
			t.Fatal("the quick path refused the common shape")
		}
		for name, b := range shapes {
			if wq.parse(b, false) {
				t.Fatalf("%s: the quick path read it", name)
			}
			if got := f.exchange(t, b, src, false); string(got) != string(want) {
				t.Errorf("%v, %s: answer\n%x\nwant\n%x", src, name, got, want)
			}
		}
	}
}

// The quick path allocates nothing: a query from a client that has not
// signed in, the portal's own name, and a signed-in client's cache hit,
// with and without EDNS0.
func TestQuickPathAllocatesNothing(t *testing.T) {
	f := newFixture(t)
	out := make([]byte, maxQuery)
	for _, tt := range []struct {
		name string
		src  netip.Addr
		edns bool
	}{
		{"www.example.org.", preauthIP, false},
		{"www.example.org.", preauthIP, true},
		{"portal.lan.", authIP, false},
		{"www.example.org.", authIP, false},
		{"www.example.org.", authIP, true},
	} {
		req := question(tt.name, dns.TypeA)
		if tt.edns {
			req.SetEdns0(1232, false)
		}
		raw, _ := req.Pack()
		f.exchange(t, raw, tt.src, false) // fill the cache
		if r, q, _ := f.s.answer(raw, tt.src, false, out); r == nil || q != nil {
			t.Fatalf("%s from %v, EDNS %v: not answered at once", tt.name, tt.src, tt.edns)
		}
		if n := testing.AllocsPerRun(100, func() { f.s.answer(raw, tt.src, false, out) }); n != 0 {
			t.Errorf("%s from %v, EDNS %v: %v allocations", tt.name, tt.src, tt.edns, n)
		}
	}
}

// What the quick path reads in place and what it leaves to the full
// decoder.
func TestParseShapes(t *testing.T) {
	q := func(hexed string) []byte {
		b := make([]byte, len(hexed)/2)
		for i := range b {
			fmt.Sscanf(hexed[2*i:2*i+2], "%02x", &b[i])
		}
		return b
	}
	const head = "1234010000010000000000" // ID, RD, one question, then ARCOUNT's high byte
	const name = "03777777076578616d706c6503636f6d00"
	tests := []struct {
		what string
		b    []byte
		want bool
	}{
		{"plain", q(head + "00" + name + "00010001"), true},
		{"EDNS0", q(head + "01" + name + "00010001" + "000029100000008000" + "0000"), true},
		{"EDNS0 with an RDATA length but no RDATA", q(head + "01" + name + "00010001" + "000029100000008000" + "0004"), false},
		{"EDNS0 version 1", q(head + "01" + name + "00010001" + "000029100000018000" + "0000"), false},
		{"EDNS0 not at the root", q(head + "01" + name + "00010001" + "010029100000008000" + "0000"), false},
		{"an additional record that is not OPT", q(head + "01" + name + "00010001" + "000001000100000000" + "0000"), false},
		{"a compressed question", q(head + "00" + "c00c" + "00010001"), false},
		{"trailing bytes", q(head + "00" + name + "00010001" + "00"), false},
		{"cut in the name", q(head + "00" + "037777"), false},
		{"a response", q("1234810000010000000000" + "00" + name + "00010001"), false},
		{"an update", q("1234280000010000000000" + "00" + name + "00010001"), false},
		{"two questions", q("1234010000020000000000" + "00" + name + "00010001" + name + "00010001"), false},
		{"AXFR", q(head + "00" + name + "00fc0001"), false},
	}
	for _, tt := range tests {
		var wq wireQuery
		if got := wq.parse(tt.b, false); got != tt.want {
			t.Errorf("%s: parse %v, want %v", tt.what, got, tt.want)
		}
	}
	var wq wireQuery
	if !wq.parse(q(head+"01"+name+"00010001"+"000029100000008000"+"0000"), false) || !wq.do || wq.limit != maxUDP || string(wq.name()) != "\x03www\x07example\x03com\x00" {
		t.Errorf("EDNS0 query read as DO %v, limit %d, name %q", wq.do, wq.limit, wq.name())
	}
	if !wq.parse(q(head+"00"+"03575757"+name[8:]+"00010001"), true) || wq.limit != dns.MaxMsgSize || string(wq.name()) != "\x03www\x07example\x03com\x00" {
		t.Errorf("TCP query read as limit %d, name %q", wq.limit, wq.name())
	}
}

// Stats counts each answered query under one kind.
func TestStats(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		name string
		src  netip.Addr
	}{
		{"www.example.org.", preauthIP}, // hijacked
		{"portal.lan.", authIP},         // hijacked: the portal's own name
		{"www.garden.test.", preauthIP}, // garden
		{"www.example.org.", authIP},    // forwarded (upstream)
		{"www.example.org.", authIP},    // forwarded (cache)
		{"www.example.org.", trustIP},   // forwarded
		{"www.example.org.", blockIP},   // refused
	} {
		raw, _ := question(tt.name, dns.TypeA).Pack()
		f.exchange(t, raw, tt.src, false)
	}
	if got, want := f.s.Stats(), (Stats{Hijacked: 2, Forwarded: 3, Garden: 1, Refused: 1}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}
