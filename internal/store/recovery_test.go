package store

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crcLine builds a journal line with a correct checksum around any body, to
// test what happens when the checksum passes but the content is wrong.
func crcLine(body string) string {
	return fmt.Sprintf("%08x %s\n", crc32.Checksum([]byte(body), castagnoli), body)
}

// journalLines splits a journal into lines, each with its LF.
func journalLines(data []byte) []string {
	return strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n")
}

// syncedStore makes a directory whose journal holds one line per key of
// keys, in order, each put synced on its own; it returns the directory
// (abandoned, as after a crash).
func syncedStore(t *testing.T, keys ...string) string {
	t.Helper()
	dir := t.TempDir()
	s := open(t, dir, Config{FlushInterval: time.Hour})
	for i, k := range keys {
		if err := s.Put("lease", k, strings.Repeat("v", i+1)); err != nil {
			t.Fatal(err)
		}
		if err := s.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	s.abandon()
	return dir
}

func TestJournalCutAtEveryOffset(t *testing.T) {
	src := syncedStore(t, "a", "b", "c")
	state := readFile(t, filepath.Join(src, snapshotName))
	journal := readFile(t, filepath.Join(src, journalName))
	lastStart := bytes.LastIndexByte(journal[:len(journal)-1], '\n') + 1

	for cut := lastStart; cut <= len(journal); cut++ {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, snapshotName), state)
		writeFile(t, filepath.Join(dir, journalName), journal[:cut])
		log, lb := newLog()
		s := open(t, dir, Config{Logger: log})

		got := s.Records("lease")
		complete := cut == len(journal)
		if got["a"] == nil || got["b"] == nil {
			t.Fatalf("cut at %d: earlier records lost: %s", cut, got)
		}
		if (got["c"] != nil) != complete {
			t.Fatalf("cut at %d of %d: last record present = %v", cut, len(journal), got["c"] != nil)
		}
		aside := corruptFiles(t, dir, journalName)
		if cut == lastStart || complete {
			if len(aside) != 0 {
				t.Fatalf("cut at %d: whole journal, yet %v set aside", cut, aside)
			}
		} else {
			if len(aside) != 1 {
				t.Fatalf("cut at %d: set aside %v, want one file", cut, aside)
			}
			if tail := readFile(t, filepath.Join(dir, aside[0])); !bytes.Equal(tail, journal[lastStart:cut]) {
				t.Fatalf("cut at %d: saved tail %q, want %q", cut, tail, journal[lastStart:cut])
			}
			if !strings.Contains(lb.String(), "level=WARN") {
				t.Fatalf("cut at %d: no warning logged", cut)
			}
		}

		// Open repaired the directory: the next start finds the same
		// records and nothing new to complain about.
		want := dump(s)
		s.abandon()
		log2, lb2 := newLog()
		s2 := open(t, dir, Config{Logger: log2})
		if got := dump(s2); !equalSets(got, want) {
			t.Fatalf("cut at %d: second open got %s, want %s", cut, got, want)
		}
		if strings.Contains(lb2.String(), "level=WARN") {
			t.Fatalf("cut at %d: second open warned:\n%s", cut, lb2)
		}
		s2.abandon()
	}
}

func TestJournalDamage(t *testing.T) {
	src := syncedStore(t, "r0", "r1", "r2", "r3", "r4")
	state := readFile(t, filepath.Join(src, snapshotName))
	lines := journalLines(readFile(t, filepath.Join(src, journalName)))
	if len(lines) != 6 {
		t.Fatalf("journal has %d lines, want header + 5", len(lines))
	}
	const bad = 3 // the line of r2
	tests := []struct {
		name    string
		replace func(line string) string
	}{
		{"flipped bit", func(l string) string { return l[:20] + string(l[20]^0x04) + l[21:] }},
		{"checksum not hex", func(l string) string { return "zzzzzzzz" + l[8:] }},
		{"no space after checksum", func(l string) string { return l[:8] + "_" + l[9:] }},
		{"short line", func(string) string { return "0000\n" }},
		{"empty line", func(l string) string { return "\n" + l }},
		{"newline lost", func(l string) string { return strings.TrimSuffix(l, "\n") }},
		{"zeroed", func(l string) string { return strings.Repeat("\x00", len(l)) }},
		{"valid checksum, bad JSON", func(string) string { return crcLine(`{"op":"put","kind":"lease"`) }},
		{"valid checksum, not an object", func(string) string { return crcLine(`[1,2]`) }},
		{"valid checksum, null", func(string) string { return crcLine(`null`) }},
		{"valid checksum, unknown op", func(string) string { return crcLine(`{"op":"frob","kind":"lease","key":"x"}`) }},
		{"valid checksum, put without value", func(string) string { return crcLine(`{"op":"put","kind":"lease","key":"x"}`) }},
		{"valid checksum, wrong types", func(string) string { return crcLine(`{"op":"put","kind":1,"key":"x","value":1}`) }},
		{"valid checksum, second header", func(string) string { return crcLine(`{"op":"begin","gen":99}`) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			damaged := append([]string(nil), lines...)
			damaged[bad] = tt.replace(lines[bad])
			journal := strings.Join(damaged, "")
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, snapshotName), state)
			writeFile(t, filepath.Join(dir, journalName), []byte(journal))
			s := open(t, dir, Config{})
			got := s.Records("lease")
			for i, k := range []string{"r0", "r1", "r2", "r3", "r4"} {
				if (got[k] != nil) != (i < 2) {
					t.Errorf("%s present = %v", k, got[k] != nil)
				}
			}
			aside := corruptFiles(t, dir, journalName)
			if len(aside) != 1 {
				t.Fatalf("set aside %v, want one file", aside)
			}
			offset := len(strings.Join(lines[:bad], ""))
			if tail := readFile(t, filepath.Join(dir, aside[0])); string(tail) != journal[offset:] {
				t.Errorf("saved tail %q, want %q", tail, journal[offset:])
			}
		})
	}
}

func TestCorruptSnapshot(t *testing.T) {
	// The snapshot holds "a"; the journal after it holds "b".
	src := t.TempDir()
	s := open(t, src, Config{})
	if err := s.Put("lease", "a", "AAAA"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, src, Config{})
	if err := s.Put("lease", "b", "BBBB"); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.abandon()
	good := string(readFile(t, filepath.Join(src, snapshotName)))
	journal := readFile(t, filepath.Join(src, journalName))

	tests := []struct {
		name    string
		state   string // "" with dir set: a directory
		dir     bool
		kept    bool // the snapshot is accepted
		warning bool
	}{
		{name: "intact", state: good, kept: true},
		{name: "no checksum (edited by hand)", state: regexp.MustCompile(`"crc32c":"[0-9a-f]{8}",`).ReplaceAllString(good, ""), kept: true},
		{name: "garbage", state: "\x89PNG\r\n\x1a\n garbage"},
		{name: "empty", state: ""},
		{name: "truncated", state: good[:len(good)/2]},
		{name: "zeroed", state: strings.Repeat("\x00", len(good))},
		{name: "value changed", state: strings.Replace(good, "AAAA", "AAAB", 1)},
		{name: "bad checksum field", state: regexp.MustCompile(`"crc32c":"[0-9a-f]{8}"`).ReplaceAllString(good, `"crc32c":"xyz"`)},
		{name: "other format", state: strings.Replace(good, snapshotFormat, "other", 1)},
		{name: "future version", state: strings.Replace(good, `"version":1`, `"version":2`, 1)},
		{name: "records not an object", state: `{"format":"lobby-state","version":1,"gen":3,"records":[1]}`},
		{name: "records missing", state: `{"format":"lobby-state","version":1,"gen":3}`},
		{name: "a directory", dir: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.dir {
				if err := os.Mkdir(filepath.Join(dir, snapshotName), 0o700); err != nil {
					t.Fatal(err)
				}
			} else {
				writeFile(t, filepath.Join(dir, snapshotName), []byte(tt.state))
			}
			writeFile(t, filepath.Join(dir, journalName), journal)
			log, lb := newLog()
			s := open(t, dir, Config{Logger: log})
			got := s.Records("lease")
			if got["b"] == nil {
				t.Errorf("journal not applied: %s", got)
			}
			if (got["a"] != nil) != tt.kept {
				t.Errorf("snapshot record present = %v, want %v", got["a"] != nil, tt.kept)
			}
			aside := corruptFiles(t, dir, snapshotName)
			if tt.kept != (len(aside) == 0) {
				t.Errorf("set aside: %v", aside)
			}
			if !tt.kept && !strings.Contains(lb.String(), "level=WARN") {
				t.Errorf("no warning logged")
			}
			// The new snapshot is good.
			if _, _, err := decodeSnapshot(readFile(t, filepath.Join(dir, snapshotName))); err != nil {
				t.Errorf("snapshot written by Open: %v", err)
			}
		})
	}
}

// TestStaleJournal simulates a crash during compaction after the new
// snapshot was renamed into place but before the journal was replaced. The
// old journal must not be replayed: it would revive a deleted record and
// an older value.
func TestStaleJournal(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Config{FlushInterval: time.Hour})
	for _, k := range []string{"a", "b"} {
		if err := s.Put("lease", k, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.abandon()
	stale := readFile(t, filepath.Join(dir, journalName))

	s = open(t, dir, Config{FlushInterval: time.Hour})
	if err := s.Put("lease", "a", 2); err != nil {
		t.Fatal(err)
	}
	s.Delete("lease", "b")
	if err := s.Put("lease", "c", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // snapshot with a=2, c=1
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, journalName), stale)

	log, lb := newLog()
	s = open(t, dir, Config{Logger: log})
	got := s.Records("lease")
	if string(got["a"]) != "2" || got["b"] != nil || string(got["c"]) != "1" || len(got) != 2 {
		t.Errorf("after a stale journal: %s, want a=2 c=1", got)
	}
	if !strings.Contains(lb.String(), "predates") {
		t.Errorf("stale journal not reported; log:\n%s", lb)
	}
	if n := len(corruptFiles(t, dir, journalName)); n != 0 {
		t.Errorf("a stale journal is not damage, yet %d files set aside", n)
	}
}

// TestReplayIsIdempotent replays a journal over a snapshot of the same
// generation that already contains its effects.
func TestReplayIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Config{FlushInterval: time.Hour})
	if err := s.Put("lease", "gone", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, Config{FlushInterval: time.Hour})
	for i := range 3 {
		if err := s.Put("lease", "a", i); err != nil {
			t.Fatal(err)
		}
		if err := s.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	s.Delete("lease", "gone")
	if err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.abandon()
	ops := journalLines(readFile(t, filepath.Join(dir, journalName)))[1:]

	s = open(t, dir, Config{}) // folds the journal into a new snapshot
	want := dump(s)
	s.abandon()
	gen, _, err := decodeSnapshot(readFile(t, filepath.Join(dir, snapshotName)))
	if err != nil {
		t.Fatal(err)
	}
	again := crcLine(fmt.Sprintf(`{"op":"begin","gen":%d}`, gen)) + strings.Join(ops, "") + strings.Join(ops, "")
	writeFile(t, filepath.Join(dir, journalName), []byte(again))
	s = open(t, dir, Config{})
	if got := dump(s); !equalSets(got, want) {
		t.Errorf("replayed twice over its own snapshot: got %s, want %s", got, want)
	}
}

func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Config{FlushInterval: time.Hour, compactRecords: 16})
	const keys, rounds = 5, 50
	for r := range rounds {
		for k := range keys {
			if err := s.Put("lease", fmt.Sprint(k), r); err != nil {
				t.Fatal(err)
			}
			if err := s.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.Delete("lease", "0")
	if err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := s.compactions.Load(); n < 10 {
		t.Errorf("%d snapshots for %d changes with a limit of 16 lines", n, keys*rounds)
	}
	sc := parseJournal(readFile(t, filepath.Join(dir, journalName)))
	if sc.bad != nil || len(sc.ops) > 17 {
		t.Errorf("journal after compactions: %d records, damage %v", len(sc.ops), sc.bad)
	}
	s.abandon()
	s = open(t, dir, Config{})
	got := s.Records("lease")
	if len(got) != keys-1 || got["0"] != nil {
		t.Fatalf("after reopen: %s", got)
	}
	for k := 1; k < keys; k++ {
		if v := string(got[fmt.Sprint(k)]); v != fmt.Sprint(rounds-1) {
			t.Errorf("record %d = %s, want %d", k, v, rounds-1)
		}
	}
}

func TestLeftoverTemporaries(t *testing.T) {
	dir := syncedStore(t, "a")
	writeFile(t, filepath.Join(dir, snapshotName+tmpSuffix), []byte(`{"format":"lobby-state","ver`))
	writeFile(t, filepath.Join(dir, journalName+tmpSuffix), []byte("garbage"))
	log, lb := newLog()
	s := open(t, dir, Config{Logger: log})
	if s.Records("lease")["a"] == nil {
		t.Error("record lost")
	}
	for _, name := range []string{snapshotName + tmpSuffix, journalName + tmpSuffix} {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s left behind: %v", name, err)
		}
	}
	if strings.Contains(lb.String(), "level=WARN") {
		t.Errorf("leftover temporaries are normal after a crash, yet:\n%s", lb)
	}
}

func TestPruneCorrupt(t *testing.T) {
	dir := t.TempDir()
	for i := 1; i <= 8; i++ {
		writeFile(t, filepath.Join(dir, snapshotName+corruptInfix+strconv.Itoa(i)), nil)
	}
	writeFile(t, filepath.Join(dir, snapshotName), []byte("garbage"))
	open(t, dir, Config{})
	got := corruptFiles(t, dir, snapshotName)
	if len(got) != keepCorrupt {
		t.Fatalf("%d corrupt files kept, want %d: %v", len(got), keepCorrupt, got)
	}
	for _, old := range []string{"1", "2", "3", "4"} {
		if _, err := os.Stat(filepath.Join(dir, snapshotName+corruptInfix+old)); !os.IsNotExist(err) {
			t.Errorf("old corrupt file %s kept", old)
		}
	}
}

// TestKill9 runs a writer in a child process, kills it with SIGKILL at an
// arbitrary moment, and checks that every change it had synced is there. It
// does this a few times in a row over the same directory, with a small
// compaction limit so that kills also land during snapshots.
func TestKill9(t *testing.T) {
	if dir := os.Getenv("LOBBY_STORE_KILL9_DIR"); dir != "" {
		base, _ := strconv.Atoi(os.Getenv("LOBBY_STORE_KILL9_BASE"))
		kill9Child(dir, base)
		return
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	const keys = 40
	lastAcked := make(map[int]int) // key → last synced value
	for round, acks := range []int{150, 400, 50, 300} {
		base := (round + 1) * 1_000_000
		cmd := exec.Command(os.Args[0], "-test.run=^TestKill9$", "-test.count=1")
		cmd.Env = append(os.Environ(), "LOBBY_STORE_KILL9_DIR="+dir, "LOBBY_STORE_KILL9_BASE="+strconv.Itoa(base))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			if errors.Is(err, syscall.ENOEXEC) {
				t.Skipf("cannot re-run the test binary (under qemu-user?): %v", err)
			}
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		n := 0
		for n < acks && sc.Scan() {
			v, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "ack "))
			if err != nil {
				continue // test framework chatter
			}
			lastAcked[v%keys] = v
			n++
		}
		cmd.Process.Kill()
		io.Copy(io.Discard, out)
		cmd.Wait()
		if n < acks {
			t.Fatalf("round %d: child stopped after %d acks; stderr:\n%s", round, n, stderr.String())
		}

		s := open(t, dir, Config{})
		got := s.Records("session")
		for k, want := range lastAcked {
			v, err := strconv.Atoi(string(got[strconv.Itoa(k)]))
			// A later, unacknowledged value may have made it too.
			if err != nil || v < want || v%keys != k {
				t.Fatalf("round %d: key %d = %s, want the synced %d or later", round, k, got[strconv.Itoa(k)], want)
			}
		}
		s.abandon()
	}
}

func kill9Child(dir string, base int) {
	s, err := Open(dir, Config{FlushInterval: time.Millisecond, compactRecords: 16, Logger: discardLog()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	const keys = 40
	for i := base; ; i++ {
		if err := s.Put("session", strconv.Itoa(i%keys), i); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		_ = s.Put("counter", "bytes", i) // lazy, may be lost
		if err := s.Sync(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Printf("ack %d\n", i)
	}
}
