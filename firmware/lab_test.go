//go:build e2e

package main

// The end-to-end harness: it builds lobby, brings up the lab of
// scripts/lab.sh and runs the real binary in the lab's router namespace.
// The kernel is never mocked. Needs root; skips without it.

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const lanIface = "br-lan"

// The lab's namespaces; LAB_PREFIX (as for scripts/lab.sh) lets several
// labs run side by side.
var (
	labPrefix = cmp.Or(os.Getenv("LAB_PREFIX"), "lobby")
	routerNS  = labPrefix + "-router"
	inetNS    = labPrefix + "-inet"
)

// clientNS is the namespace of lab client k.
func clientNS(k int) string { return fmt.Sprintf("%s-c%d", labPrefix, k) }

// lobbyBin is the binary under test, built once by TestMain.
var lobbyBin string

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Println("e2e: skipped, needs root (network namespaces)")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "lobby-e2e")
	if err != nil {
		panic(err)
	}
	lobbyBin = filepath.Join(dir, "lobby")
	build := exec.Command("go", "build", "-tags", "nethttpomithttp2", "-o", lobbyBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Printf("e2e: building lobby: %v\n%s", err, out)
		os.Exit(1)
	}
	if out, err := exec.Command("../scripts/lab.sh", "up").CombinedOutput(); err != nil {
		fmt.Printf("e2e: lab up: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	if os.Getenv("LOBBY_KEEP_LAB") == "" {
		exec.Command("../scripts/lab.sh", "down").Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// inNS runs a command in a lab namespace and returns its combined output.
func inNS(t *testing.T, ns string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	return string(out), err
}

// mustNS is inNS that fails the test on error.
func mustNS(t *testing.T, ns string, args ...string) string {
	t.Helper()
	out, err := inNS(t, ns, args...)
	if err != nil {
		t.Fatalf("%s: %v: %v\n%s", ns, args, err, out)
	}
	return out
}

// lobbyProc is one lobby run in a router namespace.
type lobbyProc struct {
	t        *testing.T
	ns       string // routerNS, or the second router's (newDaemonIn)
	dir      string
	config   string
	socket   string
	stateDir string
	cmd      *exec.Cmd
	logMu    sync.Mutex
	log      bytes.Buffer
	exited   chan struct{}
	exitErr  error
}

// baseConfig is a config for the lab; extra lines go into `config lobby`.
func baseConfig(dir string, extra ...string) string {
	return fmt.Sprintf(`config lobby 'main'
	option interface '%s'
	option state_dir '%s/state'
	option socket '%s/lobby.sock'
	option log_level 'debug'
	option session_timeout '2h'
%s
config dns 'dns'
	list upstream '198.51.100.53'
`, lanIface, dir, dir, "\t"+strings.Join(extra, "\n\t"))
}

// labReset undoes what a test changed in the lab (scripts/lab.sh reset):
// client addresses and routes, the router's neighbour entries and tracked
// connections. A neighbour entry of a static address that an earlier test
// gave a client outlives the address: it turns REACHABLE up to 5 s after
// the last traffic, and the next lobby then finds the client's MAC at that
// address instead of the one the next test gave it.
func labReset(t *testing.T) {
	if out, err := exec.Command("../scripts/lab.sh", "reset").CombinedOutput(); err != nil {
		t.Errorf("lab reset: %v\n%s", err, out)
	}
}

// newDaemon prepares a lobby with its own directory; start runs it. When
// the test ends, lobby is stopped and the lab reset, so that every test
// starts from the lab as `lab.sh up` leaves it.
func newDaemon(t *testing.T, extra ...string) *lobbyProc {
	return newDaemonIn(t, routerNS, extra...)
}

// newDaemonIn is newDaemon in router namespace ns.
func newDaemonIn(t *testing.T, ns string, extra ...string) *lobbyProc {
	dir := t.TempDir()
	d := &lobbyProc{t: t, ns: ns, dir: dir, config: filepath.Join(dir, "lobby.conf"),
		socket: filepath.Join(dir, "lobby.sock"), stateDir: filepath.Join(dir, "state")}
	d.writeConfig(baseConfig(dir, extra...))
	// A fresh router: earlier tests gave the lab's MACs other addresses,
	// which the router's neighbour table still holds, and a session is
	// bound to one address (SPEC §3, Firewall): `ctl auth MAC` would
	// bind a stale one.
	inNS(t, ns, "ip", "neigh", "flush", "dev", lanIface)
	t.Cleanup(func() { labReset(t) }) // after lobby is stopped and what the test set up later is undone
	t.Cleanup(func() {
		if d.running() {
			d.cmd.Process.Kill()
			<-d.exited
		}
		if t.Failed() {
			t.Logf("lobby's log:\n%s", d.logText())
		}
	})
	return d
}

func (d *lobbyProc) writeConfig(text string) {
	if err := os.WriteFile(d.config, []byte(text), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

type logWriter struct{ d *lobbyProc }

func (w logWriter) Write(p []byte) (int, error) {
	w.d.logMu.Lock()
	defer w.d.logMu.Unlock()
	return w.d.log.Write(p)
}

func (d *lobbyProc) logText() string {
	d.logMu.Lock()
	defer d.logMu.Unlock()
	return d.log.String()
}

// start runs lobby and waits until its control socket answers.
func (d *lobbyProc) start() {
	d.t.Helper()
	d.cmd = exec.Command("ip", "netns", "exec", d.ns, lobbyBin, "run", "-c", d.config)
	d.cmd.Stdout = logWriter{d}
	d.cmd.Stderr = logWriter{d}
	d.exited = make(chan struct{})
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	go func() {
		d.exitErr = d.cmd.Wait()
		close(d.exited)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, _, code := d.ctl("status"); code == 0 {
			return
		}
		select {
		case <-d.exited:
			d.t.Fatalf("lobby exited at start: %v\n%s", d.exitErr, d.logText())
		case <-time.After(50 * time.Millisecond):
		}
	}
	d.t.Fatalf("lobby's control socket did not answer within 10s\n%s", d.logText())
}

func (d *lobbyProc) running() bool {
	if d.cmd == nil {
		return false
	}
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// stop sends sig and returns lobby's exit status.
func (d *lobbyProc) stop(sig syscall.Signal) int {
	d.t.Helper()
	d.cmd.Process.Signal(sig)
	select {
	case <-d.exited:
	case <-time.After(15 * time.Second):
		d.cmd.Process.Kill()
		d.t.Fatalf("lobby did not exit within 15s of %v", sig)
	}
	return d.cmd.ProcessState.ExitCode()
}

// ctl runs `lobby ctl` against this daemon.
func (d *lobbyProc) ctl(args ...string) (stdout, stderr string, code int) {
	cmd := exec.Command(lobbyBin, append([]string{"ctl", "-s", d.socket}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return o.String(), e.String(), code
}

// ctlJSON runs a --json verb that must succeed and decodes its output.
func (d *lobbyProc) ctlJSON(v any, args ...string) {
	d.t.Helper()
	out, errOut, code := d.ctl(append([]string{"--json"}, args...)...)
	if code != 0 {
		d.t.Fatalf("lobby ctl %v: exit %d: %s", args, code, errOut)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		d.t.Fatalf("lobby ctl %v: %v\n%s", args, err, out)
	}
}

// ctlClient is a row of `ctl clients --json`.
type ctlClient struct {
	MAC       string     `json:"mac"`
	IP        string     `json:"ip"`
	Hostname  string     `json:"hostname"`
	State     string     `json:"state"`
	Since     time.Time  `json:"since"`
	Expires   *time.Time `json:"expires"`
	BytesUp   uint64     `json:"bytes_up"`
	BytesDown uint64     `json:"bytes_down"`
	Method    *string    `json:"method"`
	User      *string    `json:"user"`
	Download  uint64     `json:"download_rate"`
	Upload    uint64     `json:"upload_rate"`
	Quota     uint64     `json:"quota"`
	IPv6      []string   `json:"ipv6"`
	Ended     string     `json:"ended"`
}

func (d *lobbyProc) clients() map[string]ctlClient {
	var cs []ctlClient
	d.ctlJSON(&cs, "clients")
	m := map[string]ctlClient{}
	for _, c := range cs {
		m[c.MAC] = c
	}
	return m
}

// clientMAC is the fixed MAC of lab client k (scripts/lab.sh).
func clientMAC(k int) string { return fmt.Sprintf("02:00:00:00:01:%02x", k) }
