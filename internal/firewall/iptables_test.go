package firewall

import (
	"context"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/config"
	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/store/storetest"
)

func TestRuleCounter(t *testing.T) {
	tests := []struct {
		line, opt string
		value     string
		bytes     uint64
		ok        bool
	}{
		{"-A LOBBY_DOWN -d 10.77.0.11/32 -c 12 3456 -j RETURN", "-d", "10.77.0.11/32", 3456, true},
		{"-A LOBBY_MAC -m mac --mac-source 02:00:00:00:01:01 -c 7 890 -j MARK --set-xmark 0x1000000/0x3000000", "--mac-source", "02:00:00:00:01:01", 890, true},
		{"-A LOBBY_MAC -m mac --mac-source 02:00:00:00:01:01 -j MARK --set-xmark 0x1000000/0x3000000", "--mac-source", "", 0, false}, // no counters
		{"-N LOBBY_DOWN", "-d", "", 0, false},
		{"-A LOBBY_DOWN -d 10.77.0.11/32 -c 12 x -j RETURN", "-d", "", 0, false},
		{"-A LOBBY_DOWN -d", "-d", "", 0, false},
		{"", "-d", "", 0, false},
	}
	for _, tt := range tests {
		v, n, ok := ruleCounter(tt.line, tt.opt)
		if ok != tt.ok || ok && (v != tt.value || n != tt.bytes) {
			t.Errorf("ruleCounter(%q, %q) = %q, %d, %v; want %q, %d, %v", tt.line, tt.opt, v, n, ok, tt.value, tt.bytes, tt.ok)
		}
	}
}

// lobbyRules is what iptables-legacy-save and ip6tables-legacy-save show
// of lobby: its chains, rules and hooks, without counters.
func lobbyRules(t *testing.T) string {
	t.Helper()
	var out []string
	for _, cmd := range []string{"iptables-legacy-save", "ip6tables-legacy-save"} {
		for _, l := range strings.Split(run(t, cmd), "\n") {
			if strings.Contains(l, "LOBBY") || strings.Contains(l, "lobby_") || strings.HasPrefix(l, "*") {
				if i := strings.Index(l, " ["); strings.HasPrefix(l, ":") && i > 0 {
					l = l[:i]
				}
				out = append(out, l)
			}
		}
	}
	return strings.Join(out, "\n")
}

func needLegacy(t *testing.T) {
	t.Helper()
	for _, c := range []string{"iptables-legacy", "ip6tables-legacy", "iptables-legacy-save"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("%s not installed", c)
		}
	}
}

// What lobby adds to iptables-legacy and ip6tables-legacy with one MAC
// rule per member (the fallback that this kernel, without ipset hash:mac,
// uses for MACs).
const wantIPTRules = `*filter
:LOBBY_DOWN -
:LOBBY_FWD -
:LOBBY_IN -
-A INPUT -i lan0 -j LOBBY_IN
-A FORWARD -o lan0 -j LOBBY_DOWN
-A FORWARD -i lan0 -j LOBBY_FWD
-A LOBBY_DOWN -d 10.77.0.11/32 -j RETURN
-A LOBBY_FWD -m mark --mark 0x1000000/0x3000000 -j RETURN
-A LOBBY_FWD -m mark --mark 0x2000000/0x3000000 -j RETURN
-A LOBBY_FWD -m mark --mark 0x3000000/0x3000000 -j DROP
-A LOBBY_FWD -m mark --mark 0x4000000/0x4000000 -j RETURN
-A LOBBY_FWD -p tcp -m tcp --dport 443 -j REJECT --reject-with tcp-reset
-A LOBBY_FWD -j DROP
-A LOBBY_IN -m mark --mark 0x1000000/0x3000000 -j RETURN
-A LOBBY_IN -m mark --mark 0x2000000/0x3000000 -j RETURN
-A LOBBY_IN -p udp -m udp --dport 67 -j RETURN
-A LOBBY_IN -m mark --mark 0x3000000/0x3000000 -j DROP
-A LOBBY_IN -d 10.77.0.1/32 -p udp -m udp --dport 53 -j RETURN
-A LOBBY_IN -d 10.77.0.1/32 -p tcp -m tcp --dport 53 -j RETURN
-A LOBBY_IN -d 10.77.0.1/32 -p udp -m udp --dport 2053 -j RETURN
-A LOBBY_IN -d 10.77.0.1/32 -p tcp -m tcp --dport 2053 -j RETURN
-A LOBBY_IN -d 10.77.0.1/32 -p tcp -m tcp --dport 2050 -j RETURN
-A LOBBY_IN -p tcp -m tcp --dport 443 -j REJECT --reject-with tcp-reset
-A LOBBY_IN -j DROP
*nat
:LOBBY_DNAT -
-A PREROUTING -i lan0 -j LOBBY_DNAT
-A LOBBY_DNAT -d 10.77.0.1/32 -p tcp -m mark --mark 0x1000000/0x3000000 -m tcp --dport 80 -j REDIRECT --to-ports 2051
-A LOBBY_DNAT -d 10.77.0.1/32 -p tcp -m mark --mark 0x2000000/0x3000000 -m tcp --dport 80 -j REDIRECT --to-ports 2051
-A LOBBY_DNAT -d 10.77.0.1/32 -p tcp -m mark --mark 0x1000000/0x3000000 -m tcp --dport 443 -j REDIRECT --to-ports 2052
-A LOBBY_DNAT -d 10.77.0.1/32 -p tcp -m mark --mark 0x2000000/0x3000000 -m tcp --dport 443 -j REDIRECT --to-ports 2052
-A LOBBY_DNAT ! -d 10.77.0.1/32 -p udp -m mark --mark 0x0/0x3000000 -m udp --dport 53 -j DNAT --to-destination 10.77.0.1:2053
-A LOBBY_DNAT ! -d 10.77.0.1/32 -p tcp -m mark --mark 0x0/0x3000000 -m tcp --dport 53 -j DNAT --to-destination 10.77.0.1:2053
*raw
:LOBBY_GARDEN -
:LOBBY_MAC -
:LOBBY_PRE -
-A PREROUTING -i lan0 -j LOBBY_PRE
-A LOBBY_GARDEN -d 203.0.113.0/24 -j MARK --set-xmark 0x4000000/0x4000000
-A LOBBY_GARDEN -d 198.51.100.12/32 -j MARK --set-xmark 0x4000000/0x4000000
-A LOBBY_MAC -s 10.77.0.11/32 -m mac --mac-source 02:00:00:00:01:01 -j MARK --set-xmark 0x1000000/0x3000000
-A LOBBY_MAC -m mac --mac-source 02:00:00:00:01:02 -j MARK --set-xmark 0x3000000/0x3000000
-A LOBBY_PRE -j LOBBY_MAC
-A LOBBY_PRE -m mark --mark 0x1000000/0x3000000 -j RETURN
-A LOBBY_PRE -m mark --mark 0x2000000/0x3000000 -j RETURN
-A LOBBY_PRE -j LOBBY_GARDEN
-A LOBBY_PRE -p tcp -m tcp --dport 80 -m mark --mark 0x0/0x4000000 -j DROP
*filter
:LOBBY_DOWN -
:LOBBY_FWD -
:LOBBY_IN -
-A INPUT -i lan0 -j LOBBY_IN
-A FORWARD -o lan0 -j LOBBY_DOWN
-A FORWARD -i lan0 -j LOBBY_FWD
-A LOBBY_DOWN -d fd77::11/128 -j RETURN
-A LOBBY_FWD -m mark --mark 0x1000000/0x3000000 -j RETURN
-A LOBBY_FWD -m mark --mark 0x2000000/0x3000000 -j RETURN
-A LOBBY_FWD -m mark --mark 0x3000000/0x3000000 -j DROP
-A LOBBY_FWD -m mark --mark 0x4000000/0x4000000 -j RETURN
-A LOBBY_FWD -p tcp -m tcp --dport 443 -j REJECT --reject-with tcp-reset
-A LOBBY_FWD -j DROP
-A LOBBY_IN -m mark --mark 0x1000000/0x3000000 -j RETURN
-A LOBBY_IN -m mark --mark 0x2000000/0x3000000 -j RETURN
-A LOBBY_IN -p udp -m udp --dport 67 -j RETURN
-A LOBBY_IN -m mark --mark 0x3000000/0x3000000 -j DROP
-A LOBBY_IN -p ipv6-icmp -m icmp6 --icmpv6-type 133 -j RETURN
-A LOBBY_IN -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j RETURN
-A LOBBY_IN -p ipv6-icmp -m icmp6 --icmpv6-type 136 -j RETURN
-A LOBBY_IN -p tcp -m tcp --dport 443 -j REJECT --reject-with tcp-reset
-A LOBBY_IN -j DROP
*raw
:LOBBY_GARDEN -
:LOBBY_MAC -
:LOBBY_PRE -
-A PREROUTING -i lan0 -j LOBBY_PRE
-A LOBBY_MAC -m mac --mac-source 02:00:00:00:01:02 -j MARK --set-xmark 0x3000000/0x3000000
-A LOBBY_MAC -s fd77::11/128 -m mac --mac-source 02:00:00:00:01:01 -j MARK --set-xmark 0x1000000/0x3000000
-A LOBBY_PRE -j LOBBY_MAC
-A LOBBY_PRE -m mark --mark 0x1000000/0x3000000 -j RETURN
-A LOBBY_PRE -m mark --mark 0x2000000/0x3000000 -j RETURN
-A LOBBY_PRE -j LOBBY_GARDEN
-A LOBBY_PRE -p tcp -m tcp --dport 80 -m mark --mark 0x0/0x4000000 -j DROP`

const emptyIPT = "*filter\n*nat\n*raw\n*filter\n*raw"

func TestIPTRuleset(t *testing.T) {
	needLegacy(t)
	cfg := testConfig(IPTables, func(m *config.Main) {
		m.AllowAddress = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
	})
	r := (&Firewall{cfg: fw(cfg)}).rules()
	a, blocked := mustMAC("02:00:00:00:01:01"), mustMAC("02:00:00:00:01:02")
	ip, ip6 := netip.MustParseAddr("10.77.0.11"), netip.MustParseAddr("fd77::11")
	members := []op{
		{add: true, kind: kindAuth, mac: a, ip: ip},
		{add: true, kind: kindBlocked, mac: blocked},
		{add: true, kind: kindDown4, ip: ip},
		{add: true, kind: kindAuth6, mac: a, ip: ip6},
		{add: true, kind: kindDown6, ip: ip6},
	}
	garden := []gardenElem{{addr: netip.MustParseAddr("198.51.100.12"), ttl: time.Hour}}

	tests := []struct {
		name  string
		force bool
		want  string
	}{
		{"one rule per member", true, wantIPTRules},
		// Where the kernel has the ipset type, the members are set
		// entries behind one rule. This kernel lacks hash:mac, so MACs
		// stay rules here; garden and accounting become ipsets.
		{"ipset where the kernel has it", false, strings.NewReplacer(
			"-A LOBBY_DOWN -d 10.77.0.11/32 -j RETURN", "-A LOBBY_DOWN -m set --match-set lobby_down4 dst -j RETURN",
			"-A LOBBY_DOWN -d fd77::11/128 -j RETURN", "-A LOBBY_DOWN -m set --match-set lobby_down6 dst -j RETURN",
			"-A LOBBY_GARDEN -d 203.0.113.0/24 -j MARK --set-xmark 0x4000000/0x4000000\n-A LOBBY_GARDEN -d 198.51.100.12/32 -j MARK --set-xmark 0x4000000/0x4000000",
			"-A LOBBY_GARDEN -m set --match-set lobby_garden4 dst -j MARK --set-xmark 0x4000000/0x4000000",
		).Replace(wantIPTRules)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each subtest runs on its own goroutine: its own namespace,
			// which the iptables binaries it runs inherit.
			fd := inNetNS(t)
			b, err := newIPT(options{netns: fd, forceRules: tt.force, iptablesSuffix: "-legacy"})
			if err != nil {
				t.Fatal(err)
			}
			// Twice: the second build is over what the first left, as
			// after a crash, and must leave exactly one copy.
			for i := range 2 {
				if err := b.build(r, members, garden); err != nil {
					t.Fatalf("build %d: %v", i, err)
				}
			}
			want := tt.want
			if !tt.force {
				// The IPv6 garden chain also gets its set rule.
				want = strings.Replace(want, ":LOBBY_PRE -\n-A PREROUTING -i lan0 -j LOBBY_PRE\n-A LOBBY_MAC -m mac --mac-source 02:00:00:00:01:02",
					":LOBBY_PRE -\n-A PREROUTING -i lan0 -j LOBBY_PRE\n-A LOBBY_GARDEN -m set --match-set lobby_garden6 dst -j MARK --set-xmark 0x4000000/0x4000000\n-A LOBBY_MAC -m mac --mac-source 02:00:00:00:01:02", 1)
			}
			if got := lobbyRules(t); got != want {
				t.Errorf("rules:\n%s\nwant:\n%s", got, want)
			}
			if !tt.force {
				for set, want := range map[string]int{ipsetGarden4: 2, ipsetDown4: 1, ipsetGarden6: 0, ipsetDown6: 1} {
					res, err := b.nl.IpsetList(set)
					if err != nil {
						t.Fatalf("ipset %s: %v", set, err)
					}
					if len(res.Entries) != want {
						t.Errorf("ipset %s has %d entries, want %d", set, len(res.Entries), want)
					}
				}
			}

			// Sign-out of a, sign-in of another: the member rules or
			// entries follow; counters read back for every member.
			c, ipC := mustMAC("02:00:00:00:01:03"), netip.MustParseAddr("10.77.0.13")
			// a's IPv6 element and download element are read back too.
			r6 := newReadings()
			if err := b.counters(r6); err != nil {
				t.Fatal(err)
			}
			if _, ok := r6.up6[macIP{[6]byte(a), ip6}]; !ok || len(r6.up6) != 1 {
				t.Errorf("counters: IPv6 upload %v, want a . %v alone", r6.up6, ip6)
			}
			if _, ok := r6.down[ip6]; !ok {
				t.Errorf("counters: download %v, want %v among them", r6.down, ip6)
			}
			if err := b.apply([]op{{kind: kindAuth, mac: a, ip: ip}, {kind: kindDown4, ip: ip}, {kind: kindAuth6, mac: a, ip: ip6}, {kind: kindDown6, ip: ip6},
				{add: true, kind: kindAuth, mac: c, ip: ipC}}); err != nil {
				t.Fatal(err)
			}
			got := lobbyRules(t)
			if strings.Contains(got, "02:00:00:00:01:01") || strings.Count(got, "-s 10.77.0.13/32 -m mac --mac-source 02:00:00:00:01:03 -j MARK --set-xmark 0x1000000/0x3000000") != 1 {
				t.Errorf("after signing a out and c in:\n%s", got)
			}
			// c's address changes: the rule follows.
			ipC2 := netip.MustParseAddr("10.77.0.23")
			if err := b.apply([]op{{kind: kindAuth, mac: c, ip: ipC}, {add: true, kind: kindAuth, mac: c, ip: ipC2}}); err != nil {
				t.Fatal(err)
			}
			got = lobbyRules(t)
			if strings.Contains(got, "10.77.0.13") || strings.Count(got, "-s 10.77.0.23/32 -m mac --mac-source 02:00:00:00:01:03 -j MARK --set-xmark 0x1000000/0x3000000") != 1 {
				t.Errorf("after c's address changed:\n%s", got)
			}
			r := newReadings()
			err = b.counters(r)
			up, down := r.up, r.down
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := up[[6]byte(c)]; !ok || len(down) != 0 {
				t.Errorf("counters: up %v, down %v; want c and no address", up, down)
			}

			for i := range 2 {
				if err := b.teardown(); err != nil {
					t.Fatalf("teardown %d: %v", i, err)
				}
				if got := lobbyRules(t); got != emptyIPT {
					t.Errorf("teardown %d left:\n%s", i, got)
				}
			}
			if sets, err := b.nl.IpsetListAll(); err != nil || len(sets) != 0 {
				t.Errorf("ipsets left: %v, %v", sets, err)
			}
		})
	}
}

// The rule-mode garden has no kernel timeouts: expire removes what is due.
func TestIPTGardenExpiry(t *testing.T) {
	needLegacy(t)
	fd := inNetNS(t)
	b, err := newIPT(options{netns: fd, forceRules: true, iptablesSuffix: "-legacy"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.teardown() })
	if err := b.build((&Firewall{cfg: fw(testConfig(IPTables, nil))}).rules(), nil, nil); err != nil {
		t.Fatal(err)
	}
	short, long := netip.MustParseAddr("198.51.100.12"), netip.MustParseAddr("2001:db8:100::12")
	if err := b.allow([]gardenElem{{addr: short, ttl: time.Minute}, {addr: long, ttl: time.Hour}}); err != nil {
		t.Fatal(err)
	}
	if err := b.allow([]gardenElem{{addr: short, ttl: time.Minute}}); err != nil { // again: still one rule
		t.Fatal(err)
	}
	if got := strings.Count(lobbyRules(t), "-A LOBBY_GARDEN"); got != 2 {
		t.Errorf("%d garden rules, want 2:\n%s", got, lobbyRules(t))
	}
	if err := b.expire(time.Now().Add(2 * time.Minute)); err != nil {
		t.Fatal(err)
	}
	got := lobbyRules(t)
	if strings.Contains(got, "198.51.100.12") || !strings.Contains(got, "-A LOBBY_GARDEN -d 2001:db8:100::12/128") {
		t.Errorf("after expiry:\n%s", got)
	}
}

// The Firewall on the iptables backend follows the table the same way.
func TestFirewallIPTables(t *testing.T) {
	needLegacy(t)
	fd := inNetNS(t)
	a := mustMAC("02:00:00:00:01:01")
	cfg := testConfig(IPTables, nil)
	table := newTable(t, new(storetest.Mem), cfg)
	table.Seen(a, netip.MustParseAddr("10.77.0.11"), "")
	f, err := newFirewall(fw(cfg), table, quietLog(), options{netns: fd, iptablesSuffix: "-legacy"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Backend() != IPTables {
		t.Errorf("Backend() = %q", f.Backend())
	}
	// start and the watcher run on this goroutine, in the namespace.
	f.table.Watch(f.onChange)
	if err := f.start(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := table.Auth(ctx, a, table.NewGrant(session.MethodCtl, "", session.Limits{})); err != nil {
		t.Fatal(err)
	}
	rules := lobbyRules(t)
	// By MAC together with the IPv4 address: IPv4 only.
	if n := strings.Count(rules, "-A LOBBY_MAC -s 10.77.0.11/32 -m mac --mac-source 02:00:00:00:01:01 -j MARK --set-xmark 0x1000000/0x3000000"); n != 1 || strings.Count(rules, "02:00:00:00:01:01") != 1 {
		t.Errorf("after auth, %d MAC and address rules (want one, IPv4):\n%s", n, rules)
	}
	// Signed in again from another address (a device that moved): the
	// element follows (a lease alone does not move a session).
	if _, err := table.AuthAt(ctx, a, netip.MustParseAddr("10.77.0.21"), table.NewGrant(session.MethodCtl, "", session.Limits{})); err != nil {
		t.Fatal(err)
	}
	if rules := lobbyRules(t); !strings.Contains(rules, "-A LOBBY_MAC -s 10.77.0.21/32 -m mac --mac-source 02:00:00:00:01:01 -j MARK") || strings.Contains(rules, "10.77.0.11/32 -m mac") {
		t.Errorf("after a sign-in from another address, the rule did not follow:\n%s", rules)
	}
	if _, err := table.Deauth(ctx, a, session.ReasonAdmin); err != nil {
		t.Fatal(err)
	}
	if rules := lobbyRules(t); strings.Contains(rules, "02:00:00:00:01:01") {
		t.Errorf("after deauth:\n%s", rules)
	}
	if err := f.stop(); err != nil {
		t.Fatal(err)
	}
	if got := lobbyRules(t); got != emptyIPT {
		t.Errorf("after stop:\n%s", got)
	}
}

// The admin and DAS ports are dropped for every client, before any rule that lets
// one through, in both families.
func TestIPTAdminPort(t *testing.T) {
	needLegacy(t)
	r := (&Firewall{cfg: fw(testConfig(IPTables, nil))}).rules()
	r.admin, r.das = 8080, 3799
	b, err := newIPT(options{netns: inNetNS(t), forceRules: true, iptablesSuffix: "-legacy"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.build(r, nil, nil); err != nil {
		t.Fatal(err)
	}
	got := lobbyRules(t)
	if n := strings.Count(got, "-A LOBBY_IN -p tcp -m tcp --dport 8080 -j DROP\n-A LOBBY_IN -p udp -m udp --dport 3799 -j DROP\n-A LOBBY_IN -m mark --mark 0x1000000/0x3000000 -j RETURN"); n != 2 {
		t.Errorf("admin drop first in LOBBY_IN of both families: %d times in\n%s", n, got)
	}
	b.teardown()
}
