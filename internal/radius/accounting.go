package radius

import (
	"cmp"
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/lobby-fw/lobby/internal/session"
)

// Store is what the accounting queue needs of internal/store: durable
// records by kind and key.
type Store interface {
	Records(kind string) map[string]json.RawMessage
	Put(kind, key string, v any) error
	Delete(kind, key string)
	Sync(ctx context.Context) error
}

// Clock is the queue's time: the real one in lobby, a fake in tests.
type Clock interface {
	Now() time.Time
	// After is time.After.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// storeKind is the records' kind in the store.
const storeKind = "radius_acct"

// Session is what accounting says of a session (SPEC §7, Accounting).
type Session struct {
	ID   string // Acct-Session-Id
	User string // User-Name; "" (a click or ctl sign-in): the Calling-Station-Id
	MAC  net.HardwareAddr
	IP   netip.Addr
	// Class holds the Access-Accept's Class attributes.
	Class [][]byte
	Start time.Time
}

// Usage is a session's use so far.
type Usage struct {
	Up   uint64 // bytes the client sent: Acct-Input-Octets/-Gigawords
	Down uint64 // bytes it received: Acct-Output-Octets/-Gigawords
}

// AcctConfig configures the accounting queue.
type AcctConfig struct {
	// Retry is the wait before a record that no server answered is sent
	// again; it doubles each time up to MaxRetry (defaults 30 s, 5 min).
	Retry, MaxRetry time.Duration
	// InFlight bounds the records sent at once (default 16).
	InFlight int
	Clock    Clock
	Logger   *slog.Logger
}

// Accounting is the queue of accounting records (SPEC §4, §7): every
// record is in the store before it is sent, stays there until a server
// answers it, and a session's records go out in the order they were made.
// A restart makes a new Accounting from the same store and carries on.
type Accounting struct {
	c     *Client
	st    Store
	cfg   AcctConfig
	clock Clock
	log   *slog.Logger
	wake  chan struct{}

	mu      sync.Mutex
	seq     uint64
	streams map[string][]*record // by session ("" for On/Off), in order
	// ready holds the heads of the streams that are not in flight, by
	// when they are due: a backlog of any size costs O(log n) a record.
	ready readyHeap
	busy  int // records in flight
	n     int
	// down is set from a record no server answered to the next answer,
	// so that an outage is logged once, not once a record.
	down bool
	idle chan struct{} // closed when n falls to 0
}

// record is a queued accounting record as the store keeps it.
type record struct {
	Seq     uint64     `json:"seq"`
	Session string     `json:"session"`
	Status  StatusType `json:"status"`
	// At is when the event happened; Acct-Delay-Time counts from it.
	At time.Time `json:"at"`
	// Attrs are the record's attributes on the wire, but for
	// Acct-Delay-Time, which changes with every try.
	Attrs []byte `json:"attrs"`

	inFlight bool
	dropped  bool // replaced while waiting in ready; skipped there
	// held keeps a record that must be durable out of ready until the
	// store has synced it.
	held  bool
	tries int
	next  time.Time
}

// readyHeap orders records by when they are due, then by age.
type readyHeap []*record

func (h readyHeap) Len() int { return len(h) }
func (h readyHeap) Less(i, j int) bool {
	if c := h[i].next.Compare(h[j].next); c != 0 {
		return c < 0
	}
	return h[i].Seq < h[j].Seq
}
func (h readyHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *readyHeap) Push(x any)   { *h = append(*h, x.(*record)) }
func (h *readyHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return r
}

func (r *record) key() string { return fmt.Sprintf("%016x", r.Seq) }

// NewAccounting returns the queue over st, holding every record a former
// run left there. c sends them (its AcctPort must be set).
func NewAccounting(c *Client, st Store, cfg AcctConfig) *Accounting {
	if cfg.Retry <= 0 {
		cfg.Retry = 30 * time.Second
	}
	if cfg.MaxRetry < cfg.Retry {
		cfg.MaxRetry = max(5*time.Minute, cfg.Retry)
	}
	if cfg.InFlight <= 0 {
		cfg.InFlight = 16
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Accounting{c: c, st: st, cfg: cfg, clock: cfg.Clock, log: cfg.Logger,
		wake: make(chan struct{}, 1), streams: map[string][]*record{}}
	var recs []*record
	for k, v := range st.Records(storeKind) {
		r := new(record)
		if err := json.Unmarshal(v, r); err != nil || r.key() != k {
			a.log.Warn("radius accounting: unreadable record dropped", "key", k, "err", err)
			st.Delete(storeKind, k)
			continue
		}
		recs = append(recs, r)
	}
	slices.SortFunc(recs, func(x, y *record) int { return cmp.Compare(x.Seq, y.Seq) })
	for _, r := range recs {
		if len(a.streams[r.Session]) == 0 {
			heap.Push(&a.ready, r)
		}
		a.streams[r.Session] = append(a.streams[r.Session], r)
		a.seq = r.Seq
		a.n++
	}
	if a.n > 0 {
		a.log.Info("radius accounting: records waiting from the last run", "records", a.n)
	}
	return a
}

// Pending is the number of records waiting for an answer.
func (a *Accounting) Pending() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// Oldest is when the event of the oldest record waiting happened; zero
// when none waits.
func (a *Accounting) Oldest() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	var oldest time.Time
	for _, q := range a.streams { // a stream's head is its oldest
		if at := q[0].At; oldest.IsZero() || at.Before(oldest) {
			oldest = at
		}
	}
	return oldest
}

// On queues an Accounting-On (RFC 2866 §5.1): lobby has started.
func (a *Accounting) On(ctx context.Context) error { return a.nas(ctx, StatusOn) }

// Off queues an Accounting-Off: lobby stops cleanly.
func (a *Accounting) Off(ctx context.Context) error { return a.nas(ctx, StatusOff) }

func (a *Accounting) nas(ctx context.Context, st StatusType) error {
	now := a.clock.Now()
	p := &Packet{}
	p.Add(AttrAcctStatusType, Uint32(uint32(st)))
	// An Acct-Session-Id of its own: RFC 2866 §5.5 wants one in every
	// record, and a server keys its records by it.
	var id [8]byte
	randRead(id[:])
	p.Add(AttrAcctSessionID, fmt.Appendf(nil, "%X", id))
	a.c.addNAS(p)
	p.Add(AttrEventTimestamp, Time(now))
	return a.add(ctx, "", st, now, p, saveNow)
}

// Begin queues a session's Start. Its caller saves a change of its own in
// the same store at once (the session table's Record): Begin files the
// record without waiting for the disk, so that the sign-in and its Start
// reach the disk together, and sends it only once it is there — a server
// never hears of a session that a crash took back.
func (a *Accounting) Begin(s Session) error {
	now := a.clock.Now()
	return a.add(context.Background(), s.ID, StatusStart, now, a.sessionPacket(StatusStart, s, nil, now, 0), saveWithCaller)
}

// End queues a session's Stop, with its sign-out reason (TerminateCause),
// saved as Begin saves a Start. It replaces an Interim still waiting, as
// Interim does.
func (a *Accounting) End(s Session, u Usage, reason session.Reason) error {
	now := a.clock.Now()
	return a.add(context.Background(), s.ID, StatusStop, now, a.sessionPacket(StatusStop, s, &u, now, reason), saveWithCaller)
}

// Interim queues an Interim-Update with the session's use so far. It is
// not made durable at once (a crash loses at most the last few seconds'
// interims, which the next one or the Stop supersede), and it replaces an
// Interim of the session still waiting to be sent: a server that was away
// gets the latest counters, not every one it missed.
func (a *Accounting) Interim(ctx context.Context, s Session, u Usage) error {
	now := a.clock.Now()
	return a.add(ctx, s.ID, StatusInterim, now, a.sessionPacket(StatusInterim, s, &u, now, 0), saveLazily)
}

// sessionPacket holds the attributes of a session's record: SPEC §7's
// list, Acct-Delay-Time apart.
func (a *Accounting) sessionPacket(st StatusType, s Session, u *Usage, now time.Time, reason session.Reason) *Packet {
	p := &Packet{}
	p.Add(AttrAcctStatusType, Uint32(uint32(st)))
	p.Add(AttrAcctSessionID, []byte(s.ID))
	user := s.User
	if user == "" {
		user = StationID(s.MAC)
	}
	p.Add(AttrUserName, []byte(user))
	if len(s.MAC) > 0 { // RFC 2865 §5: no empty strings
		p.Add(AttrCallingStationID, []byte(StationID(s.MAC)))
	}
	if ip := IPv4(s.IP); ip != nil {
		p.Add(AttrFramedIPAddress, ip)
	}
	a.c.addNAS(p)
	p.Add(AttrEventTimestamp, Time(now))
	for _, c := range s.Class {
		p.Add(AttrClass, c)
	}
	if u != nil {
		p.Add(AttrAcctSessionTime, Uint32(uint32(max(now.Sub(s.Start), 0)/time.Second)))
		in, inGiga := Octets(u.Up)
		out, outGiga := Octets(u.Down)
		p.Add(AttrAcctInputOctets, Uint32(in))
		p.Add(AttrAcctInputGigawords, Uint32(inGiga))
		p.Add(AttrAcctOutputOctets, Uint32(out))
		p.Add(AttrAcctOutputGigawords, Uint32(outGiga))
	}
	if st == StatusStop {
		p.Add(AttrAcctTerminateCause, Uint32(TerminateCause(reason)))
	}
	return p
}

// How add saves a record.
type saving uint8

const (
	saveNow        saving = iota // on disk before add returns, and so before it is sent
	saveWithCaller               // sent once on disk; the caller's Sync puts it there
	saveLazily                   // sent at once; on disk with the store's next write
)

// add files a record, saved as how says.
func (a *Accounting) add(ctx context.Context, session string, st StatusType, at time.Time, p *Packet, how saving) error {
	durable := how != saveLazily
	p.Code = CodeAccountingRequest
	raw, err := p.encode()
	if err != nil {
		return fmt.Errorf("radius accounting %s: %w", st, err)
	}
	a.mu.Lock()
	a.seq++
	r := &record{Seq: a.seq, Session: session, Status: st, At: at, Attrs: raw[headerLen:], next: at, held: durable}
	q := a.streams[session]
	if st != StatusStart && len(q) > 0 {
		if last := q[len(q)-1]; last.Status == StatusInterim && !last.inFlight {
			a.st.Delete(storeKind, last.key())
			last.dropped = true // if it was the head, ready still holds it
			q = q[:len(q)-1]
			a.n--
		}
	}
	err = a.st.Put(storeKind, r.key(), r)
	if err == nil {
		q = append(q, r)
		a.n++
		if len(q) == 1 && !r.held {
			heap.Push(&a.ready, r)
		}
	}
	if len(q) == 0 {
		delete(a.streams, session)
	} else {
		a.streams[session] = q
	}
	a.mu.Unlock()
	if err != nil {
		return fmt.Errorf("radius accounting %s: %w", st, err)
	}
	switch how {
	case saveLazily:
		a.kick()
		return nil
	case saveWithCaller:
		go func() {
			// The caller's Sync, or the store's next write, puts it
			// on disk; a Sync waits for that, whoever asked first.
			a.st.Sync(context.Background())
			a.release(r)
		}()
		return nil
	}
	err = a.st.Sync(ctx)
	// Released even when the sync failed: the store keeps the record and
	// writes it later, and a record the server has is no longer at risk.
	a.release(r)
	if err != nil {
		return fmt.Errorf("radius accounting %s: %w", st, err)
	}
	return nil
}

// release lets a held record be sent.
func (a *Accounting) release(r *record) {
	a.mu.Lock()
	r.held = false
	if q := a.streams[r.Session]; len(q) > 0 && q[0] == r {
		heap.Push(&a.ready, r)
	}
	a.mu.Unlock()
	a.kick()
}

func (a *Accounting) kick() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// Run sends the records until ctx ends, then waits for those in flight.
func (a *Accounting) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		due, wait := a.due()
		for _, r := range due {
			wg.Go(func() { a.send(ctx, r) })
		}
		var timer <-chan time.Time
		if wait > 0 {
			timer = a.clock.After(wait)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-a.wake:
		case <-timer:
		}
	}
}

// due marks and returns the records to send now: the heads of the
// sessions' streams whose time has come, the longest due first, as many as
// InFlight allows. wait is how long until the next one is due (0: none is
// waiting on time).
func (a *Accounting) due() (due []*record, wait time.Duration) {
	now := a.clock.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	for a.ready.Len() > 0 {
		r := a.ready[0]
		if r.dropped {
			heap.Pop(&a.ready)
			continue
		}
		if d := r.next.Sub(now); d > 0 {
			return due, d
		}
		if a.busy >= a.cfg.InFlight {
			return due, 0 // a send that ends wakes Run
		}
		heap.Pop(&a.ready)
		r.inFlight = true
		a.busy++
		due = append(due, r)
	}
	return due, 0
}

// send tries r once with every server, then files the outcome.
func (a *Accounting) send(ctx context.Context, r *record) {
	err := a.sendPacket(ctx, r, &Packet{Code: CodeAccountingRequest})
	a.mu.Lock()
	defer a.mu.Unlock()
	r.inFlight = false
	a.busy--
	if err != nil {
		if ctx.Err() == nil {
			r.tries++
			r.next = a.clock.Now().Add(min(a.cfg.Retry<<min(r.tries-1, 16), a.cfg.MaxRetry))
			a.log.Debug("radius accounting: record not answered; will try again", "status", r.Status, "session", r.Session, "tries", r.tries, "next", r.next, "err", err)
			if !a.down {
				a.down = true
				a.log.Warn("radius accounting: no server answers; records wait in the state directory", "waiting", a.n, "err", err)
			}
		}
		heap.Push(&a.ready, r)
		a.kick()
		return
	}
	if a.down {
		a.down = false
		a.log.Info("radius accounting: a server answers again", "waiting", a.n-1)
	}
	a.st.Delete(storeKind, r.key())
	q := a.streams[r.Session]
	q = q[1:] // r was the head: only heads are sent
	if len(q) == 0 {
		delete(a.streams, r.Session)
	} else {
		a.streams[r.Session] = q
		if !q[0].held {
			heap.Push(&a.ready, q[0])
		}
	}
	a.n--
	if a.n == 0 && a.idle != nil {
		close(a.idle)
		a.idle = nil
	}
	a.kick()
}

// sendPacket sends r with its Acct-Delay-Time as of now (RFC 2866 §5.2),
// a new Identifier with it, to each server's accounting port.
func (a *Accounting) sendPacket(ctx context.Context, r *record, p *Packet) error {
	hdr := make([]byte, headerLen, headerLen+len(r.Attrs))
	hdr[0] = byte(CodeAccountingRequest)
	hdr[2], hdr[3] = byte((headerLen+len(r.Attrs))>>8), byte(headerLen+len(r.Attrs))
	parsed, err := Parse(append(hdr, r.Attrs...))
	if err != nil {
		return fmt.Errorf("stored record %d: %w", r.Seq, err)
	}
	p.Attrs = parsed.Attrs
	delay := max(a.clock.Now().Sub(r.At), 0) / time.Second
	p.Set(AttrAcctDelayTime, Uint32(uint32(delay)))
	port := a.c.conf().AcctPort
	if port == 0 {
		return errors.New("no accounting port")
	}
	_, err = a.c.exchange(ctx, p, func(s netip.AddrPort) netip.AddrPort {
		return netip.AddrPortFrom(s.Addr(), port)
	}, nil)
	return err
}

// Drain waits until every record has been answered or ctx ends: a clean
// stop gives its Accounting-Off a chance (Run must be running).
func (a *Accounting) Drain(ctx context.Context) error {
	a.mu.Lock()
	if a.n == 0 {
		a.mu.Unlock()
		return nil
	}
	if a.idle == nil {
		a.idle = make(chan struct{})
	}
	idle := a.idle
	a.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("radius accounting: %d records left waiting: %w", a.Pending(), ctx.Err())
	}
}
