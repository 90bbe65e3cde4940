package dns

import (
	"context"
	"testing"
)

func TestLookupAddrs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tests := []struct {
		name, want string
		err        bool
	}{
		{"example.com", "198.51.100.10", false},
		{"www.garden.test.", "198.51.100.20", false},
		{"gone.nx.test", "", true},
		{"bad..name", "", true},
	}
	for _, tt := range tests {
		addrs, err := f.s.LookupAddrs(ctx, tt.name)
		if (err != nil) != tt.err || !tt.err && (len(addrs) != 1 || addrs[0].String() != tt.want) {
			t.Errorf("LookupAddrs(%q) = %v, %v; want %s err=%v", tt.name, addrs, err, tt.want, tt.err)
		}
	}
	// A second lookup comes from the cache, not the upstream.
	n := f.up.queries.Load()
	f.s.LookupAddrs(ctx, "example.com")
	if got := f.up.queries.Load(); got != n {
		t.Errorf("a cached name went upstream again (%d → %d queries)", n, got)
	}
	// The walled garden is not opened by the relay's lookups.
	if len(f.garden.opened()) != 0 {
		t.Errorf("garden opened %v", f.garden.opened())
	}
}
