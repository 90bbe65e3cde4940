package signin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/voucher"
)

// usageEvery is how often the data of voucher sessions is counted against
// their codes, and expired codes are looked for. The firewall reads its
// counters about as often; a shared quota is then enforced within a few
// seconds (SPEC §3, Limits: within 5 seconds).
const usageEvery = 2 * time.Second

// Voucher is the voucher method (SPEC §3): a code of the voucher Book signs
// the device in until the code's end, with its rates and what is left of
// its quota. It also keeps the Book in step with the table: a seat is
// freed when its session ends (unless the same device signed in again with
// the same code), the data of each session is counted against its code,
// and the devices of a code that is used up, revoked or expired are signed
// out with that reason.
type Voucher struct {
	s    *Service
	book *voucher.Book

	mu sync.Mutex
	// sessions are the voucher sessions running, by MAC: what of their
	// data the Book has been told.
	sessions map[string]*usage
	// pending are sign-outs the Book asked for from inside a watcher,
	// which may not change the table; run does them.
	pending []voucher.SignOut
}

type usage struct {
	code    voucher.Code
	id      string // session.Grant.SessionID
	counted uint64 // session bytes (up + down) already given to Book.Use
}

func newVoucher(s *Service, b *voucher.Book) *Voucher {
	v := &Voucher{s: s, book: b, sessions: map[string]*usage{}}
	// A session restored from the store has had its data counted up to
	// the last lazy write of each side; counting from here loses at most
	// one flush interval of it to a crash, and never counts a byte twice.
	for _, c := range s.table.Clients() {
		if code, ok := voucherSession(c); ok {
			up, down := c.SessionBytes()
			v.sessions[string(c.MAC)] = &usage{code: code, id: c.Grant.SessionID, counted: up + down}
		}
	}
	b.Reconcile(func(code voucher.Code, mac net.HardwareAddr) bool {
		c, ok := s.table.Lookup(mac)
		got, isVoucher := voucherSession(c)
		return ok && isVoucher && got == code
	})
	return v
}

// voucherSession reports the code of c's session if it is signed in with
// one.
func voucherSession(c session.Client) (voucher.Code, bool) {
	if c.State != session.Authenticated || c.Grant.Method != session.MethodVoucher {
		return 0, false
	}
	code, err := voucher.Parse(c.Grant.User)
	return code, err == nil
}

// Name is "voucher".
func (*Voucher) Name() session.Method { return session.MethodVoucher }

// Grant redeems the code; the session ends with the code and has its rates
// and what is left of its quota. A limit the code leaves at 0 is config
// lobby's (docs/portal.md), except the idle timeout, which is always
// config lobby's: a code has none.
func (v *Voucher) Grant(ctx context.Context, r Request, now time.Time) (session.Grant, error) {
	vg, err := v.book.Redeem(ctx, r.Code, r.MAC, now)
	if ref, ok := errors.AsType[*voucher.Refusal](err); ok {
		return session.Grant{}, &Refusal{Message: ref.Error(), Wait: ref.Wait}
	}
	if err != nil {
		return session.Grant{}, err
	}
	var l session.Limits
	if !vg.End.IsZero() {
		l.SessionTimeout, l.Given = vg.End.Sub(now), l.Given|session.GivenSessionTimeout
	}
	if vg.DownloadRate > 0 {
		l.DownloadRate, l.Given = vg.DownloadRate, l.Given|session.GivenDownloadRate
	}
	if vg.UploadRate > 0 {
		l.UploadRate, l.Given = vg.UploadRate, l.Given|session.GivenUploadRate
	}
	if vg.Quota > 0 {
		l.Quota, l.Given = vg.Quota, l.Given|session.GivenQuota
	}
	g := v.s.table.NewGrant(session.MethodVoucher, vg.Code.String(), l)
	if !vg.End.IsZero() {
		g.End = vg.End // the code's end to the second, not now + a rounded span
	}
	return g, nil
}

// Abandon frees the seat Grant took, unless the device holds it for a
// session with the code that runs on.
func (v *Voucher) Abandon(r Request, g session.Grant) {
	code, err := voucher.Parse(g.User)
	if err != nil {
		return
	}
	if c, ok := v.s.table.Lookup(r.MAC); ok {
		if got, isVoucher := voucherSession(c); isVoucher && got == code {
			return
		}
	}
	v.book.Release(code, r.MAC)
}

// watch follows the start and end of voucher sessions. It runs inside the
// table's notification, so it only reads the table.
func (v *Voucher) watch(ch session.Change) {
	code, err := voucher.Parse(ch.Grant.User)
	if err != nil {
		v.s.log.Warn("signin: a voucher session without a code", "mac", ch.Client.MAC.String(), "user", ch.Grant.User)
		return
	}
	mac := ch.Client.MAC
	now := v.s.now()
	v.mu.Lock()
	defer v.mu.Unlock()
	switch ch.Event {
	case session.SignIn:
		v.sessions[string(mac)] = &usage{code: code, id: ch.Grant.SessionID}
	case session.SignOut:
		// The session's last bytes count too.
		if u := v.sessions[string(mac)]; u != nil && u.id == ch.Grant.SessionID {
			up, down := ch.Grant.Used(ch.Client.BytesUp, ch.Client.BytesDown)
			total := up + down
			if total > u.counted {
				v.pending = append(v.pending, v.book.Use(code, total-u.counted, now)...)
			}
			delete(v.sessions, string(mac))
		}
		// A new session of the same device with the same code keeps the
		// seat: Redeem kept it for that session (the sign-in is this
		// sign-out's cause, and the client is already signed in again).
		if again, ok := voucherSession(ch.Client); ok && again == code {
			return
		}
		v.book.Release(code, mac)
	}
}

// run counts data and expires codes every usageEvery until ctx ends.
func (v *Voucher) run(ctx context.Context, ready func()) error {
	ready()
	t := time.NewTicker(usageEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		v.tick(ctx)
	}
}

// tick gives the Book the data each voucher session used since the last
// tick and signs out the devices of codes used up or expired.
func (v *Voucher) tick(ctx context.Context) {
	now := v.s.now()
	v.mu.Lock()
	out := v.pending
	v.pending = nil
	for key, u := range v.sessions {
		c, ok := v.s.table.Lookup(net.HardwareAddr(key))
		if !ok || c.Grant.SessionID != u.id {
			continue // ended; watch has counted it
		}
		up, down := c.SessionBytes()
		if total := up + down; total > u.counted {
			out = append(out, v.book.Use(u.code, total-u.counted, now)...)
			u.counted = total
		}
	}
	v.mu.Unlock()
	expired, _ := v.book.Expire(now)
	out = append(out, expired...)
	for _, so := range out {
		v.signOut(ctx, so)
	}
}

// reasons map the Book's sign-outs to the table's reasons.
var reasons = map[voucher.EndReason]session.Reason{
	voucher.QuotaUsed:   session.ReasonQuota,
	voucher.CodeRevoked: session.ReasonRevoked,
	voucher.TimeOver:    session.ReasonTimeout,
}

// signOut signs a device out of its code's session, if it is still in one
// with that code.
func (v *Voucher) signOut(ctx context.Context, so voucher.SignOut) {
	c, ok := v.s.table.Lookup(so.MAC)
	if code, isVoucher := voucherSession(c); !ok || !isVoucher || code != so.Code {
		return
	}
	if _, err := v.s.table.Deauth(ctx, so.MAC, reasons[so.Reason]); err != nil && !errors.Is(err, session.ErrNotSignedIn) {
		v.s.log.Error("signin: cannot sign out a device of a voucher", "mac", so.MAC.String(), "code", so.Code.String(), "reason", so.Reason.String(), "err", err)
	}
}

// Defaults are `config voucher`'s: the limits of codes made without them.
func (v *Voucher) Defaults() voucher.Defaults { return v.s.conf().Voucher }

// Create makes a batch of codes (ctl voucher create).
func (v *Voucher) Create(ctx context.Context, b voucher.Batch) ([]voucher.View, error) {
	return v.book.Create(ctx, b, v.s.now())
}

// List is every code (ctl voucher list).
func (v *Voucher) List() []voucher.View { return v.book.List(v.s.now()) }

// Show is one code (ctl voucher show).
func (v *Voucher) Show(c voucher.Code) (voucher.View, error) { return v.book.Show(c, v.s.now()) }

// Revoke ends a code and signs its devices out at once (reason revoked),
// and returns the code as it is then.
func (v *Voucher) Revoke(ctx context.Context, c voucher.Code) (voucher.View, error) {
	out, err := v.book.Revoke(ctx, c, v.s.now())
	for _, so := range out {
		v.signOut(ctx, so)
	}
	if err != nil {
		return voucher.View{}, fmt.Errorf("revoke %s: %w", c, err)
	}
	return v.book.Show(c, v.s.now())
}
