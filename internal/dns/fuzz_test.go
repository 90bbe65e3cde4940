package dns

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/lobby-fw/lobby/internal/dns/cache"
)

// FuzzAnswer feeds arbitrary bytes to the resolver as a query from a client
// in each state, over UDP and TCP. Whatever comes in, the resolver must not
// crash; what it sends back must be a well-formed answer with the query's
// ID that fits the client's limit; and a client that has not signed in must
// get nothing but the portal's address, whatever it asks.
func FuzzAnswer(f *testing.F) {
	seed := func(m *dns.Msg) {
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(0), false)
	}
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeTXT, dns.TypeHTTPS, dns.TypeANY, dns.TypeAXFR, dns.TypeOPT} {
		seed(question("www.example.org.", qt))
	}
	seed(question("portal.lan.", dns.TypeA))
	seed(question("www.garden.test.", dns.TypeA))
	edns := question("www.example.org.", dns.TypeA)
	edns.SetEdns0(4096, true)
	seed(edns)
	badvers := question("www.example.org.", dns.TypeA)
	badvers.SetEdns0(1232, false)
	badvers.IsEdns0().SetVersion(3)
	seed(badvers)
	f.Add([]byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1}, uint8(1), true)
	f.Add([]byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0x29, 0x10, 0, 0, 0, 0, 0, 0, 0}, uint8(2), false)

	// No upstream: the forwarding path answers SERVFAIL at once, which
	// keeps the fuzzer fast and off the network.
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(testConfig(), testTable(f), &fakeGarden{}, log)
	if err != nil {
		f.Fatal(err)
	}
	s.files = nil
	s.Reload(testConfig())
	fx := &fixture{s: s}
	clients := []netip.Addr{preauthIP, unknownIP, authIP, trustIP, blockIP}

	f.Fuzz(func(t *testing.T, b []byte, who uint8, tcp bool) {
		src := clients[int(who)%len(clients)]
		out := fx.exchange(t, b, src, tcp)
		if out == nil {
			return
		}
		if len(b) < 12 {
			t.Fatalf("answered %d bytes that cannot hold a header", len(b))
		}
		m := new(dns.Msg)
		if err := m.Unpack(out); err != nil {
			t.Fatalf("answer does not parse: %v", err)
		}
		if !m.Response || m.Id != uint16(b[0])<<8|uint16(b[1]) {
			t.Fatalf("answer QR %v ID %#x; want a response with the query's ID", m.Response, m.Id)
		}
		if !tcp && len(out) > maxUDP {
			t.Fatalf("UDP answer of %d bytes, more than %d", len(out), maxUDP)
		}
		if src != preauthIP && src != unknownIP {
			return
		}
		for _, rr := range m.Answer {
			a, ok := rr.(*dns.A)
			if !ok || a.A.String() != portalIP.String() {
				t.Fatalf("a preauth client got %v", rr)
			}
		}
		for _, rr := range append(m.Ns, m.Extra...) {
			if rr.Header().Rrtype != dns.TypeOPT {
				t.Fatalf("a preauth client got %v", rr)
			}
		}
	})
}

// FuzzUpstreamAnswer feeds arbitrary upstream answers through the cache and
// into a client's reply, walled-garden step included: an upstream (or
// someone spoofing one) must not crash the resolver either, and the reply
// must still fit the client's limit.
func FuzzUpstreamAnswer(f *testing.F) {
	for _, rrs := range [][]string{
		{"www.example.org. 300 IN A 198.51.100.10"},
		{"www.example.org. 300 IN CNAME cdn.example.net.", "cdn.example.net. 20 IN A 198.51.100.11"},
		{`example.org. 300 IN HTTPS 1 . alpn="h2" ipv4hint="198.51.100.12" ipv6hint="2001:db8::12"`},
		{"example.org. 300 IN TXT \"v=spf1 -all\""},
	} {
		m := question("www.example.org.", dns.TypeA)
		m.Response = true
		for _, s := range rrs {
			rr, err := dns.NewRR(s)
			if err != nil {
				f.Fatal(err)
			}
			m.Answer = append(m.Answer, rr)
		}
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true, false)
	}
	nx := question("gone.example.org.", dns.TypeA)
	nx.Response, nx.Rcode = true, dns.RcodeNameError
	soa, _ := dns.NewRR("example.org. 3600 IN SOA ns.example.org. hostmaster.example.org. 1 3600 600 86400 60")
	nx.Ns = []dns.RR{soa}
	nx.SetEdns0(1232, true)
	b, _ := nx.Pack()
	f.Add(b, false, true)

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(testConfig(), testTable(f), discardGarden{}, log)
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, b []byte, inGarden, edns bool) {
		up := new(dns.Msg)
		if up.Unpack(b) != nil || len(up.Question) != 1 {
			return
		}
		now := time.Unix(1_000_000, 0)
		c := cache.New(4)
		k := cache.KeyOf(up.Question[0], false, false)
		c.Put(k, up, now)
		got, ok := c.Get(k, now.Add(time.Second))
		if !ok {
			got = up.Copy()
		}
		req := question(up.Question[0].Name, up.Question[0].Qtype)
		q := &query{req: req, q: req.Question[0], garden: inGarden, limit: dns.MinMsgSize}
		if edns {
			req.SetEdns0(4096, false)
			q.opt, q.limit = req.IsEdns0(), maxUDP
		}
		out, err := s.pack(s.forwarded(q, got), q, nil)
		if err != nil {
			return // logged and dropped, as the read loop does
		}
		if len(out) > q.limit {
			t.Fatalf("reply of %d bytes for a client that takes %d", len(out), q.limit)
		}
		if !ok || inGarden {
			return
		}
		// The quick path's reply from the cache's wire form must say
		// what the full path's says (over TCP, where neither is cut).
		hit, _ := c.Lookup([]byte(k), now.Add(time.Second))
		req.Question[0].Name = respell(req.Question[0].Name)
		req.AuthenticatedData = edns
		raw, err := req.Pack()
		if err != nil {
			return
		}
		var wq wireQuery
		if _, refusal := validate(raw); refusal != nil {
			// A question the server answers with an error (a question of
			// type OPT, a zone transfer) whatever the cache holds: the
			// quick path must leave it to the full one.
			if wq.parse(raw, true) {
				t.Fatalf("the quick path took %x, which the full path answers with %s", raw, dns.RcodeToString[refusal.Rcode])
			}
			return
		}
		if !wq.parse(raw, true) {
			t.Fatalf("the quick path refused %x", raw)
		}
		quick := new(dns.Msg)
		if err := quick.Unpack(wq.cached(nil, hit)); err != nil {
			t.Fatalf("the quick path's reply does not parse: %v", err)
		}
		q = &query{req: req, q: req.Question[0], opt: req.IsEdns0(), do: wq.do, limit: dns.MaxMsgSize}
		full, _ := c.Get(k, now.Add(time.Second))
		out, err = s.pack(s.forwarded(q, full), q, nil)
		if err != nil {
			t.Fatalf("the full path's reply does not pack: %v", err)
		}
		want := new(dns.Msg)
		if err := want.Unpack(out); err != nil {
			t.Fatal(err)
		}
		if g, w := fold(quick), fold(want); g != w {
			t.Fatalf("quick path:\n%s\nfull path:\n%s", g, w)
		}
	})
}

// respell flips the case of every other letter of name, as a client using
// DNS 0x20 does.
func respell(name string) string {
	b := []byte(name)
	for i, c := range b {
		if i%2 == 0 && ('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			b[i] = c ^ 0x20
		}
	}
	return string(b)
}

// fold is m as text with its records' names in lowercase (names compare
// without case, RFC 4343), its question as sent.
func fold(m *dns.Msg) string {
	s := fmt.Sprintf("%+v %v\n", m.MsgHdr, m.Question)
	for _, rr := range append(m.Answer, append(m.Ns, m.Extra...)...) {
		s += strings.ToLower(rr.String()) + "\n"
	}
	return s
}

// discardGarden is a firewall that opens everything and remembers nothing,
// so a long fuzzing run does not grow.
type discardGarden struct{}

func (discardGarden) AllowGarden([]netip.Addr, time.Duration) error { return nil }
