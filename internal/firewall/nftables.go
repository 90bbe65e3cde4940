package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// tableName is lobby's nftables table, in the inet family (IPv4 and IPv6
// in one). Nothing else is touched, so OpenWrt's fw4 (`inet fw4`) and a
// reload of it leave ours alone.
const tableName = "lobby"

// Set names of the nftables backend.
const (
	setAuth       = "auth"        // ether_addr . ipv4_addr, counter: signed-in clients
	setTrusted    = "trusted"     // ether_addr, counter: trusted_mac and ctl trust
	setBlocked    = "blocked"     // ether_addr: blocked_mac and ctl block
	setDown4      = "down4"       // ipv4_addr, counter: let-through clients' IPv4, download accounting
	setAuth6      = "auth6"       // ether_addr . ipv6_addr, counter: signed-in clients' learned IPv6 (option ipv6)
	setDown6      = "down6"       // ipv6_addr, counter: let-through clients' learned IPv6, download accounting
	setGarden4    = "garden4"     // ipv4_addr, interval: allow_address
	setGarden4DNS = "garden4_dns" // ipv4_addr, timeout: allow_domain answers
	setGarden6    = "garden6"     // ipv6_addr, interval: allow_address
	setGarden6DNS = "garden6_dns" // ipv6_addr, timeout: allow_domain answers
)

// Chain names of the nftables backend. The later relay of signed-in
// clients' TCP 80/443 to the portal address (SPEC §3, After sign-in) goes at
// the top of dstnat; docs/firewall.md shows the rule.
const (
	chainPrerouting = "prerouting"  // filter, prerouting, priority raw: TCP 80 of preauth clients
	chainHold80     = "hold80"      // TCP 80 of clients not let through: dropped unless to the garden
	chainDstnat     = "dstnat"      // nat, prerouting, priority dstnat: DNS redirect
	chainInput      = "input"       // filter, input: what reaches the router
	chainOutput     = "output"      // filter, output, priority raw: DNS answers untracked
	chainForward    = "forward"     // filter, forward: what is routed, and accounting
	chainPreauthIn  = "preauth_in"  // input of clients not let through
	chainPreauthFwd = "preauth_fwd" // forward of clients not let through
)

// elemChunk bounds the elements of one netlink message: a message's
// element list is one attribute, whose length is 16 bits.
const elemChunk = 1024

// nftBackend talks to nf_tables over netlink; no nft binary is needed.
type nftBackend struct {
	tx  *nftables.Conn // lasting: every change, under the Firewall's lock
	ctr *counterReader // counter dumps, which run unlocked (from one goroutine)
	t   *nftables.Table
}

func newNFT(o options) (*nftBackend, error) {
	var opts []nftables.ConnOption
	if o.netns != 0 {
		opts = append(opts, nftables.WithNetNSFd(o.netns))
	}
	rd, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	// Probe: a kernel without nf_tables (or a process without
	// CAP_NET_ADMIN) fails here, before anything changes.
	if _, err := rd.ListTablesOfFamily(nftables.TableFamilyINet); err != nil {
		if errors.Is(err, syscall.EPERM) {
			return nil, fmt.Errorf("nftables: %w (lobby needs root or CAP_NET_ADMIN)", err)
		}
		return nil, fmt.Errorf("nftables: the kernel does not answer (no nf_tables?): %w", err)
	}
	// A build with 10,000 clients is one batch larger than the default
	// socket buffer; the batch must stay one transaction.
	opts = append(opts, nftables.AsLasting(), nftables.WithSockOptions(bigSendBuffer))
	tx, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	ctr, err := newCounterReader(o.netns)
	if err != nil {
		return nil, err
	}
	return &nftBackend{tx: tx, ctr: ctr, t: &nftables.Table{Name: tableName, Family: nftables.TableFamilyINet}}, nil
}

// bigSendBuffer lets one batch carry the whole ruleset with every client
// (about 25 bytes each). SO_SNDBUFFORCE passes net.core.wmem_max, as nft
// itself does for large rulesets.
func bigSendBuffer(c *netlink.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 16<<20)
	})
	return errors.Join(err, serr)
}

func (n *nftBackend) name() string { return NFTables }

func (n *nftBackend) detail() string { return "table inet " + tableName }

// sets returns lobby's sets, fresh for one batch.
func (n *nftBackend) sets() map[string]*nftables.Set {
	mk := func(name string, key nftables.SetDatatype, f func(*nftables.Set)) *nftables.Set {
		s := &nftables.Set{Table: n.t, Name: name, KeyType: key}
		if f != nil {
			f(s)
		}
		return s
	}
	counter := func(s *nftables.Set) { s.Counter = true }
	interval := func(s *nftables.Set) { s.Interval = true }
	timeout := func(s *nftables.Set) { s.HasTimeout = true }
	return map[string]*nftables.Set{
		setAuth: mk(setAuth, nftables.MustConcatSetType(nftables.TypeEtherAddr, nftables.TypeIPAddr), func(s *nftables.Set) {
			s.Counter, s.Concatenation = true, true
		}),
		setTrusted: mk(setTrusted, nftables.TypeEtherAddr, counter),
		setBlocked: mk(setBlocked, nftables.TypeEtherAddr, nil),
		setDown4:   mk(setDown4, nftables.TypeIPAddr, counter),
		setAuth6: mk(setAuth6, nftables.MustConcatSetType(nftables.TypeEtherAddr, nftables.TypeIP6Addr), func(s *nftables.Set) {
			s.Counter, s.Concatenation = true, true
		}),
		setDown6:      mk(setDown6, nftables.TypeIP6Addr, counter),
		setGarden4:    mk(setGarden4, nftables.TypeIPAddr, interval),
		setGarden4DNS: mk(setGarden4DNS, nftables.TypeIPAddr, timeout),
		setGarden6:    mk(setGarden6, nftables.TypeIP6Addr, interval),
		setGarden6DNS: mk(setGarden6DNS, nftables.TypeIP6Addr, timeout),
	}
}

// setFor is the set that holds members of kind k.
func setFor(k kind) string {
	return [...]string{setAuth, setTrusted, setBlocked, setDown4, setAuth6, setDown6}[k]
}

func opKey(o op) []byte {
	switch o.kind {
	case kindDown4, kindDown6:
		return o.ip.AsSlice()
	case kindAuth, kindAuth6:
		// ether_addr . ipv4_addr (or ipv6_addr): each field padded to 4
		// bytes, as the registers that the rule loads them into are.
		return append(append(append([]byte(nil), o.mac...), 0, 0), o.ip.AsSlice()...)
	}
	return []byte(o.mac)
}

// build replaces table inet lobby in one transaction: add (so that the
// delete cannot fail), delete, add anew with everything. A lobby that
// crashed left its table behind; clients kept being served by it until
// this very transaction.
func (n *nftBackend) build(r ruleset, members []op, garden []gardenElem) error {
	c := n.tx
	c.AddTable(n.t)
	c.DelTable(n.t)
	c.AddTable(n.t)
	sets := n.sets()
	elems := map[string][]nftables.SetElement{}
	for _, m := range members {
		name := setFor(m.kind)
		elems[name] = append(elems[name], nftables.SetElement{Key: opKey(m)})
	}
	for _, p := range r.garden {
		name := setGarden4
		if p.Addr().Is6() {
			name = setGarden6
		}
		elems[name] = append(elems[name], intervalElems(p)...)
	}
	for _, g := range garden {
		name := gardenDNSSet(g.addr)
		elems[name] = append(elems[name], nftables.SetElement{Key: g.addr.AsSlice(), Timeout: g.ttl})
	}
	for _, name := range []string{setAuth, setTrusted, setBlocked, setDown4, setAuth6, setDown6, setGarden4, setGarden4DNS, setGarden6, setGarden6DNS} {
		s := sets[name]
		if err := c.AddSet(s, nil); err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
		if err := addChunked(c, s, elems[name]); err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
	}
	for _, ch := range nftChains(r, sets) {
		chain := c.AddChain(&nftables.Chain{Name: ch.name, Table: n.t, Type: ch.typ, Hooknum: ch.hook, Priority: ch.prio, Policy: ch.policy})
		for _, exprs := range ch.rules {
			c.AddRule(&nftables.Rule{Table: n.t, Chain: chain, Exprs: exprs})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("loading table inet %s: %w", tableName, err)
	}
	return nil
}

func addChunked(c *nftables.Conn, s *nftables.Set, elems []nftables.SetElement) error {
	for len(elems) > 0 {
		n := min(len(elems), elemChunk)
		if err := c.SetAddElements(s, elems[:n]); err != nil {
			return err
		}
		elems = elems[n:]
	}
	return nil
}

func gardenDNSSet(a netip.Addr) string {
	if a.Is4() {
		return setGarden4DNS
	}
	return setGarden6DNS
}

// intervalElems is prefix p as an interval-set range: its first address,
// and the address after its last marked as the end (none when p runs to
// the top of the address space).
func intervalElems(p netip.Prefix) []nftables.SetElement {
	first := p.Masked().Addr()
	out := []nftables.SetElement{{Key: first.AsSlice()}}
	if end := lastAddr(p).Next(); end.IsValid() {
		out = append(out, nftables.SetElement{Key: end.AsSlice(), IntervalEnd: true})
	}
	return out
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func (n *nftBackend) apply(ops []op) error {
	sets := n.sets()
	// Deletions first: a client moving from one set to another is never in
	// both, nor in neither for longer than this one transaction.
	for _, del := range []bool{true, false} {
		for _, o := range ops {
			if o.add == del {
				continue
			}
			s := sets[setFor(o.kind)]
			e := []nftables.SetElement{{Key: opKey(o)}}
			var err error
			if del {
				err = n.tx.SetDeleteElements(s, e)
			} else {
				err = n.tx.SetAddElements(s, e)
			}
			if err != nil {
				return err
			}
		}
	}
	if err := n.tx.Flush(); err != nil {
		return fmt.Errorf("changing sets of table inet %s: %w", tableName, err)
	}
	return nil
}

// allow adds each address with its timeout. An element already in the set
// keeps its old timeout when added again (before Linux 6.12), so every
// address is added, deleted and added again in the one transaction: the
// first add makes the delete safe whether or not the element had expired.
func (n *nftBackend) allow(elems []gardenElem) error {
	sets := n.sets()
	for _, set := range []string{setGarden4DNS, setGarden6DNS} {
		var es []nftables.SetElement
		for _, g := range elems {
			if gardenDNSSet(g.addr) == set {
				es = append(es, nftables.SetElement{Key: g.addr.AsSlice(), Timeout: g.ttl})
			}
		}
		if len(es) == 0 {
			continue
		}
		s := sets[set]
		if err := addChunked(n.tx, s, es); err != nil {
			return err
		}
		for i := 0; i < len(es); i += elemChunk {
			if err := n.tx.SetDeleteElements(s, es[i:min(i+elemChunk, len(es))]); err != nil {
				return err
			}
		}
		if err := addChunked(n.tx, s, es); err != nil {
			return err
		}
	}
	if err := n.tx.Flush(); err != nil {
		return fmt.Errorf("adding to the walled garden of table inet %s: %w", tableName, err)
	}
	return nil
}

func (n *nftBackend) counters(r *readings) error {
	for _, name := range []string{setAuth, setTrusted} {
		err := n.ctr.read(tableName, name, func(key []byte, bytes uint64) {
			if len(key) >= 6 { // ether_addr keys are padded to 8 bytes
				r.up[[6]byte(key)] = bytes
			}
		})
		if err != nil {
			return fmt.Errorf("reading set %s: %w", name, err)
		}
	}
	err := n.ctr.read(tableName, setAuth6, func(key []byte, bytes uint64) {
		if len(key) == 24 { // ether_addr padded to 8 bytes . ipv6_addr
			r.up6[macIP{[6]byte(key), netip.AddrFrom16([16]byte(key[8:]))}] = bytes
		}
	})
	if err != nil {
		return fmt.Errorf("reading set %s: %w", setAuth6, err)
	}
	for _, name := range []string{setDown4, setDown6} {
		err := n.ctr.read(tableName, name, func(key []byte, bytes uint64) {
			if a, ok := netip.AddrFromSlice(key); ok {
				r.down[a] = bytes
			}
		})
		if err != nil {
			return fmt.Errorf("reading set %s: %w", name, err)
		}
	}
	return nil
}

// expire has nothing to do: the kernel times garden elements out itself.
func (n *nftBackend) expire(time.Time) error { return nil }

func (n *nftBackend) teardown() error {
	// Add before delete, so a table that is already gone is no error.
	n.tx.AddTable(n.t)
	n.tx.DelTable(n.t)
	if err := n.tx.Flush(); err != nil {
		return fmt.Errorf("deleting table inet %s: %w", tableName, err)
	}
	return nil
}

// nftChain is one chain of the ruleset with its rules.
type nftChain struct {
	name   string
	typ    nftables.ChainType
	hook   *nftables.ChainHook
	prio   *nftables.ChainPriority
	policy *nftables.ChainPolicy
	rules  [][]expr.Any
}

// nftChains is the whole ruleset; docs/firewall.md has it in nft syntax.
// Lookups that must not count (every one outside forward) are negated:
// the kernel bumps an element's counter only on a positive match, so each
// forwarded packet is counted once, in forward.
func nftChains(r ruleset, sets map[string]*nftables.Set) []nftChain {
	accept := nftables.ChainPolicyAccept
	in := cat(iifname(r.iface), isEther())
	// A signed-in client is its MAC together with its IPv4 address, and
	// with option ipv6 with each IPv6 address learned for it (auth6, empty
	// without the option): IPv6 from a signed-in MAC and another address
	// is not let through (docs/firewall.md).
	v4 := nfproto(unix.NFPROTO_IPV4)
	v6 := nfproto(unix.NFPROTO_IPV6)
	notAuth := etherIPSaddr(sets[setAuth], true)
	notAuth6 := etherIP6Saddr(sets[setAuth6], true)
	notTrusted := etherSaddr(sets[setTrusted], true)
	portal := r.portal.AsSlice()

	// prerouting, before conntrack and the kernel's TCP stack: TCP 80 of a
	// client that is not let through is dropped here, so that only the raw
	// responder (an AF_PACKET socket, which sees the packet before
	// netfilter) answers it. Walled-garden destinations are spared.
	//
	// First, though, DNS to the portal address leaves connection tracking
	// (and output does the same for the answers): a resolver needs no
	// state, and a tracked query holds a conntrack entry for 30 s or more,
	// so a busy venue's DNS alone would fill the table and cost every
	// query a lookup. DNS redirected from other resolvers is tracked, on
	// its own port (dstnat below), since its answers must be translated
	// back.
	//
	// Every packet the router receives passes here, a signed-in client's
	// and the internet's answers to it alike, so the chain is short: one
	// interface comparison lets the WAN side go, and the rest each stop at
	// their first comparison for most traffic.
	dns := cat(nfproto(unix.NFPROTO_IPV4), l4proto(unix.IPPROTO_UDP))
	raw := [][]expr.Any{
		cat(metaCmp(expr.MetaKeyIIFNAME, expr.CmpOpNeq, ifname(r.iface)), verdict(expr.VerdictAccept)),
		cat(dns, dport(53), ip4DaddrCmp(expr.CmpOpEq, portal), notrack()),
		cat(v4, l4proto(unix.IPPROTO_TCP), dport(80), isEther(), notAuth, notTrusted, jump(chainHold80)),
		cat(v6, l4proto(unix.IPPROTO_TCP), dport(80), isEther(), notAuth6, notTrusted, jump(chainHold80)),
	}
	hold80 := [][]expr.Any{
		cat(nfproto(unix.NFPROTO_IPV4), ip4Daddr(sets[setGarden4], false), verdict(expr.VerdictReturn)),
		cat(nfproto(unix.NFPROTO_IPV4), ip4Daddr(sets[setGarden4DNS], false), verdict(expr.VerdictReturn)),
		cat(nfproto(unix.NFPROTO_IPV6), ip6Daddr(sets[setGarden6], false), verdict(expr.VerdictReturn)),
		cat(nfproto(unix.NFPROTO_IPV6), ip6Daddr(sets[setGarden6DNS], false), verdict(expr.VerdictReturn)),
		verdict(expr.VerdictDrop),
	}

	// dstnat: DNS that a preauth client sends to any other resolver is
	// answered by lobby's (SPEC §3, DNS).
	var dnat [][]expr.Any
	// First the relay: a signed-in client's TCP 80 and 443 to the portal
	// address (a browser still holding the hijacked DNS answer) goes to
	// the relay, which carries it to the site the client meant. These
	// lookups count only a connection's first packet (nat sees no more).
	for _, p := range [][2]uint16{{80, r.relay80}, {443, r.relay443}} {
		if p[1] == 0 {
			continue
		}
		for _, set := range []string{setAuth, setTrusted} {
			dnat = append(dnat, cat(in, nfproto(unix.NFPROTO_IPV4), ip4DaddrCmp(expr.CmpOpEq, portal),
				l4proto(unix.IPPROTO_TCP), dport(p[0]), clientIs(sets[set]),
				[]expr.Any{
					&expr.Immediate{Register: 1, Data: be16(p[1])},
					&expr.Redir{RegisterProtoMin: 1},
				}))
		}
	}
	for _, proto := range []byte{unix.IPPROTO_UDP, unix.IPPROTO_TCP} {
		dnat = append(dnat, cat(in, nfproto(unix.NFPROTO_IPV4), l4proto(proto), dport(53),
			ip4DaddrCmp(expr.CmpOpNeq, portal), notAuth, notTrusted, etherSaddr(sets[setBlocked], true),
			[]expr.Any{
				&expr.Immediate{Register: 1, Data: portal},
				&expr.Immediate{Register: 2, Data: be16(r.dnsRedirect)},
				&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2},
			}))
	}

	// input: DNS to the portal address first, the busiest traffic to the
	// router, at the cost of one lookup: every client but a blocked one
	// asks there.
	var input [][]expr.Any
	if r.admin != 0 {
		// The admin pages: no client reaches them, on any address.
		input = append(input, cat(iifname(r.iface), l4proto(unix.IPPROTO_TCP), dport(r.admin), verdict(expr.VerdictDrop)))
	}
	if r.das != 0 {
		// The RADIUS DAS port: only das_client addresses, never a client.
		input = append(input, cat(iifname(r.iface), l4proto(unix.IPPROTO_UDP), dport(r.das), verdict(expr.VerdictDrop)))
	}
	input = append(input,
		cat(in, dns, ip4DaddrCmp(expr.CmpOpEq, portal), dport(53), etherSaddr(sets[setBlocked], true), verdict(expr.VerdictAccept)),
		cat(in, v4, notAuth, notTrusted, jump(chainPreauthIn)),
		cat(in, v6, notAuth6, notTrusted, jump(chainPreauthIn)),
	)
	output := [][]expr.Any{
		cat(oifname(r.iface), dns, ip4SaddrCmp(portal), sport(53), notrack()),
	}
	// preauth_in: DHCP for everyone (RFC 2131 §4.1: servers receive on
	// port 67), nothing else for blocked clients; DNS and the portal on the
	// portal address; IPv6 neighbour discovery (RFC 4861 §4.1, §4.3, §4.4)
	// so the link works; TCP 443 refused at once; the rest dropped.
	preIn := [][]expr.Any{
		cat(l4proto(unix.IPPROTO_UDP), dport(67), verdict(expr.VerdictReturn)),
		cat(isEther(), etherSaddr(sets[setBlocked], false), verdict(expr.VerdictDrop)),
		cat(nfproto(unix.NFPROTO_IPV4), ip4DaddrCmp(expr.CmpOpEq, portal), l4proto(unix.IPPROTO_UDP), dport(53), verdict(expr.VerdictReturn)),
		cat(nfproto(unix.NFPROTO_IPV4), ip4DaddrCmp(expr.CmpOpEq, portal), l4proto(unix.IPPROTO_TCP), dport(53), verdict(expr.VerdictReturn)),
		cat(nfproto(unix.NFPROTO_IPV4), ip4DaddrCmp(expr.CmpOpEq, portal), l4proto(unix.IPPROTO_UDP), dport(r.dnsRedirect), verdict(expr.VerdictReturn)),
		cat(nfproto(unix.NFPROTO_IPV4), ip4DaddrCmp(expr.CmpOpEq, portal), l4proto(unix.IPPROTO_TCP), dport(r.dnsRedirect), verdict(expr.VerdictReturn)),
	}
	for _, p := range r.ports {
		preIn = append(preIn, cat(nfproto(unix.NFPROTO_IPV4), ip4DaddrCmp(expr.CmpOpEq, portal), l4proto(unix.IPPROTO_TCP), dport(p), verdict(expr.VerdictReturn)))
	}
	for _, t := range []byte{133, 135, 136} { // router solicitation, neighbour solicitation, advertisement
		preIn = append(preIn, cat(nfproto(unix.NFPROTO_IPV6), l4proto(unix.IPPROTO_ICMPV6), icmpv6Type(t), verdict(expr.VerdictReturn)))
	}
	preIn = append(preIn,
		cat(l4proto(unix.IPPROTO_TCP), dport(443), tcpReset()),
		verdict(expr.VerdictDrop))

	// forward: the positive lookups here are the ones that count bytes.
	forward := [][]expr.Any{
		cat(oifname(r.iface), nfproto(unix.NFPROTO_IPV4), ip4Daddr(sets[setDown4], false), verdict(expr.VerdictReturn)),
		cat(oifname(r.iface), v6, ip6Daddr(sets[setDown6], false), verdict(expr.VerdictReturn)),
		cat(in, v4, etherIPSaddr(sets[setAuth], false), verdict(expr.VerdictReturn)),
		cat(in, v6, etherIP6Saddr(sets[setAuth6], false), verdict(expr.VerdictReturn)),
		cat(in, etherSaddr(sets[setTrusted], false), verdict(expr.VerdictReturn)),
		cat(iifname(r.iface), jump(chainPreauthFwd)),
	}
	preFwd := [][]expr.Any{
		cat(isEther(), etherSaddr(sets[setBlocked], false), verdict(expr.VerdictDrop)),
		cat(nfproto(unix.NFPROTO_IPV4), ip4Daddr(sets[setGarden4], false), verdict(expr.VerdictReturn)),
		cat(nfproto(unix.NFPROTO_IPV4), ip4Daddr(sets[setGarden4DNS], false), verdict(expr.VerdictReturn)),
		cat(nfproto(unix.NFPROTO_IPV6), ip6Daddr(sets[setGarden6], false), verdict(expr.VerdictReturn)),
		cat(nfproto(unix.NFPROTO_IPV6), ip6Daddr(sets[setGarden6DNS], false), verdict(expr.VerdictReturn)),
		cat(l4proto(unix.IPPROTO_TCP), dport(443), tcpReset()),
		verdict(expr.VerdictDrop),
	}

	return []nftChain{
		{name: chainHold80, rules: hold80},
		{name: chainPrerouting, typ: nftables.ChainTypeFilter, hook: nftables.ChainHookPrerouting, prio: nftables.ChainPriorityRaw, policy: &accept, rules: raw},
		{name: chainDstnat, typ: nftables.ChainTypeNAT, hook: nftables.ChainHookPrerouting, prio: nftables.ChainPriorityNATDest, policy: &accept, rules: dnat},
		{name: chainPreauthIn, rules: preIn},
		{name: chainInput, typ: nftables.ChainTypeFilter, hook: nftables.ChainHookInput, prio: nftables.ChainPriorityFilter, policy: &accept, rules: input},
		{name: chainOutput, typ: nftables.ChainTypeFilter, hook: nftables.ChainHookOutput, prio: nftables.ChainPriorityRaw, policy: &accept, rules: output},
		{name: chainPreauthFwd, rules: preFwd},
		{name: chainForward, typ: nftables.ChainTypeFilter, hook: nftables.ChainHookForward, prio: nftables.ChainPriorityFilter, policy: &accept, rules: forward},
	}
}

// Expression helpers; each returns the expressions of one match.

func cat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func metaCmp(key expr.MetaKey, op expr.CmpOp, data []byte) []expr.Any {
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: data}}
}

// ifname is an interface name as the kernel compares it: IFNAMSIZ bytes,
// zero-padded, so "br-lan" does not match "br-lan2".
func ifname(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

func iifname(name string) []expr.Any { return metaCmp(expr.MetaKeyIIFNAME, expr.CmpOpEq, ifname(name)) }
func oifname(name string) []expr.Any { return metaCmp(expr.MetaKeyOIFNAME, expr.CmpOpEq, ifname(name)) }
func nfproto(p byte) []expr.Any      { return metaCmp(expr.MetaKeyNFPROTO, expr.CmpOpEq, []byte{p}) }
func l4proto(p byte) []expr.Any      { return metaCmp(expr.MetaKeyL4PROTO, expr.CmpOpEq, []byte{p}) }

// isEther is `meta iiftype ether`: the packet came with an Ethernet
// header, so `ether saddr` reads a MAC (and nft lists it by that name).
func isEther() []expr.Any {
	return metaCmp(expr.MetaKeyIIFTYPE, expr.CmpOpEq, binaryutil.NativeEndian.PutUint16(unix.ARPHRD_ETHER))
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// dport matches the destination port of TCP or UDP; l4proto comes first.
func dport(p uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: be16(p)},
	}
}

// sport matches the source port of TCP or UDP; l4proto comes first.
func sport(p uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: be16(p)},
	}
}

func icmpv6Type(t byte) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{t}},
	}
}

func lookup(s *nftables.Set, invert bool) *expr.Lookup {
	return &expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID, Invert: invert}
}

// etherSaddr is `ether saddr [!=] @s`; isEther comes first in the rule.
func etherSaddr(s *nftables.Set, invert bool) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: 6, Len: 6},
		lookup(s, invert),
	}
}

// etherIPSaddr is `ether saddr . ip saddr [!=] @s`; isEther and nfproto
// ipv4 come first. The MAC takes two 32-bit registers (6 bytes, padded:
// the payload load zeroes the rest), the address the third.
func etherIPSaddr(s *nftables.Set, invert bool) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: 6, Len: 6},
		&expr.Payload{DestRegister: 10, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		lookup(s, invert),
	}
}

// etherIP6Saddr is `ether saddr . ip6 saddr [!=] @s`; isEther and nfproto
// ipv6 come first. The MAC takes two 32-bit registers, the address the
// four after them.
func etherIP6Saddr(s *nftables.Set, invert bool) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: 6, Len: 6},
		&expr.Payload{DestRegister: 10, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 16},
		lookup(s, invert),
	}
}

// clientIs is the positive lookup of a packet's sender in s: by MAC and
// IPv4 address for the signed-in set, by MAC otherwise.
func clientIs(s *nftables.Set) []expr.Any {
	if s.Concatenation {
		return etherIPSaddr(s, false)
	}
	return etherSaddr(s, false)
}

// ip4Daddr is `ip daddr [!=] @s`; nfproto ipv4 comes first.
func ip4Daddr(s *nftables.Set, invert bool) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		lookup(s, invert),
	}
}

func ip4DaddrCmp(op expr.CmpOp, a []byte) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: op, Register: 1, Data: a},
	}
}

func ip4SaddrCmp(a []byte) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a},
	}
}

// ip6Daddr is `ip6 daddr [!=] @s`; nfproto ipv6 comes first.
func ip6Daddr(s *nftables.Set, invert bool) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 24, Len: 16},
		lookup(s, invert),
	}
}

func verdict(k expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: k}} }

func jump(chain string) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: chain}}
}

func notrack() []expr.Any { return []expr.Any{&expr.Notrack{}} }

func tcpReset() []expr.Any {
	return []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_TCP_RST}}
}
