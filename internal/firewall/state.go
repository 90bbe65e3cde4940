package firewall

import (
	"net"
	"net/netip"
	"slices"

	"github.com/lobby-fw/lobby/internal/session"
)

// kind is one of the kernel-side memberships a client can have.
type kind int

const (
	kindAuth    kind = iota // MAC with its IPv4 address in the authenticated set (counts upload)
	kindTrusted             // MAC in the trusted set (counts upload)
	kindBlocked             // MAC in the blocked set
	kindDown4               // IPv4 address in the download-accounting set
	kindAuth6               // MAC with one of its learned IPv6 addresses (option ipv6; counts upload)
	kindDown6               // learned IPv6 address in the download-accounting set
)

func (k kind) String() string {
	return [...]string{"auth", "trusted", "blocked", "down4", "auth6", "down6"}[k]
}

// op adds a member to, or deletes it from, one of the backend's sets.
type op struct {
	add  bool
	kind kind
	mac  net.HardwareAddr // kindAuth, kindTrusted, kindBlocked, kindAuth6
	ip   netip.Addr       // kindAuth (the address it signed in with), kindDown4; IPv6 for kindAuth6, kindDown6
}

// entry is what the kernel must know of a client.
type entry struct {
	state session.State
	ip    netip.Addr   // IPv4 only; the zero Addr when unknown
	ip6   []netip.Addr // the IPv6 addresses the table learned (session.Client.IPv6)
}

func entryOf(c session.Client) entry {
	e := entry{state: c.State, ip6: c.IPv6}
	if ip := c.IP.Unmap(); ip.Is4() {
		e.ip = ip
	}
	return e
}

// macIP is a client's element of a concatenated set: its MAC with one
// address.
type macIP struct {
	mac [6]byte
	ip  netip.Addr
}

// allowed reports whether a client in state s is let through.
func allowed(s session.State) bool { return s == session.Authenticated || s == session.Trusted }

// member is the element that lets e through or holds it back: a signed-in
// client by its MAC together with its IPv4 address (SPEC §3, Firewall: a
// copy of the MAC from another address is held at the portal), so none
// until the address is known; trusted and blocked clients by MAC.
func (e entry) member(mac net.HardwareAddr) (op, bool) {
	switch e.state {
	case session.Authenticated:
		return op{kind: kindAuth, mac: mac, ip: e.ip}, e.ip.Is4()
	case session.Trusted:
		return op{kind: kindTrusted, mac: mac}, true
	case session.Blocked:
		return op{kind: kindBlocked, mac: mac}, true
	}
	return op{}, false
}

// sameMember reports whether a and b are the same element.
func sameMember(a, b op) bool { return a.kind == b.kind && a.ip == b.ip }

// usage is one let-through client's byte totals, as reported to the table.
type usage struct {
	mac      net.HardwareAddr
	up, down uint64
	// lastUp is the last reading of the client's element in its MAC set,
	// whose counter starts at 0 when it is added.
	lastUp uint64
}

// state mirrors what the backend's sets hold, so that a change becomes the
// smallest set of ops, and turns the kernel's counters into per-client
// totals. It does no I/O: the rules of moving a client are tested as a
// table.
type state struct {
	clients map[string]entry      // by string(MAC); preauth clients are absent
	down    map[netip.Addr]string // accounting addresses → string(MAC) of the owner
	usage   map[string]*usage     // let-through clients' totals
	// The last counter reading of each download-accounting element: an
	// element's counter starts at 0 when it is added, so totals grow by the
	// difference. (Upload's is in usage, and in lastUp6 for the elements
	// of a signed-in client's IPv6 addresses.)
	lastDown map[netip.Addr]uint64
	lastUp6  map[macIP]uint64
}

func newState() state {
	return state{
		clients: map[string]entry{}, down: map[netip.Addr]string{}, usage: map[string]*usage{},
		lastDown: map[netip.Addr]uint64{}, lastUp6: map[macIP]uint64{},
	}
}

// change records that mac should now be want and returns the ops that get
// the kernel there: deletions first, then additions. up and down are the
// client's byte totals so far (from the table), the base that its counters
// add to when it is let through.
func (s *state) change(mac net.HardwareAddr, want entry, up, down uint64) []op {
	key := string(mac)
	cur := s.clients[key]
	var dels, adds []op
	// The client's element: a sign-in or sign-out, or a signed-in client's
	// new address, is one element out and one in.
	curM, hadM := cur.member(mac)
	wantM, haveM := want.member(mac)
	moved := hadM != haveM || (hadM && !sameMember(curM, wantM))
	if moved {
		if hadM {
			dels = append(dels, curM)
		}
		if haveM {
			wantM.add = true
			adds = append(adds, wantM)
		}
	}

	// The download-accounting sets: a let-through client's IPv4 address
	// and learned IPv6 addresses. An address that moved to another MAC (a
	// new lease) changes owner without a kernel change.
	var curDown, wantDown []netip.Addr
	if allowed(cur.state) {
		for _, ip := range append([]netip.Addr{cur.ip}, cur.ip6...) {
			if ip.IsValid() && s.down[ip] == key {
				curDown = append(curDown, ip)
			}
		}
	}
	if allowed(want.state) {
		if want.ip.Is4() {
			wantDown = append(wantDown, want.ip)
		}
		wantDown = append(wantDown, want.ip6...)
	}
	for _, ip := range curDown {
		if !slices.Contains(wantDown, ip) {
			dels = append(dels, op{kind: downKind(ip), ip: ip})
			delete(s.down, ip)
			delete(s.lastDown, ip)
		}
	}
	for _, ip := range wantDown {
		if slices.Contains(curDown, ip) {
			continue
		}
		if _, taken := s.down[ip]; !taken {
			adds = append(adds, op{add: true, kind: downKind(ip), ip: ip})
			s.lastDown[ip] = 0
		}
		s.down[ip] = key
	}

	// A signed-in client's learned IPv6 addresses, each with its MAC:
	// one element each, in or out.
	var cur6, want6 []netip.Addr
	if cur.state == session.Authenticated {
		cur6 = cur.ip6
	}
	if want.state == session.Authenticated {
		want6 = want.ip6
	}
	for _, ip := range cur6 {
		if !slices.Contains(want6, ip) {
			dels = append(dels, op{kind: kindAuth6, mac: mac, ip: ip})
			delete(s.lastUp6, macIP{[6]byte(mac), ip})
		}
	}
	for _, ip := range want6 {
		if !slices.Contains(cur6, ip) {
			adds = append(adds, op{add: true, kind: kindAuth6, mac: mac, ip: ip})
			s.lastUp6[macIP{[6]byte(mac), ip}] = 0
		}
	}

	switch {
	case !allowed(want.state):
		delete(s.usage, key)
	case s.usage[key] == nil:
		s.usage[key] = &usage{mac: mac, up: up, down: down}
	case moved:
		s.usage[key].lastUp = 0 // a new element, whose counter starts at 0
	}
	if want.state == session.Preauth {
		delete(s.clients, key)
	} else {
		s.clients[key] = want
	}
	return append(dels, adds...)
}

// downKind is the download-accounting set of ip's family.
func downKind(ip netip.Addr) kind {
	if ip.Is4() {
		return kindDown4
	}
	return kindDown6
}

// account adds kernel counter readings (upload by MAC, and by MAC and
// IPv6 address; download by address) to the clients' totals and returns
// the clients whose totals moved. It allocates nothing when nothing
// moved: it runs every pollInterval over every client.
func (s *state) account(up map[[6]byte]uint64, up6 map[macIP]uint64, down map[netip.Addr]uint64) []usage {
	var moved map[string]bool
	mark := func(key string) {
		if moved == nil {
			moved = map[string]bool{}
		}
		moved[key] = true
	}
	for mac, n := range up {
		u := s.usage[string(mac[:])]
		if u == nil {
			continue // not (or no longer) ours to count
		}
		if d := grown(u.lastUp, n); d > 0 {
			u.up += d
			mark(string(u.mac))
		}
		u.lastUp = n
	}
	for k, n := range up6 {
		u := s.usage[string(k.mac[:])]
		last, ok := s.lastUp6[k]
		if u == nil || !ok {
			continue
		}
		if d := grown(last, n); d > 0 {
			u.up += d
			mark(string(u.mac))
		}
		s.lastUp6[k] = n
	}
	for ip, n := range down {
		key, owned := s.down[ip]
		u := s.usage[key]
		last, ok := s.lastDown[ip]
		if !owned || u == nil || !ok {
			continue
		}
		if d := grown(last, n); d > 0 {
			u.down += d
			mark(key)
		}
		s.lastDown[ip] = n
	}
	if moved == nil {
		return nil
	}
	out := make([]usage, 0, len(moved))
	for key := range moved {
		out = append(out, *s.usage[key])
	}
	return out
}

// grown is how much a counter grew from last to now. A counter below its
// last reading was recreated (a rebuild, or a delete and add in between)
// and counts from zero.
func grown(last, now uint64) uint64 {
	if now < last {
		return now
	}
	return now - last
}
