package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/shaper"
	"github.com/lobby-fw/lobby/internal/store/storetest"
)

// fakeShaper records the rates it was given, by MAC.
type fakeShaper map[string]shaper.Rates

func (f fakeShaper) Set(mac net.HardwareAddr, down, up uint64) error {
	f[mac.String()] = shaper.Rates{Down: down, Up: up}
	return nil
}

func (f fakeShaper) Remove(mac net.HardwareAddr) error {
	delete(f, mac.String())
	return nil
}

// TestLimits: a signed-in client has its session's rates (config lobby's
// unless the sign-in gave its own), any other state none; a session
// persisted from before the start has them at once; ctl limit changes
// them; a trusted client and a session without rates are not shaped.
func TestLimits(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, _ := net.ParseMAC("02:00:00:00:00:0a")
	b, _ := net.ParseMAC("02:00:00:00:00:0b")
	cfg := session.Config{DownloadRate: 8e6, UploadRate: 1e6}
	st := &storetest.Mem{}

	table := session.New(cfg, st, log)
	if _, err := table.Auth(ctx, a, table.NewGrant(session.MethodClick, "", session.Limits{})); err != nil {
		t.Fatal(err)
	}
	table = session.New(cfg, st, log) // a restart
	sh := fakeShaper{}
	followLimits(sh, table, log)
	want := func(step string, exp map[string]shaper.Rates) {
		t.Helper()
		if len(sh) != len(exp) {
			t.Fatalf("%s: shaped %v, want %v", step, sh, exp)
		}
		for k, v := range exp {
			if sh[k] != v {
				t.Fatalf("%s: shaped %v, want %v", step, sh, exp)
			}
		}
	}
	lobby := shaper.Rates{Down: 8e6, Up: 1e6}
	want("persisted session, config lobby's rates", map[string]shaper.Rates{a.String(): lobby})

	own := session.Limits{DownloadRate: 2e6, Given: session.GivenDownloadRate}
	if _, err := table.Auth(ctx, b, table.NewGrant(session.MethodCtl, "", own)); err != nil {
		t.Fatal(err)
	}
	want("b signed in with its own download rate", map[string]shaper.Rates{a.String(): lobby, b.String(): {Down: 2e6, Up: 1e6}})

	if _, err := table.Limit(ctx, b, func(g *session.Grant, _ time.Time) { g.UploadRate = 3e6 }); err != nil {
		t.Fatal(err)
	}
	want("ctl limit b upload=3mbit", map[string]shaper.Rates{a.String(): lobby, b.String(): {Down: 2e6, Up: 3e6}})

	if _, err := table.SetTrusted(ctx, b, true, "ctl"); err != nil {
		t.Fatal(err)
	}
	want("b trusted: never slowed", map[string]shaper.Rates{a.String(): lobby})

	if _, err := table.Limit(ctx, a, func(g *session.Grant, _ time.Time) { g.DownloadRate, g.UploadRate = 0, 0 }); err != nil {
		t.Fatal(err)
	}
	want("a's rates taken away", nil)

	if _, err := table.Limit(ctx, a, func(g *session.Grant, _ time.Time) { g.DownloadRate = 5e6 }); err != nil {
		t.Fatal(err)
	}
	if _, err := table.Deauth(ctx, a, session.ReasonAdmin); err != nil {
		t.Fatal(err)
	}
	want("a signed out", nil)
}
