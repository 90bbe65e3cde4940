//go:build e2e

package main

import (
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadAppliesEverything changes options of every subsystem in a
// running lobby, sends one SIGHUP, and observes each change from the lab's
// clients: the hostname (DNS, the portal's URLs and DHCP option 114 at
// once), allow_address (firewall and responder), probe_redirect, the DHCP
// pool, venue_name and terms, and HTTPS turned on with new TLS files. A
// restart option changed in the same file is named in the log and keeps its
// running value.
func TestReloadAppliesEverything(t *testing.T) {
	d := newDaemon(t)
	pool := func(start string) string {
		return "\nconfig dhcp 'dhcp'\n\toption start '" + start + "'\n\toption limit '10'\n\toption leasetime '2h'\n"
	}
	d.writeConfig(baseConfig(d.dir) + pool("100"))
	d.start()
	respStatic(t, 1) // preauth, static: 10.77.0.21
	probe := []string{"--resolve", "detect.example.net:80:198.51.100.10", "http://detect.example.net/check"}

	// Before: the old pool, no garden, the probe gets the 511, the
	// hostname is portal.lan.
	l, err := udhcpcOnce(t, clientNS(2))
	if err != nil || !inLastOctets(l["ip"], 100, 109) {
		t.Fatalf("lease before the reload: %v %v", l["ip"], err)
	}
	flushClient(clientNS(2))
	if r, err := respCurl(t, 1, probe...); err != nil || !strings.Contains(r.status, " 511 ") {
		t.Fatalf("probe before the reload: %q %v", r.status, err)
	}
	if fwReachesOrigin(t, clientNS(1)) {
		t.Fatal("a preauth client reaches the origin before allow_address")
	}
	if r := dig(t, 1, "@10.77.0.1", "guest.example", "A"); len(r.answer) != 1 || r.answer[0].ttl != 0 {
		t.Fatalf("guest.example before the reload is not just hijacked: %v", r.raw)
	}

	cert, key := ptCert(t, d.dir, "guest.example")
	d.writeConfig(baseConfig(d.dir,
		"option hostname 'guest.example'",
		"option venue_name 'Reloaded Café'",
		"option terms 'Terms after the reload.'",
		"list allow_address '198.51.100.10'",
		"list probe_redirect 'detect.example.net/check'",
		"option tls_cert '"+cert+"'", "option tls_key '"+key+"'", "option tls_port '8443'",
		"option port '3050'", // needs a restart: named, not applied
	) + pool("200"))
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, d, "reload: config applied")

	if log := d.logText(); !strings.Contains(log, "take effect at the next restart") || !strings.Contains(log, "lobby.port") {
		t.Errorf("the changed port was not named as needing a restart")
	}
	// Walled garden by address: firewall and responder both.
	if !fwWaitOrigin(t, clientNS(1), true) {
		t.Error("allow_address not applied: the preauth client does not reach 198.51.100.10")
	}
	// The probe list: the new probe gets a 302 to the portal, still on
	// the running port.
	if r, err := respCurl(t, 1, append([]string{"--resolve", "detect.example.net:80:198.51.100.11"}, "http://detect.example.net/check")...); err != nil ||
		!strings.Contains(r.status, " 302 ") || !strings.HasPrefix(r.fields["Location"], "http://10.77.0.1:2050/?redir=") {
		t.Errorf("probe after the reload: %q %v %v", r.status, r.fields["Location"], err)
	}
	// The hostname in DNS: answered as the portal's name (TTL 60), not
	// hijacked (TTL 0).
	if r := dig(t, 1, "@10.77.0.1", "guest.example", "A"); len(r.answer) != 1 || r.answer[0].ttl == 0 || r.answer[0].data != "10.77.0.1" {
		t.Errorf("guest.example after the reload: %v", r.raw)
	}
	// The pool and option 114 with the new hostname.
	l, err = udhcpcOnce(t, clientNS(2), "-O", "114")
	if err != nil || !inLastOctets(l["ip"], 200, 209) {
		t.Errorf("lease after the reload: %v %v", l["ip"], err)
	}
	if b, _ := hex.DecodeString(l["opt114"]); string(b) != "https://guest.example:8443/api/captive" {
		t.Errorf("option 114 after the reload: %q (%q)", b, l["opt114"])
	}
	flushClient(clientNS(2))
	// The texts, and HTTPS with the new files, advertised under the new
	// hostname.
	page := ptCurl(t, 1, "http://10.77.0.1:2050/")
	if !strings.Contains(page.body, "Reloaded Café") || !strings.Contains(page.body, "Terms after the reload.") {
		t.Errorf("sign-in page after the reload:\n%.400s", page.body)
	}
	r := ptCurl(t, 1, "--cacert", cert, "--resolve", "guest.example:8443:10.77.0.1", "https://guest.example:8443/api/captive")
	var c ptCaptive
	if err := json.Unmarshal([]byte(r.body), &c); err != nil || r.status != 200 || c.UserPortalURL != "https://guest.example:8443/" {
		t.Errorf("captive API over the new HTTPS: %d %v %+v", r.status, err, c)
	}
}

// waitLog waits up to 5 s for text in lobby's log.
func waitLog(t *testing.T, d *lobbyProc, text string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(d.logText(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in lobby's log", text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// inLastOctets reports whether ip is 10.77.0.lo … 10.77.0.hi.
func inLastOctets(ip string, lo, hi byte) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() {
		return false
	}
	b := a.As4()
	return b[0] == 10 && b[1] == 77 && b[2] == 0 && b[3] >= lo && b[3] <= hi
}
