package appliance

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSystemMounts(t *testing.T) {
	ms := systemMounts()
	order := map[string]int{}
	for i, m := range ms {
		if !filepath.IsAbs(m.target) || m.source == "" || m.fstype == "" {
			t.Errorf("mount %+v is incomplete", m)
		}
		if _, dup := order[m.target]; dup {
			t.Errorf("%s mounted twice", m.target)
		}
		order[m.target] = i
	}
	for _, target := range []string{"/proc", "/sys", "/dev", "/run", "/tmp"} {
		if _, ok := order[target]; !ok {
			t.Errorf("no mount at %s", target)
		}
	}
	// /dev/pts lies inside /dev: mounted after it, or devtmpfs hides it.
	if order["/dev/pts"] < order["/dev"] {
		t.Error("/dev/pts mounted before /dev")
	}
}

// TestMountAll mounts the table under a scratch root in a mount namespace
// of its own (so nothing shows outside the test), twice: the second time
// every target is busy and that is no error.
func TestMountAll(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	root := t.TempDir()
	errc := make(chan error, 1)
	mounts := make(chan map[string]string, 1)
	go func() {
		// The thread is never unlocked: it dies with the goroutine, and
		// the namespace with it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			errc <- err
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- err
			return
		}
		if err := mountAll(root, systemMounts()); err != nil {
			errc <- err
			return
		}
		if err := mountAll(root, systemMounts()); err != nil {
			errc <- err
			return
		}
		mounts <- mountTable(t, "/proc/thread-self/mountinfo")
		errc <- nil
	}()
	if err := <-errc; err != nil {
		if os.IsPermission(err) || err == unix.EPERM {
			t.Skipf("no mount namespace here: %v", err)
		}
		t.Fatal(err)
	}
	got := <-mounts
	for _, m := range systemMounts() {
		if fs := got[filepath.Join(root, m.target)]; fs != m.fstype {
			t.Errorf("%s: mounted %q, want %q", m.target, fs, m.fstype)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "proc/self")); err == nil {
		t.Error("the mounts leaked out of the test's namespace")
	}
}

// mountTable reads mountinfo: mount point → file system type.
func mountTable(t *testing.T, path string) map[string]string {
	f, err := os.Open(path)
	if err != nil {
		t.Error(err)
		return nil
	}
	defer f.Close()
	out := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL…] - FSTYPE SOURCE SUPEROPTS
		pre, post, ok := strings.Cut(s.Text(), " - ")
		f1, f2 := strings.Fields(pre), strings.Fields(post)
		if ok && len(f1) >= 5 && len(f2) >= 1 {
			out[f1[4]] = f2[0]
		}
	}
	return out
}
