package portal

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/signin"
	"github.com/lobby-fw/lobby/internal/store/storetest"
	"github.com/lobby-fw/lobby/internal/voucher"
)

// The lab's addresses, as the portal sees them.
const (
	portalAddr = "10.77.0.1"
	ip1, ip2   = "10.77.0.101", "10.77.0.102"
	ipUnknown  = "10.77.0.200"
)

var mac1, mac2 = net.HardwareAddr{2, 0, 0, 0, 1, 1}, net.HardwareAddr{2, 0, 0, 0, 1, 2}

// fixture is a portal on a real session table with two known clients.
type fixture struct {
	t      *testing.T
	s      *Server
	table  *session.Table
	signin *signin.Service
	now    time.Time
}

func newFixture(t *testing.T, edit ...func(*Config)) *fixture {
	t.Helper()
	st := new(storetest.Mem)
	table := session.New(session.Config{SessionTimeout: 2 * time.Hour}, st, slog.New(slog.DiscardHandler))
	book := voucher.New(st, voucher.Config{})
	si, err := signin.New(signin.Config{Methods: []session.Method{session.MethodClick}, Voucher: voucher.SpecDefaults()},
		signin.Options{Table: table, Store: st, Book: book})
	if err != nil {
		t.Fatal(err)
	}
	table.Watch(si.Watch)
	table.Seen(mac1, netip.MustParseAddr(ip1), "")
	table.Seen(mac2, netip.MustParseAddr(ip2), "")
	cfg := Config{
		Address: netip.MustParseAddr(portalAddr), Port: 2050, Hostname: "portal.lan", TLSPort: 8443,
		VenueName: "Café Test", Terms: "First rule.\n\n\tSecond rule,\n\tcontinued.", Table: table, SignIn: si,
	}
	for _, e := range edit {
		e(&cfg)
	}
	cfg.URLs = NewURLs(cfg.Address, cfg.Port, cfg.Hostname, cfg.TLSPort, cfg.TLS())
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, s: s, table: table, signin: si, now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	s.now = func() time.Time { return f.now }
	return f
}

// do sends a request from the client at ip and returns the response and its
// body.
func (f *fixture) do(method, target, ip string, body url.Values, hdr map[string]string) (*http.Response, string) {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(body.Encode())
	}
	req := httptest.NewRequest(method, target, rd)
	req.RemoteAddr = ip + ":40000"
	if req.Host == "example.com" { // httptest's default: a request to the portal
		req.Host = portalAddr + ":2050"
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.s.Handler().ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

var tokenRE = regexp.MustCompile(`name="token" value="([^"]*)"`)

// scrape returns the form token of a page.
func scrape(t *testing.T, page string) string {
	t.Helper()
	m := tokenRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no token in page:\n%s", page)
	}
	return m[1]
}

func (f *fixture) state(mac net.HardwareAddr) session.State { return f.table.StateOf(mac) }

func newRequest(method, target, ip string) *http.Request {
	req := httptest.NewRequest(method, target, nil)
	req.RemoteAddr = ip + ":40000"
	return req
}

func serve(s *Server, req *http.Request) *http.Response {
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec.Result()
}

// tlsState marks a request as having come over TLS.
var tlsState = tls.ConnectionState{HandshakeComplete: true}

// writeCert writes a fresh self-signed certificate for name and its key,
// and returns their paths.
func writeCert(t *testing.T, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}
