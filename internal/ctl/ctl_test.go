package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/store/storetest"
)

// serve starts a Server on a socket in a temp dir and returns its path.
func serve(t *testing.T) (string, *session.Table) {
	t.Helper()
	return serveAt(t, filepath.Join(t.TempDir(), "ctl.sock"))
}

// serveAt starts a Server on a socket at path.
func serveAt(t *testing.T, path string) (string, *session.Table) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	table := session.New(session.Config{SessionTimeout: time.Hour}, new(storetest.Mem), log)
	s := &Server{Table: table, Version: "test", Started: time.Now(), Backend: func() string { return "none" }, Log: log}
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return path, table
}

func run(t *testing.T, sock string, args ...string) (string, string, int) {
	var out, errOut bytes.Buffer
	code := Command(append([]string{"-s", sock}, args...), &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestCommand(t *testing.T) {
	sock, table := serve(t)
	mac, _ := net.ParseMAC("02:00:00:00:01:01")
	tests := []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"status"}, 0, "0 authenticated"},
		{[]string{"--json", "auth", "02:00:00:00:01:01", "10m"}, 0, `"state": "authenticated"`},
		{[]string{"status"}, 0, "1 authenticated"},
		{[]string{"--json", "status"}, 0, `"uptime_seconds"`},
		{[]string{"clients"}, 0, "02:00:00:00:01:01"},
		{[]string{"deauth", "10.77.0.5"}, 1, "no client holds 10.77.0.5"},
		{[]string{"block", "10.77.0.5"}, 1, "not a MAC"},
		{[]string{"limit", "02:00:00:00:01:01", "download=2mbit", "upload=512kbit", "quota=300MB"}, 0, "download=2mbit upload=512kbit quota=300MB"},
		{[]string{"limit", "02:00:00:00:01:01", "expires=0"}, 0, "authenticated"},
		{[]string{"limit", "02:00:00:00:01:01", "download=2mb"}, 1, `unknown unit "mb"`},
		{[]string{"limit", "02:00:00:00:01:01", "speed=1mbit"}, 1, "unknown limit"},
		{[]string{"limit", "02:00:00:00:01:01", "quota=1GB", "quota=2GB"}, 1, "quota given twice"},
		{[]string{"limit", "02:00:00:00:01:02", "quota=1GB"}, 1, "no client with MAC"},
		{[]string{"limit", "02:00:00:00:01:01"}, 2, "usage:"},
		{[]string{"frob"}, 2, "usage:"},
		{[]string{"auth", "a", "b", "c"}, 2, "usage:"},
		{[]string{}, 2, "usage:"},
	}
	for _, tt := range tests {
		out, errOut, code := run(t, sock, tt.args...)
		if code != tt.code || !strings.Contains(out+errOut, tt.contains) {
			t.Errorf("ctl %v: exit %d, want %d; want %q in:\n%s%s", tt.args, code, tt.code, tt.contains, out, errOut)
		}
	}
	if s := table.StateOf(mac); s != session.Preauth && s != session.Authenticated {
		t.Errorf("state %v", s)
	}
	var cs []Client
	out, _, _ := run(t, sock, "--json", "clients")
	if err := json.Unmarshal([]byte(out), &cs); err != nil || len(cs) != 1 || cs[0].Expires != nil {
		t.Errorf("clients --json: %v %s", err, out)
	}
	if c := cs[0]; c.Method == nil || *c.Method != "ctl" || c.User != nil || c.DownloadRate != 2e6 || c.UploadRate != 512e3 || c.Quota != 300e6 {
		t.Errorf("clients --json after limit: %s", out)
	}
	for _, key := range []string{"mac", "ip", "hostname", "state", "since", "expires", "bytes_up", "bytes_down",
		"method", "user", "download_rate", "upload_rate", "quota"} {
		if !strings.Contains(out, `"`+key+`"`) {
			t.Errorf("clients --json lacks %q", key)
		}
	}
	// A client not signed in: method and user null, no limits.
	run(t, sock, "deauth", "02:00:00:00:01:01")
	out, _, _ = run(t, sock, "--json", "clients")
	if !strings.Contains(out, `"method": null`) || !strings.Contains(out, `"user": null`) || !strings.Contains(out, `"quota": 0`) {
		t.Errorf("clients --json of a client signed out:\n%s", out)
	}
	if _, errOut, code := run(t, sock, "limit", "02:00:00:00:01:01", "quota=1GB"); code != 1 || !strings.Contains(errOut, "not signed in") {
		t.Errorf("limit of a client signed out: exit %d, %s", code, errOut)
	}
}

func TestMethodColumn(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		c            Client
		method, lims string
	}{
		{Client{}, "-", "-"},
		{Client{Method: str("click")}, "click", "-"},
		{Client{Method: str("voucher"), User: str("ABCDE-FGHJK"), Quota: 2e9}, "voucher:ABCDE-FGHJK", "quota=2GB"},
		{Client{Method: str("radius"), User: str("alice"), DownloadRate: 1.5e6, UploadRate: 1e9}, "radius:alice", "download=1500kbit upload=1gbit"},
	}
	for _, tt := range tests {
		if m, l := method(tt.c), limits(tt.c); m != tt.method || l != tt.lims {
			t.Errorf("%+v: %q %q, want %q %q", tt.c, m, l, tt.method, tt.lims)
		}
	}
}

func TestListen(t *testing.T) {
	sock, _ := serve(t)
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v", fi.Mode().Perm(), err)
	}
	if _, err := Listen(sock); err == nil || !strings.Contains(err.Error(), "another lobby") {
		t.Errorf("second Listen on a live socket: %v", err)
	}
	// A socket file left by a dead daemon is replaced.
	stale := filepath.Join(t.TempDir(), "stale.sock")
	l, _ := net.Listen("unix", stale)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	l2, err := Listen(stale)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	l2.Close()
	if _, _, code := run(t, filepath.Join(t.TempDir(), "none.sock"), "status"); code != ExitDaemon {
		t.Errorf("no daemon: exit %d, want %d", code, ExitDaemon)
	}
}

func TestBadRequest(t *testing.T) {
	sock, _ := serve(t)
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("{nonsense\n"))
	var r Response
	if err := json.NewDecoder(c).Decode(&r); err != nil || r.OK || !strings.Contains(r.Error, "bad request") {
		t.Errorf("response %+v, %v", r, err)
	}
}

// The learned IPv6 addresses and the reason the last session ended are in
// a client's row when it has them, and left out when not.
func TestClientJSONIPv6AndEnded(t *testing.T) {
	m, _ := net.ParseMAC("02:00:00:00:01:01")
	tests := []struct {
		c    session.Client
		want []string // in the JSON
		not  []string // not in it
	}{
		{session.Client{MAC: m, State: session.Authenticated, IPv6: []netip.Addr{netip.MustParseAddr("fd77::11"), netip.MustParseAddr("2001:db8::5")}},
			[]string{`"ipv6":["fd77::11","2001:db8::5"]`}, []string{`"ended"`}},
		{session.Client{MAC: m, State: session.Preauth, Ended: session.ReasonQuota}, []string{`"ended":"quota"`}, []string{`"ipv6"`}},
		{session.Client{MAC: m, State: session.Preauth}, nil, []string{`"ipv6"`, `"ended"`}},
	}
	for i, tt := range tests {
		b, err := json.Marshal(clientJSON(tt.c))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tt.want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%d: %s lacks %s", i, b, w)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(string(b), n) {
				t.Errorf("%d: %s has %s", i, b, n)
			}
		}
	}
}
