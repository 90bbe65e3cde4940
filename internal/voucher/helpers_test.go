package voucher

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// memStore is an in-memory Store that counts syncs and can be told to fail
// them.
type memStore struct {
	mu      sync.Mutex
	recs    map[string]map[string]json.RawMessage
	syncs   int
	puts    int
	failErr error
}

func newMemStore() *memStore { return &memStore{recs: map[string]map[string]json.RawMessage{}} }

func (m *memStore) Records(kind string) map[string]json.RawMessage {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]json.RawMessage{}
	for k, v := range m.recs[kind] {
		out[k] = v
	}
	return out
}

func (m *memStore) Put(kind, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.recs[kind] == nil {
		m.recs[kind] = map[string]json.RawMessage{}
	}
	m.recs[kind][key] = b
	m.puts++
	return nil
}

func (m *memStore) Delete(kind, key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.recs[kind], key)
}

func (m *memStore) Sync(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.syncs++
	return m.failErr
}

func (m *memStore) set(kind, key, raw string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.recs[kind] == nil {
		m.recs[kind] = map[string]json.RawMessage{}
	}
	m.recs[kind][key] = json.RawMessage(raw)
}

func (m *memStore) count(kind string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.recs[kind])
}

func (m *memStore) syncCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.syncs
}

// logBuf collects log lines.
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

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// seeded is a deterministic entropy source, so that tests are repeatable.
func seeded(seed uint64) io.Reader {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	return rand.NewChaCha8(s)
}

func newBook(t testing.TB, st Store) *Book {
	t.Helper()
	return New(st, Config{Logger: quiet(), Entropy: seeded(1)})
}

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// t0 is a fixed moment, a whole second, for the injected clock.
var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// create makes n codes with l and returns them.
func create(t testing.TB, b *Book, n int, l Limits, now time.Time) []Code {
	t.Helper()
	views, err := b.Create(context.Background(), Batch{Count: n, Limits: l, Note: "test"}, now)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	codes := make([]Code, len(views))
	for i, v := range views {
		codes[i] = v.Code
	}
	return codes
}
