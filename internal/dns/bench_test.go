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
	out := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		r, _, _ := f.s.answer(raw, preauthIP, false, out)
		if r == nil {
			r, _, _ = f.s.answer(raw, authIP, false, out)
		}
		if r == nil {
			b.Fatal("cache miss")
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
	out := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if r, _, _ := f.s.answer(raw, authIP, false, out); r == nil {
			b.Fatal("cache miss")
		}
	}
}
