package dns

import (
	"testing"

	"github.com/miekg/dns"
)

// The resolver's work per query, sockets aside: parse, decide, pack.

func benchmarkAnswer(b *testing.B, name string, qtype uint16, edns bool) {
	f := newFixture(b)
	req := question(name, qtype)
	if edns {
		req.SetEdns0(1232, false)
	}
	raw, _ := req.Pack()
	f.exchange(b, raw, authIP, false) // fill the cache
	out := make([]byte, 65535)
	b.ReportAllocs()
	for b.Loop() {
		m, q := f.s.answer(raw, preauthIP, false)
		if m == nil {
			m, q = f.s.answer(raw, authIP, false)
		}
		if m == nil {
			b.Fatal("cache miss")
		}
		if _, err := f.s.pack(m, q, out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHijack(b *testing.B)         { benchmarkAnswer(b, "www.example.org.", dns.TypeA, false) }
func BenchmarkHijackEDNS(b *testing.B)     { benchmarkAnswer(b, "www.example.org.", dns.TypeA, true) }
func BenchmarkCacheHitGarden(b *testing.B) { benchmarkAnswer(b, "www.garden.test.", dns.TypeA, false) }

func BenchmarkCacheHit(b *testing.B) {
	f := newFixture(b)
	raw, _ := question("www.example.org.", dns.TypeA).Pack()
	f.exchange(b, raw, authIP, false)
	out := make([]byte, 65535)
	b.ReportAllocs()
	for b.Loop() {
		m, q := f.s.answer(raw, authIP, false)
		if m == nil {
			b.Fatal("cache miss")
		}
		if _, err := f.s.pack(m, q, out); err != nil {
			b.Fatal(err)
		}
	}
}
