package nas

import (
	"context"
	"errors"
	"time"

	"github.com/lobby-fw/lobby/internal/radius"
	"github.com/lobby-fw/lobby/internal/session"
)

// Sessions is the session table as the Dynamic Authorization Server sees
// it (radius.Sessions): every signed-in client is a session, whatever its
// method, named as its accounting names it.
type Sessions struct{ Table Table }

// Find returns the signed-in sessions m matches.
func (s Sessions) Find(m radius.Match) []radius.Session {
	var out []radius.Session
	for _, c := range s.Table.Clients() {
		if c.State != session.Authenticated {
			continue
		}
		if rs := sessionOf(c.Grant, c); m.Matches(rs) {
			out = append(out, rs)
		}
	}
	return out
}

// Disconnect signs rs's client out, reason radius; its Stop follows from
// the table's sign-out. A session that ended meanwhile is gone all the
// same.
func (s Sessions) Disconnect(ctx context.Context, rs radius.Session) error {
	c, ok := s.Table.Lookup(rs.MAC)
	if !ok || c.Grant.SessionID != rs.ID {
		return nil
	}
	_, err := s.Table.Deauth(ctx, rs.MAC, session.ReasonRADIUS)
	if errors.Is(err, session.ErrNotSignedIn) {
		return nil
	}
	return err
}

// errEnded refuses a change to a session that ended meanwhile.
var errEnded = errors.New("the session ended")

// Change gives rs the limits l gives (SPEC §7, CoA-Request): the session
// timeout counted from now, the idle timeout, rates and quota; the others
// stay. The shaper and the firewall follow the table's change.
func (s Sessions) Change(ctx context.Context, rs radius.Session, l radius.Limits) error {
	ended := false
	_, err := s.Table.Limit(ctx, rs.MAC, func(g *session.Grant, now time.Time) {
		if g.SessionID != rs.ID {
			ended = true
			return
		}
		apply(g, l, now)
	})
	if ended {
		return errEnded
	}
	return err
}

// apply sets the limits l gives on g at now.
func apply(g *session.Grant, l radius.Limits, now time.Time) {
	given := l.Given
	if given&session.GivenSessionTimeout != 0 {
		g.End = time.Time{}
		if l.SessionTimeout > 0 {
			g.End = now.Add(l.SessionTimeout)
		}
	}
	if given&session.GivenIdleTimeout != 0 {
		g.IdleTimeout = l.IdleTimeout
	}
	if given&session.GivenDownloadRate != 0 {
		g.DownloadRate = l.DownloadRate
	}
	if given&session.GivenUploadRate != 0 {
		g.UploadRate = l.UploadRate
	}
	if given&session.GivenQuota != 0 {
		g.Quota = l.Quota
	}
	if l.InterimInterval > 0 {
		g.InterimInterval = l.InterimInterval
	}
	if l.Class != nil {
		g.Class = l.Class
	}
}
