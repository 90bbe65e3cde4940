// Package supervisor runs the daemon's services: it starts them one at a
// time in the order given, each once the one before it is ready, and stops
// them in reverse order, so that no service outlives one it depends on.
package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Service is one subsystem. Run must call ready once it is serving, then
// block until ctx ends, undo what it set up, and return nil. An error
// returned before or after ready is fatal to the whole daemon; it should
// name what failed and how to fix it.
type Service struct {
	Name string
	Run  func(ctx context.Context, ready func()) error
}

// StopTimeout bounds how long one service may take to stop.
const StopTimeout = 10 * time.Second

type running struct {
	name   string
	cancel context.CancelFunc
	done   chan error
}

// Run starts services in order and returns when ctx ends (nil, after every
// service stopped cleanly) or when one fails (its error, after the ones
// already started were stopped in reverse).
func Run(ctx context.Context, log *slog.Logger, services ...Service) (err error) {
	var started []running
	defer func() {
		for i := len(started) - 1; i >= 0; i-- {
			r := started[i]
			r.cancel()
			select {
			case e := <-r.done:
				if e != nil && err == nil {
					err = fmt.Errorf("%s: %w", r.name, e)
				}
			case <-time.After(StopTimeout):
				log.Error("service did not stop in time", "service", r.name, "timeout", StopTimeout)
			}
			log.Debug("stopped", "service", r.name)
		}
	}()

	// failed carries the first error of a service that ended on its own.
	failed := make(chan error, len(services))
	for _, s := range services {
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		r := running{name: s.Name, cancel: cancel, done: make(chan error, 1)}
		readyc := make(chan struct{})
		go func() {
			e := s.Run(sctx, sync1(readyc))
			if sctx.Err() == nil {
				// Ended without being asked: fatal, even with a nil error.
				if e == nil {
					e = fmt.Errorf("stopped unexpectedly")
				}
				failed <- fmt.Errorf("%s: %w", s.Name, e)
				e = nil
			}
			r.done <- e
		}()
		started = append(started, r)
		select {
		case <-readyc:
			log.Debug("started", "service", s.Name)
		case e := <-failed:
			return e
		case <-ctx.Done():
			return nil
		}
	}
	select {
	case e := <-failed:
		return e
	case <-ctx.Done():
		return nil
	}
}

// sync1 returns a func that closes c on its first call only.
func sync1(c chan struct{}) func() {
	closed := false
	return func() {
		if !closed {
			closed = true
			close(c)
		}
	}
}
