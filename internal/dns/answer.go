package dns

import (
	"context"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/lobby-fw/lobby/internal/dns/cache"
	"github.com/lobby-fw/lobby/internal/dns/garden"
	"github.com/lobby-fw/lobby/internal/session"
)

// query is a query that the full path answers: decoded, for the
// upstreams, the walled garden or an answer cut to size.
type query struct {
	req    *dns.Msg
	q      dns.Question
	garden bool     // a preauth client asking for a walled-garden name
	opt    *dns.OPT // the client's, nil without EDNS0
	do, cd bool
	limit  int // as wireQuery.limit
}

// answer decides the reply to the raw query b from src (SPEC §3, DNS) and
// writes it into out. It returns:
//   - the reply, to be sent;
//   - no reply but a query: the answer needs the upstreams, which the caller
//     asks with (*Server).resolve, off its read loop, and packs with
//     (*Server).pack;
//   - neither: b is dropped (a response, or not DNS at all), or err, when
//     a reply could not be packed.
//
// Nearly every query takes the quick path: read in place, answered from
// the portal's address or the cache's wire form, with no allocation. The
// rest is decoded whole.
func (s *Server) answer(b []byte, src netip.Addr, tcp bool, out []byte) ([]byte, *query, error) {
	var wq wireQuery
	var req *dns.Msg
	if !wq.parse(b, tcp) {
		var m *dns.Msg
		if req, m = validate(b); m != nil || req == nil {
			return s.packReply(m, req, tcp, out)
		}
		// A valid query of another shape (a compressed question, EDNS
		// options, trailing bytes): written again in the common shape,
		// so that one path decides for both.
		c := &dns.Msg{MsgHdr: req.MsgHdr, Question: req.Question}
		c.Rcode = 0
		if opt := req.IsEdns0(); opt != nil {
			o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
			o.SetUDPSize(opt.UDPSize())
			o.SetDo(opt.Do())
			c.Extra = []dns.RR{o}
		}
		cb, err := c.Pack()
		if err != nil || !wq.parse(cb, tcp) {
			return s.packReply(formerr(b), nil, tcp, out)
		}
	}
	if r := s.quick(&wq, src, out); r != nil {
		return r, nil, nil
	}
	if req == nil {
		req = new(dns.Msg)
		if err := req.Unpack(b); err != nil {
			return s.packReply(formerr(b), nil, tcp, out)
		}
	}
	q := &query{req: req, q: req.Question[0], garden: wq.garden, opt: req.IsEdns0(), do: wq.do, cd: wq.flags&flagCD != 0, limit: wq.limit}
	if !q.garden {
		s.stats.forwarded.Add(1)
	}
	if up, ok := s.cache.Load().Get(cache.KeyOf(q.q, q.do, q.cd), s.now()); ok {
		r, err := s.pack(s.forwarded(q, up), q, out)
		return r, nil, err
	}
	return nil, q, nil
}

// quick answers wq into out when neither the upstreams nor the firewall
// nor cutting the answer to size is needed: the portal's own name, a
// blocked client, a client that has not signed in (but for walled-garden
// names), and a signed-in client's cache hit that fits. Otherwise it
// returns nil (and sets wq.garden for a walled-garden name).
func (s *Server) quick(wq *wireQuery, src netip.Addr, out []byte) []byte {
	set := s.set.Load()
	if string(wq.name()) == set.hostname {
		s.stats.hijacked.Add(1)
		return wq.hijacked(out, s.portal, hostnameTTL)
	}
	switch s.stateOf(src) {
	case session.Blocked:
		// The firewall lets a blocked client reach nothing but DHCP;
		// should a query get here anyway, it learns nothing.
		s.stats.refused.Add(1)
		return wq.finish(wq.reply(out, dns.RcodeRefused), 0)
	case session.Preauth:
		if !set.domains.Match(wq.name()) {
			s.stats.hijacked.Add(1)
			return wq.hijacked(out, s.portal, 0)
		}
		s.stats.garden.Add(1)
		wq.garden = true
		return nil
	}
	hit, ok := s.cache.Load().Lookup(wq.cacheKey(), s.now())
	if !ok {
		return nil
	}
	size := hit.Len()
	if wq.opt {
		size += optLen
	}
	if size > wq.limit {
		return nil // cut to size by the full path
	}
	s.stats.forwarded.Add(1)
	return wq.cached(out, hit)
}

// validate decodes b, a query that parse refused. It returns the query,
// or the reply that refuses it (with the query it was decoded from, when
// it was), or neither when b is to be dropped.
func validate(b []byte) (*dns.Msg, *dns.Msg) {
	req := new(dns.Msg)
	if err := req.Unpack(b); err != nil {
		return nil, formerr(b)
	}
	if req.Response {
		return nil, nil // never answer an answer: that is how loops start
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	nopt := 0
	var opt *dns.OPT
	for _, rr := range req.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			opt = o
			nopt++
		}
	}
	switch {
	case nopt > 1 || opt != nil && opt.Hdr.Name != ".":
		m.Rcode = dns.RcodeFormatError // RFC 6891 §6.1.1
	case opt != nil && opt.Version() != 0:
		m.Rcode = dns.RcodeBadVers // RFC 6891 §6.1.3
	case req.Opcode != dns.OpcodeQuery:
		m.Rcode = dns.RcodeNotImplemented // RFC 1035 §4.1.1
	case len(req.Question) != 1:
		m.Rcode = dns.RcodeFormatError
	default:
		if m.Rcode = refusedType(req.Question[0].Qtype); m.Rcode == dns.RcodeSuccess {
			return req, nil
		}
	}
	return req, m
}

// refusedType is the RCODE of the answer to a question of type t that is
// never asked upstream, and RcodeSuccess for any other type. Both paths
// decide by it: the quick path leaves these questions to validate.
func refusedType(t uint16) int {
	switch t {
	case dns.TypeOPT:
		// A pseudo-RR, not a question: OPT "MUST NOT be cached, forwarded,
		// or stored" (RFC 6891 §6.1.1), so there is nothing to ask.
		return dns.RcodeFormatError
	case dns.TypeAXFR, dns.TypeIXFR, dns.TypeMAILA, dns.TypeMAILB:
		return dns.RcodeRefused // zone transfers: not from a portal
	}
	return dns.RcodeSuccess
}

// packReply packs m, a reply that refuses req (nil if it did not decode),
// into out: with an OPT record when req had one.
func (s *Server) packReply(m, req *dns.Msg, tcp bool, out []byte) ([]byte, *query, error) {
	if m == nil {
		return nil, nil, nil
	}
	q := &query{limit: dns.MinMsgSize}
	if req != nil {
		if opt := req.IsEdns0(); opt != nil {
			q.opt, q.do = opt, opt.Do()
			q.limit = min(max(int(opt.UDPSize()), dns.MinMsgSize), maxUDP)
		}
	}
	if tcp {
		q.limit = dns.MaxMsgSize
	}
	r, err := s.pack(m, q, out)
	return r, nil, err
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
	return s.forwarded(q, up.Copy())
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
// else nil.
func formerr(b []byte) *dns.Msg {
	if len(b) < 12 || b[2]&0x80 != 0 {
		return nil
	}
	m := new(dns.Msg)
	m.Id = uint16(b[0])<<8 | uint16(b[1])
	m.Response = true
	m.Opcode = int(b[2]>>3) & 0xF
	m.Rcode = dns.RcodeFormatError
	return m
}

// wireName is name in lowercase wire form, or "" if it is not a name.
func wireName(name string) string {
	var buf [255]byte // the longest name in wire form (RFC 1035 §2.3.4)
	n, err := dns.PackDomainName(dns.Fqdn(strings.ToLower(name)), buf[:], 0, nil, false)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}
