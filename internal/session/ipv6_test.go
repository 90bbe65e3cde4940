package session

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/store/storetest"
)

// TestLearnIPv6 drives the learning of IPv6 addresses (option ipv6) as a
// table: which clients keep which addresses after a series of steps.
func TestLearnIPv6(t *testing.T) {
	ctx := context.Background()
	addr := func(i int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("fd77::%x", i)) }
	addrs := func(is ...int) []netip.Addr {
		var out []netip.Addr
		for _, i := range is {
			out = append(out, addr(i))
		}
		return out
	}
	type step func(tb *Table, c *clock)
	auth := func(m net.HardwareAddr) step {
		return func(tb *Table, _ *clock) { tb.Auth(ctx, m, ctlGrant(tb, 0)) }
	}
	seen := func(m net.HardwareAddr, is ...int) step {
		return func(tb *Table, c *clock) {
			for _, i := range is {
				c.add(time.Second)
				tb.Seen6(m, addr(i))
			}
		}
	}
	seenAddr := func(m net.HardwareAddr, s string) step {
		return func(tb *Table, _ *clock) { tb.Seen6(m, netip.MustParseAddr(s)) }
	}
	ipv6 := func(on bool) step {
		return func(tb *Table, _ *clock) { tb.Reload(Config{IPv6: on}) }
	}
	tests := []struct {
		name    string
		cfg     Config
		steps   []step
		wantA   []netip.Addr
		wantB   []netip.Addr
		changes int // Changes of address the watchers heard
	}{
		{"option off: nothing learned", Config{}, []step{auth(a), seen(a, 1)}, nil, nil, 0},
		{"preauth: nothing learned", Config{IPv6: true}, []step{seen(a, 1)}, nil, nil, 0},
		{"signed in: learned once", Config{IPv6: true}, []step{auth(a), seen(a, 1, 2, 1)}, addrs(1, 2), nil, 2},
		{"trusted: learned without the option", Config{TrustedMAC: []net.HardwareAddr{a}}, []step{seen(a, 1)}, addrs(1), nil, 1},
		{"link-local, multicast, mapped: never", Config{IPv6: true}, []step{auth(a),
			seenAddr(a, "fe80::1"), seenAddr(a, "ff02::1"), seenAddr(a, "::ffff:10.77.0.5"), seenAddr(a, "::1"), seenAddr(a, "10.77.0.5")}, nil, nil, 0},
		{"global unicast", Config{IPv6: true}, []step{auth(a), seenAddr(a, "2001:db8::5")}, []netip.Addr{netip.MustParseAddr("2001:db8::5")}, nil, 1},
		{"at most 8: the ninth replaces the longest unseen", Config{IPv6: true},
			[]step{auth(a), seen(a, 1, 2, 3, 4, 5, 6, 7, 8), seen(a, 1), seen(a, 9)}, addrs(1, 3, 4, 5, 6, 7, 8, 9), nil, 9},
		{"sign-out drops them", Config{IPv6: true}, []step{auth(a), seen(a, 1, 2), func(tb *Table, _ *clock) { tb.Deauth(ctx, a, ReasonAdmin) }}, nil, nil, 2},
		{"signed in again: learned anew", Config{IPv6: true}, []step{auth(a), seen(a, 1), func(tb *Table, _ *clock) { tb.Deauth(ctx, a, ReasonAdmin) }, seen(a, 2), auth(a), seen(a, 3)}, addrs(3), nil, 2},
		{"an address moves to the MAC that has it now", Config{IPv6: true}, []step{auth(a), auth(b), seen(a, 1, 2), seen(b, 1)}, addrs(2), addrs(1), 4},
		{"option turned off drops them", Config{IPv6: true}, []step{auth(a), seen(a, 1), ipv6(false), seen(a, 2)}, nil, nil, 1},
		{"option turned on learns from then", Config{}, []step{auth(a), seen(a, 1), ipv6(true), seen(a, 2)}, addrs(2), nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			tb := newTable(tt.cfg, new(storetest.Mem), c)
			changes := 0
			tb.Watch(func(ch Change) {
				if ch.By == "address" {
					changes++
				}
			})
			for _, s := range tt.steps {
				s(tb, c)
			}
			for _, w := range []struct {
				m    net.HardwareAddr
				want []netip.Addr
			}{{a, tt.wantA}, {b, tt.wantB}} {
				got, _ := tb.Lookup(w.m)
				gotSorted := slices.Clone(got.IPv6)
				slices.SortFunc(gotSorted, netip.Addr.Compare)
				if !slices.Equal(gotSorted, w.want) {
					t.Errorf("%s has IPv6 %v, want %v", w.m, got.IPv6, w.want)
				}
			}
			if changes != tt.changes {
				t.Errorf("%d address changes told, want %d", changes, tt.changes)
			}
		})
	}
}
