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
	v6 := netip.MustParseAddr("fd77::11")
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
			{"a", entry{session.Preauth, ip1}, ""},
			{"a", entry{session.Authenticated, ip1}, "+auth 02:00:00:00:01:01 . 10.77.0.11 +down4 10.77.0.11"},
			{"a", entry{session.Authenticated, ip1}, ""},
			{"a", entry{session.Preauth, ip1}, "-auth 02:00:00:00:01:01 . 10.77.0.11 -down4 10.77.0.11"},
		}},
		// Let through by MAC and address: nothing until the address is
		// known, then the element follows the address (SPEC §3, Firewall).
		{"sign in before the address is known", []step{
			{"a", entry{session.Authenticated, netip.Addr{}}, ""},
			{"a", entry{session.Authenticated, ip1}, "+auth 02:00:00:00:01:01 . 10.77.0.11 +down4 10.77.0.11"},
			{"a", entry{session.Authenticated, ip2}, "-auth 02:00:00:00:01:01 . 10.77.0.11 -down4 10.77.0.11 +auth 02:00:00:00:01:01 . 10.77.0.12 +down4 10.77.0.12"},
			{"a", entry{session.Preauth, ip2}, "-auth 02:00:00:00:01:01 . 10.77.0.12 -down4 10.77.0.12"},
		}},
		{"an IPv6 address lets nothing through", []step{
			{"a", entry{session.Authenticated, v6}, ""},
		}},
		{"trusted to blocked and back", []step{
			{"a", entry{session.Trusted, ip1}, "+trusted 02:00:00:00:01:01 +down4 10.77.0.11"},
			{"a", entry{session.Blocked, ip1}, "-trusted 02:00:00:00:01:01 -down4 10.77.0.11 +blocked 02:00:00:00:01:01"},
			{"a", entry{session.Preauth, ip1}, "-blocked 02:00:00:00:01:01"},
		}},
		{"authenticated becomes trusted: the address stays", []step{
			{"a", entry{session.Authenticated, ip1}, "+auth 02:00:00:00:01:01 . 10.77.0.11 +down4 10.77.0.11"},
			{"a", entry{session.Trusted, ip1}, "-auth 02:00:00:00:01:01 . 10.77.0.11 +trusted 02:00:00:00:01:01"},
		}},
		{"an address moves to another signed-in MAC", []step{
			{"a", entry{session.Authenticated, ip1}, "+auth 02:00:00:00:01:01 . 10.77.0.11 +down4 10.77.0.11"},
			{"b", entry{session.Authenticated, ip1}, "+auth 02:00:00:00:01:02 . 10.77.0.11"},
			// a no longer owns ip1: leaving deletes nothing of b's.
			{"a", entry{session.Preauth, ip1}, "-auth 02:00:00:00:01:01 . 10.77.0.11"},
			{"b", entry{session.Preauth, ip1}, "-auth 02:00:00:00:01:02 . 10.77.0.11 -down4 10.77.0.11"},
		}},
		{"blocked with an address is not accounted", []step{
			{"a", entry{session.Blocked, ip1}, "+blocked 02:00:00:00:01:01"},
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
	s.change(a, entry{session.Authenticated, ip1}, 1000, 2000) // totals from before a restart
	s.change(b, entry{session.Preauth, netip.Addr{}}, 0, 0)

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
		if got := render(s.account(st.up, st.down)); got != st.want {
			t.Errorf("reading %d: %q, want %q", i, got, st.want)
		}
	}
	// Signed out and in again: the base is the table's totals then, and
	// the new elements count from zero.
	s.change(a, entry{session.Preauth, ip1}, 0, 0)
	if got := render(s.account(map[[6]byte]uint64{[6]byte(a): 500}, nil)); got != "" {
		t.Errorf("a signed-out client was counted: %q", got)
	}
	s.change(a, entry{session.Authenticated, ip1}, 5000, 6000)
	if got := render(s.account(map[[6]byte]uint64{[6]byte(a): 7}, map[netip.Addr]uint64{ip1: 3})); got != "02:00:00:00:01:01 5007/6003" {
		t.Errorf("after signing in again: %q", got)
	}
	// A new address: new elements for the client, counting from zero,
	// while the totals go on.
	ip2 := netip.MustParseAddr("10.77.0.12")
	s.change(a, entry{session.Authenticated, ip2}, 5007, 6003)
	if got := render(s.account(map[[6]byte]uint64{[6]byte(a): 4}, map[netip.Addr]uint64{ip2: 2})); got != "02:00:00:00:01:01 5011/6005" {
		t.Errorf("after a new address: %q", got)
	}
	// Trusted now: its MAC is a new element of the other set, counting
	// from zero, while the totals go on.
	s.change(a, entry{session.Trusted, ip2}, 5011, 6005)
	if got := render(s.account(map[[6]byte]uint64{[6]byte(a): 10}, nil)); got != "02:00:00:00:01:01 5021/6005" {
		t.Errorf("after moving to trusted: %q", got)
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
