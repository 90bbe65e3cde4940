package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/lobby-fw/lobby/internal/connlimit"
)

// listeners is one Run's sockets and the goroutines serving them.
type listeners struct {
	s   *Server
	ctx context.Context
	udp []*net.UDPConn // one reader each
	tcp []*net.TCPListener
	wg  sync.WaitGroup // every goroutine below; Run waits for them

	mu        sync.Mutex
	conns     map[net.Conn]struct{} // open TCP connections
	done      bool
	perClient *connlimit.Limiter // open TCP connections by client
}

// close stops every socket, so that every goroutine returns.
func (l *listeners) close() {
	for _, c := range l.udp {
		c.Close()
	}
	for _, ln := range l.tcp {
		ln.Close()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = true
	for c := range l.conns {
		c.Close()
	}
}

// maxReadErrors is how many UDP read errors in a row are fatal; one alone
// is logged and survived.
const maxReadErrors = 100

const (
	// batch is how many datagrams one system call reads or writes
	// (recvmmsg, sendmmsg): under load, most of the system calls saved.
	batch = 32
	// maxQuery is the largest UDP query read; a query is a question and
	// an OPT record, far less.
	maxQuery = 4096
)

// serveUDP reads and answers queries until the socket is closed, a batch
// of them at a time. Answers that need the upstreams are left to a
// goroutine of their own, so that one slow upstream does not hold up the
// portal's answers.
func (l *listeners) serveUDP(conn *net.UDPConn) error {
	s := l.s
	b, err := newUDPBatch(conn)
	if err != nil {
		return err
	}
	errs := 0
	for {
		n, err := b.read()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			if errs++; errs >= maxReadErrors {
				return err
			}
			s.log.Warn("dns: reading queries", "err", err)
			continue
		}
		errs = 0
		for i := range n {
			raw := b.query(i)
			if raw == nil {
				continue // larger than any query: not DNS
			}
			src := b.sender(i)
			r, q, err := s.answer(raw, src.Addr(), false, b.slot())
			switch {
			case err != nil:
				s.log.Warn("dns: packing an answer", "to", src, "err", err)
			case r != nil:
				b.queue(r, i)
			case q != nil:
				select {
				case s.pending <- struct{}{}:
					l.wg.Go(func() {
						defer func() { <-s.pending }()
						l.writeUDP(conn, s.resolve(l.ctx, q), q, src)
					})
				default:
					s.log.Debug("dns: too many queries waiting for the upstreams; dropped one", "from", src, "name", q.q.Name)
				}
			}
		}
		if err := b.flush(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Debug("dns: sending an answer", "err", err)
		}
	}
}

// writeUDP sends the reply to one query.
func (l *listeners) writeUDP(conn *net.UDPConn, m *dns.Msg, q *query, to netip.AddrPort) {
	b, err := l.s.pack(m, q, nil)
	if err != nil {
		l.s.log.Warn("dns: packing an answer", "to", to, "err", err)
		return
	}
	if _, err := conn.WriteToUDPAddrPort(b, to); err != nil && !errors.Is(err, net.ErrClosed) {
		l.s.log.Debug("dns: sending an answer", "to", to, "err", err)
	}
}

// serveTCP accepts connections until the listener is closed.
func (l *listeners) serveTCP(ln *net.TCPListener) error {
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: wait a little and go
			// on, as net/http does.
			l.s.log.Warn("dns: accepting a TCP connection", "err", err)
			select {
			case <-l.ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		src := connlimit.Source(c)
		if !l.perClient.Acquire(src) {
			c.Close()
			continue
		}
		l.mu.Lock()
		if l.done || len(l.conns) >= maxTCPConns {
			l.mu.Unlock()
			l.perClient.Release(src)
			c.Close()
			continue
		}
		l.conns[c] = struct{}{}
		l.mu.Unlock()
		l.wg.Go(func() {
			defer func() {
				l.mu.Lock()
				delete(l.conns, c)
				l.mu.Unlock()
				c.Close()
				l.perClient.Release(src)
			}()
			l.serveConn(c)
		})
	}
}

// serveConn answers the queries of one TCP connection in order (RFC 7766
// §6.2.1: each message with a two-byte length) until the client closes it
// or stays idle for tcpIdle.
func (l *listeners) serveConn(c *net.TCPConn) {
	s := l.s
	src := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr()
	// Most messages are small; a buffer grows only for the large ones,
	// so that many idle connections cost little memory.
	in := make([]byte, 512)
	out := make([]byte, 512)
	for {
		c.SetReadDeadline(time.Now().Add(tcpIdle))
		if _, err := io.ReadFull(c, in[:2]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(in[:2]))
		if n > cap(in) {
			in = make([]byte, n)
		}
		if _, err := io.ReadFull(c, in[:n]); err != nil {
			return
		}
		b, q, err := s.answer(in[:n], src, true, out)
		switch {
		case err != nil:
			s.log.Warn("dns: packing an answer", "to", c.RemoteAddr(), "err", err)
			return
		case b == nil && q == nil:
			return // not a query: this is no DNS client
		case b == nil:
			if b, err = s.pack(s.resolve(l.ctx, q), q, out); err != nil {
				s.log.Warn("dns: packing an answer", "to", c.RemoteAddr(), "err", err)
				return
			}
		}
		if cap(b) > cap(out) {
			out = b[:cap(b)] // the answer outgrew out: keep the bigger buffer
		}
		var size [2]byte
		binary.BigEndian.PutUint16(size[:], uint16(len(b)))
		c.SetWriteDeadline(time.Now().Add(tcpIdle))
		// One writev: length and message leave in one segment.
		if _, err := (&net.Buffers{size[:], b}).WriteTo(c); err != nil {
			return
		}
	}
}
