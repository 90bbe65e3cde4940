// Package responder answers the plain-HTTP connections of clients that have
// not signed in (SPEC §3, HTTP 511) from a raw socket, without the kernel's
// TCP stack: the firewall keeps those segments from the stack, and an
// AF_PACKET socket on the LAN interface reads them instead.
//
// It keeps no state per connection. A SYN gets a SYN-ACK whose sequence
// number is a cookie (cookie.go); the first data segment that acknowledges
// a valid cookie gets the answer: an ACK, the 511 page (or a 302 for an
// operating system's captive-portal probe) and a FIN, cut to the client's
// MSS; a FIN gets an ACK. A retransmitted request gets the same bytes
// again, resets and stray segments get nothing, and a SYN flood costs no
// memory: each SYN is answered and forgotten.
//
// It answers as the address and port the client asked for, from the
// router's MAC, and only clients in state preauth: the session table is
// asked for every frame, so a client that signs in is left to the firewall
// from its next segment on.
package responder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultPort is the port answered when Config.Ports is empty.
const DefaultPort = 80

// Config is what the responder needs to know.
type Config struct {
	// Interface is the LAN interface where clients live (option interface).
	Interface string
	// Redirect is the link of the answers up to the original URL, which
	// is appended escaped: http://ADDRESS:PORT/?redir= (portal.URLs).
	Redirect string
	// API is the captive-portal API's URL, which the 511 in JSON names
	// (SPEC §3): what DHCP option 114 carries, or its http form without
	// TLS (portal.URLs.API).
	API string
	// ProbeRedirect adds HOST/PATH entries (option probe_redirect) to the
	// built-in list of probes that get 302 Found instead of the 511.
	ProbeRedirect []string
	// Ports are the TCP ports answered; empty means DefaultPort. The
	// firewall must keep the same ports from the kernel's TCP stack.
	Ports []uint16
	// AllowAddress (option allow_address) and Garden are the walled
	// garden: the firewall forwards a preauth client's TCP 80 to these
	// destinations, so the responder must stay silent, or its SYN-ACK
	// would race the site's.
	AllowAddress []netip.Prefix
	// Garden reports whether the firewall has opened an address for an
	// allow_domain name (learned from DNS, so it changes as the
	// responder runs); nil means none. It is asked for the destination
	// of every segment of a preauth client, from the responder's
	// goroutine, so it must be safe for concurrent use and cheap.
	Garden func(netip.Addr) bool
}

// Responder answers preauth clients' HTTP from a raw socket. Create it with
// New and run it with Run; Reload applies a new Config.
type Responder struct {
	cfg     Config // as New got it: Interface and Ports take a restart
	clients Clients
	log     *slog.Logger
	set     atomic.Pointer[settings]
	jar     *cookieJar
	stats   Stats
}

// settings are what a reload changes; replaced whole.
type settings struct {
	pages        *pages
	allowAddress []netip.Prefix
}

// New returns a responder for cfg that asks clients for each client's state.
func New(cfg Config, clients Clients, log *slog.Logger) (*Responder, error) {
	if cfg.Interface == "" {
		return nil, errors.New("responder: no interface: set option interface")
	}
	if !strings.HasPrefix(cfg.Redirect, "http://") {
		return nil, fmt.Errorf("responder: the portal link %q is not an http URL", cfg.Redirect)
	}
	if len(cfg.Ports) == 0 {
		cfg.Ports = []uint16{DefaultPort}
	}
	r := &Responder{cfg: cfg, clients: clients, log: log, jar: newCookieJar()}
	r.Reload(cfg)
	return r, nil
}

// Reload applies the portal link, the probe list and the walled garden by
// address of cfg; the next frame is answered with them.
func (r *Responder) Reload(cfg Config) {
	r.set.Store(&settings{pages: newPages(cfg.Redirect, cfg.ProbeRedirect).withAPI(cfg.API), allowAddress: cfg.AllowAddress})
}

// inGarden reports whether the firewall forwards preauth clients' traffic
// to a.
func (r *Responder) inGarden(a netip.Addr) bool {
	for _, p := range r.set.Load().allowAddress {
		if p.Contains(a) {
			return true
		}
	}
	return r.cfg.Garden != nil && r.cfg.Garden(a)
}

// handler returns the handler of frames for an interface with mac and
// mtu, which sends its answers with send.
func (r *Responder) handler(mac net.HardwareAddr, mtu int, send func([]byte) error) *handler {
	h := newHandler(mac, mtu, r.cfg.Ports, r.clients, r.jar, r.set.Load().pages, r.log, &r.stats, send)
	h.garden = r.inGarden
	return h
}

// Stats returns the responder's counters, for status and debugging.
func (r *Responder) Stats() *Stats { return &r.stats }

// Run opens the raw socket, calls ready, and answers frames until ctx ends.
func (r *Responder) Run(ctx context.Context, ready func()) error {
	ifi, err := net.InterfaceByName(r.cfg.Interface)
	if err != nil {
		return fmt.Errorf("interface %s: %w — create it, or set option interface", r.cfg.Interface, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return fmt.Errorf("interface %s has no Ethernet address: the HTTP responder needs an Ethernet interface or bridge", ifi.Name)
	}
	sock, err := listen(ifi, r.cfg.Ports)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { sock.close() })
	defer stop()
	h := r.handler(ifi.HardwareAddr, ifi.MTU, sock.queue)
	r.log.Info("responder: answering HTTP of preauth clients", "interface", ifi.Name, "ports", r.cfg.Ports, "portal", r.cfg.Redirect)
	ready()
	var counted time.Time // when the kernel's drop counter was last read
	for {
		frames, err := sock.read()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			// The interface went down: the socket reports it once
			// and serves again when it comes back.
			if errors.Is(err, unix.ENETDOWN) {
				r.log.Warn("responder: interface is down", "interface", ifi.Name)
				continue
			}
			sock.close()
			return fmt.Errorf("read packet socket on %s: %w", ifi.Name, err)
		}
		r.stats.Frames.Add(uint64(len(frames)))
		now := time.Now()
		if now.Sub(counted) >= time.Second {
			counted = now
			r.stats.QueueDrops.Add(sock.drops())
		}
		h.pages = r.set.Load().pages // a reload takes effect at the next batch
		h.beginBatch(len(frames) == batch)
		for _, f := range frames {
			h.handle(f, now)
		}
		if n, err := sock.flush(); err != nil {
			if ctx.Err() != nil {
				break
			}
			h.sendFailed(n, err)
		}
	}
	s := &r.stats
	r.log.Info("responder: stopped", "frames", s.Frames.Load(), "syns", s.SYNs.Load(), "answers", s.Answers.Load(),
		"redirects", s.Redirects.Load(), "passed", s.Passed.Load(), "strays", s.Strays.Load(), "shed", s.Shed.Load(),
		"queue_drops", s.QueueDrops.Load(), "send_errors", s.SendErrors.Load())
	return nil
}
