//go:build e2e

package main

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunStartsAndStopsCleanly(t *testing.T) {
	d := newDaemon(t)
	d.start()
	var st struct {
		Version       string         `json:"version"`
		UptimeSeconds int64          `json:"uptime_seconds"`
		Backend       string         `json:"backend"`
		Clients       map[string]int `json:"clients"`
	}
	d.ctlJSON(&st, "status")
	if st.Version == "" || st.Backend == "" || len(st.Clients) != 4 {
		t.Errorf("status %+v", st)
	}
	if fi, err := os.Stat(d.socket); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if code := d.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0", code)
	}
	if _, err := os.Stat(d.socket); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
	if !strings.Contains(d.logText(), "lobby stopped") {
		t.Errorf("no clean-stop line in the log")
	}

	d.start()
	if code := d.stop(syscall.SIGINT); code != 0 {
		t.Errorf("exit %d after SIGINT, want 0", code)
	}
}

func TestCtlVerbs(t *testing.T) {
	d := newDaemon(t, "list trusted_mac '"+clientMAC(9)+"'")
	d.start()
	a, b := clientMAC(1), clientMAC(2)

	tests := []struct {
		args      []string
		wantCode  int
		wantState map[string]string // MAC → state afterwards
	}{
		{[]string{"auth", a}, 0, map[string]string{a: "authenticated", clientMAC(9): "trusted"}},
		{[]string{"auth", b, "30m"}, 0, map[string]string{b: "authenticated"}},
		{[]string{"limit", b, "download=2mbit", "quota=300MB"}, 0, map[string]string{b: "authenticated"}},
		{[]string{"limit", b, "quota=lots"}, 1, map[string]string{b: "authenticated"}},
		{[]string{"limit", b}, 2, nil},
		{[]string{"deauth", b}, 0, map[string]string{b: "preauth"}},
		{[]string{"deauth", b}, 1, map[string]string{b: "preauth"}},             // not signed in
		{[]string{"limit", b, "quota=1GB"}, 1, map[string]string{b: "preauth"}}, // not signed in
		{[]string{"block", a}, 0, map[string]string{a: "blocked"}},
		{[]string{"auth", a}, 1, map[string]string{a: "blocked"}}, // blocked stays out
		{[]string{"unblock", a}, 0, map[string]string{a: "preauth"}},
		{[]string{"trust", b}, 0, map[string]string{b: "trusted"}},
		{[]string{"untrust", b}, 0, map[string]string{b: "preauth"}},
		{[]string{"untrust", clientMAC(9)}, 1, map[string]string{clientMAC(9): "trusted"}}, // config says so
		{[]string{"auth", "10.77.0.99"}, 1, nil},                                           // nobody holds it
		{[]string{"auth", "not-a-mac"}, 1, nil},
		{[]string{"auth", a, "forever"}, 1, nil},
		{[]string{"frobnicate"}, 2, nil},
		{[]string{"auth"}, 2, nil},
		{[]string{"status", "extra"}, 2, nil},
	}
	for _, tt := range tests {
		_, errOut, code := d.ctl(tt.args...)
		if code != tt.wantCode {
			t.Errorf("ctl %v: exit %d, want %d (%s)", tt.args, code, tt.wantCode, errOut)
		}
		if code == 2 && !strings.Contains(errOut, "usage:") {
			t.Errorf("ctl %v: exit 2 without usage: %q", tt.args, errOut)
		}
		if code != 0 && strings.TrimSpace(errOut) == "" {
			t.Errorf("ctl %v: failed without a message", tt.args)
		}
		cs := d.clients()
		for mac, want := range tt.wantState {
			if got := cs[mac].State; got != want {
				t.Errorf("after ctl %v: %s is %q, want %q", tt.args, mac, got, want)
			}
		}
	}

	// The 30m session expires in 30m, the default one in session_timeout (2h).
	d.ctl("auth", b, "30m")
	cs := d.clients()
	for mac, want := range map[string]time.Duration{a: 0, b: 30 * time.Minute} {
		c := cs[mac]
		if want == 0 {
			if c.Expires != nil {
				t.Errorf("%s not signed in but expires %v", mac, c.Expires)
			}
			continue
		}
		if c.Expires == nil || time.Until(*c.Expires) > want || time.Until(*c.Expires) < want-time.Minute {
			t.Errorf("%s expires %v, want in %v", mac, c.Expires, want)
		}
	}
	// The grant: ctl's method, no user, config lobby's limits (none),
	// until limit changes them.
	if c := cs[b]; c.Method == nil || *c.Method != "ctl" || c.User != nil || c.Download != 0 || c.Quota != 0 {
		t.Errorf("%s after ctl auth: %+v", b, c)
	}
	if c := cs[a]; c.Method != nil || c.User != nil {
		t.Errorf("%s, not signed in, has a method or user: %+v", a, c)
	}
	d.ctl("limit", b, "upload=512kbit", "quota=2GB", "expires=1h")
	c := d.clients()[b]
	if c.Upload != 512e3 || c.Quota != 2e9 || c.Expires == nil || time.Until(*c.Expires) < 59*time.Minute || time.Until(*c.Expires) > time.Hour {
		t.Errorf("%s after limit: %+v", b, c)
	}
	out, _, _ := d.ctl("clients")
	if !strings.Contains(out, "MAC") || !strings.Contains(out, b) || !strings.Contains(out, "upload=512kbit quota=2GB") {
		t.Errorf("ctl clients table:\n%s", out)
	}
	// Every sign-in and sign-out is logged with its method, and a
	// sign-out with its reason (SPEC §1).
	log := d.logText()
	for _, want := range []string{`msg="client signed in" mac=` + b, `method=ctl`, `msg="client signed out" mac=` + b, `reason=admin`, `reason=blocked`, `msg="client limits changed"`} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
	out, _, _ = d.ctl("status")
	if !strings.Contains(out, "1 authenticated") {
		t.Errorf("ctl status:\n%s", out)
	}
}

func TestKill9KeepsSessions(t *testing.T) {
	d := newDaemon(t)
	d.start()
	d.ctl("auth", clientMAC(1))
	d.ctl("auth", clientMAC(2), "45m")
	d.ctl("limit", clientMAC(2), "download=2mbit", "upload=512kbit", "quota=300MB")
	d.ctl("block", clientMAC(3))
	d.ctl("trust", clientMAC(4))
	before := d.clients()

	d.stop(syscall.SIGKILL)
	if _, err := os.Stat(d.socket); err != nil {
		t.Fatalf("after kill -9 the socket should be left behind for the next start to replace: %v", err)
	}
	time.Sleep(1100 * time.Millisecond) // time passes while the daemon is down
	d.start()
	after := d.clients()
	for _, k := range []int{1, 2, 3, 4} {
		mac := clientMAC(k)
		b, a := before[mac], after[mac]
		if a.State != b.State {
			t.Errorf("%s: %q before kill -9, %q after", mac, b.State, a.State)
		}
		if (a.Expires == nil) != (b.Expires == nil) || a.Expires != nil && !a.Expires.Equal(*b.Expires) {
			t.Errorf("%s: expires %v before, %v after; the time left must carry over", mac, b.Expires, a.Expires)
		}
		if (a.Method == nil) != (b.Method == nil) || a.Method != nil && *a.Method != *b.Method ||
			a.Download != b.Download || a.Upload != b.Upload || a.Quota != b.Quota {
			t.Errorf("%s: grant %+v before, %+v after; it must carry over", mac, b, a)
		}
	}
	if before[clientMAC(1)].State != "authenticated" || before[clientMAC(2)].Quota != 300e6 {
		t.Fatalf("setup: %+v", before)
	}
}

func TestCorruptStateIsSetAside(t *testing.T) {
	d := newDaemon(t)
	d.start()
	d.ctl("auth", clientMAC(1))
	d.stop(syscall.SIGKILL)
	// A crash in the middle of writing leaves half a record behind.
	f, err := os.OpenFile(d.stateDir+"/journal", os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`deadbeef {"op":"put","kind":"session","ke`)
	f.Close()
	os.WriteFile(d.stateDir+"/state.json", []byte("{not json"), 0o600)
	d.start()
	if !strings.Contains(d.logText(), "corrupt") {
		t.Errorf("no warning about the corrupt state")
	}
	entries, _ := os.ReadDir(d.stateDir)
	aside := 0
	for _, e := range entries {
		if strings.Contains(e.Name(), ".corrupt") || strings.Contains(e.Name(), "corrupt-") {
			aside++
		}
	}
	if aside == 0 {
		t.Errorf("nothing set aside in %s: %v", d.stateDir, entries)
	}
	if code := d.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestBadConfig(t *testing.T) {
	dir := t.TempDir()
	bad := dir + "/bad.conf"
	os.WriteFile(bad, []byte(`config lobby 'main'
	option interface 'br-lan'
	option port '99999'
	option session_timeout '3 weeks'
	option colour 'blue'
	list trusted_mac 'zz:00:00:00:00:01'

config dhcp 'dhcp'
	option start '250'
	option limit '100'
`), 0o644)
	out, err := exec.Command("ip", "netns", "exec", routerNS, lobbyBin, "check", "-c", bad).CombinedOutput()
	if code := exitCode(err); code != 2 {
		t.Errorf("check: exit %d, want 2\n%s", code, out)
	}
	for _, want := range []string{bad + ":3: ", bad + ":4: ", bad + ":5: unknown option", bad + ":6: ", bad + ":8: pool"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}

	// run refuses it with one line and leaves nothing behind.
	out, err = exec.Command("ip", "netns", "exec", routerNS, lobbyBin, "run", "-c", bad).CombinedOutput()
	if code := exitCode(err); code != 1 {
		t.Errorf("run: exit %d, want 1\n%s", code, out)
	}
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "lobby: "+bad+":3:") {
		t.Errorf("run with a bad config: want one line naming %s:3, got:\n%s", bad, out)
	}

	// Unknown options are only warnings for run.
	d := newDaemon(t, "option colour 'blue'")
	d.start()
	if !strings.Contains(d.logText(), "colour") {
		t.Errorf("no warning about the unknown option")
	}
	out, err = exec.Command("ip", "netns", "exec", routerNS, lobbyBin, "check", "-c", d.config).CombinedOutput()
	if exitCode(err) != 2 {
		t.Errorf("check accepted an unknown option:\n%s", out)
	}

	// A missing interface is fatal with the fix named.
	d2 := newDaemon(t)
	d2.writeConfig(strings.Replace(baseConfig(d2.dir), "'br-lan'", "'br-nope'", 1))
	out, err = exec.Command("ip", "netns", "exec", routerNS, lobbyBin, "run", "-c", d2.config).CombinedOutput()
	if exitCode(err) != 1 || !strings.Contains(string(out), "br-nope") || !strings.Contains(string(out), "option interface") {
		t.Errorf("run on a missing interface:\n%s", out)
	}
}

func TestCheckValid(t *testing.T) {
	d := newDaemon(t)
	out, err := exec.Command("ip", "netns", "exec", routerNS, lobbyBin, "check", "-c", d.config).CombinedOutput()
	if exitCode(err) != 0 || !strings.Contains(string(out), "10.77.0.100-10.77.0.249") {
		t.Errorf("check of a good config: %v\n%s", err, out)
	}
}

func TestReloadOnHUP(t *testing.T) {
	d := newDaemon(t)
	d.start()
	mac := clientMAC(5)
	d.writeConfig(baseConfig(d.dir, "list trusted_mac '"+mac+"'"))
	d.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for d.clients()[mac].State != "trusted" {
		if time.Now().After(deadline) {
			t.Fatalf("%s not trusted after SIGHUP", mac)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// What a reload cannot apply is named in the log, not silently ignored.
	d.writeConfig(baseConfig(d.dir, "list trusted_mac '"+mac+"'", "option firewall 'iptables'"))
	d.cmd.Process.Signal(syscall.SIGHUP)
	deadline = time.Now().Add(5 * time.Second)
	for !strings.Contains(d.logText(), "lobby.firewall") {
		if time.Now().After(deadline) {
			t.Fatalf("a changed firewall backend was not reported as needing a restart:\n%s", d.logText())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A broken file keeps the running config.
	d.writeConfig("config lobby 'main'\n\toption interface 'br-lan\n")
	d.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(300 * time.Millisecond)
	if !d.running() || d.clients()[mac].State != "trusted" {
		t.Errorf("a broken config on reload changed the running daemon")
	}
	if !strings.Contains(d.logText(), "keeping the running config") {
		t.Errorf("no log line about the rejected reload")
	}
}

func TestSecondInstanceRefused(t *testing.T) {
	d := newDaemon(t)
	d.start()
	out, err := exec.Command("ip", "netns", "exec", routerNS, lobbyBin, "run", "-c", d.config).CombinedOutput()
	if exitCode(err) != 1 || !strings.Contains(string(out), "another lobby") {
		t.Errorf("second instance: %v\n%s", err, out)
	}
	if _, _, code := d.ctl("status"); code != 0 {
		t.Errorf("the first instance stopped answering")
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// A client that set its address by hand is known through the neighbour
// table: it shows in ctl clients and can be signed in by IP.
func TestNeighbourTracking(t *testing.T) {
	d := newDaemon(t)
	d.start()
	ns := clientNS(2)
	mustNS(t, ns, "ip", "addr", "add", "10.77.0.202/24", "dev", "eth0")
	t.Cleanup(func() { inNS(t, ns, "ip", "addr", "flush", "dev", "eth0") })
	// A DNS query is what a preauth client may send the router: the
	// exchange leaves its neighbour entry behind.
	mustNS(t, ns, "dig", "+short", "+tries=1", "+time=2", "@10.77.0.1", "example.com")
	deadline := time.Now().Add(5 * time.Second)
	for d.clients()[clientMAC(2)].IP != "10.77.0.202" {
		if time.Now().After(deadline) {
			t.Fatalf("client 2 not seen with its address: %+v", d.clients())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, errOut, code := d.ctl("auth", "10.77.0.202"); code != 0 {
		t.Fatalf("auth by IP: %s", errOut)
	}
	if s := d.clients()[clientMAC(2)].State; s != "authenticated" {
		t.Errorf("state %q", s)
	}
}
