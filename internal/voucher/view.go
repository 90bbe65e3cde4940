package voucher

import (
	"encoding/json"
	"net"
	"time"
)

// View is one code as ctl and the admin pages show it. It marshals to the
// object of SPEC §5's `voucher create|list|show --json`: `code`, the limits,
// `state`, `first_used`, `ends`, `bytes_used`, `devices`, and, beyond the
// SPEC, `created`, `note`, `valid_until`, `seconds_left` and `bytes_left`.
//
// The limit "devices at once" is `max_devices` in JSON, because SPEC §5 gives
// `devices` to the list of MACs.
type View struct {
	Code Code
	// Batch names the Create that made the code (not in JSON): the admin
	// pages print a batch's cards by it.
	Batch   uint64
	Created time.Time
	Note    string
	Limits  Limits
	State   State
	// ValidUntil is when the code expires if unused; zero: never.
	ValidUntil time.Time
	FirstUsed  time.Time // zero: unused
	Ends       time.Time // zero: not started, or no end
	BytesUsed  uint64
	// TimeLeft and BytesLeft are what the code has left; -1: no limit.
	// Both are 0 once the code has ended.
	TimeLeft  time.Duration
	BytesLeft int64
	Devices   []net.HardwareAddr // signed in with the code now
}

func (b *Book) viewLocked(c Code, v *voucher, now int64) View {
	l := v.batch.limits
	w := View{
		Code: c, Batch: v.batch.id, Created: time.Unix(v.batch.created, 0), Note: v.batch.note, Limits: l,
		State: v.state(now), BytesUsed: v.used, TimeLeft: -1, BytesLeft: -1,
	}
	if vu := v.validUntil(); vu != 0 {
		w.ValidUntil = time.Unix(vu, 0)
	}
	if v.firstUsed != 0 {
		w.FirstUsed = time.Unix(v.firstUsed, 0)
	}
	if e := v.ends(); e != 0 {
		w.Ends = time.Unix(e, 0)
	}
	switch {
	case w.State != Unused && w.State != Active:
		w.TimeLeft, w.BytesLeft = 0, 0
	default:
		if !w.Ends.IsZero() {
			w.TimeLeft = w.Ends.Sub(time.Unix(now, 0))
		} else if w.State == Unused && l.Duration > 0 {
			w.TimeLeft = l.Duration
		}
		if l.Quota > 0 {
			w.BytesLeft = int64(min(l.Quota-v.used, 1<<63-1))
		}
	}
	w.Devices = make([]net.HardwareAddr, len(v.seats))
	for i, m := range v.seats {
		w.Devices[i] = append(net.HardwareAddr(nil), m...)
	}
	return w
}

// JSON is View's JSON form, what `ctl voucher … --json` prints and its
// human form reads back. Times are RFC 3339 or null, durations whole
// seconds, rates bit/s and sizes bytes (0: none), as in `clients --json`.
type JSON struct {
	Code         Code       `json:"code"`
	Created      time.Time  `json:"created"`
	Note         string     `json:"note"`
	Duration     int64      `json:"duration"`
	MaxDevices   int        `json:"max_devices"`
	DownloadRate uint64     `json:"download_rate"`
	UploadRate   uint64     `json:"upload_rate"`
	Quota        uint64     `json:"quota"`
	ValidUntil   *time.Time `json:"valid_until"`
	State        State      `json:"state"`
	FirstUsed    *time.Time `json:"first_used"`
	Ends         *time.Time `json:"ends"`
	BytesUsed    uint64     `json:"bytes_used"`
	SecondsLeft  *int64     `json:"seconds_left"`
	BytesLeft    *int64     `json:"bytes_left"`
	Devices      []string   `json:"devices"`
}

// MarshalJSON writes the SPEC §5 object; see View.
func (w View) MarshalJSON() ([]byte, error) {
	j := JSON{
		Code: w.Code, Created: w.Created.UTC(), Note: w.Note,
		Duration: int64(w.Limits.Duration / time.Second), MaxDevices: w.Limits.Devices,
		DownloadRate: w.Limits.DownloadRate, UploadRate: w.Limits.UploadRate, Quota: w.Limits.Quota,
		ValidUntil: timeOrNull(w.ValidUntil), State: w.State,
		FirstUsed: timeOrNull(w.FirstUsed), Ends: timeOrNull(w.Ends), BytesUsed: w.BytesUsed,
		Devices: make([]string, len(w.Devices)),
	}
	if w.TimeLeft >= 0 {
		s := int64(w.TimeLeft / time.Second)
		j.SecondsLeft = &s
	}
	if w.BytesLeft >= 0 {
		j.BytesLeft = &w.BytesLeft
	}
	for i, m := range w.Devices {
		j.Devices[i] = m.String()
	}
	return json.Marshal(j)
}

func timeOrNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
