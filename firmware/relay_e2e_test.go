//go:build e2e

package main

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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

// relayTarget listens on addr inside namespace ns and counts the
// connections it accepts, answering each with a marker: a host that the
// relay must never reach.
func relayTarget(t *testing.T, ns, addr string) *atomic.Int32 {
	t.Helper()
	var l net.Listener
	if err := fwInNS(ns, func() (err error) {
		l, err = net.Listen("tcp4", addr)
		return err
	}); err != nil {
		t.Fatalf("listening on %s in %s: %v", addr, ns, err)
	}
	t.Cleanup(func() { l.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			// Read the request head first: closing with it unread would
			// reset the connection, and the client could lose the answer.
			c.SetDeadline(time.Now().Add(3 * time.Second))
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil || line == "\r\n" || line == "\n" {
					break
				}
			}
			io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nLOBBY-PRIVATE-HOST "+addr+"\n")
			c.Close()
		}
	}()
	return &n
}

// The relay is no way into the venue's networks (SPEC §3, After sign-in):
// a signed-in guest who names, in the Host header or the SNI, a host on a
// network attached to the router — by a name that resolves there, by its
// address, with any port — or the router's own addresses, added after
// lobby started or not, gets nothing; public sites are still relayed on
// 80 and 443.
func TestRelayDestinations(t *testing.T) {
	d := newDaemon(t)
	d.start()
	ns := clientNS(1)
	mustNS(t, ns, "ip", "addr", "add", "10.77.0.62/24", "dev", "eth0")
	mustNS(t, ns, "ip", "route", "replace", "default", "via", "10.77.0.1")
	t.Cleanup(func() { inNS(t, ns, "ip", "addr", "flush", "dev", "eth0") })
	// Signed in by its address, which it makes known first: the router's
	// neighbour table may still hold an address an earlier test gave the
	// same MAC, and a session is bound to one address (SPEC §3, Firewall).
	inNS(t, ns, "ping", "-c", "1", "-W", "1", "10.77.0.1")
	if _, errOut, code := d.ctl("auth", "10.77.0.62"); code != 0 {
		t.Fatalf("auth: %s", errOut)
	}

	// After lobby started: a private network (and a public one, as a
	// venue with addresses of its own has) attached to the router, with a
	// host on it; and an address more on the router's WAN and LAN sides.
	priv := labPrefix + "-priv"
	exec.Command("ip", "netns", "del", priv).Run()
	if out, err := exec.Command("ip", "netns", "add", priv).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", priv, err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", priv).Run() })
	mustNS(t, routerNS, "ip", "link", "add", "priv0", "type", "veth", "peer", "name", "eth0", "netns", priv)
	mustNS(t, routerNS, "ip", "addr", "add", "192.168.1.1/24", "dev", "priv0")
	mustNS(t, routerNS, "ip", "addr", "add", "203.0.113.1/24", "dev", "priv0")
	mustNS(t, routerNS, "ip", "link", "set", "priv0", "up")
	mustNS(t, priv, "ip", "link", "set", "lo", "up")
	mustNS(t, priv, "ip", "addr", "add", "192.168.1.50/24", "dev", "eth0")
	mustNS(t, priv, "ip", "addr", "add", "203.0.113.50/24", "dev", "eth0")
	mustNS(t, priv, "ip", "link", "set", "eth0", "up")
	mustNS(t, priv, "ip", "route", "add", "default", "via", "192.168.1.1")
	mustNS(t, routerNS, "ip", "addr", "add", "192.0.2.2/32", "dev", "wan")
	mustNS(t, routerNS, "ip", "addr", "add", "172.16.77.1/24", "dev", lanIface)
	t.Cleanup(func() {
		inNS(t, routerNS, "ip", "addr", "del", "192.0.2.2/32", "dev", "wan")
		inNS(t, routerNS, "ip", "addr", "del", "172.16.77.1/24", "dev", lanIface)
	})
	reached := map[string]*atomic.Int32{}
	for _, a := range []string{"192.168.1.50:80", "192.168.1.50:5000", "192.168.1.50:22", "203.0.113.50:80"} {
		reached[a] = relayTarget(t, priv, a)
	}
	for _, a := range []string{"192.0.2.2:80", "172.16.77.1:80", "10.77.0.1:80", "192.0.2.1:80"} {
		reached[a] = relayTarget(t, routerNS, a)
	}
	// The router itself reaches the host (so the relay could, but for
	// its rules).
	if out := mustNS(t, routerNS, "curl", "-s", "--max-time", "3", "http://192.168.1.50:5000/"); !strings.Contains(out, "LOBBY-PRIVATE-HOST") {
		t.Fatalf("the router cannot reach the private host: %q", out)
	}
	reached["192.168.1.50:5000"].Store(0)

	curl := func(args ...string) string {
		out, _ := inNS(t, ns, append([]string{"curl", "-s", "-k", "--max-time", "5"}, args...)...)
		return out
	}
	for _, host := range []string{
		"192-168-1-50.ip.test",      // a name that resolves into the private network
		"192-168-1-50.ip.test:5000", // ... with a port
		"192-168-1-50.ip.test:80",
		"192.168.1.50",            // its address
		"192.168.1.50:5000",       // ... with a port
		"203-0-113-50.ip.test",    // a public network attached to the router
		"192-0-2-2.ip.test",       // the router's WAN address added after start
		"192.0.2.2",               // ... as an address
		"192-0-2-1.ip.test",       // the router's WAN address
		"172-16-77-1.ip.test",     // the router's LAN address added after start
		"10-77-0-1.ip.test",       // the router's portal address
		"10.77.0.1:2050",          // the portal itself
		"198.51.100.10:8080",      // a public address, another port
		"example.com:5000",        // a public name, another port
		"127-0-0-1.ip.test",       // loopback
		"169-254-169-254.ip.test", // link-local (cloud metadata)
		"100-64-0-1.ip.test",      // shared address space
	} {
		if out := curl("-H", "Host: "+host, "http://10.77.0.1/"); out != "" {
			t.Errorf("Host %s was relayed: %q", host, out)
		}
	}
	// An SNI with a port (no TLS client sends one; an attacker can).
	for _, sni := range []string{"192-168-1-50.ip.test:22", "192-168-1-50.ip.test", "example.com:22"} {
		c, err := fwDial(ns, "tcp4", "10.77.0.1:443", 3*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		err = tls.Client(c, &tls.Config{ServerName: sni, InsecureSkipVerify: true}).Handshake()
		c.Close()
		if err == nil {
			t.Errorf("SNI %s: a TLS handshake completed through the relay", sni)
		}
	}
	for a, n := range reached {
		if n.Load() != 0 {
			t.Errorf("%s was reached %d times through the relay", a, n.Load())
		}
	}

	// Public sites still relay, by name or address, on 80 and 443.
	for _, host := range []string{"example.com", "198-51-100-10.ip.test", "198.51.100.10", "example.com:80"} {
		if out := curl("-H", "Host: "+host, "http://10.77.0.1/page"); !strings.Contains(out, "LOBBY-ORIGIN-OK") {
			t.Errorf("Host %s through the relay: %q", host, out)
		}
	}
	if out := curl("--resolve", "example.com:443:10.77.0.1", "https://example.com/page"); !strings.Contains(out, "LOBBY-ORIGIN-OK") {
		t.Errorf("HTTPS to example.com through the relay: %q", out)
	}
}
