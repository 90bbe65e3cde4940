package dns

import (
	"context"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/lobby-fw/lobby/internal/dns/cache"
	"github.com/lobby-fw/lobby/internal/dns/garden"
	"github.com/lobby-fw/lobby/internal/dns/hijack"
	"github.com/lobby-fw/lobby/internal/session"
)

// query is one query being answered.
type query struct {
	req    *dns.Msg
	q      dns.Question
	name   string // q.Name in lowercase
	state  session.State
	garden bool     // a preauth client asking for a walled-garden name
	opt    *dns.OPT // the client's, nil without EDNS0
	do, cd bool
	// limit is the largest answer the client takes: 512 bytes over UDP
	// without EDNS0 (RFC 1035 §4.2.1), its payload size with it (at least
	// 512, at most maxUDP), 64 KiB over TCP.
	limit int
}

// answer decides the reply to the raw query b from src (SPEC §3, DNS). It
// returns:
//   - a reply and its query, to be sent with (*Server).pack;
//   - no reply but a query: the answer needs the upstreams, which the caller
//     asks with (*Server).resolve, off its read loop;
//   - neither: b is dropped (a response, or not DNS at all).
func (s *Server) answer(b []byte, src netip.Addr, tcp bool) (*dns.Msg, *query) {
	req := new(dns.Msg)
	if err := req.Unpack(b); err != nil {
		return formerr(b)
	}
	if req.Response {
		return nil, nil // never answer an answer: that is how loops start
	}
	q := &query{req: req, limit: dns.MinMsgSize}
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true

	nopt := 0
	for _, rr := range req.Extra {
		if opt, ok := rr.(*dns.OPT); ok {
			q.opt = opt
			nopt++
		}
	}
	if q.opt != nil {
		q.do = q.opt.Do()
		q.limit = min(max(int(q.opt.UDPSize()), dns.MinMsgSize), maxUDP)
	}
	if tcp {
		q.limit = dns.MaxMsgSize
	}
	switch {
	case nopt > 1 || q.opt != nil && q.opt.Hdr.Name != ".":
		m.Rcode = dns.RcodeFormatError // RFC 6891 §6.1.1
		return m, q
	case q.opt != nil && q.opt.Version() != 0:
		m.Rcode = dns.RcodeBadVers // RFC 6891 §6.1.3
		return m, q
	case req.Opcode != dns.OpcodeQuery:
		m.Rcode = dns.RcodeNotImplemented // RFC 1035 §4.1.1
		return m, q
	case len(req.Question) != 1:
		m.Rcode = dns.RcodeFormatError
		return m, q
	}
	q.q = req.Question[0]
	q.name = strings.ToLower(q.q.Name)
	q.cd = req.CheckingDisabled
	switch q.q.Qtype {
	case dns.TypeOPT:
		m.Rcode = dns.RcodeFormatError // a pseudo-type, not a question (RFC 6891 §6.1.1)
		return m, q
	case dns.TypeAXFR, dns.TypeIXFR, dns.TypeMAILA, dns.TypeMAILB:
		m.Rcode = dns.RcodeRefused // zone transfers: not from a portal
		return m, q
	}

	set := s.set.Load()
	if q.name == set.hostname {
		hijack.Answer(m, q.q, s.portal, hostnameTTL)
		return m, q
	}
	q.state = s.stateOf(src)
	switch q.state {
	case session.Blocked:
		// The firewall lets a blocked client reach nothing but DHCP;
		// should a query get here anyway, it learns nothing.
		m.Rcode = dns.RcodeRefused
		return m, q
	case session.Preauth:
		if !set.domains.Match(q.name) {
			hijack.Answer(m, q.q, s.portal, 0)
			return m, q
		}
		q.garden = true
	}
	if up, ok := s.cache.Load().Get(cache.KeyOf(q.q, q.do, q.cd), s.now()); ok {
		return s.forwarded(q, up), q
	}
	return nil, q
}

// stateOf is the state of the client at src. The router's own addresses
// count as trusted: only local programs can send from them (the kernel
// drops such packets arriving from outside as martians).
func (s *Server) stateOf(src netip.Addr) session.State {
	src = src.Unmap()
	if src == s.portal || src.IsLoopback() {
		return session.Trusted
	}
	if c, ok := s.table.LookupIP(src); ok {
		return c.State
	}
	return session.Preauth
}

// resolve answers q from the upstreams and caches their answer. A failure
// to get one is SERVFAIL.
func (s *Server) resolve(ctx context.Context, q *query) *dns.Msg {
	up, err := s.fwd.Exchange(ctx, q.q, q.do, q.cd)
	if err != nil {
		s.log.Debug("dns: upstreams failed", "name", q.q.Name, "type", dns.Type(q.q.Qtype), "err", err)
		m := new(dns.Msg)
		m.SetRcode(q.req, dns.RcodeServerFailure)
		m.RecursionAvailable = true
		return m
	}
	s.cache.Load().Put(cache.KeyOf(q.q, q.do, q.cd), up, s.now())
	// The forwarder shares up between the clients that asked at once.
	return s.forwarded(q, cache.Aged(up, 0))
}

// forwarded makes the reply to q from up, an upstream answer the caller
// owns. For a walled-garden name the firewall opens its addresses first,
// so the way is open by the time the client connects.
func (s *Server) forwarded(q *query, up *dns.Msg) *dns.Msg {
	if q.garden {
		addrs, ttl := garden.Addrs(up)
		if err := s.opener.Open(addrs, ttl, s.now()); err != nil {
			s.log.Warn("dns: "+err.Error(), "name", q.q.Name)
		}
	}
	m := new(dns.Msg)
	m.SetReply(q.req)
	m.RecursionAvailable = true
	m.Rcode = up.Rcode
	// RFC 6840 §5.8: AD only to a client that showed it understands it.
	m.AuthenticatedData = up.AuthenticatedData && (q.req.AuthenticatedData || q.do)
	m.Answer, m.Ns = up.Answer, up.Ns
	// Owner names as this client spelled the question: the cache may hold
	// another client's spelling, and names compare without case anyway
	// (RFC 4343).
	for _, rr := range m.Answer {
		if h := rr.Header(); h.Name != q.q.Name && strings.EqualFold(h.Name, q.q.Name) {
			h.Name = q.q.Name
		}
	}
	for _, rr := range up.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			m.Extra = append(m.Extra, rr)
		}
	}
	return m
}

// pack encodes reply m to q into buf: with an OPT record when the client
// sent one (RFC 6891 §7), cut to what the client takes with TC set when too
// long (RFC 2181 §9), compressed only when that is needed.
func (s *Server) pack(m *dns.Msg, q *query, buf []byte) ([]byte, error) {
	if q.opt != nil {
		opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		opt.SetUDPSize(maxUDP)
		if q.do {
			opt.SetDo() // RFC 3225 §3: DO is copied into the answer
		}
		m.Extra = append(m.Extra, opt)
	} else if m.Rcode > 0xF {
		// An extended RCODE needs an OPT record to travel in.
		m.Rcode = dns.RcodeServerFailure
	}
	m.Truncate(q.limit)
	return m.PackBuffer(buf)
}

// formerr is the reply to a query that cannot be parsed: FORMERR with its
// ID and opcode when the header at least is a query's (RFC 1035 §4.1.1),
// else nothing.
func formerr(b []byte) (*dns.Msg, *query) {
	if len(b) < 12 || b[2]&0x80 != 0 {
		return nil, nil
	}
	m := new(dns.Msg)
	m.Id = uint16(b[0])<<8 | uint16(b[1])
	m.Response = true
	m.Opcode = int(b[2]>>3) & 0xF
	m.Rcode = dns.RcodeFormatError
	return m, &query{limit: dns.MinMsgSize}
}

// dnsName is name in lowercase and fully qualified.
func dnsName(name string) string {
	return dns.Fqdn(strings.ToLower(name))
}
