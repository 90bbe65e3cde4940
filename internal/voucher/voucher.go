// Package voucher keeps the voucher codes of SPEC §3 ("Sign-in methods")
// and §5 (`voucher create|list|show|revoke`): their making in batches, their
// life cycle, the devices signed in with each, their shared data quota and
// the guessing limit, durably in the state directory.
//
// # Life cycle
//
// A code is unused until its first sign-in, which starts its duration; it is
// then active until its duration is over (expired), its quota is used up
// (used up), or an operator revokes it (revoked). An unused code expires
// `valid` after it was made. An active code signs in up to `devices`
// devices at once, each until the code's end; they share its quota. A
// device that held a seat and lost it (idle timeout, sign-out, rejoining)
// may enter the code again while it has time and data left and a seat is
// free; a device that still holds a seat takes no second one.
//
// # Wiring
//
// The Book is the one owner of the codes; the client table owns sessions.
// Every method that depends on time takes now, so that the caller's clock
// (the table's) is the only one. The table (or the portal on its behalf)
// calls:
//
//   - Redeem when a guest enters a code. A *Refusal says why not in one
//     sentence (Refusal.Error) and, when Wait > 0, the answer is 429 with
//     Retry-After; otherwise 403 (401 for POST /api/login). A Grant
//     carries what the session needs: its user (Grant.Code.String()), its
//     end (Grant.End, the code's end), the rates, and the quota the code
//     has left. Redeem returns
//     once the seat is on disk, so the caller may sign the device in and
//     answer at once; it must then save the session itself (its own Sync).
//     If it cannot sign the device in after all, it calls Release.
//     Voucher grants carry no idle timeout: config lobby's applies.
//   - Release when a session that came from a code ends, for whatever
//     reason (a new sign-in of the device with another code or another
//     method ends it too; one with the same code does not, since Redeem
//     kept the device's seat for it), so that its seat is free for another
//     device. Releasing a
//     seat that is not held does nothing, so the table need not know why
//     the seat went.
//   - Use with the bytes (up + down) a voucher session forwarded since the
//     last call. The table may also enforce Grant.Quota per session, but
//     only Use sees the devices' shared total; when it is used up, Use
//     returns the devices to sign out (reason quota).
//   - Expire on the table's timer: it returns the devices of codes whose
//     time ran out (reason timeout) and when to call it next. The table's
//     own session end (Grant.End) signs them out at the same moment; Expire
//     frees their seats and, once an hour, forgets codes that ended more
//     than Retention ago.
//   - Revoke (ctl, admin pages): the returned devices are signed out
//     (reason revoked).
//   - Reconcile once at start, after the table is loaded: a crash between
//     a sign-out and the lazily written seat release leaves a seat held by
//     a device that is no longer signed in with the code.
//
// ctl and the admin pages use Create (with Defaults.Batch: the `config
// voucher` section fills every limit the command does not give), List and
// Show, whose View marshals to SPEC §5's JSON.
//
// # Durability
//
// Codes live in a Store (internal/store) under two kinds. "voucher-batch"
// (key: the batch number) holds what a batch's codes share — creation
// time, limits, note — and the list of its codes, so that a batch reaches
// the disk whole or not at all. "voucher" (key: the code without its dash)
// holds the state of a code that has any: first use, data used, when it was
// used up or revoked, the devices holding a seat. A code that is still
// unused has no record of its own, and in memory all unused codes of a
// batch share one state: 100,000 codes cost about 37 bytes of heap each
// (Book and store together) and 22 bytes of snapshot.
//
// Create, Redeem and Revoke Sync before they return; data used and released
// seats are Put without Sync, so the store's flush interval (5 s) writes
// them, at most that often. New rebuilds every code from the store's
// records; a record that cannot be read is skipped with a warning.
//
// Times are kept to the second: a code's end is a whole second, which a
// guest cannot notice and which keeps the records and the memory small.
package voucher

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/lobby-fw/lobby/internal/guess"
)

// Store is what the Book needs of internal/store: durable records.
type Store interface {
	Records(kind string) map[string]json.RawMessage
	Put(kind, key string, v any) error
	Delete(kind, key string)
	Sync(ctx context.Context) error
}

// Record kinds in the store.
const (
	kindCode  = "voucher"
	kindBatch = "voucher-batch"
)

// Bounds of a batch.
const (
	// MaxCount is the most codes one Create makes: more than any venue
	// prints at once, and few enough that one command cannot flood the
	// state directory.
	MaxCount = 10_000
	// MaxNote is the longest note, in bytes.
	MaxNote = 200
	// MaxDevices bounds a code's devices at once.
	MaxDevices = 1000
)

// Retention is how long a code that ended (used up, expired, revoked) is
// still listed before it is forgotten. The SPEC is silent; a month lets an
// operator answer "my code did not work last week", and keeps a venue that
// prints a thousand codes a day at some 30,000 records.
const Retention = 30 * 24 * time.Hour

// sweepEvery is how often Expire looks at every code (to forget old ones)
// rather than only at those with seats.
const sweepEvery = time.Hour

// Limits are what a code gives. Zero means none for each field except
// Devices.
type Limits struct {
	Duration     time.Duration // from the first sign-in; 0: no end
	Devices      int           // devices signed in at once, at least 1
	DownloadRate uint64        // bit/s; 0: not limited
	UploadRate   uint64        // bit/s; 0: not limited
	Quota        uint64        // bytes up + down, shared by the devices; 0: none
	Valid        time.Duration // an unused code expires this long after it was made; 0: never
}

// Defaults are the options of `config voucher` (SPEC §2): the limits of a
// code made without them. The config package decodes the section into it.
type Defaults Limits

// SpecDefaults is what SPEC §2 gives when `config voucher` is absent or
// leaves an option out: a day from the first sign-in, one device, no rates
// or quota, valid for a year.
func SpecDefaults() Defaults {
	return Defaults{Duration: 24 * time.Hour, Devices: 1, Valid: 365 * 24 * time.Hour}
}

// Batch returns a request for count codes with d's limits, for the caller
// to override with what the command gives:
//
//	b := cfg.Voucher.Batch(n)
//	b.Limits.Devices = 2 // from devices=2
func (d Defaults) Batch(count int) Batch {
	return Batch{Count: count, Limits: Limits(d)}
}

// Batch asks Create for codes.
type Batch struct {
	Count  int // 1 to MaxCount
	Limits Limits
	Note   string // one line, up to MaxNote bytes: for the operator only
}

func (b Batch) validate() error {
	l := b.Limits
	switch {
	case b.Count < 1 || b.Count > MaxCount:
		return fmt.Errorf("count %d: must be 1 to %d", b.Count, MaxCount)
	case l.Devices < 1 || l.Devices > MaxDevices:
		return fmt.Errorf("devices %d: must be 1 to %d", l.Devices, MaxDevices)
	case l.Duration < 0 || l.Valid < 0:
		return errors.New("duration and valid cannot be negative")
	case len(b.Note) > MaxNote:
		return fmt.Errorf("note: %d bytes, at most %d", len(b.Note), MaxNote)
	case !utf8.ValidString(b.Note):
		return errors.New("note: not valid UTF-8")
	}
	for _, r := range b.Note {
		if unicode.IsControl(r) {
			return errors.New("note: one line of text, no control characters")
		}
	}
	return nil
}

// State is where a code is in its life.
type State int

// The states of SPEC §5.
const (
	Unused State = iota
	Active
	UsedUp
	Expired
	Revoked
)

var stateNames = [...]string{"unused", "active", "used up", "expired", "revoked"}

func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText writes the SPEC's name of the state.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a state's SPEC name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("voucher: unknown state %q", b)
}

// Reason is why a refusal refused.
type Reason int

// Refusal reasons.
const (
	Malformed    Reason = iota // not a code at all (Refusal.Detail says what is wrong)
	WrongCode                  // no such code
	IsUsedUp                   // its quota is used up
	IsExpired                  // its time, or its validity, is over
	IsRevoked                  // an operator revoked it
	DevicesInUse               // all its devices are signed in
	TooManyTries               // the device entered too many wrong codes; Wait says how long
)

// Refusal is Redeem's error for a sign-in it refuses. Its Error is one plain
// sentence for the sign-in page.
type Refusal struct {
	Reason Reason
	// Wait > 0: the device may not try again before it has passed (SPEC
	// §3: answer 429 with Retry-After). Set for TooManyTries, and for the
	// WrongCode that started the wait.
	Wait    time.Duration
	Detail  string // for Malformed: what is wrong with the input
	Devices int    // for DevicesInUse: the code's limit
}

func (r *Refusal) Error() string {
	var s string
	switch r.Reason {
	case Malformed:
		s = "That is not a code: " + r.Detail + "."
	case WrongCode:
		s = "That code is not valid; check it and try again."
	case IsUsedUp:
		s = "This code's data allowance is used up."
	case IsExpired:
		s = "This code has expired."
	case IsRevoked:
		s = "This code has been withdrawn."
	case DevicesInUse:
		if r.Devices == 1 {
			s = "This code is in use on another device."
		} else {
			s = fmt.Sprintf("This code is in use on %d devices already, as many as it allows.", r.Devices)
		}
	case TooManyTries:
		return fmt.Sprintf("Too many wrong codes: please wait %s and try again.", guess.WaitText(r.Wait))
	}
	if r.Wait > 0 {
		s += fmt.Sprintf(" Too many wrong codes: please wait %s before the next try.", guess.WaitText(r.Wait))
	}
	return s
}

// ErrUnknownCode is returned by Show and Revoke for a code the Book does not
// have.
var ErrUnknownCode = errors.New("no such voucher code")

// Grant is what a successful Redeem gives the session.
type Grant struct {
	Code         Code
	End          time.Time // the code's end; zero: none
	DownloadRate uint64    // bit/s; 0: not limited
	UploadRate   uint64    // bit/s; 0: not limited
	Quota        uint64    // bytes the code has left, shared with its other devices; 0: no quota
}

// EndReason is why Use, Revoke or Expire signs a device out.
type EndReason int

// Sign-out reasons; String gives SPEC §3's name.
const (
	QuotaUsed   EndReason = iota // "quota"
	CodeRevoked                  // "revoked"
	TimeOver                     // "timeout"
)

func (r EndReason) String() string {
	switch r {
	case QuotaUsed:
		return "quota"
	case CodeRevoked:
		return "revoked"
	case TimeOver:
		return "timeout"
	}
	return "EndReason(" + strconv.Itoa(int(r)) + ")"
}

// SignOut names a device that must be signed out, and why.
type SignOut struct {
	Code   Code
	MAC    net.HardwareAddr
	Reason EndReason
}

// batch is what the codes of one Create share. Sharing it is what keeps a
// code's own memory and record small.
type batch struct {
	id      uint64
	created int64 // Unix seconds
	limits  Limits
	note    string
	codes   int // codes of the batch still kept; at 0 the batch goes too
	// unused is the state of every code of the batch that has none of
	// its own yet (never redeemed, used or revoked): the codes map points
	// all of them here, so an unused code costs a map slot and no more.
	// Never changed; ownLocked gives a code its own copy first.
	unused *voucher
}

// voucher is one code's state.
type voucher struct {
	batch     *batch
	firstUsed int64 // Unix seconds; 0: unused
	// ended is when it was used up or revoked (Unix seconds); 0: neither.
	// Bytes counted after a code expired do not make it used up.
	ended   int64
	revoked bool
	used    uint64             // bytes
	seats   []net.HardwareAddr // devices signed in with it now
}

func (v *voucher) ends() int64 {
	if v.firstUsed == 0 || v.batch.limits.Duration <= 0 {
		return 0
	}
	return v.firstUsed + int64(v.batch.limits.Duration/time.Second)
}

func (v *voucher) validUntil() int64 {
	if v.batch.limits.Valid <= 0 {
		return 0
	}
	return v.batch.created + int64(v.batch.limits.Valid/time.Second)
}

func (v *voucher) usedUp() bool {
	return v.batch.limits.Quota > 0 && v.used >= v.batch.limits.Quota
}

func (v *voucher) state(now int64) State {
	switch {
	case v.revoked:
		return Revoked
	case v.ended != 0:
		return UsedUp // ended is set for revoked or used up
	case v.firstUsed == 0:
		if vu := v.validUntil(); vu != 0 && now >= vu {
			return Expired
		}
		return Unused
	}
	if e := v.ends(); e != 0 && now >= e {
		return Expired
	}
	return Active
}

// endedAt is when the code stopped being usable; 0: it has not.
func (v *voucher) endedAt(now int64) int64 {
	switch v.state(now) {
	case Revoked, UsedUp:
		return v.ended
	case Expired:
		if v.firstUsed == 0 {
			return v.validUntil()
		}
		return v.ends()
	}
	return 0
}

// ownLocked returns c's state for changing: a copy of its own if it still
// shares its batch's unused state.
func (b *Book) ownLocked(c Code, v *voucher) *voucher {
	if v != v.batch.unused {
		return v
	}
	w := &voucher{batch: v.batch}
	b.codes[c] = w
	return w
}

func (v *voucher) seat(mac net.HardwareAddr) int {
	return slices.IndexFunc(v.seats, func(m net.HardwareAddr) bool { return string(m) == string(mac) })
}

// Book holds every voucher code. Its methods are safe for concurrent use.
type Book struct {
	store   Store
	log     *slog.Logger
	entropy io.Reader

	mu        sync.Mutex
	codes     map[Code]*voucher
	seated    map[Code]struct{} // codes with at least one seat: what Expire watches
	batches   map[uint64]*batch
	nextBatch uint64
	guesses   guess.Limiter
	lastSweep int64 // Unix seconds of Expire's last look at every code
}

// Config is what New needs besides the store.
type Config struct {
	// Logger receives warnings about unreadable records; nil: slog.Default().
	Logger *slog.Logger
	// Entropy is the random source of new codes; nil: crypto/rand.Reader.
	// Only tests set it.
	Entropy io.Reader
}

// New loads every code kept in st. A record that cannot be read, or a code
// whose batch is missing, is skipped with a warning: a damaged record must
// not keep the daemon from starting.
func New(st Store, cfg Config) *Book {
	b := &Book{
		store: st, log: cfg.Logger, entropy: cfg.Entropy,
		codes:   make(map[Code]*voucher),
		seated:  make(map[Code]struct{}),
		batches: make(map[uint64]*batch),
		guesses: guess.New(),
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	if b.entropy == nil {
		b.entropy = rand.Reader
	}
	batchRecs := st.Records(kindBatch)
	keys := slices.Collect(maps.Keys(batchRecs))
	// Oldest batch first, so that a code listed twice (which only a hand
	// edit makes) belongs to the batch it was first made in.
	slices.SortFunc(keys, func(x, y string) int { return cmp.Or(cmp.Compare(len(x), len(y)), cmp.Compare(x, y)) })
	for _, key := range keys {
		raw := batchRecs[key]
		// A batch number is never given again, even that of a batch
		// that cannot be read.
		if id, err := strconv.ParseUint(key, 10, 64); err == nil {
			b.nextBatch = max(b.nextBatch, id)
		}
		bt, codes, err := decodeBatch(key, raw)
		if err != nil {
			b.log.Warn("voucher: skipping a stored batch that cannot be read", "key", key, "err", err)
			continue
		}
		for _, k := range codes {
			c, err := parseKey(k)
			if err != nil {
				b.log.Warn("voucher: skipping a stored code that cannot be read", "key", k, "batch", bt.id, "err", err)
				continue
			}
			if _, dup := b.codes[c]; dup {
				b.log.Warn("voucher: skipping a code listed in two batches", "code", c, "batch", bt.id)
				continue
			}
			b.codes[c] = bt.unused
			bt.codes++
		}
		b.batches[bt.id] = bt
	}
	for key, raw := range st.Records(kindCode) {
		c, err := parseKey(key)
		if err != nil {
			b.log.Warn("voucher: skipping a stored code that cannot be read", "key", key, "err", err)
			continue
		}
		shared := b.codes[c]
		if shared == nil {
			b.log.Warn("voucher: skipping a stored code of no batch", "code", c)
			continue
		}
		v, err := decodeCode(raw, shared.batch)
		if err != nil {
			b.log.Warn("voucher: skipping a stored code that cannot be read; it counts as unused", "code", c, "err", err)
			continue
		}
		b.codes[c] = v
		if len(v.seats) > 0 {
			b.seated[c] = struct{}{}
		}
	}
	for id, bt := range b.batches {
		if bt.codes == 0 {
			delete(b.batches, id)
			st.Delete(kindBatch, strconv.FormatUint(id, 10))
		}
	}
	return b
}

// Len is the number of codes kept.
func (b *Book) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.codes)
}

// Create makes a batch of new codes with the batch's limits and returns them
// once they are on disk, in the order made.
func (b *Book) Create(ctx context.Context, req Batch, now time.Time) ([]View, error) {
	if err := req.validate(); err != nil {
		return nil, fmt.Errorf("voucher: create: %w", err)
	}
	b.mu.Lock()
	b.nextBatch++
	bt := &batch{id: b.nextBatch, created: now.Unix(), limits: req.Limits, note: req.Note}
	bt.unused = &voucher{batch: bt}
	codes := make([]Code, 0, req.Count)
	for range req.Count {
		c, err := b.newCodeLocked()
		if err != nil {
			// Nothing was stored yet: undo the codes of this batch.
			for _, c := range codes {
				delete(b.codes, c)
			}
			b.mu.Unlock()
			return nil, fmt.Errorf("voucher: create: %w", err)
		}
		b.codes[c] = bt.unused
		codes = append(codes, c)
	}
	bt.codes = len(codes)
	b.batches[bt.id] = bt
	// One record for the whole batch: it reaches the disk whole or not at
	// all, and an unused code costs its 13 bytes in it.
	b.putBatchLocked(bt, codes)
	views := make([]View, len(codes))
	for i, c := range codes {
		views[i] = b.viewLocked(c, bt.unused, now.Unix())
	}
	b.mu.Unlock()
	// Codes are handed to guests as soon as this returns: one that a crash
	// lost would be a printed code that never works.
	if err := b.store.Sync(ctx); err != nil {
		return nil, fmt.Errorf("voucher: save new codes: %w", err)
	}
	return views, nil
}

// maxDraws is how many codes newCodeLocked draws before it gives up. With
// 50 bits and even a million codes kept, one draw collides with odds of
// 1 in 10^9; a source that repeats itself this often is broken.
const maxDraws = 100

func (b *Book) newCodeLocked() (Code, error) {
	for range maxDraws {
		c, err := Generate(b.entropy)
		if err != nil {
			return 0, err
		}
		if _, taken := b.codes[c]; !taken {
			return c, nil
		}
	}
	return 0, fmt.Errorf("random source gave %d codes in a row that are already taken", maxDraws)
}

// Redeem signs mac in with the code the guest typed, if the code allows it
// at now. It returns a *Refusal for a refusal a person should read, another
// error when the sign-in could not be saved (nothing changed then). It
// returns after the seat is on disk.
func (b *Book) Redeem(ctx context.Context, input string, mac net.HardwareAddr, now time.Time) (Grant, error) {
	b.mu.Lock()
	if w := b.guesses.Wait(string(mac), now); w > 0 {
		b.mu.Unlock()
		return Grant{}, &Refusal{Reason: TooManyTries, Wait: w}
	}
	c, err := Parse(input)
	if err != nil {
		// Not counted as a guess: an input that is not a code can never
		// hit one, and the guest probably mistyped.
		b.mu.Unlock()
		return Grant{}, &Refusal{Reason: Malformed, Detail: err.Error()}
	}
	v := b.codes[c]
	if v == nil {
		w := b.guesses.Wrong(string(mac), now)
		b.mu.Unlock()
		return Grant{}, &Refusal{Reason: WrongCode, Wait: w}
	}
	sec := now.Unix()
	switch v.state(sec) {
	case Revoked:
		b.mu.Unlock()
		return Grant{}, &Refusal{Reason: IsRevoked}
	case UsedUp:
		b.mu.Unlock()
		return Grant{}, &Refusal{Reason: IsUsedUp}
	case Expired:
		b.mu.Unlock()
		return Grant{}, &Refusal{Reason: IsExpired}
	}
	oldFirst := v.firstUsed
	added := false
	if v.seat(mac) < 0 {
		if len(v.seats) >= v.batch.limits.Devices {
			n := v.batch.limits.Devices
			b.mu.Unlock()
			return Grant{}, &Refusal{Reason: DevicesInUse, Devices: n}
		}
		v = b.ownLocked(c, v)
		if v.firstUsed == 0 {
			v.firstUsed = sec
		}
		v.seats = append(v.seats, append(net.HardwareAddr(nil), mac...))
		b.seated[c] = struct{}{}
		b.putLocked(c, v)
		added = true
	}
	g := grantOf(c, v)
	b.mu.Unlock()

	// The guest is told it is signed in right after this: a crash must
	// not give the seat (or the code's unstarted clock) back.
	if err := b.store.Sync(ctx); err != nil {
		if added {
			b.mu.Lock()
			if i := v.seat(mac); i >= 0 {
				v.seats = slices.Delete(v.seats, i, i+1)
				if len(v.seats) == 0 {
					delete(b.seated, c)
				}
			}
			if oldFirst == 0 && len(v.seats) == 0 && v.used == 0 && !v.revoked && b.codes[c] == v {
				// Unused again: back to the batch's shared state.
				b.codes[c] = v.batch.unused
				b.store.Delete(kindCode, c.Key())
			} else {
				b.putLocked(c, v)
			}
			b.mu.Unlock()
		}
		return Grant{}, fmt.Errorf("voucher: save sign-in with %s: %w", c, err)
	}
	return g, nil
}

func grantOf(c Code, v *voucher) Grant {
	l := v.batch.limits
	g := Grant{Code: c, DownloadRate: l.DownloadRate, UploadRate: l.UploadRate}
	if e := v.ends(); e != 0 {
		g.End = time.Unix(e, 0)
	}
	if l.Quota > 0 {
		g.Quota = l.Quota - v.used
	}
	return g
}

// Release frees the seat that mac holds with c, when its session ended
// (idle timeout, sign-out, an operator, a block, …). A seat that is not
// held is ignored. The release reaches the disk with the next flush: if a
// crash loses it, Reconcile frees the seat at the next start.
func (b *Book) Release(c Code, mac net.HardwareAddr) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v := b.codes[c]
	if v == nil {
		return
	}
	i := v.seat(mac)
	if i < 0 {
		return
	}
	v.seats = slices.Delete(v.seats, i, i+1)
	if len(v.seats) == 0 {
		delete(b.seated, c)
	}
	b.putLocked(c, v)
}

// Reconcile frees every seat for which signedIn(code, mac) is false: for
// the start, after a crash may have lost a seat's release.
func (b *Book) Reconcile(signedIn func(Code, net.HardwareAddr) bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for c := range b.seated {
		v := b.codes[c]
		kept := slices.DeleteFunc(v.seats, func(m net.HardwareAddr) bool { return !signedIn(c, m) })
		if len(kept) == len(v.seats) {
			continue
		}
		v.seats = kept
		if len(kept) == 0 {
			v.seats = nil
			delete(b.seated, c)
		}
		b.putLocked(c, v)
	}
}

// Use adds n bytes (up and down) that a device of c forwarded to the code's
// shared count. If that uses the quota up, it returns the code's devices,
// to be signed out with reason quota, and frees their seats. Bytes of a
// code that has ended are still counted, since they were forwarded.
//
// The count is written lazily (no Sync): at most the store's flush interval
// of use is lost to a crash.
func (b *Book) Use(c Code, n uint64, now time.Time) []SignOut {
	if n == 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	v := b.codes[c]
	if v == nil {
		return nil
	}
	v = b.ownLocked(c, v)
	sec := now.Unix()
	st := v.state(sec)
	v.used = addSat(v.used, n)
	var out []SignOut
	if (st == Active || st == Unused) && v.usedUp() {
		v.ended = sec
		out = b.signOutLocked(c, v, QuotaUsed)
	}
	b.putLocked(c, v)
	return out
}

func addSat(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint64(0)
}

// signOutLocked frees every seat of c and says who must go.
func (b *Book) signOutLocked(c Code, v *voucher, why EndReason) []SignOut {
	if len(v.seats) == 0 {
		return nil
	}
	out := make([]SignOut, len(v.seats))
	for i, m := range v.seats {
		out[i] = SignOut{Code: c, MAC: m, Reason: why}
	}
	v.seats = nil
	delete(b.seated, c)
	return out
}

// Revoke ends c at once and returns its devices, to be signed out with
// reason revoked. It returns once the revocation is on disk. Revoking a
// revoked code does nothing.
func (b *Book) Revoke(ctx context.Context, c Code, now time.Time) ([]SignOut, error) {
	b.mu.Lock()
	v := b.codes[c]
	if v == nil {
		b.mu.Unlock()
		return nil, fmt.Errorf("voucher: revoke %s: %w", c, ErrUnknownCode)
	}
	if v.revoked {
		b.mu.Unlock()
		return nil, nil
	}
	v = b.ownLocked(c, v)
	v.revoked = true
	v.ended = now.Unix()
	out := b.signOutLocked(c, v, CodeRevoked)
	b.putLocked(c, v)
	b.mu.Unlock()
	if err := b.store.Sync(ctx); err != nil {
		// The revocation holds in memory and the store retries the
		// write; the operator learns it is not yet safe.
		return out, fmt.Errorf("voucher: save revocation of %s: %w", c, err)
	}
	return out, nil
}

// Expire frees the seats of codes whose time is over at now and returns
// their devices (reason timeout), and the next moment a code with seats
// ends (zero: none). Once an hour it also forgets codes that ended more
// than Retention ago, and the guessing limit's stale entries.
func (b *Book) Expire(now time.Time) (out []SignOut, next time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	sec := now.Unix()
	var nextSec int64
	for c := range b.seated {
		v := b.codes[c]
		if v.state(sec) == Expired {
			out = append(out, b.signOutLocked(c, v, TimeOver)...)
			b.putLocked(c, v)
			continue
		}
		if e := v.ends(); e != 0 && (nextSec == 0 || e < nextSec) {
			nextSec = e
		}
	}
	if sec-b.lastSweep >= int64(sweepEvery/time.Second) {
		b.lastSweep = sec
		b.forgetLocked(sec)
		b.guesses.Prune(now)
	}
	if nextSec != 0 {
		next = time.Unix(nextSec, 0)
	}
	return out, next
}

// forgetLocked deletes the codes that ended more than Retention ago, and
// batches left without codes; a batch that keeps some is written again
// with the rest.
func (b *Book) forgetLocked(now int64) {
	limit := now - int64(Retention/time.Second)
	changed := map[*batch]bool{}
	for c, v := range b.codes {
		if e := v.endedAt(now); e == 0 || e > limit || len(v.seats) > 0 {
			continue
		}
		delete(b.codes, c)
		if v != v.batch.unused {
			b.store.Delete(kindCode, c.Key())
		}
		changed[v.batch] = true
		if v.batch.codes--; v.batch.codes == 0 {
			delete(b.batches, v.batch.id)
			b.store.Delete(kindBatch, strconv.FormatUint(v.batch.id, 10))
		}
	}
	if len(changed) == 0 {
		return
	}
	rest := map[*batch][]Code{}
	for c, v := range b.codes {
		if changed[v.batch] {
			rest[v.batch] = append(rest[v.batch], c)
		}
	}
	for bt, codes := range rest {
		slices.Sort(codes)
		b.putBatchLocked(bt, codes)
	}
}

// List returns every code as it stands at now: the newest batch first, and
// by code within a batch.
func (b *Book) List(now time.Time) []View {
	b.mu.Lock()
	type entry struct {
		c Code
		v *voucher
	}
	all := make([]entry, 0, len(b.codes))
	for c, v := range b.codes {
		all = append(all, entry{c, v})
	}
	slices.SortFunc(all, func(x, y entry) int {
		if d := cmp.Compare(y.v.batch.id, x.v.batch.id); d != 0 {
			return d
		}
		return cmp.Compare(x.c, y.c)
	})
	out := make([]View, len(all))
	for i, e := range all {
		out[i] = b.viewLocked(e.c, e.v, now.Unix())
	}
	b.mu.Unlock()
	return out
}

// Show returns one code as it stands at now, with its devices.
func (b *Book) Show(c Code, now time.Time) (View, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v := b.codes[c]
	if v == nil {
		return View{}, fmt.Errorf("voucher: %s: %w", c, ErrUnknownCode)
	}
	return b.viewLocked(c, v, now.Unix()), nil
}
