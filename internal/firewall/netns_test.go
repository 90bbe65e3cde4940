package firewall

import (
	"io"
	"log/slog"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/lobby-fw/lobby/internal/config"
	"github.com/lobby-fw/lobby/internal/netnstest"
	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/store/storetest"
)

// inNetNS moves the test into a fresh network namespace (netnstest.New).
func inNetNS(t testing.TB) int { return netnstest.New(t) }

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
