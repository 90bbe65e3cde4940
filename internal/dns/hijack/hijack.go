// Package hijack builds the answers that send a client to the portal
// (SPEC §3, DNS): an A record with the portal's address for an address
// query, and for every other type an empty NOERROR answer, so that nothing
// the upstreams know reaches a client that has not signed in. No DNS
// tunnel, no SVCB/HTTPS hints, no IPv6 way round the portal. It is one
// step of Lobby's resolver and knows nothing of clients.
package hijack

import (
	"net"
	"net/netip"

	"github.com/miekg/dns"
)

// Answer fills m, already a reply to question q, with the portal's answer:
// for an A question of class IN (or ANY), one A record with address portal
// and TTL ttl; for anything else no record at all (NODATA).
//
// The empty answers carry no SOA on purpose: RFC 2308 §5 says a negative
// answer without an SOA is not cached, so once the client signs in it asks
// again and gets the real answer.
func Answer(m *dns.Msg, q dns.Question, portal netip.Addr, ttl uint32) {
	m.Rcode = dns.RcodeSuccess
	m.Answer, m.Ns = nil, nil
	if q.Qtype != dns.TypeA || (q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY) || !portal.Is4() {
		return
	}
	a := portal.As4()
	m.Answer = []dns.RR{&dns.A{
		Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl},
		A:   net.IP(a[:]),
	}}
}
