package portal

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// freePorts returns n distinct loopback ports that were free a moment ago.
// The listeners stay open until all n are picked, so no two are the same.
func freePorts(t *testing.T, n int) []uint16 {
	t.Helper()
	var ports []uint16
	for range n {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Skipf("no loopback: %v", err)
		}
		defer l.Close()
		ports = append(ports, uint16(l.Addr().(*net.TCPAddr).Port))
	}
	return ports
}

// start runs the server until the test ends.
func start(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- s.Run(ctx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run after stop: %v", err)
		}
	})
}

func TestRunTLSAndReload(t *testing.T) {
	certFile, keyFile := writeCert(t, "portal.lan")
	p := freePorts(t, 2)
	port, tlsPort := p[0], p[1]
	f := newFixture(t, func(c *Config) {
		c.Address, c.Port, c.TLSPort, c.TLSCert, c.TLSKey = netip.MustParseAddr("127.0.0.1"), port, tlsPort, certFile, keyFile
	})
	start(t, f.s)

	res, err := http.Get("http://127.0.0.1:" + itoa(port) + "/api/captive")
	if err != nil {
		t.Fatal(err)
	}
	var st captiveState
	json.NewDecoder(res.Body).Decode(&st)
	res.Body.Close()
	if !st.Captive || st.UserPortalURL != "https://portal.lan:"+itoa(tlsPort)+"/" {
		t.Errorf("over http: %+v", st)
	}

	// fetch gets / over HTTPS as portal.lan, trusting only certFile, and
	// returns the certificate the server showed.
	fetch := func(trust string) (*x509.Certificate, error) {
		pool := x509.NewCertPool()
		b, _ := os.ReadFile(trust)
		pool.AppendCertsFromPEM(b)
		c := &http.Client{Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "portal.lan"},
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "tcp", "127.0.0.1:"+itoa(tlsPort))
			},
		}, Timeout: 5 * time.Second}
		res, err := c.Get("https://portal.lan:" + itoa(tlsPort) + "/")
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || !strings.Contains(string(body), `action="/login"`) {
			t.Errorf("https /: %d\n%s", res.StatusCode, body)
		}
		return res.TLS.PeerCertificates[0], nil
	}
	first, err := fetch(certFile)
	if err != nil {
		t.Fatalf("https: %v", err)
	}

	// A new certificate in place, then a reload (what SIGHUP does): new
	// connections get it.
	newCert, newKey := writeCert(t, "portal.lan")
	os.Rename(newCert, certFile)
	os.Rename(newKey, keyFile)
	f.s.Reload(*f.s.conf())
	second, err := fetch(certFile)
	if err != nil {
		t.Fatalf("https after reload: %v", err)
	}
	if first.SerialNumber.Cmp(second.SerialNumber) == 0 {
		t.Error("reload kept the old certificate")
	}
	// A broken file keeps the running certificate.
	os.WriteFile(certFile, []byte("garbage"), 0o644)
	f.s.Reload(*f.s.conf())
	if f.s.cert.Load().Leaf.SerialNumber.Cmp(second.SerialNumber) != 0 {
		t.Error("a broken certificate replaced the running one")
	}
}

func TestRunErrors(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	defer l.Close()
	f := newFixture(t, func(c *Config) {
		c.Address, c.Port = netip.MustParseAddr("127.0.0.1"), uint16(l.Addr().(*net.TCPAddr).Port)
	})
	err = f.s.Run(context.Background(), func() { t.Error("ready called") })
	if err == nil || !strings.Contains(err.Error(), "another program serves port") || !strings.Contains(err.Error(), "option port") {
		t.Errorf("port in use: %v", err)
	}

	for name, edit := range map[string]func(*Config){
		"missing cert": func(c *Config) { c.TLSCert, c.TLSKey = "/nonexistent/cert.pem", "/nonexistent/key.pem" },
		"no IPv4":      func(c *Config) { c.Address = netip.Addr{} },
		"no table":     func(c *Config) { c.Table = nil },
	} {
		cfg := Config{Address: netip.MustParseAddr(portalAddr), Port: 2050, TLSPort: 8443, Hostname: "portal.lan", Table: f.table, SignIn: f.signin}
		edit(&cfg)
		cfg.URLs = NewURLs(cfg.Address, cfg.Port, cfg.Hostname, cfg.TLSPort, cfg.TLS())
		if _, err := New(cfg); err == nil || !strings.HasPrefix(err.Error(), "portal: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }

// One device that opens as many keep-alive connections as the portal has
// slots holds maxClientConns of them; another device still signs in (here:
// gets the API).
func TestRunOneClientCannotFillTheSlots(t *testing.T) {
	port := freePorts(t, 1)[0]
	f := newFixture(t, func(c *Config) { c.Address, c.Port = netip.MustParseAddr("127.0.0.1"), port })
	start(t, f.s)
	addr := "127.0.0.1:" + itoa(port)

	dialFrom := func(src string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
		return d.Dial("tcp4", addr)
	}
	held := 0
	for range maxConns {
		c, err := dialFrom("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(c, "GET /api/captive HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
		// The answer is read, the connection left open (keep-alive).
		if res, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			held++
		}
	}
	if held != maxClientConns {
		t.Errorf("one client holds %d connections, want %d", held, maxClientConns)
	}

	other := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) { return dialFrom("127.0.0.2") },
	}}
	res, err := other.Get("http://" + addr + "/api/captive")
	if err != nil {
		t.Fatalf("another client was locked out: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("another client: %s", res.Status)
	}
}

// A reload turns HTTPS on, then moves it, and changes the texts and the
// hostname the portal advertises, without a restart.
func TestRunReloadConfig(t *testing.T) {
	certFile, keyFile := writeCert(t, "guest.example")
	p := freePorts(t, 3)
	f := newFixture(t, func(c *Config) { c.Address, c.Port = netip.MustParseAddr("127.0.0.1"), p[0] })
	start(t, f.s)
	get := func(url string) (string, error) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 5 * time.Second}
		res, err := c.Get(url)
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return string(b), err
	}
	for _, tlsPort := range p[1:] {
		cfg := *f.s.conf()
		cfg.Hostname, cfg.VenueName, cfg.TLSCert, cfg.TLSKey, cfg.TLSPort = "guest.example", "Reloaded Café", certFile, keyFile, tlsPort
		cfg.URLs = NewURLs(cfg.Address, cfg.Port, cfg.Hostname, cfg.TLSPort, cfg.TLS())
		if err := f.s.Reload(cfg); err != nil {
			t.Fatal(err)
		}
		var body string
		var err error
		for range 50 { // Run opens the listener after Reload returns
			if body, err = get("https://127.0.0.1:" + itoa(tlsPort) + "/api/captive"); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil || !strings.Contains(body, `"user-portal-url":"https://guest.example:`+itoa(tlsPort)+`/"`) {
			t.Errorf("HTTPS on %d after reload: %v %s", tlsPort, err, body)
		}
	}
	if _, err := get("https://127.0.0.1:" + itoa(p[1]) + "/"); err == nil {
		t.Error("the old HTTPS port still serves")
	}
	if body, _ := get("http://127.0.0.1:" + itoa(p[0]) + "/"); !strings.Contains(body, "Reloaded Café") {
		t.Errorf("sign-in page after reload lacks the new venue name: %.200s", body)
	}
}
