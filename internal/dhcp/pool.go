package dhcp

import (
	"bytes"
	"container/heap"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"
)

// lease is the server's record of one address. An address gets a lease
// the first time it is offered and keeps it for good: when its client goes
// away the lease stays as the client's previous binding (RFC 2131 §4.3.1)
// until the address is given to someone else.
type lease struct {
	ip       netip.Addr
	key      string           // client key (clientKey); "" when nobody holds the address
	mac      net.HardwareAddr // the client's chaddr; nil when key is ""
	clientID []byte           // option 61 as the client sent it, if it did
	hostname string
	expires  time.Time
	bound    bool // ACKed and not yet ended: the client table knows the client
	declined bool // quarantined after a DECLINE (§4.3.3)
	static   bool // a `config host` address: never in the reuse order
	index    int  // position in pool.order; -1 for static leases
}

// record is a lease as the store keeps it, under the address.
type record struct {
	MAC      string    `json:"mac,omitempty"`
	ClientID string    `json:"client_id,omitempty"` // hex
	Hostname string    `json:"hostname,omitempty"`
	Expires  time.Time `json:"expires"`
	Declined bool      `json:"declined,omitempty"`
}

// clientKey is how a client is known across requests: by its client
// identifier (option 61) if it sends one, else by its hardware address
// (RFC 2131 §4.2: "the combination of 'client identifier' or 'chaddr' and
// assigned network address constitute a unique identifier").
func clientKey(clientID []byte, mac net.HardwareAddr) string {
	if len(clientID) > 0 {
		return "id:" + string(clientID)
	}
	return "hw:" + string(mac)
}

// pool hands out the addresses of one subnet's range and remembers every
// lease. It is not safe for concurrent use; the Server's mutex guards it.
//
// Which address a new client gets: a never-used one first (next walks
// the range once), so that every client that left keeps its previous
// address for as long as possible; when none is left, the one whose lease
// expired longest ago (order is a min-heap on expiry).
type pool struct {
	store    Store
	base     uint32 // first address of the range, as a number
	size     uint32
	next     uint32                // offset of the next address that may never have been used
	reserved map[netip.Addr]bool   // never handed out from the range: the portal, static addresses
	static   map[string]Host       // static hosts by string(MAC)
	byIP     map[netip.Addr]*lease // every lease
	byClient map[string]*lease     // the lease of each client key
	order    leaseHeap             // every non-static lease, earliest expiry first
	ended    []net.HardwareAddr    // clients whose bound lease ended; the server tells the table
	// mayReclaim reports whether the running lease of ip held by mac may
	// go to another client when nothing else is left (see reclaim).
	mayReclaim func(mac net.HardwareAddr, ip netip.Addr) bool
	noneBound  time.Time // until then reclaim takes no running lease (it found none)
}

func newPool(first, last, portal netip.Addr, hosts []Host, st Store) *pool {
	p := &pool{
		store:    st,
		base:     u32(first),
		size:     u32(last) - u32(first) + 1,
		reserved: map[netip.Addr]bool{portal: true},
		static:   map[string]Host{},
		byIP:     map[netip.Addr]*lease{},
		byClient: map[string]*lease{},

		mayReclaim: func(net.HardwareAddr, netip.Addr) bool { return false },
	}
	for _, h := range hosts {
		p.static[string(h.MAC)] = h
		p.reserved[h.IP] = true
	}
	return p
}

func u32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func addr32(n uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// bounds returns the first and last address of the range.
func (p *pool) bounds() (first, last netip.Addr) {
	return addr32(p.base), addr32(p.base + p.size - 1)
}

// inRange reports whether ip may be handed out from the range.
func (p *pool) inRange(ip netip.Addr) bool {
	return ip.Is4() && u32(ip)-p.base < p.size && !p.reserved[ip]
}

// identify returns the key by which the pool knows a requester, and the
// client identifier to record for it. A client is known by its client
// identifier (option 61) if it sends one (RFC 2131 §4.2), but a running
// lease or offer belongs to the identifier and chaddr together: a request
// that carries another device's identifier from another MAC is taken as
// from a client without one, known by its MAC alone, so that it can
// neither take that lease over nor release or decline it. (The client
// table knows clients by MAC: a lease moved to the copier's MAC would
// move the victim's address to it there.) Once the lease has ended, the
// identifier finds its previous address from any MAC.
func (p *pool) identify(clientID []byte, mac net.HardwareAddr, now time.Time) (key string, id []byte) {
	key = clientKey(clientID, mac)
	if l := p.byClient[key]; l != nil && len(clientID) > 0 && now.Before(l.expires) && !bytes.Equal(l.mac, mac) {
		return clientKey(nil, mac), nil
	}
	return key, clientID
}

// usable reports whether client key (with hardware address mac) may have
// ip now: a static host only its own address; anyone else an address of
// the range that nobody else holds (an expired lease is not held).
func (p *pool) usable(ip netip.Addr, key string, mac net.HardwareAddr, now time.Time) bool {
	if h, ok := p.static[string(mac)]; ok {
		return ip == h.IP
	}
	if !p.inRange(ip) {
		return false
	}
	l := p.byIP[ip]
	return l == nil || l.key == key || !now.Before(l.expires)
}

// offer picks the address to offer (RFC 2131 §4.3.1) and holds it for the
// client for offerHold. ok is false when the pool is exhausted.
func (p *pool) offer(key string, mac net.HardwareAddr, clientID []byte, requested netip.Addr, now time.Time) (ip netip.Addr, ok bool) {
	// "The client's current address as recorded in the client's current
	// binding, ELSE the client's previous address as recorded in the
	// client's (now expired or released) binding" — a static host's is
	// its configured one.
	if h, ok := p.static[string(mac)]; ok {
		return h.IP, true
	}
	if l := p.byClient[key]; l != nil && !l.static {
		if !bytes.Equal(l.mac, mac) {
			// Its client identifier, from another MAC, after the lease
			// ended (identify): the offer is the new MAC's.
			p.claim(l.ip, key, mac, clientID, now)
		}
		p.hold(l, now)
		return l.ip, true
	}
	// "ELSE the address requested in the 'Requested IP Address' option,
	// if that address is valid and not already allocated".
	var l *lease
	switch {
	case requested.IsValid() && p.usable(requested, key, mac, now):
		l = p.claim(requested, key, mac, clientID, now)
	default:
		// "ELSE a new address allocated from the server's pool".
		if fresh, ok := p.fresh(); ok {
			l = p.claim(fresh, key, mac, clientID, now)
		} else if len(p.order) > 0 && !now.Before(p.order[0].expires) {
			l = p.claim(p.order[0].ip, key, mac, clientID, now)
		} else if r := p.reclaim(now); r != nil {
			l = p.claim(r.ip, key, mac, clientID, now)
			// The holder's record goes: a restart must not give the
			// address back to it.
			p.store.Delete(Kind, l.ip.String())
		} else {
			return netip.Addr{}, false
		}
	}
	p.hold(l, now)
	return l.ip, true
}

// reclaim chooses, in a pool with no free or expired address left, a
// running one to give to a new client (§4.3.1 leaves "a new address
// allocated from the server's pool" to the server), so that a flood of
// DISCOVERs or DORAs from made-up MACs cannot keep a real guest off the
// network until those leases end. First the lease of a client that has
// not signed in and is not on the link (mayReclaim), the one that ends
// first — every such lease is preauthLease long, so that is the one
// renewed longest ago; else the offer left unanswered longest. Never a
// signed-in, trusted or static client's, never a declined address. It
// is nil when there is none.
//
// The leases are visited in the order they end, by walking the heap, so
// under a flood the answer is near its root. A walk that found no lease
// to take is not repeated for a second, or until a new lease is granted
// (noneBound): until then only offers are looked for, which end within
// offerHold, near the root too.
func (p *pool) reclaim(now time.Time) *lease {
	wantBound := !now.Before(p.noneBound)
	var offered *lease
	walk := indexHeap{order: p.order}
	if len(p.order) > 0 {
		walk.idx = append(walk.idx, 0)
	}
	for len(walk.idx) > 0 {
		i := heap.Pop(&walk).(int)
		for _, c := range []int{2*i + 1, 2*i + 2} {
			if c < len(p.order) {
				heap.Push(&walk, c)
			}
		}
		l := p.order[i]
		switch {
		case l.key == "" || !now.Before(l.expires):
			// Quarantined (an expired one would have been taken).
		case !l.bound:
			if offered == nil {
				offered = l
				if !wantBound {
					return offered
				}
			}
		case wantBound && p.mayReclaim(l.mac, l.ip):
			return l
		}
	}
	if wantBound {
		p.noneBound = now.Add(time.Second)
	}
	return offered
}

// indexHeap orders positions of a leaseHeap by their leases' expiry: a
// walk of the heap in that order.
type indexHeap struct {
	order leaseHeap
	idx   []int
}

func (h indexHeap) Len() int           { return len(h.idx) }
func (h indexHeap) Less(i, j int) bool { return h.order.Less(h.idx[i], h.idx[j]) }
func (h indexHeap) Swap(i, j int)      { h.idx[i], h.idx[j] = h.idx[j], h.idx[i] }
func (h *indexHeap) Push(x any)        { h.idx = append(h.idx, x.(int)) }
func (h *indexHeap) Pop() any {
	x := h.idx[len(h.idx)-1]
	h.idx = h.idx[:len(h.idx)-1]
	return x
}

// fresh returns the next address of the range without a lease.
func (p *pool) fresh() (netip.Addr, bool) {
	for p.next < p.size {
		ip := addr32(p.base + p.next)
		p.next++
		if !p.reserved[ip] && p.byIP[ip] == nil {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

// hold keeps l's address for its client at least offerHold from now. It
// is not saved: an offer that a restart forgets costs nothing, since the
// REQUEST is checked against the pool again.
func (p *pool) hold(l *lease, now time.Time) {
	if until := now.Add(offerHold); l.expires.Before(until) {
		p.setExpiry(l, until)
	}
}

// claim gives the lease of ip to client key, creating it if needed, taking
// it from a previous holder (whose lease has expired) and detaching the
// client from any other lease it had.
func (p *pool) claim(ip netip.Addr, key string, mac net.HardwareAddr, clientID []byte, now time.Time) *lease {
	l := p.byIP[ip]
	if l == nil {
		h, static := p.static[string(mac)]
		l = &lease{ip: ip, index: -1, static: static && h.IP == ip}
		p.byIP[ip] = l
		if !l.static {
			heap.Push(&p.order, l)
		}
	}
	if l.key != key {
		if l.key != "" {
			p.end(l)
			delete(p.byClient, l.key)
			if l.expires.After(now) {
				p.setExpiry(l, now) // taken from its holder: the new one has only an offer yet
			}
		}
		if other := p.byClient[key]; other != nil {
			p.vacate(other, now)
		}
		l.key = key
		l.hostname = ""
		p.byClient[key] = l
	} else if !bytes.Equal(l.mac, mac) {
		p.end(l) // the same client identifier from another MAC, after the lease ended
	}
	// Copies, not in place: end may have handed the old MAC to the table.
	l.mac = slices.Clone(mac)
	l.clientID = slices.Clone(clientID)
	l.declined = false
	return l
}

// vacate takes l from its client, which is moving to another address: the
// address becomes free at once and its record goes.
func (p *pool) vacate(l *lease, now time.Time) {
	p.end(l)
	delete(p.byClient, l.key)
	l.key, l.mac, l.clientID, l.hostname = "", nil, nil, ""
	if l.static {
		delete(p.byIP, l.ip)
	} else if l.expires.After(now) {
		p.setExpiry(l, now)
	}
	p.save(l)
}

// end marks a bound lease as ended, for the server to tell the table.
func (p *pool) end(l *lease) {
	if l.bound {
		l.bound = false
		p.ended = append(p.ended, l.mac)
	}
}

// takeEnded returns the clients whose lease ended since the last call.
func (p *pool) takeEnded() []net.HardwareAddr {
	e := p.ended
	p.ended = nil
	return e
}

// ack grants or renews the lease of ip for client key for d (RFC 2131
// §4.3.2) and saves it. It returns nil if the client may not have ip:
// the caller NAKs. renewed tells a running lease extended from a new one.
func (p *pool) ack(key string, mac net.HardwareAddr, clientID []byte, hostname string, ip netip.Addr, now time.Time, d time.Duration) (l *lease, renewed bool) {
	if !p.usable(ip, key, mac, now) && !p.offeredOnly(ip, mac) {
		return nil, false
	}
	if prev := p.byIP[ip]; prev != nil && prev.key == key && prev.bound {
		renewed = true
	}
	l = p.claim(ip, key, mac, clientID, now)
	if h := p.static[string(mac)]; h.Name != "" {
		l.hostname = h.Name // the operator's name for the host wins
	} else if hostname != "" {
		l.hostname = hostname
	}
	// Whole seconds, rounded up: the client counts the lease from before
	// it sent the request, so ours ends no earlier than its own; and a
	// repeated ACK within a second writes an identical record, which the
	// store skips.
	exp := now.Add(d)
	if t := exp.Truncate(time.Second); t.Before(exp) {
		exp = t.Add(time.Second)
	}
	p.setExpiry(l, exp)
	l.bound = true
	p.save(l)
	if !renewed {
		p.noneBound = time.Time{} // a new lease that reclaim may take
	}
	return l, renewed
}

// offeredOnly reports whether ip is held for another client by an offer
// it has not answered: a REQUEST for it wins (first come, first served),
// so an offer taken over by a flood of DISCOVERs (reclaim) does not cost
// the client that asked first its address.
func (p *pool) offeredOnly(ip netip.Addr, mac net.HardwareAddr) bool {
	if _, static := p.static[string(mac)]; static || !p.inRange(ip) {
		return false
	}
	l := p.byIP[ip]
	return l != nil && l.key != "" && !l.bound && !l.static
}

// abandon ends the offer held for client key, which chose another server
// (§4.3.2: a REQUEST with another server identifier). A lease the client
// has been granted is left alone.
func (p *pool) abandon(key string, now time.Time) {
	if l := p.byClient[key]; l != nil && !l.bound && l.expires.After(now) {
		p.setExpiry(l, now)
	}
}

// release ends client key's lease of ip at once (§4.3.4). The lease stays
// as the client's previous binding.
func (p *pool) release(key string, ip netip.Addr, now time.Time) bool {
	l := p.byClient[key]
	if l == nil || l.ip != ip {
		return false
	}
	p.end(l)
	if l.expires.After(now) {
		p.setExpiry(l, now)
	}
	p.save(l)
	return true
}

// decline quarantines ip, which client key found in use by some other
// device (§4.3.3). A static address cannot be quarantined (it is nobody
// else's to give); its lease just ends.
func (p *pool) decline(key string, ip netip.Addr, now time.Time) bool {
	l := p.byIP[ip]
	if l == nil || l.key != key || key == "" {
		return false
	}
	if l.static {
		p.vacate(l, now)
		return true
	}
	p.end(l)
	delete(p.byClient, key)
	l.key, l.mac, l.clientID, l.hostname = "", nil, nil, ""
	l.declined = true
	p.setExpiry(l, now.Add(quarantine))
	p.save(l)
	return true
}

// expire ends every bound lease whose time is up.
func (p *pool) expire(now time.Time) {
	for _, l := range p.byIP {
		if l.bound && !now.Before(l.expires) {
			p.end(l)
		}
	}
}

// binding is what the client table is told of a lease.
type binding struct {
	mac      net.HardwareAddr
	ip       netip.Addr
	hostname string
}

func (l *lease) binding() *binding {
	return &binding{mac: append(net.HardwareAddr(nil), l.mac...), ip: l.ip, hostname: l.hostname}
}

// bindActive marks every running lease as bound, at start, and returns
// them for the client table.
func (p *pool) bindActive(now time.Time) []*binding {
	var out []*binding
	for _, l := range p.byIP {
		if l.key != "" && now.Before(l.expires) {
			l.bound = true
			out = append(out, l.binding())
		}
	}
	return out
}

// active counts the running leases.
func (p *pool) active(now time.Time) int {
	n := 0
	for _, l := range p.byIP {
		if l.key != "" && now.Before(l.expires) {
			n++
		}
	}
	return n
}

func (p *pool) setExpiry(l *lease, t time.Time) {
	l.expires = t
	if l.index >= 0 {
		heap.Fix(&p.order, l.index)
	}
}

// save writes l to the store (or removes its record when the address is
// free). The caller makes it durable with Sync when it must be.
func (p *pool) save(l *lease) {
	if l.key == "" && !l.declined {
		p.store.Delete(Kind, l.ip.String())
		return
	}
	// Put fails only for invalid UTF-8 or after Close; neither can
	// happen for these fields while the server runs.
	_ = p.store.Put(Kind, l.ip.String(), l.record())
}

// record is l as the store keeps it.
func (l *lease) record() record {
	r := record{Hostname: l.hostname, Expires: l.expires.UTC(), Declined: l.declined}
	if l.mac != nil {
		r.MAC = l.mac.String()
	}
	if len(l.clientID) > 0 {
		r.ClientID = hex.EncodeToString(l.clientID)
	}
	return r
}

// restore adds a stored lease. It refuses one that the config no longer
// allows; of two leases of one client the later one wins.
func (p *pool) restore(key string, r record) error {
	ip, err := netip.ParseAddr(key)
	if err != nil || !ip.Is4() {
		return errors.New("not an IPv4 address")
	}
	l := &lease{ip: ip, hostname: r.Hostname, expires: r.Expires, declined: r.Declined, index: -1}
	if !r.Declined {
		if l.mac, err = net.ParseMAC(r.MAC); err != nil || len(l.mac) != 6 {
			return fmt.Errorf("bad MAC %q", r.MAC)
		}
		if l.clientID, err = hex.DecodeString(r.ClientID); err != nil {
			return fmt.Errorf("bad client_id %q", r.ClientID)
		}
		l.key = clientKey(l.clientID, l.mac)
	}
	if h, ok := p.static[string(l.mac)]; ok && l.mac != nil {
		if h.IP != ip {
			return fmt.Errorf("%s is now a static host at %s", l.mac, h.IP)
		}
		l.static = true
	} else if !p.inRange(ip) {
		first, last := p.bounds()
		return fmt.Errorf("outside the pool %s-%s or reserved", first, last)
	}
	if other := p.byClient[l.key]; other != nil && l.key != "" {
		if !other.expires.Before(l.expires) {
			return fmt.Errorf("the client has a later lease at %s", other.ip)
		}
		delete(p.byIP, other.ip)
		if other.index >= 0 {
			heap.Remove(&p.order, other.index)
		}
		p.store.Delete(Kind, other.ip.String())
	}
	p.byIP[ip] = l
	if l.key != "" {
		p.byClient[l.key] = l
	}
	if !l.static {
		heap.Push(&p.order, l)
	}
	return nil
}

// leaseHeap orders leases by expiry, the earliest first, for reuse.
type leaseHeap []*lease

func (h leaseHeap) Len() int           { return len(h) }
func (h leaseHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h leaseHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *leaseHeap) Push(x any) {
	l := x.(*lease)
	l.index = len(*h)
	*h = append(*h, l)
}

func (h *leaseHeap) Pop() any {
	old := *h
	l := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	l.index = -1
	return l
}
