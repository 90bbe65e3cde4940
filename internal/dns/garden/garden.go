// Package garden is the walled garden by domain (SPEC §2 allow_domain,
// §3): which names a client that has not signed in may resolve for real,
// and which addresses their answers open in the firewall, for as long as
// the answer lives. It is one step of Lobby's resolver.
package garden

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// MinTTL is the least time an address stays open. An answer with a TTL of
// 0 or a few seconds would otherwise close the garden before the client
// has connected.
const MinTTL = 30 * time.Second

// Domains is a set of allowed domains; each allows itself and every name
// under it.
type Domains struct {
	names map[string]struct{} // lowercase wire form
}

// NewDomains returns the set of domains in list (as config.Main.AllowDomain
// holds them: lowercase, no trailing dot; anything else is normalised).
func NewDomains(list []string) Domains {
	d := Domains{names: make(map[string]struct{}, len(list))}
	var buf [255]byte // the longest name in wire form (RFC 1035 §2.3.4)
	for _, s := range list {
		s = strings.ToLower(dns.Fqdn(s))
		if n, err := dns.PackDomainName(s, buf[:], 0, nil, false); err == nil && n > 1 {
			d.names[string(buf[:n])] = struct{}{}
		}
	}
	return d
}

// Len is the number of domains in the set.
func (d Domains) Len() int { return len(d.names) }

// Match reports whether name, in lowercase wire form, is an allowed domain
// or lies under one.
func (d Domains) Match(name []byte) bool {
	if len(d.names) == 0 {
		return false
	}
	for i := 0; i < len(name) && name[i] != 0; i += 1 + int(name[i]) {
		if _, ok := d.names[string(name[i:])]; ok {
			return true
		}
	}
	return false
}

// Addrs returns every address that answer m gives a client: A and AAAA
// records and the address hints of SVCB and HTTPS records (RFC 9460 §7.3),
// all of which a client may connect to; and the smallest TTL of the answer
// section, which bounds how long the client keeps any of it.
func Addrs(m *dns.Msg) ([]netip.Addr, time.Duration) {
	var addrs []netip.Addr
	ttl := uint32(0)
	first := true
	add := func(ip []byte) {
		if a, ok := netip.AddrFromSlice(ip); ok {
			addrs = append(addrs, a.Unmap())
		}
	}
	for _, rr := range m.Answer {
		h := rr.Header()
		if first || h.Ttl < ttl {
			ttl, first = h.Ttl, false
		}
		switch r := rr.(type) {
		case *dns.A:
			add(r.A)
		case *dns.AAAA:
			add(r.AAAA)
		case *dns.SVCB:
			addHints(r.Value, add)
		case *dns.HTTPS:
			addHints(r.Value, add)
		}
	}
	return addrs, time.Duration(ttl) * time.Second
}

func addHints(kvs []dns.SVCBKeyValue, add func([]byte)) {
	for _, kv := range kvs {
		switch h := kv.(type) {
		case *dns.SVCBIPv4Hint:
			for _, ip := range h.Hint {
				add(ip)
			}
		case *dns.SVCBIPv6Hint:
			for _, ip := range h.Hint {
				add(ip)
			}
		}
	}
}

// Firewall is what the garden needs of the firewall: to let clients that
// have not signed in reach addrs for ttl.
type Firewall interface {
	AllowGarden(addrs []netip.Addr, ttl time.Duration) error
}

// pruneAt is the number of remembered addresses past which expired ones
// are forgotten.
const pruneAt = 4096

// Opener hands garden addresses to the firewall, once per address for as
// long as the firewall already holds it: answers served again from the
// cache cost no firewall change. Its methods are safe for concurrent use.
type Opener struct {
	fw    Firewall // nil: no firewall, Open does nothing
	mu    sync.Mutex
	until map[netip.Addr]time.Time // what the firewall was told
}

// NewOpener returns an Opener for fw; a nil fw makes every Open a no-op.
func NewOpener(fw Firewall) *Opener {
	return &Opener{fw: fw, until: map[netip.Addr]time.Time{}}
}

// Open makes sure the firewall lets addrs through until at least now+ttl
// (ttl raised to MinTTL). It is called before the answer goes to the
// client, so the way is open by the time the client connects.
func (o *Opener) Open(addrs []netip.Addr, ttl time.Duration, now time.Time) error {
	if o.fw == nil || len(addrs) == 0 {
		return nil
	}
	ttl = max(ttl, MinTTL)
	end := now.Add(ttl)
	o.mu.Lock()
	defer o.mu.Unlock()
	var need []netip.Addr
	for _, a := range addrs {
		if o.until[a].Before(end) {
			need = append(need, a)
		}
	}
	if len(need) == 0 {
		return nil
	}
	if err := o.fw.AllowGarden(need, ttl); err != nil {
		return fmt.Errorf("walled garden: opening %v: %w", need, err)
	}
	if len(o.until)+len(need) > pruneAt {
		for a, t := range o.until {
			if !t.After(now) {
				delete(o.until, a)
			}
		}
	}
	for _, a := range need {
		o.until[a] = end
	}
	return nil
}
