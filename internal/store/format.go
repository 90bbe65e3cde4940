package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
)

// File names inside the state directory.
const (
	snapshotName = "state.json"
	journalName  = "journal"
	tmpSuffix    = ".tmp"
	corruptInfix = ".corrupt-"
)

// snapshotFormat and snapshotVersion identify state.json, so that a file of
// another program, or of a future incompatible version, is set aside rather
// than misread.
const (
	snapshotFormat  = "lobby-state"
	snapshotVersion = 1
)

// Journal operations.
const (
	opBegin  = "begin"
	opPut    = "put"
	opDelete = "delete"
)

// castagnoli is CRC-32C: better error detection than IEEE for the same cost,
// and hardware-accelerated on the CPUs that have it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordSet is kind → key → value. Values are always compact JSON, so that
// writing them back and reading them again gives the same bytes.
type recordSet map[string]map[string]json.RawMessage

// journalRec is one journal line's JSON object.
type journalRec struct {
	Op    string          `json:"op"`
	Gen   uint64          `json:"gen,omitempty"`
	Kind  string          `json:"kind,omitempty"`
	Key   string          `json:"key,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

// lineEncoder turns journal records into self-checking lines. It reuses one
// buffer and encoder per batch, and it does not escape <, > and & (which
// json.Marshal would), so that a value is written with exactly the bytes it
// was read with.
type lineEncoder struct {
	scratch bytes.Buffer
	enc     *json.Encoder
}

func newLineEncoder() *lineEncoder {
	e := &lineEncoder{}
	e.enc = json.NewEncoder(&e.scratch)
	e.enc.SetEscapeHTML(false)
	return e
}

// appendLine appends rec to dst as "crc SP json LF".
func (e *lineEncoder) appendLine(dst []byte, rec *journalRec) ([]byte, error) {
	e.scratch.Reset()
	if err := e.enc.Encode(rec); err != nil {
		return dst, err
	}
	body := bytes.TrimSuffix(e.scratch.Bytes(), []byte{'\n'})
	dst = fmt.Appendf(dst, "%08x ", crc32.Checksum(body, castagnoli))
	dst = append(dst, body...)
	return append(dst, '\n'), nil
}

// journalScan is what parseJournal found in a journal file.
type journalScan struct {
	hasHeader bool   // the first line is a begin record
	gen       uint64 // its generation, if hasHeader
	ops       []journalRec
	good      int   // length of the prefix made of valid lines
	bad       error // why data[good:] was rejected; nil if the whole file is valid
}

// parseJournal reads lines until the first one that is incomplete or invalid.
// It stops there rather than skipping the line because the changes after a
// lost one could rest on it (a delete of a record whose put was lost, …);
// the records before it are a consistent prefix of history, the rest is not.
func parseJournal(data []byte) journalScan {
	var sc journalScan
	for first := true; sc.good < len(data); first = false {
		rest := data[sc.good:]
		n := bytes.IndexByte(rest, '\n')
		if n < 0 {
			sc.bad = errors.New("last record cut short (no newline)")
			return sc
		}
		rec, err := decodeLine(rest[:n])
		if err == nil && rec.Op == opBegin && !first {
			err = errors.New("begin record in the middle of the journal")
		}
		if err != nil {
			sc.bad = err
			return sc
		}
		if rec.Op == opBegin {
			sc.hasHeader, sc.gen = true, rec.Gen
		} else {
			sc.ops = append(sc.ops, rec)
		}
		sc.good += n + 1
	}
	return sc
}

// decodeLine checks and decodes one journal line (without its LF).
func decodeLine(line []byte) (journalRec, error) {
	var rec journalRec
	if len(line) < 10 || line[8] != ' ' {
		return rec, errors.New("malformed record")
	}
	want, err := strconv.ParseUint(string(line[:8]), 16, 32)
	if err != nil {
		return rec, errors.New("malformed checksum")
	}
	body := line[9:]
	if crc32.Checksum(body, castagnoli) != uint32(want) {
		return rec, errors.New("checksum mismatch")
	}
	if err := json.Unmarshal(body, &rec); err != nil {
		return rec, fmt.Errorf("bad JSON: %w", err)
	}
	switch rec.Op {
	case opBegin, opDelete:
		rec.Value = nil
	case opPut:
		if len(rec.Value) == 0 {
			return rec, errors.New("put without a value")
		}
		rec.Value = compactJSON(rec.Value)
	default:
		return rec, fmt.Errorf("unknown operation %q", rec.Op)
	}
	return rec, nil
}

// compactJSON returns v without insignificant white space, in a new slice.
// v must be valid JSON (it came out of the decoder).
func compactJSON(v json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return bytes.Clone(v)
	}
	return b.Bytes()
}

// snapshotFile is state.json. Records stays raw so that its checksum can be
// computed over the exact bytes on disk.
type snapshotFile struct {
	Format  string          `json:"format"`
	Version int             `json:"version"`
	Gen     uint64          `json:"gen"`
	CRC     *string         `json:"crc32c"`
	Records json.RawMessage `json:"records"`
}

// encodeSnapshot renders state.json. It is assembled by hand so that the
// checksum covers exactly the "records" bytes as they appear in the file.
func encodeSnapshot(gen uint64, recs recordSet) ([]byte, error) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(recs); err != nil {
		return nil, err
	}
	records := bytes.TrimSuffix(body.Bytes(), []byte{'\n'})
	out := make([]byte, 0, len(records)+128)
	out = fmt.Appendf(out, `{"format":%q,"version":%d,"gen":%d,"crc32c":"%08x","records":`,
		snapshotFormat, snapshotVersion, gen, crc32.Checksum(records, castagnoli))
	out = append(out, records...)
	return append(out, "}\n"...), nil
}

// decodeSnapshot parses and checks state.json.
func decodeSnapshot(data []byte) (gen uint64, recs recordSet, err error) {
	var f snapshotFile
	if err := json.Unmarshal(data, &f); err != nil {
		return 0, nil, fmt.Errorf("bad JSON: %w", err)
	}
	if f.Format != snapshotFormat || f.Version != snapshotVersion {
		return 0, nil, fmt.Errorf("not a %s version %d file (format %q, version %d)",
			snapshotFormat, snapshotVersion, f.Format, f.Version)
	}
	if len(f.Records) == 0 {
		return 0, nil, errors.New("no records")
	}
	if f.CRC != nil {
		want, err := strconv.ParseUint(*f.CRC, 16, 32)
		if err != nil || len(*f.CRC) != 8 {
			return 0, nil, fmt.Errorf("malformed crc32c %q", *f.CRC)
		}
		if got := crc32.Checksum(f.Records, castagnoli); got != uint32(want) {
			return 0, nil, fmt.Errorf("checksum mismatch (file says %08x, records hash to %08x)", want, got)
		}
	}
	var raw recordSet
	if err := json.Unmarshal(f.Records, &raw); err != nil {
		return 0, nil, fmt.Errorf("bad records: %w", err)
	}
	recs = make(recordSet, len(raw))
	for kind, m := range raw {
		if len(m) == 0 {
			continue
		}
		out := make(map[string]json.RawMessage, len(m))
		for key, v := range m {
			out[key] = compactJSON(v)
		}
		recs[kind] = out
	}
	return f.Gen, recs, nil
}
