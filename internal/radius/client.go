package radius

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Require is require_message_authenticator (SPEC §7): whether an
// Access-Accept or Access-Reject without a Message-Authenticator is
// discarded, against BlastRADIUS (CVE-2024-3596).
type Require uint8

// The three settings. The zero Require is auto.
const (
	// RequireAuto requires it from a server once a reply of that server
	// carried a valid one, as FreeRADIUS 3.2.5 does for its clients:
	// servers older than that send none, and a forger cannot make a
	// server that sends them stop.
	RequireAuto Require = iota
	RequireAlways
	RequireNever
)

// Config is config radius (SPEC §7) as the client uses it.
type Config struct {
	// Servers are tried in order, each at its authentication address;
	// accounting goes to the same addresses on AcctPort.
	Servers  []netip.AddrPort
	AcctPort uint16 // 0: no accounting
	Secret   []byte
	// NASIdentifier and NASIP go into every request (NAS-Identifier,
	// NAS-IP-Address: the portal address).
	NASIdentifier string
	NASIP         netip.Addr
	// CalledStation is the LAN interface's MAC (Called-Station-Id).
	CalledStation net.HardwareAddr
	// Timeout is the wait for an answer per try; Retries the further
	// tries per server (SPEC §7: timeout × (retries + 1) per server).
	Timeout time.Duration
	Retries int
	Require Require
	Logger  *slog.Logger
}

// Client sends Access-Requests and the accounting queue's records. It is
// safe for concurrent use.
type Client struct {
	cfg   atomic.Pointer[Config]
	log   *slog.Logger
	stats Stats

	mu sync.Mutex
	// signs holds the servers whose replies have carried a valid
	// Message-Authenticator (RequireAuto). It lives as long as the
	// process: a restart trusts a server's first reply again, as
	// FreeRADIUS does.
	signs map[netip.AddrPort]bool
	// seen is how each server answered lately, by its authentication
	// address (accounting goes to the same host).
	seen map[netip.AddrPort]Server
}

// NewClient returns a client for cfg.
func NewClient(cfg Config) *Client {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{log: cfg.Logger, signs: map[netip.AddrPort]bool{}, seen: map[netip.AddrPort]Server{}}
	c.Reload(cfg)
	return c
}

// Reload applies a new config (a SIGHUP) to the requests that start from
// now on; those under way finish with the one they began with.
func (c *Client) Reload(cfg Config) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = c.log
	}
	c.cfg.Store(&cfg)
}

// Stats are the client's requests by type and outcome.
func (c *Client) Stats() *Stats { return &c.stats }

// Servers are the servers of the config in force, in order, as the client
// has seen them answer.
func (c *Client) Servers() []Server {
	servers := c.conf().Servers
	out := make([]Server, len(servers))
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, a := range servers {
		out[i] = c.seen[a]
		out[i].Addr = a
	}
	return out
}

// saw records how server answered a try at now.
func (c *Client) saw(server netip.AddrPort, answered bool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.seen[server]
	if answered {
		s.LastAnswer = now
	} else {
		s.LastFailure = now
	}
	c.seen[server] = s
}

// conf is the config in force.
func (c *Client) conf() *Config { return c.cfg.Load() }

// ErrNoAnswer is the error of a request that no server answered within
// timeout × (retries + 1) each: the portal says "the sign-in service does
// not answer".
var ErrNoAnswer = errors.New("radius: no server answers")

// RejectError is an Access-Reject (or an Access-Challenge, which a portal
// page cannot answer); Message is its Reply-Message, what the page says.
type RejectError struct{ Message string }

func (e *RejectError) Error() string {
	if e.Message == "" {
		return "radius: access rejected"
	}
	return "radius: access rejected: " + e.Message
}

// Request is a sign-in to ask a server about (SPEC §7, Access-Request).
type Request struct {
	User, Password string
	// MACAuth asks about the device itself: User-Name and User-Password
	// are its Calling-Station-Id and Service-Type is Call-Check.
	MACAuth   bool
	MAC       net.HardwareAddr // the client's
	IP        netip.Addr       // the client's IPv4 address
	SessionID string           // the Acct-Session-Id its session will have
}

// Authenticate asks the servers about r. An Access-Accept gives its
// limits; an Access-Reject a *RejectError; no answer ErrNoAnswer.
func (c *Client) Authenticate(ctx context.Context, r Request) (Limits, error) {
	p := &Packet{Code: CodeAccessRequest}
	user, pw := r.User, r.Password
	service := uint32(ServiceLoginUser)
	if r.MACAuth {
		user, pw = StationID(r.MAC), StationID(r.MAC)
		service = ServiceCallCheck
	}
	p.Add(AttrUserName, []byte(user))
	p.Add(AttrUserPassword, nil) // filled in per server: it hides with the authenticator
	p.Add(AttrServiceType, Uint32(service))
	c.addNAS(p)
	if len(r.MAC) > 0 { // RFC 2865 §5: no empty strings
		p.Add(AttrCallingStationID, []byte(StationID(r.MAC)))
	}
	if ip := IPv4(r.IP); ip != nil {
		p.Add(AttrFramedIPAddress, ip)
	}
	if r.SessionID != "" {
		p.Add(AttrAcctSessionID, []byte(r.SessionID))
	}
	reply, err := c.exchange(ctx, p, func(a netip.AddrPort) netip.AddrPort { return a }, func(p *Packet) error {
		randRead(p.Authenticator[:])
		hidden, err := HidePassword([]byte(pw), c.conf().Secret, p.Authenticator)
		if err != nil {
			return err
		}
		p.Set(AttrUserPassword, hidden)
		return nil
	})
	if err != nil {
		return Limits{}, fmt.Errorf("radius: access request for %q: %w", user, err)
	}
	switch reply.Code {
	case CodeAccessAccept:
		return ParseLimits(reply), nil
	case CodeAccessReject, CodeAccessChallenge:
		return Limits{}, &RejectError{Message: replyMessage(reply)}
	}
	return Limits{}, fmt.Errorf("radius: access request for %q: answered with %s", user, reply.Code)
}

// addNAS adds the attributes that name this NAS to every request.
func (c *Client) addNAS(p *Packet) {
	if ip := IPv4(c.conf().NASIP); ip != nil {
		p.Add(AttrNASIPAddress, ip)
	}
	if c.conf().NASIdentifier != "" {
		p.Add(AttrNASIdentifier, []byte(c.conf().NASIdentifier))
	}
	p.Add(AttrNASPortType, Uint32(NASPortTypeWireless))
	if len(c.conf().CalledStation) > 0 {
		p.Add(AttrCalledStationID, []byte(StationID(c.conf().CalledStation)))
	}
}

// replyMessage joins the Reply-Messages of p: a long text comes split
// over several (RFC 2865 §5.18).
func replyMessage(p *Packet) string {
	var s []byte
	for _, a := range p.Attrs {
		if a.Type == AttrReplyMessage {
			s = append(s, a.Value...)
		}
	}
	return string(s)
}

// exchange sends p to each server in turn (at the address port makes of
// its authentication address) until one answers it, trying each
// Retries+1 times Timeout apart. prepare runs before p is laid out for
// each server: a new server gets a new Identifier and authenticator.
// Replies that fail their checks are discarded, and the wait goes on.
func (c *Client) exchange(ctx context.Context, p *Packet, port func(netip.AddrPort) netip.AddrPort, prepare func(*Packet) error) (*Packet, error) {
	typ := requestType(p.Code)
	start := time.Now()
	reply, err := c.ask(ctx, p, port, prepare)
	switch {
	case err != nil:
		c.stats.add(typ, OutcomeNoAnswer)
	case reply.Code == CodeAccessAccept:
		c.stats.answered(typ, OutcomeAccept, time.Since(start))
	case typ == TypeAccess:
		c.stats.answered(typ, OutcomeReject, time.Since(start))
	default:
		c.stats.answered(typ, OutcomeAck, time.Since(start))
	}
	return reply, err
}

// ask is exchange without the counting.
func (c *Client) ask(ctx context.Context, p *Packet, port func(netip.AddrPort) netip.AddrPort, prepare func(*Packet) error) (*Packet, error) {
	var last error
	for _, s := range c.conf().Servers {
		addr := port(s)
		if !addr.IsValid() {
			continue
		}
		var id [1]byte
		randRead(id[:])
		p.Identifier = id[0]
		if prepare != nil {
			if err := prepare(p); err != nil {
				return nil, err
			}
		}
		raw, err := EncodeRequest(p, c.conf().Secret)
		if err != nil {
			return nil, err
		}
		reply, err := c.try(ctx, addr, raw, p)
		if err == nil {
			c.saw(s, true, time.Now())
			return reply, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c.saw(s, false, time.Now())
		// Accounting logs an outage once (Accounting.down); a sign-in
		// is rare enough to log each time.
		level := slog.LevelWarn
		if p.Code == CodeAccountingRequest {
			level = slog.LevelDebug
		}
		c.log.Log(ctx, level, "radius server does not answer", "server", addr, "request", p.Code, "err", err)
		last = err
	}
	if last == nil {
		return nil, ErrNoAnswer
	}
	return nil, fmt.Errorf("%w (last: %v)", ErrNoAnswer, last)
}

// try sends raw to addr Retries+1 times and waits for its reply.
func (c *Client) try(ctx context.Context, addr netip.AddrPort, raw []byte, req *Packet) (*Packet, error) {
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, maxPacketLen)
	for range c.conf().Retries + 1 {
		if _, err := conn.Write(raw); err != nil {
			// ICMP unreachable from an earlier try shows here; the
			// next try or server may do better.
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
		}
		conn.SetReadDeadline(time.Now().Add(c.conf().Timeout))
		if ctx.Err() != nil { // cancelled before the deadline was set
			return nil, ctx.Err()
		}
		for {
			n, err := conn.Read(buf)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				// ECONNREFUSED (ICMP port unreachable) comes once;
				// the try lasts its timeout all the same, as with a
				// silent server.
				continue
			}
			reply, err := c.check(addr, buf[:n], req)
			if err != nil {
				c.stats.add(requestType(req.Code), OutcomeDiscarded)
				c.log.Warn("radius reply discarded", "server", addr, "err", err)
				continue
			}
			return reply, nil
		}
	}
	return nil, fmt.Errorf("%s: no answer in %d tries of %s", addr, c.conf().Retries+1, c.conf().Timeout)
}

// check is the reply rules of SPEC §7: the Identifier, the Response
// Authenticator and a Message-Authenticator when there is one; for an
// Access reply also one when require_message_authenticator asks for it.
func (c *Client) check(addr netip.AddrPort, raw []byte, req *Packet) (*Packet, error) {
	if len(raw) < headerLen || raw[1] != req.Identifier {
		return nil, errors.New("not an answer to the request (Identifier)")
	}
	reply, hasMA, err := VerifyReply(raw, req.Authenticator, c.conf().Secret)
	if err != nil {
		return nil, err
	}
	if !answers(req.Code, reply.Code) {
		return nil, fmt.Errorf("%s is no answer to %s", reply.Code, req.Code)
	}
	if req.Code != CodeAccessRequest {
		return reply, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if hasMA {
		c.signs[addr] = true
		return reply, nil
	}
	switch {
	case c.conf().Require == RequireAlways:
		return nil, fmt.Errorf("%s without Message-Authenticator (require_message_authenticator 1)", reply.Code)
	case c.conf().Require == RequireAuto && c.signs[addr]:
		return nil, fmt.Errorf("%s without Message-Authenticator from a server that sends them (require_message_authenticator auto)", reply.Code)
	}
	return reply, nil
}

// answers reports whether a reply of code to is an answer to a request of
// code from.
func answers(from, to Code) bool {
	switch from {
	case CodeAccessRequest:
		return to == CodeAccessAccept || to == CodeAccessReject || to == CodeAccessChallenge
	case CodeAccountingRequest:
		return to == CodeAccountingResponse
	}
	return false
}
