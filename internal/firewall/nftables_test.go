package firewall

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/config"
	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/store/storetest"
)

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// nftList is `nft list table inet lobby` with tabs as two spaces, or ""
// when the table does not exist.
func nftList(t *testing.T) string {
	t.Helper()
	out := run(t, "nft", "list", "tables")
	if !strings.Contains(out, "table inet lobby") {
		return ""
	}
	return strings.ReplaceAll(run(t, "nft", "list", "table", "inet", "lobby"), "\t", "  ")
}

// The whole ruleset, as nft prints it, for the lab's config: the rule
// building is checked against the kernel's own reading of it.
const wantPlainRuleset = `table inet lobby {
  set auth {
    type ether_addr . ipv4_addr
    counter
    elements = { 02:00:00:00:01:01 . 10.77.0.11 counter packets 0 bytes 0 }
  }

  set trusted {
    type ether_addr
    counter
    elements = { 02:00:00:00:01:03 counter packets 0 bytes 0 }
  }

  set blocked {
    type ether_addr
    elements = { 02:00:00:00:01:02 }
  }

  set down4 {
    type ipv4_addr
    counter
    elements = { 10.77.0.11 counter packets 0 bytes 0 }
  }

  set auth6 {
    type ether_addr . ipv6_addr
    counter
    elements = { 02:00:00:00:01:01 . fd77::11 counter packets 0 bytes 0 }
  }

  set down6 {
    type ipv6_addr
    counter
    elements = { fd77::11 counter packets 0 bytes 0 }
  }

  set garden4 {
    type ipv4_addr
    flags interval
  }

  set garden4_dns {
    type ipv4_addr
    flags timeout
  }

  set garden6 {
    type ipv6_addr
    flags interval
  }

  set garden6_dns {
    type ipv6_addr
    flags timeout
  }

  chain hold80 {
    ip daddr @garden4 return
    ip daddr @garden4_dns return
    ip6 daddr @garden6 return
    ip6 daddr @garden6_dns return
    drop
  }

  chain prerouting {
    type filter hook prerouting priority raw; policy accept;
    iifname != "lan0" accept
    udp dport 53 ip daddr 10.77.0.1 notrack
    tcp dport 80 ether saddr . ip saddr != @auth ether saddr != @trusted jump hold80
    tcp dport 80 ether saddr . ip6 saddr != @auth6 ether saddr != @trusted jump hold80
  }

  chain dstnat {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "lan0" ip daddr 10.77.0.1 tcp dport 80 ether saddr . ip saddr @auth redirect to :2051
    iifname "lan0" ip daddr 10.77.0.1 tcp dport 80 ether saddr @trusted redirect to :2051
    iifname "lan0" ip daddr 10.77.0.1 tcp dport 443 ether saddr . ip saddr @auth redirect to :2052
    iifname "lan0" ip daddr 10.77.0.1 tcp dport 443 ether saddr @trusted redirect to :2052
    iifname "lan0" udp dport 53 ip daddr != 10.77.0.1 ether saddr . ip saddr != @auth ether saddr != @trusted ether saddr != @blocked dnat ip to 10.77.0.1:2053
    iifname "lan0" tcp dport 53 ip daddr != 10.77.0.1 ether saddr . ip saddr != @auth ether saddr != @trusted ether saddr != @blocked dnat ip to 10.77.0.1:2053
  }

  chain preauth_in {
    udp dport 67 return
    ether saddr @blocked drop
    ip daddr 10.77.0.1 udp dport 53 return
    ip daddr 10.77.0.1 tcp dport 53 return
    ip daddr 10.77.0.1 udp dport 2053 return
    ip daddr 10.77.0.1 tcp dport 2053 return
    ip daddr 10.77.0.1 tcp dport 2050 return
    icmpv6 type nd-router-solicit return
    icmpv6 type nd-neighbor-solicit return
    icmpv6 type nd-neighbor-advert return
    tcp dport 443 reject with tcp reset
    drop
  }

  chain input {
    type filter hook input priority filter; policy accept;
    iifname "lan0" ip daddr 10.77.0.1 udp dport 53 ether saddr != @blocked accept
    iifname "lan0" ether saddr . ip saddr != @auth ether saddr != @trusted jump preauth_in
    iifname "lan0" ether saddr . ip6 saddr != @auth6 ether saddr != @trusted jump preauth_in
  }

  chain output {
    type filter hook output priority raw; policy accept;
    oifname "lan0" ip saddr 10.77.0.1 udp sport 53 notrack
  }

  chain preauth_fwd {
    ether saddr @blocked drop
    ip daddr @garden4 return
    ip daddr @garden4_dns return
    ip6 daddr @garden6 return
    ip6 daddr @garden6_dns return
    tcp dport 443 reject with tcp reset
    drop
  }

  chain forward {
    type filter hook forward priority filter; policy accept;
    oifname "lan0" ip daddr @down4 return
    oifname "lan0" ip6 daddr @down6 return
    iifname "lan0" ether saddr . ip saddr @auth return
    iifname "lan0" ether saddr . ip6 saddr @auth6 return
    iifname "lan0" ether saddr @trusted return
    iifname "lan0" jump preauth_fwd
  }
}
`

func TestNFTRuleset(t *testing.T) {
	members := []op{
		{add: true, kind: kindAuth, mac: mustMAC("02:00:00:00:01:01"), ip: netip.MustParseAddr("10.77.0.11")},
		{add: true, kind: kindBlocked, mac: mustMAC("02:00:00:00:01:02")},
		{add: true, kind: kindTrusted, mac: mustMAC("02:00:00:00:01:03")},
		{add: true, kind: kindDown4, ip: netip.MustParseAddr("10.77.0.11")},
		{add: true, kind: kindAuth6, mac: mustMAC("02:00:00:00:01:01"), ip: netip.MustParseAddr("fd77::11")},
		{add: true, kind: kindDown6, ip: netip.MustParseAddr("fd77::11")},
	}
	tls := func(m *config.Main) {
		m.TLSCert, m.TLSKey = "c.pem", "k.pem"
		m.Interface = "br-lan"
		m.AllowAddress = []netip.Prefix{
			netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("203.0.113.9/32"),
			netip.MustParsePrefix("192.0.2.77/32"), netip.MustParsePrefix("2001:db8:7::/48"),
		}
	}
	tests := []struct {
		name    string
		cfg     *config.Config
		members []op
		want    func(string) string // from wantPlainRuleset
	}{
		{"lab", testConfig(NFTables, nil), members, func(s string) string { return s }},
		{"no clients", testConfig(NFTables, nil), nil, func(s string) string {
			return regexp.MustCompile(`\n    elements = \{[^}]*\}`).ReplaceAllString(s, "")
		}},
		{"tls, garden, other interface", testConfig(NFTables, tls), members, func(s string) string {
			s = strings.ReplaceAll(s, `"lan0"`, `"br-lan"`)
			s = strings.Replace(s, "tcp dport 2050 return\n", "tcp dport 2050 return\n    ip daddr 10.77.0.1 tcp dport 8443 return\n", 1)
			s = strings.Replace(s, "type ipv4_addr\n    flags interval\n", "type ipv4_addr\n    flags interval\n    elements = { 192.0.2.77, 203.0.113.0/24 }\n", 1)
			return strings.Replace(s, "type ipv6_addr\n    flags interval\n", "type ipv6_addr\n    flags interval\n    elements = { 2001:db8:7::/48 }\n", 1)
		}},
	}
	tests = append(tests, struct {
		name    string
		cfg     *config.Config
		members []op
		want    func(string) string
	}{"admin port", testConfig(NFTables, nil), members, func(s string) string {
		return strings.Replace(s, "policy accept;\n    iifname \"lan0\" ip daddr 10.77.0.1 udp dport 53",
			"policy accept;\n    iifname \"lan0\" tcp dport 8080 drop\n    iifname \"lan0\" udp dport 3799 drop\n    iifname \"lan0\" ip daddr 10.77.0.1 udp dport 53", 1)
	}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := newNFT(options{netns: inNetNS(t)})
			if err != nil {
				t.Fatal(err)
			}
			f := &Firewall{cfg: fw(tt.cfg)}
			if tt.name == "admin port" {
				f.cfg.AdminPort, f.cfg.DASPort = 8080, 3799
			}
			if err := b.build(f.rules(), tt.members, nil); err != nil {
				t.Fatal(err)
			}
			if got, want := nftList(t), tt.want(wantPlainRuleset); got != want {
				t.Errorf("ruleset:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// A build over what a crashed lobby left is exactly one copy, and a
// teardown leaves nothing, even twice.
func TestNFTRebuildAndTeardown(t *testing.T) {
	b, err := newNFT(options{netns: inNetNS(t)})
	if err != nil {
		t.Fatal(err)
	}
	r := (&Firewall{cfg: fw(testConfig(NFTables, nil))}).rules()
	a := []op{{add: true, kind: kindAuth, mac: mustMAC("02:00:00:00:01:01"), ip: netip.MustParseAddr("10.77.0.11")}}
	if err := b.build(r, a, nil); err != nil {
		t.Fatal(err)
	}
	once := nftList(t)
	// Another lobby starts over the same kernel with other clients.
	other := []op{{add: true, kind: kindAuth, mac: mustMAC("02:00:00:00:01:09"), ip: netip.MustParseAddr("10.77.0.19")}}
	if err := b.build(r, other, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.build(r, a, nil); err != nil {
		t.Fatal(err)
	}
	if got := nftList(t); got != once {
		t.Errorf("after three builds:\n%s\nwant the one of a single build:\n%s", got, once)
	}
	for i := range 2 {
		if err := b.teardown(); err != nil {
			t.Fatalf("teardown %d: %v", i, err)
		}
		if got := nftList(t); got != "" {
			t.Fatalf("teardown %d left:\n%s", i, got)
		}
	}
}

func setElements(t *testing.T, set string) string {
	t.Helper()
	out := run(t, "nft", "list", "set", "inet", "lobby", set)
	m := regexp.MustCompile(`elements = \{([^}]*)\}`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return strings.Join(strings.Fields(strings.NewReplacer("counter packets 0 bytes 0", "", ",", " ").Replace(m[1])), " ")
}

func TestNFTApply(t *testing.T) {
	b, err := newNFT(options{netns: inNetNS(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.build((&Firewall{cfg: fw(testConfig(NFTables, nil))}).rules(), nil, nil); err != nil {
		t.Fatal(err)
	}
	a := mustMAC("02:00:00:00:01:01")
	ip, ip2 := netip.MustParseAddr("10.77.0.11"), netip.MustParseAddr("10.77.0.12")
	s := newState()
	steps := []struct {
		want                 entry
		auth, blocked, down4 string
		trusted              string
	}{
		{entry{session.Authenticated, ip, nil}, "02:00:00:00:01:01 . 10.77.0.11", "", "10.77.0.11", ""},
		// A new address: the element follows, one out and one in.
		{entry{session.Authenticated, ip2, nil}, "02:00:00:00:01:01 . 10.77.0.12", "", "10.77.0.12", ""},
		{entry{session.Authenticated, ip, nil}, "02:00:00:00:01:01 . 10.77.0.11", "", "10.77.0.11", ""},
		{entry{session.Trusted, ip, nil}, "", "", "10.77.0.11", "02:00:00:00:01:01"},
		{entry{session.Blocked, ip, nil}, "", "02:00:00:00:01:01", "", ""},
		{entry{session.Preauth, ip, nil}, "", "", "", ""},
	}
	for i, st := range steps {
		if err := b.apply(s.change(a, st.want, 0, 0)); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		for set, want := range map[string]string{setAuth: st.auth, setTrusted: st.trusted, setBlocked: st.blocked, setDown4: st.down4} {
			if got := setElements(t, set); got != want {
				t.Errorf("step %d (%v): set %s holds %q, want %q", i, st.want.state, set, got, want)
			}
		}
	}
	// The kernel refuses to delete what is not there: the Firewall then
	// rebuilds instead of believing a half-applied change.
	if err := b.apply([]op{{kind: kindAuth, mac: a, ip: ip}}); err == nil {
		t.Errorf("deleting an absent element succeeded")
	}
}

// 10,000 signed-in clients fit in the one transaction of a build, and a
// change on top of them is still one element.
func TestNFTBuildTenThousand(t *testing.T) {
	b, err := newNFT(options{netns: inNetNS(t)})
	if err != nil {
		t.Fatal(err)
	}
	var members []op
	for i := range 10000 {
		members = append(members,
			op{add: true, kind: kindAuth, mac: net.HardwareAddr{0x02, 0x10, 0, 0, byte(i >> 8), byte(i)}, ip: netip.AddrFrom4([4]byte{10, 78, byte(i >> 8), byte(i)})},
			op{add: true, kind: kindDown4, ip: netip.AddrFrom4([4]byte{10, 78, byte(i >> 8), byte(i)})})
	}
	if err := b.build((&Firewall{cfg: fw(testConfig(NFTables, nil))}).rules(), members, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.apply([]op{{add: true, kind: kindAuth, mac: mustMAC("02:00:00:00:01:01"), ip: netip.MustParseAddr("10.77.0.11")}}); err != nil {
		t.Fatal(err)
	}
	// The kernel grows a set's hash table after a large insert, in the
	// background; a dump that meets the rehash can miss elements (it has
	// no generation to flag it with). The firewall takes a reading that
	// lacks a client as no news of it (state.account), and the next one,
	// pollInterval later, has it; here the read is repeated for a moment.
	r := newReadings()
	deadline := time.Now().Add(3 * time.Second)
	for {
		r.clear()
		if err := b.counters(r); err != nil {
			t.Fatal(err)
		}
		if len(r.up) == 10001 && len(r.down) == 10000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(r.up) != 10001 || len(r.down) != 10000 {
		t.Errorf("counters of %d MACs and %d addresses, want 10001 and 10000", len(r.up), len(r.down))
	}
}

// The counters read back are the kernel's: elements given byte counts by
// nft come back with them, by MAC and by address, trusted clients too.
func TestNFTCounters(t *testing.T) {
	b, err := newNFT(options{netns: inNetNS(t)})
	if err != nil {
		t.Fatal(err)
	}
	a, c := mustMAC("02:00:00:00:01:01"), mustMAC("02:00:00:00:01:03")
	ip := netip.MustParseAddr("10.77.0.11")
	if err := b.build((&Firewall{cfg: fw(testConfig(NFTables, nil))}).rules(), []op{{add: true, kind: kindBlocked, mac: mustMAC("02:00:00:00:01:09")}}, nil); err != nil {
		t.Fatal(err)
	}
	run(t, "nft", "add element inet lobby auth { 02:00:00:00:01:01 . 10.77.0.11 counter packets 3 bytes 1500 }")
	run(t, "nft", "add element inet lobby trusted { 02:00:00:00:01:03 counter packets 1 bytes 18446744073709551615 }")
	run(t, "nft", "add element inet lobby down4 { 10.77.0.11 counter packets 2 bytes 640 }")
	run(t, "nft", "add element inet lobby auth6 { 02:00:00:00:01:01 . fd77::11 counter packets 4 bytes 700 }")
	run(t, "nft", "add element inet lobby down6 { fd77::11 counter packets 5 bytes 9000 }")
	r := newReadings()
	err = b.counters(r)
	up, down := r.up, r.down
	if err != nil {
		t.Fatal(err)
	}
	ip6 := netip.MustParseAddr("fd77::11")
	wantUp := map[[6]byte]uint64{[6]byte(a): 1500, [6]byte(c): math.MaxUint64}
	if !maps.Equal(up, wantUp) || !maps.Equal(down, map[netip.Addr]uint64{ip: 640, ip6: 9000}) {
		t.Errorf("counters: up %v, down %v", up, down)
	}
	if want := (map[macIP]uint64{{[6]byte(a), ip6}: 700}); !maps.Equal(r.up6, want) {
		t.Errorf("counters: IPv6 up %v, want %v", r.up6, want)
	}
}

func TestNFTGarden(t *testing.T) {
	b, err := newNFT(options{netns: inNetNS(t)})
	if err != nil {
		t.Fatal(err)
	}
	a4, a6 := netip.MustParseAddr("198.51.100.12"), netip.MustParseAddr("2001:db8:100::12")
	if err := b.build((&Firewall{cfg: fw(testConfig(NFTables, nil))}).rules(), nil, []gardenElem{{addr: a4, ttl: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	// Adding again extends the timeout, whether or not the element is
	// there (a6 is new).
	if err := b.allow([]gardenElem{{addr: a4, ttl: 2 * time.Hour}, {addr: a6, ttl: 3 * time.Hour}}); err != nil {
		t.Fatal(err)
	}
	for set, want := range map[string]string{setGarden4DNS: "198.51.100.12 timeout 2h expires", setGarden6DNS: "2001:db8:100::12 timeout 3h expires"} {
		if got := setElements(t, set); !strings.HasPrefix(got, want) {
			t.Errorf("set %s: %q, want %q…", set, got, want)
		}
	}
}

// The Firewall follows the table: every state change is a set change, a
// stop removes the table, and a start after a crash is one fresh copy with
// the persisted clients.
func TestFirewallFollowsTable(t *testing.T) {
	fd := inNetNS(t)
	a, blocked, trusted := mustMAC("02:00:00:00:01:01"), mustMAC("02:00:00:00:01:02"), mustMAC("02:00:00:00:01:03")
	cfg := testConfig(NFTables, func(m *config.Main) {
		m.BlockedMAC = []net.HardwareAddr{blocked}
		m.TrustedMAC = []net.HardwareAddr{trusted}
	})
	st := new(storetest.Mem)
	table := newTable(t, st, cfg)
	table.Seen(a, netip.MustParseAddr("10.77.0.11"), "laptop")
	f, err := newFirewall(fw(cfg), table, quietLog(), options{netns: fd, pollEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if f.Backend() != NFTables {
		t.Errorf("Backend() = %q", f.Backend())
	}
	if err := f.AllowGarden([]netip.Addr{netip.MustParseAddr("198.51.100.12")}, time.Minute); !errors.Is(err, ErrNotRunning) {
		t.Errorf("AllowGarden before Run: %v, want ErrNotRunning", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() { done <- f.Run(ctx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	check := func(when string, want map[string]string) {
		t.Helper()
		for set, w := range want {
			if got := setElements(t, set); got != w {
				t.Errorf("%s: set %s holds %q, want %q", when, set, got, w)
			}
		}
	}
	check("at start", map[string]string{setAuth: "", setBlocked: "02:00:00:00:01:02", setTrusted: "02:00:00:00:01:03", setDown4: ""})
	if got := setElements(t, setGarden4DNS); !strings.HasPrefix(got, "198.51.100.12 timeout ") {
		t.Errorf("the garden address given before Run is missing: %q", got)
	}

	if _, err := table.Auth(ctx, a, table.NewGrant(session.MethodCtl, "", session.Limits{})); err != nil {
		t.Fatal(err)
	}
	check("after auth", map[string]string{setAuth: "02:00:00:00:01:01 . 10.77.0.11", setDown4: "10.77.0.11"})
	// Signed in again from another address (a device that moved): the
	// element follows (a lease alone does not move a session).
	if _, err := table.AuthAt(ctx, a, netip.MustParseAddr("10.77.0.21"), table.NewGrant(session.MethodCtl, "", session.Limits{})); err != nil {
		t.Fatal(err)
	}
	check("after a sign-in from another address", map[string]string{setAuth: "02:00:00:00:01:01 . 10.77.0.21", setDown4: "10.77.0.21"})
	if _, err := table.Deauth(ctx, a, session.ReasonAdmin); err != nil {
		t.Fatal(err)
	}
	check("after deauth", map[string]string{setAuth: "", setDown4: ""})
	if _, err := table.Auth(ctx, a, table.NewGrant(session.MethodCtl, "", session.Limits{})); err != nil {
		t.Fatal(err)
	}

	// A crash: the rules stay. Simulate it with a second Firewall over the
	// same kernel and a table read back from the same store.
	crashed := nftList(t)
	table2 := newTable(t, st, cfg)
	f2, err := newFirewall(fw(cfg), table2, quietLog(), options{netns: fd, pollEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := f2.start(); err != nil {
		t.Fatal(err)
	}
	strip := regexp.MustCompile(`\n    elements = \{ 198[^}]*\}`) // the garden is not persisted
	if got := nftList(t); got != strip.ReplaceAllString(crashed, "") {
		t.Errorf("after a restart:\n%s\nwant what was there before:\n%s", got, crashed)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v", err)
	}
	if got := nftList(t); got != "" {
		t.Errorf("after a clean stop the table is still there:\n%s", got)
	}
	// A change after the stop is no error and touches nothing.
	if _, err := table.Deauth(context.Background(), a, session.ReasonAdmin); err != nil {
		t.Fatal(err)
	}
	if got := nftList(t); got != "" {
		t.Errorf("a change after the stop made rules:\n%s", got)
	}
}

// BenchmarkNFTSignIn is the kernel side of one sign-in and sign-out (one
// set-element transaction each, through the lasting netlink socket) with
// 10 and 10,000 clients already in the set: the cost must not grow.
func BenchmarkNFTSignIn(b *testing.B) {
	for _, n := range []int{10, 10000} {
		b.Run(fmt.Sprintf("signed-in=%d", n), func(b *testing.B) {
			fd := inNetNS(b)
			be, err := newNFT(options{netns: fd})
			if err != nil {
				b.Fatal(err)
			}
			var members []op
			for i := range n {
				members = append(members,
					op{add: true, kind: kindAuth, mac: net.HardwareAddr{0x02, 0x10, 0, 0, byte(i >> 8), byte(i)}, ip: netip.AddrFrom4([4]byte{10, 78, byte(i >> 8), byte(i)})},
					op{add: true, kind: kindDown4, ip: netip.AddrFrom4([4]byte{10, 78, byte(i >> 8), byte(i)})})
			}
			if err := be.build((&Firewall{cfg: fw(testConfig(NFTables, nil))}).rules(), members, nil); err != nil {
				b.Fatal(err)
			}
			mac := mustMAC("02:00:00:00:01:01")
			ip := netip.MustParseAddr("10.77.0.11")
			in := []op{{add: true, kind: kindAuth, mac: mac, ip: ip}, {add: true, kind: kindDown4, ip: ip}}
			out := []op{{kind: kindAuth, mac: mac, ip: ip}, {kind: kindDown4, ip: ip}}
			b.ResetTimer()
			for range b.N {
				if err := be.apply(in); err != nil {
					b.Fatal(err)
				}
				if err := be.apply(out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNFTCounters is one counter reading of 10,000 signed-in clients
// (two sets of 10,000 elements) and its accounting, what Run does every
// pollInterval.
func BenchmarkNFTCounters(b *testing.B) {
	fd := inNetNS(b)
	be, err := newNFT(options{netns: fd})
	if err != nil {
		b.Fatal(err)
	}
	st := newState()
	var members []op
	for i := range 10000 {
		mac := net.HardwareAddr{0x02, 0x10, 0, 0, byte(i >> 8), byte(i)}
		members = append(members, st.change(mac, entry{session.Authenticated, netip.AddrFrom4([4]byte{10, 78, byte(i >> 8), byte(i)}), nil}, 0, 0)...)
	}
	if err := be.build((&Firewall{cfg: fw(testConfig(NFTables, nil))}).rules(), members, nil); err != nil {
		b.Fatal(err)
	}
	r := newReadings()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r.clear()
		if err := be.counters(r); err != nil {
			b.Fatal(err)
		}
		st.account(r.up, r.up6, r.down)
	}
	if len(r.up) != 10000 || len(r.down) != 10000 {
		b.Fatalf("read %d MACs and %d addresses, want 10000 each", len(r.up), len(r.down))
	}
}
