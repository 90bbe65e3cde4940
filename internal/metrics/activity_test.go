package metrics

import (
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/session"
)

// TestActivity drives the counters and the hourly buckets with a clock of
// its own: a step is a time, an optional change of the table and the
// total of bytes forwarded then (sampled after the change).
func TestActivity(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	var now time.Time
	var up, down uint64
	a := NewActivity(func() (uint64, uint64) { return up, down }, func() time.Time { return now })
	signIn := func(m session.Method) session.Change {
		return session.Change{Event: session.SignIn, Grant: session.Grant{Method: m}}
	}
	signOut := func(r session.Reason) session.Change { return session.Change{Event: session.SignOut, Reason: r} }
	for _, s := range []struct {
		at       time.Duration
		ch       session.Change // NoEvent: none
		up, down uint64
	}{
		{at: 5 * time.Minute, ch: signIn(session.MethodClick), up: 100, down: 1000},
		{at: 10 * time.Minute, ch: signIn(session.MethodVoucher), up: 150, down: 2000},
		{at: 59 * time.Minute, ch: signOut(session.ReasonIdle), up: 150, down: 2000},
		{at: 61 * time.Minute, ch: signIn(session.MethodVoucher), up: 160, down: 2500},
		{at: 61 * time.Minute, ch: session.Change{Event: session.NoEvent}, up: 160, down: 2500},
		{at: 3*time.Hour + 1*time.Minute, ch: signOut(session.ReasonAdmin), up: 170, down: 2600},
		// 23 hours after the first: the first hour still counts.
		{at: 23*time.Hour + 30*time.Minute, up: 200, down: 3000},
	} {
		now = t0.Add(s.at)
		a.Watch(s.ch)
		up, down = s.up, s.down
		a.Sample()
	}
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"sign-ins click", a.SignIns(session.MethodClick), 1},
		{"sign-ins voucher", a.SignIns(session.MethodVoucher), 2},
		{"sign-ins radius", a.SignIns(session.MethodRADIUS), 0},
		{"sign-outs idle", a.SignOuts(session.ReasonIdle), 1},
		{"sign-outs admin", a.SignOuts(session.ReasonAdmin), 1},
		{"sign-outs quota", a.SignOuts(session.ReasonQuota), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	hours := a.Last24h()
	if len(hours) != 24 || !hours[23].Start.Equal(t0.Add(23*time.Hour)) || !hours[0].Start.Equal(t0) {
		t.Fatalf("Last24h spans %v to %v (%d hours)", hours[0].Start, hours[len(hours)-1].Start, len(hours))
	}
	want := map[int]Hour{
		0:  {SignIns: 2, Up: 150, Down: 2000},
		1:  {SignIns: 1, Up: 10, Down: 500},
		3:  {Up: 10, Down: 100},
		23: {Up: 30, Down: 400},
	}
	for i, h := range hours {
		w := want[i]
		w.Start = t0.Add(time.Duration(i) * time.Hour)
		if h != w {
			t.Errorf("hour %d: %+v, want %+v", i, h, w)
		}
	}
	// An hour later the first hour has gone, and its bucket serves the
	// new hour empty.
	now = t0.Add(24*time.Hour + 5*time.Minute)
	a.Watch(signIn(session.MethodCtl))
	hours = a.Last24h()
	if hours[0].SignIns != 1 || hours[0].Up != 10 || hours[23].SignIns != 1 || hours[23].Up != 0 {
		t.Errorf("a day later: first %+v, last %+v", hours[0], hours[23])
	}
	// Last24h counts the bytes up to now, not to the last Sample.
	up, down = 250, 3100
	if h := a.Last24h()[23]; h.Up != 50 || h.Down != 100 {
		t.Errorf("Last24h without a Sample since: %+v", h)
	}
	// A total that went back (a counter reset) counts nothing, not 2^64.
	up, down = 0, 0
	a.Sample()
	if h := a.Last24h()[23]; h.Up != 50 || h.Down != 100 {
		t.Errorf("after the totals went back: %+v", h)
	}
}
