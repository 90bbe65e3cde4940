package radius

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Match names the sessions a Disconnect- or CoA-Request is for (RFC 5176
// §3): each field given (not zero) must match, and at least one is given.
type Match struct {
	User      string           // User-Name
	SessionID string           // Acct-Session-Id
	MAC       net.HardwareAddr // Calling-Station-Id
	IP        netip.Addr       // Framed-IP-Address
}

func (m Match) empty() bool {
	return m.User == "" && m.SessionID == "" && m.MAC == nil && !m.IP.IsValid()
}

// Matches reports whether s is one of the sessions m names: every
// attribute the request gave matches s. A Match with none matches nothing.
func (m Match) Matches(s Session) bool {
	if m.empty() {
		return false
	}
	user := s.User
	if user == "" {
		user = StationID(s.MAC) // as accounting names it
	}
	return (m.User == "" || m.User == user) &&
		(m.SessionID == "" || m.SessionID == s.ID) &&
		(m.MAC == nil || bytes.Equal(m.MAC, s.MAC)) &&
		(!m.IP.IsValid() || m.IP == s.IP.Unmap())
}

// Sessions is what the DAS needs of the session table.
type Sessions interface {
	// Find returns the signed-in sessions that m matches (Match.Matches).
	Find(m Match) []Session
	// Disconnect signs s out, reason radius (SPEC §3); its Stop follows.
	Disconnect(ctx context.Context, s Session) error
	// Change gives s the limits l gives, at once.
	Change(ctx context.Context, s Session, l Limits) error
}

// DASConfig configures the Dynamic Authorization Server.
type DASConfig struct {
	Secret []byte
	// Clients are the addresses requests may come from (das_client).
	Clients []netip.Addr
	// NASIP and NASIdentifier are this NAS's: a request that names
	// another NAS gets a NAK (RFC 5176 §3.5, Error-Cause 403).
	NASIP         netip.Addr
	NASIdentifier string
	Clock         Clock
	Logger        *slog.Logger
}

// DAS answers Disconnect- and CoA-Requests (RFC 5176) for a Sessions.
type DAS struct {
	cfg      atomic.Pointer[DASConfig]
	sessions Sessions
	clock    Clock
	log      *slog.Logger
	stats    Stats

	mu sync.Mutex
	// answered holds the recent answers, so that a server that
	// retransmits a request whose answer was lost gets the same answer
	// again instead of a second action (RFC 5176 §2.3): a Disconnect's
	// retransmission would otherwise get a NAK, the session being gone.
	answered map[dupKey]answer
}

// dupKey names a request: its sender, Identifier and Request
// Authenticator (which covers its contents).
type dupKey struct {
	from netip.Addr
	id   uint8
	auth [16]byte
}

type answer struct {
	reply []byte
	at    time.Time
}

// Answers are kept dupWindow, and at most maxAnswers of them.
const (
	dupWindow  = 30 * time.Second
	maxAnswers = 256
)

// NewDAS returns a DAS acting on sessions.
func NewDAS(cfg DASConfig, sessions Sessions) *DAS {
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &DAS{sessions: sessions, clock: cfg.Clock, log: cfg.Logger, answered: map[dupKey]answer{}}
	d.cfg.Store(&cfg)
	return d
}

// Reload applies a new secret, client list and NAS names (a SIGHUP) to the
// requests that come from now on.
func (d *DAS) Reload(cfg DASConfig) { d.cfg.Store(&cfg) }

// Stats are the requests the DAS has answered or discarded.
func (d *DAS) Stats() *Stats { return &d.stats }

// MaxClockSkew is how far an Event-Timestamp may be from now (SPEC §7;
// RFC 5176 §3.5 suggests 300 s): a request outside it is a replay, or
// from a clock too far off to trust.
const MaxClockSkew = 300 * time.Second

// Serve answers the requests that come to conn until ctx ends. conn is a
// *net.UDPConn rather than a net.PacketConn: the interface would link
// every packet socket type's methods into the binary.
func (d *DAS) Serve(ctx context.Context, conn *net.UDPConn) error {
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, maxPacketLen)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("radius das: read: %w", err)
		}
		reply, err := d.Handle(ctx, from.Addr(), buf[:n])
		if err != nil {
			d.log.Warn("radius das: request discarded", "from", from, "err", err)
			continue
		}
		if _, err := conn.WriteToUDPAddrPort(reply, from); err != nil {
			d.log.Warn("radius das: reply not sent", "to", from, "err", err)
		}
	}
}

// Handle answers raw, a request from the address from. An error means the
// request is discarded without an answer (SPEC §7: a stranger's address,
// a wrong authenticator, an Event-Timestamp more than 300 s away, a
// packet that is no request); anything else is answered with an ACK or a
// NAK with its Error-Cause.
func (d *DAS) Handle(ctx context.Context, from netip.Addr, raw []byte) ([]byte, error) {
	start := time.Now()
	reply, err := d.handle(ctx, from, raw)
	if len(raw) == 0 || (Code(raw[0]) != CodeCoARequest && Code(raw[0]) != CodeDisconnectRequest) {
		return reply, err // not what the DAS is for: not counted
	}
	typ := requestType(Code(raw[0]))
	switch {
	case err != nil:
		d.stats.add(typ, OutcomeDiscarded)
	case Code(reply[0]) == CodeCoAACK || Code(reply[0]) == CodeDisconnectACK:
		d.stats.answered(typ, OutcomeAck, time.Since(start))
	default:
		d.stats.answered(typ, OutcomeNak, time.Since(start))
	}
	return reply, err
}

func (d *DAS) handle(ctx context.Context, from netip.Addr, raw []byte) ([]byte, error) {
	if !slices.Contains(d.cfg.Load().Clients, from.Unmap()) {
		return nil, fmt.Errorf("from %s, not a das_client", from)
	}
	req, err := VerifyRequest(raw, d.cfg.Load().Secret)
	if err != nil {
		return nil, err
	}
	if req.Code != CodeDisconnectRequest && req.Code != CodeCoARequest {
		return nil, fmt.Errorf("%s to the DAS port", req.Code)
	}
	if v, ok := req.Get(AttrEventTimestamp); ok {
		ts, ok := asUint32(v)
		if !ok {
			return nil, errors.New("Event-Timestamp not 4 octets")
		}
		if skew := d.clock.Now().Sub(time.Unix(int64(ts), 0)).Abs(); skew > MaxClockSkew {
			return nil, fmt.Errorf("Event-Timestamp %s away from now", skew.Round(time.Second))
		}
	}
	key := dupKey{from.Unmap(), req.Identifier, req.Authenticator}
	now := d.clock.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if a, ok := d.answered[key]; ok && now.Sub(a.at) < dupWindow {
		return a.reply, nil
	}
	cause := d.act(ctx, req)
	ack, nak := CodeDisconnectACK, CodeDisconnectNAK
	if req.Code == CodeCoARequest {
		ack, nak = CodeCoAACK, CodeCoANAK
	}
	reply := &Packet{Code: ack, Identifier: req.Identifier}
	if cause != 0 {
		reply.Code = nak
		reply.Add(AttrErrorCause, Uint32(cause))
	}
	if _, ok := req.Get(AttrMessageAuthenticator); ok {
		reply.Add(AttrMessageAuthenticator, make([]byte, 16))
	}
	d.log.Info("radius das: "+req.Code.String(), "from", from, "answer", reply.Code, "error_cause", cause)
	b, err := EncodeReply(reply, req.Authenticator, d.cfg.Load().Secret)
	if err != nil {
		return nil, err
	}
	for k, a := range d.answered {
		if now.Sub(a.at) >= dupWindow {
			delete(d.answered, k)
		}
	}
	if len(d.answered) < maxAnswers {
		d.answered[key] = answer{b, now}
	}
	return b, nil
}

// act carries out req and returns its Error-Cause (0: ACK).
func (d *DAS) act(ctx context.Context, req *Packet) uint32 {
	if v, ok := req.Get(AttrNASIPAddress); ok && !bytes.Equal(v, IPv4(d.cfg.Load().NASIP)) {
		return ErrorNASIdentification
	}
	if v, ok := req.Get(AttrNASIdentifier); ok && string(v) != d.cfg.Load().NASIdentifier {
		return ErrorNASIdentification
	}
	var m Match
	for _, a := range req.Attrs {
		switch a.Type {
		case AttrUserName:
			m.User = string(a.Value)
		case AttrAcctSessionID:
			m.SessionID = string(a.Value)
		case AttrCallingStationID:
			mac, ok := ParseStationID(string(a.Value))
			if !ok {
				return ErrorInvalidRequest
			}
			m.MAC = mac
		case AttrFramedIPAddress:
			ip, ok := netip.AddrFromSlice(a.Value)
			if !ok || !ip.Is4() {
				return ErrorInvalidRequest
			}
			m.IP = ip
		case AttrServiceType, AttrState:
			// Authorize-Only (RFC 5176 §3.2) asks the NAS to come
			// back with an Access-Request: not what Lobby does.
			return ErrorUnsupportedService
		}
	}
	if m.empty() {
		return ErrorMissingAttribute
	}
	var l Limits
	if req.Code == CodeCoARequest {
		if l = ParseLimits(req); l.Given == 0 {
			return ErrorMissingAttribute // nothing Lobby can change
		}
	}
	found := d.sessions.Find(m)
	if len(found) == 0 {
		return ErrorSessionContextNotFound
	}
	for _, s := range found {
		var err error
		if req.Code == CodeDisconnectRequest {
			err = d.sessions.Disconnect(ctx, s)
		} else {
			err = d.sessions.Change(ctx, s, l)
		}
		if err != nil {
			d.log.Warn("radius das: "+req.Code.String()+" failed", "session", s.ID, "err", err)
			return ErrorResourcesUnavailable
		}
	}
	return 0
}
