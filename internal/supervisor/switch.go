package supervisor

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

// Switch runs a service that a reload may turn off and on again (option
// enabled of config dhcp and config dns) without stopping the daemon. The
// zero value is off; it is safe for concurrent use.
type Switch struct {
	on      atomic.Bool
	toggled chan struct{}
	once    sync.Once
}

func (s *Switch) wake() chan struct{} {
	s.once.Do(func() { s.toggled = make(chan struct{}, 1) })
	return s.toggled
}

// Set turns the switch on or off; a change wakes Run.
func (s *Switch) Set(on bool) {
	if s.on.Swap(on) == on {
		return
	}
	select {
	case s.wake() <- struct{}{}:
	default:
	}
}

// On reports whether the switch is on.
func (s *Switch) On() bool { return s.on.Load() }

// Run calls serve while the switch is on, cancelling serve's context when
// it turns off. While off it logs off once per turn, counts as ready (an
// idle service holds no other back) and waits. It returns serve's error,
// or nil when ctx ends.
func (s *Switch) Run(ctx context.Context, ready func(), log *slog.Logger, off string, serve func(ctx context.Context, ready func()) error) error {
	ready = sync.OnceFunc(ready)
	toggled := s.wake()
	select { // a change made before Run is read from On below
	case <-toggled:
	default:
	}
	for ctx.Err() == nil {
		if !s.On() {
			log.Info(off)
			ready()
			select {
			case <-ctx.Done():
			case <-toggled:
			}
			continue
		}
		sctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-toggled:
				cancel()
			case <-sctx.Done():
			}
		}()
		err := serve(sctx, ready)
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}
