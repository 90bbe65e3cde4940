// Package nas makes the session table a RADIUS NAS (SPEC §7): Accounting
// follows the table's sessions and files their Start, Interim-Update and
// Stop records with internal/radius's queue, and Sessions is the table as
// the Dynamic Authorization Server sees it. The table stays the one owner
// of who is signed in: accounting only watches it, and a Disconnect or
// CoA goes through its Deauth and Limit like any other sign-out or change.
package nas

import (
	"container/heap"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lobby-fw/lobby/internal/radius"
	"github.com/lobby-fw/lobby/internal/session"
)

// Queue is what Accounting needs of radius.Accounting.
type Queue interface {
	Run(ctx context.Context) error
	On(ctx context.Context) error
	Off(ctx context.Context) error
	Begin(s radius.Session) error
	Interim(ctx context.Context, s radius.Session, u radius.Usage) error
	End(s radius.Session, u radius.Usage, r session.Reason) error
	Drain(ctx context.Context) error
}

// Table is what Accounting and Sessions need of the session table.
type Table interface {
	Clients() []session.Client
	Lookup(mac net.HardwareAddr) (session.Client, bool)
	Deauth(ctx context.Context, mac net.HardwareAddr, r session.Reason) (session.Client, error)
	Limit(ctx context.Context, mac net.HardwareAddr, fn func(g *session.Grant, now time.Time)) (session.Client, error)
}

// Store is what Accounting needs of the state directory's store: it keeps
// there which sessions have had their Start filed (kind openKind), in the
// same write as the sign-in, so that after a restart exactly those get
// Interim-Updates and a Stop, whatever the config was or is.
type Store interface {
	Records(kind string) map[string]json.RawMessage
	Put(kind, key string, v any) error
	Delete(kind, key string)
}

// openKind is the store's kind for the sessions whose Start was filed
// and whose Stop was not, by session ID.
const openKind = "radius_open"

// Config is what a reload may change.
type Config struct {
	// On: RADIUS is in use and acct_port is not 0. Off, sign-ins and
	// sign-outs are not accounted.
	On bool
	// Interim is the Interim-Update interval of a session whose grant
	// has none (interim_interval).
	Interim time.Duration
}

// drainFor bounds the wait at a clean stop for the records still waiting,
// the Accounting-Off last: a server that is away must not hold the
// router's stop up; the records stay in the store for the next start.
const drainFor = 3 * time.Second

// Accounting files the accounting records of the table's sessions (SPEC
// §7): On when it starts, a Start at each sign-in of every method, an
// Interim-Update every interval with the session's bytes, a Stop with the
// sign-out's reason, and Off at a clean stop. Record files the Starts and
// Stops as the table makes its changes, in their order; Run files the
// Accounting-On and the Interim-Updates.
type Accounting struct {
	q     Queue
	table Table
	st    Store
	log   *slog.Logger
	now   func() time.Time
	cfg   atomic.Pointer[Config]
	wake  chan struct{}

	mu sync.Mutex
	// open are the sessions accounted, by session ID; due orders them by
	// their next Interim-Update.
	open map[string]*tracked
	due  dueHeap
	// on is whether Run has filed the Accounting-On for the config on.
	on bool
}

type tracked struct {
	s        radius.Session
	mac      net.HardwareAddr
	interval time.Duration
	next     time.Time
	index    int // in due; -1: not there
}

// Options are what NewAccounting needs besides the config.
type Options struct {
	Queue Queue
	Table Table
	Store Store
	Log   *slog.Logger
	// Now is the clock; nil: time.Now. Only tests set it.
	Now func() time.Time
}

// NewAccounting follows o.Table's sessions from now on. Register Record
// with the table before it changes, and call NewAccounting after the table
// is loaded: the sessions that survived a restart with their Start filed
// keep their Interim-Update times, counted from their start, and get their
// Stop; the others (begun while accounting was off) are not accounted.
func NewAccounting(cfg Config, o Options) *Accounting {
	a := &Accounting{q: o.Queue, table: o.Table, st: o.Store, log: o.Log, now: o.Now,
		wake: make(chan struct{}, 1), open: map[string]*tracked{}}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.cfg.Store(&cfg)
	now := a.now()
	started := a.st.Records(openKind)
	for _, c := range o.Table.Clients() {
		if _, ok := started[c.Grant.SessionID]; c.State != session.Authenticated || !ok {
			continue
		}
		delete(started, c.Grant.SessionID)
		t := a.track(c.Grant, c)
		if elapsed := now.Sub(t.s.Start); elapsed > 0 {
			// The first interval end after now, as if lobby had run
			// on: a restart neither floods the server nor skips one.
			t.next = t.s.Start.Add((elapsed/t.interval + 1) * t.interval)
		}
		heap.Push(&a.due, t)
	}
	for id := range started {
		// Its session is gone without a sign-out the table recorded
		// (a state file set aside as corrupt): nothing to account.
		a.log.Warn("radius accounting: a session with a Start and no Stop is no longer in the table", "session", id)
		a.st.Delete(openKind, id)
	}
	return a
}

// Reload applies a new config. Turned on, the next Run round files an
// Accounting-On first; sessions that began while it was off have no
// Start and are not accounted. Turned off, no Interim-Update goes, but a
// session whose Start went out still gets its Stop.
func (a *Accounting) Reload(cfg Config) {
	a.cfg.Store(&cfg)
	a.kick()
}

func (a *Accounting) conf() Config { return *a.cfg.Load() }

func (a *Accounting) kick() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// sessionOf is what accounting says of the session of grant g of client c.
func sessionOf(g session.Grant, c session.Client) radius.Session {
	user := g.User
	if g.Method != session.MethodRADIUS {
		// A voucher code is no user name a RADIUS server knows; click
		// and ctl have none: the Calling-Station-Id stands for it.
		user = ""
	}
	return radius.Session{ID: g.SessionID, User: user, MAC: c.MAC, IP: c.IP, Class: g.Class, Start: g.Start}
}

// usage is what the session of g used, by client c's counters.
func usage(g session.Grant, c session.Client) radius.Usage {
	up, down := g.Used(c.BytesUp, c.BytesDown)
	return radius.Usage{Up: up, Down: down}
}

// track starts following the session of grant g; the caller holds a.mu or
// owns a. Its first Interim-Update is an interval after its start.
func (a *Accounting) track(g session.Grant, c session.Client) *tracked {
	interval := g.InterimInterval
	if interval <= 0 {
		interval = a.conf().Interim
	}
	interval = max(interval, radius.MinInterimInterval)
	t := &tracked{s: sessionOf(g, c), mac: c.MAC, interval: interval, next: g.Start.Add(interval), index: -1}
	a.open[g.SessionID] = t
	return t
}

// Record files the Start of each sign-in and the Stop of each sign-out
// (register it with Table.Record, so that each reaches the disk with the
// change it records: SPEC §4, every Start is followed by its Stop, a
// crash or kill -9 between them included). It never waits for the disk
// or a server.
func (a *Accounting) Record(ch session.Change) {
	if ch.Event != session.SignIn && ch.Event != session.SignOut && ch.Event != session.LimitChange {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	id := ch.Grant.SessionID
	var err error
	switch ch.Event {
	case session.SignIn:
		if !a.conf().On {
			return
		}
		t := a.track(ch.Grant, ch.Client)
		heap.Push(&a.due, t)
		if err = a.q.Begin(t.s); err == nil {
			err = a.st.Put(openKind, id, true)
		}
	case session.SignOut:
		t := a.open[id]
		if t == nil {
			return // began while accounting was off
		}
		a.forget(t)
		err = a.q.End(t.s, usage(ch.Grant, ch.Client), ch.Reason)
		a.st.Delete(openKind, id)
	case session.LimitChange:
		// A CoA may give another Acct-Interim-Interval.
		if t := a.open[id]; t != nil && ch.Grant.InterimInterval >= radius.MinInterimInterval && ch.Grant.InterimInterval != t.interval {
			t.interval = ch.Grant.InterimInterval
			t.next = a.now().Add(t.interval)
			if t.index >= 0 {
				heap.Fix(&a.due, t.index)
			} else {
				heap.Push(&a.due, t)
			}
		}
	}
	if err != nil {
		a.log.Error("radius accounting: cannot file a record", "session", id, "event", ch.Event, "err", err)
	}
	a.kick()
}

// forget stops following t; the caller holds a.mu.
func (a *Accounting) forget(t *tracked) {
	delete(a.open, t.s.ID)
	if t.index >= 0 {
		heap.Remove(&a.due, t.index)
	}
}

// Run files the records until ctx ends, then the Accounting-Off, and waits
// a moment for the queue to empty. It runs the queue itself, so that the
// queue outlives ctx for that moment.
func (a *Accounting) Run(ctx context.Context, ready func()) error {
	qctx, stopQueue := context.WithCancel(context.WithoutCancel(ctx))
	queued := make(chan error, 1)
	go func() { queued <- a.q.Run(qctx) }()
	defer func() {
		stopQueue()
		<-queued
	}()
	ready()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := a.round(ctx)
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(a.now()), 10*time.Millisecond)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return a.stop()
		case <-a.wake:
		case <-timer.C:
		}
	}
}

// round files what is waiting: an Accounting-On if accounting was just
// turned on, and the Interim-Updates due.
// It returns when the next Interim-Update is due (zero: none).
func (a *Accounting) round(ctx context.Context) time.Time {
	on := a.conf().On
	a.mu.Lock()
	first := on && !a.on
	a.on = on
	a.mu.Unlock()
	if first {
		if err := a.q.On(ctx); err != nil {
			a.log.Error("radius accounting: cannot queue the Accounting-On", "err", err)
		}
	}
	if !on {
		return time.Time{}
	}
	return a.interims(ctx)
}

// interims files the Interim-Updates due now, with each session's bytes as
// the table has them.
func (a *Accounting) interims(ctx context.Context) time.Time {
	now := a.now()
	type interim struct {
		s radius.Session
		u radius.Usage
	}
	var due []interim
	a.mu.Lock()
	for a.due.Len() > 0 && !now.Before(a.due[0].next) {
		t := a.due[0]
		c, ok := a.table.Lookup(t.mac)
		if !ok || c.Grant.SessionID != t.s.ID {
			// Its sign-out is on its way to Record.
			heap.Pop(&a.due)
			continue
		}
		due = append(due, interim{t.s, usage(c.Grant, c)})
		for !now.Before(t.next) {
			t.next = t.next.Add(t.interval)
		}
		heap.Fix(&a.due, 0)
	}
	var next time.Time
	if a.due.Len() > 0 {
		next = a.due[0].next
	}
	a.mu.Unlock()
	for _, i := range due {
		if err := a.q.Interim(ctx, i.s, i.u); err != nil {
			a.log.Error("radius accounting: cannot queue an Interim-Update", "session", i.s.ID, "err", err)
		}
	}
	return next
}

// stop files what is left and the Accounting-Off, and gives the queue
// drainFor to send them.
func (a *Accounting) stop() error {
	ctx := context.Background()
	a.round(ctx)
	a.mu.Lock()
	on := a.on
	a.mu.Unlock()
	if !on {
		return nil
	}
	if err := a.q.Off(ctx); err != nil {
		a.log.Error("radius accounting: cannot queue the Accounting-Off", "err", err)
	}
	dctx, cancel := context.WithTimeout(ctx, drainFor)
	defer cancel()
	if err := a.q.Drain(dctx); err != nil {
		a.log.Warn("radius accounting: stopping with records unsent; they go at the next start", "err", err)
	}
	return nil
}

// dueHeap orders sessions by their next Interim-Update.
type dueHeap []*tracked

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *dueHeap) Push(x any) {
	t := x.(*tracked)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *dueHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	t.index = -1
	return t
}
