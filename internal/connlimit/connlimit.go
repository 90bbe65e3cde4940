// Package connlimit bounds the connections one client may hold open at
// once on a server that every guest shares — the portal, the resolver's
// TCP side, the relay — so that one device cannot take every slot and lock
// the others out (issue 15; README, "Per-client bounds"). The servers keep
// their own bound on the total as well.
//
// A client is its source address: an IPv4 address, or an IPv6 /64, since a
// device picks new IPv6 addresses inside its /64 at will (RFC 8981) but
// not outside it.
package connlimit

import (
	"net"
	"net/netip"
	"sync"
)

// Limiter counts open connections per client and refuses one over the
// bound. It is safe for concurrent use.
type Limiter struct {
	max  int
	mu   sync.Mutex
	open map[netip.Prefix]int // only clients with connections open: it never grows past the total
}

// New returns a Limiter of perClient connections per client (at least 1).
func New(perClient int) *Limiter {
	return &Limiter{max: max(perClient, 1), open: make(map[netip.Prefix]int)}
}

// client is the key a source address is counted under.
func client(src netip.Addr) netip.Prefix {
	src = src.Unmap().WithZone("")
	bits := 32
	if src.Is6() {
		bits = 64
	}
	p, _ := src.Prefix(bits) // an invalid address is one client: the zero Prefix
	return p
}

// Acquire takes a slot for src and reports whether it was free; a true
// must be paired with one Release.
func (l *Limiter) Acquire(src netip.Addr) bool {
	k := client(src)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[k] >= l.max {
		return false
	}
	l.open[k]++
	return true
}

// Release gives back a slot that Acquire took for src.
func (l *Limiter) Release(src netip.Addr) {
	k := client(src)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[k] <= 1 {
		delete(l.open, k)
		return
	}
	l.open[k]--
}

// Open tells how many connections src's client holds.
func (l *Limiter) Open(src netip.Addr) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open[client(src)]
}

// Source is the address of a connection's peer (the zero Addr if it has
// none, as a unix socket's).
func Source(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// Listener returns ln with the bound applied: Accept closes at once every
// connection whose client holds the bound already, and hands out the others
// with their slot given back when they close.
func (l *Limiter) Listener(ln net.Listener) net.Listener {
	return &listener{Listener: ln, lim: l}
}

type listener struct {
	net.Listener
	lim *Limiter
}

func (ln *listener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := Source(c)
		if !ln.lim.Acquire(src) {
			c.Close()
			continue
		}
		return &conn{Conn: c, release: sync.OnceFunc(func() { ln.lim.Release(src) })}, nil
	}
}

// conn gives its slot back on the first Close (net/http may close twice).
type conn struct {
	net.Conn
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}
