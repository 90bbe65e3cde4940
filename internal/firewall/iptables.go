package firewall

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The iptables backend classifies a packet once, in the raw table's
// PREROUTING (before conntrack and the kernel's TCP stack), by setting bits
// of the packet mark; every later chain matches the mark. So the per-MAC
// work, which is linear where there is no ipset hash:mac, happens once per
// packet rather than once per table.
const (
	markState   = 0x03000000 // the client's state:
	markAuth    = 0x01000000 //   authenticated
	markTrusted = 0x02000000 //   trusted
	markBlocked = 0x03000000 //   blocked (0: preauth)
	markGarden  = 0x04000000 // the destination is in the walled garden
)

// Chains of the iptables backend, each hooked into a built-in chain by one
// jump (or none: the member chains are jumped to from lobby's own).
const (
	iptPre    = "LOBBY_PRE"    // raw PREROUTING -i IF: classify, drop preauth TCP 80
	iptMAC    = "LOBBY_MAC"    // raw: MAC (and address, for signed-in clients) → state mark (members)
	iptGarden = "LOBBY_GARDEN" // raw: garden destination → garden mark (members)
	iptDNAT   = "LOBBY_DNAT"   // nat PREROUTING -i IF: DNS redirect; the relay goes here too
	iptIn     = "LOBBY_IN"     // filter INPUT -i IF
	iptFwd    = "LOBBY_FWD"    // filter FORWARD -i IF
	iptDown   = "LOBBY_DOWN"   // filter FORWARD -o IF: download accounting (members)
)

// ipsets of the iptables backend, used where the kernel has the type.
const (
	ipsetAuth    = "lobby_auth"    // hash:ip,mac counters: a signed-in client's IPv4 address with its MAC
	ipsetTrusted = "lobby_trusted" // hash:mac counters
	ipsetBlocked = "lobby_blocked" // hash:mac
	ipsetGarden4 = "lobby_garden4" // hash:net timeout
	ipsetGarden6 = "lobby_garden6" // hash:net family inet6 timeout
	ipsetDown4   = "lobby_down4"   // hash:ip counters
	ipsetAuth6   = "lobby_auth6"   // hash:ip,mac family inet6 counters: a signed-in client's learned IPv6 address with its MAC
	ipsetDown6   = "lobby_down6"   // hash:ip family inet6 counters
)

// iptBackend drives iptables and ip6tables through their binaries (the
// legacy path accepts the process launches) and ipsets over netlink.
type iptBackend struct {
	v4, v6     *xtables
	nl         *netlink.Handle
	forceRules bool
	iface      string

	// Which member groups live in an ipset; the others are one rule per
	// member. Decided at each build from what the kernel accepts.
	authSet, macSets, gardenSets, downSets bool
	// gardenUntil is when each rule-mode garden prefix expires (zero:
	// never), since rules have no timeouts.
	gardenUntil map[netip.Prefix]time.Time
}

func newIPT(o options) (*iptBackend, error) {
	v4, err := newXtables("iptables" + o.iptablesSuffix)
	if err != nil {
		return nil, fmt.Errorf("iptables: %w", err)
	}
	v6, err := newXtables("ip6tables" + o.iptablesSuffix)
	if err != nil {
		return nil, fmt.Errorf("ip6tables: %w", err)
	}
	var h *netlink.Handle
	if o.netns != 0 {
		h, err = netlink.NewHandleAt(netns.NsHandle(o.netns), unix.NETLINK_NETFILTER)
	} else {
		h, err = netlink.NewHandle(unix.NETLINK_NETFILTER)
	}
	if err != nil {
		return nil, fmt.Errorf("ipset: opening netlink: %w", err)
	}
	return &iptBackend{v4: v4, v6: v6, nl: h, forceRules: o.forceRules, gardenUntil: map[netip.Prefix]time.Time{}}, nil
}

func (b *iptBackend) name() string { return IPTables }

func (b *iptBackend) detail() string {
	how := func(on bool, set string) string {
		if on {
			return "ipset " + set
		}
		return "rules"
	}
	return fmt.Sprintf("signed in: %s; trusted, blocked: %s; garden: %s; accounting: %s",
		how(b.authSet, "hash:ip,mac"), how(b.macSets, "hash:mac"), how(b.gardenSets, "hash:net"), how(b.downSets, "hash:ip"))
}

// hook is one jump from a built-in chain into lobby's.
type hook struct {
	v6    bool
	table string
	chain string
	spec  []string
}

func (b *iptBackend) hooks() []hook {
	var hs []hook
	for _, v6 := range []bool{false, true} {
		hs = append(hs,
			hook{v6, "raw", "PREROUTING", []string{"-i", b.iface, "-j", iptPre}},
			hook{v6, "filter", "INPUT", []string{"-i", b.iface, "-j", iptIn}},
			hook{v6, "filter", "FORWARD", []string{"-i", b.iface, "-j", iptFwd}},
		)
	}
	return append(hs,
		hook{false, "nat", "PREROUTING", []string{"-i", b.iface, "-j", iptDNAT}},
		hook{false, "filter", "FORWARD", []string{"-o", b.iface, "-j", iptDown}},
		hook{true, "filter", "FORWARD", []string{"-o", b.iface, "-j", iptDown}},
	)
}

// chain is one of lobby's chains in one family's table.
type chain struct {
	v6    bool
	table string
	name  string
}

func allChains() []chain {
	var cs []chain
	for _, v6 := range []bool{false, true} {
		cs = append(cs, chain{v6, "raw", iptPre}, chain{v6, "raw", iptMAC}, chain{v6, "raw", iptGarden},
			chain{v6, "filter", iptIn}, chain{v6, "filter", iptFwd}, chain{v6, "filter", iptDown})
	}
	return append(cs, chain{false, "nat", iptDNAT})
}

func (b *iptBackend) ipt(v6 bool) *xtables {
	if v6 {
		return b.v6
	}
	return b.v4
}

func markMatch(value, mask uint32) []string {
	return []string{"-m", "mark", "--mark", fmt.Sprintf("%#x/%#x", value, mask)}
}

func setMark(value, mask uint32) []string {
	return []string{"-j", "MARK", "--set-xmark", fmt.Sprintf("%#x/%#x", value, mask)}
}

func args(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// fixedRules are the rules of lobby's chains that do not depend on
// clients, in order, for one family. They mirror the nftables ruleset.
func (b *iptBackend) fixedRules(r ruleset, v6 bool) []chainRule {
	ret := []string{"-j", "RETURN"}
	drop := []string{"-j", "DROP"}
	reset := []string{"-p", "tcp", "--dport", "443", "-j", "REJECT", "--reject-with", "tcp-reset"}
	auth, trusted, blocked := markMatch(markAuth, markState), markMatch(markTrusted, markState), markMatch(markBlocked, markState)

	var rs []chainRule
	add := func(table, chain string, spec ...[]string) {
		rs = append(rs, chainRule{table, chain, args(spec...)})
	}
	// raw LOBBY_PRE: classify; spare let-through clients; drop TCP 80 of
	// the others unless it goes to the garden, so that only the raw
	// responder answers it.
	add("raw", iptPre, []string{"-j", iptMAC})
	add("raw", iptPre, auth, ret)
	add("raw", iptPre, trusted, ret)
	add("raw", iptPre, []string{"-j", iptGarden})
	add("raw", iptPre, []string{"-p", "tcp", "--dport", "80"}, markMatch(0, markGarden), drop)

	// A signed-in client is its IPv4 address together with its MAC (SPEC
	// §3, Firewall), and with option ipv6 each learned IPv6 address with
	// its MAC: IPv6 from any other address is never marked authenticated.
	if b.authSet {
		add("raw", iptMAC, []string{"-m", "set", "--match-set", family(v6, ipsetAuth, ipsetAuth6), "src,src"}, setMark(markAuth, markState))
	}
	if b.macSets {
		for _, s := range []struct {
			set  string
			mark uint32
		}{{ipsetTrusted, markTrusted}, {ipsetBlocked, markBlocked}} {
			add("raw", iptMAC, []string{"-m", "set", "--match-set", s.set, "src"}, setMark(s.mark, markState))
		}
	}
	if b.gardenSets {
		set := ipsetGarden4
		if v6 {
			set = ipsetGarden6
		}
		add("raw", iptGarden, []string{"-m", "set", "--match-set", set, "dst"}, setMark(markGarden, markGarden))
	}

	// filter LOBBY_IN: what reaches the router (see preauth_in of the
	// nftables backend); first the admin pages and the DAS port, which no
	// client reaches.
	if r.admin != 0 {
		add("filter", iptIn, []string{"-p", "tcp", "--dport", strconv.Itoa(int(r.admin))}, drop)
	}
	if r.das != 0 {
		add("filter", iptIn, []string{"-p", "udp", "--dport", strconv.Itoa(int(r.das))}, drop)
	}
	add("filter", iptIn, auth, ret)
	add("filter", iptIn, trusted, ret)
	add("filter", iptIn, []string{"-p", "udp", "--dport", "67"}, ret)
	add("filter", iptIn, blocked, drop)
	if !v6 {
		portal := r.portal.String()
		add("filter", iptIn, []string{"-d", portal, "-p", "udp", "--dport", "53"}, ret)
		add("filter", iptIn, []string{"-d", portal, "-p", "tcp", "--dport", "53"}, ret)
		redirect := strconv.Itoa(int(r.dnsRedirect))
		add("filter", iptIn, []string{"-d", portal, "-p", "udp", "--dport", redirect}, ret)
		add("filter", iptIn, []string{"-d", portal, "-p", "tcp", "--dport", redirect}, ret)
		for _, p := range r.ports {
			add("filter", iptIn, []string{"-d", portal, "-p", "tcp", "--dport", strconv.Itoa(int(p))}, ret)
		}
	} else {
		for _, t := range []string{"133", "135", "136"} {
			add("filter", iptIn, []string{"-p", "ipv6-icmp", "--icmpv6-type", t}, ret)
		}
	}
	add("filter", iptIn, reset)
	add("filter", iptIn, drop)

	// filter LOBBY_FWD: what is routed.
	add("filter", iptFwd, auth, ret)
	add("filter", iptFwd, trusted, ret)
	add("filter", iptFwd, blocked, drop)
	add("filter", iptFwd, markMatch(markGarden, markGarden), ret)
	add("filter", iptFwd, reset)
	add("filter", iptFwd, drop)

	if !v6 {
		// nat LOBBY_DNAT: first the relay — a signed-in or trusted
		// client's TCP 80/443 to the portal address goes to the relay
		// (SPEC §3, After sign-in) — then preauth DNS to any other
		// resolver goes to lobby's.
		for _, p := range [][2]uint16{{80, r.relay80}, {443, r.relay443}} {
			if p[1] == 0 {
				continue
			}
			for _, m := range []uint32{markAuth, markTrusted} {
				add("nat", iptDNAT, markMatch(m, markState), []string{"-p", "tcp", "-d", r.portal.String(), "--dport", fmt.Sprint(p[0]),
					"-j", "REDIRECT", "--to-ports", fmt.Sprint(p[1])})
			}
		}
		to := netip.AddrPortFrom(r.portal, r.dnsRedirect).String()
		for _, proto := range []string{"udp", "tcp"} {
			add("nat", iptDNAT, markMatch(0, markState), []string{"-p", proto, "--dport", "53", "!", "-d", r.portal.String(), "-j", "DNAT", "--to-destination", to})
		}
	}
	if b.downSets {
		add("filter", iptDown, []string{"-m", "set", "--match-set", family(v6, ipsetDown4, ipsetDown6), "dst", "-j", "RETURN"})
	}
	return rs
}

// chainRule is one rule in one of lobby's chains.
type chainRule struct {
	table, chain string
	spec         []string
}

// macRule is the rule-mode member rule of a MAC in state mark.
func macRule(mac net.HardwareAddr, mark uint32) []string {
	return args([]string{"-m", "mac", "--mac-source", mac.String()}, setMark(mark, markState))
}

// authRule is the rule-mode member rule of a signed-in client: its IPv4
// address (or a learned IPv6 one) together with its MAC.
func authRule(mac net.HardwareAddr, ip netip.Addr) []string {
	return args([]string{"-s", netip.PrefixFrom(ip, ip.BitLen()).String()}, macRule(mac, markAuth))
}

func gardenRule(p netip.Prefix) []string {
	return args([]string{"-d", p.String()}, setMark(markGarden, markGarden))
}

func downRule(ip netip.Addr) []string {
	return []string{"-d", netip.PrefixFrom(ip, ip.BitLen()).String(), "-j", "RETURN"}
}

func markOf(k kind) uint32 {
	return [...]uint32{markAuth, markTrusted, markBlocked}[k]
}

func ipsetOf(k kind) string {
	return [...]string{ipsetAuth, ipsetTrusted, ipsetBlocked, ipsetDown4}[k]
}

// createSet makes an ipset over netlink; false when the kernel lacks the
// type (THIS is how a kernel without hash:mac falls back to rules).
func (b *iptBackend) createSet(name, typ string, o netlink.IpsetCreateOptions) bool {
	if b.forceRules {
		return false
	}
	return b.nl.IpsetCreate(name, typ, o) == nil
}

func (b *iptBackend) build(r ruleset, members []op, garden []gardenElem) error {
	if err := b.teardown(); err != nil {
		return err
	}
	b.iface = r.iface
	b.gardenUntil = map[netip.Prefix]time.Time{}

	// ipsets, where the kernel has the types.
	var none uint32
	b.authSet = b.createSet(ipsetAuth, "hash:ip,mac", netlink.IpsetCreateOptions{Family: unix.AF_INET, Counters: true}) &&
		b.createSet(ipsetAuth6, "hash:ip,mac", netlink.IpsetCreateOptions{Family: unix.AF_INET6, Counters: true})
	b.macSets = b.createSet(ipsetTrusted, "hash:mac", netlink.IpsetCreateOptions{Counters: true})
	if b.macSets {
		b.macSets = b.createSet(ipsetBlocked, "hash:mac", netlink.IpsetCreateOptions{})
	}
	b.gardenSets = b.createSet(ipsetGarden4, "hash:net", netlink.IpsetCreateOptions{Family: unix.AF_INET, Timeout: &none}) &&
		b.createSet(ipsetGarden6, "hash:net", netlink.IpsetCreateOptions{Family: unix.AF_INET6, Timeout: &none})
	b.downSets = b.createSet(ipsetDown4, "hash:ip", netlink.IpsetCreateOptions{Family: unix.AF_INET, Counters: true}) &&
		b.createSet(ipsetDown6, "hash:ip", netlink.IpsetCreateOptions{Family: unix.AF_INET6, Counters: true})

	for _, c := range allChains() {
		if err := b.ipt(c.v6).NewChain(c.table, c.name); err != nil {
			return fmt.Errorf("creating chain %s in table %s: %w", c.name, c.table, err)
		}
	}
	for _, v6 := range []bool{false, true} {
		for _, cr := range b.fixedRules(r, v6) {
			if err := b.ipt(v6).Append(cr.table, cr.chain, cr.spec...); err != nil {
				return fmt.Errorf("chain %s of table %s: %w", cr.chain, cr.table, err)
			}
		}
	}
	for _, p := range r.garden {
		if err := b.addGarden(p, 0); err != nil {
			return err
		}
	}
	if err := b.allow(garden); err != nil {
		return err
	}
	if err := b.apply(members); err != nil {
		return err
	}
	// The hooks last: until now nothing of the above saw a packet.
	for _, h := range b.hooks() {
		if err := b.ipt(h.v6).Insert(h.table, h.chain, 1, h.spec...); err != nil {
			return fmt.Errorf("hooking %s into %s of table %s: %w", h.spec[len(h.spec)-1], h.chain, h.table, err)
		}
	}
	return nil
}

func (b *iptBackend) apply(ops []op) error {
	for _, del := range []bool{true, false} {
		for _, o := range ops {
			if o.add == del {
				continue
			}
			if err := b.member(o); err != nil {
				verb := "adding"
				if del {
					verb = "deleting"
				}
				return fmt.Errorf("%s %s member %s: %w", verb, o.kind, memberName(o), err)
			}
		}
	}
	return nil
}

func memberName(o op) string {
	switch o.kind {
	case kindDown4, kindDown6:
		return o.ip.String()
	case kindAuth, kindAuth6:
		return o.mac.String() + " . " + o.ip.String()
	}
	return o.mac.String()
}

// member adds or deletes one member: an ipset entry, or its rules.
func (b *iptBackend) member(o op) error {
	v6 := o.ip.Is6()
	switch o.kind {
	case kindDown4, kindDown6:
		if b.downSets {
			return b.setEntry(o.add, family(v6, ipsetDown4, ipsetDown6), &netlink.IPSetEntry{IP: o.ip.AsSlice()})
		}
		return b.rule(o.add, v6, "filter", iptDown, downRule(o.ip))
	case kindAuth, kindAuth6:
		if b.authSet {
			return b.setEntry(o.add, family(v6, ipsetAuth, ipsetAuth6), &netlink.IPSetEntry{IP: o.ip.AsSlice(), MAC: o.mac})
		}
		return b.rule(o.add, v6, "raw", iptMAC, authRule(o.mac, o.ip))
	}
	if b.macSets {
		return b.setEntry(o.add, ipsetOf(o.kind), &netlink.IPSetEntry{MAC: o.mac})
	}
	spec := macRule(o.mac, markOf(o.kind))
	return errors.Join(b.rule(o.add, false, "raw", iptMAC, spec), b.rule(o.add, true, "raw", iptMAC, spec))
}

// family picks the IPv4 or the IPv6 one of two names.
func family(v6 bool, v4name, v6name string) string {
	if v6 {
		return v6name
	}
	return v4name
}

func (b *iptBackend) setEntry(add bool, set string, e *netlink.IPSetEntry) error {
	if add {
		e.Replace = true // like ipset -exist: no error for an entry already there
		return b.nl.IpsetAdd(set, e)
	}
	return b.nl.IpsetDel(set, e)
}

// rule appends or deletes a member rule, which its options -s, -d and
// --mac-source name. The Firewall never adds a member twice. A deletion
// finds the rule's number in the listing itself: ip6tables-legacy 1.8.9
// compares the mac match wrongly in -C and -D and would take one MAC's
// rule for another's.
func (b *iptBackend) rule(add, v6 bool, table, chain string, spec []string) error {
	ipt := b.ipt(v6)
	if add {
		return ipt.Append(table, chain, spec...)
	}
	key := memberKey(spec)
	lines, err := ipt.List(table, chain)
	if err != nil {
		return err
	}
	n := 0
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != "-A" {
			continue
		}
		n++
		if memberKey(f[2:]) == key {
			return ipt.DeleteById(table, chain, n)
		}
	}
	return nil // not there: nothing to delete
}

// memberKey is what names a member rule: the values of its -s, -d and
// --mac-source options, as `iptables -S` prints them (MACs compared
// without regard to case).
func memberKey(spec []string) string {
	var k strings.Builder
	for i := 0; i+1 < len(spec); i++ {
		switch spec[i] {
		case "-s", "-d", "--mac-source":
			k.WriteString(spec[i] + " " + strings.ToLower(spec[i+1]) + " ")
			i++
		}
	}
	return k.String()
}

func (b *iptBackend) allow(elems []gardenElem) error {
	for _, g := range elems {
		if err := b.addGarden(netip.PrefixFrom(g.addr, g.addr.BitLen()), g.ttl); err != nil {
			return err
		}
	}
	return nil
}

// addGarden opens p for ttl (0: for good).
func (b *iptBackend) addGarden(p netip.Prefix, ttl time.Duration) error {
	v6 := p.Addr().Is6()
	if b.gardenSets {
		set := ipsetGarden4
		if v6 {
			set = ipsetGarden6
		}
		secs := uint32(ttl / time.Second)
		e := &netlink.IPSetEntry{IP: p.Addr().AsSlice(), CIDR: uint8(p.Bits()), Timeout: &secs}
		if err := b.setEntry(true, set, e); err != nil {
			return fmt.Errorf("adding %s to ipset %s: %w", p, set, err)
		}
		return nil
	}
	until, known := b.gardenUntil[p]
	switch {
	case known && until.IsZero():
		return nil // permanent already
	case ttl == 0:
		b.gardenUntil[p] = time.Time{}
	default:
		b.gardenUntil[p] = time.Now().Add(ttl)
	}
	if known {
		return nil
	}
	if err := b.rule(true, v6, "raw", iptGarden, gardenRule(p)); err != nil {
		return fmt.Errorf("adding %s to chain %s: %w", p, iptGarden, err)
	}
	return nil
}

func (b *iptBackend) expire(now time.Time) error {
	var errs []error
	for p, until := range b.gardenUntil {
		if until.IsZero() || until.After(now) {
			continue
		}
		delete(b.gardenUntil, p)
		errs = append(errs, b.rule(false, p.Addr().Is6(), "raw", iptGarden, gardenRule(p)))
	}
	return errors.Join(errs...)
}

func (b *iptBackend) counters(r *readings) error {
	var sets []string
	if b.authSet {
		sets = append(sets, ipsetAuth, ipsetAuth6)
	}
	if b.macSets {
		sets = append(sets, ipsetTrusted)
	}
	for _, set := range sets {
		res, err := b.nl.IpsetList(set)
		if err != nil {
			return fmt.Errorf("listing ipset %s: %w", set, err)
		}
		for _, e := range res.Entries {
			if len(e.MAC) != 6 || e.Bytes == nil {
				continue
			}
			if set == ipsetAuth6 {
				if a, ok := netip.AddrFromSlice(e.IP); ok {
					r.up6[macIP{[6]byte(e.MAC), a}] = *e.Bytes
				}
				continue
			}
			r.up[[6]byte(e.MAC)] += *e.Bytes
		}
	}
	if !b.authSet || !b.macSets {
		for _, v6 := range []bool{false, true} {
			lines, err := b.ipt(v6).ListWithCounters("raw", iptMAC)
			if err != nil {
				return fmt.Errorf("listing chain %s: %w", iptMAC, err)
			}
			for _, l := range lines {
				mac, n, ok := ruleCounter(l, "--mac-source")
				hw, err := net.ParseMAC(mac)
				if !ok || err != nil || len(hw) != 6 {
					continue
				}
				// A signed-in client's IPv6 rule counts as its own
				// element (one of several, which come and go).
				if src, _, ok := ruleCounter(l, "-s"); ok && v6 {
					if p, err := netip.ParsePrefix(src); err == nil {
						r.up6[macIP{[6]byte(hw), p.Addr()}] = n
					}
					continue
				}
				r.up[[6]byte(hw)] += n
			}
		}
	}
	for _, v6 := range []bool{false, true} {
		if b.downSets {
			set := family(v6, ipsetDown4, ipsetDown6)
			res, err := b.nl.IpsetList(set)
			if err != nil {
				return fmt.Errorf("listing ipset %s: %w", set, err)
			}
			for _, e := range res.Entries {
				if a, ok := netip.AddrFromSlice(e.IP); ok && e.Bytes != nil {
					r.down[a.Unmap()] = *e.Bytes
				}
			}
			continue
		}
		lines, err := b.ipt(v6).ListWithCounters("filter", iptDown)
		if err != nil {
			return fmt.Errorf("listing chain %s: %w", iptDown, err)
		}
		for _, l := range lines {
			if dst, n, ok := ruleCounter(l, "-d"); ok {
				if p, err := netip.ParsePrefix(dst); err == nil {
					r.down[p.Addr()] = n
				}
			}
		}
	}
	return nil
}

// ruleCounter reads one line of `iptables -v -S CHAIN`, such as
//
//	-A LOBBY_DOWN -d 10.77.0.11/32 -c 12 3456 -j RETURN
//
// and returns the value of option opt and the rule's byte count.
func ruleCounter(line, opt string) (value string, bytes uint64, ok bool) {
	f := strings.Fields(line)
	var haveValue, haveBytes bool
	for i := 0; i < len(f); i++ {
		switch {
		case f[i] == opt && i+1 < len(f):
			value, haveValue = f[i+1], true
			i++
		case f[i] == "-c" && i+2 < len(f):
			n, err := strconv.ParseUint(f[i+2], 10, 64)
			if err != nil {
				return "", 0, false
			}
			bytes, haveBytes = n, true
			i += 2
		}
	}
	return value, bytes, haveValue && haveBytes
}

// teardown removes the hooks (every copy: a crashed lobby may have left
// some), then lobby's chains, then its ipsets, which rules may no longer
// reference by then.
func (b *iptBackend) teardown() error {
	var errs []error
	for _, h := range b.hooksAnyIface() {
		ipt := b.ipt(h.v6)
		for range 100 {
			ok, err := ipt.Exists(h.table, h.chain, h.spec...)
			if err != nil || !ok {
				break
			}
			if err := ipt.Delete(h.table, h.chain, h.spec...); err != nil {
				errs = append(errs, err)
				break
			}
		}
	}
	var present []chain
	for _, c := range allChains() {
		ok, err := b.ipt(c.v6).ChainExists(c.table, c.name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			present = append(present, c)
			if err := b.ipt(c.v6).ClearChain(c.table, c.name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, c := range present {
		if err := b.ipt(c.v6).DeleteChain(c.table, c.name); err != nil {
			errs = append(errs, fmt.Errorf("deleting chain %s of table %s: %w", c.name, c.table, err))
		}
	}
	for _, s := range []string{ipsetAuth, ipsetAuth6, ipsetTrusted, ipsetBlocked, ipsetGarden4, ipsetGarden6, ipsetDown4, ipsetDown6} {
		if err := b.nl.IpsetDestroy(s); err != nil && !isNoSet(err) {
			errs = append(errs, fmt.Errorf("destroying ipset %s: %w", s, err))
		}
	}
	return errors.Join(errs...)
}

// hooksAnyIface lists the jumps into lobby's chains found in the built-in
// chains, whatever interface they name: a lobby that crashed may have run
// with another option interface.
func (b *iptBackend) hooksAnyIface() []hook {
	var out []hook
	for _, h := range []hook{
		{false, "raw", "PREROUTING", nil}, {true, "raw", "PREROUTING", nil},
		{false, "nat", "PREROUTING", nil},
		{false, "filter", "INPUT", nil}, {true, "filter", "INPUT", nil},
		{false, "filter", "FORWARD", nil}, {true, "filter", "FORWARD", nil},
	} {
		lines, err := b.ipt(h.v6).List(h.table, h.chain)
		if err != nil {
			continue
		}
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) < 4 || f[0] != "-A" || !strings.HasPrefix(f[len(f)-1], "LOBBY_") || f[len(f)-2] != "-j" {
				continue
			}
			out = append(out, hook{h.v6, h.table, h.chain, f[2:]})
		}
	}
	return out
}

// isNoSet tells the error of destroying an ipset that does not exist,
// or of a kernel without ipset at all.
func isNoSet(err error) bool {
	return strings.Contains(err.Error(), "does not exist") || errors.Is(err, unix.ENOENT) ||
		errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EOPNOTSUPP)
}
