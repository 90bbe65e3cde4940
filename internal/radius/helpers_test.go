package radius

import (
	"context"
	"crypto/md5"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

var testSecret = []byte("testing123")

// fakeServer is a RADIUS server on loopback whose answers a test writes:
// handle returns the reply to a request (nil: none, as a silent server).
// It checks what every server must: the request's authenticators.
type fakeServer struct {
	t      testing.TB
	conn   *net.UDPConn
	secret []byte

	mu     sync.Mutex
	handle func(req *Packet) *Packet
	got    []*Packet
	bad    []error // requests that failed the server's checks
}

func newFakeServer(t testing.TB, handle func(req *Packet) *Packet) *fakeServer {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{t: t, conn: conn, secret: testSecret, handle: handle}
	done := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			raw := append([]byte(nil), buf[:n]...)
			req, err := s.verify(raw)
			s.mu.Lock()
			if err != nil {
				s.bad = append(s.bad, err)
				s.mu.Unlock()
				continue
			}
			s.got = append(s.got, req)
			h := s.handle
			s.mu.Unlock()
			reply := h(req)
			if reply == nil {
				continue
			}
			reply.Identifier = req.Identifier
			b, err := EncodeReply(reply, req.Authenticator, s.secret)
			if err != nil {
				t.Error(err)
				continue
			}
			conn.WriteToUDP(b, from)
		}
	}()
	return s
}

// verify is the server's side of the authenticators: an Access-Request
// must carry a valid Message-Authenticator (SPEC §7: on every one), an
// Accounting-Request a valid Request Authenticator.
func (s *fakeServer) verify(raw []byte) (*Packet, error) {
	p, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	if p.Code == CodeAccessRequest {
		has, err := checkMessageAuthenticator(p, raw, &p.Authenticator, s.secret)
		if err != nil {
			return nil, err
		}
		if !has {
			return nil, fmt.Errorf("Access-Request without Message-Authenticator")
		}
		return p, nil
	}
	return VerifyRequest(raw, s.secret)
}

func (s *fakeServer) addr() netip.AddrPort { return s.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (s *fakeServer) setHandler(h func(*Packet) *Packet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handle = h
}

func (s *fakeServer) requests() []*Packet {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bad) > 0 {
		s.t.Errorf("requests that failed the server's checks: %v", s.bad)
	}
	return append([]*Packet(nil), s.got...)
}

// silentAddr is a loopback UDP port that nothing answers on but that
// swallows what comes: a server that is down but reachable.
func silentAddr(t testing.TB) netip.AddrPort {
	return newFakeServer(t, func(*Packet) *Packet { return nil }).addr()
}

func testClient(servers ...netip.AddrPort) *Client {
	return NewClient(Config{
		Servers: servers, Secret: testSecret, NASIdentifier: "lobby-test",
		NASIP: netip.MustParseAddr("10.77.0.1"), CalledStation: net.HardwareAddr{2, 0, 0, 0, 0, 1},
		Timeout: 50 * time.Millisecond, Retries: 1,
	})
}

// fakeClock is a Clock a test moves by hand.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	return ch
}

// Advance moves the clock on by d and fires the timers that came due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			keep = append(keep, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = keep
}

// eventually polls cond for up to 5 s: the queue's goroutines answer in
// real time even when its clock is fake.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("after 5 s: %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// md5sum is MD5 of the concatenation, for computing authenticators the
// long way in the tests.
func md5sum(parts ...[]byte) []byte {
	h := md5.New()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func u32(p *Packet, t uint8) (uint32, bool) {
	v, ok := p.Get(t)
	if !ok {
		return 0, false
	}
	return asUint32(v)
}

// RevealPassword undoes HidePassword, for the tests and the fake servers:
// a server does this, not a NAS.
func RevealPassword(hidden, secret []byte, reqAuth [16]byte) ([]byte, error) {
	if len(hidden) == 0 || len(hidden)%16 != 0 || len(hidden) > 128 {
		return nil, fmt.Errorf("radius: hidden User-Password of %d octets", len(hidden))
	}
	out := make([]byte, len(hidden))
	prev := reqAuth[:]
	for i := 0; i < len(hidden); i += 16 {
		h := md5.New()
		h.Write(secret)
		h.Write(prev)
		sum := h.Sum(nil)
		for j := range 16 {
			out[i+j] = hidden[i+j] ^ sum[j]
		}
		prev = hidden[i : i+16]
	}
	for len(out) > 0 && out[len(out)-1] == 0 {
		out = out[:len(out)-1]
	}
	return out, nil
}
