// Package radiustest runs a real FreeRADIUS 3.2 (Debian's freeradius and
// freeradius-utils, which scripts/deps.sh installs) for tests: in the
// foreground, with a config directory of its own, on loopback or inside a
// lab namespace — never the system's service. The config is minimal: PAP
// and MAC authentication from a users file, accounting into a detail file,
// and a Message-Authenticator in the replies to user "strict" (FreeRADIUS
// 3.2.1 sends none unless told; := 0x00 makes it compute one). With
// Options.Walk it also runs the files that ship in docs/radius/raddb, as an
// operator installs them: SQLite accounting and the policy that lets a
// guest walk from one router to another.
package radiustest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Secret is the shared secret of every client the server knows.
const Secret = "testing123"

// Users is a users file for the tests: nemo gets every limit Lobby reads,
// chilli ChilliSpot's rates, the MAC 02-00-00-00-00-C1 is known to MAC
// authentication, strict's Accept is signed, expired is rejected with a
// Reply-Message.
const Users = `nemo	Cleartext-Password := "arctangent"
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

// Options says how to run the server.
type Options struct {
	// Netns runs the server inside that network namespace (ip netns
	// exec); "" runs it here.
	Netns string
	// Listen is the address it listens on (default 127.0.0.1); Auth and
	// Acct its ports (default: free ports on loopback, or 1812 and 1813
	// in a namespace).
	Listen     netip.Addr
	Auth, Acct uint16
	// Clients are the networks allowed to ask (default: Listen's
	// address); all share Secret.
	Clients []netip.Prefix
	// Users is the users file (default Users).
	Users string
	// Authorize and Accounting, when set, are unlang placed before the
	// files module in authorize and before detail in accounting
	// (a policy of a test's own).
	Authorize, Accounting string
	// Modules are further module sections (for example an sql module).
	Modules string
	// Walk adds the shipped configuration (docs/radius/raddb, see
	// docs/radius.md): the lobby_sql module on a database made from
	// FreeRADIUS's SQLite schema and lobby.sql, in accounting; the
	// lobby_walk policy in authorize before the files module and
	// lobby_grant in post-auth.
	Walk bool
}

// loopback is where a server listens by default.
var loopback = netip.MustParseAddr("127.0.0.1")

// Server is a running FreeRADIUS.
type Server struct {
	Dir        string
	Auth, Acct netip.AddrPort
	opts       Options
	t          testing.TB

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	log    bytes.Buffer
}

const conf = `prefix = /usr
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
max_requests = 16384
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
{{CLIENTS}}
policy {
{{POLICY}}
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
{{MODULES}}
}
server default {
	listen {
		type = auth
		ipaddr = {{LISTEN}}
		port = {{AUTH}}
	}
	listen {
		type = acct
		ipaddr = {{LISTEN}}
		port = {{ACCT}}
	}
	authorize {
{{AUTHORIZE}}
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
	}
	accounting {
{{ACCOUNTING}}
		detail
	}
	post-auth {
{{POSTAUTH}}
		if (&User-Name == "strict") {
			update reply {
				&Message-Authenticator := 0x00
			}
		}
	}
}
`

// schema is FreeRADIUS's own SQLite schema (radacct, nasreload, …), which
// the walk's database starts from as an operator's does.
const schema = "/etc/freeradius/3.0/mods-config/sql/main/sqlite/schema.sql"

// Shipped is the directory of the FreeRADIUS files that ship for
// operators, docs/radius/raddb, found from the working directory up (a
// package's tests run in its directory).
func Shipped() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "docs", "radius", "raddb"), nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", fmt.Errorf("radiustest: no go.mod above the working directory")
		}
		dir = up
	}
}

// Start runs a server until the test ends, or skips the test where that
// cannot be done (no freeradius, not root).
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if _, err := exec.LookPath("freeradius"); err != nil {
		t.Skip("freeradius is not installed (scripts/deps.sh installs it)")
	}
	if _, err := exec.LookPath("radclient"); err != nil {
		t.Skip("radclient is not installed (freeradius-utils)")
	}
	if os.Geteuid() != 0 {
		t.Skip("FreeRADIUS's tests run as root")
	}
	if _, err := exec.LookPath("sqlite3"); err != nil && o.Walk {
		t.Skip("sqlite3 is not installed (scripts/deps.sh installs it)")
	}
	if !o.Listen.IsValid() {
		o.Listen = loopback
	}
	if o.Auth == 0 {
		o.Auth = port(t, o, 1812)
	}
	if o.Acct == 0 {
		o.Acct = port(t, o, 1813)
	}
	s := &Server{Dir: t.TempDir(), t: t}
	o, err := WriteDir(s.Dir, o)
	if err != nil {
		t.Fatal(err)
	}
	s.opts = o
	s.Auth, s.Acct = netip.AddrPortFrom(o.Listen, o.Auth), netip.AddrPortFrom(o.Listen, o.Acct)
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			s.mu.Lock()
			t.Logf("freeradius's log:\n%s", s.log.String())
			s.mu.Unlock()
		}
	})
	s.Start()
	return s
}

// WriteDir writes the config directory of a server with o into dir, which
// must exist and be writable by no one else (FreeRADIUS refuses it
// otherwise): radiusd.conf, the users file, the shipped files it needs.
// It returns o with the defaults it filled in; a port left 0 is the
// standard one (1812, 1813). Start uses it; so does scripts/radiusconf,
// for the demo, which runs `freeradius -f -d DIR` itself.
func WriteDir(dir string, o Options) (Options, error) {
	if !o.Listen.IsValid() {
		o.Listen = loopback
	}
	if o.Auth == 0 {
		o.Auth = 1812
	}
	if o.Acct == 0 {
		o.Acct = 1813
	}
	if o.Clients == nil {
		o.Clients = []netip.Prefix{netip.PrefixFrom(o.Listen, o.Listen.BitLen())}
	}
	if o.Users == "" {
		o.Users = Users
	}
	var clients strings.Builder
	for i, p := range o.Clients {
		fmt.Fprintf(&clients, "client c%d {\n\tipaddr = %s\n\tsecret = %s\n\trequire_message_authenticator = yes\n}\n", i, p, Secret)
	}
	shipped, err := Shipped()
	if err != nil {
		return o, err
	}
	// The shipped files are copied, byte for byte, to where an operator
	// puts them under raddb.
	files := []string{"dictionary"}
	var policy, postAuth string
	if o.Walk {
		files = append(files, "mods-enabled/lobby_sql", "policy.d/lobby")
		o.Modules += "\n$INCLUDE ${confdir}/mods-enabled/lobby_sql\n"
		policy = "$INCLUDE ${confdir}/policy.d/lobby"
		o.Authorize += "\n\t\tlobby_walk\n"
		o.Accounting += "\n\t\tlobby_sql\n"
		postAuth = "\t\tlobby_grant"
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(shipped, f))
		if err != nil {
			return o, err
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o700); err != nil {
			return o, err
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			return o, err
		}
	}
	if o.Walk {
		// As docs/radius.md tells an operator: FreeRADIUS's schema,
		// then lobby.sql.
		for _, f := range []string{schema, filepath.Join(shipped, "mods-config/sql/main/sqlite/lobby.sql")} {
			if out, err := sqlite3(dir, f); err != nil {
				return o, fmt.Errorf("sqlite3 < %s: %v\n%s", f, err, out)
			}
		}
	}
	text := strings.NewReplacer("{{DIR}}", dir, "{{LISTEN}}", o.Listen.String(),
		"{{AUTH}}", fmt.Sprint(o.Auth), "{{ACCT}}", fmt.Sprint(o.Acct), "{{CLIENTS}}", clients.String(),
		"{{POLICY}}", policy, "{{MODULES}}", o.Modules, "{{AUTHORIZE}}", o.Authorize,
		"{{ACCOUNTING}}", o.Accounting, "{{POSTAUTH}}", postAuth).Replace(conf)
	for name, body := range map[string]string{"radiusd.conf": text, "users": o.Users} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			return o, err
		}
	}
	return o, nil
}

// port picks a free UDP port on loopback, or the standard one in a
// namespace (the test's own, where nothing else listens).
func port(t testing.TB, o Options, standard uint16) uint16 {
	if o.Netns != "" {
		return standard
	}
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: o.Listen.AsSlice()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Port()
}

// Start runs the server again after Stop (a test of a server that was
// away), with the same directory: its detail file and database stay.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	running := s.cancel != nil
	s.mu.Unlock()
	if running {
		return
	}
	args := []string{"freeradius", "-f", "-l", "stdout", "-d", s.Dir}
	if s.opts.Netns != "" {
		args = append([]string{"ip", "netns", "exec", s.opts.Netns}, args...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	ready := make(chan bool, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		signaled := false // once: a debug run (-X) says it again
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if !signaled && strings.Contains(sc.Text(), "Ready to process requests") {
				ready <- true
				signaled = true
			}
		}
		if !signaled {
			ready <- false
		}
		cmd.Wait()
	}()
	s.mu.Lock()
	s.cancel, s.done = cancel, done
	s.mu.Unlock()
	select {
	case ok := <-ready:
		if !ok {
			s.t.Fatalf("freeradius stopped before it was ready:\n%s", s.Log())
		}
	case <-time.After(30 * time.Second):
		s.t.Fatal("freeradius not ready after 30 s")
	}
}

// Stop ends the server (a server that went away) and waits for it.
func (s *Server) Stop() {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.cancel, s.done = nil, nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// Detail is the detail file so far: every accounting record the server
// took, in order.
func (s *Server) Detail() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "detail"))
	return string(b)
}

// SQL runs a query on the walk's database (Options.Walk) with sqlite3
// and returns its output: rows a line each, columns split by '|'.
func (s *Server) SQL(query string) (string, error) {
	cmd := exec.Command("sqlite3", filepath.Join(s.Dir, "lobby.sqlite"), query)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// sqlite3 feeds a file of SQL into the walk's database in dir.
func sqlite3(dir, file string) ([]byte, error) {
	in, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	cmd := exec.Command("sqlite3", filepath.Join(dir, "lobby.sqlite"))
	cmd.Stdin = in
	return cmd.CombinedOutput()
}

// Log is the server's output so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// Radclient runs radclient against addr (kind: auth, acct, coa,
// disconnect) with attrs, one per line, and the given secret; it runs in
// netns when that is set. It returns radclient's output.
func Radclient(dir, netns, addr, kind, secret, attrs string) (string, error) {
	args := []string{"radclient", "-x", "-r", "1", "-t", "2", "-d", dir, addr, kind, secret}
	if netns != "" {
		args = append([]string{"ip", "netns", "exec", netns}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin = strings.NewReader(attrs)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
