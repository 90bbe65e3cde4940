package firewall

import (
	"net/netip"
	"time"
)

// backend is one way of making the kernel enforce the rules. Every method
// is called with the Firewall's lock held, except counters.
type backend interface {
	name() string
	// detail says how the backend keeps things, for the log.
	detail() string
	// build replaces whatever lobby has in the kernel (nothing, or what a
	// crashed lobby left) with the ruleset, the members and the garden
	// addresses: atomically where the backend can.
	build(r ruleset, members []op, garden []gardenElem) error
	// apply changes set memberships: one transaction where the backend can.
	apply(ops []op) error
	// allow adds walled-garden addresses for their ttl, or extends them.
	allow(elems []gardenElem) error
	// counters reads the byte counters into r, which is empty.
	counters(r *readings) error
	// expire removes garden addresses past their time, for a backend whose
	// kernel sets have no timeouts.
	expire(now time.Time) error
	// teardown removes everything lobby put in the kernel.
	teardown() error
}

// readings is one reading of the kernel's byte counters: upload by MAC
// (the signed-in client's IPv4 element, the trusted one's MAC), and by MAC
// and IPv6 address (a signed-in client's IPv6 elements); download by
// address, IPv4 and IPv6. Its maps are kept from one reading to the next
// (cleared), so that reading 10,000 clients every few seconds does not
// rebuild them.
type readings struct {
	up   map[[6]byte]uint64
	up6  map[macIP]uint64
	down map[netip.Addr]uint64
}

func newReadings() *readings {
	return &readings{up: map[[6]byte]uint64{}, up6: map[macIP]uint64{}, down: map[netip.Addr]uint64{}}
}

func (r *readings) clear() {
	clear(r.up)
	clear(r.up6)
	clear(r.down)
}

// ruleset is what the rules depend on.
type ruleset struct {
	iface  string         // option interface: where clients live
	portal netip.Addr     // option address (IPv4)
	ports  []uint16       // the portal's TCP ports on that address
	garden []netip.Prefix // allow_address, without overlaps
	// relay80 and relay443 are the relay's ports on the portal address: a
	// signed-in client's TCP 80 and 443 to the portal address go there
	// (SPEC §3, After sign-in). Zero: no relay.
	relay80, relay443 uint16
	// dnsRedirect is the resolver's port on the portal address for the
	// DNS a preauth client sends to other resolvers.
	dnsRedirect uint16
	// admin is the admin listener's TCP port; every packet from the LAN
	// interface to it is dropped, whatever the client's state and the
	// router's address it is sent to (SPEC §3, §8). Zero: none.
	admin uint16
	// das is the RADIUS Dynamic Authorization listener's UDP port: every
	// packet from the LAN interface to it is dropped in the same way
	// (SPEC §7: only das_client addresses may ask). Zero: none.
	das uint16
}

// gardenElem is an address that the resolver opened for ttl.
type gardenElem struct {
	addr netip.Addr
	ttl  time.Duration
}
