// Package memlimit keeps the Go runtime's soft memory limit a little above
// what lobby holds.
//
// A fixed limit keeps the garbage collector's spare room small on routers
// with 64–128 MB of RAM, but once the live heap nears it (10,000 signed-in
// clients hold about 12 MB) every allocation starts a collection: with a
// fixed 20 MiB, a resolver with 10,000 clients in the table answered half
// as many queries a second for 45 % more CPU. So the limit follows the live
// heap: never below Floor, and always half the live heap (GOGC=50's room)
// plus Slack above it.
package memlimit

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

const (
	// Floor is the least limit: with fewer than a few thousand clients the
	// collector's own pacing (GOGC=100) stays below it.
	Floor = 20 << 20
	// Slack is room above the live heap's one and a half for what the
	// runtime holds beside it: stacks, metadata, freed spans not yet
	// returned.
	Slack = 8 << 20
)

// For is the limit for a live heap of live bytes.
func For(live uint64) int64 {
	return max(Floor, int64(live+live/2)+Slack)
}

// liveHeap is the heap that the last collection found reachable.
const liveHeap = "/gc/heap/live:bytes"

// Run sets the limit at once and again every interval, until ctx ends.
func Run(ctx context.Context, every time.Duration) {
	sample := []metrics.Sample{{Name: liveHeap}}
	set := func() {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetMemoryLimit(For(sample[0].Value.Uint64()))
		}
	}
	set()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			set()
		}
	}
}
