package relay

import (
	"errors"
	"fmt"
	"net/netip"
)

// errRefused marks a destination the relay will not connect to (SPEC §3,
// After sign-in): the relay must never be a way into the venue's own
// networks, whatever name a client gives it.
var errRefused = errors.New("destination refused")

// notPublic are the IPv4 ranges of the IANA special-purpose address
// registry (RFC 6890) that are not globally reachable, and the other
// ranges no web site lives in. The documentation ranges of RFC 5737
// (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) are deliberately not
// here: no router on the internet carries them, so a connection to one
// reaches a real host only where a network misuses them — and where that
// network is attached to the router the attached-subnet rule refuses it
// anyway. The lab's fake internet is numbered from them.
var notPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network", RFC 1122 §3.2.1.3
	netip.MustParsePrefix("10.0.0.0/8"),     // private, RFC 1918
	netip.MustParsePrefix("100.64.0.0/10"),  // shared address space (CGN), RFC 6598
	netip.MustParsePrefix("127.0.0.0/8"),    // loopback, RFC 1122 §3.2.1.3
	netip.MustParsePrefix("169.254.0.0/16"), // link-local, RFC 3927
	netip.MustParsePrefix("172.16.0.0/12"),  // private, RFC 1918
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments, RFC 6890 §2.2.2
	netip.MustParsePrefix("192.88.99.0/24"), // 6to4 relay anycast, deprecated by RFC 7526
	netip.MustParsePrefix("192.168.0.0/16"), // private, RFC 1918
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking, RFC 2544
	netip.MustParsePrefix("224.0.0.0/4"),    // multicast, RFC 5771
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, RFC 1112 §4; holds 255.255.255.255, RFC 919
	netip.MustParsePrefix("2001::/23"),      // IETF protocol assignments (Teredo, ORCHID, ...), RFC 2928
}

// The IPv6 ranges that take more than one prefix test. nat64 and sixToFour
// addresses carry an IPv4 address that a translator or tunnel on the way
// delivers to: they are as public as that address.
var (
	// globalUnicast6 is RFC 4291 §2.4's global unicast: outside it every
	// IPv6 range is special — unspecified, loopback, IPv4-compatible,
	// discard-only (RFC 6666), local-use NAT64 (RFC 8215), unique-local
	// (RFC 4193), link-local, multicast, SRv6 SIDs (RFC 9602).
	globalUnicast6 = netip.MustParsePrefix("2000::/3")
	nat64          = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052 §2.1: IPv4 in the last 32 bits
	sixToFour      = netip.MustParsePrefix("2002::/16")    // RFC 3056 §2: IPv4 in bits 16-47
)

// public reports whether a is a public unicast address: one the relay may
// connect to as far as the address alone goes (the router's own networks
// are checked apart, as they change).
func public(a netip.Addr) bool {
	if !a.IsValid() || a.Zone() != "" { // a zone means a scoped address: never on the internet
		return false
	}
	a = a.Unmap()
	if a.Is6() {
		b := a.As16()
		switch {
		case nat64.Contains(a):
			a = netip.AddrFrom4([4]byte(b[12:16]))
		case sixToFour.Contains(a):
			a = netip.AddrFrom4([4]byte(b[2:6]))
		case !globalUnicast6.Contains(a):
			return false // ::, ::1, IPv4-compatible, discard-only, ULA, link-local, multicast, ...
		}
	}
	for _, p := range notPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// permit says whether the relay may connect to dst, a resolved address:
// only port, the one the listener relays (80 or 443), of a public unicast
// address that is none of the router's own and in none of its attached
// subnets (local, as they are now).
func permit(dst netip.AddrPort, port uint16, local []netip.Prefix) error {
	if dst.Port() != port {
		return fmt.Errorf("%w: %v: only port %d is relayed here", errRefused, dst, port)
	}
	a := dst.Addr().Unmap()
	if !public(a) {
		return fmt.Errorf("%w: %v is not a public unicast address", errRefused, dst.Addr())
	}
	for _, p := range local {
		if p.Contains(a) {
			return fmt.Errorf("%w: %v is the router's own or on a network attached to it (%v)", errRefused, a, p)
		}
	}
	return nil
}
