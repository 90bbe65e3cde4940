// Package cache keeps upstream answers for as long as their TTLs allow
// (RFC 1035 §3.2.1, RFC 2181 §8) and negative answers for as long as
// RFC 2308 §5 allows, in a fixed number of entries evicted least recently
// used first. It is one step of Lobby's resolver and knows nothing of
// clients or upstreams.
package cache

import (
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

// Key tells answers apart. DO and CD are part of it because they change
// what an upstream puts in the answer (RRSIGs; unvalidated data).
type Key struct {
	Name   string // lowercase, fully qualified
	Type   uint16
	Class  uint16
	DO, CD bool
}

// KeyOf is the key of question q asked with the DO and CD bits given.
func KeyOf(q dns.Question, do, cd bool) Key {
	return Key{Name: strings.ToLower(q.Name), Type: q.Qtype, Class: q.Qclass, DO: do, CD: cd}
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
	msg        *dns.Msg // never changed once stored
	stored     time.Time
	expires    time.Time
	prev, next *entry
}

// New returns a cache of at most size entries; size 0 caches nothing.
func New(size int) *Cache {
	c := &Cache{size: size, items: make(map[Key]*entry, min(size, 4096))}
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

// Get returns a copy of the answer stored under k, its TTLs lowered by the
// time it spent in the cache, or false if there is none or it expired.
func (c *Cache) Get(k Key, now time.Time) (*dns.Msg, bool) {
	c.mu.Lock()
	e := c.items[k]
	if e == nil {
		c.mu.Unlock()
		return nil, false
	}
	if !now.Before(e.expires) {
		c.remove(e)
		c.mu.Unlock()
		return nil, false
	}
	c.unlink(e)
	c.pushFront(e)
	m, stored := e.msg, e.stored
	c.mu.Unlock()
	return Aged(m, uint32(now.Sub(stored)/time.Second)), true
}

// Put stores m under k if it may be cached: a positive answer for its
// smallest TTL, an NXDOMAIN or NODATA answer for its SOA's negative TTL
// (RFC 2308 §5), nothing else. m is copied; the caller may keep using it.
func (c *Cache) Put(k Key, m *dns.Msg, now time.Time) {
	if c.size == 0 {
		return
	}
	ttl, ok := TTL(m)
	if !ok {
		return
	}
	stored := normalize(m, ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.items[k]; e != nil {
		c.remove(e)
	}
	for len(c.items) >= c.size {
		c.remove(c.lru.prev)
	}
	e := &entry{key: k, msg: stored, stored: now, expires: now.Add(time.Duration(ttl) * time.Second)}
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

// normalize makes the copy of m that the cache keeps: no OPT record (EDNS
// is hop by hop, RFC 6891 §6.1.1) and no TTL above ttl, the entry's
// lifetime, so a record never outlives the entry that holds it.
func normalize(m *dns.Msg, ttl uint32) *dns.Msg {
	s := &dns.Msg{MsgHdr: m.MsgHdr}
	s.Id = 0
	s.Question = append([]dns.Question(nil), m.Question...)
	clip := func(rrs []dns.RR) []dns.RR {
		var out []dns.RR
		for _, rr := range rrs {
			if rr.Header().Rrtype == dns.TypeOPT {
				continue
			}
			rr = dns.Copy(rr)
			rr.Header().Ttl = min(rr.Header().Ttl, ttl)
			out = append(out, rr)
		}
		return out
	}
	s.Answer, s.Ns, s.Extra = clip(m.Answer), clip(m.Ns), clip(m.Extra)
	return s
}

// Aged returns a copy of m with every TTL lowered by age seconds (never
// below 0), as a cache hands out an answer it has held that long
// (RFC 1035 §7.4). m is not changed.
func Aged(m *dns.Msg, age uint32) *dns.Msg {
	out := &dns.Msg{MsgHdr: m.MsgHdr, Compress: m.Compress}
	out.Question = append([]dns.Question(nil), m.Question...)
	age1 := func(rrs []dns.RR) []dns.RR {
		if len(rrs) == 0 {
			return nil
		}
		out := make([]dns.RR, len(rrs))
		for i, rr := range rrs {
			rr = dns.Copy(rr)
			h := rr.Header()
			if h.Rrtype != dns.TypeOPT {
				h.Ttl -= min(h.Ttl, age)
			}
			out[i] = rr
		}
		return out
	}
	out.Answer, out.Ns, out.Extra = age1(m.Answer), age1(m.Ns), age1(m.Extra)
	return out
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
