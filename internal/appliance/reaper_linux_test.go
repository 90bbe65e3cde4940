package appliance

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestReap makes this test process a subreaper, as PID 1 is for every
// process, and has a shell leave an orphan behind: reap must collect both
// the shell and the orphan, so that neither stays a zombie.
func TestReap(t *testing.T) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skipf("cannot become a subreaper: %v", err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	sh, err := os.Stat("/bin/sh")
	if err != nil || sh.IsDir() {
		t.Skip("no /bin/sh")
	}

	var (
		mu     sync.Mutex
		reaped = map[int]unix.WaitStatus{}
	)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		reap(ctx, func(pid int, ws unix.WaitStatus) {
			mu.Lock()
			reaped[pid] = ws
			mu.Unlock()
		})
	}()
	defer func() { cancel(); <-done }()

	// The shell starts a sleeper in the background, prints its pid and
	// exits 3; the sleeper, orphaned, is reparented to this process and
	// exits a moment later. os/exec is not used: its Wait would race
	// the reaper for the shell.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p, err := os.StartProcess("/bin/sh", []string{"sh", "-c", "sleep 0.3 & echo $!; exit 3"},
		&os.ProcAttr{Files: []*os.File{nil, w, os.Stderr}})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 32)
	n, _ := r.Read(out)
	r.Close()
	orphan, err := strconv.Atoi(strings.TrimSpace(string(out[:n])))
	if err != nil {
		t.Fatalf("the shell printed %q", out[:n])
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		ws, shDone := reaped[p.Pid]
		_, orphanDone := reaped[orphan]
		mu.Unlock()
		if shDone && orphanDone {
			if ws.ExitStatus() != 3 {
				t.Errorf("shell status %d, want 3", ws.ExitStatus())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not reaped within 10 s: shell %d (%v), orphan %d (%v)", p.Pid, shDone, orphan, orphanDone)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, pid := range []int{p.Pid, orphan} {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			t.Errorf("pid %d still in /proc after being reaped", pid)
		}
	}
}
