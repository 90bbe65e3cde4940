// Package session is the client table: the one owner of who is preauth,
// authenticated, trusted or blocked. Other subsystems ask it (Lookup,
// LookupIP) or are told by it (Watch); none of them keeps its own idea of a
// client's state.
package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"
)

// State is what a client may do.
type State int

// The states of SPEC §3, in order of precedence from the lowest.
const (
	Preauth State = iota
	Authenticated
	Trusted
	Blocked
)

var stateNames = [...]string{"preauth", "authenticated", "trusted", "blocked"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Client is a snapshot of one known client.
type Client struct {
	MAC net.HardwareAddr
	IP  netip.Addr
	// IPv6 are the IPv6 addresses learned for the client from the
	// neighbour table while it is signed in with option ipv6, or trusted
	// (Seen6): at most MaxIPv6, the longest unseen first out.
	IPv6     []netip.Addr
	Hostname string
	State    State
	Since    time.Time // when State began
	Expires  time.Time // end of the session; zero: no limit or not signed in
	// BytesUp and BytesDown are what the firewall counted for this client,
	// over all its sessions.
	BytesUp, BytesDown uint64
	LastActive         time.Time
	// Grant is the grant of the client's session while it is signed in
	// (State Authenticated); the zero Grant otherwise.
	Grant Grant
	// Ended is why the client's last session ended, while it is not
	// signed in (the portal says its data allowance is used up); 0 when
	// it is signed in or no session of it ended since lobby started.
	Ended Reason
}

// SessionBytes are the bytes the client sent and received in its session:
// what its quota counts.
func (c Client) SessionBytes() (up, down uint64) {
	return c.Grant.Used(c.BytesUp, c.BytesDown)
}

// Used is what the session of g used by the time its client's byte totals
// were up and down: for a session that just ended (Change.Grant), whose
// client no longer holds it.
func (g Grant) Used(up, down uint64) (sessionUp, sessionDown uint64) {
	return sub(up, g.BaseUp), sub(down, g.BaseDown)
}

// QuotaLeft is how many bytes the session may still use; ok is false when
// it has no quota.
func (c Client) QuotaLeft() (left uint64, ok bool) {
	if c.Grant.Quota == 0 {
		return 0, false
	}
	up, down := c.SessionBytes()
	return sub(c.Grant.Quota, up+down), true
}

func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// Change tells a watcher that a client's state, address or session moved.
type Change struct {
	// Client is the client after the change.
	Client Client
	// Old is its state before.
	Old State
	// Event says whether a session began, ended or got new limits; for a
	// sign-out, Reason says why. A sign-in that replaces a running session
	// is two Changes: the old session's sign-out, then the sign-in.
	Event  Event
	Reason Reason
	// Grant is the grant of the session that began, ended or changed.
	Grant Grant
	// By names what made the change, for the log: "ctl", "config",
	// "address", …
	By string
}

// Store is what the table needs of internal/store: durable records.
type Store interface {
	Records(kind string) map[string]json.RawMessage
	Put(kind, key string, v any) error
	Delete(kind, key string)
	Sync(ctx context.Context) error
}

// Config holds the settings of the table that a reload may change.
type Config struct {
	// config lobby's limits (SPEC §2): those of every session whose
	// sign-in method gives none of its own (Defaults, Limits.Over).
	SessionTimeout time.Duration // 0: none
	IdleTimeout    time.Duration // 0: never
	DownloadRate   uint64        // bit/s; 0: none
	UploadRate     uint64        // bit/s; 0: none
	Quota          uint64        // bytes up + down per session; 0: none
	TrustedMAC     []net.HardwareAddr
	BlockedMAC     []net.HardwareAddr
	// MaxClients bounds the table (SPEC §4, option max_clients); 0: no
	// bound. Only clients configured as trusted or blocked, and the
	// clients already signed in, trusted or blocked, may exceed it.
	MaxClients int
	// IPv6 (option ipv6) learns a signed-in client's IPv6 addresses, so
	// the firewall forwards them (docs/firewall.md).
	IPv6 bool
}

// Defaults are config lobby's limits, all given.
func (c Config) Defaults() Limits {
	return Limits{
		SessionTimeout: c.SessionTimeout, IdleTimeout: c.IdleTimeout,
		DownloadRate: c.DownloadRate, UploadRate: c.UploadRate, Quota: c.Quota, Given: GivenAll,
	}
}

// Errors a caller may want to tell apart.
var (
	ErrUnknownClient = errors.New("no such client")
	ErrConfigured    = errors.New("set by the config file")
	ErrNotSignedIn   = errors.New("not signed in")
	// ErrTableFull refuses a new client when every client in a full table
	// is signed in, trusted or blocked: none of them makes room.
	ErrTableFull = errors.New("the client table is full of signed-in, trusted and blocked clients (option max_clients)")
)

// client is the table's own record. Its effective state is derived from
// the flags, so that, for example, unblocking a client that was trusted
// before makes it trusted again.
type client struct {
	mac      net.HardwareAddr
	ip       netip.Addr
	ip6      []addr6 // learned IPv6 addresses (Seen6), oldest sighting first
	hostname string

	authenticated bool
	grant         Grant  // the session's, while authenticated
	ended         Reason // why the last session ended (signOut), until the next sign-in

	trusted, blocked       bool // set with ctl
	cfgTrusted, cfgBlocked bool // set by the config file

	since              time.Time // when the effective state began
	seen               time.Time // last sign of life: a lease, a neighbour entry (see place)
	bytesUp, bytesDown uint64
	lastActive         time.Time

	leased bool // holds a DHCP lease: from Leased until Forget
	onLink bool // the kernel's neighbour table names this MAC for ip (Seen, until Gone)

	// q is the queue of forgettable clients that this one is in (nil:
	// none, it is signed in, trusted or blocked); prev and next link it
	// there.
	q          *queue
	prev, next *client
}

func (c *client) state() State {
	switch {
	case c.blocked || c.cfgBlocked:
		return Blocked
	case c.trusted || c.cfgTrusted:
		return Trusted
	case c.authenticated:
		return Authenticated
	}
	return Preauth
}

// stateAt is c's state for a packet from ip: a signed-in client is signed
// in only from the IPv4 address it signed in with (SPEC §3, Firewall), so a
// device that copies its MAC from another address, or from IPv6, is not.
// A client signed in before its address was known (ctl auth of a MAC never
// seen) takes the first address seen, which the neighbour table is about
// to report: until then it is signed in from anywhere.
func (c *client) stateAt(ip netip.Addr) State {
	s := c.state()
	if s == Authenticated && c.ip.IsValid() && c.ip != ip.Unmap() {
		return Preauth
	}
	return s
}

func (c *client) snapshot() Client {
	s := Client{
		MAC: c.mac, IP: c.ip, Hostname: c.hostname, State: c.state(), Since: c.since,
		BytesUp: c.bytesUp, BytesDown: c.bytesDown, LastActive: c.lastActive,
	}
	for _, a := range c.ip6 {
		s.IPv6 = append(s.IPv6, a.ip)
	}
	if s.State == Authenticated {
		s.Expires = c.grant.End
		s.Grant = c.grant
	} else {
		s.Ended = c.ended
	}
	return s
}

// ends says why c's session ends at now, if it does (0: it runs on), and
// otherwise when it will by time (zero: not by time). The caller holds mu.
func (c *client) ends(now time.Time) (Reason, time.Time) {
	g := &c.grant
	if g.Quota > 0 && c.used() >= g.Quota {
		return ReasonQuota, time.Time{}
	}
	deadline := g.End
	if !deadline.IsZero() && !now.Before(deadline) {
		return ReasonTimeout, time.Time{}
	}
	if g.IdleTimeout > 0 {
		last := c.lastActive
		if last.Before(g.Start) {
			last = g.Start
		}
		idle := last.Add(g.IdleTimeout)
		if !now.Before(idle) {
			return ReasonIdle, time.Time{}
		}
		if deadline.IsZero() || idle.Before(deadline) {
			deadline = idle
		}
	}
	return 0, deadline
}

// used is what c's session has used of its quota.
func (c *client) used() uint64 {
	return sub(c.bytesUp, c.grant.BaseUp) + sub(c.bytesDown, c.grant.BaseDown)
}

// record is what the store keeps of a client: only what must survive a
// restart. Leases are the DHCP server's; the IP and name here let a
// signed-in client be found again before it renews.
type record struct {
	MAC           string    `json:"mac"`
	IP            string    `json:"ip,omitempty"`
	Hostname      string    `json:"hostname,omitempty"`
	Authenticated bool      `json:"authenticated,omitempty"`
	Grant         *Grant    `json:"grant,omitempty"` // with Authenticated
	Trusted       bool      `json:"trusted,omitempty"`
	Blocked       bool      `json:"blocked,omitempty"`
	Since         time.Time `json:"since"`
	BytesUp       uint64    `json:"bytes_up,omitempty"`
	BytesDown     uint64    `json:"bytes_down,omitempty"`
	LastActive    time.Time `json:"last_active,omitzero"`
	// AuthSince and Expires are what records written before grants kept
	// of a session; New makes a grant of them.
	AuthSince time.Time `json:"auth_since,omitzero"`
	Expires   time.Time `json:"expires,omitzero"`
}

const kind = "session"

// neighbourTTL is how long a preauth client known only from the neighbour
// table may go unseen before the table drops it (SPEC §4). Every ARP
// request with a new sender MAC makes the kernel report one; without this
// bound, phones that randomise their MAC — or a flood of forged ARP —
// would grow the table without end. A preauth client that holds a lease
// is dropped when the lease ends (Forget) instead, and a preauth lease
// lasts at most 10 minutes too.
const neighbourTTL = 10 * time.Minute

// fullLogEvery limits the "table full" warning during a flood.
const fullLogEvery = time.Minute

// queue is a doubly linked list of clients, the longest unseen at the
// head: a client seen again moves to the tail, so keeping the order, and
// finding whom to forget, each cost O(1).
type queue struct{ head, tail *client }

func (q *queue) push(c *client) {
	c.q, c.prev, c.next = q, q.tail, nil
	if q.tail != nil {
		q.tail.next = c
	} else {
		q.head = c
	}
	q.tail = c
}

func (q *queue) remove(c *client) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		q.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		q.tail = c.prev
	}
	c.q, c.prev, c.next = nil, nil, nil
}

// Table is the client table. Its methods are safe for concurrent use.
type Table struct {
	log   *slog.Logger
	store Store
	now   func() time.Time

	totalUp, totalDown uint64 // bytes forwarded since New (Forwarded); guarded by mu

	// writeMu serialises every change and the delivery of its Change, so
	// watchers see changes in the order they happened. Watchers may read
	// the table but must not change it.
	writeMu  sync.Mutex
	mu       sync.RWMutex // guards the fields below
	cfg      Config
	clients  map[string]*client // by string(MAC)
	byIP     map[netip.Addr]*client
	byIP6    map[netip.Addr]*client // learned IPv6 addresses (Seen6)
	watchers []func(Change)
	// recorders are told of each change before the table saves it
	// (Record).
	recorders []func(Change)
	resolve   func(netip.Addr) (net.HardwareAddr, bool)
	settle    func()
	wake      chan struct{}

	// The clients that may be forgotten or make room — preauth, neither
	// trusted nor blocked — in two queues: those known only from the
	// neighbour table, which cost an attacker one forged ARP frame each,
	// make room first; lease holders, bounded by the DHCP pool, only when
	// no such client is left.
	neighOnly, leased queue
	evicted           uint64    // clients dropped to make room, for the log
	lastFull          time.Time // when the table last said it was full
}

// New builds the table from the store's records and cfg.
func New(cfg Config, st Store, log *slog.Logger) *Table {
	t := &Table{
		log: log, store: st, now: time.Now,
		clients: map[string]*client{}, byIP: map[netip.Addr]*client{}, byIP6: map[netip.Addr]*client{},
		wake: make(chan struct{}, 1),
	}
	for key, raw := range st.Records(kind) {
		var r record
		mac, err := net.ParseMAC(key)
		if err == nil {
			err = json.Unmarshal(raw, &r)
		}
		if err != nil {
			log.Warn("session: skipping a stored record that cannot be read", "key", key, "err", err)
			continue
		}
		c := &client{
			mac: mac, hostname: r.Hostname, authenticated: r.Authenticated,
			trusted: r.Trusted, blocked: r.Blocked, since: r.Since,
			bytesUp: r.BytesUp, bytesDown: r.BytesDown, lastActive: r.LastActive, seen: t.now(),
		}
		migrate := false
		switch {
		case !r.Authenticated:
		case r.Grant != nil:
			c.grant = *r.Grant
		default:
			// A session stored before grants: its end as it was, config
			// lobby's idle timeout as it applied then, no method known.
			c.grant = Grant{End: r.Expires, IdleTimeout: cfg.IdleTimeout, Start: r.AuthSince,
				BaseUp: r.BytesUp, BaseDown: r.BytesDown}
			migrate = true
		}
		if c.authenticated && c.grant.SessionID == "" {
			c.grant.SessionID = newSessionID()
			migrate = true
		}
		if ip, err := netip.ParseAddr(r.IP); err == nil {
			c.ip = ip
			t.byIP[ip] = c
		}
		t.clients[string(mac)] = c
		t.place(c, false)
		if migrate {
			t.persist(c) // so that its session ID holds from now on
		}
	}
	t.applyConfig(cfg)
	t.shrink()
	return t
}

// Watch registers fn to be told of every change from now on. fn runs
// synchronously, in order; it may read the table but not change it.
func (t *Table) Watch(fn func(Change)) {
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.watchers = append(t.watchers, fn)
}

// Record registers fn to be told of every change before the table saves
// it: fn runs while the table's writers wait, before the Sync of the
// change, so a record that fn files in the table's own store (Put, never
// Sync) reaches the disk with the change it records, and a crash or kill
// -9 keeps both or neither. RADIUS accounting files its Start and Stop
// records this way (SPEC §4: every Start is followed by its Stop). fn must
// not call the table or wait for anything.
func (t *Table) Record(fn func(Change)) {
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.recorders = append(t.recorders, fn)
}

// Reload applies a new config: timeouts, and the trusted and blocked lists.
func (t *Table) Reload(cfg Config) {
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	changes := t.applyConfig(cfg)
	t.mu.Lock()
	t.shrink()
	t.mu.Unlock()
	t.notify(changes)
	t.kick()
}

// shrink forgets clients until the table fits MaxClients again, after a
// reload lowered it; the caller holds mu (or owns t, in New).
func (t *Table) shrink() {
	for t.cfg.MaxClients > 0 && len(t.clients) > t.cfg.MaxClients && t.evict() {
	}
}

// place puts c in the queue that its state and lease call for, and drops
// its learned IPv6 addresses when its state no longer keeps them (a
// sign-out). A client
// that enters a queue, or is touched (seen again), goes to its tail with
// seen set to now: leaving a signed-in, trusted or blocked state counts
// as a sign of life, which keeps each queue in the order of seen. The
// caller holds mu.
func (t *Table) place(c *client, touched bool) {
	if !t.learns6(c) {
		t.forget6(c)
	}
	var want *queue
	if c.state() == Preauth {
		want = &t.neighOnly
		if c.leased {
			want = &t.leased
		}
	}
	if c.q == want && !touched {
		return
	}
	if c.q != nil {
		c.q.remove(c)
	}
	if want != nil {
		c.seen = t.now()
		want.push(c)
	}
}

// admit adds a new preauth client for mac, making room first if the
// table is full; nil if nobody can make room. The caller holds mu and
// places the client.
func (t *Table) admit(mac net.HardwareAddr) *client {
	if t.cfg.MaxClients > 0 && len(t.clients) >= t.cfg.MaxClients && !t.evict() {
		return nil
	}
	now := t.now()
	c := &client{mac: append(net.HardwareAddr(nil), mac...), since: now, seen: now}
	t.clients[string(mac)] = c
	return c
}

// evict forgets the longest-unseen client that may make room (SPEC §4):
// one known only from the neighbour table if there is one, else a preauth
// lease holder. A signed-in, trusted or blocked client never makes room.
// The caller holds mu.
func (t *Table) evict() bool {
	c := t.neighOnly.head
	if c == nil {
		c = t.leased.head
	}
	now := t.now()
	warn := now.Sub(t.lastFull) >= fullLogEvery
	if warn {
		t.lastFull = now
	}
	if c == nil {
		if warn {
			t.log.Warn("session: client table full of signed-in, trusted and blocked clients; new clients are not recorded: raise option max_clients",
				"max_clients", t.cfg.MaxClients)
		}
		return false
	}
	t.drop(c)
	t.evicted++
	if warn {
		t.log.Warn("session: client table full; forgetting the longest-unseen clients that have not signed in",
			"max_clients", t.cfg.MaxClients, "forgotten", t.evicted)
	}
	return true
}

// drop removes c from the table. Only a preauth client is dropped, and
// a preauth client has no stored record (persist deletes it), so nothing
// brings it back at the next start; the Delete makes sure of that. The
// caller holds mu.
func (t *Table) drop(c *client) {
	if c.q != nil {
		c.q.remove(c)
	}
	if t.byIP[c.ip] == c {
		delete(t.byIP, c.ip)
	}
	t.forget6(c)
	key := string(c.mac)
	delete(t.clients, key)
	t.store.Delete(kind, c.mac.String())
}

func (t *Table) applyConfig(cfg Config) []Change {
	t.mu.Lock()
	defer t.mu.Unlock()
	ipv6Flipped := t.cfg.IPv6 != cfg.IPv6
	t.cfg = cfg
	now := t.now()
	want := map[string][2]bool{}
	for _, m := range cfg.TrustedMAC {
		f := want[string(m)]
		f[0] = true
		want[string(m)] = f
	}
	for _, m := range cfg.BlockedMAC {
		f := want[string(m)]
		f[1] = true
		want[string(m)] = f
	}
	for key := range want {
		if t.clients[key] == nil {
			t.clients[key] = &client{mac: net.HardwareAddr(key), since: now, seen: now}
		}
	}
	var changes []Change
	for key, c := range t.clients {
		old, had6 := c.state(), len(c.ip6)
		f := want[key]
		c.cfgTrusted, c.cfgBlocked = f[0], f[1]
		var ended []Change
		if c.cfgBlocked && c.authenticated {
			// A blocked MAC stays out, even after sign-in.
			ended = append(ended, t.signOut(c, ReasonBlocked))
		}
		t.place(c, false)
		s := c.state()
		if s != old || ended != nil {
			if s != old {
				c.since = now
			}
			t.persist(c)
		}
		// A signed-in client is told of too when option ipv6 changed, so
		// that the firewall drops its IPv6 addresses, or the neighbour
		// tracker looks them up.
		if s != old || ended != nil || len(c.ip6) != had6 || s == Authenticated && ipv6Flipped {
			changes = append(changes, completed(ended, c.snapshot(), old, "config")...)
		}
	}
	return changes
}

// Run enforces session and idle timeouts until ctx ends.
func (t *Table) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-t.wake:
		}
		next := t.expire()
		d := time.Minute
		if !next.IsZero() {
			d = min(max(next.Sub(t.now()), 100*time.Millisecond), time.Minute)
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(d)
	}
}

// kick makes Run look at the deadlines again.
func (t *Table) kick() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// expire signs out every client past its deadline and returns the next
// deadline (zero: none).
func (t *Table) expire() time.Time {
	t.settleFor(nil)
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	t.mu.Lock()
	now := t.now()
	var changes []Change
	var next time.Time
	for _, c := range t.clients {
		if !c.authenticated {
			continue
		}
		// The quota is checked here too, not only as bytes are counted
		// (Account): a session restored from the store may start over it.
		reason, deadline := c.ends(now)
		if reason != 0 {
			old := c.state()
			ended := t.signOut(c, reason)
			if c.state() != old {
				c.since = now
			}
			t.persist(c)
			t.place(c, false)
			changes = append(changes, completed([]Change{ended}, c.snapshot(), old, "")...)
			continue
		}
		if !deadline.IsZero() && (next.IsZero() || deadline.Before(next)) {
			next = deadline
		}
	}
	// The queue's head is the longest unseen: forgetting takes no scan.
	for c := t.neighOnly.head; c != nil && !now.Before(c.seen.Add(neighbourTTL)); c = t.neighOnly.head {
		t.drop(c)
	}
	if c := t.neighOnly.head; c != nil {
		if d := c.seen.Add(neighbourTTL); next.IsZero() || d.Before(next) {
			next = d
		}
	}
	t.mu.Unlock()
	if len(changes) > 0 {
		// A sign-out by timeout is not acknowledged to anyone, so it need
		// not wait for the disk; the next commit carries it.
		t.notify(changes)
	}
	return next
}

// notify tells the recorders and the watchers of changes that are saved
// lazily; the caller holds writeMu but not mu.
func (t *Table) notify(changes []Change) {
	t.record(changes)
	t.tell(changes)
}

// record tells the recorders (Record); the caller holds writeMu.
func (t *Table) record(changes []Change) {
	t.mu.RLock()
	rs := t.recorders
	t.mu.RUnlock()
	for _, ch := range changes {
		for _, r := range rs {
			r(ch)
		}
	}
}

// tell logs changes and tells the watchers; the caller holds writeMu.
func (t *Table) tell(changes []Change) {
	t.mu.RLock()
	ws := t.watchers
	t.mu.RUnlock()
	for _, ch := range changes {
		t.logChange(ch)
		for _, w := range ws {
			w(ch)
		}
	}
}

// logChange writes one line for ch: every sign-in and sign-out with the
// client's MAC, IP, method and user, and a sign-out's reason (SPEC §1).
func (t *Table) logChange(ch Change) {
	c := &ch.Client
	attrs := []any{"mac", c.MAC.String(), "ip", c.IP}
	if ch.Event != NoEvent {
		g := &ch.Grant
		attrs = append(attrs, "method", string(g.Method), "user", g.User)
	}
	msg := "client " + c.State.String()
	switch ch.Event {
	case SignIn:
		msg = "client signed in"
		attrs = append(attrs, "session", ch.Grant.SessionID, "limits", limitsText(ch.Grant))
	case SignOut:
		msg = "client signed out"
		up, down := sub(c.BytesUp, ch.Grant.BaseUp), sub(c.BytesDown, ch.Grant.BaseDown)
		attrs = append(attrs, "reason", ch.Reason.String(), "session", ch.Grant.SessionID, "bytes_up", up, "bytes_down", down)
		if c.State != Preauth {
			attrs = append(attrs, "state", c.State.String())
		}
	case LimitChange:
		msg = "client limits changed"
		attrs = append(attrs, "limits", limitsText(ch.Grant))
	}
	if ch.By != "" {
		attrs = append(attrs, "by", ch.By)
	}
	level := slog.LevelInfo
	if ch.Event == NoEvent && ch.Old == c.State {
		level = slog.LevelDebug // an address or name moved; the state did not
	} else if ch.Event == NoEvent {
		attrs = append(attrs, "was", ch.Old.String())
	}
	t.log.Log(context.Background(), level, msg, attrs...)
}

// limitsText is a grant's limits for the log, "none" for none.
func limitsText(g Grant) string {
	var b []string
	if !g.End.IsZero() {
		b = append(b, "end="+g.End.UTC().Format(time.RFC3339))
	}
	if g.IdleTimeout > 0 {
		b = append(b, "idle="+g.IdleTimeout.String())
	}
	if g.DownloadRate > 0 {
		b = append(b, fmt.Sprintf("download=%dbit/s", g.DownloadRate))
	}
	if g.UploadRate > 0 {
		b = append(b, fmt.Sprintf("upload=%dbit/s", g.UploadRate))
	}
	if g.Quota > 0 {
		b = append(b, fmt.Sprintf("quota=%dB", g.Quota))
	}
	if b == nil {
		return "none"
	}
	return strings.Join(b, " ")
}

// signOut ends c's session for r and returns the sign-out's Change, which
// completed fills in. The caller holds mu.
func (t *Table) signOut(c *client, r Reason) Change {
	g := c.grant
	c.authenticated = false
	c.grant = Grant{}
	c.ended = r
	return Change{Event: SignOut, Reason: r, Grant: g}
}

// completed gives the session events of one change to a client (none: a
// change of state alone) the client as it is after, its state before, and
// what made the change.
func completed(events []Change, snap Client, old State, by string) []Change {
	if len(events) == 0 {
		return []Change{{Client: snap, Old: old, By: by}}
	}
	for i := range events {
		events[i].Client, events[i].Old, events[i].By = snap, old, by
	}
	return events
}

// persist queues the client's record; the caller holds mu.
func (t *Table) persist(c *client) {
	key := c.mac.String()
	if !c.authenticated && !c.trusted && !c.blocked {
		t.store.Delete(kind, key)
		return
	}
	r := record{
		MAC: key, Hostname: c.hostname, Authenticated: c.authenticated,
		Trusted: c.trusted, Blocked: c.blocked, Since: c.since,
		BytesUp: c.bytesUp, BytesDown: c.bytesDown, LastActive: c.lastActive,
	}
	if c.authenticated {
		g := c.grant
		r.Grant = &g
	}
	if c.ip.IsValid() {
		r.IP = c.ip.String()
	}
	if err := t.store.Put(kind, key, r); err != nil {
		t.log.Error("session: cannot store client", "mac", key, "err", err)
	}
}

// update runs fn on the client with mac (created if create is set), then
// persists, waits for the disk when durable is set, and tells the
// watchers. fn returns the session events of the change (signOut's and
// Auth's), if any. by names the caller for the log.
func (t *Table) update(ctx context.Context, mac net.HardwareAddr, create, durable bool, by string, fn func(c *client, now time.Time) ([]Change, error)) (Client, error) {
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	t.mu.Lock()
	c := t.clients[string(mac)]
	if c == nil {
		if !create {
			t.mu.Unlock()
			return Client{}, fmt.Errorf("%w %s", ErrUnknownClient, mac)
		}
		if c = t.admit(mac); c == nil {
			t.mu.Unlock()
			return Client{MAC: mac}, fmt.Errorf("%s: %w", mac, ErrTableFull)
		}
	}
	old := c.state()
	now := t.now()
	events, err := fn(c, now)
	t.place(c, false)
	if err != nil {
		t.mu.Unlock()
		return c.snapshot(), err
	}
	if c.state() != old {
		c.since = now
	}
	t.persist(c)
	snap := c.snapshot()
	t.mu.Unlock()
	var changes []Change
	if snap.State != old || events != nil {
		changes = completed(events, snap, old, by)
		t.record(changes) // saved with the change, below
	}
	if durable {
		// Sign-ins and sign-outs are acknowledged to a person; they must be
		// on disk before that, so a kill -9 right after loses nothing.
		if err := t.store.Sync(ctx); err != nil {
			t.tell(changes)
			return snap, fmt.Errorf("saving state: %w", err)
		}
	}
	t.tell(changes)
	t.kick()
	return snap, nil
}

// NewGrant is the grant of a sign-in by method for user (a voucher code or
// RADIUS user name; "" for none) with the limits the method gives, config
// lobby's for the others (Limits.Over), the session end counted from now.
// Every sign-in method makes its grant here, and may then narrow it (a
// voucher's End is its code's). The grant's SessionID is made here too,
// before the sign-in: a RADIUS Access-Request carries the Acct-Session-Id
// the session will have (SPEC §7), and its accounting uses it again.
func (t *Table) NewGrant(method Method, user string, l Limits) Grant {
	t.mu.RLock()
	d := t.cfg.Defaults()
	t.mu.RUnlock()
	g := grantOf(method, user, l.Over(d), t.now())
	g.SessionID = newSessionID()
	return g
}

// Auth signs a client in with grant g (see NewGrant), at the address the
// table knows for it.
func (t *Table) Auth(ctx context.Context, mac net.HardwareAddr, g Grant) (Client, error) {
	return t.AuthAt(ctx, mac, netip.Addr{}, g)
}

// AuthAt signs in the client with mac that asked from IPv4 address ip (the
// portal, ctl auth IP) with grant g: it is let through from that address
// (SPEC §3, Firewall), which becomes its own even if the table knew
// another, such as a stale neighbour entry. A client signed in already
// starts a new session, from ip if given: the old one ends first, reason
// admin when ctl signs it in again, logout when the guest does.
func (t *Table) AuthAt(ctx context.Context, mac net.HardwareAddr, ip netip.Addr, g Grant) (Client, error) {
	if !g.Method.valid() {
		return Client{}, fmt.Errorf("signing in %s: unknown method %q", mac, g.Method)
	}
	ip = ip.Unmap()
	t.settleFor(mac) // a session it replaces ends with its last bytes
	return t.update(ctx, mac, true, true, "", func(c *client, now time.Time) ([]Change, error) {
		if c.blocked || c.cfgBlocked {
			return nil, fmt.Errorf("%s is blocked", mac)
		}
		if !g.End.IsZero() && !now.Before(g.End) {
			return nil, fmt.Errorf("signing in %s: the session would end at %v, before it starts", mac, g.End.Format(time.RFC3339))
		}
		if ip.Is4() && ip != c.ip {
			if t.byIP[c.ip] == c {
				delete(t.byIP, c.ip)
			}
			if other := t.byIP[ip]; other != nil && other != c {
				other.ip = netip.Addr{}
				other.onLink = false
			}
			c.ip = ip
			c.onLink = false
			t.byIP[ip] = c
		}
		if g.SessionID == "" || c.authenticated && g.SessionID == c.grant.SessionID {
			g.SessionID = newSessionID() // a grant not made by NewGrant, or one used already
		}
		var events []Change
		if c.authenticated {
			r := ReasonLogout
			if g.Method == MethodCtl {
				r = ReasonAdmin
			}
			events = append(events, t.signOut(c, r))
		}
		g.Start = now
		g.BaseUp, g.BaseDown = c.bytesUp, c.bytesDown
		c.authenticated = true
		c.grant = g
		c.lastActive = now
		return append(events, Change{Event: SignIn, Grant: g}), nil
	})
}

// Deauth signs a client out for reason r.
func (t *Table) Deauth(ctx context.Context, mac net.HardwareAddr, r Reason) (Client, error) {
	t.settleFor(mac)
	return t.update(ctx, mac, false, true, "", func(c *client, _ time.Time) ([]Change, error) {
		if !c.authenticated {
			return nil, fmt.Errorf("%s: %w", mac, ErrNotSignedIn)
		}
		return []Change{t.signOut(c, r)}, nil
	})
}

// Limit changes a signed-in client's limits now (ctl limit, RADIUS CoA,
// the admin pages): fn changes the grant, given the time now. The
// session's method, user, ID, start and byte baseline stay. The change is
// one Change (LimitChange) to the watchers; limits that the session is
// already past (an end now past, a quota already used) sign it out at once
// with that reason instead.
func (t *Table) Limit(ctx context.Context, mac net.HardwareAddr, fn func(g *Grant, now time.Time)) (Client, error) {
	return t.update(ctx, mac, false, true, "", func(c *client, now time.Time) ([]Change, error) {
		if !c.authenticated {
			return nil, fmt.Errorf("%s: %w", mac, ErrNotSignedIn)
		}
		g := c.grant
		fn(&g, now)
		g.Method, g.User, g.SessionID, g.Start = c.grant.Method, c.grant.User, c.grant.SessionID, c.grant.Start
		g.BaseUp, g.BaseDown = c.grant.BaseUp, c.grant.BaseDown
		c.grant = g
		if r, _ := c.ends(now); r != 0 {
			return []Change{t.signOut(c, r)}, nil
		}
		return []Change{{Event: LimitChange, Grant: g}}, nil
	})
}

// SetTrusted trusts or untrusts a MAC at run time. by names the caller for
// the log.
func (t *Table) SetTrusted(ctx context.Context, mac net.HardwareAddr, on bool, by string) (Client, error) {
	return t.update(ctx, mac, on, true, by, func(c *client, _ time.Time) ([]Change, error) {
		if !on && c.cfgTrusted {
			return nil, fmt.Errorf("%s is trusted by the config file (list trusted_mac): %w", mac, ErrConfigured)
		}
		c.trusted = on
		return nil, nil
	})
}

// SetBlocked blocks or unblocks a MAC at run time. Blocking signs it out
// (reason blocked). by names the caller for the log.
func (t *Table) SetBlocked(ctx context.Context, mac net.HardwareAddr, on bool, by string) (Client, error) {
	if on {
		t.settleFor(mac)
	}
	return t.update(ctx, mac, on, true, by, func(c *client, _ time.Time) ([]Change, error) {
		if !on && c.cfgBlocked {
			return nil, fmt.Errorf("%s is blocked by the config file (list blocked_mac): %w", mac, ErrConfigured)
		}
		c.blocked = on
		if on && c.authenticated {
			return []Change{t.signOut(c, ReasonBlocked)}, nil
		}
		return nil, nil
	})
}

// Seen records that the kernel's neighbour table names mac for ip: the
// client is on the LAN with that address now. A client known only this
// way is forgotten after 10 minutes unseen (SPEC §4). hostname is kept if
// not "" (the neighbour table knows none).
func (t *Table) Seen(mac net.HardwareAddr, ip netip.Addr, hostname string) {
	t.sighted(mac, ip, hostname, false)
}

// Leased records that the DHCP server granted or renewed mac's lease of
// ip, with the client's hostname if known ("" keeps the old one). The
// client stays until Forget, when its lease ends.
func (t *Table) Leased(mac net.HardwareAddr, ip netip.Addr, hostname string) {
	t.sighted(mac, ip, hostname, true)
}

// Gone records that the kernel's neighbour table no longer has a live
// entry for ip (it failed or was deleted).
func (t *Table) Gone(ip netip.Addr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.byIP[ip]; c != nil {
		c.onLink = false
	}
}

// MaxIPv6 bounds the IPv6 addresses learned per client: a host may pick
// as many as it likes (RFC 8981), and each one is a firewall element.
const MaxIPv6 = 8

// addr6 is a learned IPv6 address and when the neighbour table last named
// it.
type addr6 struct {
	ip   netip.Addr
	seen time.Time
}

// learnable6 reports whether ip is an IPv6 address a client may be
// learned at: global or unique-local unicast, never link-local.
func learnable6(ip netip.Addr) bool {
	return ip.Is6() && !ip.Is4In6() && ip.IsGlobalUnicast()
}

// learns6 reports whether c's IPv6 addresses are learned: a signed-in
// client's with option ipv6 (the firewall forwards them), a trusted one's
// always (it passes by MAC; the addresses count its download). The caller
// holds mu.
func (t *Table) learns6(c *client) bool {
	switch c.state() {
	case Trusted:
		return true
	case Authenticated:
		return t.cfg.IPv6
	}
	return false
}

// forget6 drops c's learned IPv6 addresses; the caller holds mu.
func (t *Table) forget6(c *client) {
	for _, a := range c.ip6 {
		if t.byIP6[a.ip] == c {
			delete(t.byIP6, a.ip)
		}
	}
	c.ip6 = nil
}

// learn6 records that the neighbour table names c for ip at now, and
// reports whether c's addresses changed: a new address goes in, in place
// of the longest unseen when c has MaxIPv6 already; a known one is only
// marked seen. The caller holds mu.
func (t *Table) learn6(c *client, ip netip.Addr, now time.Time) bool {
	for i := range c.ip6 {
		if c.ip6[i].ip == ip {
			c.ip6[i].seen = now
			return false
		}
	}
	if len(c.ip6) >= MaxIPv6 {
		oldest := 0
		for i := range c.ip6 {
			if c.ip6[i].seen.Before(c.ip6[oldest].seen) {
				oldest = i
			}
		}
		if t.byIP6[c.ip6[oldest].ip] == c {
			delete(t.byIP6, c.ip6[oldest].ip)
		}
		c.ip6 = append(c.ip6[:oldest], c.ip6[oldest+1:]...)
	}
	c.ip6 = append(c.ip6, addr6{ip: ip, seen: now})
	t.byIP6[ip] = c
	return true
}

// Seen6 records that the kernel's neighbour table names mac for IPv6
// address ip. A client whose addresses are learned (a signed-in one with
// option ipv6, a trusted one) gets ip, and the watchers hear of it; the
// address leaves any other client that had it. Others, and addresses that
// are not learnable6 (a link-local one), are ignored: IPv6 never makes a client known.
func (t *Table) Seen6(mac net.HardwareAddr, ip netip.Addr) {
	if !learnable6(ip) {
		return
	}
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	t.mu.Lock()
	c := t.clients[string(mac)]
	if c == nil || !t.learns6(c) {
		t.mu.Unlock()
		return
	}
	var changes []Change
	if other := t.byIP6[ip]; other != nil && other != c {
		for i := range other.ip6 {
			if other.ip6[i].ip == ip {
				other.ip6 = append(other.ip6[:i], other.ip6[i+1:]...)
				break
			}
		}
		changes = append(changes, Change{Client: other.snapshot(), Old: other.state(), By: "address"})
	}
	if t.learn6(c, ip, t.now()) {
		changes = append(changes, Change{Client: c.snapshot(), Old: c.state(), By: "address"})
	}
	t.mu.Unlock()
	t.notify(changes)
}

// OnLink reports whether the kernel's neighbour table last named mac for
// ip: the device answers on the LAN with that address. The DHCP server
// never takes such a client's address for another.
func (t *Table) OnLink(mac net.HardwareAddr, ip netip.Addr) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	c := t.clients[string(mac)]
	return c != nil && c.ip == ip && c.onLink
}

// sighted is Seen (from the neighbour table) or Leased (from DHCP).
func (t *Table) sighted(mac net.HardwareAddr, ip netip.Addr, hostname string, lease bool) {
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	t.mu.Lock()
	c := t.clients[string(mac)]
	if c == nil {
		if c = t.admit(mac); c == nil {
			// Full of clients that never make room: this one is still
			// served as preauth (LookupIP resolves it), just not recorded.
			t.mu.Unlock()
			return
		}
	}
	c.seen = t.now()
	changed := false
	if c.state() == Authenticated && c.ip.IsValid() {
		// The neighbour table believes whoever sent the last ARP, and the
		// DHCP server leases an address of its own to whoever asks with
		// another client identifier: a device that copies the MAC from
		// another address does both, and neither may take the session
		// with it (SPEC §3, Firewall). A session stays at the address it
		// signed in from; a device that really moved signs in again there
		// (AuthAt). The address is no longer whoever
		// had it before either: asked by address, it is a copy of this
		// MAC (LookupIP resolves it, preauth).
		if other := t.byIP[ip]; other != nil && other != c {
			other.ip = netip.Addr{}
			other.onLink = false
			delete(t.byIP, ip)
		}
		ip = c.ip
	}
	if ip.IsValid() && ip != c.ip {
		if t.byIP[c.ip] == c {
			delete(t.byIP, c.ip)
		}
		if other := t.byIP[ip]; other != nil && other != c {
			other.ip = netip.Addr{} // the address moved to another MAC
			other.onLink = false
		}
		c.ip = ip
		c.onLink = false
		t.byIP[ip] = c
		changed = true
	}
	if lease {
		c.leased = true
	} else if ip.IsValid() {
		c.onLink = true
	}
	t.place(c, true)
	if hostname != "" && hostname != c.hostname {
		c.hostname = hostname
		changed = true
	}
	if changed && (c.authenticated || c.trusted || c.blocked) {
		t.persist(c)
	}
	snap := c.snapshot()
	t.mu.Unlock()
	if changed {
		// Watchers that key on addresses (the firewall's IP sets, the DNS
		// resolver) must learn of the move.
		t.notify([]Change{{Client: snap, Old: snap.State, By: "address"}})
	}
}

// Account records the firewall's byte counters for a client. Counters that
// grew mean traffic, which keeps an idle timeout away. A session whose
// quota they use up is signed out here and now (reason quota), so the
// sign-out follows the byte that crossed it by no more than the firewall's
// reading interval (SPEC §3, Limits: within 5 seconds).
func (t *Table) Account(mac net.HardwareAddr, up, down uint64) {
	t.mu.Lock()
	c := t.clients[string(mac)]
	over := false
	if c != nil && (up != c.bytesUp || down != c.bytesDown) {
		// The totals only grow: a client's counter that starts again
		// (its firewall element was made anew) adds what it counts now.
		t.totalUp += grown(c.bytesUp, up)
		t.totalDown += grown(c.bytesDown, down)
		c.bytesUp, c.bytesDown = up, down
		c.lastActive = t.now()
		if c.authenticated {
			t.persist(c) // lazily: counters are not worth an fsync
			over = c.grant.Quota > 0 && c.used() >= c.grant.Quota
		}
	}
	t.mu.Unlock()
	if !over {
		return
	}
	// Like a timeout, nobody waits for this sign-out: the next commit
	// carries it, and a session restored over its quota ends at start.
	t.update(context.Background(), mac, false, false, "", func(c *client, _ time.Time) ([]Change, error) {
		if !c.authenticated || c.grant.Quota == 0 || c.used() < c.grant.Quota {
			return nil, errAlready // signed out or given more meanwhile
		}
		return []Change{t.signOut(c, ReasonQuota)}, nil
	})
}

// errAlready stops an update that another one made needless.
var errAlready = errors.New("already done")

// grown is what a counter that went from old to now counted meanwhile.
func grown(old, now uint64) uint64 {
	if now >= old {
		return now - old
	}
	return now
}

// Forwarded returns the bytes forwarded to (down) and from (up) every
// client since New, as the firewall's counters reported them: a
// monotonic total for /metrics, which outlives clients that are forgotten.
func (t *Table) Forwarded() (up, down uint64) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.totalUp, t.totalDown
}

// Forget records that mac's lease ended: a preauth client has left and
// is dropped; one signed in, trusted or blocked is kept.
func (t *Table) Forget(mac net.HardwareAddr) {
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.clients[string(mac)]
	if c == nil {
		return
	}
	if c.state() == Preauth {
		t.drop(c)
		return
	}
	c.leased = false
}

// Lookup returns the client with mac.
func (t *Table) Lookup(mac net.HardwareAddr) (Client, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	c := t.clients[string(mac)]
	if c == nil {
		return Client{}, false
	}
	return c.snapshot(), true
}

// LookupIP returns the client that holds ip. An address the table has not
// learnt yet (a client that set its address by hand) is looked up with the
// resolver given to SetResolver, if any: the client is then returned with
// its state by MAC, but not recorded here — recording is the job of
// whoever follows the neighbour table, so that a watcher may call LookupIP.
func (t *Table) LookupIP(ip netip.Addr) (Client, bool) {
	ip = ip.Unmap()
	t.mu.RLock()
	c, resolve := t.byIP[ip], t.resolve
	if c != nil {
		defer t.mu.RUnlock()
		return c.snapshot(), true
	}
	t.mu.RUnlock()
	if resolve == nil {
		return Client{}, false
	}
	mac, ok := resolve(ip)
	if !ok {
		return Client{}, false
	}
	t.mu.RLock()
	snap := Client{MAC: mac, State: Preauth}
	if c := t.clients[string(mac)]; c != nil {
		snap = c.snapshot()
		snap.State = c.stateAt(ip)
	}
	t.mu.RUnlock()
	snap.IP = ip
	return snap, true
}

// SetResolver gives LookupIP a way to find the MAC of an address the table
// does not know, such as a lookup in the kernel's neighbour table.
func (t *Table) SetResolver(fn func(netip.Addr) (net.HardwareAddr, bool)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.resolve = fn
}

// SetSettle gives the table a way to bring every client's byte counters up
// to date (the firewall's reading, which calls Account). The table calls
// it, holding no lock, before it ends sessions for any reason but their
// quota, so that a session's last bytes are in what its sign-out tells
// (the RADIUS Stop, the voucher's data) and an idle timeout sees traffic
// that the periodic reading has not counted yet.
func (t *Table) SetSettle(fn func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.settle = fn
}

// settleFor brings the counters up to date if mac is signed in (all of
// them if mac is nil and any session is due to end by time); it must be
// called holding no lock.
func (t *Table) settleFor(mac net.HardwareAddr) {
	t.mu.RLock()
	fn, due := t.settle, false
	if fn != nil {
		if mac != nil {
			c := t.clients[string(mac)]
			due = c != nil && c.authenticated
		} else {
			now := t.now()
			for _, c := range t.clients {
				if r, _ := c.ends(now); c.authenticated && (r == ReasonTimeout || r == ReasonIdle) {
					due = true
					break
				}
			}
		}
	}
	t.mu.RUnlock()
	if due {
		fn()
	}
}

// StateAt is the state of mac for a packet sent from ip: as StateOf, except
// that a signed-in client is preauth from any address but the IPv4 address
// it signed in with.
func (t *Table) StateAt(mac net.HardwareAddr, ip netip.Addr) State {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if c := t.clients[string(mac)]; c != nil {
		return c.stateAt(ip)
	}
	return Preauth
}

// StateOf is the state of mac: preauth for a client never seen.
func (t *Table) StateOf(mac net.HardwareAddr) State {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if c := t.clients[string(mac)]; c != nil {
		return c.state()
	}
	return Preauth
}

// Clients returns every known client, ordered by MAC.
func (t *Table) Clients() []Client {
	t.mu.RLock()
	out := make([]Client, 0, len(t.clients))
	for _, c := range t.clients {
		out = append(out, c.snapshot())
	}
	t.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return string(out[i].MAC) < string(out[j].MAC) })
	return out
}

// Counts returns how many clients are in each state.
func (t *Table) Counts() map[State]int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := map[State]int{Preauth: 0, Authenticated: 0, Trusted: 0, Blocked: 0}
	for _, c := range t.clients {
		n[c.state()]++
	}
	return n
}
