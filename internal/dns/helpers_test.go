package dns

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/store/storetest"
)

// The clients of the test table.
var (
	preauthIP = netip.MustParseAddr("10.77.0.11")
	authIP    = netip.MustParseAddr("10.77.0.12")
	trustIP   = netip.MustParseAddr("10.77.0.13")
	blockIP   = netip.MustParseAddr("10.77.0.14")
	unknownIP = netip.MustParseAddr("10.77.0.99")
	portalIP  = netip.MustParseAddr("10.77.0.1")
)

func testTable(t testing.TB) *session.Table {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	table := session.New(session.Config{SessionTimeout: time.Hour}, new(storetest.Mem), log)
	ctx := context.Background()
	for i, ip := range []netip.Addr{preauthIP, authIP, trustIP, blockIP} {
		mac := net.HardwareAddr{2, 0, 0, 0, 1, byte(i + 1)}
		table.Seen(mac, ip, "")
		var err error
		switch ip {
		case authIP:
			_, err = table.Auth(ctx, mac, table.NewGrant(session.MethodCtl, "", session.Limits{}))
		case trustIP:
			_, err = table.SetTrusted(ctx, mac, true, "test")
		case blockIP:
			_, err = table.SetBlocked(ctx, mac, true, "test")
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return table
}

// fakeUpstream is the internet's nameserver on 127.0.0.1: every name has
// A 198.51.100.10 and AAAA 2001:db8::10 (garden.test and its subdomains
// A 198.51.100.20), TTL 300; names under nx.test are NXDOMAIN; big.test has
// a TXT answer larger than any UDP answer.
type fakeUpstream struct {
	addr    netip.AddrPort
	queries atomic.Int32
	mu      sync.Mutex
	seen    []string // "name type proto"
}

const bigTXTCount = 12 // × 200 bytes: more than maxUDP

func startUpstream(t testing.TB) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{}
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
	srvs := []*dns.Server{{PacketConn: pc, Handler: u}, {Listener: ln, Handler: u}}
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

func (u *fakeUpstream) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	u.queries.Add(1)
	q := req.Question[0]
	proto := w.LocalAddr().Network()
	u.mu.Lock()
	u.seen = append(u.seen, strings.ToLower(q.Name)+" "+dns.Type(q.Qtype).String()+" "+proto)
	u.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	name := strings.ToLower(q.Name)
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: q.Name, Rrtype: t, Class: dns.ClassINET, Ttl: 300}
	}
	switch {
	case dns.IsSubDomain("nx.test.", name):
		m.Rcode = dns.RcodeNameError
		soa, _ := dns.NewRR("nx.test. 3600 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60")
		m.Ns = []dns.RR{soa}
	case q.Qtype == dns.TypeA && dns.IsSubDomain("garden.test.", name):
		m.Answer = []dns.RR{&dns.A{Hdr: hdr(dns.TypeA), A: net.ParseIP("198.51.100.20")}}
	case q.Qtype == dns.TypeA:
		m.Answer = []dns.RR{&dns.A{Hdr: hdr(dns.TypeA), A: net.ParseIP("198.51.100.10")}}
	case q.Qtype == dns.TypeAAAA:
		m.Answer = []dns.RR{&dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: net.ParseIP("2001:db8::10")}}
	case q.Qtype == dns.TypeTXT && name == "big.test.":
		for i := range bigTXTCount {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: []string{strings.Repeat(string(rune('a'+i)), 200)}})
		}
	case q.Qtype == dns.TypeTXT:
		m.Answer = []dns.RR{&dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: []string{"upstream-txt"}}}
	case q.Qtype == dns.TypeMX:
		m.Answer = []dns.RR{&dns.MX{Hdr: hdr(dns.TypeMX), Preference: 10, Mx: "mail." + name}}
	}
	size := dns.MaxMsgSize
	if proto == "udp" {
		size = dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
			m.SetEdns0(1232, opt.Do())
		}
	}
	m.Truncate(size)
	w.WriteMsg(m)
}

func (u *fakeUpstream) saw(entry string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Contains(u.seen, entry)
}

// fakeGarden records what the resolver opened.
type fakeGarden struct {
	mu    sync.Mutex
	addrs []netip.Addr
	ttls  []time.Duration
}

func (g *fakeGarden) AllowGarden(addrs []netip.Addr, ttl time.Duration) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.addrs = append(g.addrs, addrs...)
	g.ttls = append(g.ttls, ttl)
	return nil
}

func (g *fakeGarden) opened() []netip.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.addrs)
}

func testConfig(ups ...netip.AddrPort) Config {
	return Config{
		Enabled:      true,
		Address:      portalIP,
		RedirectPort: 3,
		Hostname:     "portal.lan",
		AllowDomain:  []string{"garden.test"},
		Upstream:     ups,
		CacheSize:    100,
	}
}

// fixture is a resolver with the test table, a fake upstream, a fake
// garden and a clock the test moves.
type fixture struct {
	s      *Server
	up     *fakeUpstream
	garden *fakeGarden
	now    time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{up: startUpstream(t), garden: &fakeGarden{}, now: time.Unix(1_000_000, 0)}
	s, err := New(testConfig(f.up.addr), testTable(t), f.garden, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return f.now }
	f.s = s
	return f
}

// exchange runs raw query b from src through the resolver as its read loop
// does and returns the bytes sent back (nil: dropped).
func (f *fixture) exchange(t testing.TB, b []byte, src netip.Addr, tcp bool) []byte {
	t.Helper()
	out, q, err := f.s.answer(b, src, tcp, make([]byte, 512))
	if err == nil && out == nil && q != nil {
		out, err = f.s.pack(f.s.resolve(context.Background(), q), q, make([]byte, 512))
	}
	if err != nil {
		t.Fatalf("pack: %v", err)
	}
	return out
}

// ask sends req from src and returns the decoded answer.
func (f *fixture) ask(t testing.TB, req *dns.Msg, src netip.Addr, tcp bool) *dns.Msg {
	t.Helper()
	b, err := req.Pack()
	if err != nil {
		t.Fatal(err)
	}
	out := f.exchange(t, b, src, tcp)
	if out == nil {
		t.Fatalf("query %v from %v dropped", req.Question, src)
	}
	m := new(dns.Msg)
	if err := m.Unpack(out); err != nil {
		t.Fatalf("answer does not parse: %v", err)
	}
	if m.Id != req.Id || !m.Response {
		t.Fatalf("answer ID %d response %v; want ID %d and a response", m.Id, m.Response, req.Id)
	}
	return m
}

func question(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return m
}
