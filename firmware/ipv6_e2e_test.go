//go:build e2e

package main

// Option ipv6 '1', end to end, on both firewall backends: a signed-in
// client's IPv6 is forwarded from the addresses learned for its MAC,
// counted both ways, and a quota is used up over IPv6. With ipv6 '0'
// (the default) TestFirewall shows that no IPv6 of a signed-in client
// passes.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// origin6 is the lab internet's IPv6 origin.
const origin6 = "2001:db8:100::10"

func TestIPv6(t *testing.T) {
	for _, backend := range []string{"nftables", "iptables"} {
		t.Run(backend, func(t *testing.T) {
			if backend == "iptables" {
				fwLegacyPath(t)
			}
			testIPv6(t, backend)
		})
	}
}

// bulk6 listens on the lab internet's IPv6 origin: a client sends a
// decimal count and a newline, then either gets that many bytes ("get")
// or sends them ("put"). It returns the listener's address.
func bulk6(t *testing.T) string {
	t.Helper()
	var ln net.Listener
	if err := fwInNS(inetNS, func() error {
		var err error
		ln, err = net.Listen("tcp", "["+origin6+"]:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				br := bufio.NewReader(c)
				line, err := br.ReadString('\n')
				if err != nil {
					return
				}
				verb, count, _ := strings.Cut(strings.TrimSpace(line), " ")
				n, _ := strconv.ParseInt(count, 10, 64)
				if verb == "get" {
					io.CopyN(c, zeros{}, n)
				} else {
					io.CopyN(io.Discard, br, n)
					c.Write([]byte("ok\n"))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// transfer6 moves n bytes between client ns and bulk6 at addr over IPv6
// (verb "get": download, "put": upload) and returns how many arrived,
// within 15 s.
func transfer6(ns, addr, verb string, n int64) (int64, error) {
	c, err := fwDial(ns, "tcp", addr, 3*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := fmt.Fprintf(c, "%s %d\n", verb, n); err != nil {
		return 0, err
	}
	if verb == "get" {
		return io.Copy(io.Discard, c)
	}
	sent, err := io.CopyN(c, zeros{}, n)
	if err != nil {
		return sent, err
	}
	ack, err := bufio.NewReader(c).ReadString('\n')
	if ack != "ok\n" {
		return sent, fmt.Errorf("no acknowledgement of the upload: %q %v", ack, err)
	}
	return sent, nil
}

// reaches6 waits up to wait for client ns to reach (or stop reaching) the
// origin over IPv6.
func reaches6(t *testing.T, ns string, want bool, wait time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		body, _ := fwCurl(t, ns, "-6", "http://["+origin6+"]/")
		if strings.Contains(body, originMarker) == want {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func testIPv6(t *testing.T, backend string) {
	fwStatic(t, 1)
	fwStatic(t, 3)
	c1, c3 := clientNS(1), clientNS(3)
	mac := clientMAC(1)
	bulk := bulk6(t)
	d := newDaemon(t, "option firewall '"+backend+"'", "option ipv6 '1'")
	d.start()

	t.Run("preauth gets no IPv6", func(t *testing.T) {
		if !reaches6(t, c1, false, 0) {
			t.Errorf("a preauth client reached the origin over IPv6")
		}
		if n, err := transfer6(c1, bulk, "get", 1000); err == nil || n > 0 {
			t.Errorf("a preauth client downloaded %d bytes over IPv6", n)
		}
	})

	t.Run("signed in: IPv6 passes and counts both ways", func(t *testing.T) {
		// The session is bound to the IPv4 address the client is seen at
		// (SPEC §3, Firewall): it says where it is first.
		inNS(t, c1, "ping", "-c", "1", "-W", "1", "10.77.0.1")
		if _, errOut, code := d.ctl("auth", mac); code != 0 {
			t.Fatalf("ctl auth: %s", errOut)
		}
		if c := d.clients()[mac]; c.IP != fwClientIP(1) {
			t.Fatalf("signed in at %q, want %s", c.IP, fwClientIP(1))
		}
		if !reaches6(t, c1, true, 10*time.Second) {
			rn, _ := inNS(t, routerNS, "ip", "-6", "neigh")
			cn, _ := inNS(t, c1, "ip", "-6", "neigh")
			t.Fatalf("signed in with option ipv6, the client does not reach http://[%s]/; ctl clients: %+v\nrouter's neighbours:\n%s\nclient's:\n%s\nrules:\n%s", origin6, d.clients()[mac], rn, cn, fwRules(t, backend))
		}
		if out, err := inNS(t, c1, "ping", "-6", "-c", "1", "-W", "2", origin6); err != nil {
			t.Errorf("signed in, ping -6 of the origin: %v\n%s", err, out)
		}
		if c := d.clients()[mac]; !slices.Contains(c.IPv6, fwClientIP6(1)) {
			t.Errorf("ctl clients: IPv6 %v, want %s among them", c.IPv6, fwClientIP6(1))
		}

		// 2 MB each way over IPv6 alone; both totals must grow by at
		// least that within the firewall's counter reading.
		before := d.clients()[mac]
		const n = 2_000_000
		if got, err := transfer6(c1, bulk, "get", n); err != nil || got != n {
			t.Fatalf("download over IPv6: %d bytes, %v", got, err)
		}
		if got, err := transfer6(c1, bulk, "put", n); err != nil || got != n {
			t.Fatalf("upload over IPv6: %d bytes, %v", got, err)
		}
		var c ctlClient
		deadline := time.Now().Add(12 * time.Second)
		for {
			c = d.clients()[mac]
			if c.BytesDown-before.BytesDown >= n && c.BytesUp-before.BytesUp >= n || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Logf("counted over IPv6: %d up, %d down", c.BytesUp-before.BytesUp, c.BytesDown-before.BytesDown)
		if c.BytesDown-before.BytesDown < n || c.BytesUp-before.BytesUp < n {
			t.Errorf("after %d bytes each way over IPv6, ctl clients counted %d up, %d down", n, c.BytesUp-before.BytesUp, c.BytesDown-before.BytesDown)
		}
	})

	// SPEC §3, Firewall: a copy of the MAC from another IPv4 address gets
	// no IPv4. (Its own IPv6 addresses are learned for the session: the
	// trade-off of option ipv6, docs/firewall.md.)
	t.Run("a copied MAC at another IPv4 address gets no IPv4", func(t *testing.T) {
		mustNS(t, c3, "ip", "link", "set", "eth0", "address", mac)
		defer mustNS(t, c3, "ip", "link", "set", "eth0", "address", clientMAC(3))
		for range 3 {
			inNS(t, c3, "ping", "-c", "1", "-W", "1", "10.77.0.1")
		}
		if fwReachesOrigin(t, c3) {
			t.Errorf("the copy of a signed-in MAC from %s reached the origin over IPv4", fwClientIP(3))
		}
		if _, err := inNS(t, c3, "ping", "-c", "1", "-W", "1", "198.51.100.10"); err == nil {
			t.Errorf("the copy's IPv4 ping was forwarded")
		}
		if c := d.clients()[mac]; c.IP != fwClientIP(1) || c.State != "authenticated" {
			t.Errorf("the session moved: ctl clients shows %s %s", c.IP, c.State)
		}
		if !fwReachesOrigin(t, c1) || !reaches6(t, c1, true, 0) {
			t.Errorf("with a copy on the LAN, the signed-in client lost the origin")
		}
	})

	t.Run("deauth stops IPv6", func(t *testing.T) {
		if _, errOut, code := d.ctl("deauth", mac); code != 0 {
			t.Fatalf("ctl deauth: %s", errOut)
		}
		if !reaches6(t, c1, false, 3*time.Second) {
			t.Errorf("after ctl deauth the client still reaches the origin over IPv6")
		}
		if c := d.clients()[mac]; len(c.IPv6) != 0 {
			t.Errorf("after ctl deauth, ctl clients still shows IPv6 %v", c.IPv6)
		}
	})

	// SPEC §3, Limits: the quota counts both families. A download over
	// IPv6 alone uses it up.
	t.Run("a quota is used up over IPv6", func(t *testing.T) {
		if _, errOut, code := d.ctl("auth", mac); code != 0 {
			t.Fatalf("ctl auth: %s", errOut)
		}
		const quota = 3_000_000
		if _, errOut, code := d.ctl("limit", mac, "quota=3MB"); code != 0 {
			t.Fatalf("ctl limit: %s", errOut)
		}
		if !reaches6(t, c1, true, 10*time.Second) {
			t.Fatalf("signed in again, the client does not reach the origin over IPv6")
		}
		start := time.Now()
		got, err := transfer6(c1, bulk, "get", 2*quota)
		took := time.Since(start)
		deadline := time.Now().Add(6 * time.Second)
		for ptState(d, 1) == "authenticated" && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
		}
		c := d.clients()[mac]
		t.Logf("downloaded %d bytes over IPv6 in %v (%v); signed out %v after, at %d bytes", got, took, err, time.Since(start)-took, c.BytesUp+c.BytesDown)
		if c.State != "preauth" {
			t.Fatalf("after %d bytes over IPv6 with a quota of %d: %+v", got, quota, c)
		}
		log := d.logText()
		if !strings.Contains(log, `msg="client signed out" mac=`+mac) || !strings.Contains(log, "reason=quota") {
			t.Errorf("no sign-out with reason quota in the log")
		}
		if c.Ended != "quota" {
			t.Errorf("ctl clients: ended %q, want quota", c.Ended)
		}
		if body, _ := fwCurl(t, c1, "http://10.77.0.1:2050/"); !strings.Contains(body, "data allowance is used up") {
			t.Errorf("the portal does not say the data allowance is used up:\n%s", body)
		}
		if !reaches6(t, c1, false, 3*time.Second) {
			t.Errorf("signed out by quota, the client still reaches the origin over IPv6")
		}
	})

	// A reload applies option ipv6 to the clients signed in: off drops
	// their IPv6 elements, on learns their addresses again.
	t.Run("a reload turns it off and on", func(t *testing.T) {
		if _, errOut, code := d.ctl("auth", mac); code != 0 {
			t.Fatalf("ctl auth: %s", errOut)
		}
		if !reaches6(t, c1, true, 10*time.Second) {
			t.Fatalf("signed in, the client does not reach the origin over IPv6")
		}
		reload := func(n int, on string) {
			d.writeConfig(baseConfig(d.dir, "option firewall '"+backend+"'", "option ipv6 '"+on+"'"))
			d.cmd.Process.Signal(syscall.SIGHUP)
			deadline := time.Now().Add(5 * time.Second)
			for strings.Count(d.logText(), "reload: config applied") < n && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
			}
		}
		reload(1, "0")
		if !reaches6(t, c1, false, 3*time.Second) {
			t.Errorf("after a reload with ipv6 '0' the client still reaches the origin over IPv6")
		}
		if c := d.clients()[mac]; len(c.IPv6) != 0 || c.State != "authenticated" || !fwReachesOrigin(t, c1) {
			t.Errorf("after a reload with ipv6 '0': IPv6 %v, state %s (want none, still signed in over IPv4)", c.IPv6, c.State)
		}
		reload(2, "1")
		if !reaches6(t, c1, true, 10*time.Second) {
			t.Errorf("after a reload with ipv6 '1' the client does not reach the origin over IPv6")
		}
	})

	// The IPv6 sets, ipsets and chains go with the rest: nothing is left
	// for the next backend to trip over.
	t.Run("SIGTERM removes every rule", func(t *testing.T) {
		if code := d.stop(syscall.SIGTERM); code != 0 {
			t.Errorf("exit %d after SIGTERM", code)
		}
		if got := fwRules(t, backend); got != "" {
			t.Errorf("rules left after a clean stop:\n%s", got)
		}
	})
}
