package nas

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/lobby-fw/lobby/internal/radius"
)

// Listener runs the Dynamic Authorization Server on its UDP port, on every
// address of the router: das_client addresses are the only senders the
// DAS answers, and the firewall keeps every client on the LAN interface
// off the port (SPEC §7), so the WAN side's addresses — which DHCP may
// change — need not be known. A reload that changes the port moves it.
type Listener struct {
	das     *radius.DAS
	log     *slog.Logger
	port    atomic.Uint32
	changed chan struct{}
}

// NewListener returns a listener for das on port (0: none).
func NewListener(das *radius.DAS, port uint16, log *slog.Logger) *Listener {
	l := &Listener{das: das, log: log, changed: make(chan struct{}, 1)}
	l.port.Store(uint32(port))
	return l
}

// Reload moves the listener to port (0: closes it).
func (l *Listener) Reload(port uint16) {
	if l.port.Swap(uint32(port)) == uint32(port) {
		return
	}
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// Run serves on the port until ctx ends; ready is called once the port is
// bound (or there is none). A port that cannot be bound at start is an
// error; after a reload, only logged.
func (l *Listener) Run(ctx context.Context, ready func()) error {
	ready = sync.OnceFunc(ready)
	bound := false
	for ctx.Err() == nil {
		port := l.port.Load()
		if port == 0 {
			ready()
			select {
			case <-ctx.Done():
			case <-l.changed:
			}
			continue
		}
		conn, err := net.ListenUDP("udp", &net.UDPAddr{Port: int(port)})
		if err != nil && !bound {
			return fmt.Errorf("radius das: %w (option das_port)", err)
		}
		if err != nil {
			// A reload's port is taken: the rest of lobby runs on, and
			// the next reload may name a free one.
			l.log.Error("radius das: cannot listen; no Dynamic Authorization until a reload names a free das_port", "port", port, "err", err)
			select {
			case <-ctx.Done():
			case <-l.changed:
			}
			continue
		}
		bound = true
		l.log.Info("radius das: listening", "port", port)
		ready()
		sctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-l.changed:
				cancel()
			case <-sctx.Done():
			}
		}()
		err = l.das.Serve(sctx, conn)
		cancel()
		conn.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
