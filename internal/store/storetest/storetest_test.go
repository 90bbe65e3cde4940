package storetest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/lobby-fw/lobby/internal/store"
)

// recordStore is what session.Store and dhcp.Store ask of a store; Mem
// stands in for a *store.Store, so both must have it.
type recordStore interface {
	Records(kind string) map[string]json.RawMessage
	Put(kind, key string, v any) error
	Delete(kind, key string)
	Sync(ctx context.Context) error
}

var (
	_ recordStore = (*store.Store)(nil)
	_ recordStore = (*Mem)(nil)
)

func TestMem(t *testing.T) {
	var m Mem
	if got := m.Records("lease"); len(got) != 0 {
		t.Fatalf("empty store has %v", got)
	}
	if err := m.Put("lease", "10.77.0.100", map[string]string{"mac": "02:00:00:00:01:01"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Put("client", "02:00:00:00:01:01", 1); err != nil {
		t.Fatal(err)
	}
	if err := m.Put("lease", "x", func() {}); err == nil {
		t.Error("Put of a value JSON cannot hold: no error")
	}
	got := m.Records("lease")
	if len(got) != 1 || string(got["10.77.0.100"]) != `{"mac":"02:00:00:00:01:01"}` {
		t.Errorf("lease records %v", got)
	}
	got["10.77.0.101"] = nil // a copy: the store is unchanged
	m.Delete("client", "02:00:00:00:01:01")
	if n, c := len(m.Records("lease")), len(m.Records("client")); n != 1 || c != 0 {
		t.Errorf("after Delete: %d leases, %d clients; want 1, 0", n, c)
	}
	m.PutRaw("lease", "10.77.0.102", json.RawMessage(`{"mac":`))
	if string(m.Records("lease")["10.77.0.102"]) != `{"mac":` {
		t.Error("PutRaw did not keep its bytes")
	}
	if err := m.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m.Puts() != 3 || m.Syncs() != 1 {
		t.Errorf("Puts %d, Syncs %d; want 3, 1", m.Puts(), m.Syncs())
	}
}
