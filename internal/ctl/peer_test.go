package ctl

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestSocketPrivateAtBind: the socket file is mode 0600 from the moment
// bind creates it, whatever the umask: nothing changes its mode after
// (a chmod after bind shows as IN_ATTRIB), so it is never open to others.
func TestSocketPrivateAtBind(t *testing.T) {
	old := syscall.Umask(0) // the most permissive: the mode must not come from it
	defer syscall.Umask(old)

	dir := t.TempDir()
	ifd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(ifd)
	if _, err := syscall.InotifyAddWatch(ifd, dir, syscall.IN_CREATE|syscall.IN_ATTRIB); err != nil {
		t.Fatal(err)
	}
	l, err := Listen(filepath.Join(dir, "ctl.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, err := os.Stat(filepath.Join(dir, "ctl.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}

	buf := make([]byte, 4096)
	n, err := syscall.Read(ifd, buf)
	if err != nil {
		t.Fatalf("no inotify event: %v", err)
	}
	var events []string
	for b := buf[:n]; len(b) >= syscall.SizeofInotifyEvent; {
		mask := binary.NativeEndian.Uint32(b[4:])
		nameLen := int(binary.NativeEndian.Uint32(b[12:]))
		name := string(bytes.TrimRight(b[syscall.SizeofInotifyEvent:syscall.SizeofInotifyEvent+nameLen], "\x00"))
		b = b[syscall.SizeofInotifyEvent+nameLen:]
		switch {
		case mask&syscall.IN_CREATE != 0:
			events = append(events, "create "+name)
		case mask&syscall.IN_ATTRIB != 0:
			events = append(events, "attrib "+name)
		}
	}
	if len(events) != 1 || events[0] != "create ctl.sock" {
		t.Errorf("events %q; want the socket created with its final mode, nothing changed after", events)
	}
}

func TestCheckPeer(t *testing.T) {
	tests := []struct {
		uid  uint32
		self int
		ok   bool
	}{
		{0, 0, true},
		{1000, 0, false},
		{65534, 0, false},
		{0, 1000, true},     // root, to a daemon run as another user
		{1000, 1000, true},  // the daemon's own user
		{1001, 1000, false}, // anyone else
	}
	for _, tt := range tests {
		err := checkPeer(tt.uid, tt.self)
		if (err == nil) != tt.ok {
			t.Errorf("checkPeer(uid %d, self %d) = %v, want ok %v", tt.uid, tt.self, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), strconv.Itoa(int(tt.uid))) {
			t.Errorf("error %q does not name uid %d", err, tt.uid)
		}
	}
}

// peerEnv names the socket that TestPeerClient, run as a subprocess by
// TestNonRootPeerRefused, calls as another user.
const peerEnv = "LOBBY_CTL_TEST_PEER_SOCKET"

// TestNonRootPeerRefused: a process of another user that reaches the
// socket (its mode opened up here, as a mistake would) is refused by the
// peer check before its request is read.
func TestNonRootPeerRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as another user")
	}
	// A directory that the other user can pass through.
	dir, err := os.MkdirTemp("", "lobby-ctl-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock, _ := serveAt(t, filepath.Join(dir, "ctl.sock"))
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	for _, uid := range []int{65534, 0} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPeerClient$", "-test.v")
		cmd.Env = append(os.Environ(), peerEnv+"="+sock, peerEnv+"_UID="+strconv.Itoa(uid))
		out, err := cmd.CombinedOutput()
		if errors.Is(err, syscall.ENOEXEC) {
			// Under qemu-user (scripts/cross-check.sh) without binfmt_misc
			// the test binary cannot be started again.
			t.Skipf("cannot run the test binary again: %v", err)
		}
		refused := strings.Contains(string(out), "permission denied: lobby ctl is for root (this request came from uid 65534)")
		answered := strings.Contains(string(out), "status answered")
		if uid != 0 && (!refused || answered) {
			t.Errorf("a client as uid %d was not refused:\n%s", uid, out)
		}
		if uid == 0 && !answered {
			t.Errorf("a client as root was not answered:\n%s", out)
		}
	}
}

// TestPeerClient is TestNonRootPeerRefused's client, run in a subprocess
// that drops to another user before it calls.
func TestPeerClient(t *testing.T) {
	sock := os.Getenv(peerEnv)
	if sock == "" {
		t.Skip("run by TestNonRootPeerRefused")
	}
	uid, err := strconv.Atoi(os.Getenv(peerEnv + "_UID"))
	if err != nil {
		t.Fatal(err)
	}
	if uid != 0 {
		if err := syscall.Setgroups(nil); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Setgid(uid); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Setuid(uid); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Call(sock, Request{Verb: "status"}); err != nil {
		t.Fatal(err)
	}
	t.Log("status answered")
}
