package forward

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// upstream is a nameserver on 127.0.0.1 (UDP and TCP, one port) whose
// answers the test decides.
type upstream struct {
	addr    netip.AddrPort
	udp     atomic.Int32 // queries seen over UDP
	tcp     atomic.Int32
	lastOpt atomic.Pointer[dns.OPT]
}

func startUpstream(t *testing.T, answer func(w dns.ResponseWriter, req *dns.Msg)) *upstream {
	t.Helper()
	u := &upstream{}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback UDP: %v", err)
	}
	u.addr = pc.LocalAddr().(*net.UDPAddr).AddrPort()
	ln, err := net.Listen("tcp", u.addr.String())
	if err != nil {
		pc.Close()
		t.Skipf("TCP port %d taken: %v", u.addr.Port(), err)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		if w.LocalAddr().Network() == "tcp" {
			u.tcp.Add(1)
		} else {
			u.udp.Add(1)
		}
		u.lastOpt.Store(req.IsEdns0())
		answer(w, req)
	})
	srvs := []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}}
	for _, s := range srvs {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go s.ActivateAndServe()
		<-started
	}
	t.Cleanup(func() {
		for _, s := range srvs {
			s.Shutdown()
		}
	})
	return u
}

func answerA(ip string, ttl uint32) func(dns.ResponseWriter, *dns.Msg) {
	return func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: net.ParseIP(ip)}}
		w.WriteMsg(m)
	}
}

func rcode(code int) func(dns.ResponseWriter, *dns.Msg) {
	return func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(req, code)
		w.WriteMsg(m)
	}
}

// silent is an address that takes UDP and never answers; seen counts
// what it took.
func silent(t *testing.T) (addr netip.AddrPort, seen *atomic.Int32) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback UDP: %v", err)
	}
	t.Cleanup(func() { pc.Close() })
	seen = new(atomic.Int32)
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			seen.Add(1)
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).AddrPort(), seen
}

var qA = dns.Question{Name: "www.example.org.", Qtype: dns.TypeA, Qclass: dns.ClassINET}

func firstA(t *testing.T, m *dns.Msg) string {
	t.Helper()
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String()
		}
	}
	t.Fatalf("no A record in %v", m)
	return ""
}

func fast() Config {
	return Config{AttemptTimeout: 300 * time.Millisecond, Timeout: 2 * time.Second}
}

func TestAnswersAndAdvertisesEDNS(t *testing.T) {
	u := startUpstream(t, answerA("192.0.2.1", 300))
	f := New(fast(), []netip.AddrPort{u.addr})
	m, err := f.Exchange(context.Background(), qA, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := firstA(t, m); got != "192.0.2.1" {
		t.Errorf("answer %s", got)
	}
	opt := u.lastOpt.Load()
	if opt == nil || opt.UDPSize() != UDPSize || !opt.Do() {
		t.Errorf("upstream saw OPT %v; want payload %d with DO", opt, UDPSize)
	}
}

func TestFailover(t *testing.T) {
	good := startUpstream(t, answerA("192.0.2.2", 300))
	broken := startUpstream(t, rcode(dns.RcodeServerFailure))
	quiet, quietSeen := silent(t)
	tests := []struct {
		name string
		ups  []netip.AddrPort
		seen func() int32 // queries the failing upstream took
	}{
		{"silent first", []netip.AddrPort{quiet, good.addr}, quietSeen.Load},
		{"SERVFAIL first", []netip.AddrPort{broken.addr, good.addr}, broken.udp.Load},
		{"nothing listening first", []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1"), good.addr}, nil},
	}
	for _, tt := range tests {
		f := New(fast(), tt.ups)
		m, err := f.Exchange(context.Background(), qA, false, false)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := firstA(t, m); got != "192.0.2.2" {
			t.Errorf("%s: answer %s", tt.name, got)
		}
		if tt.seen == nil {
			continue
		}
		// The upstream that answered is asked first from now on.
		before := tt.seen()
		if before == 0 {
			t.Errorf("%s: the first upstream was never asked", tt.name)
		}
		if _, err := f.Exchange(context.Background(), qA, false, false); err != nil {
			t.Errorf("%s: second exchange: %v", tt.name, err)
		}
		if tt.seen() != before {
			t.Errorf("%s: the failed upstream was asked again before the good one", tt.name)
		}
	}
}

func TestEveryUpstreamFails(t *testing.T) {
	broken := startUpstream(t, rcode(dns.RcodeRefused))
	quiet, _ := silent(t)
	f := New(fast(), []netip.AddrPort{quiet, broken.addr})
	m, err := f.Exchange(context.Background(), qA, false, false)
	if err != nil || m.Rcode != dns.RcodeRefused {
		t.Errorf("got %v, %v; want the upstream's REFUSED", m, err)
	}

	f = New(fast(), []netip.AddrPort{quiet})
	if _, err := f.Exchange(context.Background(), qA, false, false); err == nil {
		t.Error("no error when no upstream answered")
	}
	if _, err := New(fast(), nil).Exchange(context.Background(), qA, false, false); !errors.Is(err, ErrNoUpstream) {
		t.Errorf("no upstreams: %v, want ErrNoUpstream", err)
	}
}

func TestRetriesOverTCPWhenTruncated(t *testing.T) {
	u := startUpstream(t, func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		if w.LocalAddr().Network() == "udp" {
			m.Truncated = true
		} else {
			for i := 0; i < 100; i++ {
				m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
					Txt: []string{strings.Repeat("x", 200)}})
			}
		}
		w.WriteMsg(m)
	})
	f := New(fast(), []netip.AddrPort{u.addr})
	m, err := f.Exchange(context.Background(), dns.Question{Name: "big.example.org.", Qtype: dns.TypeTXT, Qclass: dns.ClassINET}, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if m.Truncated || len(m.Answer) != 100 {
		t.Errorf("TC %v, %d answers; want the whole answer over TCP", m.Truncated, len(m.Answer))
	}
	if u.udp.Load() != 1 || u.tcp.Load() != 1 {
		t.Errorf("upstream saw %d UDP and %d TCP queries; want 1 and 1", u.udp.Load(), u.tcp.Load())
	}
}

func TestRetriesWithoutEDNSOnFormerr(t *testing.T) {
	// An old server that answers FORMERR to any OPT record (RFC 6891 §7).
	u := startUpstream(t, func(w dns.ResponseWriter, req *dns.Msg) {
		if req.IsEdns0() != nil {
			rcode(dns.RcodeFormatError)(w, req)
			return
		}
		answerA("192.0.2.3", 60)(w, req)
	})
	f := New(fast(), []netip.AddrPort{u.addr})
	m, err := f.Exchange(context.Background(), qA, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := firstA(t, m); got != "192.0.2.3" {
		t.Errorf("answer %s", got)
	}
}

func TestRejectsAnswerToAnotherQuestion(t *testing.T) {
	liar := startUpstream(t, func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Question[0].Name = "evil.example."
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "evil.example.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP("192.0.2.66")}}
		w.WriteMsg(m)
	})
	good := startUpstream(t, answerA("192.0.2.4", 60))
	f := New(fast(), []netip.AddrPort{liar.addr, good.addr})
	m, err := f.Exchange(context.Background(), qA, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := firstA(t, m); got != "192.0.2.4" {
		t.Errorf("answer %s; want the honest upstream's", got)
	}
}

func TestCoalescesIdenticalQuestions(t *testing.T) {
	release := make(chan struct{})
	u := startUpstream(t, func(w dns.ResponseWriter, req *dns.Msg) {
		<-release
		answerA("192.0.2.5", 60)(w, req)
	})
	f := New(Config{AttemptTimeout: 5 * time.Second, Timeout: 5 * time.Second}, []netip.AddrPort{u.addr})
	const n = 20
	var wg sync.WaitGroup
	results := make(chan string, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := qA
			q.Name = "WWW.example.org." // case does not make another question
			m, err := f.Exchange(context.Background(), q, false, false)
			if err != nil {
				results <- err.Error()
				return
			}
			results <- m.Answer[0].(*dns.A).A.String()
		}()
	}
	// Wait until the first query reached the upstream and the others had
	// time to join it.
	for u.udp.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	close(results)
	for r := range results {
		if r != "192.0.2.5" {
			t.Errorf("a caller got %s", r)
		}
	}
	if got := u.udp.Load(); got != 1 {
		t.Errorf("upstream asked %d times for one question; want 1", got)
	}
	// A different question is not coalesced with it.
	if _, err := f.Exchange(context.Background(), dns.Question{Name: qA.Name, Qtype: dns.TypeAAAA, Qclass: dns.ClassINET}, false, false); err != nil {
		t.Fatal(err)
	}
	if got := u.udp.Load(); got != 2 {
		t.Errorf("upstream asked %d times for two questions; want 2", got)
	}
}

func TestWaiterGivesUpWithItsContext(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	u := startUpstream(t, func(w dns.ResponseWriter, req *dns.Msg) { <-release })
	f := New(Config{AttemptTimeout: 5 * time.Second, Timeout: 5 * time.Second}, []netip.AddrPort{u.addr})
	go f.Exchange(context.Background(), qA, false, false)
	for u.udp.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := f.Exchange(ctx, qA, false, false); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiter: %v, want its own deadline", err)
	}
}

func TestSetUpstreams(t *testing.T) {
	a := startUpstream(t, answerA("192.0.2.6", 60))
	b := startUpstream(t, answerA("192.0.2.7", 60))
	f := New(fast(), []netip.AddrPort{a.addr})
	f.SetUpstreams([]netip.AddrPort{b.addr})
	m, err := f.Exchange(context.Background(), qA, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := firstA(t, m); got != "192.0.2.7" {
		t.Errorf("after SetUpstreams: answer %s from the old upstream", got)
	}
	if got := f.Upstreams(); len(got) != 1 || got[0] != b.addr {
		t.Errorf("Upstreams() = %v", got)
	}
}
