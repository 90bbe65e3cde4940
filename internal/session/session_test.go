package session

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/store/storetest"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func mac(s string) net.HardwareAddr  { m, _ := net.ParseMAC(s); return m }
func quiet() *slog.Logger            { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// ctlGrant is the grant of ctl auth for d (0: config lobby's session
// timeout).
func ctlGrant(tb *Table, d time.Duration) Grant {
	var l Limits
	if d > 0 {
		l = Limits{SessionTimeout: d, Given: GivenSessionTimeout}
	}
	return tb.NewGrant(MethodCtl, "", l)
}

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
		{"auth", Config{}, func(tb *Table) error { _, err := tb.Auth(ctx, a, ctlGrant(tb, 0)); return err }, Authenticated},
		{"auth then deauth", Config{}, func(tb *Table) error {
			tb.Auth(ctx, a, ctlGrant(tb, 0))
			_, err := tb.Deauth(ctx, a, ReasonAdmin)
			return err
		}, Preauth},
		{"config trusted", Config{TrustedMAC: []net.HardwareAddr{a}}, func(*Table) error { return nil }, Trusted},
		{"config blocked beats trusted", Config{TrustedMAC: []net.HardwareAddr{a}, BlockedMAC: []net.HardwareAddr{a}}, func(*Table) error { return nil }, Blocked},
		{"blocked cannot sign in", Config{BlockedMAC: []net.HardwareAddr{a}}, func(tb *Table) error {
			if _, err := tb.Auth(ctx, a, ctlGrant(tb, 0)); err == nil {
				t.Error("blocked client signed in")
			}
			return nil
		}, Blocked},
		{"block signs out, unblock leaves preauth", Config{}, func(tb *Table) error {
			tb.Auth(ctx, a, ctlGrant(tb, 0))
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
			tb := newTable(tt.cfg, new(storetest.Mem), &clock{time.Unix(1e9, 0)})
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
	tb := newTable(Config{}, new(storetest.Mem), &clock{time.Unix(1e9, 0)})
	if _, err := tb.Deauth(context.Background(), a, ReasonAdmin); err == nil {
		t.Fatal("deauth of an unknown client succeeded")
	}
}

func TestTimeouts(t *testing.T) {
	ctx := context.Background()
	c := &clock{time.Unix(1e9, 0)}
	tb := newTable(Config{SessionTimeout: time.Hour, IdleTimeout: 10 * time.Minute}, new(storetest.Mem), c)
	var changes []Change
	tb.Watch(func(ch Change) { changes = append(changes, ch) })

	cl, _ := tb.Auth(ctx, a, ctlGrant(tb, 0))
	if want := c.t.Add(time.Hour); !cl.Expires.Equal(want) {
		t.Fatalf("expires %v, want %v", cl.Expires, want)
	}
	tb.Auth(ctx, b, ctlGrant(tb, 0))
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
			reasons = append(reasons, ch.Client.MAC.String()+" "+ch.Reason.String())
		}
	}
	want := []string{b.String() + " idle", a.String() + " timeout"}
	if len(reasons) != 2 || reasons[0] != want[0] || reasons[1] != want[1] {
		t.Errorf("sign-outs %q, want %q", reasons, want)
	}
}

func TestNextDeadline(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	tb := newTable(Config{SessionTimeout: time.Hour}, new(storetest.Mem), c)
	if next := tb.expire(); !next.IsZero() {
		t.Errorf("deadline %v with nobody signed in", next)
	}
	tb.Auth(context.Background(), a, ctlGrant(tb, 30*time.Minute))
	if next := tb.expire(); !next.Equal(c.t.Add(30 * time.Minute)) {
		t.Errorf("deadline %v", next)
	}
}

func TestPersistAcrossRestart(t *testing.T) {
	ctx := context.Background()
	st := new(storetest.Mem)
	c := &clock{time.Unix(1e9, 0)}
	tb := newTable(Config{SessionTimeout: time.Hour}, st, c)
	tb.Seen(a, netip.MustParseAddr("10.77.0.100"), "phone")
	before, _ := tb.Auth(ctx, a, ctlGrant(tb, 0))
	tb.SetBlocked(ctx, b, true, "t")
	if st.Syncs() < 2 {
		t.Errorf("sign-in and block made %d syncs; both must reach the disk", st.Syncs())
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
	tb2.Deauth(ctx, a, ReasonAdmin)
	tb3 := newTable(Config{}, st, c)
	if s := tb3.StateOf(a); s != Preauth {
		t.Errorf("signed-out a is %v after restart", s)
	}
}

func TestSeenMovesAddress(t *testing.T) {
	tb := newTable(Config{}, new(storetest.Mem), &clock{time.Unix(1e9, 0)})
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

// A signed-in client is signed in from the IPv4 address it signed in with
// only: a device that copies its MAC from another address is preauth to
// everyone who asks by address (DNS, relay, portal, responder), and the
// neighbour table does not move the session to it; a new lease does.
func TestCloneIsPreauth(t *testing.T) {
	tb := newTable(Config{}, new(storetest.Mem), &clock{time.Unix(1e9, 0)})
	own, clone := netip.MustParseAddr("10.77.0.50"), netip.MustParseAddr("10.77.0.60")
	tb.SetResolver(func(q netip.Addr) (net.HardwareAddr, bool) { return a, q == own || q == clone || q.Is6() })
	tb.Seen(b, clone, "") // the address the copy takes was b's
	var moves int
	tb.Watch(func(ch Change) {
		if ch.By == "address" {
			moves++
		}
	})
	tb.Auth(context.Background(), a, ctlGrant(tb, 0))
	// No address known yet: the first one seen becomes its own, and its
	// first query may come before the neighbour table reports it.
	if got, _ := tb.LookupIP(own); got.State != Authenticated {
		t.Errorf("signed in, address unknown: %v from %v", got.State, own)
	}
	tb.Seen(a, own, "")
	tb.Seen(a, clone, "") // the copy sends an ARP
	if got, _ := tb.Lookup(a); got.IP != own {
		t.Errorf("the neighbour table moved the session to %v", got.IP)
	}
	for _, tt := range []struct {
		ip   netip.Addr
		want State
	}{
		{own, Authenticated},
		{clone, Preauth},
		{netip.MustParseAddr("fd77::50"), Preauth},
	} {
		if got, ok := tb.LookupIP(tt.ip); !ok || got.State != tt.want || got.MAC.String() != a.String() {
			t.Errorf("LookupIP(%v) = %v %v, %v; want %v", tt.ip, got.MAC, got.State, ok, tt.want)
		}
		if got := tb.StateAt(a, tt.ip); got != tt.want {
			t.Errorf("StateAt(a, %v) = %v, want %v", tt.ip, got, tt.want)
		}
	}
	if got := tb.StateOf(a); got != Authenticated {
		t.Errorf("StateOf(a) = %v", got)
	}
	if got, _ := tb.Lookup(b); got.IP.IsValid() {
		t.Errorf("b still holds %v, which the neighbour table has at a's MAC", got.IP)
	}
	// Nor does a lease: the copy asks with another client identifier and
	// gets an address of its own, which stays preauth.
	tb.Leased(a, clone, "")
	if got := tb.StateAt(a, clone); got != Preauth || moves != 1 {
		t.Errorf("after a lease to the copy: %v from %v, %d address changes (want 1)", got, clone, moves)
	}
	if got := tb.StateAt(a, own); got != Authenticated {
		t.Errorf("after a lease to the copy the session left %v: %v", own, got)
	}
	// A preauth client follows the neighbour table.
	tb.Deauth(context.Background(), a, ReasonAdmin)
	tb.Seen(a, own, "")
	if got, _ := tb.Lookup(a); got.IP != own {
		t.Errorf("a preauth client's address did not follow the neighbour table: %v", got.IP)
	}
}

// A sign-in from an address binds that address, over one the table knew
// (a stale neighbour entry); signed in again from another, a new session
// begins there.
func TestAuthAt(t *testing.T) {
	tb := newTable(Config{}, new(storetest.Mem), &clock{time.Unix(1e9, 0)})
	stale, own, next := netip.MustParseAddr("10.77.0.61"), netip.MustParseAddr("10.77.0.62"), netip.MustParseAddr("10.77.0.63")
	var changes []Change
	tb.Watch(func(ch Change) { changes = append(changes, ch) })
	tb.Seen(a, stale, "")
	changes = nil
	if c, err := tb.AuthAt(context.Background(), a, own, ctlGrant(tb, 0)); err != nil || c.IP != own || c.State != Authenticated {
		t.Fatalf("AuthAt: %v %v, %v", c.IP, c.State, err)
	}
	if len(changes) != 1 || changes[0].Client.IP != own {
		t.Errorf("changes %+v, want one sign-in at %v", changes, own)
	}
	if got := tb.StateAt(a, stale); got != Preauth {
		t.Errorf("from the stale address: %v", got)
	}
	if got, ok := tb.LookupIP(own); !ok || got.State != Authenticated {
		t.Errorf("LookupIP(%v) = %v, %v", own, got.State, ok)
	}
	changes = nil
	tb.AuthAt(context.Background(), a, next, ctlGrant(tb, 0))
	// A new session there: the old one's sign-out, then the sign-in, both
	// at the new address.
	if len(changes) != 2 || changes[0].Event != SignOut || changes[0].Reason != ReasonAdmin || changes[0].Client.IP != next ||
		changes[1].Event != SignIn || changes[1].Client.IP != next {
		t.Errorf("signed in again from %v: changes %+v, want the old session's sign-out and a sign-in there", next, changes)
	}
	if _, ok := tb.LookupIP(own); ok {
		t.Errorf("%v still belongs to a", own)
	}
}

func TestReloadBlocks(t *testing.T) {
	ctx := context.Background()
	tb := newTable(Config{}, new(storetest.Mem), &clock{time.Unix(1e9, 0)})
	tb.Auth(ctx, a, ctlGrant(tb, 0))
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
	tb := New(Config{}, new(storetest.Mem), quiet())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- tb.Run(ctx) }()
	tb.Auth(ctx, a, ctlGrant(tb, time.Second))
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
	tb := newTable(Config{}, new(storetest.Mem), &clock{time.Unix(1e9, 0)})
	ip := netip.MustParseAddr("10.77.0.50")
	if _, ok := tb.LookupIP(ip); ok {
		t.Fatal("unknown IP found without a resolver")
	}
	calls := 0
	tb.SetResolver(func(q netip.Addr) (net.HardwareAddr, bool) {
		calls++
		return a, q == ip
	})
	tb.Auth(context.Background(), a, ctlGrant(tb, 0))
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

// A client known only from the neighbour table is forgotten 10 minutes
// after it was last seen (SPEC §4); seeing it again starts the 10 minutes
// anew; a lease holder, and a client signed in or trusted, stay.
func TestForgetUnseen(t *testing.T) {
	ctx := context.Background()
	c := &clock{time.Unix(1e9, 0)}
	tb := newTable(Config{}, new(storetest.Mem), c)
	ip := func(k int) netip.Addr { return netip.AddrFrom4([4]byte{10, 77, 0, byte(k)}) }
	mk := func(k int) net.HardwareAddr { return net.HardwareAddr{2, 0, 0, 0, 2, byte(k)} }
	tb.Seen(mk(1), ip(1), "")   // neighbour only, never again
	tb.Seen(mk(2), ip(2), "")   // neighbour only, seen again later
	tb.Leased(mk(3), ip(3), "") // a lease holder
	tb.Seen(mk(4), ip(4), "")   // signed in
	tb.Auth(ctx, mk(4), ctlGrant(tb, 0))
	tb.Seen(mk(5), ip(5), "") // trusted
	tb.SetTrusted(ctx, mk(5), true, "t")

	c.add(6 * time.Minute)
	tb.Seen(mk(2), ip(2), "")
	tb.expire()
	for k := 1; k <= 5; k++ {
		if _, ok := tb.Lookup(mk(k)); !ok {
			t.Fatalf("client %d forgotten after 6 minutes", k)
		}
	}
	c.add(4 * time.Minute) // 10 minutes since 1 was seen, 4 since 2 was
	if next := tb.expire(); !next.Equal(c.t.Add(6 * time.Minute)) {
		t.Errorf("next deadline %v, want when client 2 is 10 minutes unseen (%v)", next, c.t.Add(6*time.Minute))
	}
	want := map[int]bool{1: false, 2: true, 3: true, 4: true, 5: true}
	for k, known := range want {
		if _, ok := tb.Lookup(mk(k)); ok != known {
			t.Errorf("client %d known %v after 10 minutes, want %v", k, ok, known)
		}
	}
	if _, ok := tb.LookupIP(ip(1)); ok {
		t.Error("the forgotten client's address is still known")
	}
	c.add(6 * time.Minute)
	tb.expire()
	if _, ok := tb.Lookup(mk(2)); ok {
		t.Error("client 2 known 10 minutes after it was last seen")
	}
	// The lease holder goes when its lease ends, not by the clock; a
	// client known from both goes with its lease too.
	c.add(time.Hour)
	tb.expire()
	if _, ok := tb.Lookup(mk(3)); !ok {
		t.Error("a lease holder was forgotten while its lease runs")
	}
	tb.Forget(mk(3))
	if _, ok := tb.Lookup(mk(3)); ok {
		t.Error("a preauth client whose lease ended is still known")
	}
	// Signed out, a client is forgettable again: 10 minutes from then.
	tb.Deauth(ctx, mk(4), ReasonAdmin)
	c.add(9 * time.Minute)
	tb.expire()
	if _, ok := tb.Lookup(mk(4)); !ok {
		t.Error("a client forgotten 9 minutes after it signed out")
	}
	c.add(time.Minute)
	tb.expire()
	if _, ok := tb.Lookup(mk(4)); ok {
		t.Error("a signed-out neighbour-only client known 10 minutes after sign-out")
	}
	if _, ok := tb.Lookup(mk(5)); !ok {
		t.Error("a trusted client was forgotten")
	}
}

// With max_clients reached, a new client takes the place of the
// longest-unseen one known only from the neighbour table, else of the
// longest-unseen preauth lease holder; a signed-in, trusted or blocked
// one never makes room, and when only they are left, nobody new gets in.
func TestMaxClients(t *testing.T) {
	ctx := context.Background()
	mk := func(k int) net.HardwareAddr { return net.HardwareAddr{2, 0, 0, 0, byte(k >> 8), byte(k)} }
	ip := func(k int) netip.Addr { return netip.AddrFrom4([4]byte{10, 77, byte(k >> 8), byte(k)}) }
	tests := []struct {
		name  string
		setup func(tb *Table, c *clock) // fills a table of 4
		add   func(tb *Table) error     // the fifth client, mk(100)
		gone  []int                     // who made room; nil: nobody
		err   error
	}{
		{
			name: "longest-unseen neighbour-only makes room",
			setup: func(tb *Table, c *clock) {
				for k := 1; k <= 4; k++ {
					tb.Seen(mk(k), ip(k), "")
					c.add(time.Second)
				}
				tb.Seen(mk(1), ip(1), "") // seen again: now 2 is the longest unseen
			},
			add:  func(tb *Table) error { tb.Seen(mk(100), ip(100), ""); return nil },
			gone: []int{2},
		},
		{
			name: "neighbour-only before a lease holder seen longer ago",
			setup: func(tb *Table, c *clock) {
				tb.Leased(mk(1), ip(1), "")
				c.add(time.Second)
				for k := 2; k <= 4; k++ {
					tb.Seen(mk(k), ip(k), "")
				}
			},
			add:  func(tb *Table) error { tb.Leased(mk(100), ip(100), ""); return nil },
			gone: []int{2},
		},
		{
			name: "a preauth lease holder when no neighbour-only is left",
			setup: func(tb *Table, c *clock) {
				tb.Leased(mk(1), ip(1), "")
				tb.Auth(ctx, mk(1), ctlGrant(tb, 0)) // signed in
				c.add(time.Second)
				tb.Leased(mk(2), ip(2), "")
				c.add(time.Second)
				tb.Leased(mk(3), ip(3), "")
				tb.Seen(mk(4), ip(4), "")
				tb.SetBlocked(ctx, mk(4), true, "t")
			},
			add:  func(tb *Table) error { _, err := tb.Auth(ctx, mk(100), ctlGrant(tb, 0)); return err },
			gone: []int{2},
		},
		{
			name: "signed-in, trusted and blocked never make room",
			setup: func(tb *Table, c *clock) {
				tb.Seen(mk(1), ip(1), "")
				tb.Auth(ctx, mk(1), ctlGrant(tb, 0))
				tb.SetTrusted(ctx, mk(2), true, "t")
				tb.SetBlocked(ctx, mk(3), true, "t")
				tb.Leased(mk(4), ip(4), "")
				tb.Auth(ctx, mk(4), ctlGrant(tb, 0))
			},
			add: func(tb *Table) error {
				tb.Seen(mk(100), ip(100), "")
				_, err := tb.Auth(ctx, mk(100), ctlGrant(tb, 0))
				return err
			},
			err: ErrTableFull,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{time.Unix(1e9, 0)}
			tb := newTable(Config{MaxClients: 4}, new(storetest.Mem), c)
			tt.setup(tb, c)
			if n := len(tb.Clients()); n != 4 {
				t.Fatalf("set up %d clients, want 4", n)
			}
			c.add(time.Second)
			err := tt.add(tb)
			if !errors.Is(err, tt.err) {
				t.Fatalf("adding the fifth: %v, want %v", err, tt.err)
			}
			if n := len(tb.Clients()); n != 4 {
				t.Errorf("%d clients, want at most max_clients (4)", n)
			}
			_, in := tb.Lookup(mk(100))
			if in != (tt.gone != nil) {
				t.Errorf("the fifth client known: %v", in)
			}
			for k := 1; k <= 4; k++ {
				_, ok := tb.Lookup(mk(k))
				if want := !slices.Contains(tt.gone, k); ok != want {
					t.Errorf("client %d known %v, want %v", k, ok, want)
				}
			}
		})
	}
}

// A flood of new MACs keeps the table at max_clients, and a later reload
// that lowers the bound shrinks it; nothing forgotten comes back from the
// store at the next start.
func TestMaxClientsUnderFlood(t *testing.T) {
	ctx := context.Background()
	st := new(storetest.Mem)
	c := &clock{time.Unix(1e9, 0)}
	tb := newTable(Config{MaxClients: 100}, st, c)
	signedIn := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	tb.Seen(signedIn, netip.MustParseAddr("10.77.0.2"), "")
	tb.Auth(ctx, signedIn, ctlGrant(tb, 0))
	for i := range 20000 {
		m := net.HardwareAddr{6, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}
		tb.Seen(m, netip.AddrFrom4([4]byte{10, 77, 0, byte(2 + i%250)}), "")
		c.add(time.Millisecond)
	}
	if n := len(tb.Clients()); n != 100 {
		t.Errorf("%d clients after the flood, want max_clients (100)", n)
	}
	if s := tb.StateOf(signedIn); s != Authenticated {
		t.Errorf("the signed-in client is %v", s)
	}
	last := net.HardwareAddr{6, 0, 0, 0, byte(19999 >> 8), byte(19999 & 0xff)}
	if _, ok := tb.Lookup(last); !ok {
		t.Error("the newest client was not recorded")
	}
	tb.Reload(Config{MaxClients: 10})
	if n := len(tb.Clients()); n != 10 {
		t.Errorf("%d clients after max_clients went down to 10", n)
	}
	again := newTable(Config{MaxClients: 100}, st, c)
	if n := len(again.Clients()); n != 1 {
		t.Errorf("after a restart %d clients, want the signed-in one alone", n)
	}
}

func BenchmarkSeenFlood(b *testing.B) {
	tb := newTable(Config{MaxClients: 1024}, new(storetest.Mem), &clock{time.Unix(1e9, 0)})
	ip := netip.MustParseAddr("10.77.0.9")
	m := make(net.HardwareAddr, 6)
	m[0] = 6
	b.ReportAllocs()
	for i := range b.N {
		m[2], m[3], m[4], m[5] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		tb.Seen(m, ip, "")
	}
}

// OnLink follows the neighbour table: Seen puts a client on the link
// with its address, Gone, a new lease address or another MAC at the
// address take it off.
func TestOnLink(t *testing.T) {
	tb := newTable(Config{}, new(storetest.Mem), &clock{time.Unix(1e9, 0)})
	ip, ip2 := netip.MustParseAddr("10.77.0.100"), netip.MustParseAddr("10.77.0.101")
	steps := []struct {
		do       func()
		aOn, bOn bool // OnLink(a, ip), OnLink(b, ip)
	}{
		{func() { tb.Leased(a, ip, "") }, false, false},
		{func() { tb.Seen(a, ip, "") }, true, false},
		{func() { tb.Leased(a, ip, "") }, true, false}, // a renewal keeps it
		{func() { tb.Gone(ip) }, false, false},
		{func() { tb.Seen(a, ip, "") }, true, false},
		{func() { tb.Seen(b, ip, "") }, false, true},
		{func() { tb.Leased(b, ip2, "") }, false, false},
	}
	for i, s := range steps {
		s.do()
		if got := tb.OnLink(a, ip); got != s.aOn {
			t.Errorf("step %d: OnLink(a) = %v, want %v", i, got, s.aOn)
		}
		if got := tb.OnLink(b, ip); got != s.bOn {
			t.Errorf("step %d: OnLink(b) = %v, want %v", i, got, s.bOn)
		}
	}
}

// Forwarded sums what the firewall's counters grew by, for every client,
// and keeps counting across a counter that starts again and a client that
// is forgotten.
func TestForwarded(t *testing.T) {
	c := &clock{time.Unix(1e9, 0)}
	tb := newTable(Config{}, new(storetest.Mem), c)
	tb.Seen(a, ipA, "")
	tb.Account(a, 100, 1000)
	tb.Account(a, 150, 1500)
	tb.Account(a, 20, 30) // the firewall's element was made anew
	if up, down := tb.Forwarded(); up != 170 || down != 1530 {
		t.Fatalf("forwarded up %d down %d, want 170 1530", up, down)
	}
	tb.Forget(a)
	tb.Account(a, 999, 999) // not known any more: not counted
	if up, down := tb.Forwarded(); up != 170 || down != 1530 {
		t.Fatalf("after forgetting: up %d down %d", up, down)
	}
}
