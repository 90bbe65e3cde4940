package neigh

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

type seenTable struct {
	mu   sync.Mutex
	seen map[netip.Addr]string
}

func (s *seenTable) Seen(mac net.HardwareAddr, ip netip.Addr, _ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[ip] = mac.String()
}

func (s *seenTable) Seen6(mac net.HardwareAddr, ip netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[ip] = mac.String()
}

func (s *seenTable) set(ip netip.Addr, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[ip] = v
}

func (s *seenTable) Gone(ip netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[ip] = "gone"
}

func (s *seenTable) get(ip netip.Addr) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[ip]
}

// inFreshNetns runs the test in a new network namespace, as google/nftables'
// system tests do: the kernel is the fixture.
func inFreshNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	ns, err := netns.New()
	if err != nil {
		t.Skipf("cannot create a network namespace: %v", err)
	}
	t.Cleanup(func() {
		netns.Set(orig)
		ns.Close()
		orig.Close()
		runtime.UnlockOSThread()
	})
}

func TestTracker(t *testing.T) {
	inFreshNetns(t)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "lan0"}, PeerName: "peer0"}
	if err := netlink.LinkAdd(veth); err != nil {
		if errors.Is(err, syscall.ENOTSOCK) || errors.Is(err, syscall.EPROTONOSUPPORT) {
			t.Skipf("no route netlink here (qemu-user?): %v", err)
		}
		t.Fatal(err)
	}
	link, _ := netlink.LinkByName("lan0")
	netlink.LinkSetUp(link)
	addr, _ := netlink.ParseAddr("10.77.0.1/24")
	netlink.AddrAdd(link, addr)
	mac := func(s string) net.HardwareAddr { m, _ := net.ParseMAC(s); return m }
	add := func(ip, m string) {
		fam := netlink.FAMILY_V4
		if strings.Contains(ip, ":") {
			fam = netlink.FAMILY_V6
		}
		n := &netlink.Neigh{LinkIndex: link.Attrs().Index, Family: fam, State: netlink.NUD_PERMANENT,
			IP: net.ParseIP(ip), HardwareAddr: mac(m)}
		if err := netlink.NeighAdd(n); err != nil {
			t.Fatal(err)
		}
	}
	add("10.77.0.50", "02:00:00:00:01:01") // before the tracker starts: listed

	table := &seenTable{seen: map[netip.Addr]string{}}
	tr, err := New("lan0", table, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := New("nope0", table, nil); err == nil {
		t.Error("New on a missing interface succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	readyc := make(chan struct{})
	go func() { done <- tr.Run(ctx, func() { close(readyc) }) }()
	<-readyc
	add("10.77.0.51", "02:00:00:00:01:02") // after: reported as it comes
	add("fd77::51", "02:00:00:00:01:02")   // IPv6 too

	want := map[string]string{"10.77.0.50": "02:00:00:00:01:01", "10.77.0.51": "02:00:00:00:01:02", "fd77::51": "02:00:00:00:01:02"}
	deadline := time.Now().Add(5 * time.Second)
	for ip, m := range want {
		for table.get(netip.MustParseAddr(ip)) != m && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := table.get(netip.MustParseAddr(ip)); got != m {
			t.Errorf("%s seen as %q, want %q", ip, got, m)
		}
	}
	// Relearn reports a MAC's IPv6 entries again, and only that MAC's.
	add("fd77::50", "02:00:00:00:01:01")
	for _, ip := range []string{"fd77::50", "fd77::51"} {
		for table.get(netip.MustParseAddr(ip)) == "" && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		table.set(netip.MustParseAddr(ip), "forgotten")
	}
	tr.Relearn(mac("02:00:00:00:01:02"))
	for table.get(netip.MustParseAddr("fd77::51")) == "forgotten" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := table.get(netip.MustParseAddr("fd77::51")); got != "02:00:00:00:01:02" {
		t.Errorf("after Relearn, fd77::51 seen as %q", got)
	}
	if got := table.get(netip.MustParseAddr("fd77::50")); got != "forgotten" {
		t.Errorf("Relearn of another MAC reported fd77::50 (%q)", got)
	}
	if m, ok := tr.Resolve(netip.MustParseAddr("10.77.0.51")); !ok || m.String() != want["10.77.0.51"] {
		t.Errorf("Resolve = %v, %v", m, ok)
	}
	if _, ok := tr.Resolve(netip.MustParseAddr("10.77.0.99")); ok {
		t.Error("Resolve found an address with no neighbour entry")
	}
	// An entry deleted is reported gone.
	gone := &netlink.Neigh{LinkIndex: link.Attrs().Index, Family: netlink.FAMILY_V4, IP: net.ParseIP("10.77.0.51")}
	if err := netlink.NeighDel(gone); err != nil {
		t.Fatal(err)
	}
	for table.get(netip.MustParseAddr("10.77.0.51")) != "gone" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := table.get(netip.MustParseAddr("10.77.0.51")); got != "gone" {
		t.Errorf("deleted entry 10.77.0.51: the table has %q, want it gone", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
