// Package firewall makes the kernel enforce what the session table says
// (SPEC §3, Firewall): a client that has not signed in reaches DHCP, DNS and
// the portal on the router, the walled garden and nothing else; a signed-in
// or trusted client is left alone; a blocked one gets DHCP only.
//
// Clients are known by MAC address only, and only from the session table:
// the firewall watches it (session.Table.Watch) and turns every change into
// one kernel transaction. Two backends do the work:
//
//   - nftables (github.com/google/nftables, netlink only): Lobby's own table
//     `inet lobby`, whose rules never change while it runs; clients move in
//     and out of sets of MACs, so signing in costs one set-element change
//     whatever the number of clients.
//   - iptables (the iptables and ip6tables binaries, run by xtables, for
//     kernels without nf_tables such as OpenWrt 21.02 and older): Lobby's own chains, each hooked into
//     a built-in chain by one jump; MACs in an ipset hash:mac where the kernel
//     has one, else one rule per MAC in a chain of its own.
//
// The rules survive a crash of lobby, so clients keep being served while it
// restarts; at start they are rebuilt to exactly one copy with the
// persisted sessions, and a clean stop removes them. docs/firewall.md has the
// whole ruleset and why it is shaped this way.
package firewall

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/lobby-fw/lobby/internal/session"
)

// Backend names, as `firewall` in the config and `ctl status` spell them.
const (
	NFTables = "nftables"
	IPTables = "iptables"
)

// pollInterval is how often the per-client byte counters are read into the
// session table. The idle timeout counts in minutes; a few seconds is
// plenty and costs one set dump.
const pollInterval = 5 * time.Second

// Bounds of a walled-garden element learned from DNS. Clients keep an
// answer for about a minute whatever its TTL (browsers do), so an address
// must stay open at least that long; a day bounds what one answer can open.
const (
	minGardenTTL = time.Minute
	maxGardenTTL = 24 * time.Hour
)

// ErrNotRunning is what AllowGarden returns while the firewall is not
// enforcing anything (before Run, or after it stopped). The addresses are
// kept and put in place when Run starts.
var ErrNotRunning = errors.New("firewall: not running")

// Config is what the firewall is given; firmware derives it from the config
// file.
type Config struct {
	Backend   string // option firewall: auto, nftables or iptables
	Interface string // the LAN interface, where clients live
	Address   netip.Addr
	// Ports are the portal's TCP ports on Address, open to every client:
	// port, and tls_port with TLS.
	Ports []uint16
	// RelayHTTP and RelayTLS are the relay's ports on Address, where a
	// signed-in client's TCP 80 and 443 to Address go (SPEC §3, After
	// sign-in).
	RelayHTTP, RelayTLS uint16
	// DNSRedirect is the resolver's port on Address for the DNS that a
	// preauth client sends to other resolvers.
	DNSRedirect uint16
	// AllowAddress is the walled garden by address (option allow_address).
	AllowAddress []netip.Prefix
	// AdminPort is the admin pages' TCP port (config admin); 0: off.
	AdminPort uint16
	// DASPort is the RADIUS Dynamic Authorization UDP port (config
	// radius, das_port); 0: off.
	DASPort uint16
}

// Firewall turns the session table into kernel rules. Create it with New and
// run it with Run; its methods are safe for concurrent use.
type Firewall struct {
	cfg   Config // guarded by mu
	table *session.Table
	log   *slog.Logger
	be    backend
	ct    conntracker
	poll  time.Duration
	now   func() time.Time
	// readMu serialises the counter readings: Run's, every poll, and
	// Settle's, before a session ends. readings is reused by each.
	readMu   sync.Mutex
	readings *readings

	watchOnce sync.Once

	mu   sync.Mutex // guards the fields below and every change to the kernel
	live bool       // the rules are in place and follow the table
	st   state
	// garden holds the addresses learned from DNS and when each expires, so
	// a rebuild puts back the ones still valid. Writers hold mu and
	// gardenMu; InGarden holds only gardenMu, because mu is held across
	// netlink transactions and the responder asks for every frame.
	garden   map[netip.Addr]time.Time
	gardenMu sync.RWMutex
	// ctQueue holds the conntrack deletions that Run does after the set
	// changes (a pass dumps the whole conntrack table); ctWake tells it
	// there are some.
	ctQueue ctBatch
	ctWake  chan struct{}
}

// New chooses the backend that option firewall asks for ("auto": nftables
// where the kernel has nf_tables, else iptables) without changing anything
// in the kernel; Run builds the rules.
func New(cfg Config, table *session.Table, log *slog.Logger) (*Firewall, error) {
	return newFirewall(cfg, table, log, options{})
}

// options are the knobs the tests turn: a network namespace to work in and
// how the iptables backend stores its members.
type options struct {
	netns      int  // fd of the network namespace; 0: the current one
	forceRules bool // iptables: one rule per member even where ipset works
	pollEvery  time.Duration
	// iptablesSuffix picks a variant of the binaries: "-legacy" runs
	// iptables-legacy and ip6tables-legacy; "" those on PATH.
	iptablesSuffix string
}

func newFirewall(cfg Config, table *session.Table, log *slog.Logger, o options) (*Firewall, error) {
	if !cfg.Address.Is4() {
		return nil, fmt.Errorf("firewall: the portal address %v is not IPv4 (option address)", cfg.Address)
	}
	f := &Firewall{
		cfg: cfg, table: table, log: log, poll: o.pollEvery, now: time.Now,
		st:       newState(),
		readings: newReadings(),
		garden:   map[netip.Addr]time.Time{},
		ctQueue:  ctBatch{},
		ctWake:   make(chan struct{}, 1),
	}
	if f.poll == 0 {
		f.poll = pollInterval
	}
	var err error
	switch cfg.Backend {
	case NFTables:
		f.be, err = newNFT(o)
	case IPTables:
		f.be, err = newIPT(o)
	case "auto", "":
		if f.be, err = newNFT(o); err != nil {
			nftErr := err
			if f.be, err = newIPT(o); err != nil {
				err = fmt.Errorf("no firewall backend: %v; %v — load nf_tables (kmod-nft-core) or install iptables", nftErr, err)
			}
		}
	default:
		err = fmt.Errorf("unknown backend %q (option firewall: auto, nftables or iptables)", cfg.Backend)
	}
	if err != nil {
		return nil, fmt.Errorf("firewall: %w", err)
	}
	if f.ct, err = newConntracker(o.netns); err != nil {
		return nil, fmt.Errorf("firewall: %w", err)
	}
	return f, nil
}

// Backend names the backend in use: "nftables" or "iptables".
func (f *Firewall) Backend() string { return f.be.name() }

// rules is what the ruleset depends on in the config; the caller holds
// f.mu, or f is not running yet.
func (f *Firewall) rules() ruleset {
	c := &f.cfg
	return ruleset{
		iface: c.Interface, portal: c.Address, ports: c.Ports,
		garden:  mergePrefixes(c.AllowAddress),
		relay80: c.RelayHTTP, relay443: c.RelayTLS,
		dnsRedirect: c.DNSRedirect, admin: c.AdminPort, das: c.DASPort,
	}
}

// Reload applies what a new config changes: the portal's TLS port and the
// walled garden by address, by rebuilding the ruleset with every client,
// as a start does. The backend, interface, address and the ports that
// follow option port take a restart.
func (f *Firewall) Reload(cfg Config) {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.cfg
	cfg.Backend, cfg.Interface, cfg.Address = old.Backend, old.Interface, old.Address
	cfg.RelayHTTP, cfg.RelayTLS, cfg.DNSRedirect = old.RelayHTTP, old.RelayTLS, old.DNSRedirect
	f.cfg = cfg
	if !f.live || slices.Equal(old.Ports, cfg.Ports) && slices.Equal(old.AllowAddress, cfg.AllowAddress) && old.AdminPort == cfg.AdminPort && old.DASPort == cfg.DASPort {
		return
	}
	if err := f.rebuild(); err != nil {
		f.log.Error("firewall: reload: rebuilding the rules failed", "err", err)
		return
	}
	f.log.Info("firewall: rules rebuilt for the new config", "ports", cfg.Ports, "allow_address", cfg.AllowAddress)
}

// Run builds the rules with every client the table knows, calls ready,
// follows the table until ctx ends, then removes the rules. After a crash
// the rules stay in the kernel, so clients keep being served; the next Run
// replaces them with exactly one fresh copy.
func (f *Firewall) Run(ctx context.Context, ready func()) error {
	// Watch first: a change that lands while the rules are being built
	// then waits for f.mu and is applied on top of them.
	f.watchOnce.Do(func() { f.table.Watch(f.onChange) })
	if err := f.start(); err != nil {
		return err
	}
	ready()
	f.log.Info("firewall: rules in place", "backend", f.be.name(), "how", f.be.detail(), "interface", f.cfg.Interface)

	tick := time.NewTicker(f.poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return f.stop()
		case <-tick.C:
			f.account()
			f.expire()
		case <-f.ctWake:
			f.runConntrack()
		}
	}
}

// start builds the whole ruleset from the table, in one transaction where
// the backend can.
func (f *Firewall) start() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.rebuild(); err != nil {
		if terr := f.be.teardown(); terr != nil {
			f.log.Warn("firewall: removing a half-built ruleset", "err", terr)
		}
		return fmt.Errorf("%s: %w (docs/firewall.md lists what the kernel needs; option firewall picks the other backend)", f.be.name(), err)
	}
	f.live = true
	return nil
}

// rebuild replaces whatever lobby has in the kernel with the ruleset and
// every client of the table; the caller holds f.mu.
func (f *Firewall) rebuild() error {
	f.st = newState()
	var members []op
	for _, c := range f.table.Clients() {
		members = append(members, f.st.change(c.MAC, entryOf(c), c.BytesUp, c.BytesDown)...)
	}
	now := f.now()
	var garden []gardenElem
	for a, until := range f.garden {
		if ttl := until.Sub(now); ttl > time.Second {
			garden = append(garden, gardenElem{addr: a, ttl: ttl})
		} else {
			f.gardenMu.Lock()
			delete(f.garden, a)
			f.gardenMu.Unlock()
		}
	}
	return f.be.build(f.rules(), members, garden)
}

// stop removes every rule; the caller's ctx has ended.
func (f *Firewall) stop() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live = false
	if err := f.be.teardown(); err != nil {
		return fmt.Errorf("%s: removing lobby's rules: %w", f.be.name(), err)
	}
	f.log.Info("firewall: rules removed", "backend", f.be.name())
	return nil
}

// onChange is the table's watcher: it moves one client in the kernel. It
// runs synchronously inside the table's change, so `ctl auth` returns once
// the client passes.
func (f *Firewall) onChange(ch session.Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.live {
		return // Run puts everything in place from the table when it starts
	}
	c := ch.Client
	old := f.st.clients[string(c.MAC)]
	want := entryOf(c)
	ops := f.st.change(c.MAC, want, c.BytesUp, c.BytesDown)
	if len(ops) == 0 {
		return
	}
	if err := f.be.apply(ops); err != nil {
		f.log.Error("firewall: applying a change failed; rebuilding the rules", "mac", c.MAC, "state", want.state, "err", err)
		if err := f.rebuild(); err != nil {
			f.log.Error("firewall: rebuilding the rules failed", "err", err)
		}
	}
	// The door is set; now the connections. After a sign-out every entry
	// the client started goes, so an open connection ends at once. After a
	// sign-in only its flows redirected to the portal go (its DNS to other
	// resolvers): a connection it opened a moment ago must not be cut.
	var portal netip.Addr
	switch {
	case !allowed(old.state) && allowed(want.state):
		portal = f.cfg.Address
	case allowed(old.state) && !allowed(want.state):
	default:
		return
	}
	for _, ip := range []netip.Addr{old.ip, want.ip} {
		if ip.Is4() {
			f.ctQueue.add(ip, portal)
		}
	}
	select {
	case f.ctWake <- struct{}{}:
	default:
	}
}

// runConntrack does the queued conntrack deletions in one pass, without
// holding f.mu: a pass dumps the whole conntrack table.
func (f *Firewall) runConntrack() {
	f.mu.Lock()
	batch := f.ctQueue
	f.ctQueue = ctBatch{}
	f.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if n, err := f.ct.flush(batch); err != nil {
		f.log.Warn("firewall: deleting conntrack entries", "err", err)
	} else if n > 0 {
		f.log.Debug("firewall: conntrack entries deleted", "clients", len(batch), "entries", n)
	}
}

// AllowGarden opens addrs to clients that have not signed in, for ttl
// (bounded to 1 minute … 1 day): the resolver calls it with every address
// of an answer for an allow_domain name. An address already open stays open
// for the longer of the two.
func (f *Firewall) AllowGarden(addrs []netip.Addr, ttl time.Duration) error {
	ttl = min(max(ttl, minGardenTTL), maxGardenTTL)
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	var elems []gardenElem
	for _, a := range addrs {
		a = a.Unmap()
		if !a.IsValid() || a.IsUnspecified() {
			continue
		}
		until := now.Add(ttl)
		// Refresh only when the element would otherwise lapse before a
		// quarter of the new TTL has passed: popular names are asked for
		// all the time, and each refresh is a kernel transaction.
		if old, ok := f.garden[a]; ok && old.After(until.Add(-ttl/4)) {
			continue
		}
		f.gardenMu.Lock()
		f.garden[a] = until
		f.gardenMu.Unlock()
		elems = append(elems, gardenElem{addr: a, ttl: ttl})
	}
	if !f.live {
		return ErrNotRunning
	}
	if len(elems) == 0 {
		return nil
	}
	if err := f.be.allow(elems); err != nil {
		return fmt.Errorf("firewall: opening the walled garden to %v: %w", addrs, err)
	}
	return nil
}

// InGarden reports whether a is a walled-garden address learned from DNS
// and still open. The raw responder asks it for every preauth frame, so
// that it never answers for a site the firewall lets through.
func (f *Firewall) InGarden(a netip.Addr) bool {
	f.gardenMu.RLock()
	until, ok := f.garden[a.Unmap()]
	f.gardenMu.RUnlock()
	return ok && until.After(f.now())
}

// Settle reads the byte counters into the table now: the session table
// calls it (session.Table.SetSettle) before it ends a session, so that the
// session's last seconds of traffic, which the next poll would have read,
// are in its sign-out.
func (f *Firewall) Settle() {
	f.mu.Lock()
	live := f.live
	f.mu.Unlock()
	if live {
		f.account()
	}
}

// account reads the kernel's per-client byte counters into the table.
func (f *Firewall) account() {
	f.readMu.Lock()
	defer f.readMu.Unlock()
	// Reading does not hold f.mu: a dump of 10,000 elements must not delay
	// a sign-in. The readings are matched to clients under the lock.
	f.readings.clear()
	if err := f.be.counters(f.readings); err != nil {
		f.log.Warn("firewall: reading byte counters", "err", err)
		return
	}
	f.mu.Lock()
	if !f.live {
		f.mu.Unlock()
		return
	}
	moved := f.st.account(f.readings.up, f.readings.up6, f.readings.down)
	f.mu.Unlock()
	for _, u := range moved {
		f.table.Account(u.mac, u.up, u.down)
	}
}

// expire drops DNS-learned garden addresses past their time from lobby's
// memory, and from the kernel where the backend has no timeouts of its own.
func (f *Firewall) expire() {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	f.gardenMu.Lock()
	for a, until := range f.garden {
		if !until.After(now) {
			delete(f.garden, a)
		}
	}
	f.gardenMu.Unlock()
	if f.live {
		if err := f.be.expire(now); err != nil {
			f.log.Warn("firewall: expiring walled-garden addresses", "err", err)
		}
	}
}

// mergePrefixes returns ps without the prefixes that another one contains:
// an interval set takes no overlapping elements. Invalid prefixes are
// dropped.
func mergePrefixes(ps []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
outer:
	for i, p := range ps {
		if !p.IsValid() {
			continue
		}
		p = p.Masked()
		for j, q := range ps {
			q = q.Masked()
			if i == j || !q.IsValid() || q.Addr().BitLen() != p.Addr().BitLen() {
				continue
			}
			// q holds p (strictly, or equal and earlier in the list).
			if q.Bits() <= p.Bits() && q.Contains(p.Addr()) && (q.Bits() < p.Bits() || j < i) {
				continue outer
			}
		}
		out = append(out, p)
	}
	return out
}
