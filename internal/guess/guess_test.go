package guess

import (
	"testing"
	"time"
)

var t0 = time.Unix(1e9, 0)

func TestGuessesPruned(t *testing.T) {
	g := New()
	now := t0
	for i := range 3 * minGuessPrune {
		g.Wrong(string(rune(i)), now)
		now = now.Add(time.Second)
	}
	// Only the devices of the last minute (and before pruning ran, at most
	// twice the threshold) are kept.
	if len(g.m) > 2*minGuessPrune {
		t.Fatalf("%d entries kept", len(g.m))
	}
	g.Prune(now.Add(time.Minute))
	if len(g.m) != 0 {
		t.Fatalf("%d entries after everything went stale", len(g.m))
	}
}
