package nas

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/radius"
	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/store/storetest"
)

// fakeQueue records what is filed, one line a record.
type fakeQueue struct {
	mu    sync.Mutex
	lines []string
}

func (q *fakeQueue) add(format string, args ...any) error {
	q.mu.Lock()
	q.lines = append(q.lines, fmt.Sprintf(format, args...))
	q.mu.Unlock()
	return nil
}

func (q *fakeQueue) Run(ctx context.Context) error { <-ctx.Done(); return nil }
func (q *fakeQueue) On(context.Context) error      { return q.add("on") }
func (q *fakeQueue) Off(context.Context) error     { return q.add("off") }
func (q *fakeQueue) Drain(context.Context) error   { return q.add("drain") }
func (q *fakeQueue) Begin(s radius.Session) error {
	return q.add("start %s user=%q ip=%v class=%q", s.ID, s.User, s.IP, s.Class)
}
func (q *fakeQueue) Interim(_ context.Context, s radius.Session, u radius.Usage) error {
	return q.add("interim %s up=%d down=%d", s.ID, u.Up, u.Down)
}
func (q *fakeQueue) End(s radius.Session, u radius.Usage, r session.Reason) error {
	return q.add("stop %s up=%d down=%d reason=%s", s.ID, u.Up, u.Down, r)
}

func (q *fakeQueue) got() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.lines)
}

// wait waits until q has n records.
func (q *fakeQueue) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(q.got()) < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // and no more
	got := q.got()
	if len(got) != n {
		t.Fatalf("%d records, want %d:\n%s", len(got), n, strings.Join(got, "\n"))
	}
	return got
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var (
	macA = net.HardwareAddr{2, 0, 0, 0, 1, 1}
	macB = net.HardwareAddr{2, 0, 0, 0, 1, 2}
	ipA  = netip.MustParseAddr("10.77.0.11")
	ipB  = netip.MustParseAddr("10.77.0.12")
)

func newTable(st *storetest.Mem) *session.Table {
	return session.New(session.Config{}, st, slog.New(slog.DiscardHandler))
}

// run starts a's Run and returns what stops it.
func run(t *testing.T, a *Accounting) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx, func() {}) }()
	return func() { cancel(); <-done }
}

// On, then each session's Start, Interim-Updates every interval (the
// grant's, else the config's) with its bytes, Stop with its reason and
// bytes; Off and a drain at the stop.
func TestAccountingOrder(t *testing.T) {
	ctx := context.Background()
	st := &storetest.Mem{}
	table := newTable(st)
	clk := &clock{t: time.Now()}
	q := &fakeQueue{}
	cfg := Config{On: true, Interim: 10 * time.Minute}
	a := NewAccounting(cfg, Options{Queue: q, Table: table, Store: st, Now: clk.now})
	table.Record(a.Record)
	stop := run(t, a)
	q.wait(t, 1)

	table.Seen(macA, ipA, "")
	table.Seen(macB, ipB, "")
	g := table.NewGrant(session.MethodRADIUS, "nemo", session.Limits{})
	g.Class, g.InterimInterval = [][]byte{[]byte("plan-gold")}, 2*time.Minute
	if _, err := table.AuthAt(ctx, macA, ipA, g); err != nil {
		t.Fatal(err)
	}
	click := table.NewGrant(session.MethodClick, "", session.Limits{})
	if _, err := table.AuthAt(ctx, macB, ipB, click); err != nil {
		t.Fatal(err)
	}
	table.Account(macA, 1000, 5000)
	table.Account(macB, 7, 9)
	q.wait(t, 3)

	// At 2 minutes A's interval ends, at 10 B's; every interval after.
	clk.add(2*time.Minute + time.Second)
	a.Reload(cfg)
	q.wait(t, 4)
	clk.add(2 * time.Minute)
	table.Account(macA, 3000, 9000)
	a.Reload(cfg)
	q.wait(t, 5)
	clk.add(6 * time.Minute)
	a.Reload(cfg)
	q.wait(t, 7) // A's and B's

	if _, err := table.Deauth(ctx, macA, session.ReasonIdle); err != nil {
		t.Fatal(err)
	}
	q.wait(t, 8)
	// Turned off: a session accounted still gets its Stop (its Start went
	// out), a new sign-in is not accounted, and no Accounting-Off goes.
	a.Reload(Config{On: false, Interim: 10 * time.Minute})
	table.Deauth(ctx, macB, session.ReasonAdmin)
	table.AuthAt(ctx, macA, ipA, table.NewGrant(session.MethodCtl, "", session.Limits{}))
	stop()

	id, idB := g.SessionID, click.SessionID
	want := []string{
		"on",
		fmt.Sprintf(`start %s user="nemo" ip=10.77.0.11 class=["plan-gold"]`, id),
		fmt.Sprintf(`start %s user="" ip=10.77.0.12 class=[]`, idB),
		fmt.Sprintf("interim %s up=1000 down=5000", id),
		fmt.Sprintf("interim %s up=3000 down=9000", id),
		fmt.Sprintf("interim %s up=3000 down=9000", id),
		fmt.Sprintf("interim %s up=7 down=9", idB),
		fmt.Sprintf("stop %s up=3000 down=9000 reason=idle", id),
		fmt.Sprintf("stop %s up=7 down=9 reason=admin", idB),
	}
	got := q.got()
	// The two interims of the third round may come in either order.
	if len(got) == len(want) {
		slices.Sort(got[5:7])
	}
	if slices.Sort(want[5:7]); !slices.Equal(got, want) {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A session that survived a restart keeps its interval's times, counted
// from its start; a clean stop files Off and drains.
func TestAccountingRestart(t *testing.T) {
	ctx := context.Background()
	st := &storetest.Mem{}
	table := newTable(st)
	first := NewAccounting(Config{On: true, Interim: 10 * time.Minute}, Options{Queue: &fakeQueue{}, Table: table, Store: st})
	table.Record(first.Record)
	table.Seen(macA, ipA, "")
	table.Seen(macB, ipB, "")
	// B's session begins while accounting is off: it has no Start, so
	// after the restart it gets no Interim and no Stop either.
	first.Reload(Config{On: false})
	if _, err := table.AuthAt(ctx, macB, ipB, table.NewGrant(session.MethodClick, "", session.Limits{})); err != nil {
		t.Fatal(err)
	}
	first.Reload(Config{On: true, Interim: 10 * time.Minute})
	g := table.NewGrant(session.MethodRADIUS, "nemo", session.Limits{})
	c, err := table.AuthAt(ctx, macA, ipA, g)
	if err != nil {
		t.Fatal(err)
	}
	start := c.Grant.Start
	clk := &clock{t: start.Add(25 * time.Minute)} // restarted 25 minutes in
	table = newTable(st)
	q := &fakeQueue{}
	a := NewAccounting(Config{On: true, Interim: 10 * time.Minute}, Options{Queue: q, Table: table, Store: st, Now: clk.now})
	table.Record(a.Record)
	stop := run(t, a)
	q.wait(t, 1) // On; no Start again, and no interim before 30 minutes
	clk.add(5*time.Minute - time.Second)
	a.Reload(a.conf())
	q.wait(t, 1)
	clk.add(time.Second)
	a.Reload(a.conf())
	got := q.wait(t, 2)
	if got[1] != "interim "+g.SessionID+" up=0 down=0" {
		t.Errorf("after the restart: %q", got)
	}
	// B signs out: no Stop for a session without a Start. A does: its Stop.
	if _, err := table.Deauth(ctx, macB, session.ReasonLogout); err != nil {
		t.Fatal(err)
	}
	if _, err := table.Deauth(ctx, macA, session.ReasonLogout); err != nil {
		t.Fatal(err)
	}
	stop()
	if got := q.got(); len(got) != 5 || !strings.HasPrefix(got[2], "stop "+g.SessionID) || !slices.Equal(got[3:], []string{"off", "drain"}) {
		t.Errorf("after the restart: %q", got)
	}
	if n := len(st.Records(openKind)); n != 0 {
		t.Errorf("%d sessions still open in the store", n)
	}
}

// The DAS's view: sessions found by any attribute, Disconnect signs out
// with reason radius, CoA changes the limits it gives.
func TestSessions(t *testing.T) {
	ctx := context.Background()
	table := newTable(&storetest.Mem{})
	var changes []session.Change
	table.Watch(func(ch session.Change) { changes = append(changes, ch) })
	table.Seen(macA, ipA, "")
	table.Seen(macB, ipB, "")
	g := table.NewGrant(session.MethodRADIUS, "nemo", session.Limits{DownloadRate: 1e6, Given: session.GivenDownloadRate})
	table.AuthAt(ctx, macA, ipA, g)
	table.AuthAt(ctx, macB, ipB, table.NewGrant(session.MethodVoucher, "ABCDE-FGHJK", session.Limits{}))
	s := Sessions{Table: table}

	for _, tt := range []struct {
		m    radius.Match
		want int
	}{
		{radius.Match{User: "nemo"}, 1},
		{radius.Match{User: "02-00-00-00-01-02"}, 1}, // a voucher's: its Calling-Station-Id
		{radius.Match{SessionID: g.SessionID, IP: ipA}, 1},
		{radius.Match{SessionID: g.SessionID, IP: ipB}, 0},
		{radius.Match{MAC: macB}, 1},
		{radius.Match{User: "ABCDE-FGHJK"}, 0},
		{radius.Match{}, 0},
	} {
		if got := s.Find(tt.m); len(got) != tt.want {
			t.Errorf("Find(%+v): %d sessions, want %d", tt.m, len(got), tt.want)
		}
	}

	found := s.Find(radius.Match{User: "nemo"})[0]
	l := radius.Limits{Limits: session.Limits{SessionTimeout: 30 * time.Minute, UploadRate: 256e3, Given: session.GivenSessionTimeout | session.GivenUploadRate}}
	if err := s.Change(ctx, found, l); err != nil {
		t.Fatal(err)
	}
	c, _ := table.Lookup(macA)
	if c.Grant.DownloadRate != 1e6 || c.Grant.UploadRate != 256e3 || time.Until(c.Grant.End) > 30*time.Minute || time.Until(c.Grant.End) < 29*time.Minute {
		t.Errorf("after CoA: %+v", c.Grant)
	}
	if err := s.Disconnect(ctx, found); err != nil {
		t.Fatal(err)
	}
	last := changes[len(changes)-1]
	if last.Event != session.SignOut || last.Reason != session.ReasonRADIUS || last.Grant.SessionID != g.SessionID {
		t.Errorf("Disconnect: %+v", last)
	}
	// Gone already: nothing to do, and a CoA for it fails.
	if err := s.Disconnect(ctx, found); err != nil {
		t.Errorf("again: %v", err)
	}
	if err := s.Change(ctx, found, l); err == nil {
		t.Error("a CoA changed a session that ended")
	}
}

// A sign-in's Start and a sign-out's Stop are in the store before the
// Sync that the table waits for, so a crash right after either keeps both
// the change and its record, or neither (SPEC §4).
func TestRecordsSavedWithTheirChange(t *testing.T) {
	ctx := context.Background()
	st := &storetest.Mem{}
	table := newTable(st)
	client := radius.NewClient(radius.Config{Servers: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9")}, AcctPort: 9, Secret: []byte("s")})
	q := radius.NewAccounting(client, st, radius.AcctConfig{})
	a := NewAccounting(Config{On: true, Interim: 10 * time.Minute}, Options{Queue: q, Table: table, Store: st})
	table.Record(a.Record)
	var syncsAtRecord, recordsAtRecord int
	table.Record(func(session.Change) {
		// Registered after a.Record: sees what it filed.
		syncsAtRecord, recordsAtRecord = st.Syncs(), len(st.Records("radius_acct"))
	})
	table.Seen(macA, ipA, "")
	for i, step := range []func() error{
		func() error {
			_, err := table.AuthAt(ctx, macA, ipA, table.NewGrant(session.MethodClick, "", session.Limits{}))
			return err
		},
		func() error { _, err := table.Deauth(ctx, macA, session.ReasonLogout); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
		if recordsAtRecord != i+1 {
			t.Errorf("step %d: %d records filed when the change was recorded, want %d", i, recordsAtRecord, i+1)
		}
		if st.Syncs() <= syncsAtRecord {
			t.Errorf("step %d: no Sync after the record was filed (%d, %d)", i, st.Syncs(), syncsAtRecord)
		}
	}
}
