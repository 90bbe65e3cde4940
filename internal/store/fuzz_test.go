package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzJournal feeds arbitrary bytes to Open as the journal and as
// state.json (either may be empty; an empty state is a missing file). Open
// must neither panic nor fail, whatever the content, and what it loads must
// survive a Close and a second Open unchanged.
func FuzzJournal(f *testing.F) {
	dir := f.TempDir()
	s, err := Open(dir, Config{FlushInterval: time.Hour, Logger: discardLog()})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	for _, k := range []string{"aa:bb:cc:dd:ee:01", "aa:bb:cc:dd:ee:02", "ключ"} {
		if err := s.Put("lease", k, map[string]any{"ip": "10.0.0.9", "html": "<&>"}); err != nil {
			f.Fatal(err)
		}
		if err := s.Sync(ctx); err != nil {
			f.Fatal(err)
		}
	}
	s.Delete("lease", "aa:bb:cc:dd:ee:01")
	if err := s.Put("session", "tok", nil); err != nil {
		f.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		f.Fatal(err)
	}
	s.abandon()
	journal, err := os.ReadFile(filepath.Join(dir, journalName))
	if err != nil {
		f.Fatal(err)
	}
	state, err := os.ReadFile(filepath.Join(dir, snapshotName))
	if err != nil {
		f.Fatal(err)
	}

	f.Add(journal, state)
	f.Add(journal, []byte(nil))
	f.Add([]byte(nil), state)
	f.Add(journal[:len(journal)-5], state)
	f.Add([]byte(crcLine(`{"op":"put","kind":"k","key":"x","value": { "a" : "\u003c" } }`)), []byte(nil))
	f.Add([]byte(crcLine(`{"op":"delete","kind":"lease","key":"ключ"}`)), state)
	f.Add([]byte(crcLine(`{"op":"begin","gen":18446744073709551615}`)), state)
	f.Add([]byte("garbage\n"), []byte(`{"format":"lobby-state","version":1,"gen":1,"records":{"a":{"b":1,"b":2},"c":null}}`))

	f.Fuzz(func(t *testing.T, journal, state []byte) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, journalName), journal)
		if len(state) > 0 {
			writeFile(t, filepath.Join(dir, snapshotName), state)
		}
		cfg := Config{Logger: discardLog(), noSync: true}
		s, err := Open(dir, cfg)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		want := dump(s)
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		s2, err := Open(dir, cfg)
		if err != nil {
			t.Fatalf("second Open: %v", err)
		}
		defer s2.Close()
		if got := dump(s2); !equalSets(got, want) {
			t.Fatalf("records changed across Close and Open:\n got %s\nwant %s", got, want)
		}
	})
}
