package signin

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/radius"
	"github.com/lobby-fw/lobby/internal/session"
)

// fakeServers answers Access-Requests as a test says, and records them.
type fakeServers struct {
	mu     sync.Mutex
	asked  []radius.Request
	answer func(radius.Request) (radius.Limits, error)
}

func (f *fakeServers) Authenticate(_ context.Context, r radius.Request) (radius.Limits, error) {
	f.mu.Lock()
	f.asked = append(f.asked, r)
	answer := f.answer
	f.mu.Unlock()
	return answer(r)
}

func (f *fakeServers) requests() []radius.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]radius.Request(nil), f.asked...)
}

func answers(l radius.Limits, err error) func(radius.Request) (radius.Limits, error) {
	return func(radius.Request) (radius.Limits, error) { return l, err }
}

func radiusConfig(f *fakeServers, macAuth bool) Config {
	return Config{Methods: []session.Method{session.MethodRADIUS}, RADIUS: RADIUSConfig{Client: f, MACAuth: macAuth}}
}

// What the servers answer becomes a grant or a refusal (SPEC §7).
func TestRADIUSAnswers(t *testing.T) {
	gold := radius.Limits{
		Limits: session.Limits{SessionTimeout: time.Hour, DownloadRate: 2e6, Quota: 5e9,
			Given: session.GivenSessionTimeout | session.GivenDownloadRate | session.GivenQuota},
		InterimInterval: 5 * time.Minute, Class: [][]byte{[]byte("plan-gold")},
	}
	for _, tt := range []struct {
		name   string
		err    error
		status string // "" signed in; else the refusal's message contains it
		wait   bool
		down   bool
	}{
		{name: "accept"},
		{name: "reject with Reply-Message", err: &radius.RejectError{Message: "Your account has expired."}, status: "Your account has expired."},
		{name: "reject without", err: &radius.RejectError{}, status: msgRejected},
		{name: "no answer", err: fmt.Errorf("radius: access request: %w", radius.ErrNoAnswer), status: "does not answer", down: true},
		{name: "deadline", err: context.DeadlineExceeded, status: "does not answer", down: true},
		{name: "ours", err: errors.New("socket: no buffer space"), status: "socket"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeServers{answer: answers(gold, tt.err)}
			r := newRig(t, radiusConfig(f, false))
			ip := netip.MustParseAddr("10.77.0.11")
			c, err := r.svc.SignIn(context.Background(), Request{MAC: mac(1), IP: ip, Method: session.MethodRADIUS, Username: "nemo", Password: "arctangent"})
			asked := f.requests()
			if len(asked) != 1 || asked[0].User != "nemo" || asked[0].Password != "arctangent" || asked[0].MACAuth ||
				asked[0].IP != ip || asked[0].MAC.String() != mac(1).String() || len(asked[0].SessionID) != 16 {
				t.Fatalf("asked %+v", asked)
			}
			if tt.status == "" {
				if err != nil {
					t.Fatal(err)
				}
				g := c.Grant
				if g.Method != session.MethodRADIUS || g.User != "nemo" || g.SessionID != asked[0].SessionID ||
					g.DownloadRate != 2e6 || g.Quota != 5e9 || g.IdleTimeout != time.Hour || g.UploadRate != 0 ||
					g.InterimInterval != 5*time.Minute || len(g.Class) != 1 || string(g.Class[0]) != "plan-gold" {
					t.Errorf("grant %+v: want the reply's limits, config lobby's idle timeout, the asked session ID", g)
				}
				if left := time.Until(g.End); left > time.Hour || left < 59*time.Minute {
					t.Errorf("session ends in %v", left)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.status) {
				t.Fatalf("err %v, want %q", err, tt.status)
			}
			if ref, ok := errors.AsType[*Refusal](err); ok && (ref.Unavailable != tt.down || ref.Wait != 0) {
				t.Errorf("refusal %+v", ref)
			} else if !ok && tt.name != "ours" {
				t.Errorf("not a refusal: %v", err)
			}
			if c, _ := r.table.Lookup(mac(1)); c.State == session.Authenticated {
				t.Error("signed in")
			}
		})
	}
}

// Five wrong passwords within a minute make the device wait a minute, as
// five wrong codes do; no answer is not a wrong password.
func TestRADIUSGuessingLimit(t *testing.T) {
	f := &fakeServers{answer: answers(radius.Limits{}, &radius.RejectError{})}
	r := newRig(t, radiusConfig(f, false))
	ctx := context.Background()
	try := func(m byte) error {
		_, err := r.svc.SignIn(ctx, Request{MAC: mac(m), Method: session.MethodRADIUS, Username: "u", Password: "wrong"})
		return err
	}
	for i := range 4 {
		if ref := refusal(t, try(1)); ref.Wait != 0 {
			t.Fatalf("wrong password %d: wait %v", i+1, ref.Wait)
		}
		r.clock.add(10 * time.Second)
	}
	if ref := refusal(t, try(1)); ref.Wait != time.Minute || !strings.Contains(ref.Message, "60 seconds") {
		t.Fatalf("fifth wrong password: %+v", ref)
	}
	// Waiting: not even asked; another device is not held up.
	n := len(f.requests())
	f.answer = answers(radius.Limits{}, nil)
	if ref := refusal(t, try(1)); ref.Wait <= 0 || len(f.requests()) != n {
		t.Fatalf("while waiting: %+v, asked %d times", ref, len(f.requests())-n)
	}
	if err := try(2); err != nil {
		t.Fatalf("another device: %v", err)
	}
	r.clock.add(time.Minute)
	if err := try(1); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
	// An empty user name is not asked about and not counted.
	if ref := refusal(t, func() error {
		_, err := r.svc.SignIn(ctx, Request{MAC: mac(3), Method: session.MethodRADIUS})
		return err
	}()); ref.Message != msgNoUser {
		t.Errorf("empty user: %+v", ref)
	}
}

// MAC authentication asks about a device first seen, signs it in when the
// servers accept it, and after a reject or no answer does not ask again
// for 5 minutes (the service's clock).
func TestMACAuthHoldOff(t *testing.T) {
	f := &fakeServers{}
	f.answer = func(q radius.Request) (radius.Limits, error) {
		if q.MAC.String() == mac(2).String() {
			return radius.Limits{Limits: session.Limits{SessionTimeout: time.Minute, Given: session.GivenSessionTimeout}, Class: [][]byte{[]byte("mac")}}, nil
		}
		return radius.Limits{}, &radius.RejectError{}
	}
	r := newRig(t, radiusConfig(f, true))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.svc.Run(ctx, func() {}) }()
	defer func() { cancel(); <-done }()

	asksFor := func(m byte) (n int) {
		for _, q := range f.requests() {
			if q.MAC.String() == mac(m).String() {
				n++
			}
		}
		return n
	}
	waitAsks := func(m byte, want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for asksFor(m) < want && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond) // and no more than that
		if got := asksFor(m); got != want {
			t.Fatalf("device %d asked about %d times, want %d", m, got, want)
		}
	}
	ip := func(n int) netip.Addr { return netip.AddrFrom4([4]byte{10, 77, 0, byte(n)}) }

	r.table.Leased(mac(1), ip(11), "")
	waitAsks(1, 1)
	q := f.requests()[0]
	if !q.MACAuth || q.IP != ip(11) || q.SessionID == "" {
		t.Errorf("request %+v", q)
	}
	r.table.Seen(mac(1), ip(12), "") // seen again, elsewhere: held off
	r.clock.add(macHoldOff - time.Second)
	r.table.Seen(mac(1), ip(13), "")
	waitAsks(1, 1)
	r.clock.add(time.Second)
	r.table.Seen(mac(1), ip(14), "")
	waitAsks(1, 2)
	if c, _ := r.table.Lookup(mac(1)); c.State != session.Preauth {
		t.Errorf("rejected device is %v", c.State)
	}

	r.table.Seen(mac(2), ip(21), "")
	waitAsks(2, 1)
	deadline := time.Now().Add(5 * time.Second)
	c, _ := r.table.Lookup(mac(2))
	for c.State != session.Authenticated && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		c, _ = r.table.Lookup(mac(2))
	}
	g := c.Grant
	if c.State != session.Authenticated || c.IP != ip(21) || g.Method != session.MethodRADIUS || g.User != "02-00-00-00-01-02" ||
		len(g.Class) != 1 || g.SessionID != f.requests()[len(f.requests())-1].SessionID {
		t.Errorf("accepted device: %v at %v, grant %+v", c.State, c.IP, g)
	}

	// Off on a reload: nobody is asked about.
	if err := r.svc.Reload(radiusConfig(f, false)); err != nil {
		t.Fatal(err)
	}
	r.table.Seen(mac(3), ip(31), "")
	waitAsks(3, 0)
}

// The map of devices held off is bounded: when it is full of devices
// still held, a new one is not asked about.
func TestMACAuthHeldBounded(t *testing.T) {
	r := newRig(t, Config{})
	m := r.svc.radius
	now := r.clock.now()
	for i := range maxHeld {
		if !m.hold([]byte(fmt.Sprintf("%06d", i)), now) {
			t.Fatalf("device %d not asked about", i)
		}
	}
	if m.hold(mac(1), now) {
		t.Error("asked about a device with the map full")
	}
	if !m.hold(mac(1), now.Add(macHoldOff)) || len(m.held) != 1 {
		t.Errorf("after the hold-off: %d held", len(m.held))
	}
}
