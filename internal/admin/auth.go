package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/netip"
	"sync"
	"time"
)

// Login limits and lifetimes (SPEC §8).
const (
	// SessionLifetime is how long a login lasts.
	SessionLifetime = 12 * time.Hour
	// maxFailures wrong passwords from one address within failureWindow
	// make it wait failureWindow.
	maxFailures   = 5
	failureWindow = time.Minute
	// basicCacheFor is how long a verified Basic credential is taken
	// without the slow hash: a scraper every 15 s pays the hash once every
	// ten minutes instead of four times a minute (1-2 % of a MIPS core).
	basicCacheFor = 10 * time.Minute
	// maxSessions bounds the session table: a logged-in operator does not
	// need more, and an old login makes room.
	maxSessions = 64
)

// login is one signed-in operator.
type login struct {
	csrf    string // the token every form of this login carries
	expires time.Time
}

// limiter counts wrong passwords per address.
type limiter struct {
	fails map[netip.Addr][]time.Time // the times of the recent failures
}

// auth holds the logins, the failure counts and the Basic cache; its
// mutex guards them all.
type auth struct {
	mu       sync.Mutex
	now      func() time.Time
	sessions map[string]*login // by cookie value
	lim      limiter
	// basic is the SHA-256 of the last "admin:password" Basic credential
	// that matched the hash, with the hash it matched and until when it
	// is taken without checking again.
	basic      [sha256.Size]byte
	basicHash  string
	basicUntil time.Time
}

func newAuth(now func() time.Time) *auth {
	return &auth{now: now, sessions: map[string]*login{}, lim: limiter{fails: map[netip.Addr][]time.Time{}}}
}

// randomID is 128 random bits in hex.
func randomID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24)
	return hex.EncodeToString(b[:])
}

// waiting reports whether addr must wait before its next try, and how long.
func (a *auth) waiting(addr netip.Addr) (time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	f := a.recent(addr, now)
	if len(f) < maxFailures {
		return 0, false
	}
	// The fifth failure within a minute starts a minute's wait.
	return f[len(f)-1].Add(failureWindow).Sub(now), true
}

// recent drops addr's failures older than the window (or, when it is
// waiting, older than its wait) and returns the rest.
func (a *auth) recent(addr netip.Addr, now time.Time) []time.Time {
	f := a.lim.fails[addr]
	if len(f) >= maxFailures && now.Before(f[len(f)-1].Add(failureWindow)) {
		return f
	}
	i := 0
	for i < len(f) && !now.Before(f[i].Add(failureWindow)) {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(a.lim.fails, addr)
		return nil
	}
	a.lim.fails[addr] = f
	return f
}

// failed records a wrong password from addr.
func (a *auth) failed(addr netip.Addr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	f := append(a.recent(addr, now), now)
	if len(f) > maxFailures {
		f = f[len(f)-maxFailures:]
	}
	a.lim.fails[addr] = f
	if len(a.lim.fails) > 4096 {
		// Many addresses guessing at once: forget the quiet ones.
		for k := range a.lim.fails {
			a.recent(k, now)
		}
	}
}

// start starts a session and returns its cookie value.
func (a *auth) start() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	a.sweep(now)
	if len(a.sessions) >= maxSessions {
		var oldest string
		for id, s := range a.sessions {
			if oldest == "" || s.expires.Before(a.sessions[oldest].expires) {
				oldest = id
			}
		}
		delete(a.sessions, oldest)
	}
	id := randomID()
	a.sessions[id] = &login{csrf: randomID(), expires: now.Add(SessionLifetime)}
	return id
}

func (a *auth) sweep(now time.Time) {
	for id, s := range a.sessions {
		if !now.Before(s.expires) {
			delete(a.sessions, id)
		}
	}
}

// session returns the CSRF token of the live session id.
func (a *auth) session(id string) (csrf string, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[id]
	if s == nil || !a.now().Before(s.expires) {
		delete(a.sessions, id)
		return "", false
	}
	return s.csrf, true
}

// logout ends session id.
func (a *auth) logout(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sessions, id)
}

// reset ends every session and forgets the Basic cache: the password
// changed.
func (a *auth) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.sessions)
	a.basicUntil = time.Time{}
}

// validCSRF compares a form's token with the session's in constant time.
func validCSRF(want, got string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// basicOK checks a Basic credential against hash, remembering the last one
// that matched for basicCacheFor: only its SHA-256 is kept, and only
// together with the hash it matched, so a new password ends it.
func (a *auth) basicOK(hash, user, password string) bool {
	sum := sha256.Sum256([]byte(user + ":" + password))
	a.mu.Lock()
	cached := a.basicHash == hash && a.now().Before(a.basicUntil) && subtle.ConstantTimeCompare(sum[:], a.basic[:]) == 1
	a.mu.Unlock()
	if cached {
		return true
	}
	if user != "admin" || !CheckPassword(hash, password) {
		return false
	}
	a.mu.Lock()
	a.basic, a.basicHash, a.basicUntil = sum, hash, a.now().Add(basicCacheFor)
	a.mu.Unlock()
	return true
}
