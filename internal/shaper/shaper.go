// Package shaper holds each client to its rates (SPEC §3, Limits): traffic
// above a client's rate waits in a queue of the client's own instead of
// being dropped, download on the LAN interface's egress and upload on an
// IFB device that the LAN's ingress redirects the shaped clients' frames
// to.
//
// Each shaped client has an HTB class of its own per direction (rate =
// ceiling, so it neither borrows nor lends), with fq_codel as its queue
// where the kernel has it. Frames find their class through one eBPF
// classifier and one hash map keyed on the client's MAC, for IPv4, IPv6,
// ARP and anything else alike: one lookup per frame and one map update per
// change of a client, whatever the number of clients. A frame of a client
// without a rate matches nothing and goes out unshaped; when no client has
// a rate nothing at all is installed.
//
// The shaper only mirrors rates: whoever owns the sessions (the wiring in
// firmware) calls Set and Remove with a client's MAC. The objects survive a
// crash of lobby; a start removes what a previous run left and builds one
// copy, a stop removes everything. docs/shaper.md has the layout.
package shaper

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
)

// Config is what the shaper needs of the configuration.
type Config struct {
	// Interface is the LAN interface, where clients live (option interface).
	// The shaper touches it and its IFB, no other interface.
	Interface string
}

// Shaper holds clients to their rates. Create it with New and run it with
// Run; its methods are safe for concurrent use.
type Shaper struct {
	cfg  Config
	log  *slog.Logger
	opts options

	mu   sync.Mutex // guards the fields below and every change to the kernel
	plan *plan
	k    *kernel // nil while not running
}

// options are the knobs the tests turn.
type options struct {
	netns int // fd of the network namespace to work in; 0: the current one
}

// New returns a shaper for cfg. It changes nothing in the kernel until Run.
func New(cfg Config, log *slog.Logger) *Shaper {
	return newShaper(cfg, log, options{})
}

func newShaper(cfg Config, log *slog.Logger, o options) *Shaper {
	return &Shaper{cfg: cfg, log: log, opts: o, plan: newPlan()}
}

// Set gives the client with mac the rates down and up in bit/s (0: none in
// that direction; both 0: not shaped). While Run runs the kernel follows
// at once: a client's first rate adds its class and map entry, a new rate
// changes the class, and nothing else is touched. Rates set before Run are
// put in place when it starts.
func (s *Shaper) Set(mac net.HardwareAddr, down, up uint64) error {
	if len(mac) != 6 {
		return fmt.Errorf("shaper: %v is not an Ethernet address", mac)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ops, err := s.plan.set(macKey(mac), Rates{Down: down, Up: up})
	if err != nil {
		return err
	}
	return s.apply(ops)
}

// Remove stops shaping the client with mac; its class and map entry go.
func (s *Shaper) Remove(mac net.HardwareAddr) error {
	if len(mac) != 6 {
		return fmt.Errorf("shaper: %v is not an Ethernet address", mac)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apply(s.plan.remove(macKey(mac)))
}

// apply carries ops out while running; the caller holds mu. When the
// kernel refuses one (someone removed an object by hand), everything is
// built again from the plan, so the kernel never stays half way.
func (s *Shaper) apply(ops []op) error {
	if s.k == nil || len(ops) == 0 {
		return nil
	}
	err := s.k.apply(ops)
	if err == nil {
		return nil
	}
	s.log.Warn("shaper: a change failed; building the shaping again", "err", err)
	if rerr := s.rebuild(); rerr != nil {
		return fmt.Errorf("%w; and rebuilding: %v", err, rerr)
	}
	return nil
}

// rebuild removes whatever lobby has in the kernel and puts the whole plan
// back; the caller holds mu.
func (s *Shaper) rebuild() error {
	if err := s.k.clean(); err != nil {
		return fmt.Errorf("shaper: clean up: %w", err)
	}
	return s.k.apply(s.plan.build())
}

// Run removes what an earlier run left in the kernel, puts the clients'
// rates in place, calls ready, and follows Set and Remove until ctx ends;
// then it removes every object it made.
func (s *Shaper) Run(ctx context.Context, ready func()) error {
	k, err := newKernel(s.cfg.Interface, s.opts.netns, s.log)
	if err != nil {
		return err
	}
	defer k.close()
	s.mu.Lock()
	s.k = k
	err = s.rebuild()
	if err != nil {
		s.k = nil
		k.clean()
	}
	n := len(s.plan.clients)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	ready()
	s.log.Info("shaper: running", "interface", s.cfg.Interface, "ifb", ifbName(s.cfg.Interface), "clients", n)

	<-ctx.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.k = nil
	if err := k.clean(); err != nil {
		return fmt.Errorf("shaper: stop: %w", err)
	}
	return nil
}
