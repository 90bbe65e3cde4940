package shaper

import (
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// What marks the kernel objects as lobby's, so that a start removes what a
// crashed run left: the root qdiscs' handle (HTB on the LAN interface and on
// the IFB, whose classes are handleMajor:minor), the priority of the two
// filters on the LAN's ingress, and the IFB's name (ifbName).
const (
	handleMajor = 0x10bb
	ingressPrio = 0x10bb // the gate; the redirect is ingressPrio+1
	rootHandle  = handleMajor << 16
	// ingressParent is the ingress qdisc's filter parent (ffff:fff1).
	ingressParent = 0xfffffff1
)

// leafLimit and leafFlows size each client's fq_codel: a client has a few
// dozen flows, and fq_codel's default of 1,024 flows costs ~64 KiB of
// kernel memory per instance, two per shaped client.
const (
	leafFlows       = 64
	leafLimit       = 1000    // packets
	leafMemoryLimit = 4 << 20 // bytes, OpenWrt's default for SQM
)

// ifbName is the IFB device of a LAN interface: "lby-" and the interface's
// name, or a hash of it when that would not fit IFNAMSIZ.
func ifbName(lan string) string {
	if n := "lby-" + lan; len(n) <= 15 {
		return n
	}
	h := fnv.New32a()
	h.Write([]byte(lan))
	return fmt.Sprintf("lby-%08x", h.Sum32())
}

// kernel carries a plan's operations out over netlink and bpf(2). It
// touches the LAN interface and its IFB, nothing else.
type kernel struct {
	log *slog.Logger
	h   *netlink.Handle
	lan netlink.Link
	ifb netlink.Link // nil while upload is not shaped
	// fqCodel: whether the kernel has fq_codel, learnt at the first leaf
	// (nil: not yet known).
	fqCodel *bool
	mapFD   int
	progs   [nProgs]int // by progKind; -1 when not loaded
	inst    [2]bool
}

func newKernel(iface string, nsFD int, log *slog.Logger) (*kernel, error) {
	var h *netlink.Handle
	var err error
	if nsFD > 0 {
		h, err = netlink.NewHandleAt(netns.NsHandle(nsFD))
	} else {
		h, err = netlink.NewHandle()
	}
	if err != nil {
		return nil, fmt.Errorf("shaper: netlink: %w", err)
	}
	lan, err := h.LinkByName(iface)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("shaper: interface %s: %w", iface, err)
	}
	return &kernel{log: log, h: h, lan: lan, mapFD: -1, progs: [nProgs]int{-1, -1, -1, -1, -1}}, nil
}

// clean removes every object of lobby's on the LAN interface, whether this
// run made it or one that died did, and frees the BPF objects.
func (k *kernel) clean() error {
	var errs []error
	if err := k.delRoot(k.lan); err != nil {
		errs = append(errs, err)
	}
	if err := k.delIngress(); err != nil {
		errs = append(errs, err)
	}
	name := ifbName(k.lan.Attrs().Name)
	if l, err := k.h.LinkByName(name); err == nil {
		if err := k.h.LinkDel(l); err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", name, err))
		}
	}
	k.ifb = nil
	k.inst = [2]bool{}
	k.closeBPF()
	return errors.Join(errs...)
}

// delRoot deletes the root qdisc of l if it is lobby's.
func (k *kernel) delRoot(l netlink.Link) error {
	qs, err := k.h.QdiscList(l)
	if err != nil {
		return fmt.Errorf("list qdiscs of %s: %w", l.Attrs().Name, err)
	}
	for _, q := range qs {
		a := q.Attrs()
		if a.Parent == netlink.HANDLE_ROOT && a.Handle == rootHandle && q.Type() == "htb" {
			if err := k.h.QdiscDel(q); err != nil {
				return fmt.Errorf("delete the root qdisc of %s: %w", l.Attrs().Name, err)
			}
		}
	}
	return nil
}

// delIngress deletes lobby's filters from the LAN's ingress qdisc, and the
// qdisc when no other filter is left on it (one that someone else uses
// stays).
func (k *kernel) delIngress() error {
	fs, err := k.h.FilterList(k.lan, ingressParent)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil // no ingress qdisc
	}
	if err != nil {
		return fmt.Errorf("list ingress filters of %s: %w", k.lan.Attrs().Name, err)
	}
	if len(fs) == 0 {
		qs, err := k.h.QdiscList(k.lan)
		if err != nil {
			return fmt.Errorf("list qdiscs of %s: %w", k.lan.Attrs().Name, err)
		}
		if !hasIngress(qs) {
			return nil
		}
	}
	others := false
	for _, f := range fs {
		a := f.Attrs()
		if a.Priority != ingressPrio && a.Priority != ingressPrio+1 {
			others = true
			continue
		}
		if err := k.h.FilterDel(f); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("delete ingress filter of %s: %w", k.lan.Attrs().Name, err)
		}
	}
	if others {
		return nil
	}
	err = k.h.QdiscDel(&netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: k.lan.Attrs().Index, Parent: netlink.HANDLE_INGRESS, Handle: netlink.MakeHandle(0xffff, 0)}})
	if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("delete the ingress qdisc of %s: %w", k.lan.Attrs().Name, err)
	}
	return nil
}

func hasIngress(qs []netlink.Qdisc) bool {
	for _, q := range qs {
		if q.Type() == "ingress" {
			return true
		}
	}
	return false
}

func (k *kernel) closeBPF() {
	for i, fd := range k.progs {
		if fd >= 0 {
			unix.Close(fd)
			k.progs[i] = -1
		}
	}
	if k.mapFD >= 0 {
		unix.Close(k.mapFD)
		k.mapFD = -1
	}
}

func (k *kernel) close() {
	k.closeBPF()
	k.h.Close()
}

// apply carries out ops in order and stops at the first failure.
func (k *kernel) apply(ops []op) error {
	for _, o := range ops {
		if err := k.do(o); err != nil {
			return fmt.Errorf("shaper: %v: %w", o, err)
		}
	}
	return nil
}

func (k *kernel) dev(d dir) netlink.Link {
	if d == up {
		return k.ifb
	}
	return k.lan
}

func (k *kernel) do(o op) error {
	switch o.kind {
	case opInstall:
		return k.install(o.dir)
	case opUninstall:
		return k.uninstall(o.dir)
	case opGroupAdd:
		return k.addGroup(o.dir, o.minor)
	case opGroupDel:
		// The group's HTB, classes, leaves and classifier go with it.
		return k.h.ClassDel(groupClass(k.dev(o.dir), o.minor))
	case opClassAdd:
		if err := k.h.ClassAdd(htbClass(k.dev(o.dir), o.minor, o.rate)); err != nil {
			return err
		}
		return k.addLeaf(o.dir, o.minor)
	case opClassChange:
		return k.h.ClassChange(htbClass(k.dev(o.dir), o.minor, o.rate))
	case opClassDel:
		// The class's leaf qdisc goes with it.
		return k.h.ClassDel(htbClass(k.dev(o.dir), o.minor, 0))
	case opMapSet:
		return mapUpdate(k.mapFD, o.key, o.val)
	case opMapDel:
		return mapDelete(k.mapFD, o.key)
	}
	return fmt.Errorf("unknown op %d", o.kind)
}

// htbClass is a client's class: rate and ceiling both the client's rate,
// so it never borrows from, nor lends to, another client.
func htbClass(l netlink.Link, minor uint16, bps uint64) *netlink.HtbClass {
	c := netlink.NewHtbClass(netlink.ClassAttrs{
		LinkIndex: l.Attrs().Index, Parent: uint32(groupMajor+groupOf(minor)) << 16, Handle: classid(minor),
	}, netlink.HtbClassAttrs{Rate: bps, Ceil: bps})
	// A quantum of one full frame: the default (rate / 10) is below the
	// MTU for rates under 1.2 Mbit/s, which the kernel logs a warning for.
	c.Quantum = 1514
	return c
}

// groupRate is a group's class's rate: as much as HTB's 32-bit field holds
// (34 Gbit/s), so that a group never holds its clients back.
const groupRate = (1<<32 - 1) * 8

// groupClass is the class of the root HTB that holds group g.
func groupClass(l netlink.Link, g uint16) *netlink.HtbClass {
	c := netlink.NewHtbClass(netlink.ClassAttrs{
		LinkIndex: l.Attrs().Index, Parent: rootHandle, Handle: groupClassid(g),
	}, netlink.HtbClassAttrs{Rate: groupRate, Ceil: groupRate})
	c.Quantum = 1514
	return c
}

// addGroup makes group g: its class in the root HTB, an HTB of its own as
// that class's queue, and the classifier that finds a client's class in
// it.
func (k *kernel) addGroup(d dir, g uint16) error {
	l := k.dev(d)
	if err := k.h.ClassAdd(groupClass(l, g)); err != nil {
		return err
	}
	h := uint32(groupMajor+g) << 16
	if err := k.h.QdiscAdd(netlink.NewHtb(netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Parent: groupClassid(g), Handle: h})); err != nil {
		return fmt.Errorf("group qdisc: %w", err)
	}
	pk := progDown
	if d == up {
		pk = progUp
	}
	if err := k.h.FilterAdd(k.bpfFilter(l, h, 1, pk, false)); err != nil {
		return fmt.Errorf("group classifier: %w", err)
	}
	return nil
}

// addLeaf gives a new class fq_codel as its queue where the kernel has it
// (OpenWrt's do): fair among the client's flows and with a short standing
// queue. Elsewhere the class keeps HTB's default (pfifo).
func (k *kernel) addLeaf(d dir, minor uint16) error {
	if k.fqCodel != nil && !*k.fqCodel {
		return nil
	}
	q := netlink.NewFqCodel(netlink.QdiscAttrs{LinkIndex: k.dev(d).Attrs().Index, Parent: classid(minor)})
	q.Flows, q.Limit, q.MemoryLimit = leafFlows, leafLimit, leafMemoryLimit
	err := k.h.QdiscAdd(q)
	if k.fqCodel == nil {
		has := !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EOPNOTSUPP)
		k.fqCodel = &has
		if !has {
			k.log.Info("shaper: the kernel has no fq_codel; each client's class keeps a plain FIFO (pfifo)")
			return nil
		}
	}
	return err
}

// install puts a direction's root in place. Download: an HTB qdisc as the
// LAN interface's root, whose classifier sends a shaped client's frames to
// its group (whose own classifier finds its class) and every other frame
// straight out (HTB's direct queue: no default class). Upload: the same on an IFB device, and on the LAN's
// ingress a gate that lets every frame of an unshaped client pass at once
// and hands a shaped one's to a redirect to the IFB, so clients without a
// rate never go through it.
func (k *kernel) install(d dir) error {
	if err := k.loadBPF(); err != nil {
		return err
	}
	if d == up {
		if err := k.addIFB(); err != nil {
			return err
		}
	}
	l := k.dev(d)
	qlen := uint32(1000)
	root := netlink.NewHtb(netlink.QdiscAttrs{LinkIndex: l.Attrs().Index, Parent: netlink.HANDLE_ROOT, Handle: rootHandle})
	root.DirectQlen = &qlen
	if err := k.h.QdiscReplace(root); err != nil {
		return fmt.Errorf("root qdisc of %s: %w", l.Attrs().Name, err)
	}
	pk := progRootDown
	if d == up {
		pk = progRootUp
	}
	if err := k.h.FilterAdd(k.bpfFilter(l, rootHandle, 1, pk, false)); err != nil {
		return fmt.Errorf("classifier of %s: %w", l.Attrs().Name, err)
	}
	if d == up {
		if err := k.addIngress(); err != nil {
			return err
		}
	}
	k.inst[d] = true
	return nil
}

func (k *kernel) bpfFilter(l netlink.Link, parent uint32, prio uint16, pk progKind, da bool) *netlink.BpfFilter {
	return &netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: l.Attrs().Index, Parent: parent, Handle: 1, Priority: prio, Protocol: unix.ETH_P_ALL,
		},
		Fd: k.progs[pk], Name: pk.name(), DirectAction: da,
	}
}

func (k *kernel) addIFB() error {
	name := ifbName(k.lan.Attrs().Name)
	attrs := netlink.NewLinkAttrs()
	attrs.Name = name
	attrs.TxQLen = 1000 // the IFB's default, 32, would be every class's FIFO limit without fq_codel
	if err := k.h.LinkAdd(&netlink.Ifb{LinkAttrs: attrs}); err != nil {
		return fmt.Errorf("add %s: %w", name, err)
	}
	l, err := k.h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	if err := k.h.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	k.ifb = l
	return nil
}

func (k *kernel) addIngress() error {
	q := &netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: k.lan.Attrs().Index, Parent: netlink.HANDLE_INGRESS, Handle: netlink.MakeHandle(0xffff, 0)}}
	if err := k.h.QdiscAdd(q); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("ingress qdisc of %s: %w", k.lan.Attrs().Name, err)
	}
	if err := k.h.FilterAdd(k.bpfFilter(k.lan, ingressParent, ingressPrio, progGate, true)); err != nil {
		return fmt.Errorf("ingress gate of %s: %w", k.lan.Attrs().Name, err)
	}
	redirect := &netlink.U32{ // no selector: every frame the gate passed on
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: k.lan.Attrs().Index, Parent: ingressParent, Priority: ingressPrio + 1, Protocol: unix.ETH_P_ALL,
		},
		Actions: []netlink.Action{netlink.NewMirredAction(k.ifb.Attrs().Index)},
	}
	if err := k.h.FilterAdd(redirect); err != nil {
		return fmt.Errorf("ingress redirect of %s: %w", k.lan.Attrs().Name, err)
	}
	return nil
}

func (k *kernel) uninstall(d dir) error {
	var err error
	if d == down {
		err = k.delRoot(k.lan)
	} else {
		err = k.delIngress()
		if k.ifb != nil {
			// The IFB's qdisc, classes and filter go with it.
			if derr := k.h.LinkDel(k.ifb); derr != nil {
				err = errors.Join(err, fmt.Errorf("delete %s: %w", k.ifb.Attrs().Name, derr))
			}
			k.ifb = nil
		}
	}
	k.inst[d] = false
	if !k.inst[down] && !k.inst[up] {
		k.closeBPF()
	}
	return err
}

// loadBPF makes the map and the programs, once for as long as a direction
// is installed.
func (k *kernel) loadBPF() error {
	if k.mapFD >= 0 {
		return nil
	}
	fd, err := newMap()
	if err != nil {
		return err
	}
	k.mapFD = fd
	for pk := range k.progs {
		if k.progs[pk], err = loadProgram(progKind(pk), k.mapFD); err != nil {
			k.closeBPF()
			return err
		}
	}
	return nil
}
