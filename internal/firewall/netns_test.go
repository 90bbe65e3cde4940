package firewall

import (
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/lobby-fw/lobby/internal/config"
	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/store/storetest"
	"github.com/vishvananda/netns"
)

// inNetNS moves the calling goroutine, locked to its thread, into a fresh
// network namespace for the rest of the test, as google/nftables' nftest
// does: the real kernel is the fixture, and nothing leaks into the host's
// namespace. Commands the test runs (nft, iptables) inherit the thread's
// namespace. It returns the namespace's fd; it skips without root.
func inNetNS(t testing.TB) int {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace")
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("netns.Get: %v", err)
	}
	ns, err := netns.New()
	if err != nil {
		orig.Close()
		runtime.UnlockOSThread()
		t.Skipf("cannot create a network namespace: %v", err)
	}
	t.Cleanup(func() {
		if err := netns.Set(orig); err != nil {
			t.Errorf("back to the original namespace: %v", err)
			return // leave the thread locked: the runtime discards it
		}
		ns.Close()
		orig.Close()
		runtime.UnlockOSThread()
	})
	return int(ns)
}

// run runs a command in the test's namespace and returns its output.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed", name)
	}
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testConfig is a config like the lab's.
func testConfig(backend string, extra func(*config.Main)) *config.Config {
	c := &config.Config{Main: config.Main{
		Interface: "lan0", Address: netip.MustParseAddr("10.77.0.1"),
		Subnet: netip.MustParsePrefix("10.77.0.0/24"), Port: 2050, TLSPort: 8443, Firewall: backend,
	}}
	if extra != nil {
		extra(&c.Main)
	}
	return c
}

// fw is what firmware/derive.go makes of c for the firewall.
func fw(c *config.Config) Config {
	m := &c.Main
	cfg := Config{Backend: m.Firewall, Interface: m.Interface, Address: m.Address, Ports: []uint16{m.Port}, AllowAddress: m.AllowAddress}
	if m.TLS() && m.TLSPort != m.Port {
		cfg.Ports = append(cfg.Ports, m.TLSPort)
	}
	cfg.RelayHTTP, cfg.RelayTLS = m.RelayPorts()
	cfg.DNSRedirect = m.DNSRedirectPort()
	return cfg
}

func newTable(t *testing.T, st *storetest.Mem, cfg *config.Config) *session.Table {
	t.Helper()
	return session.New(session.Config{TrustedMAC: cfg.Main.TrustedMAC, BlockedMAC: cfg.Main.BlockedMAC}, st, quietLog())
}
