package firewall

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// conntracker deletes a client's connection-tracking entries: at sign-out
// all of them, so that open connections end at once; at sign-in the flows
// that were redirected to the portal (its DNS to other resolvers), so that
// they start afresh to where the client meant.
//
// The kernel offers no delete by address, so each pass dumps the whole
// conntrack table: tens of milliseconds on a big host. The Firewall runs
// the passes after the set changes, off the sign-in's path, one pass for
// everything queued meanwhile.
type conntracker struct {
	h *netlink.Handle
}

func newConntracker(nsfd int) (conntracker, error) {
	var h *netlink.Handle
	var err error
	if nsfd != 0 {
		h, err = netlink.NewHandleAt(netns.NsHandle(nsfd), unix.NETLINK_NETFILTER)
	} else {
		h, err = netlink.NewHandle(unix.NETLINK_NETFILTER)
	}
	if err != nil {
		return conntracker{}, fmt.Errorf("conntrack: opening netlink: %w", err)
	}
	return conntracker{h: h}, nil
}

// ctBatch is the deletions queued since the last pass: for each client
// address, the portal address when only its redirected flows go, or the
// zero Addr when every entry it started goes. One pass over the conntrack
// table serves the whole batch, however many clients signed in meanwhile.
type ctBatch map[netip.Addr]netip.Addr

// add queues client; a sign-out (every entry) wins over a sign-in.
func (b ctBatch) add(client, portal netip.Addr) {
	if p, ok := b[client]; ok && !p.IsValid() {
		return
	}
	b[client] = portal
}

// MatchConntrackFlow makes a batch a netlink.CustomConntrackFilter.
func (b ctBatch) MatchConntrackFlow(f *netlink.ConntrackFlow) bool {
	src, _ := netip.AddrFromSlice(f.Forward.SrcIP)
	portal, ok := b[src.Unmap()]
	if !ok {
		return false
	}
	if !portal.IsValid() {
		return true
	}
	// Redirected: the answer comes from the portal, though the client
	// asked someone else.
	dst, _ := netip.AddrFromSlice(f.Forward.DstIP)
	reply, _ := netip.AddrFromSlice(f.Reverse.SrcIP)
	return reply.Unmap() == portal && dst.Unmap() != portal
}

// flush deletes the batch's entries and returns how many went.
func (c conntracker) flush(b ctBatch) (uint, error) {
	n, err := c.h.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, b)
	if err != nil {
		return n, fmt.Errorf("conntrack: deleting the entries of %d clients: %w", len(b), err)
	}
	return n, nil
}
