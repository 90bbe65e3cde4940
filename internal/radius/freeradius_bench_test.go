package radius

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/radius/radiustest"
	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/store"
)

// The accounting load's size (scripts/bench/radius.sh sets them).
var (
	loadClients   = flag.Int("radius.clients", 10000, "BenchmarkAccountingLoad: signed-in clients")
	loadInterval  = flag.Duration("radius.interval", time.Minute, "BenchmarkAccountingLoad: Acct-Interim-Interval")
	loadIntervals = flag.Int("radius.intervals", 2, "BenchmarkAccountingLoad: intervals measured")
)

// BenchmarkAccountingLoad is lobby's accounting for many signed-in
// clients against FreeRADIUS on loopback with the shipped configuration
// (docs/radius/raddb: SQLite, the walk policy), the session table faked
// by a loop: every client's Start (each fsynced in a real store), then an
// Interim-Update per client per interval, spread evenly over it, for
// -radius.intervals intervals; then the server stops, every client's Stop
// waits in the store, and the server comes back. It reports the records/s
// answered and lobby's CPU (this process: queue, store, codec, sockets;
// the server runs apart) in the steady state, the backlog (records queued
// and not yet answered) at its highest and at the end of each interval —
// growth is a failure — and how long the Stops took to be answered once
// the server was back (s-backlog), the first of them after s-resume. Each
// record is tried again 30 s after its failed try (AcctConfig.Retry), so
// the Stops come back in the order and at the pace they failed.
func BenchmarkAccountingLoad(b *testing.B) {
	n, interval := *loadClients, *loadInterval
	fr := radiustest.Start(b, radiustest.Options{Walk: true})
	st, err := store.Open(b.TempDir(), store.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	c := NewClient(Config{
		Servers: []netip.AddrPort{fr.Auth}, AcctPort: fr.Acct.Port(), Secret: testSecret,
		NASIdentifier: "lobby-load", NASIP: netip.MustParseAddr("10.77.0.1"),
		CalledStation: net.HardwareAddr{2, 0, 0, 0, 0, 1},
	})
	a := NewAccounting(c, st, AcctConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	drain := func(what string, bound time.Duration) time.Duration {
		start := time.Now()
		dctx, dcancel := context.WithTimeout(ctx, bound)
		defer dcancel()
		if err := a.Drain(dctx); err != nil {
			b.Fatalf("%s: %v", what, err)
		}
		return time.Since(start)
	}

	sessions := make([]Session, n)
	t0 := time.Now()
	for i := range sessions {
		sessions[i] = Session{ID: fmt.Sprintf("LOAD%012d", i), MAC: net.HardwareAddr{2, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)},
			IP: netip.AddrFrom4([4]byte{10, 77, byte(i >> 8), byte(i)}), Start: t0}
		if err := a.Begin(sessions[i]); err != nil {
			b.Fatal(err)
		}
	}
	drain("the Starts", 10*time.Minute)
	starts := time.Since(t0)

	b.ResetTimer()
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	steady := time.Now()
	var sent, backlogMax int
	ends := make([]int, 0, *loadIntervals)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	next := 0 // the next Interim due, counted over all intervals
	for k := 0; k < *loadIntervals; k++ {
		end := steady.Add(time.Duration(k+1) * interval)
		for now := range tick.C {
			// Client i's Interim is due i/n of the way through each interval.
			for ; next < (k+1)*n; next++ {
				i := next % n
				due := steady.Add(time.Duration(next/n)*interval + time.Duration(i)*interval/time.Duration(n))
				if due.After(now) {
					break
				}
				u := Usage{Up: uint64(next) * 1000, Down: uint64(next) * 10000}
				if err := a.Interim(ctx, sessions[i], u); err != nil {
					b.Fatal(err)
				}
				sent++
			}
			backlogMax = max(backlogMax, a.Pending())
			if !now.Before(end) {
				break
			}
		}
		ends = append(ends, a.Pending())
	}
	elapsed := time.Since(steady)
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	b.StopTimer()
	cpu := time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()) + time.Duration(ru1.Stime.Nano()-ru0.Stime.Nano())
	answered := sent - a.Pending()
	b.Logf("%d Starts in %v; %d Interims in %v, %v CPU; backlog %d at most, %v at the intervals' ends", n, starts, sent, elapsed, cpu, backlogMax, ends)
	if last := ends[len(ends)-1]; len(ends) > 1 && last > ends[0]+n/100 {
		b.Errorf("the backlog grew: %v at the intervals' ends", ends)
	}

	// The server goes away; every client signs out; it comes back.
	fr.Stop()
	for i := range sessions {
		if err := a.End(sessions[i], Usage{Up: 1 << 33, Down: 1 << 34}, session.ReasonLogout); err != nil {
			b.Fatal(err)
		}
	}
	// Every Stop has been tried and failed (timeout × tries, 9 s) and
	// waits for its retry.
	time.Sleep(10 * time.Second)
	fr.Start()
	back := time.Now()
	// The first answer comes with the first record's retry.
	for a.Pending() == n && time.Since(back) < 10*time.Minute {
		time.Sleep(10 * time.Millisecond)
	}
	resumed := time.Since(back)
	backlog := drain("the Stops", 10*time.Minute) + resumed
	if open, err := fr.SQL("SELECT COUNT(*) FROM radacct WHERE acctstoptime IS NULL"); err != nil || open != "0" {
		b.Errorf("sessions still open in radacct: %q, %v", open, err)
	}

	b.ReportMetric(float64(answered)/elapsed.Seconds(), "records/s")
	b.ReportMetric(100*cpu.Seconds()/elapsed.Seconds(), "cpu%")
	b.ReportMetric(float64(backlogMax), "backlog-max")
	b.ReportMetric(float64(ends[len(ends)-1]), "backlog-end")
	b.ReportMetric(float64(n)/starts.Seconds(), "starts/s")
	b.ReportMetric(resumed.Seconds(), "s-resume")
	b.ReportMetric(backlog.Seconds(), "s-backlog")
}

// BenchmarkFreeRADIUSSignIn is a sign-in's round trip through RADIUS
// against FreeRADIUS on loopback with the shipped configuration: the
// Access-Request of a user from the users file, the server's work
// (authorize with the walk policy, PAP, post-auth recording the grant in
// SQLite) and the Access-Accept read into limits. BenchmarkCodec is
// lobby's part of it.
func BenchmarkFreeRADIUSSignIn(b *testing.B) {
	fr := radiustest.Start(b, radiustest.Options{Walk: true})
	c := NewClient(Config{
		Servers: []netip.AddrPort{fr.Auth}, Secret: testSecret,
		NASIdentifier: "lobby-bench", NASIP: netip.MustParseAddr("10.77.0.1"),
		CalledStation: net.HardwareAddr{2, 0, 0, 0, 0, 1},
	})
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		mac := net.HardwareAddr{2, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}
		if _, err := c.Authenticate(ctx, Request{User: "nemo", Password: "arctangent", MAC: mac, IP: guestIP}); err != nil {
			b.Fatal(err)
		}
	}
}
