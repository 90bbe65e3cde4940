package shaper

import (
	"container/heap"
	"errors"
	"fmt"
	"net"
)

// Rates are a client's limits in bit/s; 0 means none in that direction.
// Down is what the client receives, Up what it sends (SPEC §3, Limits).
type Rates struct {
	Down, Up uint64
}

// dir is a direction of shaping: the queue it waits in.
type dir int

const (
	down dir = iota // the LAN interface's egress: what clients receive
	up              // the IFB that the LAN's ingress redirects to: what they send
)

func (d dir) String() string {
	if d == down {
		return "download"
	}
	return "upload"
}

// maxClients bounds the clients shaped at once: the size of the BPF map,
// whose bucket array the kernel allocates whole (16 bytes a bucket, 256 KiB
// here) when the first client gets a rate. HTB class minors go up to 0xffff.
const maxClients = 16384

// The clients' classes are spread over groups, each an HTB qdisc of its own
// under a class of the root HTB, because the kernel walks every class of a
// qdisc each time one is added or deleted (tc_bind_tclass, for filters that
// name classes): in one flat HTB a sign-in costs 4 ms at 10,000 clients on
// an x86 core and a start with them 24 s. Groups are filled in order of
// the minors, the lowest free minor first, so that a venue with a few dozen
// shaped clients has one group; each group made logs one line in the
// kernel's log ("htb qdisc 1100: is non-work-conserving?": the root HTB
// finds a group's queue not ready when a client is over its rate).
const (
	perGroup   = 64
	groups     = maxClients / perGroup
	groupMajor = 0x1100 // the group qdiscs' handles: 1100: … 11ff:
)

// ErrFull is what Set returns when maxClients clients are shaped already.
var ErrFull = errors.New("shaper: every class is taken")

// opKind is what one kernel operation does.
type opKind int

const (
	// opInstall puts a direction's root in place: on the LAN, an HTB
	// qdisc and the classifier; for upload also the IFB, its HTB and
	// the ingress redirect of shaped clients' frames.
	opInstall opKind = iota
	// opUninstall removes what opInstall made; the classes go with it.
	opUninstall
	// opGroupAdd makes a group: a class of the root HTB, the group's own
	// HTB under it and that HTB's classifier; opGroupDel removes the
	// class and everything under it.
	opGroupAdd
	opGroupDel
	opClassAdd    // an HTB class (and its leaf) for a client
	opClassChange // a class's rate
	opClassDel
	opMapSet // the client's classids, the classifiers' one lookup
	opMapDel
)

// op is one kernel operation of a plan.
type op struct {
	kind  opKind
	dir   dir
	minor uint16 // the client's minor, or the group's number
	rate  uint64 // bit/s: opClassAdd, opClassChange
	key   uint64 // opMapSet, opMapDel
	val   mapValue
}

func (o op) String() string {
	switch o.kind {
	case opInstall:
		return "install " + o.dir.String()
	case opUninstall:
		return "uninstall " + o.dir.String()
	case opGroupAdd:
		return fmt.Sprintf("group add %s %d", o.dir, o.minor)
	case opGroupDel:
		return fmt.Sprintf("group del %s %d", o.dir, o.minor)
	case opClassAdd:
		return fmt.Sprintf("class add %s %#x %d", o.dir, o.minor, o.rate)
	case opClassChange:
		return fmt.Sprintf("class change %s %#x %d", o.dir, o.minor, o.rate)
	case opClassDel:
		return fmt.Sprintf("class del %s %#x", o.dir, o.minor)
	case opMapSet:
		return fmt.Sprintf("map set %012x %#x/%#x", o.key, o.val.down, o.val.up)
	case opMapDel:
		return fmt.Sprintf("map del %012x", o.key)
	}
	return fmt.Sprintf("op(%d)", int(o.kind))
}

// mapValue is a client's entry in the classifiers' map: its classid in each
// direction, 0 where it has no rate.
type mapValue struct {
	down, up uint32
}

// entry is one shaped client.
type entry struct {
	minor uint16
	rates Rates
}

// plan is what the kernel should hold: which clients are shaped, with which
// class. It is pure bookkeeping; a kernel applies its operations. Every
// change of one client is a few operations whatever the number of clients.
type plan struct {
	clients map[uint64]*entry // by macKey
	free    minors            // minors given back, the lowest reused first
	next    uint16            // the lowest minor never handed out
	count   [2]int            // clients with a rate, per direction
	group   [2][groups]int    // the same, per group
}

func newPlan() *plan {
	return &plan{clients: map[uint64]*entry{}, next: 1}
}

// macKey is the 48-bit MAC as the classifier builds it: the first four
// bytes and the last two, each read in network byte order.
func macKey(mac net.HardwareAddr) uint64 {
	var k uint64
	for _, b := range mac[:6] {
		k = k<<8 | uint64(b)
	}
	return k
}

// groupOf is the group of a minor.
func groupOf(minor uint16) uint16 { return (minor - 1) / perGroup }

// classid is the HTB class handle of a minor: in its group's qdisc.
func classid(minor uint16) uint32 {
	return uint32(groupMajor+groupOf(minor))<<16 | uint32(minor)
}

// groupClassid is the class of the root HTB that holds group g.
func groupClassid(g uint16) uint32 { return handleMajor<<16 | uint32(g+1) }

func (e *entry) value() mapValue {
	var v mapValue
	if e.rates.Down > 0 {
		v.down = classid(e.minor)
	}
	if e.rates.Up > 0 {
		v.up = classid(e.minor)
	}
	return v
}

func (e *entry) rate(d dir) uint64 {
	if d == down {
		return e.rates.Down
	}
	return e.rates.Up
}

// set gives the client at key the rates r (zero: none) and returns the
// operations that bring the kernel there, in order: roots first, then
// classes, the map entry that sends traffic to them, and the removals.
func (p *plan) set(key uint64, r Rates) ([]op, error) {
	old, ok := p.clients[key]
	if r == (Rates{}) {
		if !ok {
			return nil, nil
		}
		return p.remove(key), nil
	}
	e := old
	if !ok {
		var m uint16
		switch {
		case len(p.free) > 0:
			m = heap.Pop(&p.free).(uint16)
		case p.next <= maxClients:
			m = p.next
			p.next++
		default:
			return nil, ErrFull
		}
		e = &entry{minor: m}
		p.clients[key] = e
	}
	before := *e
	e.rates = r
	var adds, dels []op
	for _, d := range []dir{down, up} {
		was, now := before.rate(d), e.rate(d)
		switch {
		case was == now:
		case was == 0:
			adds = p.addClass(adds, d, e.minor, now)
		case now == 0:
			dels = p.delClass(dels, d, e.minor)
		default:
			adds = append(adds, op{kind: opClassChange, dir: d, minor: e.minor, rate: now})
		}
	}
	ops := adds
	if e.value() != before.value() {
		ops = append(ops, op{kind: opMapSet, key: key, val: e.value()})
	}
	return append(ops, dels...), nil
}

// remove stops shaping the client at key. When it was the last one,
// uninstalling the directions removes its class and map entry with them.
func (p *plan) remove(key uint64) []op {
	e, ok := p.clients[key]
	if !ok {
		return nil
	}
	delete(p.clients, key)
	heap.Push(&p.free, e.minor)
	var ops []op
	if len(p.clients) > 0 {
		ops = append(ops, op{kind: opMapDel, key: key})
	}
	for _, d := range []dir{down, up} {
		if e.rate(d) > 0 {
			ops = p.delClass(ops, d, e.minor)
		}
	}
	return ops
}

// addClass counts a new class and appends what makes it: the direction's
// root and the group first where they are missing.
func (p *plan) addClass(ops []op, d dir, minor uint16, rate uint64) []op {
	if p.count[d] == 0 {
		ops = append(ops, op{kind: opInstall, dir: d})
	}
	p.count[d]++
	g := groupOf(minor)
	if p.group[d][g] == 0 {
		ops = append(ops, op{kind: opGroupAdd, dir: d, minor: g})
	}
	p.group[d][g]++
	return append(ops, op{kind: opClassAdd, dir: d, minor: minor, rate: rate})
}

// delClass uncounts a class and appends what removes it: the smallest
// object that holds nothing else, the direction's root, its group or the
// class itself.
func (p *plan) delClass(ops []op, d dir, minor uint16) []op {
	p.count[d]--
	g := groupOf(minor)
	p.group[d][g]--
	switch {
	case p.count[d] == 0:
		return append(ops, op{kind: opUninstall, dir: d})
	case p.group[d][g] == 0:
		return append(ops, op{kind: opGroupDel, dir: d, minor: g})
	}
	return append(ops, op{kind: opClassDel, dir: d, minor: minor})
}

// build returns the operations that put the whole plan into a kernel that
// holds none of it.
func (p *plan) build() []op {
	var ops []op
	for _, d := range []dir{down, up} {
		if p.count[d] == 0 {
			continue
		}
		ops = append(ops, op{kind: opInstall, dir: d})
		for g, n := range p.group[d] {
			if n > 0 {
				ops = append(ops, op{kind: opGroupAdd, dir: d, minor: uint16(g)})
			}
		}
		for _, e := range p.clients {
			if r := e.rate(d); r > 0 {
				ops = append(ops, op{kind: opClassAdd, dir: d, minor: e.minor, rate: r})
			}
		}
	}
	for k, e := range p.clients {
		ops = append(ops, op{kind: opMapSet, key: k, val: e.value()})
	}
	return ops
}

// minors is a min-heap of free minors (container/heap).
type minors []uint16

func (m minors) Len() int           { return len(m) }
func (m minors) Less(i, j int) bool { return m[i] < m[j] }
func (m minors) Swap(i, j int)      { m[i], m[j] = m[j], m[i] }
func (m *minors) Push(x any)        { *m = append(*m, x.(uint16)) }
func (m *minors) Pop() any {
	old := *m
	x := old[len(old)-1]
	*m = old[:len(old)-1]
	return x
}
