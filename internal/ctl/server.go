package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lobby-fw/lobby/internal/config"
	"github.com/lobby-fw/lobby/internal/session"
)

// Server answers the control socket.
type Server struct {
	Table *session.Table
	// Vouchers are the voucher codes; nil: the voucher verbs fail.
	Vouchers Vouchers
	Version  string
	Started  time.Time
	// Backend names the firewall backend in use, for `status`.
	Backend func() string
	Log     *slog.Logger
}

// Listen opens the control socket at path with mode 0600. A socket file left
// by a crashed daemon is replaced; one that a live daemon answers on is not.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another lobby is running and answers on it; stop it first or set option socket", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket: removing stale %s: %w", path, err)
	}
	l, err := listenPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w (set option socket to a writable path)", path, err)
	}
	return l, nil
}

// listenPrivate binds a unix socket at path that is mode 0600 from the
// moment it exists: anyone who can talk to it can sign clients in. A chmod
// after bind would leave it open to every local user for an instant, and
// setting the umask around bind would change it for the whole process.
// Linux gives the file the socket inode's own mode, less the umask
// (unix_bind_bsd in net/unix/af_unix.c), so the inode is made 0600 first.
func listenPrivate(path string) (*net.UnixListener, error) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close() // net.FileListener holds a copy of fd
	if err := syscall.Fchmod(fd, 0o600); err != nil {
		return nil, os.NewSyscallError("fchmod", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		return nil, os.NewSyscallError("bind", err)
	}
	l, err := listenFile(f)
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	return l, nil
}

// listenFile listens on the bound socket f and makes it a listener that
// removes its file when closed.
func listenFile(f *os.File) (*net.UnixListener, error) {
	if err := syscall.Listen(int(f.Fd()), syscall.SOMAXCONN); err != nil {
		return nil, os.NewSyscallError("listen", err)
	}
	l, err := net.FileListener(f)
	if err != nil {
		return nil, err
	}
	ul, ok := l.(*net.UnixListener)
	if !ok {
		l.Close()
		return nil, fmt.Errorf("not a unix socket: %T", l)
	}
	ul.SetUnlinkOnClose(true)
	return ul, nil
}

// checkPeer allows a request from a process running as uid: root, or the
// daemon's own user (self), which is who may sign clients in (SPEC §5: root
// only). The socket's mode keeps others out already; this holds even if
// that mode is changed, or the socket is passed on.
func checkPeer(uid uint32, self int) error {
	if uid == 0 || int64(uid) == int64(self) {
		return nil
	}
	return fmt.Errorf("permission denied: lobby ctl is for root (this request came from uid %d)", uid)
}

// peerUID is the user of the process at the other end of conn, as the
// kernel recorded it when that process connected (SO_PEERCRED, unix(7)).
func peerUID(conn net.Conn) (uint32, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return 0, fmt.Errorf("not a unix socket: %T", conn)
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *syscall.Ucred
	var serr error
	if err := rc.Control(func(fd uintptr) {
		cred, serr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, os.NewSyscallError("getsockopt SO_PEERCRED", serr)
	}
	return cred.Uid, nil
}

// Serve answers connections on l until ctx ends, then closes l and waits
// for the requests in flight.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("control socket: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.handle(ctx, conn)
		}()
	}
}

func (s *Server) handle(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	var req Request
	var resp Response
	uid, peerErr := peerUID(conn)
	if peerErr == nil {
		peerErr = checkPeer(uid, os.Geteuid())
	}
	// The request is read even from a peer that is refused, so that it
	// gets the answer instead of a broken pipe; nothing of it is done.
	if err := json.NewDecoder(io.LimitReader(conn, 64<<10)).Decode(&req); err != nil {
		resp.Error = "bad request: " + err.Error()
	} else if peerErr != nil {
		s.Log.Warn("ctl: request refused", "verb", req.Verb, "err", peerErr)
		resp.Error = peerErr.Error()
	} else if result, err := s.do(ctx, req); err != nil {
		resp.Error = err.Error()
	} else {
		resp.OK = true
		resp.Result, _ = json.Marshal(result)
	}
	if !resp.OK {
		s.Log.Debug("ctl request failed", "verb", req.Verb, "err", resp.Error)
	}
	json.NewEncoder(conn).Encode(resp)
}

// do serves req by its verb's entry in verbs.
func (s *Server) do(ctx context.Context, req Request) (any, error) {
	v, ok := lookupVerb(verbs, req.Verb)
	if !ok {
		return nil, fmt.Errorf("unknown verb %q", req.Verb)
	}
	if !v.takes(len(req.Args)) {
		return nil, fmt.Errorf("usage: %s", v.usage())
	}
	return v.do(s, ctx, req.Args)
}

// by is what the client table logs as the cause of a change made here.
const by = "ctl"

func (s *Server) status(context.Context, []string) (any, error) {
	st := Status{
		Version:       s.Version,
		UptimeSeconds: int64(time.Since(s.Started).Seconds()),
		Backend:       s.Backend(),
		Clients:       map[string]int{},
	}
	for state, n := range s.Table.Counts() {
		st.Clients[state.String()] = n
	}
	return st, nil
}

func (s *Server) clients(context.Context, []string) (any, error) {
	cs := s.Table.Clients()
	out := make([]Client, len(cs))
	for i, c := range cs {
		out[i] = clientJSON(c)
	}
	return out, nil
}

func (s *Server) auth(ctx context.Context, args []string) (any, error) {
	mac, err := s.client(args[0], true)
	if err != nil {
		return nil, err
	}
	// config lobby's limits, or the session timeout given (SPEC §3).
	var l session.Limits
	if len(args) == 2 {
		d, err := config.ParseDuration(args[1])
		if err != nil || d == 0 {
			return nil, fmt.Errorf("duration %q: want a positive duration like 2h", args[1])
		}
		l = session.Limits{SessionTimeout: d, Given: session.GivenSessionTimeout}
	}
	// auth IP binds that address (SPEC §3, Firewall); auth MAC the one
	// the table knows.
	ip, _ := netip.ParseAddr(args[0])
	return result(s.Table.AuthAt(ctx, mac, ip, s.Table.NewGrant(session.MethodCtl, "", l)))
}

func (s *Server) deauth(ctx context.Context, args []string) (any, error) {
	mac, err := s.client(args[0], false)
	if err != nil {
		return nil, err
	}
	return result(s.Table.Deauth(ctx, mac, session.ReasonAdmin))
}

func (s *Server) limit(ctx context.Context, args []string) (any, error) {
	mac, err := s.client(args[0], false)
	if err != nil {
		return nil, err
	}
	set, err := ParseLimits(args[1:])
	if err != nil {
		return nil, err
	}
	return result(s.Table.Limit(ctx, mac, set))
}

// ParseLimits reads the KEY=VALUE arguments of limit into a change of a
// grant for Table.Limit (the admin pages' limits form comes through it
// too). expires is counted from now (0: no end); quota is the session's
// whole allowance, counted since sign-in, as clients --json shows it.
func ParseLimits(args []string) (func(*session.Grant, time.Time), error) {
	var sets []func(*session.Grant, time.Time)
	seen := map[string]bool{}
	for _, a := range args {
		key, val, ok := strings.Cut(a, "=")
		if !ok || val == "" {
			return nil, fmt.Errorf("%q: want KEY=VALUE with download, upload, quota or expires", a)
		}
		if seen[key] {
			return nil, fmt.Errorf("%s given twice", key)
		}
		seen[key] = true
		switch key {
		case "download", "upload":
			n, err := config.ParseRate(val)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", key, err)
			}
			if key == "download" {
				sets = append(sets, func(g *session.Grant, _ time.Time) { g.DownloadRate = n })
			} else {
				sets = append(sets, func(g *session.Grant, _ time.Time) { g.UploadRate = n })
			}
		case "quota":
			n, err := config.ParseSize(val)
			if err != nil {
				return nil, fmt.Errorf("quota: %v", err)
			}
			sets = append(sets, func(g *session.Grant, _ time.Time) { g.Quota = n })
		case "expires":
			d, err := config.ParseDuration(val)
			if err != nil {
				return nil, fmt.Errorf("expires: %v", err)
			}
			sets = append(sets, func(g *session.Grant, now time.Time) {
				g.End = time.Time{}
				if d > 0 {
					g.End = now.Add(d)
				}
			})
		default:
			return nil, fmt.Errorf("%q: unknown limit %q (download, upload, quota, expires)", a, key)
		}
	}
	return func(g *session.Grant, now time.Time) {
		for _, set := range sets {
			set(g, now)
		}
	}, nil
}

// byMAC is the daemon's side of a verb that sets or clears a flag of the
// client whose MAC is its one argument (block, trust and their undoing).
func byMAC(set func(*session.Table, context.Context, net.HardwareAddr, bool, string) (session.Client, error), on bool) func(*Server, context.Context, []string) (any, error) {
	return func(s *Server, ctx context.Context, args []string) (any, error) {
		mac, err := config.ParseMAC(args[0])
		if err != nil {
			return nil, fmt.Errorf("%q: %v", args[0], err)
		}
		return result(set(s.Table, ctx, mac, on, by))
	}
}

// client reads a MAC, or an IP held by a known client. A MAC never seen
// before is accepted only where create is set (auth): an operator may sign
// in a device before it joins.
func (s *Server) client(arg string, create bool) (net.HardwareAddr, error) {
	if mac, err := config.ParseMAC(arg); err == nil {
		if _, ok := s.Table.Lookup(mac); !ok && !create {
			return nil, fmt.Errorf("no client with MAC %s", mac)
		}
		return mac, nil
	}
	ip, err := netip.ParseAddr(arg)
	if err != nil {
		return nil, fmt.Errorf("%q is neither a MAC nor an IP address", arg)
	}
	c, ok := s.Table.LookupIP(ip)
	if !ok {
		return nil, fmt.Errorf("no client holds %s (it has no lease and has not been seen)", ip)
	}
	return c.MAC, nil
}

func result(c session.Client, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return clientJSON(c), nil
}
