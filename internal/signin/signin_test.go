package signin

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/store/storetest"
	"github.com/lobby-fw/lobby/internal/voucher"
)

// clock is a settable clock, started at the real time because the table
// keeps its own.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().Truncate(time.Second)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type rig struct {
	table *session.Table
	store *storetest.Mem
	book  *voucher.Book
	svc   *Service
	clock *clock
}

var lobbyLimits = session.Config{SessionTimeout: 24 * time.Hour, IdleTimeout: time.Hour, DownloadRate: 10e6}

func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	r := &rig{store: &storetest.Mem{}, clock: newClock()}
	r.start(t, cfg)
	return r
}

// start builds the table, the Book and the service from r's store, as a
// daemon's start does.
func (r *rig) start(t *testing.T, cfg Config) {
	t.Helper()
	r.table = session.New(lobbyLimits, r.store, slog.New(slog.DiscardHandler))
	r.book = voucher.New(r.store, voucher.Config{})
	svc, err := New(cfg, Options{Table: r.table, Store: r.store, Book: r.book, Now: r.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	r.svc = svc
	r.table.Watch(svc.Watch)
}

func mac(n byte) net.HardwareAddr { return net.HardwareAddr{2, 0, 0, 0, 1, n} }

func refusal(t *testing.T, err error) *Refusal {
	t.Helper()
	ref, ok := errors.AsType[*Refusal](err)
	if !ok {
		t.Fatalf("want a refusal, got %v", err)
	}
	return ref
}

func TestClickLimitsFallBackToConfigLobby(t *testing.T) {
	cfg := Config{Methods: []session.Method{session.MethodClick}, Click: ClickConfig{
		Limits: session.Limits{SessionTimeout: 30 * time.Minute, Quota: 300e6, Given: session.GivenSessionTimeout | session.GivenQuota},
	}}
	r := newRig(t, cfg)
	c, err := r.svc.SignIn(context.Background(), Request{MAC: mac(1), Method: session.MethodClick})
	if err != nil {
		t.Fatal(err)
	}
	g := c.Grant
	if g.Method != session.MethodClick || g.Quota != 300e6 || g.IdleTimeout != time.Hour || g.DownloadRate != 10e6 {
		t.Errorf("grant %+v: want click's quota, config lobby's idle timeout and rate", g)
	}
	if left := time.Until(g.End); left > 30*time.Minute || left < 29*time.Minute {
		t.Errorf("session ends in %v, want click's 30m", left)
	}
}

func TestClickCooldown(t *testing.T) {
	cfg := Config{Methods: []session.Method{session.MethodClick}, Click: ClickConfig{Cooldown: 2 * time.Hour}}
	r := newRig(t, cfg)
	ctx := context.Background()
	req := Request{MAC: mac(1), Method: session.MethodClick}
	if _, err := r.svc.SignIn(ctx, req); err != nil {
		t.Fatal(err)
	}
	// Signed in: no cooldown yet, and another device is not concerned.
	if _, err := r.svc.SignIn(ctx, Request{MAC: mac(2), Method: session.MethodClick}); err != nil {
		t.Fatal(err)
	}
	r.clock.add(10 * time.Minute)
	ended := r.clock.now()
	if _, err := r.table.Deauth(ctx, mac(1), session.ReasonIdle); err != nil {
		t.Fatal(err)
	}
	r.clock.add(time.Hour)
	ref := refusal(t, func() error { _, err := r.svc.SignIn(ctx, req); return err }())
	want := ended.Add(2*time.Hour + time.Minute - 1).Truncate(time.Minute)
	if ref.Wait < time.Hour || ref.Wait > time.Hour+time.Minute {
		t.Errorf("wait %v, want an hour", ref.Wait)
	}
	if !strings.Contains(ref.Message, want.Local().Format("15:04")) {
		t.Errorf("refusal %q does not say %s", ref.Message, want.Local().Format("15:04"))
	}
	if c, _ := r.table.Lookup(mac(1)); c.State != session.Preauth {
		t.Errorf("refused device is %v", c.State)
	}

	// A restart keeps the cooldown (it is in the store).
	r.start(t, cfg)
	refusal(t, func() error { _, err := r.svc.SignIn(ctx, req); return err }())

	// A reload that lifts it lets the device in; one after its end too.
	r.clock.add(time.Hour + time.Minute)
	if _, err := r.svc.SignIn(ctx, req); err != nil {
		t.Fatalf("after the cooldown: %v", err)
	}
}

func TestMethodNotOffered(t *testing.T) {
	r := newRig(t, Config{Methods: []session.Method{session.MethodVoucher}})
	_, err := r.svc.SignIn(context.Background(), Request{MAC: mac(1), Method: session.MethodClick})
	if err != ErrNoMethod {
		t.Fatalf("click while only voucher is offered: %v", err)
	}
	if err := r.svc.Reload(Config{Methods: []session.Method{session.MethodRADIUS}}); err == nil {
		t.Error("method radius without config radius was accepted")
	}
}

func newCode(t *testing.T, r *rig, l voucher.Limits) string {
	t.Helper()
	vs, err := r.svc.Voucher().Create(context.Background(), voucher.Batch{Count: 1, Limits: l})
	if err != nil {
		t.Fatal(err)
	}
	return vs[0].Code.String()
}

func TestVoucherSeatsAndComeback(t *testing.T) {
	cfg := Config{Methods: []session.Method{session.MethodClick, session.MethodVoucher}}
	r := newRig(t, cfg)
	ctx := context.Background()
	code := newCode(t, r, voucher.Limits{Duration: 2 * time.Hour, Devices: 2, UploadRate: 1e6, Quota: 1e9})
	in := func(n byte, typed string) error {
		_, err := r.svc.SignIn(ctx, Request{MAC: mac(n), Method: session.MethodVoucher, Code: typed})
		return err
	}
	// Typed in lower case, without the dash.
	if err := in(1, strings.ToLower(strings.ReplaceAll(code, "-", ""))); err != nil {
		t.Fatal(err)
	}
	if err := in(2, code); err != nil {
		t.Fatal(err)
	}
	c, _ := r.table.Lookup(mac(1))
	g := c.Grant
	if g.Method != session.MethodVoucher || g.User != code || g.UploadRate != 1e6 || g.DownloadRate != 10e6 || g.Quota != 1e9 {
		t.Errorf("grant %+v: want the code's limits, config lobby's download rate", g)
	}
	if v, _ := r.book.Show(mustParse(t, code), r.clock.now()); !g.End.Equal(v.Ends) {
		t.Errorf("session ends %v, code %v", g.End, v.Ends)
	}
	if ref := refusal(t, in(3, code)); !strings.Contains(ref.Message, "2 devices") || ref.Wait != 0 {
		t.Errorf("third device: %q", ref.Message)
	}

	// The same device again with the same code keeps its seat: a third
	// device is still refused.
	if err := in(1, code); err != nil {
		t.Fatal(err)
	}
	refusal(t, in(3, code))

	// A device's session ends: its seat is free for the third.
	if _, err := r.table.Deauth(ctx, mac(2), session.ReasonLogout); err != nil {
		t.Fatal(err)
	}
	if err := in(3, code); err != nil {
		t.Fatalf("after a seat was freed: %v", err)
	}
	// The device that left comes back while both seats are taken.
	refusal(t, in(2, code))

	// Signing in by click ends device 1's voucher session and frees its
	// seat.
	if _, err := r.svc.SignIn(ctx, Request{MAC: mac(1), Method: session.MethodClick}); err != nil {
		t.Fatal(err)
	}
	if err := in(2, code); err != nil {
		t.Fatalf("device 2 comes back: %v", err)
	}
	v, _ := r.book.Show(mustParse(t, code), r.clock.now())
	if len(v.Devices) != 2 {
		t.Errorf("devices %v, want 3 and 2", v.Devices)
	}
}

func mustParse(t *testing.T, s string) voucher.Code {
	t.Helper()
	c, err := voucher.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestVoucherRefusals(t *testing.T) {
	r := newRig(t, Config{Methods: []session.Method{session.MethodVoucher}})
	ctx := context.Background()
	in := func(typed string) error {
		_, err := r.svc.SignIn(ctx, Request{MAC: mac(1), Method: session.MethodVoucher, Code: typed})
		return err
	}
	if ref := refusal(t, in("ABCDE-0")); !strings.Contains(ref.Message, "not a code") {
		t.Errorf("malformed: %q", ref.Message)
	}
	var last *Refusal
	for range 5 {
		last = refusal(t, in("ABCDE-FGHJK"))
	}
	if last.Wait <= 0 {
		t.Errorf("the fifth wrong code asks no wait: %+v", last)
	}
	code := newCode(t, r, voucher.Limits{Duration: time.Hour, Devices: 1})
	if ref := refusal(t, in(code)); ref.Wait <= 0 {
		t.Errorf("a right code during the wait is not refused with a wait: %+v", ref)
	}
}

func TestVoucherUsageRevokeAndRestart(t *testing.T) {
	cfg := Config{Methods: []session.Method{session.MethodVoucher}}
	r := newRig(t, cfg)
	ctx := context.Background()
	code := newCode(t, r, voucher.Limits{Duration: 2 * time.Hour, Devices: 2, Quota: 1000})
	for n := byte(1); n <= 2; n++ {
		if _, err := r.svc.SignIn(ctx, Request{MAC: mac(n), Method: session.MethodVoucher, Code: code}); err != nil {
			t.Fatal(err)
		}
	}
	r.table.Account(mac(1), 100, 200)
	r.svc.voucher.tick(ctx)
	v, _ := r.book.Show(mustParse(t, code), r.clock.now())
	if v.BytesUsed != 300 {
		t.Fatalf("bytes used %d, want 300", v.BytesUsed)
	}

	// A restart counts from where the session stood: no byte twice.
	r.start(t, cfg)
	r.table.Account(mac(1), 150, 250)
	r.svc.voucher.tick(ctx)
	if v, _ = r.book.Show(mustParse(t, code), r.clock.now()); v.BytesUsed != 400 || len(v.Devices) != 2 {
		t.Fatalf("after restart: %d bytes, devices %v; want 400 and both", v.BytesUsed, v.Devices)
	}

	// Device 2 uses up the shared quota: both are signed out, reason
	// quota.
	var reasons []session.Reason
	r.table.Watch(func(ch session.Change) {
		if ch.Event == session.SignOut {
			reasons = append(reasons, ch.Reason)
		}
	})
	r.table.Account(mac(2), 300, 300)
	r.svc.voucher.tick(ctx)
	for n := byte(1); n <= 2; n++ {
		if c, _ := r.table.Lookup(mac(n)); c.State != session.Authenticated {
			continue
		}
		t.Errorf("device %d still signed in after the quota was used up", n)
	}
	if len(reasons) != 2 || reasons[0] != session.ReasonQuota || reasons[1] != session.ReasonQuota {
		t.Errorf("sign-out reasons %v, want quota twice", reasons)
	}
	ref := refusal(t, func() error {
		_, err := r.svc.SignIn(ctx, Request{MAC: mac(1), Method: session.MethodVoucher, Code: code})
		return err
	}())
	if !strings.Contains(ref.Message, "used up") {
		t.Errorf("used-up code: %q", ref.Message)
	}
}

func TestVoucherRevokeSignsOut(t *testing.T) {
	r := newRig(t, Config{Methods: []session.Method{session.MethodVoucher}})
	ctx := context.Background()
	code := newCode(t, r, voucher.Limits{Duration: time.Hour, Devices: 1})
	if _, err := r.svc.SignIn(ctx, Request{MAC: mac(1), Method: session.MethodVoucher, Code: code}); err != nil {
		t.Fatal(err)
	}
	var reason session.Reason
	r.table.Watch(func(ch session.Change) {
		if ch.Event == session.SignOut {
			reason = ch.Reason
		}
	})
	v, err := r.svc.Voucher().Revoke(ctx, mustParse(t, code))
	if err != nil {
		t.Fatal(err)
	}
	if v.State != voucher.Revoked || reason != session.ReasonRevoked {
		t.Errorf("state %v, sign-out reason %v", v.State, reason)
	}
	if c, _ := r.table.Lookup(mac(1)); c.State != session.Preauth {
		t.Errorf("device is %v after revoke", c.State)
	}
}

func TestVoucherExpirySignsOut(t *testing.T) {
	r := newRig(t, Config{Methods: []session.Method{session.MethodVoucher}})
	ctx := context.Background()
	code := newCode(t, r, voucher.Limits{Duration: time.Hour, Devices: 1})
	if _, err := r.svc.SignIn(ctx, Request{MAC: mac(1), Method: session.MethodVoucher, Code: code}); err != nil {
		t.Fatal(err)
	}
	r.clock.add(time.Hour)
	r.svc.voucher.tick(ctx)
	if c, _ := r.table.Lookup(mac(1)); c.State != session.Preauth {
		t.Errorf("device is %v after its code expired", c.State)
	}
	if v, _ := r.book.Show(mustParse(t, code), r.clock.now()); v.State != voucher.Expired || len(v.Devices) != 0 {
		t.Errorf("code %v with devices %v", v.State, v.Devices)
	}
}

func TestWhen(t *testing.T) {
	now := time.Date(2026, 12, 7, 14, 0, 0, 0, time.Local)
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{now.Add(90 * time.Minute), "at 15:30"},
		{now.Add(12 * time.Hour), "tomorrow at 02:00"},
		{now.Add(72 * time.Hour), "on 10 December at 14:00"},
	} {
		if got := when(tc.t, now); got != tc.want {
			t.Errorf("when(%v) = %q, want %q", tc.t, got, tc.want)
		}
	}
}
