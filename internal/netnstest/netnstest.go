// Package netnstest gives a test a fresh network namespace, as
// google/nftables' nftest does: the real kernel is the fixture and nothing
// leaks into the host's namespace. Only tests import it.
package netnstest

import (
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netns"
)

// New moves the calling goroutine, locked to its thread, into a fresh
// network namespace for the rest of the test; commands the test runs (nft,
// iptables, tc) inherit the thread's namespace. It returns the namespace's
// fd, and skips without root or where namespaces cannot be made.
func New(t testing.TB) int {
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
