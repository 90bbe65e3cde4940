package firewall

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/lobby-fw/lobby/internal/session"
)

// opString renders ops as "+auth 02:…:01 -down4 10.77.0.11" for the tables.
func opString(ops []op) string {
	var s []string
	for _, o := range ops {
		sign := "-"
		if o.add {
			sign = "+"
		}
		s = append(s, sign+o.kind.String()+" "+memberName(o))
	}
	return strings.Join(s, " ")
}

func TestStateChange(t *testing.T) {
	a, b := mustMAC("02:00:00:00:01:01"), mustMAC("02:00:00:00:01:02")
	ip1, ip2 := netip.MustParseAddr("10.77.0.11"), netip.MustParseAddr("10.77.0.12")
	v6, v6b := netip.MustParseAddr("fd77::11"), netip.MustParseAddr("fd77::12")
	type step struct {
		mac  string
		want entry
		ops  string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"sign in and out", []step{
			{"a", entry{session.Preauth, ip1, nil}, ""},
			{"a", entry{session.Authenticated, ip1, nil}, "+auth 02:00:00:00:01:01 . 10.77.0.11 +down4 10.77.0.11"},
			{"a", entry{session.Authenticated, ip1, nil}, ""},
			{"a", entry{session.Preauth, ip1, nil}, "-auth 02:00:00:00:01:01 . 10.77.0.11 -down4 10.77.0.11"},
		}},
		// Let through by MAC and address: nothing until the address is
		// known, then the element follows the address (SPEC §3, Firewall).
		{"sign in before the address is known", []step{
			{"a", entry{session.Authenticated, netip.Addr{}, nil}, ""},
			{"a", entry{session.Authenticated, ip1, nil}, "+auth 02:00:00:00:01:01 . 10.77.0.11 +down4 10.77.0.11"},
			{"a", entry{session.Authenticated, ip2, nil}, "-auth 02:00:00:00:01:01 . 10.77.0.11 -down4 10.77.0.11 +auth 02:00:00:00:01:01 . 10.77.0.12 +down4 10.77.0.12"},
			{"a", entry{session.Preauth, ip2, nil}, "-auth 02:00:00:00:01:01 . 10.77.0.12 -down4 10.77.0.12"},
		}},
		{"an IPv6 address lets nothing through", []step{
			{"a", entry{session.Authenticated, v6, nil}, ""},
		}},
		// Option ipv6: a signed-in client's learned IPv6 addresses, one
		// element with its MAC each and one download element each.
		{"learned IPv6 addresses come and go one by one", []step{
			{"a", entry{session.Authenticated, ip1, []netip.Addr{v6}}, "+auth 02:00:00:00:01:01 . 10.77.0.11 +down4 10.77.0.11 +down6 fd77::11 +auth6 02:00:00:00:01:01 . fd77::11"},
			{"a", entry{session.Authenticated, ip1, []netip.Addr{v6, v6b}}, "+down6 fd77::12 +auth6 02:00:00:00:01:01 . fd77::12"},
			{"a", entry{session.Authenticated, ip1, []netip.Addr{v6b}}, "-down6 fd77::11 -auth6 02:00:00:00:01:01 . fd77::11"},
			{"a", entry{session.Preauth, ip1, nil}, "-auth 02:00:00:00:01:01 . 10.77.0.11 -down4 10.77.0.11 -down6 fd77::12 -auth6 02:00:00:00:01:01 . fd77::12"},
		}},
		{"a trusted client's IPv6 is counted, not bound", []step{
			{"a", entry{session.Trusted, ip1, []netip.Addr{v6}}, "+trusted 02:00:00:00:01:01 +down4 10.77.0.11 +down6 fd77::11"},
			{"a", entry{session.Authenticated, ip1, []netip.Addr{v6}}, "-trusted 02:00:00:00:01:01 +auth 02:00:00:00:01:01 . 10.77.0.11 +auth6 02:00:00:00:01:01 . fd77::11"},
			{"a", entry{session.Blocked, ip1, nil}, "-auth 02:00:00:00:01:01 . 10.77.0.11 -down4 10.77.0.11 -down6 fd77::11 -auth6 02:00:00:00:01:01 . fd77::11 +blocked 02:00:00:00:01:01"},
		}},
		{"an IPv6 address moves to another signed-in MAC", []step{
			{"a", entry{session.Authenticated, ip1, []netip.Addr{v6}}, "+auth 02:00:00:00:01:01 . 10.77.0.11 +down4 10.77.0.11 +down6 fd77::11 +auth6 02:00:00:00:01:01 . fd77::11"},
			{"b", entry{session.Authenticated, ip2, []netip.Addr{v6}}, "+auth 02:00:00:00:01:02 . 10.77.0.12 +down4 10.77.0.12 +auth6 02:00:00:00:01:02 . fd77::11"},
			{"a", entry{session.Authenticated, ip1, nil}, "-auth6 02:00:00:00:01:01 . fd77::11"},
			{"b", entry{session.Preauth, ip2, nil}, "-auth 02:00:00:00:01:02 . 10.77.0.12 -down4 10.77.0.12 -down6 fd77::11 -auth6 02:00:00:00:01:02 . fd77::11"},
		}},
		{"trusted to blocked and back", []step{
			{"a", entry{session.Trusted, ip1, nil}, "+trusted 02:00:00:00:01:01 +down4 10.77.0.11"},
			{"a", entry{session.Blocked, ip1, nil}, "-trusted 02:00:00:00:01:01 -down4 10.77.0.11 +blocked 02:00:00:00:01:01"},
			{"a", entry{session.Preauth, ip1, nil}, "-blocked 02:00:00:00:01:01"},
		}},
		{"authenticated becomes trusted: the address stays", []step{
			{"a", entry{session.Authenticated, ip1, nil}, "+auth 02:00:00:00:01:01 . 10.77.0.11 +down4 10.77.0.11"},
			{"a", entry{session.Trusted, ip1, nil}, "-auth 02:00:00:00:01:01 . 10.77.0.11 +trusted 02:00:00:00:01:01"},
		}},
		{"an address moves to another signed-in MAC", []step{
			{"a", entry{session.Authenticated, ip1, nil}, "+auth 02:00:00:00:01:01 . 10.77.0.11 +down4 10.77.0.11"},
			{"b", entry{session.Authenticated, ip1, nil}, "+auth 02:00:00:00:01:02 . 10.77.0.11"},
			// a no longer owns ip1: leaving deletes nothing of b's.
			{"a", entry{session.Preauth, ip1, nil}, "-auth 02:00:00:00:01:01 . 10.77.0.11"},
			{"b", entry{session.Preauth, ip1, nil}, "-auth 02:00:00:00:01:02 . 10.77.0.11 -down4 10.77.0.11"},
		}},
		{"blocked with an address is not accounted", []step{
			{"a", entry{session.Blocked, ip1, nil}, "+blocked 02:00:00:00:01:01"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newState()
			for i, st := range tt.steps {
				mac := a
				if st.mac == "b" {
					mac = b
				}
				if got := opString(s.change(mac, st.want, 0, 0)); got != st.ops {
					t.Errorf("step %d (%s → %v %v): ops %q, want %q", i, st.mac, st.want.state, st.want.ip, got, st.ops)
				}
			}
		})
	}
}

func TestStateAccount(t *testing.T) {
	a, b := mustMAC("02:00:00:00:01:01"), mustMAC("02:00:00:00:01:02")
	ip1 := netip.MustParseAddr("10.77.0.11")
	s := newState()
	s.change(a, entry{session.Authenticated, ip1, nil}, 1000, 2000) // totals from before a restart
	s.change(b, entry{session.Preauth, netip.Addr{}, nil}, 0, 0)

	render := func(us []usage) string {
		var out []string
		for _, u := range us {
			out = append(out, fmt.Sprintf("%s %d/%d", u.mac, u.up, u.down))
		}
		slices.Sort(out)
		return strings.Join(out, ", ")
	}
	steps := []struct {
		up   map[[6]byte]uint64
		down map[netip.Addr]uint64
		want string
	}{
		{map[[6]byte]uint64{[6]byte(a): 100}, map[netip.Addr]uint64{ip1: 50}, "02:00:00:00:01:01 1100/2050"},
		{map[[6]byte]uint64{[6]byte(a): 100}, map[netip.Addr]uint64{ip1: 50}, ""}, // nothing moved
		{map[[6]byte]uint64{[6]byte(a): 150, [6]byte(b): 999}, nil, "02:00:00:00:01:01 1150/2050"},
		// The kernel's elements were recreated: counters start again.
		{map[[6]byte]uint64{[6]byte(a): 10}, map[netip.Addr]uint64{ip1: 5}, "02:00:00:00:01:01 1160/2055"},
	}
	for i, st := range steps {
		if got := render(s.account(st.up, nil, st.down)); got != st.want {
			t.Errorf("reading %d: %q, want %q", i, got, st.want)
		}
	}
	// Signed out and in again: the base is the table's totals then, and
	// the new elements count from zero.
	s.change(a, entry{session.Preauth, ip1, nil}, 0, 0)
	if got := render(s.account(map[[6]byte]uint64{[6]byte(a): 500}, nil, nil)); got != "" {
		t.Errorf("a signed-out client was counted: %q", got)
	}
	s.change(a, entry{session.Authenticated, ip1, nil}, 5000, 6000)
	if got := render(s.account(map[[6]byte]uint64{[6]byte(a): 7}, nil, map[netip.Addr]uint64{ip1: 3})); got != "02:00:00:00:01:01 5007/6003" {
		t.Errorf("after signing in again: %q", got)
	}
	// A new address: new elements for the client, counting from zero,
	// while the totals go on.
	ip2 := netip.MustParseAddr("10.77.0.12")
	s.change(a, entry{session.Authenticated, ip2, nil}, 5007, 6003)
	if got := render(s.account(map[[6]byte]uint64{[6]byte(a): 4}, nil, map[netip.Addr]uint64{ip2: 2})); got != "02:00:00:00:01:01 5011/6005" {
		t.Errorf("after a new address: %q", got)
	}
	// Trusted now: its MAC is a new element of the other set, counting
	// from zero, while the totals go on.
	s.change(a, entry{session.Trusted, ip2, nil}, 5011, 6005)
	if got := render(s.account(map[[6]byte]uint64{[6]byte(a): 10}, nil, nil)); got != "02:00:00:00:01:01 5021/6005" {
		t.Errorf("after moving to trusted: %q", got)
	}
}

// TestStateAccountIPv6: a signed-in client's IPv6 elements (option ipv6)
// add to its totals both ways, each counted from its own last reading, so
// one that leaves takes nothing back and one that comes counts from zero.
func TestStateAccountIPv6(t *testing.T) {
	a := mustMAC("02:00:00:00:01:01")
	ip := netip.MustParseAddr("10.77.0.11")
	x1, x2, x3 := netip.MustParseAddr("fd77::11"), netip.MustParseAddr("fd77::12"), netip.MustParseAddr("2001:db8::3")
	s := newState()
	s.change(a, entry{session.Authenticated, ip, []netip.Addr{x1, x2}}, 0, 0)
	type up6 = map[macIP]uint64
	k := func(x netip.Addr) macIP { return macIP{[6]byte(a), x} }
	steps := []struct {
		ip6  []netip.Addr // the client's addresses before the reading; nil: unchanged
		up   map[[6]byte]uint64
		up6  up6
		down map[netip.Addr]uint64
		want string
	}{
		{nil, map[[6]byte]uint64{[6]byte(a): 100}, up6{k(x1): 10, k(x2): 20}, map[netip.Addr]uint64{ip: 1000, x1: 300, x2: 400}, "130/1700"},
		{nil, map[[6]byte]uint64{[6]byte(a): 100}, up6{k(x1): 15, k(x2): 20}, map[netip.Addr]uint64{ip: 1000, x1: 300, x2: 900}, "135/2200"},
		// x1 leaves (the ninth address took its slot): its last counts
		// stay in the totals; x3 counts from zero.
		{[]netip.Addr{x2, x3}, map[[6]byte]uint64{[6]byte(a): 100}, up6{k(x2): 20, k(x3): 5}, map[netip.Addr]uint64{ip: 1000, x2: 900, x3: 50}, "140/2250"},
		// An element of another MAC, or not the client's, counts nothing.
		{nil, nil, up6{macIP{[6]byte{2}, x2}: 999, k(x1): 999}, map[netip.Addr]uint64{x1: 999}, ""},
	}
	for i, st := range steps {
		if st.ip6 != nil {
			s.change(a, entry{session.Authenticated, ip, st.ip6}, 0, 0)
		}
		us := s.account(st.up, st.up6, st.down)
		got := ""
		if len(us) == 1 {
			got = fmt.Sprintf("%d/%d", us[0].up, us[0].down)
		}
		if got != st.want {
			t.Errorf("reading %d: %q, want %q", i, got, st.want)
		}
	}
}

func TestMergePrefixes(t *testing.T) {
	p := netip.MustParsePrefix
	tests := []struct {
		in   []netip.Prefix
		want []netip.Prefix
	}{
		{nil, nil},
		{[]netip.Prefix{p("203.0.113.0/24")}, []netip.Prefix{p("203.0.113.0/24")}},
		{[]netip.Prefix{p("203.0.113.7/32"), p("203.0.113.0/24")}, []netip.Prefix{p("203.0.113.0/24")}},
		{[]netip.Prefix{p("203.0.113.0/24"), p("203.0.113.0/24")}, []netip.Prefix{p("203.0.113.0/24")}},
		{[]netip.Prefix{p("203.0.113.0/25"), p("203.0.113.128/25")}, []netip.Prefix{p("203.0.113.0/25"), p("203.0.113.128/25")}},
		{[]netip.Prefix{p("2001:db8::/32"), p("2001:db8:1::/48"), p("0.0.0.0/0")}, []netip.Prefix{p("2001:db8::/32"), p("0.0.0.0/0")}},
		{[]netip.Prefix{{}, p("10.0.0.0/8")}, []netip.Prefix{p("10.0.0.0/8")}},
	}
	for _, tt := range tests {
		if got := mergePrefixes(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("mergePrefixes(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestIntervalElems(t *testing.T) {
	tests := []struct {
		prefix     string
		start, end string // end "": none
	}{
		{"203.0.113.0/24", "203.0.113.0", "203.0.114.0"},
		{"203.0.113.7/32", "203.0.113.7", "203.0.113.8"},
		{"0.0.0.0/0", "0.0.0.0", ""},
		{"255.255.255.0/24", "255.255.255.0", ""},
		{"2001:db8:7::/48", "2001:db8:7::", "2001:db8:8::"},
	}
	for _, tt := range tests {
		es := intervalElems(netip.MustParsePrefix(tt.prefix))
		start, _ := netip.AddrFromSlice(es[0].Key)
		if start.String() != tt.start || es[0].IntervalEnd {
			t.Errorf("%s: start %v (end flag %v), want %s", tt.prefix, start, es[0].IntervalEnd, tt.start)
		}
		end := ""
		if len(es) > 1 {
			a, _ := netip.AddrFromSlice(es[1].Key)
			end = a.String()
			if !es[1].IntervalEnd {
				t.Errorf("%s: end element without the interval-end flag", tt.prefix)
			}
		}
		if end != tt.end {
			t.Errorf("%s: end %q, want %q", tt.prefix, end, tt.end)
		}
	}
}
