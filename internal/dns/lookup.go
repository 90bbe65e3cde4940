package dns

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/lobby-fw/lobby/internal/dns/cache"
)

// LookupAddrs resolves name's IPv4 addresses through the cache and the
// upstreams, as a signed-in client's query would be: never the hijacked
// answer. The post-sign-in relay uses it to find the site a client meant.
func (s *Server) LookupAddrs(ctx context.Context, name string) ([]netip.Addr, error) {
	q := dns.Question{Name: dns.Fqdn(name), Qtype: dns.TypeA, Qclass: dns.ClassINET}
	if _, ok := dns.IsDomainName(q.Name); !ok {
		return nil, fmt.Errorf("dns: %q is not a domain name", name)
	}
	key := cache.KeyOf(q, false, false)
	m, ok := s.cache.Load().Get(key, s.now())
	if !ok {
		up, err := s.fwd.Exchange(ctx, q, false, false)
		if err != nil {
			return nil, fmt.Errorf("dns: resolving %s: %w", name, err)
		}
		s.cache.Load().Put(key, up, s.now())
		m = up
	}
	var addrs []netip.Addr
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			if ip, ok := netip.AddrFromSlice(a.A.To4()); ok {
				addrs = append(addrs, ip)
			}
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("dns: %s has no IPv4 address (%s)", name, dns.RcodeToString[m.Rcode])
	}
	return addrs, nil
}
