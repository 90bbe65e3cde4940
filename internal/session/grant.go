package session

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Method is how a client signed in (SPEC §3, Sign-in methods), as `ctl
// clients --json` spells it in its `method` key.
type Method string

// The sign-in methods. The admin pages sign a device in as ctl does (SPEC
// §3 treats the two alike, and §5's `method` knows no other name).
const (
	MethodClick   Method = "click"
	MethodVoucher Method = "voucher"
	MethodRADIUS  Method = "radius"
	MethodCtl     Method = "ctl"
)

func (m Method) valid() bool {
	switch m {
	case MethodClick, MethodVoucher, MethodRADIUS, MethodCtl:
		return true
	}
	return false
}

// Reason is why a session ended (SPEC §3, Limits: every sign-out has one).
// RADIUS accounting maps it to Acct-Terminate-Cause (SPEC §7).
type Reason uint8

// The sign-out reasons; the zero Reason is none (no session ended).
const (
	ReasonLogout  Reason = iota + 1 // the guest signed out on the portal
	ReasonIdle                      // no traffic for the idle timeout
	ReasonTimeout                   // the session end passed
	ReasonQuota                     // the data quota is used up
	ReasonAdmin                     // ctl deauth, the admin pages, or a new sign-in by ctl
	ReasonRevoked                   // its voucher was revoked, or ran out
	ReasonRADIUS                    // a RADIUS Disconnect-Request (RFC 5176)
	ReasonBlocked                   // the client was blocked (ctl or list blocked_mac)
)

var reasonNames = [...]string{"", "logout", "idle", "timeout", "quota", "admin", "revoked", "radius", "blocked"}

func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// Limits are a session's five limits (SPEC §3, Limits). A limit is given or
// not: a sign-in method gives those it has a value for — and 0 then means
// none — and leaves the others to config lobby's (Over). config lobby's own
// Limits (Config.Defaults) give all five.
type Limits struct {
	SessionTimeout time.Duration // from sign-in to the session end
	IdleTimeout    time.Duration // signed out after this long without traffic
	DownloadRate   uint64        // bit/s, what the client receives
	UploadRate     uint64        // bit/s, what the client sends
	Quota          uint64        // bytes up + down of the session
	// Given says which of the fields above hold a value.
	Given Fields
}

// Fields is a set of the fields of Limits.
type Fields uint8

// The fields of Limits, for Limits.Given.
const (
	GivenSessionTimeout Fields = 1 << iota
	GivenIdleTimeout
	GivenDownloadRate
	GivenUploadRate
	GivenQuota

	GivenAll = GivenSessionTimeout | GivenIdleTimeout | GivenDownloadRate | GivenUploadRate | GivenQuota
)

// Over is the one rule of precedence between a method's limits and the
// defaults (SPEC §3, Limits): each limit l gives is l's, even 0 (none);
// each it leaves out is d's. The result gives all five.
func (l Limits) Over(d Limits) Limits {
	out := d
	out.Given = GivenAll
	if l.Given&GivenSessionTimeout != 0 {
		out.SessionTimeout = l.SessionTimeout
	}
	if l.Given&GivenIdleTimeout != 0 {
		out.IdleTimeout = l.IdleTimeout
	}
	if l.Given&GivenDownloadRate != 0 {
		out.DownloadRate = l.DownloadRate
	}
	if l.Given&GivenUploadRate != 0 {
		out.UploadRate = l.UploadRate
	}
	if l.Given&GivenQuota != 0 {
		out.Quota = l.Quota
	}
	return out
}

// Grant is what a sign-in gives a client: who let it in, and the limits of
// its session (0 or the zero time: none). The table keeps it with the
// session, persists it, and enforces End, IdleTimeout and Quota; the rates
// are for whoever shapes traffic (a watcher).
type Grant struct {
	Method Method `json:"method"`
	// User is the voucher code or RADIUS user name; "" for click and ctl.
	User         string        `json:"user,omitempty"`
	End          time.Time     `json:"end,omitzero"` // the session end
	IdleTimeout  time.Duration `json:"idle_timeout,omitempty"`
	DownloadRate uint64        `json:"download_rate,omitempty"` // bit/s
	UploadRate   uint64        `json:"upload_rate,omitempty"`   // bit/s
	Quota        uint64        `json:"quota,omitempty"`         // bytes up + down since Start

	// What RADIUS gives a session (SPEC §7): the Class attributes of the
	// Access-Accept, sent back in every accounting record (RFC 2865 §5.25),
	// and the Acct-Interim-Interval (RFC 2869 §5.16; 0: config radius's).
	Class           [][]byte      `json:"class,omitempty"`
	InterimInterval time.Duration `json:"interim_interval,omitempty"`

	// Set by the table (SessionID by NewGrant, the others at sign-in);
	// what a caller of Auth puts in the others is ignored, and Limit
	// cannot change them.

	// SessionID is the session's Acct-Session-Id (RFC 2866 §5.5): unique
	// to this session, kept across restarts with it. A grant without one
	// (not made by NewGrant) gets one at sign-in.
	SessionID string    `json:"session_id"`
	Start     time.Time `json:"start"`
	// BaseUp and BaseDown are the client's byte totals at Start: the
	// firewall's counters run on across sessions, so the session's own
	// bytes (Client.SessionBytes) are what they grew by since.
	BaseUp   uint64 `json:"base_up,omitempty"`
	BaseDown uint64 `json:"base_down,omitempty"`
}

// grantOf is the grant of a sign-in by method for user with limits l
// (all given), at now.
func grantOf(method Method, user string, l Limits, now time.Time) Grant {
	g := Grant{
		Method: method, User: user, IdleTimeout: l.IdleTimeout,
		DownloadRate: l.DownloadRate, UploadRate: l.UploadRate, Quota: l.Quota,
	}
	if l.SessionTimeout > 0 {
		g.End = now.Add(l.SessionTimeout)
	}
	return g
}

// newSessionID makes an Acct-Session-Id: 64 random bits, so that it is
// unique across restarts and across routers that share a RADIUS server
// without any counter to keep (RFC 2866 §5.5 asks only for uniqueness;
// 16 characters fit every NAS field we know of).
func newSessionID() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24)
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// Event is what a Change did to a client's session.
type Event uint8

// The events of a Change.
const (
	// NoEvent: the client's state, address or name moved; no session
	// began or ended.
	NoEvent Event = iota
	// SignIn: a session began; Change.Grant is its grant.
	SignIn
	// SignOut: a session ended for Change.Reason; Change.Grant is the
	// grant of the session that ended.
	SignOut
	// LimitChange: a signed-in client's limits changed (Table.Limit);
	// Change.Grant is the new grant.
	LimitChange
)

var eventNames = [...]string{"", "sign-in", "sign-out", "limit"}

func (e Event) String() string {
	if int(e) < len(eventNames) {
		return eventNames[e]
	}
	return fmt.Sprintf("Event(%d)", int(e))
}
