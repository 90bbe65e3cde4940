package relay

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/session"
)

type fakeTable map[netip.Addr]session.State

func (f fakeTable) LookupIP(ip netip.Addr) (session.Client, bool) {
	s, ok := f[ip]
	return session.Client{IP: ip, State: s}, ok
}

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupAddrs(_ context.Context, name string) ([]netip.Addr, error) {
	if a, ok := f[name]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

var lo = netip.MustParseAddr("127.0.0.1")

// start runs a relay on loopback whose sites are also on loopback.
// permit (nil: every destination) replaces the destination policy, which
// refuses loopback.
func start(t *testing.T, table fakeTable, res fakeResolver, httpPort, tlsPort uint16, permit func(netip.AddrPort, uint16) error) *Relay {
	t.Helper()
	if permit == nil {
		permit = func(netip.AddrPort, uint16) error { return nil }
	}
	free := func() netip.AddrPort {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).AddrPort()
	}
	r := New(Config{HTTP: free(), TLS: free()}, table, res, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.httpPort, r.tlsPort, r.check = httpPort, tlsPort, permit
	ctx, cancel := context.WithCancel(context.Background())
	readyc, done := make(chan struct{}), make(chan error)
	go func() { done <- r.Run(ctx, func() { close(readyc) }) }()
	select {
	case <-readyc:
	case err := <-done:
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return r
}

func port(t *testing.T, u string) uint16 {
	ap, err := netip.ParseAddrPort(strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://"))
	if err != nil {
		t.Fatal(err)
	}
	return ap.Port()
}

func origin(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "ORIGIN host=%s path=%s", r.Host, r.URL.Path)
}

func TestHTTP(t *testing.T) {
	site := httptest.NewServer(http.HandlerFunc(origin))
	defer site.Close()
	r := start(t, fakeTable{lo: session.Authenticated}, fakeResolver{"example.com": {lo}}, port(t, site.URL), 0, nil)

	tests := []struct {
		name, request, want string
	}{
		{"host without port", "GET /a HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n", "ORIGIN host=example.com path=/a"},
		{"unknown host", "GET / HTTP/1.1\r\nHost: nowhere.test\r\n\r\n", ""},
		{"no host", "GET / HTTP/1.0\r\n\r\n", ""},
		{"not http", "\x16\x03\x01\x00\x05hello\r\n\r\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp4", r.cfg.HTTP.String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, tt.request)
			got, _ := io.ReadAll(c)
			if tt.want == "" && len(got) != 0 || !strings.Contains(string(got), tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	site := httptest.NewTLSServer(http.HandlerFunc(origin))
	defer site.Close()
	r := start(t, fakeTable{lo: session.Trusted}, fakeResolver{"secure.test": {lo}}, 0, port(t, site.URL), nil)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return net.Dial("tcp4", r.cfg.TLS.String())
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://secure.test/b")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "ORIGIN host=secure.test path=/b") {
		t.Errorf("got %q", body)
	}
}

func TestRefused(t *testing.T) {
	site := httptest.NewServer(http.HandlerFunc(origin))
	defer site.Close()
	req := "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"
	tests := []struct {
		name   string
		table  fakeTable
		permit func(netip.AddrPort, uint16) error
	}{
		{"preauth client", fakeTable{lo: session.Preauth}, nil},
		{"blocked client", fakeTable{lo: session.Blocked}, nil},
		{"unknown client", fakeTable{}, nil},
		{"forbidden destination", fakeTable{lo: session.Authenticated}, destPermitted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := start(t, tt.table, fakeResolver{"example.com": {lo}}, port(t, site.URL), 0, tt.permit)
			c, err := net.Dial("tcp4", r.cfg.HTTP.String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, req)
			if got, _ := io.ReadAll(c); len(got) != 0 {
				t.Errorf("relayed: %q", got)
			}
		})
	}
}

func TestSniff(t *testing.T) {
	hello := clientHello(t, "Shop.Example.")
	tests := []struct {
		name  string
		sniff sniffer
		in    string
		host  string
		port  uint16
		err   bool
	}{
		{"http", sniffHTTP, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\nbody", "a.test", 0, false},
		{"http port", sniffHTTP, "POST /x HTTP/1.1\r\nHost: A.test:8080\r\n\r\n", "a.test", 8080, false},
		{"http bad port", sniffHTTP, "GET / HTTP/1.1\r\nHost: a.test:99999\r\n\r\n", "", 0, true},
		{"http cut short", sniffHTTP, "GET / HTTP/1.1\r\nHost: a.te", "", 0, true},
		{"http huge", sniffHTTP, "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", maxHead) + "\r\n\r\n", "", 0, true},
		{"tls", sniffTLS, hello, "shop.example", 0, false},
		{"tls cut short", sniffTLS, hello[:20], "", 0, true},
		{"tls no sni", sniffTLS, clientHello(t, ""), "", 0, true},
		{"not tls", sniffTLS, "GET / HTTP/1.1\r\n\r\n", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tt.in), maxHead)
			host, port, err := tt.sniff(br)
			if (err != nil) != tt.err || host != tt.host || port != tt.port {
				t.Fatalf("got %q %d %v; want %q %d err=%v", host, port, err, tt.host, tt.port, tt.err)
			}
			if err == nil {
				// Nothing was consumed: the site gets every byte.
				rest, _ := io.ReadAll(br)
				if string(rest) != tt.in {
					t.Errorf("sniffing consumed input")
				}
			}
		})
	}
}

// clientHello records the first flight of a real crypto/tls client.
func clientHello(t *testing.T, sni string) string {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		tls.Client(a, &tls.Config{ServerName: sni, InsecureSkipVerify: true}).Handshake()
		a.Close()
	}()
	buf := make([]byte, 4096)
	n, _ := io.ReadAtLeast(b, buf, 5)
	for n < 5+(int(buf[3])<<8|int(buf[4])) {
		m, err := b.Read(buf[n:])
		if err != nil {
			break
		}
		n += m
	}
	b.Close()
	return string(buf[:n])
}

func FuzzSniff(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"))
	f.Add([]byte("\x16\x03\x01\x00\x10abcdefghijklmnop"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, sniff := range []sniffer{sniffHTTP, sniffTLS} {
			host, _, err := sniff(bufio.NewReaderSize(strings.NewReader(string(in)), maxHead))
			if err == nil && (host == "" || strings.ContainsAny(host, " \r\n/")) {
				t.Errorf("sniffed an unusable host %q from %q", host, in)
			}
		}
	})
}

func TestHostPort(t *testing.T) {
	for _, tt := range []struct {
		in   string
		host string
		port uint16
		ok   bool
	}{
		{"Shop.Test", "shop.test", 0, true},
		{"shop.test.:8080", "shop.test", 8080, true},
		{"198.51.100.10", "198.51.100.10", 0, true},
		{"[2001:db8::1]:443", "2001:db8::1", 443, true},
		{"_dmarc.shop.test", "_dmarc.shop.test", 0, true},
		{"/", "", 0, false},
		{"a..b", "", 0, false},
		{"a b", "", 0, false},
		{"shop.test:0", "", 0, false},
		{"shop.test:99999", "", 0, false},
		{"", "", 0, false},
		{strings.Repeat("a", 64) + ".test", "", 0, false},
	} {
		host, port, err := hostPort(tt.in)
		if (err == nil) != tt.ok || host != tt.host || port != tt.port {
			t.Errorf("hostPort(%q) = %q, %d, %v; want %q, %d, ok %v", tt.in, host, port, err, tt.host, tt.port, tt.ok)
		}
	}
}

// listener counts the connections it accepts and answers each with a
// marker, standing for a host the relay must not reach.
type counting struct {
	net.Listener
	n atomic.Int32
}

func listenCounting(t *testing.T, addr string) *counting {
	t.Helper()
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &counting{Listener: l}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			c.n.Add(1)
			io.WriteString(conn, "HTTP/1.0 200 OK\r\n\r\nPRIVATE")
			conn.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return c
}

func (c *counting) port() uint16 { return c.Addr().(*net.TCPAddr).AddrPort().Port() }

// The relay connects to the listener's port only, and only to addresses
// the policy permits as it dials them: neither a port in the Host or SNI,
// nor an address among a name's answers, nor an address given as the
// Host reaches anything else.
func TestDestinations(t *testing.T) {
	site := httptest.NewServer(http.HandlerFunc(origin))
	defer site.Close()
	tlsSite := httptest.NewTLSServer(http.HandlerFunc(origin))
	defer tlsSite.Close()
	// 127.0.0.2 stands for a host in the venue's network, on every port
	// a client names.
	private := listenCounting(t, "127.0.0.2:0")
	lo2 := netip.MustParseAddr("127.0.0.2")
	// The test's sites are on loopback, which the real policy refuses:
	// here the policy sees 127.0.0.2 as the router's attached network and
	// 127.0.0.1 as public.
	permitLoopback := func(dst netip.AddrPort, port uint16) error {
		if dst.Addr() == lo {
			dst = netip.AddrPortFrom(netip.MustParseAddr("198.51.100.10"), dst.Port())
		}
		return permit(dst, port, []netip.Prefix{netip.PrefixFrom(lo2, 32)})
	}
	res := fakeResolver{
		"example.com": {lo},
		"lan.test":    {lo2},
		"mixed.test":  {lo2, lo}, // a name that resolves into the LAN first
	}
	r := start(t, fakeTable{lo: session.Authenticated}, res, port(t, site.URL), port(t, tlsSite.URL), permitLoopback)

	httpTests := []struct {
		name, host string
		relayed    bool
	}{
		{"public name", "example.com", true},
		{"public name, its port", fmt.Sprintf("example.com:%d", port(t, site.URL)), true},
		{"public name, another port", fmt.Sprintf("example.com:%d", private.port()), false},
		{"name in the LAN", "lan.test", false},
		{"name in the LAN, its port", fmt.Sprintf("lan.test:%d", private.port()), false},
		{"name with a LAN answer first", "mixed.test", true},
		{"address in the LAN", "127.0.0.2", false},
		{"address in the LAN, its port", fmt.Sprintf("127.0.0.2:%d", private.port()), false},
		{"address is not looked up", "127.0.0.1", true},
	}
	for _, tt := range httpTests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp4", r.cfg.HTTP.String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "GET /x HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", tt.host)
			got, _ := io.ReadAll(c)
			if relayed := strings.Contains(string(got), "ORIGIN"); relayed != tt.relayed {
				t.Errorf("Host %s: relayed %v, want %v (%q)", tt.host, relayed, tt.relayed, got)
			}
		})
	}
	for _, sni := range []string{"lan.test", fmt.Sprintf("example.com:%d", private.port()), fmt.Sprintf("lan.test:%d", private.port())} {
		t.Run("SNI "+sni, func(t *testing.T) {
			c, err := net.Dial("tcp4", r.cfg.TLS.String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, clientHello(t, sni))
			if got, _ := io.ReadAll(c); len(got) != 0 {
				t.Errorf("SNI %s: got %q", sni, got)
			}
		})
	}
	if n := private.n.Load(); n != 0 {
		t.Errorf("the LAN host was reached %d times", n)
	}
}

// One signed-in device that opens as many connections as the relay has
// slots, and sends nothing on them, keeps maxClientConns of them; another
// device is still relayed.
func TestOneClientCannotFillTheSlots(t *testing.T) {
	site := httptest.NewServer(http.HandlerFunc(origin))
	defer site.Close()
	lo2 := netip.MustParseAddr("127.0.0.2")
	r := start(t, fakeTable{lo: session.Authenticated, lo2: session.Authenticated}, fakeResolver{"example.com": {lo}}, port(t, site.URL), 0, nil)
	dialFrom := func(src string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
		c, err := d.Dial("tcp4", r.cfg.HTTP.String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	var conns []net.Conn
	for range r.cfg.MaxConns {
		conns = append(conns, dialFrom("127.0.0.1"))
	}
	// The relay closes every connection over the bound as it accepts it
	// (EOF here); the others wait for their request head. A dial returns
	// before the server has queued the connection for accept (loopback
	// hands the last ACK to a per-CPU backlog that a loaded machine
	// works off later), so wait for the closes themselves, not for a
	// while, before counting what is held.
	closed := waitClosed(t, conns, len(conns)-maxClientConns)
	if held := len(conns) - closed; held != maxClientConns {
		t.Errorf("one client holds %d connections, want %d", held, maxClientConns)
	}
	c := dialFrom("127.0.0.2")
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /other HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
	if got, _ := io.ReadAll(c); !strings.Contains(string(got), "ORIGIN host=example.com path=/other") {
		t.Errorf("another client was not relayed: %q", got)
	}
}

// waitClosed reads every conn until want of them have been closed by the
// peer (or a deadline well inside headTimeout passed), then gives the
// others a last look, and returns how many were closed.
func waitClosed(t *testing.T, conns []net.Conn, want int) int {
	t.Helper()
	results := make(chan bool, len(conns))
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(headTimeout / 2))
		go func() {
			var b [1]byte
			_, err := c.Read(b[:])
			results <- !errors.Is(err, os.ErrDeadlineExceeded)
		}()
	}
	closed, got := 0, 0
	for ; got < len(conns) && closed < want; got++ {
		if <-results {
			closed++
		}
	}
	// A connection closed beyond want would be a fault: a short deadline
	// lets any pending EOF through, then the reads end.
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	}
	for ; got < len(conns); got++ {
		if <-results {
			closed++
		}
	}
	return closed
}
