package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Defaults and compaction thresholds.
const (
	// defaultFlushInterval bounds how long an un-synced change may stay in
	// memory only: short enough that a crash loses little, long enough
	// that a busy hotspot does not wear the flash with counter updates.
	defaultFlushInterval = 5 * time.Second

	// minCompactRecords and minCompactBytes keep a small store from
	// rewriting its snapshot every few changes; above them the journal may
	// grow to twice the live data, which bounds both replay time and the
	// amortised cost of snapshots.
	minCompactRecords = 1024
	minCompactBytes   = 4 << 20

	// errLogEvery limits repeated write-failure logs while the disk stays
	// broken, since every Sync would otherwise log its own copy.
	errLogEvery = time.Minute
)

// ErrClosed is returned by Put, and by Sync for changes that were not saved,
// once Close has been called.
var ErrClosed = errors.New("store: closed")

// Config tunes a Store. The zero value is ready to use.
type Config struct {
	// FlushInterval is how long a change that nobody Syncs may wait in
	// memory before it is written; batching such changes is what spares the
	// flash. 0 (or negative) means 5s.
	FlushInterval time.Duration
	// Logger receives warnings about corrupt files and write failures.
	// nil means slog.Default().
	Logger *slog.Logger

	// compactRecords replaces minCompactRecords when positive, so that tests
	// can exercise compaction with few records.
	compactRecords int
	// noSync skips fsync, for the fuzz test: it exercises how content is
	// read, not durability, and fsync would make it a hundred times slower.
	noSync bool
}

// recKey names one record.
type recKey struct{ kind, key string }

// change is a queued Put (value set) or Delete (del set).
type change struct {
	del   bool
	value json.RawMessage
}

// waiter is a Sync call waiting for the changes up to target to be durable.
type waiter struct {
	target uint64
	ch     chan error // buffered, so the writer never blocks on a caller that gave up
}

// Store holds the records in memory and keeps the state directory up to date
// with them. Create it with Open; all methods are safe for concurrent use.
type Store struct {
	dir            string
	interval       time.Duration
	log            *slog.Logger
	compactRecords int
	noSync         bool

	mu      sync.Mutex
	records recordSet         // current state, including queued changes
	pending map[recKey]change // changes not yet handed to the writer; last one per record
	queued  uint64            // number of changes made so far
	durable uint64            // changes up to this number are on disk
	waiters []waiter
	closed  bool // Close or abandon called: no new changes
	stopped bool // writer gone: nobody will answer waiters

	dirty     chan struct{} // pending went from empty to non-empty: start the lazy timer
	kick      chan struct{} // a Sync is waiting: write now
	quit      chan struct{} // Close: final write, then stop
	kill      chan struct{} // tests: stop without writing, as kill -9 would
	done      chan struct{} // writer has stopped
	closeOnce sync.Once
	closeErr  error

	// lockFile holds an exclusive flock on dir/lock for the store's life,
	// so that a second daemon on the same state_dir is refused at once
	// instead of compacting files under the first one.
	lockFile *os.File

	// Owned by the writer goroutine (and by Open before it starts).
	jf           *os.File  // journal, open for appending
	journalOK    bool      // appending to jf is safe: it follows the snapshot on disk and ends with a whole line
	gen          uint64    // last generation used; the next snapshot gets gen+1
	jRecords     int       // change lines in the journal
	jBytes       int64     // size of the journal
	snapBytes    int64     // size of the last snapshot written or read
	compactAfter time.Time // no compaction attempt before this, after one failed
	failing      bool      // the last write failed
	lastErrLog   time.Time

	// Test hooks.
	journalSyncs atomic.Int64          // fsyncs of appended journal batches
	compactions  atomic.Int64          // snapshots written
	injectErr    atomic.Pointer[error] // when set, every write fails with it
}

// Open loads the records kept in dir (creating it with mode 0700 if needed)
// and starts the writer goroutine, which Close stops.
//
// Damaged files are set aside with a warning (see the package comment) rather
// than reported, so that the daemon can always start; Open fails only when
// the directory itself cannot be used.
func Open(dir string, cfg Config) (*Store, error) {
	if dir == "" {
		return nil, errors.New("store: no state directory given")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create state directory: %w", err)
	}
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	s := &Store{
		dir:            dir,
		interval:       cfg.FlushInterval,
		log:            cfg.Logger,
		compactRecords: cfg.compactRecords,
		noSync:         cfg.noSync,
		records:        make(recordSet),
		pending:        make(map[recKey]change),
		dirty:          make(chan struct{}, 1),
		kick:           make(chan struct{}, 1),
		quit:           make(chan struct{}),
		kill:           make(chan struct{}),
		done:           make(chan struct{}),
	}
	if s.interval <= 0 {
		s.interval = defaultFlushInterval
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.compactRecords <= 0 {
		s.compactRecords = minCompactRecords
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s.lockFile = lock
	if err := s.load(); err != nil {
		if s.jf != nil {
			s.jf.Close()
		}
		lock.Close()
		return nil, err
	}
	go s.run()
	return s, nil
}

// Records returns a copy of the current records of one kind, key → JSON
// value, including changes not yet on disk. The copy is the caller's to
// modify.
func (s *Store) Records(kind string) map[string]json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.records[kind]
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	return out
}

// Put sets the record (kind, key) to v, marshalled with encoding/json now, so
// that later changes to v do not leak in. The change is in memory at once
// and on disk after the next Sync or within FlushInterval. kind and key must
// be valid UTF-8, because JSON cannot carry other bytes back unchanged.
func (s *Store) Put(kind, key string, v any) error {
	if !utf8.ValidString(kind) || !utf8.ValidString(key) {
		return fmt.Errorf("store: put %q/%q: kind and key must be valid UTF-8", kind, key)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: put %s/%s: %w", kind, key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	m := s.records[kind]
	if old, ok := m[key]; ok && bytes.Equal(old, b) {
		// Already the current value (on disk or queued): rewriting it
		// would only wear the flash.
		return nil
	}
	if m == nil {
		m = make(map[string]json.RawMessage)
		s.records[kind] = m
	}
	m[key] = b
	s.enqueueLocked(recKey{kind, key}, change{value: b})
	return nil
}

// Delete removes the record (kind, key); removing an absent record does
// nothing. Like Put, it reaches the disk after the next Sync or within
// FlushInterval. After Close it does nothing.
func (s *Store) Delete(kind, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	m := s.records[kind]
	if _, ok := m[key]; !ok {
		return
	}
	delete(m, key)
	if len(m) == 0 {
		delete(s.records, kind)
	}
	s.enqueueLocked(recKey{kind, key}, change{del: true})
}

func (s *Store) enqueueLocked(k recKey, c change) {
	first := len(s.pending) == 0
	s.pending[k] = c
	s.queued++
	if first {
		select {
		case s.dirty <- struct{}{}:
		default:
		}
	}
}

// Sync writes every change made so far and returns once they are fsynced. It
// returns early with ctx's error if ctx ends, with the write error if the
// write fails (the changes stay queued and are retried), and with ErrClosed
// if the store was closed before they could be saved. Concurrent Syncs share
// writes and fsyncs.
func (s *Store) Sync(ctx context.Context) error {
	s.mu.Lock()
	target := s.queued
	if s.durable >= target {
		s.mu.Unlock()
		return nil
	}
	if s.stopped {
		s.mu.Unlock()
		return ErrClosed
	}
	w := waiter{target: target, ch: make(chan error, 1)}
	s.waiters = append(s.waiters, w)
	s.mu.Unlock()

	select {
	case s.kick <- struct{}{}:
	default: // a write is already requested; it will include our changes
	}
	select {
	case err := <-w.ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes what is queued and a final snapshot, then stops the writer.
// It returns the error of that last write, if any; later calls return the
// same. Records still works after Close; Put returns ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.quit)
		<-s.done
	})
	return s.closeErr
}

// abandon stops the store without writing anything more, leaving the
// directory as kill -9 would. For tests.
func (s *Store) abandon() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.kill)
		<-s.done
		s.closeErr = ErrClosed
	})
}

// run is the writer goroutine: the only one that touches the files after
// Open, so that writes never interleave.
func (s *Store) run() {
	defer close(s.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	for {
		select {
		case <-s.kill:
			if s.jf != nil {
				s.jf.Close()
			}
			s.stop()
			return
		case <-s.quit:
			s.closeErr = s.finish()
			s.stop()
			return
		case <-s.dirty:
			if !armed {
				timer.Reset(s.interval)
				armed = true
			}
			continue
		case <-s.kick:
		case <-timer.C:
			armed = false
		}
		if armed {
			// This write takes everything queued, lazy changes too.
			timer.Stop()
			armed = false
		}
		if err := s.commit(); err != nil {
			// The changes are back in the queue; try again later even if
			// nobody calls Sync.
			timer.Reset(s.interval)
			armed = true
		}
	}
}

// stop answers the remaining waiters and marks the writer gone.
func (s *Store) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lockFile.Close() // releases the flock
	s.stopped = true
	for _, w := range s.waiters {
		if w.target <= s.durable {
			w.ch <- nil
		} else {
			w.ch <- ErrClosed
		}
	}
	s.waiters = nil
}

// finish is Close's last write.
func (s *Store) finish() error {
	defer func() {
		if s.jf != nil {
			s.jf.Close()
			s.jf = nil
		}
	}()
	s.mu.Lock()
	nothingNew := len(s.pending) == 0
	s.mu.Unlock()
	if nothingNew && s.journalOK && s.jRecords == 0 {
		// The snapshot on disk is already the final one; writing it
		// again would only wear the flash.
		return nil
	}
	err := s.compact()
	if err != nil && s.journalOK {
		// A snapshot needs room that an append may not: save the queued
		// changes in the journal so that they survive anyway.
		if aerr := s.appendPending(); aerr == nil {
			s.log.Warn("store: final snapshot failed; changes saved in the journal", "dir", s.dir, "err", err)
			return nil
		}
	}
	if err != nil {
		s.log.Error("store: final write failed; changes since the last write are lost", "dir", s.dir, "err", err)
	}
	return err
}

// commit writes everything queued, by appending to the journal or, when the
// journal cannot be trusted, by a full snapshot. On failure the waiters get
// the error and the changes stay queued.
func (s *Store) commit() error {
	var err error
	if s.journalOK {
		err = s.appendPending()
	} else {
		err = s.compact()
	}
	if err != nil {
		s.noteWriteErr(err)
		s.mu.Lock()
		s.failWaitersLocked(err)
		s.mu.Unlock()
		return err
	}
	s.noteWriteOK()
	if s.shouldCompact() {
		if err := s.compact(); err != nil {
			// The journal was fine a moment ago. Back off from
			// snapshots and let the next round append whatever this
			// attempt took from the queue (if the journal is still
			// usable) or report the error.
			s.noteWriteErr(err)
			s.compactAfter = time.Now().Add(s.interval)
			select {
			case s.kick <- struct{}{}:
			default:
			}
		}
	}
	return nil
}

// appendPending appends the queued changes to the journal in one write and
// one fsync.
func (s *Store) appendPending() error {
	s.mu.Lock()
	if len(s.pending) == 0 {
		s.mu.Unlock()
		return nil
	}
	batch := s.pending
	s.pending = make(map[recKey]change)
	target := s.queued
	s.mu.Unlock()

	var buf []byte
	enc := newLineEncoder()
	for k, c := range batch {
		rec := journalRec{Op: opPut, Kind: k.kind, Key: k.key, Value: c.value}
		if c.del {
			rec = journalRec{Op: opDelete, Kind: k.kind, Key: k.key}
		}
		var err error
		if buf, err = enc.appendLine(buf, &rec); err != nil {
			// Values were produced by json.Marshal or checked on load, so
			// this cannot happen; keep the batch anyway.
			s.requeue(batch)
			return fmt.Errorf("store: encode %s/%s: %w", k.kind, k.key, err)
		}
	}
	err := s.injected()
	if err == nil {
		_, err = s.jf.Write(buf)
	}
	if err == nil {
		s.journalSyncs.Add(1)
		err = s.fsync(s.jf)
	}
	if err != nil {
		// The journal may now end with part of a line, or with data the
		// kernel failed to write: only a fresh snapshot and journal can be
		// trusted from here.
		s.journalOK = false
		s.requeue(batch)
		return pathError("append to", filepath.Join(s.dir, journalName), err)
	}
	s.jRecords += len(batch)
	s.jBytes += int64(len(buf))
	s.mu.Lock()
	s.durable = target
	s.notifyLocked()
	s.mu.Unlock()
	return nil
}

// shouldCompact reports whether the journal has outgrown the live data.
func (s *Store) shouldCompact() bool {
	if time.Now().Before(s.compactAfter) {
		return false
	}
	s.mu.Lock()
	live := 0
	for _, m := range s.records {
		live += len(m)
	}
	s.mu.Unlock()
	return s.jRecords > max(s.compactRecords, 2*live) ||
		s.jBytes > max(minCompactBytes, 2*s.snapBytes)
}

// compact writes a snapshot of all records (queued changes included) and
// starts a new, empty journal for it.
func (s *Store) compact() error {
	s.mu.Lock()
	snap := make(recordSet, len(s.records))
	for kind, m := range s.records {
		snap[kind] = maps.Clone(m) // values are never modified in place, so sharing them is safe
	}
	batch := s.pending
	s.pending = make(map[recKey]change)
	target := s.queued
	s.mu.Unlock()

	if err := s.writeGeneration(snap); err != nil {
		s.requeue(batch)
		return err
	}
	s.compactions.Add(1)
	s.mu.Lock()
	s.durable = target
	s.notifyLocked()
	s.mu.Unlock()
	return nil
}

// writeGeneration replaces state.json with snap under a new generation, then
// replaces the journal with an empty one of the same generation. The order
// matters: until the new journal is in place, the old one is older than the
// snapshot on disk, and loading ignores it.
func (s *Store) writeGeneration(snap recordSet) error {
	s.gen++ // even if this attempt fails: the snapshot may have reached the disk
	gen := s.gen
	data, err := encodeSnapshot(gen, snap)
	if err != nil {
		return fmt.Errorf("store: encode snapshot: %w", err)
	}
	final := filepath.Join(s.dir, snapshotName)
	tmp := final + tmpSuffix
	if err := s.injected(); err != nil {
		return pathError("write", tmp, err)
	}
	if _, err := writeSynced(tmp, data, 0, false, !s.noSync); err != nil {
		return pathError("write", tmp, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return pathError("rename", tmp, err)
	}
	// The old journal now belongs to an older generation: whatever is
	// appended to it would be ignored on load.
	s.journalOK = false
	s.snapBytes = int64(len(data))
	if err := s.syncDir(); err != nil {
		return pathError("sync", s.dir, err)
	}

	header, err := newLineEncoder().appendLine(nil, &journalRec{Op: opBegin, Gen: gen})
	if err != nil {
		return fmt.Errorf("store: encode journal header: %w", err)
	}
	jpath := filepath.Join(s.dir, journalName)
	jtmp := jpath + tmpSuffix
	f, err := writeSynced(jtmp, header, os.O_APPEND, true, !s.noSync)
	if err != nil {
		return pathError("write", jtmp, err)
	}
	if err := os.Rename(jtmp, jpath); err != nil {
		f.Close()
		os.Remove(jtmp)
		return pathError("rename", jtmp, err)
	}
	if s.jf != nil {
		s.jf.Close()
	}
	s.jf = f // renaming does not change the open file
	if err := s.syncDir(); err != nil {
		return pathError("sync", s.dir, err)
	}
	s.journalOK = true
	s.jRecords = 0
	s.jBytes = int64(len(header))
	return nil
}

// requeue puts a batch that could not be written back in the queue, behind
// any newer change to the same record.
func (s *Store) requeue(batch map[recKey]change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, c := range batch {
		if _, newer := s.pending[k]; !newer {
			s.pending[k] = c
		}
	}
}

// notifyLocked wakes the waiters whose changes are durable.
func (s *Store) notifyLocked() {
	kept := s.waiters[:0]
	for _, w := range s.waiters {
		if w.target <= s.durable {
			w.ch <- nil
		} else {
			kept = append(kept, w)
		}
	}
	clear(s.waiters[len(kept):])
	s.waiters = kept
}

// failWaitersLocked hands err to every waiter not yet satisfied: while the
// disk is failing, a Sync should report it rather than hang.
func (s *Store) failWaitersLocked(err error) {
	for _, w := range s.waiters {
		if w.target <= s.durable {
			w.ch <- nil
		} else {
			w.ch <- err
		}
	}
	clear(s.waiters)
	s.waiters = s.waiters[:0]
}

// noteWriteErr logs a write failure, once a minute at most while it lasts.
func (s *Store) noteWriteErr(err error) {
	now := time.Now()
	if s.failing && now.Sub(s.lastErrLog) < errLogEvery {
		return
	}
	s.failing = true
	s.lastErrLog = now
	s.log.Error("store: write failed; changes are kept in memory and retried", "dir", s.dir, "err", err)
}

// noteWriteOK logs the end of a run of failures.
func (s *Store) noteWriteOK() {
	if s.failing {
		s.failing = false
		s.log.Info("store: writes work again", "dir", s.dir)
	}
}

// injected returns the error tests asked every write to fail with.
func (s *Store) injected() error {
	if p := s.injectErr.Load(); p != nil {
		return *p
	}
	return nil
}

// fsync makes f's contents durable.
func (s *Store) fsync(f *os.File) error {
	if s.noSync {
		return nil
	}
	return f.Sync()
}

// syncDir makes renames in the state directory durable.
func (s *Store) syncDir() error {
	if s.noSync {
		return nil
	}
	return syncDir(s.dir)
}
