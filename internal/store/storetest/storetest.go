// Package storetest is an in-memory stand-in for a *store.Store, for the
// tests of the packages that keep their state in one (session, dhcp, and
// those that build a session table). The disk is package store's to test.
package storetest

import (
	"context"
	"encoding/json"
	"maps"
	"sync"
)

// Mem keeps records in memory, by kind and key, as a store.Store does. The
// zero value is empty and ready; it is safe for concurrent use.
type Mem struct {
	mu          sync.Mutex
	recs        map[string]map[string]json.RawMessage
	puts, syncs int
}

// Records returns a copy of the records of kind, by key.
func (m *Mem) Records(kind string) map[string]json.RawMessage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.recs[kind])
}

// Put stores v, in JSON, as the record key of kind.
func (m *Mem) Put(kind, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	m.PutRaw(kind, key, b)
	return nil
}

// PutRaw stores b as it is, as a damaged state file may hold it.
func (m *Mem) PutRaw(kind, key string, b json.RawMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.recs == nil {
		m.recs = map[string]map[string]json.RawMessage{}
	}
	if m.recs[kind] == nil {
		m.recs[kind] = map[string]json.RawMessage{}
	}
	m.recs[kind][key] = b
	m.puts++
}

// Delete removes the record key of kind.
func (m *Mem) Delete(kind, key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.recs[kind], key)
}

// Sync returns at once: everything is already "on disk". It counts the
// calls, for tests of what waits for the disk.
func (m *Mem) Sync(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.syncs++
	return nil
}

// Puts is the number of records stored so far.
func (m *Mem) Puts() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.puts
}

// Syncs is the number of calls to Sync so far.
func (m *Mem) Syncs() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.syncs
}
