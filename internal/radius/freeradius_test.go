package radius

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/radius/radiustest"
	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/store/storetest"
)

// The tests in this file run Lobby's codec against a real FreeRADIUS 3.2
// (Debian's freeradius and freeradius-utils, which scripts/deps.sh
// installs), started in the foreground with a config directory of its
// own on loopback, never the system's service.

type freeradius struct{ *radiustest.Server }

func startFreeRADIUS(t *testing.T) *freeradius {
	return &freeradius{radiustest.Start(t, radiustest.Options{})}
}

func (fr *freeradius) client(require Require) *Client {
	return NewClient(Config{
		Servers: []netip.AddrPort{fr.Auth}, AcctPort: fr.Acct.Port(), Secret: testSecret,
		NASIdentifier: "lobby-test", NASIP: netip.MustParseAddr("10.77.0.1"),
		CalledStation: net.HardwareAddr{2, 0, 0, 0, 0, 1}, Timeout: time.Second, Retries: 1, Require: require,
	})
}

func TestFreeRADIUS(t *testing.T) {
	fr := startFreeRADIUS(t)
	ctx := context.Background()

	t.Run("PAP accept with attributes", func(t *testing.T) {
		l, err := fr.client(RequireAuto).Authenticate(ctx, Request{User: "nemo", Password: "arctangent", MAC: guestMAC, IP: guestIP, SessionID: "S1"})
		if err != nil {
			t.Fatal(err)
		}
		want := Limits{Limits: session.Limits{SessionTimeout: time.Hour, IdleTimeout: 10 * time.Minute, DownloadRate: 2_000_000, UploadRate: 512_000,
			Quota: 2<<32 + 705_032_704, Given: session.GivenAll},
			InterimInterval: 5 * time.Minute, Class: [][]byte{[]byte("plan-gold")}}
		if fmt.Sprint(l) != fmt.Sprint(want) {
			t.Errorf("limits\n got %+v\nwant %+v", l, want)
		}
	})
	t.Run("ChilliSpot rates", func(t *testing.T) {
		l, err := fr.client(RequireAuto).Authenticate(ctx, Request{User: "chilli", Password: "pw", MAC: guestMAC})
		if err != nil || l.DownloadRate != 2_000_000 || l.UploadRate != 512_000 {
			t.Errorf("limits %+v, %v", l, err)
		}
	})
	t.Run("MAC authentication", func(t *testing.T) {
		l, err := fr.client(RequireAuto).Authenticate(ctx, Request{MACAuth: true, MAC: guestMAC, IP: guestIP})
		if err != nil || l.SessionTimeout != time.Minute {
			t.Errorf("limits %+v, %v", l, err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		_, err := fr.client(RequireAuto).Authenticate(ctx, Request{User: "nemo", Password: "wrong", MAC: guestMAC})
		var rej *RejectError
		if !errors.As(err, &rej) {
			t.Errorf("err %v, want a reject", err)
		}
	})
	t.Run("reject with Reply-Message", func(t *testing.T) {
		_, err := fr.client(RequireAuto).Authenticate(ctx, Request{User: "expired", Password: "pw", MAC: guestMAC})
		var rej *RejectError
		if !errors.As(err, &rej) || rej.Message != "Your account has expired." {
			t.Errorf("err %v, want the Reply-Message", err)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		c := fr.client(RequireAuto)
		c.conf().Secret = []byte("wrong")
		c.conf().Timeout, c.conf().Retries = 300*time.Millisecond, 0
		// The server drops the request: its Message-Authenticator
		// does not check out under the server's secret.
		if _, err := c.Authenticate(ctx, Request{User: "nemo", Password: "arctangent", MAC: guestMAC}); !errors.Is(err, ErrNoAnswer) {
			t.Errorf("err %v, want ErrNoAnswer", err)
		}
	})
	t.Run("strict", func(t *testing.T) {
		c := fr.client(RequireAlways)
		c.conf().Timeout, c.conf().Retries = 300*time.Millisecond, 0
		// "strict"'s Accept carries a Message-Authenticator that
		// FreeRADIUS computed: our check passes it.
		if _, err := c.Authenticate(ctx, Request{User: "strict", Password: "pw", MAC: guestMAC}); err != nil {
			t.Errorf("a signed Accept under require 1: %v", err)
		}
		// nemo's carries none: discarded.
		if _, err := c.Authenticate(ctx, Request{User: "nemo", Password: "arctangent", MAC: guestMAC}); !errors.Is(err, ErrNoAnswer) {
			t.Errorf("an unsigned Accept under require 1: %v, want it discarded", err)
		}
		// auto: unsigned taken until the server has signed once.
		c = fr.client(RequireAuto)
		c.conf().Timeout, c.conf().Retries = 300*time.Millisecond, 0
		for i, want := range []bool{true, true, false} {
			user, pw := "nemo", "arctangent"
			if i == 1 {
				user, pw = "strict", "pw"
			}
			_, err := c.Authenticate(ctx, Request{User: user, Password: pw, MAC: guestMAC})
			if (err == nil) != want {
				t.Errorf("auto, request %d (%s): %v", i, user, err)
			}
		}
	})
	t.Run("accounting", func(t *testing.T) {
		a := NewAccounting(fr.client(RequireAuto), &storetest.Mem{}, AcctConfig{})
		runQueue(t, a)
		s := Session{ID: "ACCT-1", User: "nemo", MAC: guestMAC, IP: guestIP, Class: [][]byte{[]byte("plan-gold")}, Start: time.Now()}
		for _, f := range []func() error{
			func() error { return a.On(ctx) },
			func() error { return a.Begin(s) },
			func() error { return a.Interim(ctx, s, Usage{Up: 1000, Down: 2000}) },
			func() error { return a.End(s, Usage{Up: 5<<32 + 1234, Down: 7}, session.ReasonIdle) },
		} {
			if err := f(); err != nil {
				t.Fatal(err)
			}
		}
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := a.Drain(dctx); err != nil {
			t.Fatal(err)
		}
		d := fr.Detail()
		for _, want := range []string{
			"Acct-Status-Type = Accounting-On",
			"Acct-Status-Type = Start",
			"Acct-Status-Type = Stop",
			`Acct-Session-Id = "ACCT-1"`,
			`User-Name = "nemo"`,
			`Calling-Station-Id = "02-00-00-00-00-C1"`,
			"Framed-IP-Address = 10.77.0.100",
			"Class = 0x706c616e2d676f6c64",
			"Acct-Input-Octets = 1234",
			"Acct-Input-Gigawords = 5",
			"Acct-Output-Octets = 7",
			"Acct-Terminate-Cause = Idle-Timeout",
			"NAS-Port-Type = Wireless-802.11",
			`NAS-Identifier = "lobby-test"`,
		} {
			if !strings.Contains(d, want) {
				t.Errorf("the detail file lacks %q", want)
			}
		}
		if strings.Index(d, "Acct-Status-Type = Start") > strings.Index(d, "Acct-Status-Type = Stop") {
			t.Error("the Stop came before the Start")
		}
		if t.Failed() {
			t.Logf("detail file:\n%s", d)
		}
	})
	t.Run("radclient to the DAS", func(t *testing.T) {
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		d, f := testDAS(nil)
		d.cfg.Load().Clients = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); d.Serve(sctx, conn) }()
		defer func() { cancel(); <-done }()
		addr := conn.LocalAddr().String()
		radclient := func(kind, secret, attrs string) (string, error) {
			return radiustest.Radclient(fr.Dir, "", addr, kind, secret, attrs)
		}
		out, err := radclient("disconnect", "testing123", "User-Name = nemo\nEvent-Timestamp = "+fmt.Sprint(time.Now().Unix())+"\n")
		if err != nil || !strings.Contains(out, "Received Disconnect-ACK") {
			t.Errorf("disconnect: %v\n%s", err, out)
		}
		if gone := f.disconnected(); fmt.Sprint(gone) != "[S1]" {
			t.Errorf("disconnected %v, want [S1]", gone)
		}
		out, err = radclient("coa", "testing123", "Calling-Station-Id = 02-00-00-00-00-C2\nWISPr-Bandwidth-Max-Down = 1000000\nChilliSpot-Max-Total-Octets = 1000\nMessage-Authenticator = 0x00\n")
		if err != nil || !strings.Contains(out, "Received CoA-ACK") {
			t.Errorf("coa: %v\n%s", err, out)
		}
		f.mu.Lock()
		l := f.changed["S2"]
		f.mu.Unlock()
		if l.DownloadRate != 1_000_000 || l.Quota != 1000 {
			t.Errorf("S2's new limits %+v", l)
		}
		out, _ = radclient("disconnect", "testing123", "User-Name = nobody\n")
		if !strings.Contains(out, "Received Disconnect-NAK") || !strings.Contains(out, "Error-Cause = Session-Context-Not-Found") {
			t.Errorf("unknown session:\n%s", out)
		}
		out, err = radclient("disconnect", "wrong", "User-Name = nemo\n")
		if err == nil || strings.Contains(out, "Received") {
			t.Errorf("a wrong secret was answered: %v\n%s", err, out)
		}
	})
}
