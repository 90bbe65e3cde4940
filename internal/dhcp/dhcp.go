// Package dhcp is Lobby's DHCPv4 server (SPEC §3, DHCP): one server on the
// LAN interface, bound to it so that it never answers on any other, handing
// out the portal's address as router and DNS server.
//
// The protocol rules live in three places, each citing RFC 2131:
//   - handle.go: what a request gets (§4.3: DISCOVER, REQUEST, DECLINE,
//     RELEASE, INFORM);
//   - reply.go: where a reply goes (§4.1: relay, NAK, unicast, broadcast,
//     link-layer unicast);
//   - pool.go: which address a client gets (§4.3.1: its own, the one it
//     asks for, a never-used one, then the one expired longest ago).
//
// Leases are records of kind "lease" in the store, keyed by address, and
// every DHCPACK that changes one waits until the store has it on disk, so
// that kill -9 loses no lease. Waiting ACKs share one fsync (see committer).
package dhcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"golang.org/x/net/ipv4"

	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/store"
	"github.com/lobby-fw/lobby/internal/supervisor"
)

// Tuning that the config file does not expose.
const (
	// offerHold is how long an offered address stays reserved for the
	// client it was offered to. RFC 2131 §4.3.1 lets the server reserve
	// it; a client sends its REQUEST within a second or two of the OFFER.
	// A client that sends no REQUEST by then lost it to nobody in
	// particular (the address only becomes reusable, oldest first). The
	// hold is soft: a pool with nothing else left takes the oldest
	// unanswered offer for a new client, and another client's REQUEST
	// for the address wins over it (see pool.reclaim), so a flood of
	// DISCOVERs holds no address from a real client.
	offerHold = 10 * time.Second

	// preauthLease caps the lease of a client that has not signed in
	// (SPEC §4): the addresses of devices that never sign in come back
	// within minutes. A client signed in (or trusted) gets the full
	// leasetime at its next renewal.
	preauthLease = 10 * time.Minute

	// quarantine is how long a DECLINEd address is kept out of the pool
	// (§4.3.3: the server "MUST mark the network address as not
	// available"). Some device uses it without a lease; ten minutes, as
	// dnsmasq does, keeps a busy pool from shrinking for good while the
	// address goes back to the end of the reuse order afterwards.
	quarantine = 10 * time.Minute

	// sweepEvery is how often expired leases are looked for, so that the
	// client table forgets clients that left. Leases last a minute at
	// least (config), so this keeps a client at most 15s too long.
	sweepEvery = 15 * time.Second

	// commitQueue bounds the ACKs waiting for the disk; when it is full,
	// workers wait, which makes the kernel's socket buffer the only queue.
	// A few hundred cover several fsyncs' worth of ACKs at thousands a
	// second.
	commitQueue = 512

	// exhaustedLogEvery limits the "pool exhausted" warning during a
	// DISCOVER storm to one line a minute.
	exhaustedLogEvery = time.Minute

	// maxPacket is the read buffer: any DHCP message fits in an
	// Ethernet frame, and a longer one is cut and then dropped as malformed.
	maxPacket = 1500

	// readBatch is how many requests a worker takes per system call
	// (recvmmsg) when they are waiting.
	readBatch = 16
)

// Kind is the store kind of the lease records.
const Kind = "lease"

// Store is what the server needs of internal/store.
type Store interface {
	Records(kind string) map[string]json.RawMessage
	Put(kind, key string, v any) error
	Delete(kind, key string)
	Sync(ctx context.Context) error
}

// Stats counts what the server did with the packets it received.
type Stats struct {
	Received  uint64 // datagrams read from the socket
	Malformed uint64 // not a DHCP request we can parse: dropped
	Ignored   uint64 // well-formed but not for us (another server's, a foreign relay, a message type a server never gets)
	Offers    uint64
	Acks      uint64 // DHCPACKs to REQUESTs and INFORMs
	Naks      uint64
	Declines  uint64
	Releases  uint64
	Informs   uint64
	Exhausted uint64 // DISCOVERs left unanswered because no address was free
	Unsaved   uint64 // ACKs not sent because the store could not save the lease
	SendErrs  uint64 // replies the kernel refused to send
}

type counters struct {
	received, malformed, ignored, offers, acks, naks, declines, releases,
	informs, exhausted, unsaved, sendErrs atomic.Uint64
}

// Config is what the DHCP server is given; firmware derives it from the
// config file (SPEC §2: config dhcp and config host).
type Config struct {
	Enabled   bool
	Interface string     // the LAN interface, the only one served
	Server    netip.Addr // the portal address: server identifier, router and DNS server
	Subnet    netip.Prefix
	// First and Last bound the pool; both zero when it does not fit the
	// subnet (then Enabled is false, or New fails).
	First, Last netip.Addr
	LeaseTime   time.Duration
	Domain      string // option 15; "" for none
	Hosts       []Host
	// CaptiveURL is option 114, the URI of the RFC 8908 API (RFC 8910
	// §2); "" without TLS, since clients ignore a plain-http one.
	CaptiveURL string
}

// Host is a static lease (config host).
type Host struct {
	MAC  net.HardwareAddr
	IP   netip.Addr
	Name string
}

// Server is the DHCP server of the LAN interface. Create it with New and
// run it with Run; Reload applies a new Config.
type Server struct {
	log     *slog.Logger
	table   *session.Table
	store   Store
	now     func() time.Time
	iface   string
	workers int // one per CPU: they block only on reading, which they take turns at
	params  atomic.Pointer[params]

	mu            sync.Mutex // guards pool, shape and lastExhausted
	pool          *pool
	shape         Config // the Config pool was made from
	enabled       supervisor.Switch
	lastExhausted time.Time

	stats counters
}

// params are the values every reply carries; a reload replaces them whole.
type params struct {
	server    netip.Addr // portal address: server identifier, router, DNS
	subnet    netip.Prefix
	mask      net.IPMask
	domain    string
	leaseTime time.Duration
	captive   string // option 114 URI; "" without TLS
}

// New builds the DHCP server for cfg and loads the leases kept in st. It
// opens no socket; Run does. With cfg.Enabled false it loads nothing, and
// Run only waits until a reload turns the server on.
func New(cfg Config, table *session.Table, st *store.Store, log *slog.Logger) (*Server, error) {
	return newServer(cfg, table, st, log)
}

func newServer(cfg Config, table *session.Table, st Store, log *slog.Logger) (*Server, error) {
	if !cfg.Server.Is4() || !cfg.Subnet.IsValid() {
		return nil, fmt.Errorf("dhcp: the portal address is not known yet (config not bound to interface %s)", cfg.Interface)
	}
	if cfg.Enabled && !cfg.First.IsValid() {
		return nil, errors.New("dhcp: no pool")
	}
	s := &Server{
		log:     log,
		table:   table,
		store:   st,
		now:     time.Now,
		iface:   cfg.Interface,
		workers: min(max(runtime.GOMAXPROCS(0), 2), 8),
	}
	s.setParams(cfg)
	s.enabled.Set(cfg.Enabled)
	if cfg.Enabled {
		s.pool = newPool(cfg.First, cfg.Last, cfg.Server, cfg.Hosts, st)
		s.pool.mayReclaim = s.mayReclaim
		s.shape = cfg
		s.load()
	}
	return s, nil
}

func (s *Server) setParams(cfg Config) {
	s.params.Store(&params{
		server:    cfg.Server,
		subnet:    cfg.Subnet,
		mask:      net.CIDRMask(cfg.Subnet.Bits(), 32),
		domain:    cfg.Domain,
		leaseTime: cfg.LeaseTime,
		captive:   cfg.CaptiveURL,
	})
}

// Reload applies cfg (the interface and server address stay those of New:
// they take a restart). Leases are kept as they are, except one that the
// new pool and static hosts no longer allow: it is dropped, as a restart
// would drop it, and its client keeps the address until its next renewal,
// which is NAKed (RFC 2131 §4.3.2: the address is no longer right for it),
// so that it moves into the new pool. Its session is untouched.
func (s *Server) Reload(cfg Config) {
	cur := s.params.Load()
	cfg.Server, cfg.Subnet = cur.server, cur.subnet
	s.setParams(cfg)
	s.mu.Lock()
	defer s.mu.Unlock()
	if cfg.Enabled && cfg.First.IsValid() && !samePool(cfg, s.shape) {
		old := s.pool
		s.shape = cfg
		s.pool = newPool(cfg.First, cfg.Last, cfg.Server, cfg.Hosts, s.store)
		s.pool.mayReclaim = s.mayReclaim
		if old == nil {
			s.load()
		} else {
			s.carry(old)
		}
	}
	if s.pool != nil {
		s.enabled.Set(cfg.Enabled)
	}
}

// samePool reports whether a and b make the same pool, so that a reload
// that changes neither the pool nor the static hosts leaves it alone.
func samePool(a, b Config) bool {
	return a.First == b.First && a.Last == b.Last && a.Server == b.Server &&
		slices.EqualFunc(a.Hosts, b.Hosts, func(x, y Host) bool {
			return bytes.Equal(x.MAC, y.MAC) && x.IP == y.IP && x.Name == y.Name
		})
}

// carry moves the leases of old into s.pool, dropping those it refuses;
// the caller holds s.mu.
func (s *Server) carry(old *pool) {
	for ip, l := range old.byIP {
		if l.key == "" && !l.declined {
			continue // free: no record, as after a restart
		}
		if err := s.pool.restore(ip.String(), l.record()); err != nil {
			s.log.Warn("dhcp: reload: dropping a lease", "address", ip, "reason", err)
			s.store.Delete(Kind, ip.String())
			continue
		}
		s.pool.byIP[ip].bound = l.bound
	}
	s.pool.ended = old.ended
}

// leaseFor is the lease time of the client with hardware address mac
// (SPEC §4): the configured leasetime once it is signed in or trusted, at
// most preauthLease before. The client table knows clients by MAC, so
// chaddr decides, whatever the client identifier.
func (s *Server) leaseFor(mac net.HardwareAddr) time.Duration {
	switch s.table.StateOf(mac) {
	case session.Authenticated, session.Trusted:
		return s.params.Load().leaseTime
	}
	return min(s.params.Load().leaseTime, preauthLease)
}

// mayReclaim reports whether the lease of ip held by mac may go to
// another client when the pool has no free address: the holder has not
// signed in (nor is trusted) and the kernel's neighbour table does not
// name it for ip — it does not answer there, so no device is using the
// address. A flood of DORAs from made-up MACs leaves exactly such leases.
func (s *Server) mayReclaim(mac net.HardwareAddr, ip netip.Addr) bool {
	switch s.table.StateOf(mac) {
	case session.Authenticated, session.Trusted:
		return false
	}
	return !s.table.OnLink(mac, ip)
}

// load fills the pool from the store. A record that no longer fits the
// config (the pool or a static host changed) is dropped with a warning.
func (s *Server) load() {
	for key, raw := range s.store.Records(Kind) {
		var r record
		err := json.Unmarshal(raw, &r)
		if err == nil {
			err = s.pool.restore(key, r)
		}
		if err != nil {
			s.log.Warn("dhcp: dropping a stored lease", "address", key, "reason", err)
			s.store.Delete(Kind, key)
		}
	}
}

// Stats returns the counters since New.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		Received: c.received.Load(), Malformed: c.malformed.Load(), Ignored: c.ignored.Load(),
		Offers: c.offers.Load(), Acks: c.acks.Load(), Naks: c.naks.Load(),
		Declines: c.declines.Load(), Releases: c.releases.Load(), Informs: c.informs.Load(),
		Exhausted: c.exhausted.Load(), Unsaved: c.unsaved.Load(), SendErrs: c.sendErrs.Load(),
	}
}

// Leases returns the number of running leases (bound, not expired; static
// hosts' included) and the size of the dynamic pool, for the admin pages
// and /metrics.
func (s *Server) Leases() (active, poolSize int) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.pool.byIP {
		if l.bound && l.expires.After(now) {
			active++
		}
	}
	first, last := s.pool.bounds()
	if first.IsValid() && last.IsValid() {
		a, b := first.As4(), last.As4()
		poolSize = int(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3])) -
			int(uint32(a[0])<<24|uint32(a[1])<<16|uint32(a[2])<<8|uint32(a[3])) + 1
	}
	return active, poolSize
}

// Run serves DHCP on the interface until ctx ends; while the config has
// it off, it only waits.
func (s *Server) Run(ctx context.Context, ready func()) error {
	return s.enabled.Run(ctx, ready, s.log, "dhcp: disabled (config dhcp: option enabled '0')", s.serve)
}

// serve answers requests until ctx ends.
func (s *Server) serve(ctx context.Context, ready func()) error {
	c, err := listen(s.iface, s.params.Load().server)
	if err != nil {
		return err
	}
	n := s.announce()
	s.mu.Lock()
	first, last := s.pool.bounds()
	s.mu.Unlock()
	s.log.Info("dhcp: serving", "interface", s.iface, "pool", first.String()+"-"+last.String(),
		"leases", n, "leasetime", s.params.Load().leaseTime)
	ready()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		runErr  error
	)
	fail := func(err error) {
		errOnce.Do(func() { runErr = err })
		cancel()
	}
	commits := make(chan reply, commitQueue)
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		c.Close() // ends the workers' reads
	}()
	for range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.worker(ctx, c, commits); err != nil {
				fail(err)
			}
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.committer(ctx, c, commits)
	}()
	go func() {
		defer wg.Done()
		s.sweeper(ctx)
	}()
	wg.Wait()
	st := s.Stats()
	s.log.Info("dhcp: stopped", "received", st.Received, "acks", st.Acks, "malformed", st.Malformed, "ignored", st.Ignored)
	return runErr
}

// announce tells the client table about every lease still running, since
// the table keeps no preauth client across a restart, and returns how
// many there are.
func (s *Server) announce() int {
	s.mu.Lock()
	bound := s.pool.bindActive(s.now())
	s.mu.Unlock()
	for _, b := range bound {
		s.table.Leased(b.mac, b.ip, b.hostname)
	}
	return len(bound)
}

// worker reads and answers requests until ctx ends or the socket fails.
// The workers are the server's bounded pool: a burst waits in the
// socket's buffer instead of growing goroutines. Under load a worker takes
// up to readBatch requests per system call and sends the answers that need
// not wait for the disk together.
func (s *Server) worker(ctx context.Context, c *conn, commits chan<- reply) error {
	ms := make([]ipv4.Message, readBatch)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, maxPacket)}
	}
	now := make([]reply, 0, readBatch)
	for {
		n, err := c.readBatch(ms)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("read on %s: %w", s.iface, err)
		}
		now = now[:0]
		for _, m := range ms[:n] {
			s.stats.received.Add(1)
			r := s.answer(m.Buffers[0][:m.N])
			if r.bind == nil && r.forget == nil {
				if r.payload != nil {
					now = append(now, r)
				}
				continue
			}
			// What the client table must hear goes through the committer,
			// in order: a RELEASE right after an ACK must not overtake it.
			select {
			case commits <- r:
			case <-ctx.Done():
				return nil
			}
		}
		s.send(c, now)
	}
}

// answer handles one datagram and readies the reply for the wire.
func (s *Server) answer(b []byte) reply {
	out := s.process(b)
	r := reply{bind: out.bind, forget: out.forget}
	if out.resp != nil {
		r.dst = destination(out.req, out.resp)
		r.payload = out.resp.ToBytes()
		r.typ = out.resp.MessageType()
		r.mac = out.req.ClientHWAddr
	}
	return r
}

// reply is an answer ready for the wire and what the client table must be
// told with it. Only the bytes are kept, not the parsed messages, so that
// a full commit queue holds little memory.
type reply struct {
	dst     route
	payload []byte             // nil: no answer
	bind    *binding           // an ACK whose lease must be saved before it goes out
	forget  []net.HardwareAddr // clients whose lease ended
	typ     dhcpv4.MessageType
	mac     net.HardwareAddr
}

// committer sends the ACKs that wait for the store, a batch at a time:
// every ACK queued while the previous Sync ran shares the next one, so the
// number of fsyncs does not grow with the request rate. It also tells the
// client table of leases that ended.
func (s *Server) committer(ctx context.Context, c *conn, commits <-chan reply) {
	batch := make([]reply, 0, commitQueue)
	for {
		select {
		case <-ctx.Done():
			return
		case first := <-commits:
			batch = append(batch[:0], first)
		}
	drain:
		for len(batch) < cap(batch) {
			select {
			case r := <-commits:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		saved := s.store.Sync(ctx)
		if saved != nil && ctx.Err() != nil {
			return
		}
		if saved != nil {
			// The client retries; an ACK for a lease we could lose would
			// let two clients hold one address after a crash.
			s.stats.unsaved.Add(uint64(len(batch)))
			s.log.Error("dhcp: cannot save leases; not acknowledging them", "leases", len(batch), "err", saved)
		}
		out := batch[:0]
		for _, r := range batch {
			// Ended leases have ended in the pool, saved or not: the
			// table must not keep their clients.
			for _, mac := range r.forget {
				s.table.Forget(mac)
			}
			if saved != nil {
				continue
			}
			if r.bind != nil {
				// The table learns the address before the client can use
				// it, so the resolver and firewall know it at its first
				// packet.
				s.table.Leased(r.bind.mac, r.bind.ip, r.bind.hostname)
			}
			if r.payload != nil {
				out = append(out, r)
			}
		}
		s.send(c, out)
		clear(batch[:cap(batch)]) // let the payloads go
	}
}

// sweeper ends expired leases: the client table forgets their clients.
func (s *Server) sweeper(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		s.pool.expire(s.now())
		ended := s.pool.takeEnded()
		s.mu.Unlock()
		for _, mac := range ended {
			s.log.Debug("dhcp: lease expired", "mac", mac.String())
			s.table.Forget(mac)
		}
	}
}

// debug reports whether debug lines are logged, so that the busy path
// builds their arguments only then.
func (s *Server) debug() bool { return s.log.Enabled(context.Background(), slog.LevelDebug) }

// process parses one datagram and decides the answer. It never panics on
// bad input: a packet that cannot be parsed is counted and dropped.
func (s *Server) process(b []byte) outcome {
	req, err := dhcpv4.FromBytes(b)
	if err == nil {
		err = checkRequest(req)
	}
	if err != nil {
		n := s.stats.malformed.Add(1)
		s.log.Debug("dhcp: dropping malformed packet", "err", err, "bytes", len(b), "malformed", n)
		return outcome{}
	}
	return s.handle(req)
}

// send puts replies on the wire.
func (s *Server) send(c *conn, rs []reply) {
	if len(rs) == 0 {
		return
	}
	if s.debug() {
		for _, r := range rs {
			s.log.Debug("dhcp: reply", "type", r.typ.String(), "mac", r.mac.String(), "to", r.dst.String())
		}
	}
	if failed, err := c.send(rs, s.params.Load().server); err != nil {
		s.stats.sendErrs.Add(uint64(failed))
		s.log.Warn("dhcp: cannot send replies", "failed", failed, "err", err)
	}
}
