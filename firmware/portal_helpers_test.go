//go:build e2e

package main

// Helpers of the portal's end-to-end tests: static client addresses, curl
// from a client with the response's status and headers, and a throwaway
// certificate for the HTTPS portal.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ptPortal is the portal of the lab's default config.
const ptPortal = "http://10.77.0.1:2050"

// ptClientIP is lab client k's static address in these tests: DHCP is not
// what they test.
func ptClientIP(k int) string { return fmt.Sprintf("10.77.0.%d", 30+k) }

// ptStatic gives client k a static address and a default route, and makes
// sure the router has a neighbour entry for it, which is how the portal
// finds the MAC of a client that did not use lobby's DHCP.
func ptStatic(t *testing.T, k int) {
	t.Helper()
	ns := clientNS(k)
	mustNS(t, ns, "ip", "addr", "replace", ptClientIP(k)+"/24", "dev", "eth0")
	mustNS(t, ns, "ip", "route", "replace", "default", "via", "10.77.0.1")
	t.Cleanup(func() {
		inNS(t, ns, "ip", "addr", "flush", "dev", "eth0", "scope", "global")
		inNS(t, ns, "ip", "-4", "route", "flush", "dev", "eth0")
	})
	// The firewall may drop the ping itself; the ARP exchange before it is
	// what leaves the neighbour entry.
	inNS(t, ns, "ping", "-c", "1", "-W", "1", "10.77.0.1")
}

// ptResponse is what curl got.
type ptResponse struct {
	status int
	header http.Header
	body   string
}

// ptCurl runs curl in client k's namespace and parses the response; extra
// are curl arguments (the URL among them).
func ptCurl(t *testing.T, k int, extra ...string) ptResponse {
	t.Helper()
	hdrFile := filepath.Join(t.TempDir(), "headers")
	args := append([]string{"curl", "--noproxy", "*", "-s", "--max-time", "5", "-D", hdrFile}, extra...)
	body, err := inNS(t, clientNS(k), args...)
	if err != nil {
		t.Fatalf("curl %v from %s: %v\n%s", extra, clientNS(k), err, body)
	}
	raw, _ := os.ReadFile(hdrFile)
	r := ptResponse{header: http.Header{}, body: body}
	for _, line := range strings.Split(string(raw), "\r\n") {
		if strings.HasPrefix(line, "HTTP/") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				r.status, _ = strconv.Atoi(f[1])
			}
			r.header = http.Header{} // the last response's headers only
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			r.header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	return r
}

var ptTokenRE = regexp.MustCompile(`name="token" value="([^"]+)"`)

// ptToken scrapes the form token from a portal page.
func ptToken(t *testing.T, page string) string {
	t.Helper()
	m := ptTokenRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form token in the page:\n%s", page)
	}
	return m[1]
}

// ptState is client k's state as `lobby ctl clients` shows it.
func ptState(d *lobbyProc, k int) string {
	return d.clients()[clientMAC(k)].State
}

// ptCert writes a self-signed certificate for name and its key into dir.
func ptCert(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "portal.crt"), filepath.Join(dir, "portal.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
