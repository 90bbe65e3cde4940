package session

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/store"
	"github.com/lobby-fw/lobby/internal/store/storetest"
)

func TestLimitsOver(t *testing.T) {
	lobby := Limits{SessionTimeout: 24 * time.Hour, IdleTimeout: time.Hour, DownloadRate: 10e6, UploadRate: 2e6, Quota: 5e9, Given: GivenAll}
	tests := []struct {
		name   string
		method Limits
		want   Limits
	}{
		{"nothing given: config lobby's", Limits{}, lobby},
		{"all given", Limits{SessionTimeout: 30 * time.Minute, IdleTimeout: 10 * time.Minute, DownloadRate: 2e6, UploadRate: 512e3, Quota: 300e6, Given: GivenAll},
			Limits{SessionTimeout: 30 * time.Minute, IdleTimeout: 10 * time.Minute, DownloadRate: 2e6, UploadRate: 512e3, Quota: 300e6, Given: GivenAll}},
		{"a given 0 is none, not config lobby's", Limits{Given: GivenQuota | GivenSessionTimeout},
			Limits{SessionTimeout: 0, IdleTimeout: time.Hour, DownloadRate: 10e6, UploadRate: 2e6, Quota: 0, Given: GivenAll}},
		{"a value not given is ignored", Limits{DownloadRate: 1, UploadRate: 3e6, Given: GivenUploadRate},
			Limits{SessionTimeout: 24 * time.Hour, IdleTimeout: time.Hour, DownloadRate: 10e6, UploadRate: 3e6, Quota: 5e9, Given: GivenAll}},
		{"each field alone", Limits{IdleTimeout: time.Minute, Given: GivenIdleTimeout},
			Limits{SessionTimeout: 24 * time.Hour, IdleTimeout: time.Minute, DownloadRate: 10e6, UploadRate: 2e6, Quota: 5e9, Given: GivenAll}},
		{"download alone", Limits{DownloadRate: 0, Given: GivenDownloadRate},
			Limits{SessionTimeout: 24 * time.Hour, IdleTimeout: time.Hour, DownloadRate: 0, UploadRate: 2e6, Quota: 5e9, Given: GivenAll}},
	}
	for _, tt := range tests {
		if got := tt.method.Over(lobby); got != tt.want {
			t.Errorf("%s: %+v.Over(lobby) = %+v, want %+v", tt.name, tt.method, got, tt.want)
		}
	}
	// Over defaults that give nothing (config lobby's zero Limits) is the
	// method's own, with none for the rest.
	if got := (Limits{Quota: 7, Given: GivenQuota}).Over(Limits{}); got != (Limits{Quota: 7, Given: GivenAll}) {
		t.Errorf("over nothing: %+v", got)
	}
}

// NewGrant makes the grant with the table's defaults and clock; Auth keeps
// it with the session, and every Change of a sign-in carries it.
func TestAuthKeepsTheGrant(t *testing.T) {
	ctx := context.Background()
	c := &clock{time.Unix(1e9, 0)}
	cfg := Config{SessionTimeout: 2 * time.Hour, IdleTimeout: 10 * time.Minute, DownloadRate: 5e6, Quota: 1e9}
	tb := newTable(cfg, new(storetest.Mem), c)
	tb.Seen(a, ipA, "")
	tb.Account(a, 100, 200) // counted before the session: not its bytes
	var changes []Change
	tb.Watch(func(ch Change) { changes = append(changes, ch) })

	g := tb.NewGrant(MethodVoucher, "ABCDE-FGHJK", Limits{UploadRate: 1e6, Quota: 0, Given: GivenUploadRate | GivenQuota})
	id := g.SessionID // made before the sign-in, for a RADIUS Access-Request
	g.BaseUp = 99     // the table's to set
	cl, err := tb.Auth(ctx, a, g)
	if err != nil {
		t.Fatal(err)
	}
	got := cl.Grant
	if got.Method != MethodVoucher || got.User != "ABCDE-FGHJK" || !got.End.Equal(c.t.Add(2*time.Hour)) ||
		got.IdleTimeout != 10*time.Minute || got.DownloadRate != 5e6 || got.UploadRate != 1e6 || got.Quota != 0 {
		t.Errorf("grant %+v", got)
	}
	if got.SessionID != id || len(id) != 16 || !got.Start.Equal(c.t) || got.BaseUp != 100 || got.BaseDown != 200 {
		t.Errorf("the table's part: %+v", got)
	}
	if !cl.Expires.Equal(got.End) {
		t.Errorf("Expires %v, End %v", cl.Expires, got.End)
	}
	if len(changes) != 1 || changes[0].Event != SignIn || changes[0].Grant.SessionID != got.SessionID || changes[0].Old != Preauth {
		t.Fatalf("changes %+v", changes)
	}
	// A second sign-in is a new session with a new ID.
	cl2, _ := tb.Auth(ctx, a, tb.NewGrant(MethodCtl, "", Limits{}))
	if cl2.Grant.SessionID == got.SessionID {
		t.Error("a new session kept the old session's ID")
	}
	// The same grant twice is two sessions, with two IDs.
	again := tb.NewGrant(MethodCtl, "", Limits{})
	cl3, _ := tb.Auth(ctx, a, again)
	cl4, _ := tb.Auth(ctx, a, again)
	if cl3.Grant.SessionID != again.SessionID || cl4.Grant.SessionID == cl3.Grant.SessionID || cl4.Grant.SessionID == "" {
		t.Errorf("one grant twice: IDs %q then %q", cl3.Grant.SessionID, cl4.Grant.SessionID)
	}
	if _, err := tb.Auth(ctx, a, Grant{Method: "magic"}); err == nil {
		t.Error("an unknown method signed in")
	}
	if _, err := tb.Auth(ctx, b, Grant{Method: MethodClick, End: c.t}); err == nil {
		t.Error("a grant that ends at once signed in")
	}
	// Signed out, the client has no grant left.
	out, _ := tb.Deauth(ctx, a, ReasonLogout)
	if !reflect.DeepEqual(out.Grant, Grant{}) || out.State != Preauth {
		t.Errorf("after sign-out: %+v", out)
	}
}

var ipA = netip.MustParseAddr("10.77.0.100")

// Every path out of a session carries its reason, the grant that ended,
// and the client as it is after; a sign-in over a running session ends
// that one first.
func TestSignOutReasons(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		cfg     Config
		signIn  Method
		do      func(tb *Table, c *clock)
		reasons []Reason
		state   State
	}{
		{"logout", Config{}, MethodClick, func(tb *Table, _ *clock) { tb.Deauth(ctx, a, ReasonLogout) }, []Reason{ReasonLogout}, Preauth},
		{"admin", Config{}, MethodClick, func(tb *Table, _ *clock) { tb.Deauth(ctx, a, ReasonAdmin) }, []Reason{ReasonAdmin}, Preauth},
		{"revoked", Config{}, MethodVoucher, func(tb *Table, _ *clock) { tb.Deauth(ctx, a, ReasonRevoked) }, []Reason{ReasonRevoked}, Preauth},
		{"radius", Config{}, MethodRADIUS, func(tb *Table, _ *clock) { tb.Deauth(ctx, a, ReasonRADIUS) }, []Reason{ReasonRADIUS}, Preauth},
		{"blocked by ctl", Config{}, MethodClick, func(tb *Table, _ *clock) { tb.SetBlocked(ctx, a, true, "ctl") }, []Reason{ReasonBlocked}, Blocked},
		{"blocked by the config", Config{}, MethodClick, func(tb *Table, _ *clock) {
			tb.Reload(Config{BlockedMAC: []net.HardwareAddr{a}})
		}, []Reason{ReasonBlocked}, Blocked},
		{"timeout", Config{SessionTimeout: time.Hour}, MethodClick, func(tb *Table, c *clock) {
			c.add(time.Hour)
			tb.expire()
		}, []Reason{ReasonTimeout}, Preauth},
		{"idle", Config{IdleTimeout: time.Minute}, MethodClick, func(tb *Table, c *clock) {
			c.add(time.Minute)
			tb.expire()
		}, []Reason{ReasonIdle}, Preauth},
		{"quota", Config{Quota: 1000}, MethodClick, func(tb *Table, _ *clock) { tb.Account(a, 600, 400) }, []Reason{ReasonQuota}, Preauth},
		{"a guest signing in again", Config{}, MethodClick, func(tb *Table, _ *clock) {
			tb.Auth(ctx, a, tb.NewGrant(MethodVoucher, "ABCDE-FGHJK", Limits{}))
		}, []Reason{ReasonLogout, 0}, Authenticated},
		{"ctl signing in again", Config{}, MethodClick, func(tb *Table, _ *clock) {
			tb.Auth(ctx, a, tb.NewGrant(MethodCtl, "", Limits{}))
		}, []Reason{ReasonAdmin, 0}, Authenticated},
		{"trusted, then signed out", Config{}, MethodClick, func(tb *Table, _ *clock) {
			tb.SetTrusted(ctx, a, true, "ctl")
			tb.Deauth(ctx, a, ReasonAdmin)
		}, []Reason{0, ReasonAdmin}, Trusted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{time.Unix(1e9, 0)}
			tb := newTable(tt.cfg, new(storetest.Mem), c)
			tb.Seen(a, ipA, "")
			first, err := tb.Auth(ctx, a, tb.NewGrant(tt.signIn, "user", Limits{}))
			if err != nil {
				t.Fatal(err)
			}
			var changes []Change
			tb.Watch(func(ch Change) { changes = append(changes, ch) })
			tt.do(tb, c)
			var reasons []Reason
			for _, ch := range changes {
				reasons = append(reasons, ch.Reason)
				if ch.Event == SignOut && (ch.Grant.SessionID != first.Grant.SessionID || ch.Grant.Method != tt.signIn) {
					t.Errorf("the sign-out's grant %+v is not the session's %+v", ch.Grant, first.Grant)
				}
				if ch.Client.State != tt.state || ch.Old != Authenticated && ch.Old != Trusted {
					t.Errorf("change %v: client %v, was %v", ch.Event, ch.Client.State, ch.Old)
				}
			}
			if !equal(reasons, tt.reasons) {
				t.Errorf("reasons %v, want %v", reasons, tt.reasons)
			}
			if s := tb.StateOf(a); s != tt.state {
				t.Errorf("state %v, want %v", s, tt.state)
			}
		})
	}
}

func equal(a, b []Reason) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The grant's own end and idle timeout hold, not config lobby's; the
// quota ends the session in the Account call that crosses it.
func TestGrantEnforced(t *testing.T) {
	ctx := context.Background()
	c := &clock{time.Unix(1e9, 0)}
	tb := newTable(Config{SessionTimeout: 24 * time.Hour, IdleTimeout: time.Hour}, new(storetest.Mem), c)
	var outs []string
	tb.Watch(func(ch Change) {
		if ch.Event == SignOut {
			outs = append(outs, ch.Client.MAC.String()+" "+ch.Reason.String())
		}
	})
	m := func(k byte) net.HardwareAddr { return net.HardwareAddr{2, 0, 0, 0, 3, k} }
	tb.Seen(m(3), netip.MustParseAddr("10.77.0.3"), "")
	tb.Account(m(3), 5000, 5000) // bytes before the session do not count
	grants := map[byte]Limits{
		1: {SessionTimeout: 10 * time.Minute, Given: GivenSessionTimeout},
		2: {IdleTimeout: 2 * time.Minute, Given: GivenIdleTimeout},
		3: {Quota: 1000, Given: GivenQuota},
		4: {IdleTimeout: 0, SessionTimeout: 0, Given: GivenIdleTimeout | GivenSessionTimeout}, // none: never
	}
	for k, l := range grants {
		if _, err := tb.Auth(ctx, m(k), tb.NewGrant(MethodRADIUS, "u", l)); err != nil {
			t.Fatal(err)
		}
	}
	if next := tb.expire(); !next.Equal(c.t.Add(2 * time.Minute)) {
		t.Errorf("next deadline %v, want the idle timeout of 2 (%v)", next, c.t.Add(2*time.Minute))
	}
	// Three quarters of the quota, in a minute.
	c.add(time.Minute)
	tb.Account(m(3), 5000+500, 5000+250)
	tb.Account(m(2), 1, 1) // traffic keeps 2 from idling
	if s := tb.StateOf(m(3)); s != Authenticated {
		t.Fatalf("3 is %v with a quarter of its quota left", s)
	}
	if cl, _ := tb.Lookup(m(3)); func() bool { l, ok := cl.QuotaLeft(); return !ok || l != 250 }() {
		t.Errorf("quota left of 3: %+v", cl)
	}
	// The byte that uses it up: signed out within this Account call.
	tb.Account(m(3), 5000+500, 5000+500)
	if s := tb.StateOf(m(3)); s != Preauth {
		t.Errorf("3 is %v with its quota used up", s)
	}
	c.add(2 * time.Minute) // 2 idle since its last byte
	tb.expire()
	c.add(7 * time.Minute) // 1's 10 minutes
	tb.expire()
	c.add(48 * time.Hour) // config lobby's timeouts long past; 4 has none
	tb.expire()
	want := []string{m(3).String() + " quota", m(2).String() + " idle", m(1).String() + " timeout"}
	if strings.Join(outs, ",") != strings.Join(want, ",") {
		t.Errorf("sign-outs %q, want %q", outs, want)
	}
	if s := tb.StateOf(m(4)); s != Authenticated {
		t.Errorf("4, with neither end nor idle timeout, is %v", s)
	}
}

// Limit changes a running session's limits in one Change; the session's
// identity stays; limits it is already past sign it out at once.
func TestLimit(t *testing.T) {
	ctx := context.Background()
	c := &clock{time.Unix(1e9, 0)}
	tb := newTable(Config{SessionTimeout: time.Hour}, new(storetest.Mem), c)
	tb.Seen(a, ipA, "")
	before, _ := tb.Auth(ctx, a, tb.NewGrant(MethodVoucher, "CODE", Limits{}))
	var changes []Change
	tb.Watch(func(ch Change) { changes = append(changes, ch) })

	cl, err := tb.Limit(ctx, a, func(g *Grant, now time.Time) {
		g.DownloadRate, g.UploadRate, g.Quota = 2e6, 512e3, 300e6
		g.End = now.Add(3 * time.Hour)
		g.Method, g.SessionID, g.BaseUp = MethodCtl, "x", 7 // not Limit's to change
	})
	if err != nil {
		t.Fatal(err)
	}
	g := cl.Grant
	if g.DownloadRate != 2e6 || g.UploadRate != 512e3 || g.Quota != 300e6 || !g.End.Equal(c.t.Add(3*time.Hour)) {
		t.Errorf("grant after Limit: %+v", g)
	}
	if g.Method != MethodVoucher || g.User != "CODE" || g.SessionID != before.Grant.SessionID || g.BaseUp != 0 || !g.Start.Equal(before.Grant.Start) {
		t.Errorf("Limit changed the session's identity: %+v, was %+v", g, before.Grant)
	}
	if len(changes) != 1 || changes[0].Event != LimitChange || !reflect.DeepEqual(changes[0].Grant, g) || changes[0].Client.State != Authenticated {
		t.Fatalf("changes %+v", changes)
	}
	if next := tb.expire(); !next.Equal(c.t.Add(3 * time.Hour)) {
		t.Errorf("next deadline %v after the new end", next)
	}

	// A quota below what the session used signs it out now.
	tb.Account(a, 1000, 1000)
	changes = nil
	cl, err = tb.Limit(ctx, a, func(g *Grant, _ time.Time) { g.Quota = 1500 })
	if err != nil || cl.State != Preauth || len(changes) != 1 || changes[0].Event != SignOut || changes[0].Reason != ReasonQuota {
		t.Errorf("quota below the use: %v, %+v, changes %+v", err, cl, changes)
	}
	if _, err := tb.Limit(ctx, a, func(*Grant, time.Time) {}); err == nil {
		t.Error("Limit of a client not signed in succeeded")
	}
	if _, err := tb.Limit(ctx, b, func(*Grant, time.Time) {}); err == nil {
		t.Error("Limit of an unknown client succeeded")
	}
}

// A restart keeps the grant — time and data left — through the real store,
// and even a kill -9 right after the sign-in: Auth waits for the disk.
func TestGrantSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func() *store.Store {
		st, err := store.Open(dir, store.Config{Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	c := &clock{time.Unix(1e9, 0)}
	cfg := Config{SessionTimeout: time.Hour, IdleTimeout: 10 * time.Minute}
	st := open()
	tb := newTable(cfg, st, c)
	tb.Seen(a, ipA, "phone")
	tb.Account(a, 1000, 2000)
	before, err := tb.Auth(ctx, a, tb.NewGrant(MethodVoucher, "ABCDE-FGHJK",
		Limits{DownloadRate: 2e6, UploadRate: 512e3, Quota: 10000, Given: GivenDownloadRate | GivenUploadRate | GivenQuota}))
	if err != nil {
		t.Fatal(err)
	}
	tb.Limit(ctx, a, func(g *Grant, _ time.Time) { g.Class = [][]byte{[]byte("room 12")}; g.InterimInterval = time.Minute })
	c.add(time.Minute)
	tb.Account(a, 1000+3000, 2000+1000) // 4000 of 10000 used
	if err := st.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	st.Close()

	c.add(time.Minute)
	st = open()
	defer st.Close()
	tb2 := newTable(Config{SessionTimeout: 24 * time.Hour}, st, c) // the reload changed config lobby: the session keeps its grant
	after, ok := tb2.Lookup(a)
	if !ok || after.State != Authenticated {
		t.Fatalf("after restart: %+v", after)
	}
	want := before.Grant
	want.Class, want.InterimInterval = [][]byte{[]byte("room 12")}, time.Minute
	if g := after.Grant; g.Method != want.Method || g.User != want.User || !g.End.Equal(want.End) || g.IdleTimeout != want.IdleTimeout ||
		g.DownloadRate != want.DownloadRate || g.UploadRate != want.UploadRate || g.Quota != want.Quota ||
		g.SessionID != want.SessionID || !g.Start.Equal(want.Start) || g.BaseUp != 1000 || g.BaseDown != 2000 ||
		len(g.Class) != 1 || string(g.Class[0]) != "room 12" || g.InterimInterval != time.Minute {
		t.Errorf("grant after restart\n %+v\nwant\n %+v", g, want)
	}
	if left, ok := after.QuotaLeft(); !ok || left != 6000 {
		t.Errorf("quota left after restart: %d, %v; want 6000", left, ok)
	}
	// The quota counts on from there.
	tb2.Account(a, 4000+6000, 3000)
	if s := tb2.StateOf(a); s != Preauth {
		t.Errorf("after the rest of its quota: %v", s)
	}
}

// A session stored before grants comes back with its end, config lobby's
// idle timeout, and an ID that it keeps from then on.
func TestOldRecordMigrates(t *testing.T) {
	st := new(storetest.Mem)
	end := time.Unix(1e9, 0).Add(time.Hour)
	old := map[string]any{"mac": a.String(), "authenticated": true, "auth_since": time.Unix(1e9, 0), "expires": end, "since": time.Unix(1e9, 0), "bytes_up": 50}
	st.Put(kind, a.String(), old)
	c := &clock{time.Unix(1e9, 0).Add(time.Minute)}
	tb := newTable(Config{IdleTimeout: 5 * time.Minute}, st, c)
	cl, _ := tb.Lookup(a)
	g := cl.Grant
	if cl.State != Authenticated || !g.End.Equal(end) || g.IdleTimeout != 5*time.Minute || g.SessionID == "" || g.BaseUp != 50 || g.Method != "" {
		t.Errorf("migrated %+v", cl)
	}
	var r record
	json.Unmarshal(st.Records(kind)[a.String()], &r)
	if r.Grant == nil || r.Grant.SessionID != g.SessionID {
		t.Errorf("the migrated grant was not stored: %+v", r)
	}
	tb2 := newTable(Config{}, st, c)
	if cl2, _ := tb2.Lookup(a); cl2.Grant.SessionID != g.SessionID {
		t.Errorf("session ID %q after a second start, was %q", cl2.Grant.SessionID, g.SessionID)
	}
}

// A session restored over its quota (the sign-out was lost in a crash)
// ends at once.
func TestRestoredOverQuota(t *testing.T) {
	st := new(storetest.Mem)
	c := &clock{time.Unix(1e9, 0)}
	tb := newTable(Config{}, st, c)
	tb.Auth(context.Background(), a, tb.NewGrant(MethodClick, "", Limits{Quota: 100, Given: GivenQuota}))
	var r record
	json.Unmarshal(st.Records(kind)[a.String()], &r)
	r.BytesUp = 200
	st.Put(kind, a.String(), r)
	tb2 := newTable(Config{}, st, c)
	tb2.expire()
	if s := tb2.StateOf(a); s != Preauth {
		t.Errorf("restored over its quota: %v", s)
	}
}

// TestSettle: before a session ends for any reason but its quota, the
// table has the counters read (SetSettle), so the sign-out carries the
// session's last bytes; an idle timeout sees traffic that the periodic
// reading had not counted yet.
func TestSettle(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		end     func(tb *Table, c *clock)
		reason  Reason // the sign-out's reason; 0: none
		settled int    // readings asked for
	}{
		{"logout", func(tb *Table, _ *clock) { tb.Deauth(ctx, a, ReasonLogout) }, ReasonLogout, 1},
		{"blocked", func(tb *Table, _ *clock) { tb.SetBlocked(ctx, a, true, "ctl") }, ReasonBlocked, 1},
		{"signed in again", func(tb *Table, _ *clock) { tb.Auth(ctx, a, ctlGrant(tb, time.Hour)) }, ReasonAdmin, 1},
		{"timeout", func(tb *Table, c *clock) { c.add(time.Hour); tb.expire() }, ReasonTimeout, 1},
		// Idle by the last reading, but the reading asked for finds
		// traffic: the session runs on.
		{"idle but active", func(tb *Table, c *clock) { c.add(10 * time.Minute); tb.expire() }, 0, 1},
		// The reading that found the quota used up is fresh: none more.
		{"quota", func(tb *Table, _ *clock) { tb.Account(a, 0, 5000) }, ReasonQuota, 0},
		{"nothing ends", func(tb *Table, c *clock) { c.add(time.Minute); tb.expire(); tb.Deauth(ctx, b, ReasonLogout) }, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{time.Unix(1e9, 0)}
			tb := newTable(Config{SessionTimeout: time.Hour, IdleTimeout: 10 * time.Minute}, new(storetest.Mem), c)
			g := ctlGrant(tb, time.Hour)
			g.Quota = 4000
			if _, err := tb.Auth(ctx, a, g); err != nil {
				t.Fatal(err)
			}
			tb.Account(a, 100, 1000) // the last periodic reading
			// What the kernel counted since: 200 bytes up, 2000 down.
			settled := 0
			tb.SetSettle(func() { settled++; tb.Account(a, 300, 3000) })
			var ended []Change
			tb.Record(func(ch Change) {
				if ch.Event == SignOut {
					ended = append(ended, ch)
				}
			})
			tt.end(tb, c)
			if settled != tt.settled {
				t.Errorf("%d readings asked for, want %d", settled, tt.settled)
			}
			if tt.reason == 0 {
				if len(ended) != 0 || tb.StateOf(a) != Authenticated {
					t.Fatalf("signed out: %+v", ended)
				}
				return
			}
			if len(ended) != 1 || ended[0].Reason != tt.reason {
				t.Fatalf("sign-outs %+v, want one with reason %v", ended, tt.reason)
			}
			wantUp, wantDown := uint64(300), uint64(3000)
			if tt.reason == ReasonQuota {
				wantUp, wantDown = 0, 5000
			}
			if up, down := ended[0].Grant.Used(ended[0].Client.BytesUp, ended[0].Client.BytesDown); up != wantUp || down != wantDown {
				t.Errorf("the sign-out carries %d up, %d down, want %d, %d", up, down, wantUp, wantDown)
			}
		})
	}
}
