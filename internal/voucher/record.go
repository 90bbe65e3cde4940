package voucher

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// batchRecord is a batch in the store (kind "voucher-batch", key the batch
// number): its limits and its codes. Times are Unix seconds and durations
// seconds: shorter than RFC 3339 and exact, since the Book keeps seconds
// anyway. A code that is still unused has no other record: it costs its 13
// bytes ("ABCDEFGHJK",) here and nothing else.
type batchRecord struct {
	Created      int64    `json:"created"`
	Duration     int64    `json:"duration,omitempty"`
	Devices      int      `json:"devices"`
	DownloadRate uint64   `json:"download_rate,omitempty"`
	UploadRate   uint64   `json:"upload_rate,omitempty"`
	Quota        uint64   `json:"quota,omitempty"`
	Valid        int64    `json:"valid,omitempty"`
	Note         string   `json:"note,omitempty"`
	Codes        []string `json:"codes"` // Code.Key()
}

// codeRecord is the state of a code that has been redeemed, used or
// revoked (kind "voucher", key Code.Key()); its batch is the one that lists
// it.
type codeRecord struct {
	FirstUsed int64    `json:"first_used,omitempty"`
	Used      uint64   `json:"used,omitempty"`
	Ended     int64    `json:"ended,omitempty"`
	Revoked   bool     `json:"revoked,omitempty"`
	Devices   []string `json:"devices,omitempty"` // the MACs holding a seat
}

func (b *Book) putBatchLocked(bt *batch, codes []Code) {
	l := bt.limits
	r := batchRecord{
		Created: bt.created, Duration: int64(l.Duration / time.Second), Devices: l.Devices,
		DownloadRate: l.DownloadRate, UploadRate: l.UploadRate, Quota: l.Quota,
		Valid: int64(l.Valid / time.Second), Note: bt.note, Codes: make([]string, len(codes)),
	}
	for i, c := range codes {
		r.Codes[i] = c.Key()
	}
	if err := b.store.Put(kindBatch, strconv.FormatUint(bt.id, 10), r); err != nil {
		b.log.Error("voucher: cannot store batch", "batch", bt.id, "err", err)
	}
}

// putLocked queues c's record; whoever must not lose it calls Sync after.
func (b *Book) putLocked(c Code, v *voucher) {
	r := codeRecord{FirstUsed: v.firstUsed, Used: v.used, Ended: v.ended, Revoked: v.revoked}
	if len(v.seats) > 0 {
		r.Devices = make([]string, len(v.seats))
		for i, m := range v.seats {
			r.Devices[i] = m.String()
		}
	}
	if err := b.store.Put(kindCode, c.Key(), r); err != nil {
		b.log.Error("voucher: cannot store code", "code", c, "err", err)
	}
}

// decodeBatch reads a batch record; its codes are returned as stored, for
// the caller to parse one by one, so that one damaged code does not cost
// the batch.
func decodeBatch(key string, raw json.RawMessage) (*batch, []string, error) {
	id, err := strconv.ParseUint(key, 10, 64)
	if err != nil || id == 0 {
		return nil, nil, fmt.Errorf("batch number %q", key)
	}
	var r batchRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, nil, err
	}
	const maxSec = int64(1<<63-1) / int64(time.Second)
	if r.Devices < 1 || r.Duration < 0 || r.Valid < 0 || r.Duration > maxSec || r.Valid > maxSec {
		return nil, nil, errors.New("limits out of range")
	}
	bt := &batch{
		id: id, created: r.Created, note: r.Note,
		limits: Limits{
			Duration: time.Duration(r.Duration) * time.Second, Devices: r.Devices,
			DownloadRate: r.DownloadRate, UploadRate: r.UploadRate, Quota: r.Quota,
			Valid: time.Duration(r.Valid) * time.Second,
		},
	}
	bt.unused = &voucher{batch: bt}
	return bt, r.Codes, nil
}

// parseKey reads a code in its stored form (Code.Key) only.
func parseKey(k string) (Code, error) {
	c, err := Parse(k)
	if err != nil || c.Key() != k {
		return 0, errors.New("not a code in the stored form")
	}
	return c, nil
}

func decodeCode(raw json.RawMessage, bt *batch) (*voucher, error) {
	var r codeRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	v := &voucher{batch: bt, firstUsed: r.FirstUsed, used: r.Used, ended: r.Ended, revoked: r.Revoked}
	for _, s := range r.Devices {
		m, err := net.ParseMAC(s)
		if err != nil {
			return nil, fmt.Errorf("device: %w", err)
		}
		v.seats = append(v.seats, m)
	}
	return v, nil
}
