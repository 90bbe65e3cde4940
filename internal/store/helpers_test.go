package store

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// logBuf collects log output so tests can check that damage was reported.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLog() (*slog.Logger, *logBuf) {
	lb := &logBuf{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// open opens dir and stops the store when the test ends, as kill -9 would,
// so that tests which reopen dir are not disturbed by a late Close.
func open(t testing.TB, dir string, cfg Config) *Store {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = discardLog()
	}
	s, err := Open(dir, cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(s.abandon)
	return s
}

// dump returns a deep copy of every record.
func dump(s *Store) recordSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(recordSet)
	for kind, m := range s.records {
		c := make(map[string]json.RawMessage, len(m))
		for k, v := range m {
			c[k] = slices.Clone(v)
		}
		out[kind] = c
	}
	return out
}

func equalSets(a, b recordSet) bool {
	count := func(r recordSet) int {
		n := 0
		for _, m := range r {
			n += len(m)
		}
		return n
	}
	if count(a) != count(b) {
		return false
	}
	for kind, m := range a {
		if !maps.EqualFunc(m, b[kind], func(x, y json.RawMessage) bool { return bytes.Equal(x, y) }) {
			return false
		}
	}
	return true
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// copyDir copies the regular files of src into a new temporary directory:
// the state a machine would come back to after losing power at this moment,
// given that everything in it was fsynced.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// corruptFiles lists the set-aside files of base in dir.
func corruptFiles(t testing.TB, dir, base string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), base+corruptInfix) {
			out = append(out, e.Name())
		}
	}
	return out
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
