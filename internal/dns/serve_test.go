package dns

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// freePort returns a loopback address whose port is free for UDP and TCP.
func freePort(t *testing.T) netip.AddrPort {
	t.Helper()
	for range 10 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Skipf("no loopback UDP: %v", err)
		}
		addr := pc.LocalAddr().(*net.UDPAddr).AddrPort()
		ln, err := net.Listen("tcp", addr.String())
		pc.Close()
		if err == nil {
			ln.Close()
			return addr
		}
	}
	t.Skip("no free loopback port for UDP and TCP")
	return netip.AddrPort{}
}

// run starts s.Run on addr and returns a function that stops it and
// returns Run's error.
func run(t *testing.T, s *Server, addr netip.AddrPort) func() error {
	t.Helper()
	s.listen = addr
	s.redirect = freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("Run: %v", err)
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return within 5s of its context ending")
			return nil
		}
	}
	t.Cleanup(func() { stop() })
	return stop
}

func TestRunServesUDPAndTCP(t *testing.T) {
	f := newFixture(t)
	addr := freePort(t)
	stop := run(t, f.s, addr)

	for _, proto := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: proto, Timeout: 2 * time.Second}
		// From 127.0.0.1, a local program: forwarded.
		m, _, err := c.Exchange(question("www.example.org.", dns.TypeA), addr.String())
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		if len(m.Answer) != 1 || rdata(m.Answer[0]) != "A 198.51.100.10" {
			t.Errorf("%s: answer %v", proto, m.Answer)
		}
	}

	// Several queries on one TCP connection (RFC 7766 §6.2.1).
	conn, err := (&dns.Client{Net: "tcp"}).Dial(addr.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"portal.lan.", "www.example.org.", "a.nx.test."} {
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		if err := conn.WriteMsg(question(name, dns.TypeA)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := conn.ReadMsg(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	conn.Close()

	// Garbage over UDP gets FORMERR, and the server goes on.
	uc, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	uc.Write([]byte{0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0x3f})
	uc.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 512)
	n, err := uc.Read(buf)
	if err != nil {
		t.Fatalf("no answer to a malformed query: %v", err)
	}
	if n < 12 || buf[0] != 0xab || buf[1] != 0xcd || buf[3]&0xf != dns.RcodeFormatError {
		t.Errorf("answer to a malformed query: % x; want FORMERR with ID abcd", buf[:n])
	}

	if err := stop(); err != nil {
		t.Errorf("Run returned %v after its context ended; want nil", err)
	}
	// Both sockets are closed: the port can be taken again.
	pc, err := net.ListenPacket("udp", addr.String())
	if err != nil {
		t.Errorf("UDP port still held after Run returned: %v", err)
	} else {
		pc.Close()
	}
	ln, err := net.Listen("tcp", addr.String())
	if err != nil {
		t.Errorf("TCP port still held after Run returned: %v", err)
	} else {
		ln.Close()
	}
}

func TestRunStopsWithIdleTCPClient(t *testing.T) {
	f := newFixture(t)
	addr := freePort(t)
	stop := run(t, f.s, addr)
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte{0}) // half a length: the server waits for more
	time.Sleep(20 * time.Millisecond)
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
}

// The port that the firewall redirects other resolvers' DNS to answers
// like port 53, over UDP and TCP.
func TestRunServesRedirectPort(t *testing.T) {
	f := newFixture(t)
	run(t, f.s, freePort(t))
	for _, proto := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: proto, Timeout: 2 * time.Second}
		m, _, err := c.Exchange(question("www.example.org.", dns.TypeA), f.s.redirect.String())
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		if len(m.Answer) != 1 || rdata(m.Answer[0]) != "A 198.51.100.10" {
			t.Errorf("%s: answer %v", proto, m.Answer)
		}
	}
}

func TestRunPortTaken(t *testing.T) {
	f := newFixture(t)
	addr := freePort(t)
	pc, err := net.ListenPacket("udp", addr.String())
	if err != nil {
		t.Skip(err)
	}
	defer pc.Close()
	f.s.listen = addr
	err = f.s.Run(context.Background(), func() { t.Error("ready called although the port is taken") })
	if err == nil || !strings.Contains(err.Error(), "another DNS server") {
		t.Errorf("Run with the port taken: %v; want an error that says what to do", err)
	}
}

func TestRunDisabled(t *testing.T) {
	cfg := testConfig()
	cfg.Enabled = false
	s, err := New(cfg, testTable(t), nil, newFixture(t).s.log)
	if err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	stop := run(t, s, addr)
	pc, err := net.ListenPacket("udp", addr.String())
	if err != nil {
		t.Errorf("disabled resolver holds its port: %v", err)
	} else {
		pc.Close()
	}
	if err := stop(); err != nil {
		t.Error(err)
	}
}

// A reload turns the resolver on and off again without a restart.
func TestRunReloadEnabled(t *testing.T) {
	cfg := testConfig()
	cfg.Enabled = false
	s, err := New(cfg, testTable(t), nil, newFixture(t).s.log)
	if err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	stop := run(t, s, addr)
	defer stop()
	// Serving is probed with a query, not by binding the port: a probe
	// that holds the port for a moment can make the server's own bind
	// fail when it is turned on at that moment.
	held := func() bool {
		c := &dns.Client{Net: "udp", Timeout: 100 * time.Millisecond}
		_, _, err := c.Exchange(question("portal.lan.", dns.TypeA), addr.String())
		return err == nil
	}
	wait := func(want bool) bool {
		for range 100 {
			if held() == want {
				return true
			}
			time.Sleep(20 * time.Millisecond)
		}
		return false
	}
	cfg.Enabled = true
	s.Reload(cfg)
	if !wait(true) {
		t.Error("enabled by a reload, the resolver does not serve")
	}
	cfg.Enabled = false
	s.Reload(cfg)
	if !wait(false) {
		t.Error("disabled by a reload, the resolver still answers")
	}
	// Off, it holds its port no more (binding it now races with nothing).
	if pc, err := net.ListenPacket("udp", addr.String()); err != nil {
		t.Errorf("disabled by a reload, the resolver still holds its port: %v", err)
	} else {
		pc.Close()
	}
}

// The UDP sockets share their port among themselves only: a second
// resolver (another lobby, a dnsmasq) cannot join them and take a share of
// the queries.
func TestRunSecondInstanceRefused(t *testing.T) {
	f := newFixture(t)
	addr := freePort(t)
	run(t, f.s, addr)
	g := newFixture(t)
	g.s.listen = addr
	err := g.s.Run(context.Background(), func() { t.Error("a second resolver started on a port in use") })
	if err == nil || !strings.Contains(err.Error(), "another DNS server") {
		t.Errorf("second Run: %v; want port in use", err)
	}
	if _, err := net.ListenPacket("udp", addr.String()); err == nil {
		t.Error("a plain UDP socket could bind the resolver's port")
	}
}

// One device that opens as many TCP connections as the resolver has
// slots, and holds them idle, keeps maxTCPClientConns of them; another
// device is still answered over TCP.
func TestRunOneClientCannotFillTCP(t *testing.T) {
	f := newFixture(t)
	addr := freePort(t)
	run(t, f.s, addr)
	dialFrom := func(src string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
		return d.Dial("tcp4", addr.String())
	}
	var conns []net.Conn
	for range maxTCPConns {
		c, err := dialFrom("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte{0}) // half a length: the server waits for more
		conns = append(conns, c)
	}
	time.Sleep(100 * time.Millisecond) // the server accepts them all first
	c, err := dialFrom("127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := (&dns.Client{Net: "tcp", Timeout: 2 * time.Second}).ExchangeWithConn(question("www.example.org.", dns.TypeA), &dns.Conn{Conn: c})
	if err != nil || len(m.Answer) == 0 {
		t.Fatalf("another client over TCP: %v, %v", m, err)
	}

	// The connections over the bound were closed at once (EOF); the
	// others are still waiting for their query (a timeout here).
	// (A read past its deadline fails without looking: each gets its own.)
	held := 0
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		var b [1]byte
		if _, err := c.Read(b[:]); err != nil && strings.Contains(err.Error(), "timeout") {
			held++
		}
	}
	if held != maxTCPClientConns {
		t.Errorf("one client holds %d TCP connections, want %d", held, maxTCPClientConns)
	}
}
