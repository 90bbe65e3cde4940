package firewall

import (
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestConntrackJobMatch(t *testing.T) {
	client, portal := netip.MustParseAddr("10.77.0.11"), netip.MustParseAddr("10.77.0.1")
	flow := func(src, dst, replySrc string) *netlink.ConntrackFlow {
		return &netlink.ConntrackFlow{
			Forward: netlink.IPTuple{SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)},
			Reverse: netlink.IPTuple{SrcIP: net.ParseIP(replySrc), DstIP: net.ParseIP(src)},
		}
	}
	signOut := ctBatch{client: netip.Addr{}}
	signIn := ctBatch{client: portal}
	tests := []struct {
		name    string
		flow    *netlink.ConntrackFlow
		out, in bool // matched by the sign-out and the sign-in job
	}{
		{"DNS to another resolver, redirected", flow("10.77.0.11", "198.51.100.53", "10.77.0.1"), true, true},
		{"a connection to the internet", flow("10.77.0.11", "198.51.100.10", "198.51.100.10"), true, false},
		{"DNS to the portal itself", flow("10.77.0.11", "10.77.0.1", "10.77.0.1"), true, false},
		{"another client's redirected DNS", flow("10.77.0.12", "198.51.100.53", "10.77.0.1"), false, false},
		{"IPv4-mapped addresses", flow("::ffff:10.77.0.11", "::ffff:198.51.100.53", "::ffff:10.77.0.1"), true, true},
	}
	for _, tt := range tests {
		if got := signOut.MatchConntrackFlow(tt.flow); got != tt.out {
			t.Errorf("%s: sign-out batch matches %v, want %v", tt.name, got, tt.out)
		}
		if got := signIn.MatchConntrackFlow(tt.flow); got != tt.in {
			t.Errorf("%s: sign-in batch matches %v, want %v", tt.name, got, tt.in)
		}
	}
}

func TestConntrackBatchAdd(t *testing.T) {
	a, b := netip.MustParseAddr("10.77.0.11"), netip.MustParseAddr("10.77.0.12")
	portal := netip.MustParseAddr("10.77.0.1")
	q := ctBatch{}
	q.add(a, portal)       // sign-in
	q.add(a, netip.Addr{}) // then sign-out: every entry
	q.add(a, portal)       // then sign-in again: still every entry
	q.add(b, portal)
	if p := q[a]; p.IsValid() {
		t.Errorf("a sign-out queued before a sign-in was narrowed to %v", p)
	}
	if q[b] != portal || len(q) != 2 {
		t.Errorf("batch %v", q)
	}
}
