//go:build e2e

package main

// Helpers of the firewall's end-to-end tests: static client addresses,
// connections opened from inside a lab namespace, conntrack counts and
// snapshots of lobby's rules.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// fwClientIP is lab client k's static IPv4 address in these tests; DHCP is
// not what they test.
func fwClientIP(k int) string  { return fmt.Sprintf("10.77.0.%d", 10+k) }
func fwClientIP6(k int) string { return fmt.Sprintf("fd77::%d", 10+k) }

// fwStatic gives client k static IPv4 and IPv6 addresses and default
// routes through the router, and removes them when the test ends.
func fwStatic(t *testing.T, k int) {
	t.Helper()
	ns := clientNS(k)
	mustNS(t, ns, "ip", "addr", "replace", fwClientIP(k)+"/24", "dev", "eth0")
	mustNS(t, ns, "ip", "route", "replace", "default", "via", "10.77.0.1")
	mustNS(t, ns, "ip", "-6", "addr", "replace", fwClientIP6(k)+"/64", "dev", "eth0", "nodad")
	mustNS(t, ns, "ip", "-6", "route", "replace", "default", "via", "fd77::1")
	t.Cleanup(func() {
		inNS(t, ns, "ip", "addr", "flush", "dev", "eth0", "scope", "global")
		inNS(t, ns, "ip", "-4", "route", "flush", "dev", "eth0")
		inNS(t, ns, "ip", "-6", "route", "del", "default")
	})
}

// fwInNS runs fn on a thread inside network namespace ns: sockets it
// opens live there for good.
func fwInNS(ns string, fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("namespace %s: %w", ns, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		return errors.Join(ferr, err) // the thread stays locked and dies with the goroutine
	}
	runtime.UnlockOSThread()
	return ferr
}

// fwDial opens a connection from inside ns.
func fwDial(ns, network, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := fwInNS(ns, func() error {
		var err error
		c, err = net.DialTimeout(network, addr, timeout)
		return err
	})
	return c, err
}

// fwTCP tells how a TCP connection attempt from ns to addr ended:
// "connected", "refused" (a reset came back) or "no answer".
func fwTCP(t *testing.T, ns, addr string) string {
	t.Helper()
	c, err := fwDial(ns, "tcp", addr, 1500*time.Millisecond)
	switch {
	case err == nil:
		c.Close()
		return "connected"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, os.ErrDeadlineExceeded), strings.Contains(err.Error(), "timeout"):
		return "no answer"
	}
	t.Fatalf("connecting from %s to %s: %v", ns, addr, err)
	return ""
}

// fwSendUDP sends one datagram from ns to addr.
func fwSendUDP(t *testing.T, ns, addr string, payload []byte) {
	t.Helper()
	c, err := fwDial(ns, "udp", addr, time.Second)
	if err != nil {
		t.Fatalf("udp from %s to %s: %v", ns, addr, err)
	}
	defer c.Close()
	if _, err := c.Write(payload); err != nil {
		t.Fatalf("udp from %s to %s: %v", ns, addr, err)
	}
}

// fwCurl fetches url from ns and returns the body and curl's exit code
// (0 ok, 7 refused, 28 timed out).
func fwCurl(t *testing.T, ns string, extra ...string) (string, int) {
	t.Helper()
	args := append([]string{"curl", "--noproxy", "*", "-sk", "--max-time", "2"}, extra...)
	out, err := inNS(t, ns, args...)
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("curl in %s: %v", ns, err)
		}
		code = ee.ExitCode()
	}
	return out, code
}

const originMarker = "LOBBY-ORIGIN-OK"

// fwReachesOrigin reports whether client ns gets the origin's page over
// plain HTTP.
func fwReachesOrigin(t *testing.T, ns string) bool {
	t.Helper()
	body, _ := fwCurl(t, ns, "http://198.51.100.10/")
	return strings.Contains(body, originMarker)
}

// fwWaitOrigin waits up to 5 s for client ns to reach the origin (or to
// stop reaching it): a lease or a neighbour entry may still be settling.
func fwWaitOrigin(t *testing.T, ns string, want bool) bool {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if fwReachesOrigin(t, ns) == want {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// fwConntrack counts the router's conntrack entries that match the
// conntrack(8) filter args.
func fwConntrack(t *testing.T, args ...string) int {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", routerNS, "conntrack", "-L"}, args...)...)
	out, err := cmd.Output() // the summary line goes to stderr
	if err != nil {
		t.Fatalf("conntrack -L %v: %v", args, err)
	}
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if strings.TrimSpace(l) != "" {
			n++
		}
	}
	return n
}

// fwWaitConntrack waits up to 2 s for the entries matching args to go and
// returns how many are left.
func fwWaitConntrack(t *testing.T, args ...string) int {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		n := fwConntrack(t, args...)
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fwLegacyPath puts iptables-legacy and ip6tables-legacy first on PATH as
// iptables and ip6tables for this test (and the lobby it starts): the
// iptables backend is for kernels without nf_tables, where these are the
// binaries there are.
func fwLegacyPath(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"iptables", "ip6tables"} {
		target, err := exec.LookPath(name + "-legacy")
		if err != nil {
			t.Skipf("%s-legacy not installed", name)
		}
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

var fwCounters = regexp.MustCompile(`counter packets \d+ bytes \d+|expires \S+|\[\d+:\d+\]`)

// fwRules is everything of lobby's in the router's firewall, counters and
// expiry times blanked, lines sorted: "" when there is nothing.
func fwRules(t *testing.T, backend string) string {
	t.Helper()
	var lines []string
	switch backend {
	case "nftables":
		out, err := inNS(t, routerNS, "nft", "list", "table", "inet", "lobby")
		if err != nil {
			if strings.Contains(out, "No such file") {
				return ""
			}
			t.Fatalf("nft list table inet lobby: %v\n%s", err, out)
		}
		// Every table of ours: there must be no second one.
		tables := mustNS(t, routerNS, "nft", "list", "tables")
		lines = append(lines, "tables: "+strings.Join(strings.Fields(tables), " "))
		lines = append(lines, strings.Split(out, "\n")...)
	case "iptables":
		for _, cmd := range []string{"iptables-legacy-save", "ip6tables-legacy-save"} {
			out := mustNS(t, routerNS, cmd)
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, "LOBBY") || strings.Contains(l, "lobby_") {
					lines = append(lines, cmd+" "+l)
				}
			}
		}
		if out, err := inNS(t, routerNS, "ipset", "list", "-n"); err == nil {
			for _, s := range strings.Fields(out) {
				if strings.HasPrefix(s, "lobby_") {
					lines = append(lines, "ipset "+s)
				}
			}
		}
	default:
		t.Fatalf("backend %q", backend)
	}
	var keep []string
	for _, l := range lines {
		if l = strings.TrimSpace(fwCounters.ReplaceAllString(l, "")); l != "" {
			keep = append(keep, l)
		}
	}
	slices.Sort(keep)
	return strings.Join(keep, "\n")
}
