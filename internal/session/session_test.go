package session

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// memStore is an in-memory Store that counts syncs.
type memStore struct {
	mu    sync.Mutex
	recs  map[string]json.RawMessage
	syncs int
}

func newMemStore() *memStore { return &memStore{recs: map[string]json.RawMessage{}} }

func (m *memStore) Records(kind string) map[string]json.RawMessage {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]json.RawMessage{}
	for k, v := range m.recs {
		out[k] = v
	}
	return out
}

func (m *memStore) Put(kind, key string, v any) error {
	b, err := json.Marshal(v)
	m.mu.Lock()
	m.recs[key] = b
	m.mu.Unlock()
	return err
}

func (m *memStore) Delete(kind, key string) {
	m.mu.Lock()
	delete(m.recs, key)
	m.mu.Unlock()
}

func (m *memStore) Sync(context.Context) error {
	m.mu.Lock()
	m.syncs++
	m.mu.Unlock()
	return nil
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func mac(s string) net.HardwareAddr  { m, _ := net.ParseMAC(s); return m }
func quiet() *slog.Logger            { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func newTable(cfg Config, st Store, c *clock) *Table {
	t := New(cfg, st, quiet())
	t.now = c.now
	return t
}

var (
	a = mac("02:00:00:00:01:01")
	b = mac("02:00:00:00:01:02")
)

func TestStates(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		cfg  Config
		do   func(*Table) error
		want State
	}{
		{"unknown is preauth", Config{}, func(*Table) error { return nil }, Preauth},
		{"auth", Config{}, func(tb *Table) error { _, err := tb.Auth(ctx, a, 0, "t"); return err }, Authenticated},
		{"auth then deauth", Config{}, func(tb *Table) error {
			tb.Auth(ctx, a, 0, "t")
			_, err := tb.Deauth(ctx, a, "t")
			return err
		}, Preauth},
		{"config trusted", Config{TrustedMAC: []net.HardwareAddr{a}}, func(*Table) error { return nil }, Trusted},
		{"config blocked beats trusted", Config{TrustedMAC: []net.HardwareAddr{a}, BlockedMAC: []net.HardwareAddr{a}}, func(*Table) error { return nil }, Blocked},
		{"blocked cannot sign in", Config{BlockedMAC: []net.HardwareAddr{a}}, func(tb *Table) error {
			if _, err := tb.Auth(ctx, a, 0, "t"); err == nil {
				t.Error("blocked client signed in")
			}
			return nil
		}, Blocked},
		{"block signs out, unblock leaves preauth", Config{}, func(tb *Table) error {
			tb.Auth(ctx, a, 0, "t")
			tb.SetBlocked(ctx, a, true, "t")
			_, err := tb.SetBlocked(ctx, a, false, "t")
			return err
		}, Preauth},
		{"trust then untrust", Config{}, func(tb *Table) error {
			tb.SetTrusted(ctx, a, true, "t")
			_, err := tb.SetTrusted(ctx, a, false, "t")
			return err
		}, Preauth},
		{"untrust of a config-trusted MAC fails", Config{TrustedMAC: []net.HardwareAddr{a}}, func(tb *Table) error {
			if _, err := tb.SetTrusted(ctx, a, false, "t"); err == nil {
				t.Error("untrusted a config-trusted MAC")
			}
			return nil
		}, Trusted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := newTable(tt.cfg, newMemStore(), &clock{time.Unix(1e9, 0)})
			if err := tt.do(tb); err != nil {
				t.Fatal(err)
			}
			if got := tb.StateOf(a); got != tt.want {
				t.Errorf("state = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDeauthUnknown(t *testing.T) {
	tb := newTable(Config{}, newMemStore(), &clock{time.Unix(1e9, 0)})
	if _, err := tb.Deauth(context.Background(), a, "t"); err == nil {
		t.Fatal("deauth of an unknown client succeeded")
	}
}

func TestTimeouts(t *testing.T) {
	ctx := context.Background()
	c := &clock{time.Unix(1e9, 0)}
	tb := newTable(Config{SessionTimeout: time.Hour, IdleTimeout: 10 * time.Minute}, newMemStore(), c)
	var changes []Change
	tb.Watch(func(ch Change) { changes = append(changes, ch) })

	cl, _ := tb.Auth(ctx, a, 0, "t")
	if want := c.t.Add(time.Hour); !cl.Expires.Equal(want) {
		t.Fatalf("expires %v, want %v", cl.Expires, want)
	}
	tb.Auth(ctx, b, 0, "t")
	// a is active every 5 minutes, b never.
	for i := 0; i < 11; i++ {
		c.add(5 * time.Minute)
		tb.Account(a, uint64(i+1)*100, 0)
		tb.expire()
	}
	if s := tb.StateOf(b); s != Preauth {
		t.Errorf("idle b is %v", s)
	}
	if s := tb.StateOf(a); s != Authenticated {
		t.Errorf("active a is %v after 55m", s)
	}
	c.add(5 * time.Minute)
	tb.Account(a, 9999, 0)
	tb.expire()
	if s := tb.StateOf(a); s != Preauth {
		t.Errorf("a is %v after its session timeout", s)
	}
	var reasons []string
	for _, ch := range changes {
		if ch.Client.State == Preauth {
			reasons = append(reasons, ch.Client.MAC.String()+" "+ch.Reason)
		}
	}
	want := []string{b.String() + " idle timeout", a.String() + " session timeout"}
	if len(reasons) != 2 || reasons[0] != want[0] || reasons[1] != want[1] {
		t.Errorf("sign-outs %q, want %q", reasons, want)
	}
}

func TestNextDeadline(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	tb := newTable(Config{SessionTimeout: time.Hour}, newMemStore(), c)
	if next := tb.expire(); !next.IsZero() {
		t.Errorf("deadline %v with nobody signed in", next)
	}
	tb.Auth(context.Background(), a, 30*time.Minute, "t")
	if next := tb.expire(); !next.Equal(c.t.Add(30 * time.Minute)) {
		t.Errorf("deadline %v", next)
	}
}

func TestPersistAcrossRestart(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	c := &clock{time.Unix(1e9, 0)}
	tb := newTable(Config{SessionTimeout: time.Hour}, st, c)
	tb.Seen(a, netip.MustParseAddr("10.77.0.100"), "phone")
	before, _ := tb.Auth(ctx, a, 0, "t")
	tb.SetBlocked(ctx, b, true, "t")
	if st.syncs < 2 {
		t.Errorf("sign-in and block made %d syncs; both must reach the disk", st.syncs)
	}

	c.add(10 * time.Minute)
	tb2 := newTable(Config{SessionTimeout: time.Hour}, st, c)
	got, ok := tb2.LookupIP(netip.MustParseAddr("10.77.0.100"))
	if !ok || got.State != Authenticated || !got.Expires.Equal(before.Expires) || got.Hostname != "phone" {
		t.Errorf("after restart: %+v, want authenticated until %v", got, before.Expires)
	}
	if s := tb2.StateOf(b); s != Blocked {
		t.Errorf("b is %v after restart", s)
	}
	tb2.Deauth(ctx, a, "t")
	tb3 := newTable(Config{}, st, c)
	if s := tb3.StateOf(a); s != Preauth {
		t.Errorf("signed-out a is %v after restart", s)
	}
}

func TestSeenMovesAddress(t *testing.T) {
	tb := newTable(Config{}, newMemStore(), &clock{time.Unix(1e9, 0)})
	ip := netip.MustParseAddr("10.77.0.100")
	tb.Seen(a, ip, "")
	tb.Seen(b, ip, "")
	got, _ := tb.LookupIP(ip)
	if got.MAC.String() != b.String() {
		t.Errorf("ip belongs to %v, want %v", got.MAC, b)
	}
	if ca, _ := tb.Lookup(a); ca.IP.IsValid() {
		t.Errorf("a still has %v", ca.IP)
	}
	tb.Forget(b)
	if _, ok := tb.LookupIP(ip); ok {
		t.Error("forgotten client still found by IP")
	}
}

func TestReloadBlocks(t *testing.T) {
	ctx := context.Background()
	tb := newTable(Config{}, newMemStore(), &clock{time.Unix(1e9, 0)})
	tb.Auth(ctx, a, 0, "t")
	var got []Change
	tb.Watch(func(ch Change) { got = append(got, ch) })
	tb.Reload(Config{BlockedMAC: []net.HardwareAddr{a}})
	if len(got) != 1 || got[0].Client.State != Blocked || got[0].Old != Authenticated {
		t.Fatalf("changes %+v", got)
	}
	tb.Reload(Config{})
	if s := tb.StateOf(a); s != Preauth {
		t.Errorf("after unblocking by reload: %v (blocking must end the session)", s)
	}
	n := tb.Counts()
	if n[Preauth] != 1 || len(n) != 4 {
		t.Errorf("counts %v", n)
	}
}

func TestRunExpires(t *testing.T) {
	tb := New(Config{}, newMemStore(), quiet())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- tb.Run(ctx) }()
	tb.Auth(ctx, a, time.Second, "t")
	deadline := time.Now().Add(5 * time.Second)
	for tb.StateOf(a) == Authenticated && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if s := tb.StateOf(a); s != Preauth {
		t.Errorf("a 1s session is %v after %v", s, 5*time.Second)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestResolver(t *testing.T) {
	tb := newTable(Config{}, newMemStore(), &clock{time.Unix(1e9, 0)})
	ip := netip.MustParseAddr("10.77.0.50")
	if _, ok := tb.LookupIP(ip); ok {
		t.Fatal("unknown IP found without a resolver")
	}
	calls := 0
	tb.SetResolver(func(q netip.Addr) (net.HardwareAddr, bool) {
		calls++
		return a, q == ip
	})
	tb.Auth(context.Background(), a, 0, "t")
	got, ok := tb.LookupIP(netip.MustParseAddr("::ffff:10.77.0.50"))
	if !ok || got.State != Authenticated || got.IP != ip || got.MAC.String() != a.String() {
		t.Errorf("resolved %+v, %v", got, ok)
	}
	if _, ok := tb.LookupIP(netip.MustParseAddr("10.77.0.51")); ok {
		t.Error("resolver said no, LookupIP said yes")
	}
	tb.Seen(a, ip, "")
	tb.LookupIP(ip)
	if calls != 2 {
		t.Errorf("resolver called %d times; a known IP must not need it", calls)
	}
}

func TestForgetUnseen(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	tb := newTable(Config{}, newMemStore(), c)
	tb.Seen(a, netip.MustParseAddr("10.77.0.5"), "")
	tb.Seen(b, netip.MustParseAddr("10.77.0.6"), "")
	tb.SetTrusted(context.Background(), b, true, "t")
	c.add(forgetAfter / 2)
	tb.expire()
	if _, ok := tb.Lookup(a); !ok {
		t.Fatal("a forgotten too early")
	}
	c.add(forgetAfter)
	tb.expire()
	if _, ok := tb.Lookup(a); ok {
		t.Error("preauth a unseen for longer than forgetAfter is still known")
	}
	if _, ok := tb.LookupIP(netip.MustParseAddr("10.77.0.5")); ok {
		t.Error("its address is still known")
	}
	if _, ok := tb.Lookup(b); !ok {
		t.Error("trusted b was forgotten")
	}
}
