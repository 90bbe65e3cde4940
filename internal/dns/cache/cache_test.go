package cache

import (
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func rr(t *testing.T, s string) dns.RR {
	t.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func reply(t *testing.T, name string, qtype uint16, rcode int, answer, ns []string) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Response = true
	m.Rcode = rcode
	for _, s := range answer {
		m.Answer = append(m.Answer, rr(t, s))
	}
	for _, s := range ns {
		m.Ns = append(m.Ns, rr(t, s))
	}
	m.SetEdns0(1232, false)
	return m
}

const soa = "example.org. %d IN SOA ns1.example.org. hostmaster.example.org. 1 3600 600 86400 %d"

func TestTTL(t *testing.T) {
	tests := []struct {
		name   string
		m      *dns.Msg
		want   uint32
		wantOK bool
	}{
		{"smallest of the records", reply(t, "a.example.org.", dns.TypeA, dns.RcodeSuccess,
			[]string{"a.example.org. 300 IN CNAME b.example.org.", "b.example.org. 60 IN A 192.0.2.1"}, nil), 60, true},
		{"capped at a day", reply(t, "a.example.org.", dns.TypeA, dns.RcodeSuccess,
			[]string{"a.example.org. 604800 IN A 192.0.2.1"}, nil), 86400, true},
		{"TTL 0 is not cached", reply(t, "a.example.org.", dns.TypeA, dns.RcodeSuccess,
			[]string{"a.example.org. 0 IN A 192.0.2.1"}, nil), 0, false},
		// RFC 2308 §5: min(SOA TTL, SOA MINIMUM).
		{"NXDOMAIN: SOA minimum", reply(t, "x.example.org.", dns.TypeA, dns.RcodeNameError,
			nil, []string{fmt.Sprintf(soa, 3600, 120)}), 120, true},
		{"NXDOMAIN: SOA TTL", reply(t, "x.example.org.", dns.TypeA, dns.RcodeNameError,
			nil, []string{fmt.Sprintf(soa, 30, 900)}), 30, true},
		{"NODATA", reply(t, "x.example.org.", dns.TypeAAAA, dns.RcodeSuccess,
			nil, []string{fmt.Sprintf(soa, 600, 600)}), 600, true},
		{"negative capped at 3h", reply(t, "x.example.org.", dns.TypeAAAA, dns.RcodeSuccess,
			nil, []string{fmt.Sprintf(soa, 86400, 86400)}), 10800, true},
		{"negative without SOA", reply(t, "x.example.org.", dns.TypeA, dns.RcodeNameError, nil, nil), 0, false},
		{"SERVFAIL", reply(t, "x.example.org.", dns.TypeA, dns.RcodeServerFailure, nil, nil), 0, false},
		{"REFUSED with SOA", reply(t, "x.example.org.", dns.TypeA, dns.RcodeRefused,
			nil, []string{fmt.Sprintf(soa, 600, 600)}), 0, false},
	}
	for _, tt := range tests {
		got, ok := TTL(tt.m)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: TTL = %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
	trunc := reply(t, "a.example.org.", dns.TypeA, dns.RcodeSuccess, []string{"a.example.org. 300 IN A 192.0.2.1"}, nil)
	trunc.Truncated = true
	if _, ok := TTL(trunc); ok {
		t.Error("a truncated answer is cacheable")
	}
}

func TestGetAgesAndExpires(t *testing.T) {
	c := New(10)
	t0 := time.Unix(1000, 0)
	m := reply(t, "a.example.org.", dns.TypeA, dns.RcodeSuccess,
		[]string{"a.example.org. 300 IN CNAME b.example.org.", "b.example.org. 100 IN A 192.0.2.1"}, nil)
	k := KeyOf(dns.Question{Name: "A.Example.ORG.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, false, false)
	c.Put(k, m, t0)

	got, ok := c.Get(k, t0.Add(40*time.Second))
	if !ok {
		t.Fatal("miss right after Put")
	}
	// Every record is clipped to the entry's lifetime (100 s), then aged.
	for _, r := range got.Answer {
		if r.Header().Ttl != 60 {
			t.Errorf("after 40s: %v; want TTL 60", r)
		}
	}
	if got.IsEdns0() != nil {
		t.Error("the cached copy kept the upstream's OPT record")
	}
	// The caller owns what Get returns.
	got.Answer[0].Header().Ttl = 9999
	again, _ := c.Get(k, t0.Add(40*time.Second))
	if again.Answer[0].Header().Ttl != 60 {
		t.Error("changing a returned answer changed the cache")
	}
	// And the message given to Put is the caller's too.
	if m.Answer[0].Header().Ttl != 300 || m.IsEdns0() == nil {
		t.Error("Put changed its argument")
	}
	if _, ok := c.Get(k, t0.Add(100*time.Second)); ok {
		t.Error("hit after the TTL ran out")
	}
	if c.Len() != 0 {
		t.Errorf("expired entry kept: Len %d", c.Len())
	}
	if _, ok := c.Get(KeyOf(dns.Question{Name: "a.example.org.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, true, false), t0); ok {
		t.Error("hit for the same name with DO set: the key must tell them apart")
	}
}

func TestNegativeAnswerIsCachedWithItsSOA(t *testing.T) {
	c := New(10)
	t0 := time.Unix(1000, 0)
	m := reply(t, "x.example.org.", dns.TypeA, dns.RcodeNameError, nil, []string{fmt.Sprintf(soa, 3600, 60)})
	k := KeyOf(m.Question[0], false, false)
	c.Put(k, m, t0)
	got, ok := c.Get(k, t0.Add(10*time.Second))
	if !ok {
		t.Fatal("NXDOMAIN with an SOA was not cached")
	}
	if got.Rcode != dns.RcodeNameError || len(got.Ns) != 1 || got.Ns[0].Header().Ttl != 50 {
		t.Errorf("cached NXDOMAIN: rcode %d, authority %v; want NXDOMAIN and the SOA with TTL 50", got.Rcode, got.Ns)
	}
	if _, ok := c.Get(k, t0.Add(61*time.Second)); ok {
		t.Error("negative answer outlived the SOA minimum")
	}
}

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	c := New(3)
	t0 := time.Unix(1000, 0)
	keys := make([]Key, 5)
	for i := range keys {
		name := fmt.Sprintf("n%d.example.org.", i)
		m := reply(t, name, dns.TypeA, dns.RcodeSuccess, []string{name + " 300 IN A 192.0.2.1"}, nil)
		keys[i] = KeyOf(m.Question[0], false, false)
		c.Put(keys[i], m, t0)
		if i == 2 {
			c.Get(keys[0], t0) // 0 is now more recent than 1 and 2
		}
	}
	if c.Len() != 3 {
		t.Fatalf("Len %d, want 3", c.Len())
	}
	for i, want := range []bool{true, false, false, true, true} {
		if _, ok := c.Get(keys[i], t0); ok != want {
			t.Errorf("key %d cached: %v, want %v", i, ok, want)
		}
	}
}

func TestSizeZeroCachesNothing(t *testing.T) {
	c := New(0)
	m := reply(t, "a.example.org.", dns.TypeA, dns.RcodeSuccess, []string{"a.example.org. 300 IN A 192.0.2.1"}, nil)
	c.Put(KeyOf(m.Question[0], false, false), m, time.Unix(1000, 0))
	if c.Len() != 0 {
		t.Error("size 0 cached an answer")
	}
}

func TestPutReplaces(t *testing.T) {
	c := New(2)
	t0 := time.Unix(1000, 0)
	k := KeyOf(dns.Question{Name: "a.example.org.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, false, false)
	c.Put(k, reply(t, "a.example.org.", dns.TypeA, dns.RcodeSuccess, []string{"a.example.org. 300 IN A 192.0.2.1"}, nil), t0)
	c.Put(k, reply(t, "a.example.org.", dns.TypeA, dns.RcodeSuccess, []string{"a.example.org. 300 IN A 192.0.2.2"}, nil), t0)
	got, _ := c.Get(k, t0)
	if c.Len() != 1 || got.Answer[0].(*dns.A).A.String() != "192.0.2.2" {
		t.Errorf("Len %d, answer %v; want one entry with the newer answer", c.Len(), got.Answer)
	}
}

func TestPutRefusesAnotherQuestion(t *testing.T) {
	c := New(10)
	t0 := time.Unix(1000, 0)
	m := reply(t, "b.example.org.", dns.TypeA, dns.RcodeSuccess, []string{"b.example.org. 300 IN A 192.0.2.1"}, nil)
	for _, q := range []dns.Question{
		{Name: "a.example.org.", Qtype: dns.TypeA, Qclass: dns.ClassINET},
		{Name: "b.example.org.", Qtype: dns.TypeAAAA, Qclass: dns.ClassINET},
		{Name: "b.example.org.", Qtype: dns.TypeA, Qclass: dns.ClassCHAOS},
	} {
		c.Put(KeyOf(q, false, false), m, t0)
	}
	if c.Len() != 0 {
		t.Errorf("stored %d answers under another question's key", c.Len())
	}
	c.Put(KeyOf(dns.Question{Name: "B.Example.ORG.", Qtype: dns.TypeA, Qclass: dns.ClassINET}, true, true), m, t0)
	if c.Len() != 1 {
		t.Error("an answer to the same question spelled otherwise, with DO and CD, was not stored")
	}
}

func TestKeys(t *testing.T) {
	q := dns.Question{Name: "WWW.Example.org.", Qtype: dns.TypeAAAA, Qclass: dns.ClassINET}
	same := []Key{
		KeyOf(q, false, false),
		KeyOf(dns.Question{Name: "www.example.ORG", Qtype: dns.TypeAAAA, Qclass: dns.ClassINET}, false, false),
		KeyOf(dns.Question{Name: `\087ww.example.org.`, Qtype: dns.TypeAAAA, Qclass: dns.ClassINET}, false, false),
		Key(AppendKey(nil, []byte("\x03www\x07example\x03org\x00"), dns.TypeAAAA, dns.ClassINET, false, false)),
	}
	for i, k := range same[1:] {
		if k != same[0] {
			t.Errorf("key %d is %q, want %q", i+1, k, same[0])
		}
	}
	other := []Key{
		KeyOf(q, true, false),
		KeyOf(q, false, true),
		KeyOf(dns.Question{Name: q.Name, Qtype: dns.TypeA, Qclass: dns.ClassINET}, false, false),
		KeyOf(dns.Question{Name: q.Name, Qtype: dns.TypeAAAA, Qclass: dns.ClassCHAOS}, false, false),
		KeyOf(dns.Question{Name: "www.example.org.example.", Qtype: dns.TypeAAAA, Qclass: dns.ClassINET}, false, false),
		KeyOf(dns.Question{Name: "www.example.org.." /* not a name */, Qtype: dns.TypeAAAA, Qclass: dns.ClassINET}, false, false),
	}
	for i, k := range other {
		if k == same[0] {
			t.Errorf("other key %d equals %q", i, k)
		}
	}
}

// The wire form: ID 0, TTLs aged, no OPT, owner names that are the
// question's compressed to it so that a client's spelling of the question
// respells them.
func TestLookupWire(t *testing.T) {
	c := New(10)
	t0 := time.Unix(1000, 0)
	m := reply(t, "a.example.org.", dns.TypeA, dns.RcodeSuccess, []string{
		"A.EXAMPLE.ORG. 300 IN CNAME b.example.org.",
		"b.example.org. 200 IN A 192.0.2.1",
	}, []string{"example.org. 250 IN NS ns.example.org."})
	m.Id, m.AuthenticatedData = 77, true
	k := KeyOf(m.Question[0], false, false)
	c.Put(k, m, t0)
	h, ok := c.Lookup([]byte(k), t0.Add(50*time.Second))
	if !ok {
		t.Fatal("miss right after Put")
	}
	b := h.AppendTo([]byte("prefix"))
	if string(b[:6]) != "prefix" || h.Len() != len(b)-6 {
		t.Fatalf("AppendTo wrote %d bytes after the prefix, Len says %d", len(b)-6, h.Len())
	}
	b = b[6:]
	copy(b[12:], "\x01A\x07eXample\x03ORG") // a client's spelling
	got := new(dns.Msg)
	if err := got.Unpack(b); err != nil {
		t.Fatal(err)
	}
	if got.Id != 0 || !got.AuthenticatedData || got.Rcode != dns.RcodeSuccess {
		t.Errorf("header: ID %d, AD %v, rcode %d; want 0, true, NOERROR", got.Id, got.AuthenticatedData, got.Rcode)
	}
	// Names that end in the question's suffixes point into it too, and
	// take the client's spelling of them: harmless, names compare without
	// case (RFC 4343).
	want := []string{
		"A.eXample.ORG.\t150\tIN\tCNAME\tb.eXample.ORG.",
		"b.eXample.ORG.\t150\tIN\tA\t192.0.2.1",
		"eXample.ORG.\t150\tIN\tNS\tns.eXample.ORG.",
	}
	var rrs []string
	for _, rr := range append(got.Answer, append(got.Ns, got.Extra...)...) {
		rrs = append(rrs, rr.String())
	}
	if fmt.Sprint(rrs) != fmt.Sprint(want) {
		t.Errorf("records\n%q\nwant\n%q", rrs, want)
	}
	// Each hit starts from what was stored.
	h, _ = c.Lookup([]byte(k), t0.Add(60*time.Second))
	got.Unpack(h.AppendTo(nil))
	if ttl := got.Answer[1].Header().Ttl; ttl != 140 {
		t.Errorf("second hit: TTL %d, want 140", ttl)
	}
}

func BenchmarkLookup(b *testing.B) {
	c := New(100)
	t0 := time.Unix(1000, 0)
	m := new(dns.Msg)
	m.SetQuestion("a.example.org.", dns.TypeA)
	a, _ := dns.NewRR("a.example.org. 300 IN A 192.0.2.1")
	m.Answer = []dns.RR{a}
	k := []byte(KeyOf(m.Question[0], false, false))
	c.Put(Key(k), m, t0)
	out := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		h, ok := c.Lookup(k, t0)
		if !ok {
			b.Fatal("miss")
		}
		out = h.AppendTo(out[:0])
	}
}
