package memlimit

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestFor(t *testing.T) {
	tests := []struct {
		live uint64
		want int64
	}{
		{0, Floor},
		{4 << 20, Floor},     // 6 + 8 MiB: below the floor
		{8 << 20, 20 << 20},  // 12 + 8 MiB: the floor exactly
		{12 << 20, 26 << 20}, // 10,000 signed-in clients
		{100 << 20, 158 << 20},
	}
	for _, tt := range tests {
		if got := For(tt.live); got != tt.want {
			t.Errorf("For(%d MiB) = %d MiB, want %d MiB", tt.live>>20, got>>20, tt.want>>20)
		}
	}
}

// Run follows the live heap: holding 40 MiB raises the limit above the
// floor, within one interval.
func TestRunFollowsHeap(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Run(ctx, 10*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()

	hold := make([][]byte, 40)
	for i := range hold {
		hold[i] = make([]byte, 1<<20)
		hold[i][0] = 1
	}
	runtime.GC()
	deadline := time.Now().Add(5 * time.Second)
	for debug.SetMemoryLimit(-1) < 40<<20+40<<19 {
		if time.Now().After(deadline) {
			t.Fatalf("limit %d MiB with 40 MiB live, want at least 60", debug.SetMemoryLimit(-1)>>20)
		}
		time.Sleep(10 * time.Millisecond)
	}
	runtime.KeepAlive(hold)
}
