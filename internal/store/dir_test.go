package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestUnsafeDirRefused: a state directory that another user can write to
// is refused with the fix named (SPEC §4); lobby's own 0700 directory, a
// root-owned 0755 one and a directory it creates itself are used.
func TestUnsafeDirRefused(t *testing.T) {
	tests := []struct {
		name  string
		mode  os.FileMode
		owner int // -1: the test's own user
		fix   string
	}{
		{"world-writable", 0o777, -1, "chmod go-w"},
		{"world-writable, sticky", 0o777 | os.ModeSticky, -1, "chmod go-w"},
		{"group-writable", 0o770, -1, "chmod go-w"},
		{"another user's", 0o700, 65534, "chown"},
		{"private", 0o700, -1, ""},
		{"readable by all", 0o755, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tt.mode); err != nil {
				t.Fatal(err)
			}
			if tt.owner >= 0 {
				if os.Geteuid() != 0 {
					t.Skip("chown needs root")
				}
				if err := os.Chown(dir, tt.owner, tt.owner); err != nil {
					t.Fatal(err)
				}
			}
			s, err := Open(dir, Config{Logger: discardLog()})
			if tt.fix == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				s.abandon()
				return
			}
			if err == nil {
				s.abandon()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), tt.fix) {
				t.Errorf("error %q does not name the directory and the fix (%s)", err, tt.fix)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("Open refused the directory yet wrote %v into it", entries)
			}
		})
	}
	t.Run("created", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "state")
		s := open(t, dir, Config{})
		s.abandon()
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Errorf("created with mode %04o, want 0700", fi.Mode().Perm())
		}
	})
}

// TestSymlinksNotFollowed: a symbolic link at the name of the journal or
// the snapshot is set aside with a warning, never read or written through:
// its target stays as it was (SPEC §4).
func TestSymlinksNotFollowed(t *testing.T) {
	for _, name := range []string{journalName, snapshotName, snapshotName + tmpSuffix, journalName + tmpSuffix} {
		t.Run(name, func(t *testing.T) {
			// A store whose journal is clean (a header and nothing
			// more), so that Open appends to it instead of rewriting.
			dir := syncedStore(t, "a")
			open(t, dir, Config{}).abandon()

			// name becomes a link to a file outside, which holds what
			// was there (or a journal, for the temporaries).
			outside := filepath.Join(t.TempDir(), "target")
			src := filepath.Join(dir, name)
			if strings.HasSuffix(name, tmpSuffix) {
				src = filepath.Join(dir, journalName)
				writeFile(t, outside, readFile(t, src))
			} else if err := os.Rename(src, outside); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			before := readFile(t, outside)

			log, lb := newLog()
			s := open(t, dir, Config{Logger: log, compactRecords: 2})
			if name == snapshotName && s.Records("lease")["a"] != nil {
				t.Error("records read through the link")
			}
			for _, k := range []string{"b", "c", "d"} { // past compactRecords: a new snapshot and journal
				if err := s.Put("lease", k, strings.Repeat("x", 100)); err != nil {
					t.Fatal(err)
				}
				if err := s.Sync(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			if after := readFile(t, outside); !bytes.Equal(after, before) {
				t.Errorf("the link's target changed:\nbefore %q\nafter  %q", before, after)
			}
			for _, n := range []string{journalName, snapshotName} {
				fi, err := os.Lstat(filepath.Join(dir, n))
				if err != nil || !fi.Mode().IsRegular() {
					t.Errorf("%s after Open: %v, %v; want a regular file", n, fi, err)
				}
			}
			if !strings.HasSuffix(name, tmpSuffix) {
				aside := corruptFiles(t, dir, name)
				if len(aside) != 1 {
					t.Fatalf("set aside: %v; want the link", aside)
				}
				if fi, err := os.Lstat(filepath.Join(dir, aside[0])); err != nil || fi.Mode()&os.ModeSymlink == 0 {
					t.Errorf("%s is not the link that was set aside: %v, %v", aside[0], fi, err)
				}
				if !strings.Contains(lb.String(), "symbolic link") {
					t.Errorf("no warning names the link:\n%s", lb)
				}
			}
		})
	}
}

// TestLockSymlinkRefused: a symbolic link at the lock's name is an error
// that names it, and its target is not created.
func TestLockSymlinkRefused(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "target")
	if err := os.Symlink(outside, filepath.Join(dir, "lock")); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Config{Logger: discardLog()})
	if err == nil {
		s.abandon()
		t.Fatal("Open succeeded")
	}
	if !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("error %q does not say the lock is a symbolic link", err)
	}
	if _, err := os.Lstat(outside); !os.IsNotExist(err) {
		t.Errorf("the link's target was created: %v", err)
	}
}

// TestFIFONotOpened: a FIFO at the journal's name is set aside; Open does
// not wait for a writer.
func TestFIFONotOpened(t *testing.T) {
	dir := syncedStore(t, "a")
	open(t, dir, Config{}).abandon()
	j := filepath.Join(dir, journalName)
	if err := os.Remove(j); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(j, 0o600); err != nil {
		t.Fatal(err)
	}
	opened := make(chan *Store, 1)
	go func() {
		s, err := Open(dir, Config{Logger: discardLog()})
		if err != nil {
			t.Error(err)
		}
		opened <- s
	}()
	var s *Store
	select {
	case s = <-opened:
	case <-time.After(10 * time.Second):
		t.Fatal("Open is waiting for a writer on the FIFO")
	}
	if s == nil {
		return
	}
	defer s.abandon()
	if s.Records("lease")["a"] == nil {
		t.Error("the snapshot's record was lost")
	}
	if len(corruptFiles(t, dir, journalName)) != 1 {
		t.Error("the FIFO was not set aside")
	}
}
