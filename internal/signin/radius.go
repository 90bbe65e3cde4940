package signin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/lobby-fw/lobby/internal/guess"
	"github.com/lobby-fw/lobby/internal/radius"
	"github.com/lobby-fw/lobby/internal/session"
)

// Authenticator asks the RADIUS servers about a sign-in (radius.Client).
type Authenticator interface {
	Authenticate(ctx context.Context, r radius.Request) (radius.Limits, error)
}

// RADIUSConfig is what the RADIUS method is given of config radius
// (SPEC §7).
type RADIUSConfig struct {
	// Client asks the servers; nil: config radius is not in use, and
	// neither method radius nor MAC authentication may be.
	Client Authenticator
	// MACAuth asks the servers about each device first seen, before the
	// portal (mac_auth '1').
	MACAuth bool
}

const (
	// macHoldOff is how long a device that MAC authentication did not let
	// in is not asked about again (SPEC §7).
	macHoldOff = 5 * time.Minute
	// maxHeld bounds the devices held off: a flood of forged MACs fills
	// it, and then devices go to the portal unasked until their turn
	// comes (the servers are not flooded either).
	maxHeld = 4096
	// macQueue bounds the devices waiting to be asked about, and
	// macWorkers the questions asked at once: a device seen while the
	// queue is full goes to the portal and is asked when seen again.
	macQueue   = 64
	macWorkers = 4
)

// RADIUS is the radius method (SPEC §7): a user name and password (PAP)
// that a RADIUS server accepts sign the device in with the limits of the
// Access-Accept, config lobby's for those it leaves out. With MAC
// authentication it also asks the servers about each device first seen,
// and signs in those they accept at once, without the portal.
type RADIUS struct {
	s *Service

	mu      sync.Mutex
	guesses guess.Limiter
	// held are the devices MAC authentication asked about, by MAC: not
	// asked again before then.
	held map[string]time.Time
	asks chan macAsk
}

type macAsk struct {
	mac net.HardwareAddr
	ip  netip.Addr
}

func newRADIUS(s *Service) *RADIUS {
	return &RADIUS{s: s, guesses: guess.New(), held: map[string]time.Time{}, asks: make(chan macAsk, macQueue)}
}

// Name is "radius".
func (*RADIUS) Name() session.Method { return session.MethodRADIUS }

// Sentences of the method's refusals.
const (
	msgNoUser    = "Enter your user name and password."
	msgRejected  = "The user name or password is not right."
	msgNoAnswer  = "The sign-in service does not answer; please try again in a moment."
	msgTooMany   = "Too many wrong passwords: please wait %s and try again."
	msgWaitAfter = " Too many wrong passwords: please wait %s before the next try."
)

// Grant asks the servers about the user name and password. A reject is a
// *Refusal with the server's Reply-Message and counts against the
// device's guessing limit (5 a minute, as wrong codes do); no answer is a
// *Refusal marked Unavailable (the portal answers 503).
func (m *RADIUS) Grant(ctx context.Context, r Request, now time.Time) (session.Grant, error) {
	client := m.s.conf().RADIUS.Client
	if client == nil {
		return session.Grant{}, ErrNoMethod
	}
	m.mu.Lock()
	w := m.guesses.Wait(string(r.MAC), now)
	m.mu.Unlock()
	if w > 0 {
		return session.Grant{}, &Refusal{Message: fmt.Sprintf(msgTooMany, guess.WaitText(w)), Wait: w}
	}
	if r.Username == "" {
		return session.Grant{}, &Refusal{Message: msgNoUser}
	}
	// The session's ID goes into the Access-Request (SPEC §7).
	id := m.s.table.NewGrant(session.MethodRADIUS, r.Username, session.Limits{}).SessionID
	l, err := client.Authenticate(ctx, radius.Request{User: r.Username, Password: r.Password, MAC: r.MAC, IP: r.IP, SessionID: id})
	if rej, ok := errors.AsType[*radius.RejectError](err); ok {
		msg := rej.Message
		if msg == "" {
			msg = msgRejected
		}
		m.mu.Lock()
		w := m.guesses.Wrong(string(r.MAC), now)
		m.mu.Unlock()
		if w > 0 {
			msg += fmt.Sprintf(msgWaitAfter, guess.WaitText(w))
		}
		return session.Grant{}, &Refusal{Message: msg, Wait: w}
	}
	if noAnswer(err) {
		m.s.log.Warn("signin: no RADIUS server answers", "mac", r.MAC.String(), "user", r.Username, "err", err)
		return session.Grant{}, &Refusal{Message: msgNoAnswer, Unavailable: true}
	}
	if err != nil {
		return session.Grant{}, err
	}
	return m.grant(r.Username, id, l), nil
}

// noAnswer reports whether err is no server answering in time: within
// timeout × (retries + 1) each, or within the caller's own deadline.
func noAnswer(err error) bool {
	return errors.Is(err, radius.ErrNoAnswer) || errors.Is(err, context.DeadlineExceeded)
}

// grant is the grant of an Access-Accept's limits l for user, in the
// session id was asked about with.
func (m *RADIUS) grant(user, id string, l radius.Limits) session.Grant {
	g := m.s.table.NewGrant(session.MethodRADIUS, user, l.Limits)
	g.SessionID = id
	g.Class, g.InterimInterval = l.Class, l.InterimInterval
	return g
}

// Abandon has nothing to undo: the server keeps no state of an
// Access-Request.
func (*RADIUS) Abandon(Request, session.Grant) {}

// watch hands a device first seen to MAC authentication (SPEC §7), unless
// it was asked about in the last 5 minutes. It runs inside the table's
// notification, so it only queues: DHCP and the neighbour table never wait
// for a RADIUS server.
func (m *RADIUS) watch(ch session.Change) {
	c := ch.Client
	if ch.Event != session.NoEvent || c.State != session.Preauth || !c.IP.Is4() {
		return
	}
	if cfg := m.s.conf().RADIUS; !cfg.MACAuth || cfg.Client == nil {
		return
	}
	if !m.hold(c.MAC, m.s.now()) {
		return
	}
	select {
	case m.asks <- macAsk{mac: c.MAC, ip: c.IP}:
	default:
		m.unhold(c.MAC) // asked when it is seen next
		m.s.log.Debug("signin: MAC authentication is busy; the device goes to the portal", "mac", c.MAC.String())
	}
}

// hold marks mac as asked about at now, unless it was in the last
// macHoldOff or the map is full; it reports whether to ask.
func (m *RADIUS) hold(mac net.HardwareAddr, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if until, ok := m.held[string(mac)]; ok && now.Before(until) {
		return false
	}
	if len(m.held) >= maxHeld {
		for k, until := range m.held {
			if !now.Before(until) {
				delete(m.held, k)
			}
		}
		if len(m.held) >= maxHeld {
			return false
		}
	}
	m.held[string(mac)] = now.Add(macHoldOff)
	return true
}

func (m *RADIUS) unhold(mac net.HardwareAddr) {
	m.mu.Lock()
	delete(m.held, string(mac))
	m.mu.Unlock()
}

// run asks the servers about the devices watch queued until ctx ends.
func (m *RADIUS) run(ctx context.Context) {
	var wg sync.WaitGroup
	for range macWorkers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case a := <-m.asks:
					m.macAuth(ctx, a)
				}
			}
		})
	}
	wg.Wait()
}

// macAuth asks the servers about one device (Service-Type Call-Check) and
// signs it in at once if they accept it. A reject or no answer leaves it
// to the portal.
func (m *RADIUS) macAuth(ctx context.Context, a macAsk) {
	client := m.s.conf().RADIUS.Client
	if client == nil {
		return
	}
	id := m.s.table.NewGrant(session.MethodRADIUS, "", session.Limits{}).SessionID
	l, err := client.Authenticate(ctx, radius.Request{MACAuth: true, MAC: a.mac, IP: a.ip, SessionID: id})
	if err != nil {
		level, why := m.s.log.Info, "rejected"
		if noAnswer(err) {
			level, why = m.s.log.Warn, "no answer"
		}
		if ctx.Err() == nil {
			level("signin: MAC authentication: the device goes to the portal", "mac", a.mac.String(), "ip", a.ip, "why", why, "err", err)
		}
		return
	}
	// Signed in meanwhile on the portal, trusted or blocked: leave it.
	if c, ok := m.s.table.Lookup(a.mac); !ok || c.State != session.Preauth {
		return
	}
	// The User-Name of its accounting is its Calling-Station-Id, as the
	// Access-Request's was.
	g := m.grant(radius.StationID(a.mac), id, l)
	if _, err := m.s.table.AuthAt(ctx, a.mac, a.ip, g); err != nil {
		m.s.log.Error("signin: MAC authentication: cannot sign the device in", "mac", a.mac.String(), "err", err)
	}
}
