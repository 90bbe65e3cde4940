package appliance

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/lobby-fw/lobby/internal/config"
)

// natTable is the appliance's own nftables table. The firewall's table
// (inet lobby) decides which LAN clients may be forwarded; this one
// rewrites the source of what is forwarded out of an uplink and keeps the
// WAN side out (SPEC §6), so the two never touch each other's rules.
const natTable = "lobby-nat"

// wanOpening is a service of the router that the config opens to the WAN
// side: TCP or UDP port on the router's addresses, from the given sources
// (none: from anywhere).
type wanOpening struct {
	proto byte // unix.IPPROTO_TCP or unix.IPPROTO_UDP
	port  uint16
	from  []netip.Prefix // none: from anywhere
	to    netip.Addr     // zero: to any of the router's addresses
}

// wanOpenings is the one place where the config opens the router to the
// WAN side (SPEC §6): the RADIUS Dynamic Authorization port for the
// das_client addresses (else the servers', SPEC §7) when RADIUS is in use,
// and the admin pages when `config admin`'s `listen` is an address of the
// WAN side (SPEC §8) — to that address only, from anywhere there: the
// operator chose to reach them from the venue's own network. A listen on
// a management port (a static interface without a gateway, which the WAN
// filter does not cover) needs no opening.
func wanOpenings(c *config.Config) []wanOpening {
	var open []wanOpening
	if r := &c.RADIUS; c.RADIUSUsed() && r.DASPort != 0 {
		o := wanOpening{proto: unix.IPPROTO_UDP, port: r.DASPort}
		for _, a := range r.DASFrom() {
			o.from = append(o.from, netip.PrefixFrom(a, a.BitLen()))
		}
		if len(o.from) > 0 { // no source: open to nobody, not to everyone
			open = append(open, o)
		}
	}
	if a := c.Admin; a.Enabled && a.Listen.IsValid() && !onOwnSide(c, a.Listen.Addr().Unmap()) {
		open = append(open, wanOpening{proto: unix.IPPROTO_TCP, port: a.Listen.Port(), to: a.Listen.Addr().Unmap()})
	}
	return open
}

// onOwnSide reports whether addr is the address of a static interface
// without a gateway: the LAN or a management port, which no WAN filter
// covers.
func onOwnSide(c *config.Config, addr netip.Addr) bool {
	for _, in := range c.Interfaces {
		if in.Proto == "static" && !in.Gateway.IsValid() && in.IPAddr == addr {
			return true
		}
	}
	return false
}

// setupNAT masquerades IPv4 that leaves through the uplinks (the LAN's
// private addresses become the uplink's, as any home router does), closes
// the router and the LAN to the WAN side, and turns on IPv4 forwarding. The
// table is replaced whole, in one transaction, so a second boot step or a
// restart finds exactly these rules. IPv6 is not forwarded: the firewall
// owns that decision (SPEC §3).
func setupNAT(uplinks []string, open []wanOpening) error {
	if len(uplinks) == 0 {
		return nil
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nat: %w", err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: natTable}
	// Add then delete: deleting a table that does not exist fails the
	// whole batch, adding one that exists does nothing.
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	ch := c.AddChain(&nftables.Chain{
		Name:     "postrouting",
		Table:    t,
		Type:     nftables.ChainTypeNAT,
		Hooknum:  nftables.ChainHookPostrouting,
		Priority: nftables.ChainPriorityNATSource,
	})
	for _, up := range uplinks {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
			&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(up)},
			&expr.Masq{},
		}})
	}
	addWANFilter(c, t, uplinks, open)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nat: table inet %s: %w (are nf_tables, nft_chain_nat and nft_masq loaded?)", natTable, err)
	}
	if err := sysctl("net/ipv4/ip_forward", "1"); err != nil {
		return fmt.Errorf("nat: %w", err)
	}
	return nil
}

// addWANFilter adds to t what keeps the WAN side out (SPEC §6): nothing
// arriving on an uplink reaches the router's services or opens a
// connection to a client. Let in are the answers to connections from the
// router or the clients (conntrack established, related: ICMP errors
// included), DHCP server replies to the router's DHCP client (RFC 2131
// §4.1: server port 67 to client port 68), IPv6 neighbour discovery and
// router advertisements on the uplink (RFC 4861), ping of the router's own
// address (one answer a request, no state: the operator's and the ISP's
// first check that the box is up), and what wanOpenings names.
//
//	chain wan_input   { type filter hook input priority filter; policy accept;
//	                    iifname UPLINK jump wan_in }
//	chain wan_in      { ct state established,related accept; ct state invalid drop
//	                    udp sport 67 udp dport 68 accept
//	                    icmp type echo-request accept; icmpv6 type {echo-request, 134, 135, 136} accept
//	                    (the openings); drop }
//	chain wan_forward { type filter hook forward priority filter; policy accept;
//	                    iifname UPLINK ct state established,related accept; iifname UPLINK drop }
func addWANFilter(c *nftables.Conn, t *nftables.Table, uplinks []string, open []wanOpening) {
	accept := nftables.ChainPolicyAccept
	in := c.AddChain(&nftables.Chain{Name: "wan_in", Table: t})
	rule := func(ch *nftables.Chain, exprs ...[]expr.Any) {
		var all []expr.Any
		for _, e := range exprs {
			all = append(all, e...)
		}
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: all})
	}
	acc := []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}}
	drop := []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}
	rule(in, ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), acc)
	rule(in, ctState(expr.CtStateBitINVALID), drop)
	rule(in, meta(expr.MetaKeyNFPROTO, unix.NFPROTO_IPV4), meta(expr.MetaKeyL4PROTO, unix.IPPROTO_UDP), port(0, 67), port(2, 68), acc)
	rule(in, meta(expr.MetaKeyNFPROTO, unix.NFPROTO_IPV4), meta(expr.MetaKeyL4PROTO, unix.IPPROTO_ICMP), icmpType(8), acc)
	for _, typ := range []byte{128, 134, 135, 136} { // echo request, router and neighbour advertisement, neighbour solicitation
		rule(in, meta(expr.MetaKeyNFPROTO, unix.NFPROTO_IPV6), meta(expr.MetaKeyL4PROTO, unix.IPPROTO_ICMPV6), icmpType(typ), acc)
	}
	for _, o := range open {
		match := [][]expr.Any{meta(expr.MetaKeyL4PROTO, o.proto), port(2, o.port)}
		if o.to.IsValid() {
			match = append(match, toAddr(o.to))
		}
		if len(o.from) == 0 {
			rule(in, append(match, acc)...)
		}
		for _, p := range o.from {
			rule(in, append(match, fromPrefix(p), acc)...)
		}
	}
	rule(in, drop)

	input := c.AddChain(&nftables.Chain{Name: "wan_input", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	fwd := c.AddChain(&nftables.Chain{Name: "wan_forward", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	for _, up := range uplinks {
		iif := []expr.Any{
			&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(up)},
		}
		rule(input, iif, []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: in.Name}})
		rule(fwd, iif, ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), acc)
		rule(fwd, iif, drop)
	}
}

func meta(k expr.MetaKey, v byte) []expr.Any {
	return []expr.Any{&expr.Meta{Key: k, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{v}}}
}

// ctState is `ct state` having any of bits.
func ctState(bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

// port is the TCP/UDP source (offset 0) or destination (2) port.
func port(offset uint32, p uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: offset, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, p)},
	}
}

func icmpType(typ byte) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{typ}},
	}
}

// fromPrefix is `ip saddr P` or `ip6 saddr P`.
func fromPrefix(p netip.Prefix) []expr.Any {
	p = p.Masked()
	fam, off := byte(unix.NFPROTO_IPV4), uint32(12)
	if p.Addr().Is6() {
		fam, off = unix.NFPROTO_IPV6, 8
	}
	n := uint32(p.Addr().BitLen() / 8)
	mask := net.CIDRMask(p.Bits(), p.Addr().BitLen())
	return append(meta(expr.MetaKeyNFPROTO, fam),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: mask, Xor: make([]byte, n)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Addr().AsSlice()},
	)
}

// toAddr is `ip daddr A` or `ip6 daddr A`.
func toAddr(a netip.Addr) []expr.Any {
	fam, off := byte(unix.NFPROTO_IPV4), uint32(16)
	if a.Is6() {
		fam, off = unix.NFPROTO_IPV6, 24
	}
	return append(meta(expr.MetaKeyNFPROTO, fam),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: uint32(a.BitLen() / 8)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a.AsSlice()},
	)
}

// removeNAT deletes the table at a clean stop. Forwarding stops first: the
// table is also what keeps the WAN side away from the LAN.
func removeNAT() error {
	if err := sysctl("net/ipv4/ip_forward", "0"); err != nil {
		return fmt.Errorf("nat: %w", err)
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nat: %w", err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: natTable}
	c.AddTable(t)
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nat: remove table inet %s: %w", natTable, err)
	}
	return nil
}

// ifname is an interface name as nftables compares it: IFNAMSIZ bytes,
// NUL padded.
func ifname(n string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, n)
	return b
}
