package voucher

import "time"

// The guessing limit of SPEC §3: a device that enters maxWrong wrong codes
// within guessWindow waits guessWait before the next try.
const (
	maxWrong    = 5
	guessWindow = time.Minute
	guessWait   = time.Minute

	// minGuessPrune is the size below which the limiter does not bother to
	// drop old entries; above it, it prunes whenever it has doubled since the
	// last pruning, so that devices that randomise their MAC cannot grow it
	// without bound and pruning costs O(1) per wrong code, amortised.
	minGuessPrune = 1024
)

// guesses counts the wrong codes of each device (by MAC). It lives in
// memory only: a restart forgets it, which costs a guesser a restart of the
// router per 5 tries — no help.
type guesses struct {
	m       map[string]*guessEntry
	pruneAt int
}

type guessEntry struct {
	wrong [maxWrong]time.Time // the last wrong tries, oldest first; zero: none
	until time.Time           // must wait until then
}

func newGuesses() guesses {
	return guesses{m: make(map[string]*guessEntry), pruneAt: minGuessPrune}
}

// wait is how long mac must still wait before its next try; 0: it may try.
func (g *guesses) wait(mac string, now time.Time) time.Duration {
	e := g.m[mac]
	if e == nil || !now.Before(e.until) {
		return 0
	}
	return e.until.Sub(now)
}

// wrong records a wrong code from mac and returns how long it must now wait
// (0: it may try again at once).
func (g *guesses) wrong(mac string, now time.Time) time.Duration {
	e := g.m[mac]
	if e == nil {
		if len(g.m) >= g.pruneAt {
			g.prune(now)
		}
		e = &guessEntry{}
		g.m[mac] = e
	}
	copy(e.wrong[:], e.wrong[1:])
	e.wrong[maxWrong-1] = now
	if first := e.wrong[0]; !first.IsZero() && now.Sub(first) < guessWindow {
		e.until = now.Add(guessWait)
		e.wrong = [maxWrong]time.Time{} // the wait pays for these tries
		return guessWait
	}
	return 0
}

// prune drops the devices whose tries no longer matter.
func (g *guesses) prune(now time.Time) {
	for mac, e := range g.m {
		if !now.Before(e.until) && now.Sub(e.wrong[maxWrong-1]) >= guessWindow {
			delete(g.m, mac)
		}
	}
	g.pruneAt = max(minGuessPrune, 2*len(g.m))
}
