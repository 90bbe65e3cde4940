package shaper

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The few tc messages the shaper sends, built with vishvananda/netlink's
// message layer (package nl) rather than its Handle methods: QdiscAdd,
// ClassAdd, FilterAdd and LinkAdd each encode every kind the library knows
// (Flower, pedit, bonds, VXLAN, …), which cost the ath79 build 59 KB of
// xz-compressed flash; these cost a tenth of it. Names and layouts are
// those of include/uapi/linux/pkt_sched.h, pkt_cls.h and tc_act/.

// Attribute numbers (uapi).
const (
	tcaKind    = 1
	tcaOptions = 2

	tcaHTBParms      = 1
	tcaHTBInit       = 2
	tcaHTBDirectQlen = 5

	tcaFQCodelLimit       = 2
	tcaFQCodelFlows       = 5
	tcaFQCodelMemoryLimit = 9

	tcaBPFFD         = 6
	tcaBPFName       = 7
	tcaBPFFlags      = 8
	tcaBPFFlagDirect = 1

	tcaU32Sel        = 5
	tcaU32Act        = 7
	tcU32Terminal    = 1
	tcaActKind       = 1
	tcaActOptions    = 2
	tcaMirredParms   = 2
	tcaEgressRedir   = 1
	tcActStolen      = 4
	tcLinklayerEther = 1

	iflaInfoKind = 1
)

// Parents of a root and of an ingress qdisc (TC_H_ROOT, TC_H_INGRESS).
const (
	tcHRoot    = 0xffffffff
	tcHIngress = 0xfffffff1
)

// psched ticks are 64 ns since Linux 2.6.31 (PSCHED_SHIFT).
const nsPerTick = 64

// tcConn is a route netlink socket in the shaper's namespace.
type tcConn struct {
	sock *nl.NetlinkSocket
	seq  map[int]*nl.SocketHandle
}

func dialTC(nsFD int) (*tcConn, error) {
	ns := netns.None()
	if nsFD > 0 {
		ns = netns.NsHandle(nsFD)
	}
	var cur netns.NsHandle = netns.None()
	if nsFD > 0 {
		var err error
		if cur, err = netns.Get(); err != nil {
			return nil, err
		}
		defer cur.Close()
	}
	s, err := nl.GetNetlinkSocketAt(ns, cur, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	return &tcConn{sock: s, seq: map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: {Socket: s}}}, nil
}

func (c *tcConn) close() { c.sock.Close() }

// do sends one request and waits for the kernel's answer.
func (c *tcConn) do(typ, flags int, data ...nl.NetlinkRequestData) error {
	req := nl.NewNetlinkRequest(typ, flags|unix.NLM_F_ACK)
	req.Sockets = c.seq
	for _, d := range data {
		req.AddData(d)
	}
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// count dumps the objects a request names and returns how many there are.
func (c *tcConn) count(typ int, data ...nl.NetlinkRequestData) (int, error) {
	req := nl.NewNetlinkRequest(typ, unix.NLM_F_DUMP)
	req.Sockets = c.seq
	for _, d := range data {
		req.AddData(d)
	}
	msgs, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return len(msgs), err
}

func tcmsg(ifindex int, handle, parent, info uint32) *nl.TcMsg {
	return &nl.TcMsg{Family: unix.AF_UNSPEC, Ifindex: int32(ifindex), Handle: handle, Parent: parent, Info: info}
}

func kind(k string) *nl.RtAttr { return nl.NewRtAttr(tcaKind, nl.ZeroTerminated(k)) }

const create = unix.NLM_F_CREATE | unix.NLM_F_EXCL

// addHTB adds an HTB qdisc without a default class: what no filter
// classifies goes out at once (its direct queue, 1,000 packets).
func (c *tcConn) addHTB(ifindex int, handle, parent uint32, flags int) error {
	opt := nl.NewRtAttr(tcaOptions, nil)
	glob := make([]byte, 20)                    // struct tc_htb_glob
	binary.NativeEndian.PutUint32(glob[0:], 3)  // version
	binary.NativeEndian.PutUint32(glob[4:], 10) // rate2quantum; every class sets its quantum
	opt.AddRtAttr(tcaHTBInit, glob)
	opt.AddRtAttr(tcaHTBDirectQlen, nl.Uint32Attr(1000))
	return c.do(unix.RTM_NEWQDISC, flags, tcmsg(ifindex, handle, parent, 0), kind("htb"), opt)
}

func (c *tcConn) addIngress(ifindex int) error {
	return c.do(unix.RTM_NEWQDISC, create, tcmsg(ifindex, 0xffff0000, tcHIngress, 0), kind("ingress"))
}

func (c *tcConn) addFQCodel(ifindex int, parent uint32) error {
	return c.do(unix.RTM_NEWQDISC, create, tcmsg(ifindex, 0, parent, 0), kind("fq_codel"), fqCodelOptions())
}

// fqCodelOptions is the TCA_OPTIONS of a client's fq_codel: its flows,
// packet limit and memory limit; target and interval keep the kernel's
// defaults (5 ms, 100 ms).
func fqCodelOptions() *nl.RtAttr {
	opt := nl.NewRtAttr(tcaOptions, nil)
	opt.AddRtAttr(tcaFQCodelFlows, nl.Uint32Attr(leafFlows))
	opt.AddRtAttr(tcaFQCodelLimit, nl.Uint32Attr(leafLimit))
	opt.AddRtAttr(tcaFQCodelMemoryLimit, nl.Uint32Attr(leafMemoryLimit))
	return opt
}

// delQdisc deletes the qdisc at parent if its handle is handle (the
// kernel refuses with EINVAL otherwise).
func (c *tcConn) delQdisc(ifindex int, handle, parent uint32) error {
	return c.do(unix.RTM_DELQDISC, 0, tcmsg(ifindex, handle, parent, 0))
}

// htbClass adds (flags create) or changes (0) an HTB class whose rate and
// ceiling are bps bit/s: it never borrows, nor lends.
func (c *tcConn) htbClass(ifindex int, handle, parent uint32, bps uint64, flags int) error {
	Bps := bps / 8
	if Bps == 0 {
		Bps = 1
	}
	if Bps > 1<<32-1 {
		return fmt.Errorf("rate %d bit/s above HTB's 34 Gbit/s", bps)
	}
	// The burst: a millisecond at the rate and a full frame, as HTB's
	// timer granularity needs; in ticks, the time it takes at the rate.
	burst := Bps/1000 + 1600
	ticks := uint32(min(burst*1e9/Bps/nsPerTick, 1<<32-1))
	p := make([]byte, 44) // struct tc_htb_opt: rate, ceil (tc_ratespec), buffer, cbuffer, quantum, level, prio
	for _, off := range []int{0, 12} {
		p[off+1] = tcLinklayerEther // HTB needs no rate table then
		binary.NativeEndian.PutUint32(p[off+8:], uint32(Bps))
	}
	binary.NativeEndian.PutUint32(p[24:], ticks)
	binary.NativeEndian.PutUint32(p[28:], ticks)
	// A quantum of one full frame: the default (rate / 10) is below the
	// MTU for rates under 1.2 Mbit/s, which the kernel logs a warning for.
	binary.NativeEndian.PutUint32(p[32:], 1514)
	opt := nl.NewRtAttr(tcaOptions, nil)
	opt.AddRtAttr(tcaHTBParms, p)
	return c.do(unix.RTM_NEWTCLASS, flags, tcmsg(ifindex, handle, parent, 0), kind("htb"), opt)
}

func (c *tcConn) delClass(ifindex int, handle uint32) error {
	return c.do(unix.RTM_DELTCLASS, 0, tcmsg(ifindex, handle, 0, 0))
}

// filterInfo is tcm_info of a filter: its priority and protocol (all).
func filterInfo(prio uint16) uint32 {
	return uint32(prio)<<16 | uint32(nl.Swap16(unix.ETH_P_ALL))
}

// addBPF attaches program fd as a classifier (direct: its return value is
// the action, TC_ACT_OK or TC_ACT_UNSPEC; else it is the classid).
func (c *tcConn) addBPF(ifindex int, parent uint32, prio uint16, fd int, name string, direct bool) error {
	opt := nl.NewRtAttr(tcaOptions, nil)
	opt.AddRtAttr(tcaBPFFD, nl.Uint32Attr(uint32(fd)))
	opt.AddRtAttr(tcaBPFName, nl.ZeroTerminated(name))
	if direct {
		opt.AddRtAttr(tcaBPFFlags, nl.Uint32Attr(tcaBPFFlagDirect))
	}
	return c.do(unix.RTM_NEWTFILTER, create, tcmsg(ifindex, 1, parent, filterInfo(prio)), kind("bpf"), opt)
}

// addRedirect attaches a u32 filter that matches every frame and redirects
// it to the egress of device to (mirred).
func (c *tcConn) addRedirect(ifindex int, parent uint32, prio uint16, to int) error {
	sel := make([]byte, 16+16) // struct tc_u32_sel and one tc_u32_key matching anything
	sel[0] = tcU32Terminal
	sel[2] = 1                 // nkeys
	mirred := make([]byte, 28) // struct tc_mirred
	binary.NativeEndian.PutUint32(mirred[8:], tcActStolen)
	binary.NativeEndian.PutUint32(mirred[20:], tcaEgressRedir)
	binary.NativeEndian.PutUint32(mirred[24:], uint32(to))
	opt := nl.NewRtAttr(tcaOptions, nil)
	opt.AddRtAttr(tcaU32Sel, sel)
	acts := opt.AddRtAttr(tcaU32Act, nil)
	act := acts.AddRtAttr(1, nil) // the first action
	act.AddRtAttr(tcaActKind, nl.ZeroTerminated("mirred"))
	act.AddRtAttr(tcaActOptions, nil).AddRtAttr(tcaMirredParms, mirred)
	return c.do(unix.RTM_NEWTFILTER, create, tcmsg(ifindex, 0, parent, filterInfo(prio)), kind("u32"), opt)
}

// delFilters deletes every filter of priority prio at parent.
func (c *tcConn) delFilters(ifindex int, parent uint32, prio uint16) error {
	return c.do(unix.RTM_DELTFILTER, 0, tcmsg(ifindex, 0, parent, filterInfo(prio)))
}

// countFilters counts the filters at parent.
func (c *tcConn) countFilters(ifindex int, parent uint32) (int, error) {
	return c.count(unix.RTM_GETTFILTER, tcmsg(ifindex, 0, parent, 0))
}

// addIFB creates an IFB device, up, with a transmit queue of 1,000
// packets: the IFB's default, 32, would be every class's FIFO limit where
// there is no fq_codel.
func (c *tcConn) addIFB(name string) error {
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Flags, msg.Change = unix.IFF_UP, unix.IFF_UP
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(iflaInfoKind, nl.NonZeroTerminated("ifb"))
	return c.do(unix.RTM_NEWLINK, create, msg,
		nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)),
		nl.NewRtAttr(unix.IFLA_TXQLEN, nl.Uint32Attr(1000)), info)
}

// delLink deletes the device called name; a missing one is not an error.
func (c *tcConn) delLink(name string) error {
	err := c.do(unix.RTM_DELLINK, 0, nl.NewIfInfomsg(unix.AF_UNSPEC), nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)))
	if errors.Is(err, unix.ENODEV) {
		return nil
	}
	return err
}
