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
// the IFB), the priority of the two filters on the LAN's ingress, and the
// IFB's name (ifbName).
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

// groupRate is a group's class's rate: as much as HTB's 32-bit field holds
// (34 Gbit/s), so that a group never holds its clients back.
const groupRate = (1<<32 - 1) * 8

// A client's rate is what a speed test shows it (docs/shaper.md, What a
// rate means): the TCP payload of full-size packets. HTB counts whole
// Ethernet frames, 1,514 bytes for 1,448 of payload (a 1,500-byte IPv4
// packet, TCP with timestamps), so a class's rate is the client's scaled
// by frameBytes/payloadBytes.
const (
	frameBytes   = 1514
	payloadBytes = 1448
)

// wireRate is the HTB rate, in bit/s of frames, of a client's rate in bit/s
// of TCP payload.
func wireRate(bps uint64) uint64 {
	return bps/payloadBytes*frameBytes + bps%payloadBytes*frameBytes/payloadBytes
}

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
	log    *slog.Logger
	h      *netlink.Handle // to find links
	tc     *tcConn
	lan    int // ifindex
	lanDev string
	ifb    int // ifindex; 0 while upload is not shaped
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
	tc, err := dialTC(nsFD)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("shaper: netlink: %w", err)
	}
	k := &kernel{log: log, h: h, tc: tc, lan: lan.Attrs().Index, lanDev: iface, mapFD: -1}
	for i := range k.progs {
		k.progs[i] = -1
	}
	return k, nil
}

// gone is whether err says that what was to be deleted is not there: no
// such object, or (for a root qdisc) one that is not lobby's.
func gone(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENODEV)
}

// clean removes every object of lobby's on the LAN interface, whether this
// run made it or one that died did, and frees the BPF objects.
func (k *kernel) clean() error {
	var errs []error
	if err := k.tc.delQdisc(k.lan, rootHandle, tcHRoot); err != nil && !gone(err) {
		errs = append(errs, fmt.Errorf("delete the root qdisc of %s: %w", k.lanDev, err))
	}
	if err := k.delIngress(); err != nil {
		errs = append(errs, err)
	}
	if err := k.tc.delLink(ifbName(k.lanDev)); err != nil {
		errs = append(errs, fmt.Errorf("delete %s: %w", ifbName(k.lanDev), err))
	}
	k.ifb = 0
	k.inst = [2]bool{}
	k.closeBPF()
	return errors.Join(errs...)
}

// delIngress deletes lobby's filters from the LAN's ingress qdisc, and the
// qdisc when no other filter is left on it (one that someone else uses
// stays).
func (k *kernel) delIngress() error {
	for _, prio := range []uint16{ingressPrio, ingressPrio + 1} {
		if err := k.tc.delFilters(k.lan, ingressParent, prio); err != nil && !gone(err) {
			return fmt.Errorf("delete the ingress filters of %s: %w", k.lanDev, err)
		}
	}
	n, err := k.tc.countFilters(k.lan, ingressParent)
	if gone(err) {
		return nil // no ingress qdisc
	}
	if err != nil {
		return fmt.Errorf("list the ingress filters of %s: %w", k.lanDev, err)
	}
	if n > 0 {
		return nil
	}
	if err := k.tc.delQdisc(k.lan, 0xffff0000, tcHIngress); err != nil && !gone(err) {
		return fmt.Errorf("delete the ingress qdisc of %s: %w", k.lanDev, err)
	}
	return nil
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
	k.tc.close()
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

func (k *kernel) dev(d dir) int {
	if d == up {
		return k.ifb
	}
	return k.lan
}

func groupHandle(g uint16) uint32 { return uint32(groupMajor+g) << 16 }

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
		return k.tc.delClass(k.dev(o.dir), groupClassid(o.minor))
	case opClassAdd:
		if err := k.tc.htbClass(k.dev(o.dir), classid(o.minor), groupHandle(groupOf(o.minor)), wireRate(o.rate), create); err != nil {
			return err
		}
		return k.addLeaf(o.dir, o.minor)
	case opClassChange:
		return k.tc.htbClass(k.dev(o.dir), classid(o.minor), groupHandle(groupOf(o.minor)), wireRate(o.rate), 0)
	case opClassDel:
		// The class's leaf qdisc goes with it.
		return k.tc.delClass(k.dev(o.dir), classid(o.minor))
	case opMapSet:
		return mapUpdate(k.mapFD, o.key, o.val)
	case opMapDel:
		return mapDelete(k.mapFD, o.key)
	}
	return fmt.Errorf("unknown op %d", o.kind)
}

// addGroup makes group g: its class in the root HTB, an HTB of its own as
// that class's queue, and the classifier that finds a client's class in
// it.
func (k *kernel) addGroup(d dir, g uint16) error {
	dev := k.dev(d)
	if err := k.tc.htbClass(dev, groupClassid(g), rootHandle, groupRate, create); err != nil {
		return err
	}
	if err := k.tc.addHTB(dev, groupHandle(g), groupClassid(g), create); err != nil {
		return fmt.Errorf("group qdisc: %w", err)
	}
	pk := progDown
	if d == up {
		pk = progUp
	}
	if err := k.tc.addBPF(dev, groupHandle(g), 1, k.progs[pk], pk.name(), false); err != nil {
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
	err := k.tc.addFQCodel(k.dev(d), classid(minor))
	if k.fqCodel == nil {
		has := !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EOPNOTSUPP)
		k.fqCodel = &has
		if !has {
			k.log.Info("shaper: the kernel has no fq_codel; each client's class keeps a plain FIFO (pfifo)")
			return nil
		}
		if err == nil {
			k.log.Info("shaper: each client's class has an fq_codel queue")
		}
	}
	return err
}

// install puts a direction's root in place. Download: an HTB qdisc as the
// LAN interface's root, whose classifier sends a shaped client's frames to
// its group (whose own classifier finds its class) and every other frame
// straight out (HTB's direct queue: no default class). Upload: the same on
// an IFB device, and on the LAN's ingress a gate that lets every frame of
// an unshaped client pass at once and hands a shaped one's to a redirect
// to the IFB, so clients without a rate never go through it.
func (k *kernel) install(d dir) error {
	if err := k.loadBPF(); err != nil {
		return err
	}
	if d == up {
		name := ifbName(k.lanDev)
		if err := k.tc.addIFB(name); err != nil {
			return fmt.Errorf("add %s: %w", name, err)
		}
		l, err := k.h.LinkByName(name)
		if err != nil {
			return fmt.Errorf("find %s: %w", name, err)
		}
		k.ifb = l.Attrs().Index
	}
	dev := k.dev(d)
	// Replace: the LAN's own root qdisc (OpenWrt's fq_codel or noqueue)
	// comes back when lobby's is deleted.
	if err := k.tc.addHTB(dev, rootHandle, tcHRoot, unix.NLM_F_CREATE|unix.NLM_F_REPLACE); err != nil {
		return fmt.Errorf("root qdisc: %w", err)
	}
	pk := progRootDown
	if d == up {
		pk = progRootUp
	}
	if err := k.tc.addBPF(dev, rootHandle, 1, k.progs[pk], pk.name(), false); err != nil {
		return fmt.Errorf("root classifier: %w", err)
	}
	if d == up {
		if err := k.tc.addIngress(k.lan); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("ingress qdisc of %s: %w", k.lanDev, err)
		}
		if err := k.tc.addBPF(k.lan, ingressParent, ingressPrio, k.progs[progGate], progGate.name(), true); err != nil {
			return fmt.Errorf("ingress gate of %s: %w", k.lanDev, err)
		}
		if err := k.tc.addRedirect(k.lan, ingressParent, ingressPrio+1, k.ifb); err != nil {
			return fmt.Errorf("ingress redirect of %s: %w", k.lanDev, err)
		}
	}
	k.inst[d] = true
	return nil
}

func (k *kernel) uninstall(d dir) error {
	var err error
	if d == down {
		if err = k.tc.delQdisc(k.lan, rootHandle, tcHRoot); err != nil {
			err = fmt.Errorf("delete the root qdisc of %s: %w", k.lanDev, err)
		}
	} else {
		err = k.delIngress()
		// The IFB's qdiscs, classes and filters go with it.
		if derr := k.tc.delLink(ifbName(k.lanDev)); derr != nil {
			err = errors.Join(err, fmt.Errorf("delete %s: %w", ifbName(k.lanDev), derr))
		}
		k.ifb = 0
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
