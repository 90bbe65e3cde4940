package shaper

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/netnstest"
	"github.com/vishvananda/netlink"
)

// inNetNS moves the test into a fresh network namespace (netnstest.New).
func inNetNS(t testing.TB) int { return netnstest.New(t) }

// addVeth makes the veth pair lan0 (the shaper's LAN interface) and cli0,
// both up, in the current namespace.
func addVeth(t testing.TB) {
	t.Helper()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = "lan0"
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: "cli0"}); err != nil {
		skipWithoutNetlink(t, err)
		t.Fatalf("add veth: %v", err)
	}
	for _, n := range []string{"lan0", "cli0", "lo"} {
		l, err := netlink.LinkByName(n)
		if err != nil {
			t.Fatal(err)
		}
		if err := netlink.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
}

// tc runs tc in the test's namespace and returns its output.
func tc(t testing.TB, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("tc"); err != nil {
		t.Skip("tc not installed (iproute2)")
	}
	out, err := exec.Command("tc", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("tc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// running starts s.Run and waits until it is ready; the returned function
// stops it and returns Run's error.
func running(t testing.TB, s *Shaper) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("Run: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("Run not ready after 30 s")
	}
	var stopped bool
	var runErr error
	stop := func() error {
		if !stopped {
			stopped = true
			cancel()
			runErr = <-done
		}
		return runErr
	}
	t.Cleanup(func() { stop() })
	return stop
}

// skipWithoutNetlink skips a test whose netlink request failed as it does
// under qemu-user (scripts/cross-check.sh on big-endian MIPS), which passes
// route netlink dumps through but not requests: the plan's tests run
// there, the kernel's skip.
func skipWithoutNetlink(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, syscall.ENOTSOCK) || errors.Is(err, syscall.EPROTONOSUPPORT) {
		t.Skipf("no route netlink here (qemu-user?): %v", err)
	}
}
