// Package relay carries a signed-in client's connections to the portal
// address on to the site the client meant.
//
// Browsers keep a DNS answer for up to a minute whatever its TTL, so right
// after sign-in a client still sends some connections to the portal
// address that the hijacking resolver gave it. The firewall steers a
// signed-in client's TCP 80 and 443 to the portal address into this relay
// (SPEC §3, "After sign-in"), which reads the name the client meant — the
// HTTP Host header or the TLS server name (SNI) — resolves it through the
// upstreams and splices the connection to the real site. The client never
// sees "connection refused" because it signed in.
//
// The router itself opens the relayed connection, so the firewall's rules
// for forwarded traffic do not hold for it: the relay makes them itself.
// It connects only to port 80 (the HTTP relay) or 443 (the TLS relay) of
// public unicast addresses, never to the router's own addresses or a subnet
// attached to any of its interfaces as they are at that moment, whatever
// name resolves there (dest.go); each address is checked as it is dialled.
package relay

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lobby-fw/lobby/internal/connlimit"
	"github.com/lobby-fw/lobby/internal/session"
)

// Resolver finds a name's addresses through the upstream resolvers (not
// through the hijacking answers a preauth client gets).
type Resolver interface {
	LookupAddrs(ctx context.Context, name string) ([]netip.Addr, error)
}

// Table tells the relay who is signed in.
type Table interface {
	LookupIP(ip netip.Addr) (session.Client, bool)
}

// Config says where the relay listens.
type Config struct {
	// HTTP and TLS are the listen addresses for the steered TCP 80 and 443.
	HTTP, TLS netip.AddrPort
	// MaxConns bounds the relayed connections at once; 0 means 512.
	MaxConns int
}

// Relay is the post-sign-in relay.
type Relay struct {
	cfg      Config
	table    Table
	resolver Resolver
	log      *slog.Logger
	slots    chan struct{}
	// ports are the sites' ports, the only ones the relay connects to: 80
	// and 443 (tests change them).
	httpPort, tlsPort uint16
	// check vets each address the relay is about to connect to, as it
	// connects: destPermitted (tests change it).
	check func(dst netip.AddrPort, port uint16) error
}

// Timeouts: a client must send its request head or ClientHello promptly;
// a relayed connection that carries nothing for idleTimeout is closed.
const (
	headTimeout = 10 * time.Second
	dialTimeout = 10 * time.Second
	idleTimeout = 5 * time.Minute
	maxHead     = 16 << 10
	// maxClientConns bounds one client's relayed connections on each of
	// the two ports, so that one device cannot take every slot of
	// MaxConns. A browser opens up to 6 connections per site, and a page
	// that a stale answer sends here names a few sites: 32 is room for
	// five of them at once. Over the bound a connection is closed at once.
	maxClientConns = 32
)

// New returns a relay; Run starts it.
func New(cfg Config, table Table, resolver Resolver, log *slog.Logger) *Relay {
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 512
	}
	return &Relay{
		cfg: cfg, table: table, resolver: resolver, log: log,
		slots:    make(chan struct{}, cfg.MaxConns),
		httpPort: 80, tlsPort: 443,
		check: destPermitted,
	}
}

// destPermitted is permit with the router's addresses and attached subnets
// read now. If they cannot be read, nothing is permitted.
func destPermitted(dst netip.AddrPort, port uint16) error {
	local, err := localPrefixes(dst.Addr().Unmap().Is6())
	if err != nil {
		return fmt.Errorf("%w: %v", errRefused, err)
	}
	return permit(dst, port, local)
}

// Run listens on both ports until ctx ends.
func (r *Relay) Run(ctx context.Context, ready func()) error {
	var lc net.ListenConfig
	httpL, err := lc.Listen(ctx, "tcp4", r.cfg.HTTP.String())
	if err != nil {
		return fmt.Errorf("%w (another program uses port %d on %s?)", err, r.cfg.HTTP.Port(), r.cfg.HTTP.Addr())
	}
	tlsL, err := lc.Listen(ctx, "tcp4", r.cfg.TLS.String())
	if err != nil {
		httpL.Close()
		return fmt.Errorf("%w (another program uses port %d on %s?)", err, r.cfg.TLS.Port(), r.cfg.TLS.Addr())
	}
	ready()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	serve := func(l net.Listener, port uint16, sniff sniffer) {
		defer wg.Done()
		errc <- r.serve(ctx, l, port, sniff, &wg)
	}
	wg.Add(2)
	go serve(httpL, r.httpPort, sniffHTTP)
	go serve(tlsL, r.tlsPort, sniffTLS)
	<-ctx.Done()
	httpL.Close()
	tlsL.Close()
	wg.Wait()
	for range 2 {
		if err := <-errc; err != nil {
			return err
		}
	}
	return nil
}

// sniffer reads the name a connection is for, and its port (0: the
// protocol's usual one), without consuming anything.
type sniffer func(*bufio.Reader) (host string, port uint16, err error)

func (r *Relay) serve(ctx context.Context, l net.Listener, port uint16, sniff sniffer, wg *sync.WaitGroup) error {
	perClient := connlimit.New(maxClientConns)
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		src := connlimit.Source(c)
		if !perClient.Acquire(src) {
			r.log.Debug("relay: one client's connections at the bound, refusing one", "client", src, "max", maxClientConns)
			c.Close()
			continue
		}
		select {
		case r.slots <- struct{}{}:
		default:
			r.log.Warn("relay: too many connections, refusing one", "max", r.cfg.MaxConns)
			perClient.Release(src)
			c.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer perClient.Release(src)
			defer func() { <-r.slots }()
			stop := context.AfterFunc(ctx, func() { c.Close() })
			defer stop()
			if err := r.relay(ctx, c.(*net.TCPConn), port, sniff); err != nil {
				r.log.Debug("relay: connection not relayed", "client", c.RemoteAddr(), "err", err)
			}
		}()
	}
}

// relay carries one connection to the site named in its first bytes.
func (r *Relay) relay(ctx context.Context, c *net.TCPConn, defPort uint16, sniff sniffer) error {
	defer c.Close()
	src := connlimit.Source(c)
	if cl, ok := r.table.LookupIP(src); !ok || (cl.State != session.Authenticated && cl.State != session.Trusted) {
		return fmt.Errorf("%s is not signed in", src)
	}
	c.SetReadDeadline(time.Now().Add(headTimeout))
	br := bufio.NewReaderSize(c, maxHead)
	host, port, err := sniff(br)
	if err != nil {
		return err
	}
	c.SetReadDeadline(time.Time{})
	switch port {
	case 0:
		port = defPort
	case defPort:
	default:
		return fmt.Errorf("%w: %s:%d: only port %d is relayed here", errRefused, host, port, defPort)
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a} // an address names itself: no lookup
	} else if addrs, err = r.resolver.LookupAddrs(ctx, host); err != nil {
		return fmt.Errorf("resolving %s: %w", host, err)
	}
	// Each address is checked where it is connected to, after the lookup
	// (the dialer's Control runs just before connect(2)): a name that
	// resolves into the venue's networks — DNS rebinding included — gets
	// nowhere, and nothing but the checked address is ever dialled.
	d := net.Dialer{Control: func(_, address string, _ syscall.RawConn) error {
		dst, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %v", errRefused, err)
		}
		return r.check(dst, port)
	}}
	var up net.Conn
	var errs []error
	for _, a := range addrs {
		if !a.Unmap().Is4() {
			continue // the relay speaks IPv4 only, like the portal address it serves
		}
		c, err := d.DialContext(ctx, "tcp4", netip.AddrPortFrom(a.Unmap(), port).String())
		if err == nil {
			up = c
			break
		}
		errs = append(errs, err)
	}
	if up == nil {
		return fmt.Errorf("no reachable address for %s (%v): %w", host, addrs, errors.Join(errs...))
	}
	defer up.Close()
	r.log.Debug("relay: carrying", "client", src, "host", host, "to", up.RemoteAddr())
	// The sniffed bytes are still in br; copying from br sends them first.
	return splice(c, br, up.(*net.TCPConn))
}

// splice copies both ways until both sides are done, closing each write
// half as its reader ends so that half-closed HTTP exchanges complete.
func splice(client *net.TCPConn, clientR io.Reader, up *net.TCPConn) error {
	errc := make(chan error, 2)
	cp := func(dst *net.TCPConn, src io.Reader, srcConn *net.TCPConn) {
		_, err := io.Copy(dst, idleReader{src, srcConn})
		dst.CloseWrite()
		errc <- err
	}
	go cp(up, clientR, client)
	go cp(client, up, up)
	err1, err2 := <-errc, <-errc
	return errors.Join(err1, err2)
}

// idleReader extends a read deadline before each read, so that a relayed
// connection dies after idleTimeout of silence and never lingers forever.
type idleReader struct {
	r io.Reader
	c *net.TCPConn
}

func (i idleReader) Read(p []byte) (int, error) {
	i.c.SetReadDeadline(time.Now().Add(idleTimeout))
	return i.r.Read(p)
}

// sniffHTTP reads the request head without consuming it and returns the
// Host it names. It peeks only at what has arrived, asking for one more
// byte at a time, so a short request never waits for bytes that will not
// come.
func sniffHTTP(br *bufio.Reader) (string, uint16, error) {
	for want := 1; ; {
		if _, err := br.Peek(want); err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				err = errors.New("request head too large")
			}
			return "", 0, fmt.Errorf("reading request: %w", err)
		}
		head, _ := br.Peek(br.Buffered())
		if i := bytes.Index(head, []byte("\r\n\r\n")); i >= 0 {
			req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head[:i+4])))
			if err != nil {
				return "", 0, fmt.Errorf("not an HTTP request: %w", err)
			}
			return hostPort(req.Host)
		}
		want = len(head) + 1
	}
}

// hostPort splits a Host header into a name and a port (0 if none).
func hostPort(hp string) (string, uint16, error) {
	host, port := hp, uint16(0)
	if h, p, err := net.SplitHostPort(hp); err == nil {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return "", 0, fmt.Errorf("bad port in %q", hp)
		}
		host, port = h, uint16(n)
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" {
		return "", 0, errors.New("no host named")
	}
	if _, err := netip.ParseAddr(host); err != nil && !hostname(host) {
		return "", 0, fmt.Errorf("%q is neither a host name nor an address", host)
	}
	return host, port, nil
}

// hostname reports whether s is a DNS name the relay can resolve: labels
// of 1-63 letters, digits, hyphens or underscores (RFC 1123 §2.1; the
// underscore is common in real names), 253 bytes in all.
func hostname(s string) bool {
	if len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range []byte(label) {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// sniffTLS reads the ClientHello without consuming it and returns its
// server name. crypto/tls parses it: a handshake over a connection that
// only replays the peeked bytes stops as soon as the hello is read.
func sniffTLS(br *bufio.Reader) (string, uint16, error) {
	hdr, err := br.Peek(5)
	if err != nil {
		return "", 0, fmt.Errorf("reading ClientHello: %w", err)
	}
	if hdr[0] != 0x16 { // TLS handshake record, RFC 8446 §5.1
		return "", 0, errors.New("not a TLS handshake")
	}
	n := 5 + (int(hdr[3])<<8 | int(hdr[4]))
	if n > maxHead {
		return "", 0, errors.New("ClientHello too large")
	}
	rec, err := br.Peek(n)
	if err != nil {
		return "", 0, fmt.Errorf("reading ClientHello: %w", err)
	}
	var name string
	errSeen := errors.New("seen")
	err = tls.Server(&replayConn{r: bytes.NewReader(rec)}, &tls.Config{
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			name = hello.ServerName
			return nil, errSeen
		},
	}).Handshake()
	if name == "" {
		return "", 0, fmt.Errorf("no server name (SNI) in the ClientHello: %v", err)
	}
	return hostPort(name)
}

// replayConn is a net.Conn that reads from r and discards writes, so that
// crypto/tls can parse a ClientHello without answering anyone.
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *replayConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *replayConn) Close() error                     { return nil }
func (c *replayConn) SetDeadline(time.Time) error      { return nil }
func (c *replayConn) SetReadDeadline(time.Time) error  { return nil }
func (c *replayConn) SetWriteDeadline(time.Time) error { return nil }
func (c *replayConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *replayConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
