// Package dns is Lobby's resolver (SPEC §3, DNS): UDP and TCP port 53 on
// the portal address, and nowhere else, so it is never an open resolver on
// the WAN side; also port+3 of the same address, where the firewall sends
// the DNS that preauth clients send to other resolvers.
//
// Each query is answered by the asking client's state in the session table,
// found by its source address:
//
//   - `hostname` resolves to the portal address for everyone;
//   - preauth (and unknown addresses): names in the walled garden
//     (allow_domain) are resolved for real and every address in their
//     answer is opened in the firewall for the answer's TTL; every other A
//     query gets the portal address with TTL 0 and every other type an
//     empty answer (package hijack), so nothing leaks before sign-in;
//   - authenticated and trusted: forwarded to the upstreams (package
//     forward) through a cache (package cache);
//   - blocked: REFUSED.
//
// The steps are packages of their own, each testable alone, composed here
// in one function, answer.
//
// Nearly every query takes the quick path (wire.go): read where it lies,
// in the shape nearly every client sends, and answered straight into the
// reply buffer, from the portal's address or from the cache, which keeps
// answers packed; no allocation. Queries of any other shape, walled-garden
// names, cache misses and answers that must be cut to size are decoded
// whole with miekg/dns. UDP comes and goes a batch per system call, on one
// socket (batch_linux.go).
package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lobby-fw/lobby/internal/connlimit"
	"github.com/lobby-fw/lobby/internal/dns/cache"
	"github.com/lobby-fw/lobby/internal/dns/forward"
	"github.com/lobby-fw/lobby/internal/dns/garden"
	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/supervisor"
)

// Garden is what the resolver needs of the firewall: to let clients that
// have not signed in reach addrs for ttl, because the resolver just gave
// them out for a walled-garden name.
type Garden interface {
	AllowGarden(addrs []netip.Addr, ttl time.Duration) error
}

const (
	// maxUDP is the largest UDP answer sent and the EDNS0 payload size
	// advertised: the DNS flag day 2020 value, which avoids fragmentation.
	maxUDP = 1232
	// hostnameTTL is the TTL of the answer for option hostname.
	hostnameTTL = 60
	// maxPending bounds the queries waiting for the upstreams at once;
	// past it new ones are dropped and their clients retry.
	maxPending = 1024
	// maxTCPConns bounds open TCP connections.
	maxTCPConns = 128
	// maxTCPClientConns bounds one client's open TCP connections (both
	// ports together), so that one device cannot fill maxTCPConns. A stub
	// resolver reuses one connection (RFC 7766 §6.2.1) or opens one per
	// truncated answer and closes it (glibc): a handful at once. Over the
	// bound a connection is closed at once.
	maxTCPClientConns = 8
	// tcpIdle is how long a TCP connection may wait for its next query
	// (RFC 7766 §6.2.3 wants it short on a busy server).
	tcpIdle = 10 * time.Second
	// resolvPoll is how often the resolv.conf files are checked for
	// changes when they supply the upstreams.
	resolvPoll = 5 * time.Second
)

// Server is the resolver. Create it with New; Run serves until its context
// ends; Reload applies a new config.
type Server struct {
	log    *slog.Logger
	table  *session.Table
	opener *garden.Opener
	portal netip.Addr
	listen netip.AddrPort
	// redirect is where the firewall sends the DNS that preauth clients
	// send to other resolvers (Config.RedirectPort): answered like port
	// 53, but tracked by conntrack, which port 53 is not.
	redirect netip.AddrPort
	enabled  supervisor.Switch
	fwd      *forward.Forwarder
	files    []string // resolv.conf files, in order of preference
	now      func() time.Time

	stats counters

	reloadMu sync.Mutex // serialises Reload and the resolv.conf watcher
	set      atomic.Pointer[settings]
	cache    atomic.Pointer[cache.Cache]
	pending  chan struct{} // a slot per query waiting for the upstreams
}

// settings are what a reload may change; a new value replaces the old one
// whole, so a query sees either.
type settings struct {
	hostname string // lowercase wire form
	domains  garden.Domains
	// fromFiles is set when the upstreams come from resolv.conf files,
	// whose state was stamp when they were read.
	fromFiles bool
	stamp     string
}

// Config is what the resolver is given; firmware derives it from the
// config file.
type Config struct {
	Enabled bool
	// Address is the portal's: the resolver listens there (port 53 and
	// RedirectPort), and it is the answer a hijacked query gets.
	Address netip.Addr
	// RedirectPort is where the firewall sends the DNS that preauth
	// clients send to other resolvers.
	RedirectPort uint16
	Hostname     string   // always resolves to Address
	AllowDomain  []string // walled garden: resolved for real before sign-in
	// Upstream are the resolvers to forward to; empty: the nameservers
	// of the resolv.conf files.
	Upstream  []netip.AddrPort
	CacheSize int
}

// New builds the resolver for cfg. garden may be nil: then walled-garden
// names still resolve, but nothing is opened in the firewall.
func New(cfg Config, table *session.Table, g Garden, log *slog.Logger) (*Server, error) {
	if !cfg.Address.Is4() {
		return nil, fmt.Errorf("dns: the portal address %v is not an IPv4 address (option address)", cfg.Address)
	}
	s := &Server{
		log:      log,
		table:    table,
		portal:   cfg.Address,
		listen:   netip.AddrPortFrom(cfg.Address, 53),
		redirect: netip.AddrPortFrom(cfg.Address, cfg.RedirectPort),
		fwd:      forward.New(forward.Config{}, nil),
		files:    resolvFiles(),
		now:      time.Now,
		pending:  make(chan struct{}, maxPending),
		opener:   garden.NewOpener(g), // a nil g stays a nil interface
	}
	s.enabled.Set(cfg.Enabled)
	s.cache.Store(cache.New(cfg.CacheSize))
	s.apply(cfg)
	return s, nil
}

// Stats counts the queries answered since New, by how they were answered.
type Stats struct {
	Hijacked  uint64 // answered with the portal's address: a preauth client's, or the portal's own name
	Forwarded uint64 // a signed-in or trusted client's, from the cache or the upstreams
	Garden    uint64 // a preauth client's walled-garden name, resolved for real
	Refused   uint64 // a blocked client's
}

// counters are Stats as the query path counts them: atomics, no lock and
// no allocation on the quick path.
type counters struct{ hijacked, forwarded, garden, refused atomic.Uint64 }

// Stats returns the counters since New.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{Hijacked: c.hijacked.Load(), Forwarded: c.forwarded.Load(), Garden: c.garden.Load(), Refused: c.refused.Load()}
}

// Reload applies what a new config changes: option enabled, the upstreams
// (re-reading /etc/resolv.conf when the config lists none), hostname,
// allow_domain and cache_size (a new size starts an empty cache). The
// address is New's: it takes a restart.
func (s *Server) Reload(cfg Config) {
	s.enabled.Set(cfg.Enabled)
	if size := cfg.CacheSize; size != s.cache.Load().Size() {
		s.cache.Store(cache.New(size))
	}
	s.apply(cfg)
}

func (s *Server) apply(cfg Config) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	ups, from := upstreams(cfg.Upstream, s.portal, s.files)
	set := &settings{
		hostname: wireName(cfg.Hostname),
		domains:  garden.NewDomains(cfg.AllowDomain),
	}
	if from != "config" {
		set.fromFiles = true
		set.stamp = filesStamp(s.files)
	}
	s.set.Store(set)
	s.fwd.SetUpstreams(ups)
	if len(ups) == 0 {
		s.log.Warn("dns: no upstream nameserver: signed-in clients get SERVFAIL until there is one; set list upstream in config dns or a nameserver in "+from,
			"cache_size", cfg.CacheSize)
	} else {
		s.log.Info("dns: upstreams", "upstreams", ups, "from", from, "cache_size", cfg.CacheSize)
	}
}

// rereadFiles re-reads the resolv.conf files if they changed since the
// upstreams were taken from them.
func (s *Server) rereadFiles() {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cur := s.set.Load()
	if !cur.fromFiles {
		return
	}
	stamp := filesStamp(s.files)
	if stamp == cur.stamp {
		return
	}
	next := *cur
	next.stamp = stamp
	s.set.Store(&next)
	// The config's upstream list is empty, or they would not come from
	// the files.
	ups, from := upstreams(nil, s.portal, s.files)
	if !slices.Equal(ups, s.fwd.Upstreams()) {
		s.fwd.SetUpstreams(ups)
		s.log.Info("dns: upstreams changed", "upstreams", ups, "from", from)
	}
}

// Run serves DNS on the portal address until ctx ends. While option
// enabled is '0' it serves nothing and only waits for a reload.
func (s *Server) Run(ctx context.Context, ready func()) error {
	return s.enabled.Run(ctx, ready, s.log, "dns: disabled (option enabled '0' in config dns)", s.serve)
}

// serve answers queries until ctx ends.
func (s *Server) serve(ctx context.Context, ready func()) error {
	// One socket and one reader, on routers of any number of cores: it
	// answers about 100,000 queries a second on one core of an x86 VM,
	// far more than a venue's clients send, and a socket per core
	// (SO_REUSEPORT) cost 20-30 % more CPU per query at 10,000-20,000
	// q/s, the other readers' threads waking for a share of the queries.
	udp, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(s.listen))
	if err != nil {
		return listenError(err)
	}
	// Room for bursts: a phone waking up sends a dozen queries at once,
	// and so do a hundred of them when the Wi-Fi comes back.
	udp.SetReadBuffer(1 << 20)
	udp.SetWriteBuffer(1 << 20)
	l := &listeners{s: s, ctx: ctx, udp: []*net.UDPConn{udp}, conns: map[net.Conn]struct{}{}, perClient: connlimit.New(maxTCPClientConns)}
	tcp, err := net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(s.listen))
	if err != nil {
		l.close()
		return listenError(err)
	}
	l.tcp = append(l.tcp, tcp)
	// The redirected queries are few: one socket does.
	rudp, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(s.redirect))
	if err == nil {
		l.udp = append(l.udp, rudp)
		tcp, err = net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(s.redirect))
	}
	if err != nil {
		l.close()
		return fmt.Errorf("the port for queries redirected from other resolvers (option port + 3): %w", err)
	}
	l.tcp = append(l.tcp, tcp)

	failed := make(chan error, 1)
	fail := func(err error) {
		select {
		case failed <- err:
		default:
		}
	}
	for _, c := range l.udp {
		l.wg.Go(func() {
			if err := l.serveUDP(c); err != nil {
				fail(err)
			}
		})
	}
	for _, ln := range l.tcp {
		l.wg.Go(func() {
			if err := l.serveTCP(ln); err != nil {
				fail(err)
			}
		})
	}
	l.wg.Go(func() { s.watchFiles(ctx) })
	ready()
	s.log.Info("dns: serving", "address", s.listen, "redirected_to", s.redirect)

	select {
	case <-ctx.Done():
	case err = <-failed:
	}
	l.close()
	l.wg.Wait()
	return err
}

// watchFiles re-reads the resolv.conf files when they change, as dnsmasq
// does: on OpenWrt netifd rewrites them when the WAN comes up.
func (s *Server) watchFiles(ctx context.Context) {
	t := time.NewTicker(resolvPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.rereadFiles()
		}
	}
}

// listenError says how to fix a failed listen on port 53.
func listenError(err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%w — another DNS server holds port 53 on the portal address: stop it or move it off this interface (dnsmasq: port=0, or notinterface for the LAN), or set option enabled '0' in config dns", err)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%w — port 53 needs root or CAP_NET_BIND_SERVICE", err)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("%w — the portal address is not on any interface: check option address and the interface's addresses", err)
	}
	return err
}
