package supervisor

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// A switch turned off cancels the running serve and waits; turned on
// again it serves again; off from the start it is ready without serving.
func TestSwitch(t *testing.T) {
	var sw Switch
	started := make(chan struct{}, 4)
	stopped := make(chan struct{}, 4)
	serve := func(ctx context.Context, ready func()) error {
		ready()
		started <- struct{}{}
		<-ctx.Done()
		stopped <- struct{}{}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- sw.Run(ctx, func() { close(ready) }, slog.New(slog.NewTextHandler(io.Discard, nil)), "off", serve)
	}()
	wait := func(ch chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s", what)
		}
	}
	wait(ready, "ready while off")
	select {
	case <-started:
		t.Fatal("served while off")
	case <-time.After(50 * time.Millisecond):
	}
	sw.Set(true)
	wait(started, "serve after Set(true)")
	sw.Set(true) // no change: no restart
	sw.Set(false)
	wait(stopped, "stop after Set(false)")
	sw.Set(true)
	wait(started, "serve after the second Set(true)")
	cancel()
	wait(stopped, "stop at the end")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
		t.Error("served more often than it was turned on")
	default:
	}
}
