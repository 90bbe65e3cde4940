// Package cache keeps upstream answers for as long as their TTLs allow
// (RFC 1035 §3.2.1, RFC 2181 §8) and negative answers for as long as
// RFC 2308 §5 allows, in a fixed number of entries evicted least recently
// used first. It is one step of Lobby's resolver and knows nothing of
// clients or upstreams.
//
// An answer is kept in wire form, packed once when it is stored, so that
// a hit costs a copy and a few TTLs written, and no decoding: the
// resolver's fast path answers from it directly (Lookup, Hit.AppendTo).
package cache

import (
	"encoding/binary"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Caps on how long an answer is kept, whatever its TTL says. A day is what
// common resolvers use for positive answers; RFC 2308 §5 suggests one to
// three hours for negative ones.
const (
	MaxTTL         = 24 * time.Hour
	MaxNegativeTTL = 3 * time.Hour
)

// Key tells answers apart: the question's name in lowercase wire form, its
// type and class, and the DO and CD bits, which change what an upstream
// puts in the answer (RRSIGs; unvalidated data). Build it with KeyOf or
// AppendKey.
type Key string

// KeyOf is the key of question q asked with the DO and CD bits given.
func KeyOf(q dns.Question, do, cd bool) Key {
	var buf [255]byte // the longest name in wire form (RFC 1035 §2.3.4)
	n, err := dns.PackDomainName(dns.Fqdn(q.Name), buf[:], 0, nil, false)
	if err != nil {
		// Not a name an answer could be stored under: a key of its
		// own that no wire name equals (a wire name never starts with
		// a byte above 63).
		return Key("\xff" + strings.ToLower(q.Name))
	}
	lower(buf[:n])
	return Key(AppendKey(nil, buf[:n], q.Qtype, q.Qclass, do, cd))
}

// AppendKey appends to b the key of a question whose name is name, in
// lowercase wire form, asked with the DO and CD bits given.
func AppendKey(b, name []byte, qtype, qclass uint16, do, cd bool) []byte {
	var bits byte
	if do {
		bits |= 1
	}
	if cd {
		bits |= 2
	}
	b = append(b, name...)
	return append(b, byte(qtype>>8), byte(qtype), byte(qclass>>8), byte(qclass), bits)
}

// lower turns the ASCII letters of b to lowercase (RFC 4343: names compare
// without case for ASCII letters only).
func lower(b []byte) {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
}

// Cache is a bounded answer cache. Its methods are safe for concurrent use.
type Cache struct {
	mu    sync.Mutex
	size  int
	items map[Key]*entry
	// lru is a ring with a sentinel: lru.next is the most recently used.
	lru entry
}

type entry struct {
	key        Key
	msg        []byte   // the answer packed, never changed once stored
	ttls       []uint16 // where in msg each record's TTL is
	stored     time.Time
	expires    time.Time
	prev, next *entry
}

// New returns a cache of at most size entries; size 0 caches nothing.
func New(size int) *Cache {
	// The map grows as answers come: made for size entries up front it
	// held 100-200 KB resident (its control bytes are written at once)
	// on a router whose guests had not asked anything yet.
	c := &Cache{size: size, items: map[Key]*entry{}}
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	return c
}

// Size is the most entries the cache holds.
func (c *Cache) Size() int { return c.size }

// Len is the number of entries held now, expired ones included.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

// Hit is an answer found in the cache.
type Hit struct {
	msg  []byte
	ttls []uint16
	age  uint32 // seconds spent in the cache
}

// Len is the length of the answer in wire form.
func (h Hit) Len() int { return len(h.msg) }

// AppendTo appends the answer in wire form to b, every TTL lowered by the
// time it spent in the cache (RFC 1035 §7.4). Its ID is 0; its names are
// compressed, and an owner name that is the question's points to the
// question, so that writing another spelling of the name over the question
// respells them all. It has no OPT record (EDNS is hop by hop, RFC 6891
// §6.1.1).
func (h Hit) AppendTo(b []byte) []byte {
	start := len(b)
	b = append(b, h.msg...)
	for _, off := range h.ttls {
		p := b[start+int(off):]
		ttl := binary.BigEndian.Uint32(p)
		binary.BigEndian.PutUint32(p, ttl-min(ttl, h.age))
	}
	return b
}

// Lookup finds the answer stored under the key k (as AppendKey builds
// it), or false if there is none or it expired.
func (c *Cache) Lookup(k []byte, now time.Time) (Hit, bool) {
	c.mu.Lock()
	e := c.items[Key(k)]
	if e == nil {
		c.mu.Unlock()
		return Hit{}, false
	}
	if !now.Before(e.expires) {
		c.remove(e)
		c.mu.Unlock()
		return Hit{}, false
	}
	c.unlink(e)
	c.pushFront(e)
	h := Hit{msg: e.msg, ttls: e.ttls, age: uint32(now.Sub(e.stored) / time.Second)}
	c.mu.Unlock()
	return h, true
}

// Get returns the answer stored under k, decoded, its TTLs lowered by the
// time it spent in the cache, or false if there is none or it expired.
func (c *Cache) Get(k Key, now time.Time) (*dns.Msg, bool) {
	h, ok := c.Lookup([]byte(k), now)
	if !ok {
		return nil, false
	}
	m := new(dns.Msg)
	if err := m.Unpack(h.AppendTo(nil)); err != nil {
		return nil, false // Put packed it: cannot happen
	}
	return m, true
}

// Put stores m under k if it may be cached: a positive answer for its
// smallest TTL, an NXDOMAIN or NODATA answer for its SOA's negative TTL
// (RFC 2308 §5), nothing else. An answer whose question is not k's (but
// for the DO and CD bits and the spelling) is not stored: a hit's question
// is written over with the asker's, which must fit it. m is not changed.
func (c *Cache) Put(k Key, m *dns.Msg, now time.Time) {
	if c.size == 0 || len(m.Question) != 1 || len(k) == 0 {
		return
	}
	if q := KeyOf(m.Question[0], false, false); q[:len(q)-1] != k[:len(k)-1] {
		return
	}
	ttl, ok := TTL(m)
	if !ok {
		return
	}
	msg, ttls, err := pack(m, ttl)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.items[k]; e != nil {
		c.remove(e)
	}
	for len(c.items) >= c.size {
		c.remove(c.lru.prev)
	}
	e := &entry{key: k, msg: msg, ttls: ttls, stored: now, expires: now.Add(time.Duration(ttl) * time.Second)}
	c.items[k] = e
	c.pushFront(e)
}

// TTL is how many seconds m may be cached, and false if it may not be at
// all: truncated answers, errors other than NXDOMAIN, a negative answer
// without an SOA (RFC 2308 §5: "SHOULD NOT be cached"), or a TTL of 0.
func TTL(m *dns.Msg) (uint32, bool) {
	if m.Truncated {
		return 0, false
	}
	negative := m.Rcode == dns.RcodeNameError || (m.Rcode == dns.RcodeSuccess && len(m.Answer) == 0)
	if m.Rcode != dns.RcodeSuccess && !negative {
		return 0, false
	}
	var ttl uint32
	if negative {
		// RFC 2308 §5: the lesser of the SOA's TTL and its MINIMUM field.
		soa := findSOA(m.Ns)
		if soa == nil {
			return 0, false
		}
		ttl = min(soa.Hdr.Ttl, soa.Minttl, uint32(MaxNegativeTTL/time.Second))
	} else {
		// RFC 2181 §5.2 wants one TTL per RRset; the smallest of all the
		// records keeps every one of them within its own.
		ttl = uint32(MaxTTL / time.Second)
		for _, rrs := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
			for _, rr := range rrs {
				if rr.Header().Rrtype != dns.TypeOPT {
					ttl = min(ttl, rr.Header().Ttl)
				}
			}
		}
	}
	return ttl, ttl > 0
}

func findSOA(rrs []dns.RR) *dns.SOA {
	for _, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa
		}
	}
	return nil
}

// pack makes the copy of m that the cache keeps, in wire form: ID 0, no
// OPT record, no TTL above ttl (the entry's lifetime, so a record never
// outlives the entry that holds it), owner names that are the question's
// spelled as the question, and compressed. It returns where each record's
// TTL is.
func pack(m *dns.Msg, ttl uint32) ([]byte, []uint16, error) {
	s := &dns.Msg{MsgHdr: m.MsgHdr, Compress: true}
	s.Id = 0
	s.Question = m.Question
	qname := m.Question[0].Name
	clip := func(rrs []dns.RR) []dns.RR {
		var out []dns.RR
		for _, rr := range rrs {
			if rr.Header().Rrtype == dns.TypeOPT {
				continue
			}
			rr = dns.Copy(rr)
			h := rr.Header()
			h.Ttl = min(h.Ttl, ttl)
			if h.Name != qname && strings.EqualFold(h.Name, qname) {
				h.Name = qname
			}
			out = append(out, rr)
		}
		return out
	}
	s.Answer, s.Ns, s.Extra = clip(m.Answer), clip(m.Ns), clip(m.Extra)
	b, err := s.Pack()
	if err != nil {
		return nil, nil, err
	}
	ttls := make([]uint16, 0, len(s.Answer)+len(s.Ns)+len(s.Extra))
	off := skipName(b, 12) + 4
	for range cap(ttls) {
		off = skipName(b, off)
		ttls = append(ttls, uint16(off+4))
		off += 10 + int(binary.BigEndian.Uint16(b[off+8:]))
	}
	return b, ttls, nil
}

// skipName is the offset just past the name at off in b, a message that
// dns packed (so the name is well formed).
func skipName(b []byte, off int) int {
	for {
		switch l := b[off]; {
		case l == 0:
			return off + 1
		case l&0xC0 == 0xC0:
			return off + 2 // a compression pointer ends the name
		default:
			off += 1 + int(l)
		}
	}
}

// The LRU list; callers hold mu.

func (c *Cache) pushFront(e *entry) {
	e.prev, e.next = &c.lru, c.lru.next
	c.lru.next.prev = e
	c.lru.next = e
}

func (c *Cache) unlink(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (c *Cache) remove(e *entry) {
	c.unlink(e)
	delete(c.items, e.key)
}
