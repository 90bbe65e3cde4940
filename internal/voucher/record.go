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
// number). Times are Unix seconds and durations seconds: shorter than RFC
// 3339 and exact, since the Book keeps seconds anyway.
type batchRecord struct {
	Created      int64  `json:"created"`
	Duration     int64  `json:"duration,omitempty"`
	Devices      int    `json:"devices"`
	DownloadRate uint64 `json:"download_rate,omitempty"`
	UploadRate   uint64 `json:"upload_rate,omitempty"`
	Quota        uint64 `json:"quota,omitempty"`
	Valid        int64  `json:"valid,omitempty"`
	Note         string `json:"note,omitempty"`
}

// codeRecord is a code in the store (kind "voucher", key Code.Key()). An
// unused code is {"batch":N}: about 25 bytes of snapshot per code.
type codeRecord struct {
	Batch     uint64   `json:"batch"`
	FirstUsed int64    `json:"first_used,omitempty"`
	Used      uint64   `json:"used,omitempty"`
	Ended     int64    `json:"ended,omitempty"`
	Revoked   bool     `json:"revoked,omitempty"`
	Devices   []string `json:"devices,omitempty"` // the MACs holding a seat
}

func (b *Book) putBatchLocked(bt *batch) {
	l := bt.limits
	r := batchRecord{
		Created: bt.created, Duration: int64(l.Duration / time.Second), Devices: l.Devices,
		DownloadRate: l.DownloadRate, UploadRate: l.UploadRate, Quota: l.Quota,
		Valid: int64(l.Valid / time.Second), Note: bt.note,
	}
	if err := b.store.Put(kindBatch, strconv.FormatUint(bt.id, 10), r); err != nil {
		b.log.Error("voucher: cannot store batch", "batch", bt.id, "err", err)
	}
}

// putLocked queues c's record; whoever must not lose it calls Sync after.
func (b *Book) putLocked(c Code, v *voucher) {
	r := codeRecord{Batch: v.batch.id, FirstUsed: v.firstUsed, Used: v.used, Ended: v.ended, Revoked: v.revoked}
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

func decodeBatch(key string, raw json.RawMessage) (*batch, error) {
	id, err := strconv.ParseUint(key, 10, 64)
	if err != nil || id == 0 {
		return nil, fmt.Errorf("batch number %q", key)
	}
	var r batchRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	const maxSec = int64(1<<63-1) / int64(time.Second)
	if r.Devices < 1 || r.Duration < 0 || r.Valid < 0 || r.Duration > maxSec || r.Valid > maxSec {
		return nil, errors.New("limits out of range")
	}
	return &batch{
		id: id, created: r.Created, note: r.Note,
		limits: Limits{
			Duration: time.Duration(r.Duration) * time.Second, Devices: r.Devices,
			DownloadRate: r.DownloadRate, UploadRate: r.UploadRate, Quota: r.Quota,
			Valid: time.Duration(r.Valid) * time.Second,
		},
	}, nil
}

func decodeCode(key string, raw json.RawMessage, batches map[uint64]*batch) (Code, *voucher, error) {
	c, err := Parse(key)
	if err != nil || c.Key() != key {
		return 0, nil, fmt.Errorf("key is not a code in the stored form")
	}
	var r codeRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return 0, nil, err
	}
	bt := batches[r.Batch]
	if bt == nil {
		return 0, nil, &orphanError{r.Batch}
	}
	v := &voucher{batch: bt, firstUsed: r.FirstUsed, used: r.Used, ended: r.Ended, revoked: r.Revoked}
	for _, s := range r.Devices {
		m, err := net.ParseMAC(s)
		if err != nil {
			return 0, nil, fmt.Errorf("device: %w", err)
		}
		v.seats = append(v.seats, m)
	}
	return c, v, nil
}

// orphanError is a code whose batch is missing or unreadable.
type orphanError struct{ batch uint64 }

func (e *orphanError) Error() string { return fmt.Sprintf("its batch %d is missing", e.batch) }
