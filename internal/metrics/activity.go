package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/lobby-fw/lobby/internal/session"
)

// Activity follows what sessions do: sign-ins by method and sign-outs by
// reason since lobby started (counters for /metrics), and the sign-ins and
// bytes forwarded of each of the last 24 hours (the admin Overview).
//
// It keeps them in memory only. A restart begins them again: a counter
// that resets is what Prometheus expects of a restarted process, and the
// Overview says since when it counts. Keeping them would cost a write per
// sign-in to flash, for a chart.
type Activity struct {
	forwarded func() (up, down uint64)
	now       func() time.Time
	started   time.Time

	mu       sync.Mutex
	signIns  map[session.Method]uint64
	signOuts map[session.Reason]uint64
	hours    [24]Hour // by hour since the epoch, modulo 24
	up, down uint64   // forwarded() at the last Sample
}

// Hour is what happened in one hour.
type Hour struct {
	Start    time.Time // the hour's beginning
	SignIns  uint64
	Up, Down uint64 // bytes forwarded from (up) and to (down) clients
}

// SampleEvery is how often Run counts the bytes forwarded into the hour
// they were forwarded in.
const SampleEvery = time.Minute

// NewActivity counts from now; forwarded is the table's running total
// of bytes (session.Table.Forwarded). now nil: time.Now.
func NewActivity(forwarded func() (up, down uint64), now func() time.Time) *Activity {
	if now == nil {
		now = time.Now
	}
	a := &Activity{forwarded: forwarded, now: now, started: now(),
		signIns: map[session.Method]uint64{}, signOuts: map[session.Reason]uint64{}}
	a.up, a.down = forwarded()
	return a
}

// Watch counts a change of the session table (session.Table.Watch).
func (a *Activity) Watch(ch session.Change) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch ch.Event {
	case session.SignIn:
		a.signIns[ch.Grant.Method]++
		a.hour(a.now()).SignIns++
	case session.SignOut:
		a.signOuts[ch.Reason]++
	}
}

// hour is the bucket of the hour t is in, emptied if it held an older
// hour. Called with mu held.
func (a *Activity) hour(t time.Time) *Hour {
	start := t.Truncate(time.Hour)
	h := &a.hours[(start.Unix()/3600)%24]
	if !h.Start.Equal(start) {
		*h = Hour{Start: start}
	}
	return h
}

// Sample counts the bytes forwarded since the last Sample into the hour it
// runs in.
func (a *Activity) Sample() {
	up, down := a.forwarded()
	a.mu.Lock()
	defer a.mu.Unlock()
	h := a.hour(a.now())
	h.Up += grown(a.up, up)
	h.Down += grown(a.down, down)
	a.up, a.down = up, down
}

// grown is what a total that went from old to now counted meanwhile.
func grown(old, now uint64) uint64 {
	if now < old {
		return 0
	}
	return now - old
}

// Run samples every SampleEvery until ctx ends.
func (a *Activity) Run(ctx context.Context, ready func()) error {
	ready()
	t := time.NewTicker(SampleEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			a.Sample()
		}
	}
}

// Started is when the counting began.
func (a *Activity) Started() time.Time { return a.started }

// SignIns is how many sessions began, by method, since Started.
func (a *Activity) SignIns(m session.Method) uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.signIns[m]
}

// SignOuts is how many sessions ended, by reason, since Started.
func (a *Activity) SignOuts(r session.Reason) uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.signOuts[r]
}

// Last24h is the last 24 hours, oldest first, ending with the hour now
// is in, its bytes counted up to now. An hour nothing was counted in has
// only its Start.
func (a *Activity) Last24h() []Hour {
	a.Sample()
	a.mu.Lock()
	defer a.mu.Unlock()
	cur := a.now().Truncate(time.Hour)
	out := make([]Hour, 24)
	for i := range out {
		start := cur.Add(time.Duration(i-23) * time.Hour)
		out[i] = Hour{Start: start}
		if h := a.hours[(start.Unix()/3600)%24]; h.Start.Equal(start) {
			out[i] = h
		}
	}
	return out
}
