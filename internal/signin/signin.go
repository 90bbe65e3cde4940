// Package signin is the act of signing in (SPEC §3, Sign-in methods): given
// what a guest entered on the portal or sent to POST /api/login, a Method
// either refuses with a sentence a person can read (a *Refusal, with a wait
// when the device must wait) or returns the session's grant, which the
// Service hands to the session table.
//
// A method is one small type behind the Method interface: Click (accept the
// terms, with config click's limits and cooldown), Voucher (a code of
// internal/voucher) and RADIUS (a user name and password a RADIUS server
// accepts, SPEC §7, and MAC authentication of the devices first seen). The package lives apart from the portal because the portal is
// only one of its callers' front ends (the form and the JSON API), and
// because the voucher method has a life beyond a sign-in — seats released
// when sessions end, data counted, expiry — that belongs with the codes, not
// with HTTP.
//
// Limits follow one rule, session.Limits.Over: what the method gives, else
// config lobby's (Table.NewGrant applies it).
package signin

import (
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

	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/voucher"
)

// Request is what a guest entered to sign in.
type Request struct {
	MAC    net.HardwareAddr // found from IP by the caller
	IP     netip.Addr
	Method session.Method
	// Code is the voucher code as typed (method voucher).
	Code string
	// Username and Password are for method radius.
	Username, Password string
}

// Refusal is a sign-in refused for a reason the guest should read. Error is
// one plain sentence. With Wait > 0 the device may not try again before it
// has passed: the portal answers 429 with Retry-After; Unavailable says
// the service behind the method did not answer (no RADIUS server did):
// the portal answers 503; else 403 (401 for POST /api/login).
type Refusal struct {
	Message     string
	Wait        time.Duration
	Unavailable bool
}

func (r *Refusal) Error() string { return r.Message }

// Table is what the methods need of the session table.
type Table interface {
	Lookup(mac net.HardwareAddr) (session.Client, bool)
	Clients() []session.Client
	NewGrant(method session.Method, user string, l session.Limits) session.Grant
	AuthAt(ctx context.Context, mac net.HardwareAddr, ip netip.Addr, g session.Grant) (session.Client, error)
	Deauth(ctx context.Context, mac net.HardwareAddr, r session.Reason) (session.Client, error)
}

// Store is what the methods keep durably (internal/store).
type Store interface {
	voucher.Store
}

// Method is one sign-in method of `list auth`.
type Method interface {
	// Name is the method's name in `list auth`, the form and the API.
	Name() session.Method
	// Grant checks what the guest entered at now and returns the grant
	// of the session to begin, a *Refusal, or another error (something
	// went wrong on our side; nothing changed).
	Grant(ctx context.Context, r Request, now time.Time) (session.Grant, error)
	// Abandon undoes what Grant did when the table could not sign the
	// device in after all.
	Abandon(r Request, g session.Grant)
}

// Config is what a reload may change.
type Config struct {
	// Methods is `list auth`: the methods offered, in the page's order.
	Methods []session.Method
	Click   ClickConfig
	// Voucher is `config voucher`: the defaults of `ctl voucher create`.
	Voucher voucher.Defaults
	// RADIUS is config radius: method radius and MAC authentication.
	RADIUS RADIUSConfig
}

// ClickConfig is `config click`.
type ClickConfig struct {
	// Limits are the options the section sets (Given); the others are
	// config lobby's.
	Limits session.Limits
	// Cooldown is how long a device whose click session ended waits
	// before the next; 0: none.
	Cooldown time.Duration
}

// Service signs guests in with the methods of its Config.
type Service struct {
	table Table
	log   *slog.Logger
	now   func() time.Time

	cfg     atomic.Pointer[Config]
	click   *Click
	voucher *Voucher
	radius  *RADIUS
	methods []Method // every method built, configured or not
}

// Options are what New needs besides the config.
type Options struct {
	Table Table
	Store Store
	Book  *voucher.Book
	Log   *slog.Logger
	// Now is the clock; nil: time.Now. Only tests set it.
	Now func() time.Time
}

// New builds every method and applies cfg. It reads what the methods keep
// in the store (the click cooldowns) and, for the vouchers, frees the seats
// of devices that are no longer signed in with their code (a crash may have
// lost a release): call it after the table is loaded.
func New(cfg Config, o Options) (*Service, error) {
	if o.Table == nil || o.Store == nil || o.Book == nil {
		return nil, errors.New("signin: table, store and voucher book are required")
	}
	s := &Service{table: o.Table, log: o.Log, now: o.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.click = newClick(s, o.Store)
	s.voucher = newVoucher(s, o.Book)
	s.radius = newRADIUS(s)
	s.methods = []Method{s.click, s.voucher, s.radius}
	if err := s.Reload(cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload applies a new config. Sessions, cooldowns and codes stay.
func (s *Service) Reload(cfg Config) error {
	for _, m := range cfg.Methods {
		if s.method(m) == nil {
			return fmt.Errorf("signin: method %q is not built into this lobby", m)
		}
	}
	if cfg.RADIUS.Client == nil && (cfg.RADIUS.MACAuth || slices.Contains(cfg.Methods, session.MethodRADIUS)) {
		return errors.New("signin: method radius and MAC authentication need config radius")
	}
	s.cfg.Store(&cfg)
	return nil
}

func (s *Service) conf() *Config { return s.cfg.Load() }

// Methods are the methods offered, in the order of `list auth`.
func (s *Service) Methods() []session.Method { return slices.Clone(s.conf().Methods) }

// Voucher is the voucher method, for ctl.
func (s *Service) Voucher() *Voucher { return s.voucher }

func (s *Service) method(name session.Method) Method {
	for _, m := range s.methods {
		if m.Name() == name {
			return m
		}
	}
	return nil
}

// ErrNoMethod refuses a method that `list auth` does not offer.
var ErrNoMethod = &Refusal{Message: "This way of signing in is not offered here."}

// SignIn signs r's device in with its method, or says why not: a
// *Refusal for the guest, another error for a failure of ours.
func (s *Service) SignIn(ctx context.Context, r Request) (session.Client, error) {
	if !slices.Contains(s.conf().Methods, r.Method) {
		return session.Client{}, ErrNoMethod
	}
	m := s.method(r.Method)
	g, err := m.Grant(ctx, r, s.now())
	if err != nil {
		return session.Client{}, err
	}
	// Bound to the address it signed in from (SPEC §3, Firewall).
	c, err := s.table.AuthAt(ctx, r.MAC, r.IP, g)
	if err != nil {
		m.Abandon(r, g)
		return session.Client{}, fmt.Errorf("signin: %s: %w", r.MAC, err)
	}
	return c, nil
}

// Watch follows the table's changes (register it with Table.Watch): a
// click session's end starts its device's cooldown, a voucher session's
// frees its seat, a device first seen goes to MAC authentication.
func (s *Service) Watch(ch session.Change) {
	if ch.Event == session.NoEvent {
		s.radius.watch(ch)
		return
	}
	if ch.Event != session.SignOut && ch.Event != session.SignIn {
		return
	}
	switch ch.Grant.Method {
	case session.MethodClick:
		if ch.Event == session.SignOut {
			s.click.ended(ch.Client.MAC, s.now())
		}
	case session.MethodVoucher:
		s.voucher.watch(ch)
	}
}

// Run counts voucher sessions' data against their codes, ends the
// sessions of codes that expire, and asks about the devices MAC
// authentication queued, until ctx ends.
func (s *Service) Run(ctx context.Context, ready func()) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { s.radius.run(ctx) })
	return s.voucher.run(ctx, ready)
}

// QuotaLeft is what c's session may still use: its own quota's rest, and
// for a voucher session no more than its code has left, which the code's
// other devices use too. ok is false when neither has a quota.
func (s *Service) QuotaLeft(c session.Client) (left uint64, ok bool) {
	left, ok = c.QuotaLeft()
	if code, isVoucher := voucherSession(c); isVoucher {
		if v, err := s.voucher.book.Show(code, s.now()); err == nil && v.BytesLeft >= 0 {
			if !ok || uint64(v.BytesLeft) < left {
				left = uint64(v.BytesLeft)
			}
			ok = true
		}
	}
	return left, ok
}
