package radius

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/metrics"
	"github.com/lobby-fw/lobby/internal/store/storetest"
)

func fmtMap(m map[string]uint64) string { return fmt.Sprint(m) }

// counts are a Stats' non-zero counters, as "type outcome".
func counts(s *Stats) map[string]uint64 {
	out := map[string]uint64{}
	for _, t := range Types {
		for _, o := range t.Outcomes() {
			if n := s.Count(t, o); n > 0 {
				out[t.String()+" "+o.String()] = n
			}
		}
	}
	return out
}

func latencyCount(s *Stats, t Type) float64 {
	var n float64
	s.Latency(t).Emit(func(name, _ string, _ metrics.Kind, v float64, _ ...metrics.Label) {
		if name == "x_count" {
			n = v
		}
	}, "x", "")
	return n
}

// TestClientStats: each request is counted once by its outcome, answered
// ones in the latency histogram too; a reply that fails its checks is
// counted discarded; each server's last answer and failure follow.
func TestClientStats(t *testing.T) {
	unsigned := accept()
	tests := []struct {
		name    string
		handle  func(*Packet) *Packet
		require Require
		acct    bool
		want    map[string]uint64
		latency float64 // answered, in the histogram
		up      bool
	}{
		{"accept", accept(), RequireAuto, false, map[string]uint64{"access accept": 1}, 1, true},
		{"reject", func(*Packet) *Packet { return &Packet{Code: CodeAccessReject} }, RequireAuto, false, map[string]uint64{"access reject": 1}, 1, true},
		{"no answer", func(*Packet) *Packet { return nil }, RequireAuto, false, map[string]uint64{"access no_answer": 1}, 0, false},
		{"discarded", unsigned, RequireAlways, false, map[string]uint64{"access discarded": 2, "access no_answer": 1}, 0, false},
		{"accounting", func(*Packet) *Packet { return &Packet{Code: CodeAccountingResponse} }, RequireAuto, true, map[string]uint64{"accounting ack": 1}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, tt.handle)
			c := testClient(srv.addr()) // two tries each
			c.conf().Require = tt.require
			if tt.acct {
				p := &Packet{Code: CodeAccountingRequest, Attrs: []Attr{{AttrAcctStatusType, Uint32(uint32(StatusOn))}}}
				if _, err := c.exchange(context.Background(), p, func(a netip.AddrPort) netip.AddrPort { return a }, nil); err != nil {
					t.Fatal(err)
				}
			} else {
				c.Authenticate(context.Background(), Request{User: "u", Password: "p", MAC: guestMAC})
			}
			if got := counts(c.Stats()); fmtMap(got) != fmtMap(tt.want) {
				t.Errorf("counts %v, want %v", got, tt.want)
			}
			typ := TypeAccess
			if tt.acct {
				typ = TypeAccounting
				tt.latency = 1
			}
			if n := latencyCount(c.Stats(), typ); n != tt.latency {
				t.Errorf("%v answers in the latency histogram, want %v", n, tt.latency)
			}
			s := c.Servers()
			if len(s) != 1 || s[0].Addr != srv.addr() || s[0].Up() != tt.up || s[0].LastAnswer.IsZero() == tt.up || s[0].LastFailure.IsZero() == !tt.up {
				t.Errorf("servers %+v, want up %v", s, tt.up)
			}
		})
	}
}

// TestServerUp: up is an answer after the last failure.
func TestServerUp(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		answer, failure time.Time
		up              bool
	}{
		{time.Time{}, time.Time{}, false},
		{t0, time.Time{}, true},
		{t0, t0.Add(time.Second), false},
		{t0.Add(time.Second), t0, true},
	} {
		if got := (Server{LastAnswer: tt.answer, LastFailure: tt.failure}).Up(); got != tt.up {
			t.Errorf("answer %v failure %v: up %v", tt.answer, tt.failure, got)
		}
	}
}

// TestDASStats: answers counted ack or nak by type, discarded requests
// discarded, packets that are no DAS request not at all.
func TestDASStats(t *testing.T) {
	d, f := testDAS(newFakeClock())
	ctx := context.Background()
	d.Handle(ctx, dasClient, dasRequest(t, CodeCoARequest, Attr{AttrUserName, []byte("nemo")}, Attr{AttrSessionTimeout, Uint32(60)}))
	d.Handle(ctx, dasClient, dasRequest(t, CodeDisconnectRequest, Attr{AttrUserName, []byte("nobody")}))
	d.Handle(ctx, netip.MustParseAddr("192.0.2.11"), dasRequest(t, CodeDisconnectRequest, Attr{AttrUserName, []byte("nemo")}))
	d.Handle(ctx, dasClient, dasRequest(t, CodeAccessRequest, Attr{AttrUserName, []byte("nemo")}))
	d.Handle(ctx, dasClient, nil)
	if len(f.changed) != 1 {
		t.Fatalf("CoA not applied: %v", f.changed)
	}
	want := map[string]uint64{"coa ack": 1, "disconnect nak": 1, "disconnect discarded": 1}
	if got := counts(d.Stats()); fmtMap(got) != fmtMap(want) {
		t.Errorf("counts %v, want %v", got, want)
	}
	if n := latencyCount(d.Stats(), TypeCoA) + latencyCount(d.Stats(), TypeDisconnect); n != 2 {
		t.Errorf("%v answers in the histograms, want 2", n)
	}
}

// TestAccountingOldest: the backlog's age is its oldest record's, over
// every session's stream; none waiting is zero.
func TestAccountingOldest(t *testing.T) {
	clock := newFakeClock()
	a := NewAccounting(testClient(silentAddr(t)), &storetest.Mem{}, AcctConfig{Clock: clock}) // not run: nothing is sent
	if !a.Oldest().IsZero() {
		t.Fatal("an empty queue has an oldest record")
	}
	t0 := clock.Now()
	a.Begin(Session{ID: "S2", MAC: guestMAC})
	clock.Advance(time.Minute)
	a.Begin(Session{ID: "S1", MAC: guestMAC})
	a.End(Session{ID: "S2", MAC: guestMAC}, Usage{}, 0)
	if got := a.Oldest(); !got.Equal(t0) || a.Pending() != 3 {
		t.Errorf("oldest %v of %d, want %v of 3", got, a.Pending(), t0)
	}
}
