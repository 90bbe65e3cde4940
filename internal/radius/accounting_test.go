package radius

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/store/storetest"
)

// acctServer is a fake accounting server that answers when told to.
type acctServer struct {
	*fakeServer
	mu       sync.Mutex
	answer   bool
	received func(req *Packet) // called for each request, before any answer
}

func newAcctServer(t *testing.T) *acctServer {
	s := &acctServer{}
	s.fakeServer = newFakeServer(t, func(req *Packet) *Packet {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.received != nil {
			s.received(req)
		}
		if !s.answer {
			return nil
		}
		return &Packet{Code: CodeAccountingResponse}
	})
	return s
}

func (s *acctServer) onReceive(f func(req *Packet)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = f
}

func (s *acctServer) setAnswer(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = on
}

// syncStore is a Mem that remembers which records were synced, so that a
// test can tell whether a record was durable when it was sent.
type syncStore struct {
	storetest.Mem
	mu     sync.Mutex
	synced map[string]bool
}

func (s *syncStore) Sync(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.synced == nil {
		s.synced = map[string]bool{}
	}
	for k := range s.Mem.Records(storeKind) {
		s.synced[k] = true
	}
	return s.Mem.Sync(ctx)
}

func (s *syncStore) isSynced(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.synced[k]
}

func acctClient(srv *acctServer) *Client {
	c := testClient(netip.AddrPortFrom(srv.addr().Addr(), 1812))
	c.conf().AcctPort = srv.addr().Port()
	c.conf().Retries = 0
	return c
}

func testSession(id string) Session {
	return Session{ID: id, MAC: guestMAC, IP: guestIP, Start: newFakeClock().Now()}
}

// runQueue runs a's sender until the test ends.
func runQueue(t *testing.T, a *Accounting) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

type sent struct {
	session string
	status  StatusType
	delay   uint32
}

func describe(p *Packet) sent {
	id, _ := p.Get(AttrAcctSessionID)
	st, _ := u32(p, AttrAcctStatusType)
	d, _ := u32(p, AttrAcctDelayTime)
	return sent{string(id), StatusType(st), d}
}

// TestAccountingOrderAndRetry: records wait while the server is down,
// each session's go out in order (its Stop only once its Start is
// answered), and they are sent again after the retry interval with
// Acct-Delay-Time saying how long they waited (RFC 2866 §5.2).
func TestAccountingOrderAndRetry(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	srv := newAcctServer(t)
	var st syncStore
	var got []sent
	srv.onReceive(func(req *Packet) {
		d := describe(req)
		if d.status != StatusInterim {
			k := ""
			for key, v := range st.Mem.Records(storeKind) {
				var r record
				json.Unmarshal(v, &r)
				if r.Session == d.session && r.Status == d.status {
					k = key
				}
			}
			if !st.isSynced(k) {
				t.Errorf("%v sent before it was synced", d)
			}
		}
		got = append(got, d)
	})
	a := NewAccounting(acctClient(srv), &st, AcctConfig{Clock: clock, Retry: 30 * time.Second})
	runQueue(t, a)

	a1, b := testSession("A1"), testSession("B2")
	for _, f := range []func() error{
		func() error { return a.Begin(a1) },
		func() error { return a.Interim(ctx, a1, Usage{Up: 1}) },
		func() error { return a.Begin(b) },
		func() error { return a.End(a1, Usage{Up: 2}, session.ReasonLogout) },
	} {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	// The Stop replaced the Interim that was waiting; the Starts were
	// tried and not answered.
	eventually(t, "both Starts tried", func() bool { srv.mu.Lock(); defer srv.mu.Unlock(); return len(got) >= 2 })
	// Both tries failed and their next try is filed (by the real clock
	// the client's timeout takes): the fake clock moves only after that.
	eventually(t, "both failed tries filed", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, id := range []string{"A1", "B2"} {
			if q := a.streams[id]; len(q) == 0 || q[0].inFlight || !q[0].next.After(clock.Now()) {
				return false
			}
		}
		return true
	})
	time.Sleep(100 * time.Millisecond) // a Stop sent too early would show now
	srv.mu.Lock()
	if fmt.Sprint(got) != fmt.Sprint([]sent{{"A1", StatusStart, 0}, {"B2", StatusStart, 0}}) &&
		fmt.Sprint(got) != fmt.Sprint([]sent{{"B2", StatusStart, 0}, {"A1", StatusStart, 0}}) {
		t.Errorf("sent while the server was down: %v", got)
	}
	got = nil
	srv.mu.Unlock()
	if n := a.Pending(); n != 3 {
		t.Errorf("%d records waiting, want 3 (Start, Stop, Start)", n)
	}

	srv.setAnswer(true)
	clock.Advance(29 * time.Second)
	time.Sleep(50 * time.Millisecond)
	srv.mu.Lock()
	if len(got) != 0 {
		t.Errorf("sent again before the retry interval: %v", got)
	}
	srv.mu.Unlock()
	clock.Advance(time.Second)
	eventually(t, "every record answered", func() bool { return a.Pending() == 0 })
	srv.mu.Lock()
	defer srv.mu.Unlock()
	var a1s []sent
	for _, s := range got {
		if s.session == "A1" {
			a1s = append(a1s, s)
		}
	}
	if want := []sent{{"A1", StatusStart, 30}, {"A1", StatusStop, 30}}; fmt.Sprint(a1s) != fmt.Sprint(want) {
		t.Errorf("A1's records: %v, want %v", a1s, want)
	}
	if n := len(st.Mem.Records(storeKind)); n != 0 {
		t.Errorf("%d records left in the store after every answer", n)
	}
}

// TestAccountingBackoff: a record nobody answers is tried again at
// doubling intervals up to MaxRetry.
func TestAccountingBackoff(t *testing.T) {
	clock := newFakeClock()
	srv := newAcctServer(t)
	tries := make(chan time.Time, 16)
	srv.onReceive(func(*Packet) { tries <- clock.Now() })
	a := NewAccounting(acctClient(srv), &storetest.Mem{}, AcctConfig{Clock: clock, Retry: 10 * time.Second, MaxRetry: 40 * time.Second})
	runQueue(t, a)
	if err := a.On(context.Background()); err != nil {
		t.Fatal(err)
	}
	// After each try that nobody answers: the record's next try is the
	// interval away, and nothing is sent a second before it.
	var gaps []time.Duration
	for range 4 {
		<-tries
		var wait time.Duration
		eventually(t, "the failed try filed", func() bool {
			a.mu.Lock()
			defer a.mu.Unlock()
			r := a.streams[""][0]
			wait = r.next.Sub(clock.Now())
			return !r.inFlight && wait > 0
		})
		gaps = append(gaps, wait)
		clock.Advance(wait - time.Second)
		select {
		case <-tries:
			t.Fatal("tried again before the interval")
		case <-time.After(20 * time.Millisecond):
		}
		clock.Advance(time.Second)
	}
	if want := "[10s 20s 40s 40s]"; fmt.Sprint(gaps) != want {
		t.Errorf("intervals between tries %v, want %s", gaps, want)
	}
}

// TestAccountingRestart: records a run left in the store (the server was
// down, then kill -9) are sent by the next run, in order, with the delay
// counted from when they were made.
func TestAccountingRestart(t *testing.T) {
	clock := newFakeClock()
	srv := newAcctServer(t)
	var st storetest.Mem
	first := NewAccounting(acctClient(srv), &st, AcctConfig{Clock: clock})
	s := testSession("C3")
	if err := first.Begin(s); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	if err := first.End(s, Usage{Up: 5<<32 + 1234, Down: 7}, session.ReasonIdle); err != nil {
		t.Fatal(err)
	}
	// first never ran: lobby died before it sent anything.

	clock.Advance(10 * time.Minute)
	srv.setAnswer(true)
	var got []*Packet
	srv.onReceive(func(p *Packet) { got = append(got, p) })
	second := NewAccounting(acctClient(srv), &st, AcctConfig{Clock: clock})
	if n := second.Pending(); n != 2 {
		t.Fatalf("%d records found after the restart, want 2", n)
	}
	runQueue(t, second)
	eventually(t, "the records of the last run delivered", func() bool { return second.Pending() == 0 })
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("%d records sent, want 2", len(got))
	}
	if d := describe(got[0]); d != (sent{"C3", StatusStart, 4200}) {
		t.Errorf("first %v, want the Start, 70 min late", d)
	}
	stop := got[1]
	if d := describe(stop); d != (sent{"C3", StatusStop, 600}) {
		t.Errorf("second %v, want the Stop, 10 min late", d)
	}
	for typ, want := range map[uint8]uint32{
		AttrAcctTerminateCause: CauseIdleTimeout, AttrAcctSessionTime: 3600,
		AttrAcctInputOctets: 1234, AttrAcctInputGigawords: 5, AttrAcctOutputOctets: 7, AttrAcctOutputGigawords: 0,
		AttrEventTimestamp: uint32(clock.Now().Add(-10 * time.Minute).Unix()),
	} {
		if v, ok := u32(stop, typ); !ok || v != want {
			t.Errorf("Stop's attribute %d = %d (%v), want %d", typ, v, ok, want)
		}
	}
}

// TestAccountingAttributes: every record carries SPEC §7's attributes;
// the Class of the Access-Accept is echoed; a session without a user name
// is accounted under its Calling-Station-Id.
func TestAccountingAttributes(t *testing.T) {
	clock := newFakeClock()
	srv := newAcctServer(t)
	srv.setAnswer(true)
	a := NewAccounting(acctClient(srv), &storetest.Mem{}, AcctConfig{Clock: clock})
	runQueue(t, a)
	s := testSession("D4")
	s.Class = [][]byte{[]byte("plan=gold"), []byte("x")}
	if err := a.Begin(s); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Start answered", func() bool { return a.Pending() == 0 })
	p := srv.requests()[0]
	str := func(typ uint8) string { v, _ := p.Get(typ); return string(v) }
	for typ, want := range map[uint8]string{
		AttrUserName: "02-00-00-00-00-C1", AttrCallingStationID: "02-00-00-00-00-C1", AttrAcctSessionID: "D4",
		AttrNASIdentifier: "lobby-test", AttrFramedIPAddress: string(guestIP.AsSlice()),
	} {
		if got := str(typ); got != want {
			t.Errorf("attribute %d = %q, want %q", typ, got, want)
		}
	}
	var classes []string
	for _, at := range p.Attrs {
		if at.Type == AttrClass {
			classes = append(classes, string(at.Value))
		}
	}
	if fmt.Sprint(classes) != "[plan=gold x]" {
		t.Errorf("Class %q, want the Accept's, in order", classes)
	}
	if _, ok := p.Get(AttrAcctInputOctets); ok {
		t.Error("a Start with octets")
	}
}

// TestAccountingDrain: Off then Drain delivers the Accounting-Off before a
// clean stop; Drain gives up when its context does.
func TestAccountingDrain(t *testing.T) {
	srv := newAcctServer(t)
	a := NewAccounting(acctClient(srv), &storetest.Mem{}, AcctConfig{})
	runQueue(t, a)
	if err := a.Off(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := a.Drain(ctx); err == nil {
		t.Error("Drain returned with the server down")
	}
	srv.setAnswer(true)
	a2 := NewAccounting(acctClient(srv), &storetest.Mem{}, AcctConfig{})
	runQueue(t, a2)
	if err := a2.Off(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a2.Drain(ctx); err != nil {
		t.Error(err)
	}
}

// gatedStore is a Mem whose Sync waits until the test opens the gate: a
// slow flash.
type gatedStore struct {
	storetest.Mem
	gate chan struct{}
}

func (s *gatedStore) Sync(ctx context.Context) error {
	<-s.gate
	return s.Mem.Sync(ctx)
}

// TestAccountingHeldUntilSynced: a Start is not sent while its sync is
// under way, however the sender is woken; it goes once the sync is done.
func TestAccountingHeldUntilSynced(t *testing.T) {
	srv := newAcctServer(t)
	srv.setAnswer(true)
	st := &gatedStore{gate: make(chan struct{})}
	a := NewAccounting(acctClient(srv), st, AcctConfig{})
	runQueue(t, a)
	started := make(chan error, 1)
	go func() { started <- a.Begin(testSession("E5")) }()
	eventually(t, "the Start in the store", func() bool { return len(st.Records(storeKind)) == 1 })
	for range 5 {
		a.kick()
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(srv.requests()); n != 0 {
		t.Fatalf("%d records sent before the sync", n)
	}
	close(st.gate)
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Start sent and answered", func() bool { return a.Pending() == 0 })
}

// lockedBuffer is a log destination the test reads while the queue writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// TestAccountingOutageLoggedOnce: an outage is one warning however many
// records wait, and its end one line.
func TestAccountingOutageLoggedOnce(t *testing.T) {
	clock := newFakeClock()
	srv := newAcctServer(t)
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	c := acctClient(srv)
	c.log = log
	a := NewAccounting(c, &storetest.Mem{}, AcctConfig{Clock: clock, Logger: log})
	runQueue(t, a)
	for i := range 20 {
		if err := a.Begin(testSession(fmt.Sprint("F", i))); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "every Start tried", func() bool { return len(srv.requests()) >= 20 })
	eventually(t, "every try filed", func() bool { a.mu.Lock(); defer a.mu.Unlock(); return a.busy == 0 })
	srv.setAnswer(true)
	clock.Advance(time.Minute)
	eventually(t, "the backlog delivered", func() bool { return a.Pending() == 0 })
	if n := logs.count(`msg="radius accounting: no server answers`); n != 1 {
		t.Errorf("the outage was logged %d times, want once:\n%s", n, logs.b.String())
	}
	if n := logs.count("answers again"); n != 1 {
		t.Errorf("its end was logged %d times, want once", n)
	}
	if n := logs.count("level=WARN"); n != 1 {
		t.Errorf("%d warnings, want 1", n)
	}
}
