package dns

import (
	"encoding/binary"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/lobby-fw/lobby/internal/dns/cache"
	"github.com/lobby-fw/lobby/internal/dns/hijack"
)

// Header flags (RFC 1035 §4.1.1, RFC 4035 §3.2).
const (
	flagQR     = 1 << 15
	flagOpcode = 0xF << 11
	flagRD     = 1 << 8
	flagRA     = 1 << 7
	flagAD     = 1 << 5
	flagCD     = 1 << 4
)

// optLen is the length of the OPT record an answer carries when its query
// had one: root name, type, class (the payload size), TTL (extended RCODE,
// version, flags) and an empty RDATA.
const optLen = 11

// wireQuery is a query read where it lies, in the shape of nearly every
// query a client sends: one question with an uncompressed name, no
// answer or authority records, and at most an OPT record without options.
// Such a query is answered without decoding it into a dns.Msg.
type wireQuery struct {
	id, flags     uint16
	question      []byte // as the client sent it: name, type, class
	qtype, qclass uint16
	opt, do       bool // an OPT record; its DO bit (RFC 3225)
	// limit is the largest answer the client takes: 512 bytes over UDP
	// without EDNS0 (RFC 1035 §4.2.1), its payload size with it (at least
	// 512, at most maxUDP), 64 KiB over TCP.
	limit int
	// garden is set by quick: a client that has not signed in asks for
	// a walled-garden name.
	garden bool

	// lower is the question's name in lowercase wire form (RFC 1035
	// §2.3.4: at most 255 bytes), the first n bytes of it.
	lower [255]byte
	n     int
	key   [260]byte // room for the cache key
}

// name is the question's name in lowercase wire form.
func (q *wireQuery) name() []byte { return q.lower[:q.n] }

// parse reads query b, which came over TCP or UDP; false when b is not of
// that shape. Everything parse refuses goes to the full decoder, which
// also finds what is wrong with a query.
func (q *wireQuery) parse(b []byte, tcp bool) bool {
	if len(b) < 12 {
		return false
	}
	q.id = binary.BigEndian.Uint16(b)
	q.flags = binary.BigEndian.Uint16(b[2:])
	counts := b[4:12]
	if q.flags&(flagQR|flagOpcode) != 0 || string(counts[:6]) != "\x00\x01\x00\x00\x00\x00" || counts[6] != 0 || counts[7] > 1 {
		return false
	}
	off, n := 12, 0
	for {
		if off >= len(b) {
			return false
		}
		l := int(b[off])
		if l > 63 || n+1+l > len(q.lower) || off+1+l > len(b) {
			return false // a pointer, or too long
		}
		q.lower[n] = b[off]
		for i, c := range b[off+1 : off+1+l] {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			q.lower[n+1+i] = c
		}
		n, off = n+1+l, off+1+l
		if l == 0 {
			break
		}
	}
	if off+4 > len(b) {
		return false
	}
	q.n = n
	q.question = b[12 : off+4]
	q.qtype = binary.BigEndian.Uint16(b[off:])
	q.qclass = binary.BigEndian.Uint16(b[off+2:])
	if refusedType(q.qtype) != dns.RcodeSuccess {
		return false // answered with an error, by the full decoder
	}
	off += 4
	q.opt, q.do, q.garden = false, false, false
	q.limit = dns.MinMsgSize
	if counts[7] == 1 {
		// An OPT record: root name, version 0, no options.
		opt := b[off:]
		if len(opt) != optLen || opt[0] != 0 || binary.BigEndian.Uint16(opt[1:]) != dns.TypeOPT || opt[6] != 0 || opt[9]|opt[10] != 0 {
			return false
		}
		q.opt = true
		q.do = opt[7]&0x80 != 0
		q.limit = min(max(int(binary.BigEndian.Uint16(opt[3:])), dns.MinMsgSize), maxUDP)
		off += optLen
	}
	if tcp {
		q.limit = dns.MaxMsgSize
	}
	return off == len(b)
}

// reply appends to b[:0] the header and question of a reply with rcode
// and no records yet.
func (q *wireQuery) reply(b []byte, rcode int) []byte {
	flags := flagQR | flagRA | q.flags&(flagRD|flagCD) | uint16(rcode)
	b = binary.BigEndian.AppendUint16(b[:0], q.id)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = append(b, 0, 1, 0, 0, 0, 0, 0, 0)
	return append(b, q.question...)
}

// finish ends reply b: its count of answer records, and the OPT record
// when the query had one (RFC 6891 §7: the payload size this server takes,
// and DO copied, RFC 3225 §3).
func (q *wireQuery) finish(b []byte, answers uint16) []byte {
	binary.BigEndian.PutUint16(b[6:], answers)
	if !q.opt {
		return b
	}
	binary.BigEndian.PutUint16(b[10:], binary.BigEndian.Uint16(b[10:])+1)
	var do byte
	if q.do {
		do = 0x80
	}
	return append(b, 0, byte(dns.TypeOPT>>8), byte(dns.TypeOPT), byte(maxUDP>>8), byte(maxUDP&0xFF), 0, 0, do, 0, 0, 0)
}

// hijacked appends to b[:0] the portal's answer (package hijack).
func (q *wireQuery) hijacked(b []byte, portal netip.Addr, ttl uint32) []byte {
	b, n := hijack.Append(q.reply(b, dns.RcodeSuccess), q.qtype, q.qclass, portal, ttl)
	return q.finish(b, n)
}

// cached appends to b[:0] the answer that the cache holds for q, made the
// client's: its ID and flags, the question as it spelled it, and an OPT
// record if it sent one. The answer keeps its records and RCODE, and its
// AD bit for a client that showed it understands it (RFC 6840 §5.8).
func (q *wireQuery) cached(b []byte, hit cache.Hit) []byte {
	b = hit.AppendTo(b[:0])
	stored := binary.BigEndian.Uint16(b[2:])
	flags := flagQR | flagRA | q.flags&(flagRD|flagCD) | stored&0xF
	if stored&flagAD != 0 && (q.flags&flagAD != 0 || q.do) {
		flags |= flagAD
	}
	binary.BigEndian.PutUint16(b, q.id)
	binary.BigEndian.PutUint16(b[2:], flags)
	copy(b[12:], q.question)
	return q.finish(b, binary.BigEndian.Uint16(b[6:]))
}

// cacheKey is q's key in the answer cache (cache.AppendKey).
func (q *wireQuery) cacheKey() []byte {
	return cache.AppendKey(q.key[:0], q.name(), q.qtype, q.qclass, q.do, q.flags&flagCD != 0)
}
