// Package hijack builds the answers that send a client to the portal
// (SPEC §3, DNS): an A record with the portal's address for an address
// query, and for every other type an empty NOERROR answer, so that nothing
// the upstreams know reaches a client that has not signed in. No DNS
// tunnel, no SVCB/HTTPS hints, no IPv6 way round the portal. It is one
// step of Lobby's resolver and knows nothing of clients.
package hijack

import (
	"encoding/binary"
	"net/netip"

	"github.com/miekg/dns"
)

// Append appends the portal's answer records to b, a NOERROR reply in wire
// form whose one question, at offset 12, has type qtype and class qclass,
// and returns b and how many records it appended: for an A question of
// class IN (or ANY), one A record with address portal and TTL ttl, its
// owner name pointing to the question; for anything else no record at all
// (NODATA).
//
// The empty answers carry no SOA on purpose: RFC 2308 §5 says a negative
// answer without an SOA is not cached, so once the client signs in it asks
// again and gets the real answer.
func Append(b []byte, qtype, qclass uint16, portal netip.Addr, ttl uint32) ([]byte, uint16) {
	if qtype != dns.TypeA || (qclass != dns.ClassINET && qclass != dns.ClassANY) || !portal.Is4() {
		return b, 0
	}
	b = append(b, 0xC0, 12) // the question's name (RFC 1035 §4.1.4)
	b = binary.BigEndian.AppendUint16(b, dns.TypeA)
	b = binary.BigEndian.AppendUint16(b, dns.ClassINET)
	b = binary.BigEndian.AppendUint32(b, ttl)
	b = binary.BigEndian.AppendUint16(b, 4)
	a := portal.As4()
	return append(b, a[:]...), 1
}
