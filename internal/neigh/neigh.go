// Package neigh follows the kernel's neighbour table (ARP, and IPv6
// neighbour discovery) on the LAN interface, so that the client table
// knows the MAC behind every address: also for clients that never used
// Lobby's DHCP server and set their address by hand.
package neigh

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Table is what the tracker tells: the session table.
type Table interface {
	// Seen: a live entry names mac for ip.
	Seen(mac net.HardwareAddr, ip netip.Addr, hostname string)
	// Gone: ip has no live entry any more (it failed or was deleted), so
	// whoever had it is not known to answer there now.
	Gone(ip netip.Addr)
	// Seen6: a live entry names mac for IPv6 address ip (global or
	// unique-local; the table ignores the others).
	Seen6(mac net.HardwareAddr, ip netip.Addr)
}

// Tracker follows the neighbour table of one interface.
type Tracker struct {
	ifindex int
	table   Table
	log     *slog.Logger
	// The network namespace New ran in, and a netlink handle bound to it:
	// goroutines may run on threads of other namespaces (tests do this).
	ns     netns.NsHandle
	handle *netlink.Handle

	// relearn holds the MACs whose IPv6 entries Relearn asked for; wake
	// tells the running tracker there are some.
	relearnMu sync.Mutex
	relearn   map[string]bool
	wake      chan struct{}
}

// New returns a tracker for the named interface of the calling thread's
// network namespace. Close releases it.
func New(iface string, table Table, log *slog.Logger) (*Tracker, error) {
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("neighbours: %w", err)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE) // route only: no xfrm module needed
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("neighbours: netlink: %w", err)
	}
	link, err := h.LinkByName(iface)
	if err != nil {
		h.Close()
		ns.Close()
		return nil, fmt.Errorf("neighbours: interface %s: %w", iface, err)
	}
	return &Tracker{ifindex: link.Attrs().Index, table: table, log: log, ns: ns, handle: h,
		relearn: map[string]bool{}, wake: make(chan struct{}, 1)}, nil
}

// Close releases the tracker's netlink handle.
func (t *Tracker) Close() {
	t.handle.Close()
	t.ns.Close()
}

// ours returns the IPv4 address of an entry of the tracked interface.
func (t *Tracker) ours(n *netlink.Neigh) (netip.Addr, bool) {
	return t.oursIn(n, unix.AF_INET)
}

// oursIn returns the address of an entry of family fam on the tracked
// interface.
func (t *Tracker) oursIn(n *netlink.Neigh, fam int) (netip.Addr, bool) {
	if n.LinkIndex != t.ifindex || n.Family != fam {
		return netip.Addr{}, false
	}
	ip, ok := netip.AddrFromSlice(n.IP)
	if fam == unix.AF_INET {
		ip = ip.Unmap()
	}
	return ip, ok
}

// usable reports whether a neighbour entry names a live client: a
// resolved IPv4 address with an Ethernet MAC.
func (t *Tracker) usable(n *netlink.Neigh) (net.HardwareAddr, netip.Addr, bool) {
	return t.usableIn(n, unix.AF_INET)
}

// usableIn is usable for family fam.
func (t *Tracker) usableIn(n *netlink.Neigh, fam int) (net.HardwareAddr, netip.Addr, bool) {
	const live = unix.NUD_REACHABLE | unix.NUD_STALE | unix.NUD_DELAY | unix.NUD_PROBE | unix.NUD_PERMANENT
	ip, ok := t.oursIn(n, fam)
	if !ok || len(n.HardwareAddr) != 6 || n.State&live == 0 {
		return nil, netip.Addr{}, false
	}
	return n.HardwareAddr, ip, true
}

// Relearn asks the running tracker to report mac's live IPv6 entries to
// the table again (Seen6). The table learns a client's IPv6 addresses only
// once it is signed in (or trusted), and an entry the kernel made before
// that sends no new event while nothing is forwarded to it. It does not
// block: the session table's watcher calls it.
func (t *Tracker) Relearn(mac net.HardwareAddr) {
	t.relearnMu.Lock()
	t.relearn[string(mac)] = true
	t.relearnMu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// relearnNow reports the IPv6 entries of the MACs Relearn asked for: one
// listing of the table for all of them.
func (t *Tracker) relearnNow() {
	t.relearnMu.Lock()
	macs := t.relearn
	t.relearn = map[string]bool{}
	t.relearnMu.Unlock()
	if len(macs) == 0 {
		return
	}
	neighs, err := t.handle.NeighList(t.ifindex, unix.AF_INET6)
	if err != nil {
		t.log.Warn("neighbours: listing IPv6 entries", "err", err)
		return
	}
	for i := range neighs {
		if mac, ip, ok := t.usableIn(&neighs[i], unix.AF_INET6); ok && macs[string(mac)] {
			t.table.Seen6(mac, ip)
		}
	}
}

// Run reports every existing and new neighbour to the table until ctx ends.
// A subscription that breaks — the kernel drops events when a burst
// overruns the socket buffer (ENOBUFS) — is opened again with a fresh
// listing, so no neighbour is missed for long and lobby keeps running.
func (t *Tracker) Run(ctx context.Context, ready func()) error {
	first := true
	for {
		err := t.follow(ctx, func() {
			if first {
				first = false
				ready()
			}
		})
		if ctx.Err() != nil {
			return nil
		}
		if first {
			return err // never came up: a real fault, e.g. no netlink
		}
		t.log.Warn("neighbours: subscription broke; listing the table again", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// follow subscribes once and reports neighbours until ctx ends or the
// subscription breaks.
func (t *Tracker) follow(ctx context.Context, ready func()) error {
	updates := make(chan netlink.NeighUpdate, 1024)
	done := make(chan struct{})
	defer close(done)
	failed := make(chan error, 1)
	err := netlink.NeighSubscribeWithOptions(updates, done, netlink.NeighSubscribeOptions{
		Namespace:              &t.ns,
		ListExisting:           true,
		ReceiveBufferSize:      1 << 20,
		ReceiveBufferForceSize: true,
		ErrorCallback: func(err error) {
			select {
			case failed <- err:
			default:
			}
		},
	})
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	ready()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-failed:
			return fmt.Errorf("netlink subscription: %w", err)
		case <-t.wake:
			t.relearnNow()
		case u, ok := <-updates:
			if !ok {
				return fmt.Errorf("netlink subscription closed")
			}
			if mac, ip, ok := t.usableIn(&u.Neigh, unix.AF_INET6); ok && u.Type == unix.RTM_NEWNEIGH {
				// IPv6 addresses only ever add to a signed-in client's;
				// they leave at its sign-out (the table's rule).
				t.table.Seen6(mac, ip)
			} else if mac, ip, ok := t.usable(&u.Neigh); ok && u.Type == unix.RTM_NEWNEIGH {
				t.table.Seen(mac, ip, "")
			} else if ip, ok := t.ours(&u.Neigh); ok && (u.Type == unix.RTM_DELNEIGH || u.Type == unix.RTM_NEWNEIGH) {
				// Deleted, or INCOMPLETE/FAILED: nobody answers there now.
				t.table.Gone(ip)
			}
		}
	}
}

// Resolve looks ip up in the kernel's neighbour table now: for an address
// that the subscription has not reported yet.
func (t *Tracker) Resolve(ip netip.Addr) (net.HardwareAddr, bool) {
	if !ip.Is4() {
		return nil, false
	}
	neighs, err := t.handle.NeighList(t.ifindex, unix.AF_INET)
	if err != nil {
		t.log.Debug("neighbours: list", "err", err)
		return nil, false
	}
	for i := range neighs {
		if mac, addr, ok := t.usable(&neighs[i]); ok && addr == ip {
			return mac, true
		}
	}
	return nil, false
}
