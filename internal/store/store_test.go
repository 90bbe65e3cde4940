package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type op struct {
	del       bool
	kind, key string
	v         any
}

func put(kind, key string, v any) op { return op{kind: kind, key: key, v: v} }
func del(kind, key string) op        { return op{del: true, kind: kind, key: key} }

func TestRoundTrip(t *testing.T) {
	type lease struct {
		MAC     string    `json:"mac"`
		IP      string    `json:"ip"`
		Expires time.Time `json:"expires"`
	}
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		ops  []op
	}{
		{"empty", nil},
		{"one put", []op{put("lease", "aa:bb:cc:dd:ee:ff", lease{"aa:bb:cc:dd:ee:ff", "10.0.0.2", exp})}},
		{"overwrite", []op{put("session", "k", 1), put("session", "k", 2), put("session", "k", 3)}},
		{"same value twice", []op{put("session", "k", 1), put("session", "k", 1)}},
		{"delete", []op{put("session", "a", 1), put("session", "b", 2), del("session", "a")}},
		{"delete absent", []op{del("session", "nope"), del("nokind", "nope")}},
		{"delete last of kind", []op{put("lease", "x", true), del("lease", "x")}},
		{"put after delete", []op{put("lease", "x", 1), del("lease", "x"), put("lease", "x", 2)}},
		{"several kinds, same key", []op{put("lease", "k", "L"), put("session", "k", "S"), del("lease", "k")}},
		{"awkward strings", []op{
			put("", "", "empty kind and key"),
			put("sess\nion", "ключ \"quoted\" \\ <tag> & \u2028", "<b>&amp;</b>"),
			put("lease", "\x00\x01", map[string]any{"nested": []any{1, "two", nil, 3.5}}),
		}},
		{"null and raw values", []op{put("s", "nil", nil), put("s", "raw", json.RawMessage(` { "a" : [ 1 , 2 ] } `))}},
	}
	for _, tt := range tests {
		for _, stop := range []string{"close", "kill after sync"} {
			t.Run(tt.name+"/"+stop, func(t *testing.T) {
				dir := t.TempDir()
				s := open(t, dir, Config{})
				want := make(recordSet)
				for _, o := range tt.ops {
					if o.del {
						s.Delete(o.kind, o.key)
						delete(want[o.kind], o.key)
						continue
					}
					if err := s.Put(o.kind, o.key, o.v); err != nil {
						t.Fatalf("Put: %v", err)
					}
					if want[o.kind] == nil {
						want[o.kind] = make(map[string]json.RawMessage)
					}
					want[o.kind][o.key] = mustJSON(t, o.v)
				}
				if got := dump(s); !equalSets(got, want) {
					t.Fatalf("in memory: got %s, want %s", got, want)
				}
				if stop == "close" {
					if err := s.Close(); err != nil {
						t.Fatalf("Close: %v", err)
					}
				} else {
					if err := s.Sync(context.Background()); err != nil {
						t.Fatalf("Sync: %v", err)
					}
					s.abandon()
				}
				s2 := open(t, dir, Config{})
				if got := dump(s2); !equalSets(got, want) {
					t.Fatalf("after reopen: got %s, want %s", got, want)
				}
				for kind, m := range want {
					got := s2.Records(kind)
					if len(got) != len(m) {
						t.Errorf("Records(%q) = %d records, want %d", kind, len(got), len(m))
					}
				}
			})
		}
	}
}

func TestRecordsIsACopy(t *testing.T) {
	s := open(t, t.TempDir(), Config{})
	if err := s.Put("lease", "k", "v"); err != nil {
		t.Fatal(err)
	}
	r := s.Records("lease")
	r["k"][1] = 'X'
	r["other"] = json.RawMessage(`1`)
	if got := s.Records("lease"); len(got) != 1 || string(got["k"]) != `"v"` {
		t.Fatalf("store changed through the copy: %s", got)
	}
	if got := s.Records("none"); got == nil || len(got) != 0 {
		t.Fatalf("Records of an unknown kind = %v, want an empty map", got)
	}
}

// TestSyncSurvivesKill checks the promise callers rely on: once Sync has
// returned, a fresh Open of the directory — with no Close, as after kill -9 —
// sees the change.
func TestSyncSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Config{FlushInterval: time.Hour})
	for i := range 100 {
		if err := s.Put("session", fmt.Sprint(i), i); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			if err := s.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.Delete("session", "5")
	if err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Not synced, and the lazy interval is an hour: may be lost.
	if err := s.Put("session", "lazy", 1); err != nil {
		t.Fatal(err)
	}

	// Open the directory again after the store was stopped without Close.
	check := func(s2 *Store) {
		t.Helper()
		got := s2.Records("session")
		for i := range 100 {
			_, ok := got[fmt.Sprint(i)]
			if ok != (i != 5) {
				t.Errorf("record %d present = %v", i, ok)
			}
		}
	}
	s.abandon()
	s3 := open(t, dir, Config{})
	check(s3)
	if _, ok := s3.Records("session")["lazy"]; ok {
		t.Errorf("a change that was never synced and whose flush interval had not passed is on disk")
	}
}

func TestGroupCommit(t *testing.T) {
	s := open(t, t.TempDir(), Config{FlushInterval: time.Hour})
	const workers, each = 32, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if err := s.Put("lease", fmt.Sprintf("%d/%d", w, i), i); err != nil {
					t.Error(err)
					return
				}
				if err := s.Sync(context.Background()); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	puts := workers * each
	fsyncs := s.journalSyncs.Load() + s.compactions.Load()
	t.Logf("%d Put+Sync, %d journal fsyncs, %d snapshots", puts, s.journalSyncs.Load(), s.compactions.Load())
	if fsyncs > int64(puts/4) {
		t.Errorf("%d fsyncs for %d synced puts: changes are not being grouped", fsyncs, puts)
	}
	if got := len(s.Records("lease")); got != puts {
		t.Errorf("%d records, want %d", got, puts)
	}
}

func TestLazyFlush(t *testing.T) {
	dir := t.TempDir()
	const interval = 200 * time.Millisecond
	s := open(t, dir, Config{FlushInterval: interval})
	start := time.Now()
	if err := s.Put("session", "counter", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("session", "counter", 2); err != nil {
		t.Fatal(err)
	}
	if n := s.journalSyncs.Load(); n != 0 {
		t.Fatalf("%d journal writes right after Put; want none before the flush interval", n)
	}
	journal := filepath.Join(dir, journalName)
	for !strings.Contains(string(readFile(t, journal)), `"counter"`) {
		if time.Since(start) > 10*time.Second {
			t.Fatal("un-synced change never written")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d := time.Since(start); d < interval {
		t.Errorf("written after %v, before the flush interval %v", d, interval)
	}
	if n := s.journalSyncs.Load(); n != 1 {
		t.Errorf("%d journal writes for two lazy changes to one record, want 1", n)
	}
	s.abandon()
	s2 := open(t, dir, Config{})
	if got := string(s2.Records("session")["counter"]); got != "2" {
		t.Errorf("after reopen counter = %q, want 2", got)
	}
}

func TestWriteErrorIsRetried(t *testing.T) {
	for _, sync := range []bool{true, false} {
		t.Run(fmt.Sprintf("sync=%v", sync), func(t *testing.T) {
			dir := t.TempDir()
			log, lb := newLog()
			s := open(t, dir, Config{FlushInterval: 20 * time.Millisecond, Logger: log})
			if err := s.Put("lease", "before", 0); err != nil {
				t.Fatal(err)
			}
			if err := s.Sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			full := error(syscall.ENOSPC)
			s.injectErr.Store(&full)
			if err := s.Put("lease", "during", 1); err != nil {
				t.Fatal(err)
			}
			if sync {
				if err := s.Sync(context.Background()); !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("Sync on a full disk = %v, want ENOSPC", err)
				}
				s.Delete("lease", "before")
				if err := s.Sync(context.Background()); !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("second Sync on a full disk = %v, want ENOSPC", err)
				}
			} else {
				s.Delete("lease", "before")
				time.Sleep(200 * time.Millisecond) // several failed lazy attempts
			}
			if got := s.Records("lease"); len(got) != 1 || got["during"] == nil {
				t.Fatalf("records in memory after failed writes: %s", got)
			}
			if !strings.Contains(lb.String(), "no space left") {
				t.Errorf("write failure not logged; log:\n%s", lb)
			}
			s.injectErr.Store(nil)
			if sync {
				if err := s.Sync(context.Background()); err != nil {
					t.Fatalf("Sync after the disk recovered: %v", err)
				}
			} else {
				deadline := time.Now().Add(10 * time.Second)
				for {
					s.mu.Lock()
					done := s.durable == s.queued
					s.mu.Unlock()
					if done {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("queued changes never written after the disk recovered")
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			s.abandon()
			s2 := open(t, dir, Config{})
			if got := s2.Records("lease"); len(got) != 1 || got["during"] == nil {
				t.Fatalf("records after reopen: %s", got)
			}
		})
	}
}

func TestCloseFailsOnFullDisk(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Config{FlushInterval: time.Hour})
	full := error(syscall.ENOSPC)
	s.injectErr.Store(&full)
	if err := s.Put("lease", "k", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Close = %v, want ENOSPC", err)
	}
	if err := s.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("second Close = %v, want the same error", err)
	}
	if err := s.Sync(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sync of unsaved changes after Close = %v, want ErrClosed", err)
	}
}

func TestClose(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Config{FlushInterval: time.Hour})
	for i := range 10 {
		if err := s.Put("session", fmt.Sprint(i), i); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Put("session", "late", 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close = %v, want ErrClosed", err)
	}
	s.Delete("session", "1") // must not panic nor change anything
	if err := s.Sync(context.Background()); err != nil {
		t.Errorf("Sync after a successful Close = %v, want nil (everything was saved)", err)
	}
	if n := len(s.Records("session")); n != 10 {
		t.Errorf("Records after Close: %d, want 10", n)
	}
	// Close leaves a snapshot with everything and an empty journal.
	sc := parseJournal(readFile(t, filepath.Join(dir, journalName)))
	if sc.bad != nil || len(sc.ops) != 0 || !sc.hasHeader {
		t.Errorf("journal after Close: %+v", sc)
	}
	_, recs, err := decodeSnapshot(readFile(t, filepath.Join(dir, snapshotName)))
	if err != nil || len(recs["session"]) != 10 {
		t.Errorf("snapshot after Close: %d records, err %v", len(recs["session"]), err)
	}
	// A clean store is not rewritten on the next start or Close.
	before := readFile(t, filepath.Join(dir, snapshotName))
	s2 := open(t, dir, Config{})
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if s2.compactions.Load() != 0 {
		t.Errorf("a clean store was compacted %d times on Open+Close", s2.compactions.Load())
	}
	if after := readFile(t, filepath.Join(dir, snapshotName)); string(after) != string(before) {
		t.Errorf("snapshot changed by Open+Close without changes")
	}
}

func TestSyncContext(t *testing.T) {
	s := open(t, t.TempDir(), Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Sync(ctx); err != nil {
		t.Errorf("Sync with nothing queued = %v, want nil even with a cancelled context", err)
	}
	full := error(syscall.ENOSPC)
	s.injectErr.Store(&full)
	if err := s.Put("k", "k", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); !errors.Is(err, context.Canceled) && !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Sync with a cancelled context = %v", err)
	}
}

func TestPutErrors(t *testing.T) {
	s := open(t, t.TempDir(), Config{})
	tests := []struct {
		name      string
		kind, key string
		v         any
	}{
		{"unmarshallable value", "lease", "k", make(chan int)},
		{"invalid UTF-8 key", "lease", "\xff", 1},
		{"invalid UTF-8 kind", "\xfe", "k", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Put(tt.kind, tt.key, tt.v); err == nil {
				t.Fatal("Put succeeded")
			}
			if n := len(s.Records(tt.kind)); n != 0 {
				t.Fatalf("failed Put left %d records", n)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, nil)
	if _, err := Open(file, Config{Logger: discardLog()}); err == nil {
		t.Error("Open on a regular file succeeded")
	}
	if _, err := Open(filepath.Join(file, "sub"), Config{Logger: discardLog()}); err == nil {
		t.Error("Open below a regular file succeeded")
	}
	if _, err := Open("", Config{Logger: discardLog()}); err == nil {
		t.Error("Open with no directory succeeded")
	}

	if os.Geteuid() == 0 {
		t.Log("running as root: permission checks skipped")
		return
	}
	// A journal with records makes Open write a new snapshot, which a
	// read-only directory refuses.
	dir := t.TempDir()
	s := open(t, dir, Config{})
	if err := s.Put("lease", "k", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.abandon()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	if _, err := Open(dir, Config{Logger: discardLog()}); !errors.Is(err, os.ErrPermission) {
		t.Errorf("Open of a read-only directory that needs writing = %v, want a permission error", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, Config{FlushInterval: 5 * time.Millisecond, compactRecords: 50})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 300 {
				key := fmt.Sprint(i % 37)
				switch i % 5 {
				case 0:
					s.Delete("lease", key)
				case 1:
					if err := s.Sync(context.Background()); err != nil {
						t.Error(err)
					}
				case 2:
					_ = s.Records("lease")
				default:
					if err := s.Put("lease", key, w*1000+i); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	want := dump(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.compactions.Load() < 2 {
		t.Errorf("only %d snapshots; compaction was not exercised", s.compactions.Load())
	}
	s2 := open(t, dir, Config{})
	if got := dump(s2); !equalSets(got, want) {
		t.Fatalf("after reopen: got %s, want %s", got, want)
	}
}

func TestSecondOpenRefused(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Config{}); err == nil || !strings.Contains(err.Error(), "in use by another lobby") {
		t.Fatalf("second Open: %v", err)
	}
	s.Close()
	s2, err := Open(dir, Config{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s2.Close()
}
