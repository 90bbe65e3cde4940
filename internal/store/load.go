package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// load reads the snapshot and the journal into s.records, then leaves the
// directory in a state the writer can append to: either as it was, when it
// was already clean, or with a fresh snapshot and empty journal.
func (s *Store) load() error {
	// Temporary files are what a crash during a snapshot leaves behind;
	// they are incomplete by definition.
	for _, name := range []string{snapshotName + tmpSuffix, journalName + tmpSuffix} {
		if err := os.Remove(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("store: cannot remove leftover temporary file", "file", filepath.Join(s.dir, name), "err", err)
		}
	}

	snapGen, snapOK, err := s.loadSnapshot()
	if err != nil {
		return err
	}
	jr, err := s.loadJournal(snapGen, snapOK)
	if err != nil {
		return err
	}
	s.gen = max(snapGen, jr.gen)
	for _, base := range []string{snapshotName, journalName} {
		if err := pruneCorrupt(s.dir, base); err != nil {
			s.log.Warn("store: cannot remove old corrupt files", "dir", s.dir, "err", err)
		}
	}

	if snapOK && jr.clean && jr.records == 0 {
		// Nothing to fold into the snapshot: keep appending to the
		// journal instead of rewriting both files on every start.
		f, err := os.OpenFile(filepath.Join(s.dir, journalName), os.O_WRONLY|os.O_APPEND|syscall.O_NOFOLLOW, 0)
		if err == nil {
			s.jf = f
			s.journalOK = true
			s.jBytes = jr.size
			return nil
		}
		s.log.Warn("store: cannot open journal; writing a new one", "dir", s.dir, "err", err)
	}
	if err := s.compact(); err != nil {
		if isNoSpace(err) {
			// The records are loaded and the old files still hold them;
			// the writer retries once there is room, and the portal
			// keeps working meanwhile.
			s.noteWriteErr(err)
			return nil
		}
		return err
	}
	return nil
}

// loadSnapshot reads state.json into s.records. A missing file is an empty
// store; a damaged or unreadable one is set aside. It fails only when a
// damaged file cannot even be renamed, which means the directory is unusable.
func (s *Store) loadSnapshot() (gen uint64, ok bool, err error) {
	path := filepath.Join(s.dir, snapshotName)
	data, err := readRegular(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err == nil {
		var recs recordSet
		if gen, recs, err = decodeSnapshot(data); err == nil {
			s.records = recs
			s.snapBytes = int64(len(data))
			return gen, true, nil
		}
	}
	name, rerr := setAside(s.dir, snapshotName)
	if rerr != nil {
		return 0, false, fmt.Errorf("store: %s is unusable (%v) and cannot be set aside: %w", path, err, rerr)
	}
	s.log.Warn("store: state file is corrupt or unreadable; set aside, loading the journal alone",
		"file", path, "saved_as", filepath.Join(s.dir, name), "err", err)
	return 0, false, nil
}

// journalResult is what loadJournal found.
type journalResult struct {
	gen     uint64 // generation in the header (0 if none)
	clean   bool   // whole, and continues the loaded snapshot
	records int    // change records applied
	size    int64  // bytes of valid journal
}

// loadJournal applies the journal to s.records, unless it is older than the
// snapshot. A damaged tail is copied aside.
func (s *Store) loadJournal(snapGen uint64, snapOK bool) (journalResult, error) {
	path := filepath.Join(s.dir, journalName)
	data, err := readRegular(path)
	if errors.Is(err, os.ErrNotExist) {
		return journalResult{}, nil
	}
	if err != nil {
		name, rerr := setAside(s.dir, journalName)
		if rerr != nil {
			return journalResult{}, fmt.Errorf("store: %s is unreadable (%v) and cannot be set aside: %w", path, err, rerr)
		}
		s.log.Warn("store: journal is unreadable; set aside", "file", path, "saved_as", filepath.Join(s.dir, name), "err", err)
		return journalResult{}, nil
	}

	sc := parseJournal(data)
	res := journalResult{gen: sc.gen, size: int64(sc.good)}
	switch {
	case sc.hasHeader && sc.gen < snapGen:
		// A crash came between writing a snapshot and replacing the
		// journal. The snapshot already holds all of this journal and
		// more; replaying it would bring back older values.
		s.log.Info("store: journal predates the state file (interrupted compaction); ignored",
			"file", path, "journal_gen", sc.gen, "state_gen", snapGen)
		return res, nil
	case snapOK && (!sc.hasHeader || sc.gen > snapGen) && len(sc.ops) > 0:
		// Not something this package writes; apply it anyway, as the
		// best guess at the latest state.
		s.log.Warn("store: journal does not match the state file; applying it anyway",
			"file", path, "journal_gen", sc.gen, "state_gen", snapGen)
	}

	for _, op := range sc.ops {
		k := recKey{op.Kind, op.Key}
		m := s.records[k.kind]
		if op.Op == opDelete {
			delete(m, k.key)
			if len(m) == 0 {
				delete(s.records, k.kind)
			}
			continue
		}
		if m == nil {
			m = make(map[string]json.RawMessage)
			s.records[k.kind] = m
		}
		m[k.key] = op.Value
	}
	res.records = len(sc.ops)
	res.clean = sc.bad == nil && sc.hasHeader && sc.gen == snapGen

	if sc.bad != nil {
		tail := data[sc.good:]
		attrs := []any{"file", path, "offset", sc.good, "bytes", len(tail), "kept_records", len(sc.ops), "reason", sc.bad}
		if name, err := saveAside(s.dir, journalName, tail); err != nil {
			s.log.Warn("store: journal ends with a damaged record; the rest is dropped (could not save a copy)",
				append(attrs, "err", err)...)
		} else {
			s.log.Warn("store: journal ends with a damaged record; the rest is set aside",
				append(attrs, "saved_as", filepath.Join(s.dir, name))...)
		}
	}
	return res, nil
}
