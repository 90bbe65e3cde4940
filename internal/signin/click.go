package signin

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/lobby-fw/lobby/internal/session"
)

// kindCooldown is the store's record of when a device's last click
// session ended (key: the MAC), so that a restart does not lift a
// cooldown.
const kindCooldown = "click-ended"

// minCooldownPrune is the number of remembered devices below which Click
// does not bother to forget those whose cooldown is over; above it, it
// forgets them whenever the number has doubled since it last did, so that
// devices with random MACs cannot grow it without bound.
const minCooldownPrune = 1024

// Click is the click-through method: accepting the terms signs the device
// in with config click's limits (SPEC §3). With a cooldown, a device whose
// click session ended, for any reason, waits that long before the next.
type Click struct {
	s     *Service
	store Store

	mu      sync.Mutex
	last    map[string]time.Time // MAC → when its last click session ended
	pruneAt int
}

type cooldownRecord struct {
	Ended int64 `json:"ended"` // Unix seconds
}

func newClick(s *Service, st Store) *Click {
	c := &Click{s: s, store: st, last: map[string]time.Time{}, pruneAt: minCooldownPrune}
	for key, raw := range st.Records(kindCooldown) {
		mac, err := net.ParseMAC(key)
		var r cooldownRecord
		if err == nil {
			err = json.Unmarshal(raw, &r)
		}
		if err != nil {
			s.log.Warn("signin: skipping a stored click cooldown that cannot be read", "key", key, "err", err)
			st.Delete(kindCooldown, key)
			continue
		}
		c.last[string(mac)] = time.Unix(r.Ended, 0)
	}
	return c
}

// Name is "click".
func (*Click) Name() session.Method { return session.MethodClick }

// Grant signs the device in unless its cooldown runs.
func (c *Click) Grant(_ context.Context, r Request, now time.Time) (session.Grant, error) {
	cfg := c.s.conf().Click
	if cfg.Cooldown > 0 {
		c.mu.Lock()
		ended, ok := c.last[string(r.MAC)]
		c.mu.Unlock()
		if until := ended.Add(cfg.Cooldown); ok && now.Before(until) {
			// Up to the whole minute: a guest told 15:04 must not be
			// refused again at 15:04.
			until = until.Add(time.Minute - 1).Truncate(time.Minute)
			return session.Grant{}, &Refusal{
				Message: "You have used this device's free session; you can sign in again " + when(until, now) + ".",
				Wait:    until.Sub(now),
			}
		}
	}
	return c.s.table.NewGrant(session.MethodClick, "", cfg.Limits), nil
}

// Abandon does nothing: Grant changed nothing.
func (*Click) Abandon(Request, session.Grant) {}

// ended records that mac's click session ended at now. The record is
// written with the store's next flush (a few seconds): a power cut in
// between lifts one cooldown, which is not worth an fsync per sign-out.
func (c *Click) ended(mac net.HardwareAddr, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.last) >= c.pruneAt {
		c.pruneLocked(now)
	}
	now = now.Truncate(time.Second)
	c.last[string(mac)] = now
	if err := c.store.Put(kindCooldown, mac.String(), cooldownRecord{Ended: now.Unix()}); err != nil {
		c.s.log.Error("signin: cannot store a click cooldown", "mac", mac.String(), "err", err)
	}
}

// pruneLocked forgets the devices whose cooldown is over at now.
func (c *Click) pruneLocked(now time.Time) {
	cooldown := c.s.conf().Click.Cooldown
	for key, ended := range c.last {
		if !now.Before(ended.Add(cooldown)) {
			delete(c.last, key)
			c.store.Delete(kindCooldown, net.HardwareAddr(key).String())
		}
	}
	c.pruneAt = max(minCooldownPrune, 2*len(c.last))
}

// when says t in words for a guest at now, in the router's time zone: "at
// 15:04", "tomorrow at 15:04", or "on 2 January at 15:04".
func when(t, now time.Time) string {
	t, now = t.Local(), now.Local()
	y, m, d := t.Date()
	ny, nm, nd := now.Date()
	switch {
	case y == ny && m == nm && d == nd:
		return "at " + t.Format("15:04")
	case now.AddDate(0, 0, 1).Format(time.DateOnly) == t.Format(time.DateOnly):
		return "tomorrow at " + t.Format("15:04")
	}
	return fmt.Sprintf("on %d %s at %s", d, m, t.Format("15:04"))
}
