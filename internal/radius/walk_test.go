package radius

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/radius/radiustest"
	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/store/storetest"
)

// TestFreeRADIUSWalk runs SPEC §7's "Several routers, one server" against
// FreeRADIUS with the configuration that ships in docs/radius/raddb: two
// routers, A and B, with the same portal address, and a guest who signs in
// at A and walks to B, where B's MAC authentication finds A's session.
func TestFreeRADIUSWalk(t *testing.T) {
	fr := radiustest.Start(t, radiustest.Options{Walk: true})
	ctx := context.Background()
	router := func(name string, lan byte) *Client {
		return NewClient(Config{
			Servers: []netip.AddrPort{fr.Auth}, AcctPort: fr.Acct.Port(), Secret: testSecret,
			NASIdentifier: name, NASIP: netip.MustParseAddr("10.77.0.1"),
			CalledStation: net.HardwareAddr{2, 0, 0, 0, lan, 1}, Timeout: time.Second, Retries: 1,
		})
	}
	a, b := router("lobby-a", 0xa), router("lobby-b", 0xb)
	acctA := NewAccounting(a, &storetest.Mem{}, AcctConfig{})
	runQueue(t, acctA)
	// deliver queues a record at A and waits until the server has it.
	deliver := func(f func() error) {
		t.Helper()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := acctA.Drain(dctx); err != nil {
			t.Fatal(err)
		}
	}
	walk := func(mac net.HardwareAddr) (Limits, error) {
		return b.Authenticate(ctx, Request{MACAuth: true, MAC: mac, IP: netip.MustParseAddr("10.77.0.50")})
	}
	rejected := func(what string, mac net.HardwareAddr) {
		t.Helper()
		var rej *RejectError
		if l, err := walk(mac); !errors.As(err, &rej) {
			t.Errorf("%s: B's MAC authentication gave %+v, %v; want a reject", what, l, err)
		}
	}

	guest := net.HardwareAddr{2, 0, 0, 0, 0, 0xa1}
	lim, err := a.Authenticate(ctx, Request{User: "nemo", Password: "arctangent", MAC: guest, IP: guestIP, SessionID: "WALK-A1"})
	if err != nil {
		t.Fatal(err)
	}
	signedIn := time.Now()
	rejected("signed in at A, no Start yet", guest)
	s := Session{ID: "WALK-A1", User: "nemo", MAC: guest, IP: guestIP, Class: lim.Class, Start: signedIn}
	deliver(func() error { return acctA.Begin(s) })

	// nemo's grant (radiustest.Users): an hour, 2 Mbit/s down, 512 kbit/s
	// up, 2 GiB + 705,032,704 bytes, Class plan-gold.
	const quota uint64 = 2<<32 + 705_032_704
	check := func(what string, used uint64) {
		t.Helper()
		l, err := walk(guest)
		if err != nil {
			t.Fatalf("%s: B's MAC authentication: %v", what, err)
		}
		// What is left of the hour, to the second and a second's slack
		// for the clocks' rounding.
		left := time.Hour - time.Since(signedIn).Truncate(time.Second)
		if d := l.SessionTimeout - left; d < -2*time.Second || d > time.Second {
			t.Errorf("%s: Session-Timeout %v, want %v left of the hour", what, l.SessionTimeout, left)
		}
		if l.DownloadRate != 2_000_000 || l.UploadRate != 512_000 {
			t.Errorf("%s: rates %d/%d, want nemo's 2000000/512000", what, l.DownloadRate, l.UploadRate)
		}
		if l.Quota != quota-used {
			t.Errorf("%s: quota %d, want %d (%d used)", what, l.Quota, quota-used, used)
		}
		if len(l.Class) != 1 || string(l.Class[0]) != "plan-gold" {
			t.Errorf("%s: Class %q, want plan-gold", what, l.Class)
		}
	}
	check("after A's Start", 0)

	deliver(func() error { return acctA.Interim(ctx, s, Usage{Up: 1 << 32, Down: 5000}) })
	check("after A's Interim", 1<<32+5000)

	rejected("another MAC", net.HardwareAddr{2, 0, 0, 0, 0, 0xa2})

	// A restarts: Accounting-On closes none of its sessions.
	deliver(func() error { return acctA.On(ctx) })
	if open, err := fr.SQL("SELECT COUNT(*) FROM radacct WHERE acctsessionid = 'WALK-A1' AND acctstoptime IS NULL"); err != nil || open != "1" {
		t.Errorf("after A's Accounting-On, open rows of WALK-A1: %q, %v; want 1", open, err)
	}
	check("after A's Accounting-On", 1<<32+5000)

	// The grant's hour is used up (as if signed in 61 minutes ago): B
	// rejects although A's session is open.
	if _, err := fr.SQL("UPDATE lobby_grant SET granted = granted - 3660"); err != nil {
		t.Fatal(err)
	}
	rejected("the grant's time used up", guest)
	if _, err := fr.SQL("UPDATE lobby_grant SET granted = granted + 3660, quota = 1000"); err != nil {
		t.Fatal(err)
	}
	rejected("the grant's quota used up", guest)
	if _, err := fr.SQL(fmt.Sprint("UPDATE lobby_grant SET quota = ", quota)); err != nil {
		t.Fatal(err)
	}

	// A's last word on the session is over an hour old (a router that
	// died): the session no longer counts.
	if _, err := fr.SQL("UPDATE radacct SET acctupdatetime = acctupdatetime - 3660"); err != nil {
		t.Fatal(err)
	}
	rejected("A silent for an hour", guest)
	if _, err := fr.SQL("UPDATE radacct SET acctupdatetime = acctupdatetime + 3660"); err != nil {
		t.Fatal(err)
	}
	check("A heard of again", 1<<32+5000)

	deliver(func() error { return acctA.End(s, Usage{Up: 1 << 32, Down: 9000}, session.ReasonLogout) })
	rejected("after A's Stop", guest)

	// A click sign-in at A (no Access-Request, so no grant): its open
	// session lets the device in at B, with no limit of the server's.
	click := net.HardwareAddr{2, 0, 0, 0, 0, 0xa3}
	deliver(func() error {
		return acctA.Begin(Session{ID: "WALK-A2", MAC: click, IP: guestIP, Start: time.Now()})
	})
	l, err := walk(click)
	if err != nil || l.SessionTimeout != 0 || l.Quota != 0 || l.DownloadRate != 0 || len(l.Class) != 0 {
		t.Errorf("a click session at A: B's MAC authentication gave %+v, %v; want an Accept with no limits", l, err)
	}

	rows, err := fr.SQL("SELECT acctsessionid, username, callingstationid, acctstoptime IS NULL, acctinputoctets, acctoutputoctets, acctterminatecause, class FROM radacct ORDER BY radacctid")
	if err != nil {
		t.Fatal(err)
	}
	want := "WALK-A1|nemo|02-00-00-00-00-A1|0|4294967296|9000|User-Request|0x706c616e2d676f6c64\n" +
		"WALK-A2|02-00-00-00-00-A3|02-00-00-00-00-A3|1|0|0||"
	if rows != want {
		t.Errorf("radacct\n got %s\nwant %s", rows, want)
	}
	if t.Failed() {
		grants, err := fr.SQL("SELECT * FROM lobby_grant")
		t.Logf("lobby_grant (%v):\n%s", err, grants)
	}
}
