//go:build e2e

package main

import (
	"strings"
	"testing"
)

// After sign-in, a browser that still holds the hijacked answer (the
// portal address) must land on the site it meant, over HTTP and HTTPS
// (SPEC §3, After sign-in) — never "connection refused".
func TestRelayAfterSignIn(t *testing.T) {
	d := newDaemon(t)
	d.start()
	ns := clientNS(1)
	mustNS(t, ns, "ip", "addr", "add", "10.77.0.61/24", "dev", "eth0")
	mustNS(t, ns, "ip", "route", "replace", "default", "via", "10.77.0.1")
	t.Cleanup(func() { inNS(t, ns, "ip", "addr", "flush", "dev", "eth0") })

	curl := func(args ...string) string {
		out, _ := inNS(t, ns, append([]string{"curl", "-s", "-k", "--max-time", "5"}, args...)...)
		return out
	}
	httpViaPortal := []string{"-H", "Host: example.com", "http://10.77.0.1/page"}
	httpsViaPortal := []string{"--resolve", "example.com:443:10.77.0.1", "https://example.com/page"}

	// Before sign-in the portal address answers 511 and refuses HTTPS.
	if out := curl(append([]string{"-o", "/dev/null", "-w", "%{http_code}"}, httpViaPortal...)...); out != "511" {
		t.Errorf("preauth HTTP to the portal address: %q, want 511", out)
	}
	if out := curl(httpsViaPortal...); strings.Contains(out, "LOBBY-ORIGIN-OK") {
		t.Errorf("preauth HTTPS to the portal address reached the origin")
	}

	if _, errOut, code := d.ctl("auth", clientMAC(1)); code != 0 {
		t.Fatalf("auth: %s", errOut)
	}
	for name, args := range map[string][]string{"HTTP by Host": httpViaPortal, "HTTPS by SNI": httpsViaPortal} {
		out := curl(args...)
		if !strings.Contains(out, "LOBBY-ORIGIN-OK") || !strings.Contains(out, "host: example.com") {
			t.Errorf("%s through the portal address after sign-in: %q", name, out)
		}
	}

	// The relay never carries a client to the router itself.
	if out := curl("-H", "Host: 10.77.0.1:2050", "http://10.77.0.1/"); strings.Contains(out, "Café") || strings.Contains(out, "<form") {
		t.Errorf("the relay carried a client to the router's own portal: %q", out)
	}
}
