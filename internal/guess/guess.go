// Package guess is the guessing limit of SPEC §3: a device that enters
// MaxWrong wrong secrets (voucher codes, RADIUS passwords) within
// guessWindow waits guessWait before the next try.
package guess

import (
	"strconv"
	"time"
)

// The limit's figures.
const (
	// MaxWrong wrong tries within guessWindow start the wait.
	MaxWrong    = 5
	guessWindow = time.Minute
	guessWait   = time.Minute

	// minGuessPrune is the size below which the limiter does not bother to
	// drop old entries; above it, it prunes whenever it has doubled since the
	// last pruning, so that devices that randomise their MAC cannot grow it
	// without bound and pruning costs O(1) per wrong code, amortised.
	minGuessPrune = 1024
)

// Limiter counts the wrong tries of each device (by MAC). It lives in
// memory only: a restart forgets it, which costs a guesser a restart of the
// router per 5 tries — no help. It is not safe for concurrent use: its
// owner's lock guards it.
type Limiter struct {
	m       map[string]*guessEntry
	pruneAt int
}

type guessEntry struct {
	wrong [MaxWrong]time.Time // the last wrong tries, oldest first; zero: none
	until time.Time           // must wait until then
}

// New returns a limiter that knows no device.
func New() Limiter {
	return Limiter{m: make(map[string]*guessEntry), pruneAt: minGuessPrune}
}

// Wait is how long mac must still wait before its next try; 0: it may try.
func (g *Limiter) Wait(mac string, now time.Time) time.Duration {
	e := g.m[mac]
	if e == nil || !now.Before(e.until) {
		return 0
	}
	return e.until.Sub(now)
}

// Wrong records a wrong try from mac and returns how long it must now wait
// (0: it may try again at once).
func (g *Limiter) Wrong(mac string, now time.Time) time.Duration {
	e := g.m[mac]
	if e == nil {
		if len(g.m) >= g.pruneAt {
			g.Prune(now)
		}
		e = &guessEntry{}
		g.m[mac] = e
	}
	copy(e.wrong[:], e.wrong[1:])
	e.wrong[MaxWrong-1] = now
	if first := e.wrong[0]; !first.IsZero() && now.Sub(first) < guessWindow {
		e.until = now.Add(guessWait)
		e.wrong = [MaxWrong]time.Time{} // the wait pays for these tries
		return guessWait
	}
	return 0
}

// Prune drops the devices whose tries no longer matter.
func (g *Limiter) Prune(now time.Time) {
	for mac, e := range g.m {
		if !now.Before(e.until) && now.Sub(e.wrong[MaxWrong-1]) >= guessWindow {
			delete(g.m, mac)
		}
	}
	g.pruneAt = max(minGuessPrune, 2*len(g.m))
}

// WaitText is a wait for a person to read, in whole seconds rounded up:
// "60 seconds".
func WaitText(d time.Duration) string {
	sec := int((d + time.Second - 1) / time.Second)
	if sec == 1 {
		return "1 second"
	}
	return strconv.Itoa(sec) + " seconds"
}
