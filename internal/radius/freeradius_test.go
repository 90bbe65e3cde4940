package radius

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/store/storetest"
)

// The tests in this file run Lobby's codec against a real FreeRADIUS 3.2
// (Debian's freeradius and freeradius-utils, which scripts/deps.sh
// installs), started in the foreground with a config directory of its
// own on loopback, never the system's service.

// freeradiusConf is a minimal server: PAP from a users file, accounting
// into a detail file, and a Message-Authenticator in the replies to user
// "strict" (FreeRADIUS 3.2.1 sends none unless told; := 0x00 makes it
// compute one). require_message_authenticator makes it drop our
// Access-Requests unless their Message-Authenticator is right.
const freeradiusConf = `prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = {{DIR}}
sbindir = /usr/sbin
logdir = {{DIR}}
raddbdir = {{DIR}}
radacctdir = {{DIR}}
name = freeradius
confdir = {{DIR}}
modconfdir = {{DIR}}
run_dir = {{DIR}}
db_dir = {{DIR}}
libdir = /usr/lib/freeradius
pidfile = {{DIR}}/radiusd.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 1024
hostname_lookups = no
log {
	destination = stdout
	auth = yes
}
security {
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 0
	status_server = no
}
client lobby {
	ipaddr = 127.0.0.1
	secret = testing123
	require_message_authenticator = yes
}
modules {
	pap {
	}
	files {
		filename = {{DIR}}/users
	}
	detail {
		filename = {{DIR}}/detail
		header = "%t"
		permissions = 0600
	}
}
server default {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = {{AUTH}}
	}
	listen {
		type = acct
		ipaddr = 127.0.0.1
		port = {{ACCT}}
	}
	authorize {
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
	}
	accounting {
		detail
	}
	post-auth {
		if (&User-Name == "strict") {
			update reply {
				&Message-Authenticator := 0x00
			}
		}
	}
}
`

// freeradiusDictionary adds what Debian's FreeRADIUS 3.2 lacks:
// ChilliSpot-Max-Total-Gigawords, numbered as CoovaChilli does.
const freeradiusDictionary = `BEGIN-VENDOR	ChilliSpot
ATTRIBUTE	ChilliSpot-Max-Total-Gigawords	23	integer
END-VENDOR	ChilliSpot
`

const freeradiusUsers = `nemo	Cleartext-Password := "arctangent"
	Session-Timeout = 3600,
	Idle-Timeout = 600,
	Acct-Interim-Interval = 300,
	Class = "plan-gold",
	WISPr-Bandwidth-Max-Down = 2000000,
	WISPr-Bandwidth-Max-Up = 512000,
	ChilliSpot-Max-Total-Octets = 705032704,
	ChilliSpot-Max-Total-Gigawords = 2
chilli	Cleartext-Password := "pw"
	ChilliSpot-Bandwidth-Max-Down = 2000,
	ChilliSpot-Bandwidth-Max-Up = 512
02-00-00-00-00-C1	Cleartext-Password := "02-00-00-00-00-C1"
	Session-Timeout = 60
strict	Cleartext-Password := "pw"
expired	Auth-Type := Reject
	Reply-Message = "Your account has expired."
`

type freeradius struct {
	dir        string
	auth, acct netip.AddrPort
}

func freePort(t *testing.T) uint16 {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Port()
}

// startFreeRADIUS runs a server until the test ends, or skips the test
// where that cannot be done.
func startFreeRADIUS(t *testing.T) *freeradius {
	t.Helper()
	bin, err := exec.LookPath("freeradius")
	if err != nil {
		t.Skip("freeradius is not installed (scripts/deps.sh installs it)")
	}
	if _, err := exec.LookPath("radclient"); err != nil {
		t.Skip("radclient is not installed (freeradius-utils)")
	}
	if os.Geteuid() != 0 {
		t.Skip("FreeRADIUS's tests run as root")
	}
	fr := &freeradius{dir: t.TempDir()}
	authPort, acctPort := freePort(t), freePort(t)
	fr.auth = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), authPort)
	fr.acct = netip.AddrPortFrom(fr.auth.Addr(), acctPort)
	conf := strings.NewReplacer("{{DIR}}", fr.dir, "{{AUTH}}", fmt.Sprint(authPort), "{{ACCT}}", fmt.Sprint(acctPort)).Replace(freeradiusConf)
	for name, text := range map[string]string{"radiusd.conf": conf, "dictionary": freeradiusDictionary, "users": freeradiusUsers} {
		if err := os.WriteFile(filepath.Join(fr.dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-f", "-l", "stdout", "-d", fr.dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	ready := make(chan bool, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			logBuf.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Ready to process requests") {
				ready <- true
			}
		}
		ready <- false
	}()
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		<-done
		if t.Failed() {
			t.Logf("freeradius's log:\n%s", logBuf.String())
		}
	})
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("freeradius stopped before it was ready")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("freeradius not ready after 30 s")
	}
	return fr
}

func (fr *freeradius) client(require Require) *Client {
	return NewClient(Config{
		Servers: []netip.AddrPort{fr.auth}, AcctPort: fr.acct.Port(), Secret: testSecret,
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
		c.cfg.Secret = []byte("wrong")
		c.cfg.Timeout, c.cfg.Retries = 300*time.Millisecond, 0
		// The server drops the request: its Message-Authenticator
		// does not check out under the server's secret.
		if _, err := c.Authenticate(ctx, Request{User: "nemo", Password: "arctangent", MAC: guestMAC}); !errors.Is(err, ErrNoAnswer) {
			t.Errorf("err %v, want ErrNoAnswer", err)
		}
	})
	t.Run("strict", func(t *testing.T) {
		c := fr.client(RequireAlways)
		c.cfg.Timeout, c.cfg.Retries = 300*time.Millisecond, 0
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
		c.cfg.Timeout, c.cfg.Retries = 300*time.Millisecond, 0
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
			func() error { return a.Start(ctx, s) },
			func() error { return a.Interim(ctx, s, Usage{Up: 1000, Down: 2000}) },
			func() error { return a.Stop(ctx, s, Usage{Up: 5<<32 + 1234, Down: 7}, session.ReasonIdle) },
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
		detail, err := os.ReadFile(filepath.Join(fr.dir, "detail"))
		if err != nil {
			t.Fatal(err)
		}
		d := string(detail)
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
		d.cfg.Clients = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); d.Serve(sctx, conn) }()
		defer func() { cancel(); <-done }()
		addr := conn.LocalAddr().String()
		radclient := func(kind, secret, attrs string) (string, error) {
			cmd := exec.Command("radclient", "-x", "-r", "1", "-t", "1", "-d", fr.dir, addr, kind, secret)
			cmd.Stdin = strings.NewReader(attrs)
			out, err := cmd.CombinedOutput()
			return string(out), err
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
