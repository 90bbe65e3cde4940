package voucher

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/guess"
)

var (
	macA = mac("02:00:00:00:00:0a")
	macB = mac("02:00:00:00:00:0b")
	macC = mac("02:00:00:00:00:0c")
)

// redeem signs mac in with c at now and fails the test on an error.
func redeem(t *testing.T, b *Book, c Code, m net.HardwareAddr, now time.Time) Grant {
	t.Helper()
	g, err := b.Redeem(context.Background(), c.String(), m, now)
	if err != nil {
		t.Fatalf("Redeem(%s, %s) at %s: %v", c, m, now.Format(time.TimeOnly), err)
	}
	return g
}

// refused checks that Redeem refuses with reason why and returns the refusal.
func refused(t *testing.T, b *Book, input string, m net.HardwareAddr, now time.Time, why Reason) *Refusal {
	t.Helper()
	g, err := b.Redeem(context.Background(), input, m, now)
	var r *Refusal
	if !errors.As(err, &r) {
		t.Fatalf("Redeem(%s, %s) = %+v, %v; want refusal %d", input, m, g, err, why)
	}
	if r.Reason != why {
		t.Fatalf("Redeem(%s, %s) refused with %d (%v), want %d", input, m, r.Reason, r, why)
	}
	if r.Error() == "" || strings.Contains(r.Error(), "%!") {
		t.Fatalf("refusal text %q", r.Error())
	}
	return r
}

func show(t *testing.T, b *Book, c Code, now time.Time) View {
	t.Helper()
	v, err := b.Show(c, now)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func macs(out []SignOut) []string {
	var s []string
	for _, o := range out {
		s = append(s, o.MAC.String()+" "+o.Reason.String())
	}
	slices.Sort(s)
	return s
}

func TestRedeemLifeCycle(t *testing.T) {
	st := newMemStore()
	b := newBook(t, st)
	lim := Limits{Duration: time.Hour, Devices: 2, DownloadRate: 2_000_000, UploadRate: 512_000, Quota: 1000, Valid: 24 * time.Hour}
	c := create(t, b, 1, lim, t0)[0]

	v := show(t, b, c, t0.Add(time.Minute))
	if v.State != Unused || !v.FirstUsed.IsZero() || !v.Ends.IsZero() || v.TimeLeft != time.Hour || v.BytesLeft != 1000 {
		t.Fatalf("new code: %+v", v)
	}
	if !v.ValidUntil.Equal(t0.Add(24 * time.Hour)) {
		t.Fatalf("valid until %s", v.ValidUntil)
	}

	// The first sign-in starts the clock; the grant carries the code's end.
	t1 := t0.Add(2 * time.Hour)
	syncs := st.syncCount()
	g := redeem(t, b, c, macA, t1)
	want := Grant{Code: c, End: t1.Add(time.Hour), DownloadRate: 2_000_000, UploadRate: 512_000, Quota: 1000}
	if g.End.Equal(want.End) {
		g.End = want.End
	}
	if g != want {
		t.Fatalf("grant %+v, want %+v", g, want)
	}
	if st.syncCount() == syncs {
		t.Fatal("Redeem returned without a Sync")
	}
	// Lower case, spaces, no dash: the same code.
	if _, err := b.Redeem(context.Background(), strings.ToLower(c.Key()[:5]+" "+c.Key()[5:]), macA, t1); err != nil {
		t.Fatalf("typed form: %v", err)
	}

	// The same device again takes no second seat; its end is the code's.
	g2 := redeem(t, b, c, macA, t1.Add(10*time.Minute))
	if !g2.End.Equal(want.End) {
		t.Fatalf("second sign-in of the device ends %s, want the code's %s", g2.End, want.End)
	}
	if d := show(t, b, c, t1).Devices; len(d) != 1 {
		t.Fatalf("devices %v after the same device twice", d)
	}

	redeem(t, b, c, macB, t1.Add(time.Minute))
	r := refused(t, b, c.String(), macC, t1.Add(time.Minute), DevicesInUse)
	if r.Devices != 2 || !strings.Contains(r.Error(), "2 devices") {
		t.Fatalf("refusal %+v: %s", r, r)
	}

	// A's session ends (idle): C takes the seat; A, coming back, finds none
	// until C goes.
	b.Release(c, macA)
	b.Release(c, macA) // twice: nothing more happens
	redeem(t, b, c, macC, t1.Add(2*time.Minute))
	refused(t, b, c.String(), macA, t1.Add(3*time.Minute), DevicesInUse)
	b.Release(c, macC)
	g3 := redeem(t, b, c, macA, t1.Add(4*time.Minute))
	if !g3.End.Equal(want.End) {
		t.Fatalf("comeback ends %s, want %s", g3.End, want.End)
	}

	// Data is shared: A's and B's bytes use one quota.
	if out := b.Use(c, 600, t1.Add(5*time.Minute)); out != nil {
		t.Fatalf("Use under the quota signed out %v", out)
	}
	v = show(t, b, c, t1.Add(5*time.Minute))
	if v.State != Active || v.BytesUsed != 600 || v.BytesLeft != 400 || v.TimeLeft != 55*time.Minute {
		t.Fatalf("active code: %+v", v)
	}
	if g := redeem(t, b, c, macB, t1.Add(5*time.Minute)); g.Quota != 400 {
		t.Fatalf("grant quota %d, want the 400 left", g.Quota)
	}
	out := b.Use(c, 400, t1.Add(6*time.Minute))
	if got := macs(out); !slices.Equal(got, []string{"02:00:00:00:00:0a quota", "02:00:00:00:00:0b quota"}) {
		t.Fatalf("used up: sign out %v", got)
	}
	if out := b.Use(c, 10, t1.Add(7*time.Minute)); out != nil {
		t.Fatalf("bytes after the quota signed out %v again", out)
	}
	v = show(t, b, c, t1.Add(7*time.Minute))
	if v.State != UsedUp || v.BytesUsed != 1010 || v.BytesLeft != 0 || v.TimeLeft != 0 || len(v.Devices) != 0 {
		t.Fatalf("used-up code: %+v", v)
	}
	refused(t, b, c.String(), macA, t1.Add(8*time.Minute), IsUsedUp)
}

func TestExpiry(t *testing.T) {
	b := newBook(t, newMemStore())
	lim := Limits{Duration: time.Hour, Devices: 3, Quota: 1 << 30, Valid: 47*time.Hour + 30*time.Minute}
	codes := create(t, b, 3, lim, t0)
	used, other, idle := codes[0], codes[1], codes[2]
	validEnd := t0.Add(lim.Valid)

	t1 := t0.Add(47 * time.Hour) // half an hour before the codes' validity ends
	redeem(t, b, used, macA, t1)
	redeem(t, b, used, macB, t1.Add(time.Minute))
	redeem(t, b, other, macC, t1.Add(20*time.Minute))

	out, next := b.Expire(t1.Add(59 * time.Minute))
	if out != nil || !next.Equal(t1.Add(time.Hour)) {
		t.Fatalf("Expire before the end: %v, next %s", out, next)
	}
	// Past validity: a started code still runs its duration…
	if s := show(t, b, used, validEnd.Add(time.Minute)).State; s != Active {
		t.Fatalf("started code past its validity: %s", s)
	}
	// …an unused one has expired.
	if s := show(t, b, idle, validEnd.Add(-time.Second)).State; s != Unused {
		t.Fatalf("unused code just before its validity ends: %s", s)
	}
	if s := show(t, b, idle, validEnd).State; s != Expired {
		t.Fatalf("unused code past its validity: %s", s)
	}
	refused(t, b, idle.String(), macA, validEnd, IsExpired)

	out, next = b.Expire(t1.Add(time.Hour))
	if got := macs(out); !slices.Equal(got, []string{"02:00:00:00:00:0a timeout", "02:00:00:00:00:0b timeout"}) {
		t.Fatalf("Expire at the end: %v", got)
	}
	if !next.Equal(t1.Add(80 * time.Minute)) {
		t.Fatalf("next %s, want the other code's end", next)
	}
	v := show(t, b, used, t1.Add(time.Hour))
	if v.State != Expired || len(v.Devices) != 0 || v.TimeLeft != 0 {
		t.Fatalf("expired code: %+v", v)
	}
	// A comeback after the end is refused.
	refused(t, b, used.String(), macA, t1.Add(time.Hour), IsExpired)
	// Bytes counted late are kept, but do not make it "used up".
	if out := b.Use(used, 1<<40, t1.Add(time.Hour)); out != nil {
		t.Fatalf("late bytes signed out %v", out)
	}
	if v := show(t, b, used, t1.Add(time.Hour)); v.State != Expired || v.BytesUsed != 1<<40 {
		t.Fatalf("expired code after late bytes: %+v", v)
	}
}

func TestNoLimits(t *testing.T) {
	b := newBook(t, newMemStore())
	c := create(t, b, 1, Limits{Devices: 1}, t0)[0]
	far := t0.AddDate(10, 0, 0)
	g := redeem(t, b, c, macA, far)
	if !g.End.IsZero() || g.Quota != 0 || g.DownloadRate != 0 {
		t.Fatalf("grant of a code without limits: %+v", g)
	}
	if out := b.Use(c, 1<<62, far); out != nil {
		t.Fatalf("Use without a quota signed out %v", out)
	}
	b.Use(c, ^uint64(0), far) // saturates rather than wrapping
	v := show(t, b, c, far.AddDate(10, 0, 0))
	if v.State != Active || v.TimeLeft != -1 || v.BytesLeft != -1 || v.BytesUsed != ^uint64(0) {
		t.Fatalf("code without limits: %+v", v)
	}
	if out, next := b.Expire(far.AddDate(10, 0, 0)); out != nil || !next.IsZero() {
		t.Fatalf("Expire: %v, %s", out, next)
	}
}

func TestRevoke(t *testing.T) {
	st := newMemStore()
	b := newBook(t, st)
	c := create(t, b, 2, Limits{Duration: time.Hour, Devices: 2}, t0)
	redeem(t, b, c[0], macA, t0)
	redeem(t, b, c[0], macB, t0)
	syncs := st.syncCount()
	out, err := b.Revoke(context.Background(), c[0], t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got := macs(out); !slices.Equal(got, []string{"02:00:00:00:00:0a revoked", "02:00:00:00:00:0b revoked"}) {
		t.Fatalf("revoke signs out %v", got)
	}
	if st.syncCount() == syncs {
		t.Fatal("Revoke returned without a Sync")
	}
	if out, err := b.Revoke(context.Background(), c[0], t0.Add(2*time.Minute)); out != nil || err != nil {
		t.Fatalf("second revoke: %v, %v", out, err)
	}
	refused(t, b, c[0].String(), macA, t0.Add(3*time.Minute), IsRevoked)
	if s := show(t, b, c[0], t0.Add(3*time.Minute)).State; s != Revoked {
		t.Fatalf("state %s", s)
	}
	// An unused code can be revoked too.
	if out, err := b.Revoke(context.Background(), c[1], t0); out != nil || err != nil {
		t.Fatalf("revoke unused: %v, %v", out, err)
	}
	refused(t, b, c[1].String(), macC, t0, IsRevoked)
	if _, err := b.Revoke(context.Background(), Code(12345), t0); !errors.Is(err, ErrUnknownCode) {
		t.Fatalf("revoke unknown: %v", err)
	}
}

func TestGuessingLimit(t *testing.T) {
	b := newBook(t, newMemStore())
	good := create(t, b, 1, Limits{Devices: 5}, t0)[0]
	wrong := func(i int) string { return Code(uint64(good) ^ uint64(i+1)).String() }

	now := t0
	for i := range guess.MaxWrong - 1 {
		r := refused(t, b, wrong(i), macA, now, WrongCode)
		if r.Wait != 0 {
			t.Fatalf("wrong code %d: wait %s", i+1, r.Wait)
		}
		now = now.Add(10 * time.Second)
	}
	// Input that is not a code is not a guess.
	refused(t, b, "hello", macA, now, Malformed)
	refused(t, b, "ABCDE-FGHJO", macA, now, Malformed)

	// The fifth within a minute (at +40 s) starts the wait, and says so.
	r := refused(t, b, wrong(4), macA, now, WrongCode)
	if r.Wait != time.Minute || !strings.Contains(r.Error(), "60 seconds") {
		t.Fatalf("fifth wrong code: %+v %q", r, r)
	}
	// Meanwhile even the right code waits, and the wait counts down.
	r = refused(t, b, good.String(), macA, now.Add(45*time.Second), TooManyTries)
	if r.Wait != 15*time.Second || !strings.Contains(r.Error(), "15 seconds") {
		t.Fatalf("while waiting: %+v %q", r, r)
	}
	// Another device is not held up.
	redeem(t, b, good, macB, now)
	// After the minute, the right code works.
	redeem(t, b, good, macA, now.Add(time.Minute))

	// Five wrong codes spread over more than a minute start no wait.
	now = now.Add(time.Hour)
	for i := range 2 * guess.MaxWrong {
		if r := refused(t, b, wrong(i), macC, now, WrongCode); r.Wait != 0 {
			t.Fatalf("slow guess %d: wait %s", i+1, r.Wait)
		}
		now = now.Add(16 * time.Second)
	}
}

func TestCreate(t *testing.T) {
	st := newMemStore()
	b := newBook(t, st)
	lim := SpecDefaults()
	views, err := b.Create(context.Background(), Batch{Count: 500, Limits: Limits(lim), Note: "Room 12"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[Code]bool{}
	for _, v := range views {
		if seen[v.Code] {
			t.Fatalf("code %s twice", v.Code)
		}
		seen[v.Code] = true
		if v.State != Unused || v.Note != "Room 12" || v.Limits != Limits(lim) || !v.Created.Equal(t0) {
			t.Fatalf("view %+v", v)
		}
	}
	if st.count(kindCode) != 0 || st.count(kindBatch) != 1 || st.syncCount() == 0 {
		t.Fatalf("stored %d codes, %d batches, %d syncs", st.count(kindCode), st.count(kindBatch), st.syncCount())
	}
	// A second batch never reuses a code.
	for _, c := range create(t, b, 500, Limits{Devices: 1}, t0) {
		if seen[c] {
			t.Fatalf("second batch reuses %s", c)
		}
	}
	if b.Len() != 1000 {
		t.Fatalf("Len %d", b.Len())
	}

	bad := []Batch{
		{Count: 0, Limits: Limits{Devices: 1}},
		{Count: MaxCount + 1, Limits: Limits{Devices: 1}},
		{Count: 1, Limits: Limits{Devices: 0}},
		{Count: 1, Limits: Limits{Devices: 1, Duration: -time.Second}},
		{Count: 1, Limits: Limits{Devices: 1}, Note: "two\nlines"},
		{Count: 1, Limits: Limits{Devices: 1}, Note: strings.Repeat("x", MaxNote+1)},
		{Count: 1, Limits: Limits{Devices: 1}, Note: "\xff"},
	}
	for _, req := range bad {
		if _, err := b.Create(context.Background(), req, t0); err == nil {
			t.Errorf("Create(%+v) succeeded", req)
		}
	}

	// A source that repeats itself is caught, and leaves nothing behind.
	rep := New(newMemStore(), Config{Logger: quiet(), Entropy: bytes.NewReader(bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 200))})
	if _, err := rep.Create(context.Background(), Batch{Count: 2, Limits: Limits{Devices: 1}}, t0); err == nil {
		t.Fatal("a repeating source made two codes")
	}
	if rep.Len() != 0 {
		t.Fatalf("failed Create left %d codes", rep.Len())
	}
}

func TestDefaultsBatch(t *testing.T) {
	d := SpecDefaults()
	b := d.Batch(3)
	b.Limits.Devices = 2
	if b.Count != 3 || b.Limits.Duration != 24*time.Hour || b.Limits.Valid != 365*24*time.Hour || b.Limits.Devices != 2 || d.Devices != 1 {
		t.Fatalf("batch %+v from %+v", b, d)
	}
}

func TestSyncFailure(t *testing.T) {
	st := newMemStore()
	b := newBook(t, st)
	c := create(t, b, 1, Limits{Duration: time.Hour, Devices: 1}, t0)[0]
	st.failErr = errors.New("disk full")
	_, err := b.Redeem(context.Background(), c.String(), macA, t0)
	var r *Refusal
	if err == nil || errors.As(err, &r) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Redeem with a failing disk: %v", err)
	}
	v := show(t, b, c, t0)
	if v.State != Unused || len(v.Devices) != 0 {
		t.Fatalf("failed sign-in left %+v", v)
	}
	st.failErr = nil
	// The seat was given back: another device may have it.
	redeem(t, b, c, macB, t0.Add(time.Hour/2))
	if got := show(t, b, c, t0).FirstUsed; !got.Equal(t0.Add(time.Hour / 2)) {
		t.Fatalf("first use %s", got)
	}
}

func TestReconcile(t *testing.T) {
	b := newBook(t, newMemStore())
	c := create(t, b, 1, Limits{Devices: 3}, t0)[0]
	for _, m := range []net.HardwareAddr{macA, macB, macC} {
		redeem(t, b, c, m, t0)
	}
	b.Reconcile(func(got Code, m net.HardwareAddr) bool {
		if got != c {
			t.Fatalf("asked about %s", got)
		}
		return m.String() == macB.String()
	})
	if d := show(t, b, c, t0).Devices; len(d) != 1 || d[0].String() != macB.String() {
		t.Fatalf("devices after Reconcile: %v", d)
	}
}

func TestRetention(t *testing.T) {
	st := newMemStore()
	b := newBook(t, st)
	old := create(t, b, 3, Limits{Devices: 1, Quota: 10, Valid: time.Hour}, t0)
	keep := create(t, b, 1, Limits{Devices: 1}, t0)[0]
	b.Use(old[0], 100, t0.Add(time.Minute)) // used up at +1m (it had no seat)
	// old[1] expires unused at +1h; old[2] is in use, with no end.
	redeem(t, b, old[2], macA, t0.Add(time.Minute))

	b.Expire(t0.Add(Retention)) // not yet
	if b.Len() != 4 {
		t.Fatalf("%d codes kept before retention ran out", b.Len())
	}
	b.Expire(t0.Add(Retention + 2*time.Hour))
	if b.Len() != 2 {
		t.Fatalf("%d codes kept after retention", b.Len())
	}
	// The store forgot them too: old[0]'s own record, and both from old's
	// batch record.
	if st.count(kindCode) != 1 || st.count(kindBatch) != 2 {
		t.Fatalf("store keeps %d codes, %d batches", st.count(kindCode), st.count(kindBatch))
	}
	b2 := newBook(t, st)
	if b2.Len() != 2 {
		t.Fatalf("%d codes after reload", b2.Len())
	}
	for _, c := range []Code{keep, old[2]} {
		if _, err := b2.Show(c, t0); err != nil {
			t.Fatal(err)
		}
	}
}

func TestViewJSON(t *testing.T) {
	b := newBook(t, newMemStore())
	lim := Limits{Duration: time.Hour, Devices: 2, DownloadRate: 2e6, UploadRate: 5e5, Quota: 3e8, Valid: 24 * time.Hour}
	c := create(t, b, 1, lim, t0)[0]
	redeem(t, b, c, macA, t0.Add(time.Minute))
	b.Use(c, 1000, t0.Add(2*time.Minute))
	raw, err := json.Marshal(show(t, b, c, t0.Add(31*time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"code":"` + c.String() + `","created":"2026-12-07T12:00:00Z","note":"test","duration":3600,` +
		`"max_devices":2,"download_rate":2000000,"upload_rate":500000,"quota":300000000,` +
		`"valid_until":"2026-12-08T12:00:00Z","state":"active","first_used":"2026-12-07T12:01:00Z",` +
		`"ends":"2026-12-07T13:01:00Z","bytes_used":1000,"seconds_left":1800,"bytes_left":299999000,` +
		`"devices":["02:00:00:00:00:0a"]}`
	if string(raw) != want {
		t.Fatalf("JSON\n got %s\nwant %s", raw, want)
	}

	// Unused, without limits: nulls, and an empty device list.
	u := create(t, b, 1, Limits{Devices: 1}, t0)[0]
	raw, _ = json.Marshal(show(t, b, u, t0))
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"valid_until", "first_used", "ends", "seconds_left", "bytes_left"} {
		if v, ok := m[k]; !ok || v != nil {
			t.Errorf("%s = %v, want null", k, v)
		}
	}
	if m["state"] != "unused" || m["devices"] == nil {
		t.Errorf("unused code JSON %s", raw)
	}
}

func TestList(t *testing.T) {
	b := newBook(t, newMemStore())
	first := create(t, b, 3, Limits{Devices: 1}, t0)
	second := create(t, b, 2, Limits{Devices: 1, Quota: 1}, t0.Add(time.Hour))
	b.Use(second[0], 5, t0.Add(2*time.Hour))
	list := b.List(t0.Add(2 * time.Hour))
	if len(list) != 5 {
		t.Fatalf("%d codes listed", len(list))
	}
	for i, v := range list {
		inSecond := slices.Contains(second, v.Code)
		if inSecond != (i < 2) {
			t.Fatalf("position %d: %s, want the newest batch first", i, v.Code)
		}
		if !inSecond && !slices.Contains(first, v.Code) {
			t.Fatalf("unknown code %s listed", v.Code)
		}
	}
	if list[0].Code > list[1].Code {
		t.Fatal("not ordered by code within a batch")
	}
	states := map[State]int{}
	for _, v := range list {
		states[v.State]++
	}
	if states[UsedUp] != 1 || states[Unused] != 4 {
		t.Fatalf("states %v", states)
	}
}

func TestCorruptRecords(t *testing.T) {
	st := newMemStore()
	b := newBook(t, st)
	codes := create(t, b, 2, Limits{Devices: 2}, t0)
	good, damaged := codes[0], codes[1]
	redeem(t, b, good, macA, t0)
	redeem(t, b, damaged, macA, t0)

	st.set(kindBatch, "x", `{"created":1,"devices":1,"codes":["ABCDEFGHJK"]}`)
	st.set(kindBatch, "7", `{"created":1,"devices":0,"codes":["ABCDEFGHJ2"]}`)
	st.set(kindBatch, "8", `not json`)
	st.set(kindBatch, "9", `{"created":1,"devices":1,"codes":["abcdefghjk","ABCDE-FGHJK","nonsense","ZZZZZZZZZZ","`+good.Key()+`"]}`)
	st.set(kindCode, damaged.Key(), `{"devices":["nonsense"]}`)
	st.set(kindCode, "not-a-code", `{}`)
	st.set(kindCode, "abcdefghjk", `{}`)
	st.set(kindCode, "2345678923", `{"first_used":5}`) // in no batch

	var lb logBuf
	b2 := New(st, Config{Logger: slog.New(slog.NewTextHandler(&lb, nil))})
	// The two codes of batch 1, and ZZZZZZZZZZ of batch 9.
	if b2.Len() != 3 {
		t.Fatalf("%d codes loaded, want 3", b2.Len())
	}
	if n := strings.Count(lb.String(), "level=WARN"); n != 11 {
		t.Fatalf("%d warnings, want 11:\n%s", n, lb.String())
	}
	v := show(t, b2, good, t0)
	if v.State != Active || len(v.Devices) != 1 || v.Limits.Devices != 2 {
		t.Fatalf("good code after reload: %+v", v)
	}
	// The code whose own record is damaged is kept, as unused.
	if v := show(t, b2, damaged, t0); v.State != Unused {
		t.Fatalf("code with a damaged record: %+v", v)
	}
	// A new batch takes a number no record names, not even a damaged one.
	create(t, b2, 1, Limits{Devices: 1}, t0)
	if b2.nextBatch != 10 {
		t.Fatalf("new batch number %d, want 10", b2.nextBatch)
	}
}

// TestUnusedShareState checks that codes sharing their batch's unused state
// get their own before any change: one code's sign-in, use or revocation
// must not touch its batch mates.
func TestUnusedShareState(t *testing.T) {
	st := newMemStore()
	b := newBook(t, st)
	codes := create(t, b, 4, Limits{Devices: 1, Quota: 100}, t0)
	if st.count(kindCode) != 0 || st.count(kindBatch) != 1 {
		t.Fatalf("unused codes stored as %d code and %d batch records", st.count(kindCode), st.count(kindBatch))
	}
	redeem(t, b, codes[0], macA, t0)
	b.Use(codes[1], 100, t0)
	if _, err := b.Revoke(context.Background(), codes[2], t0); err != nil {
		t.Fatal(err)
	}
	want := []State{Active, UsedUp, Revoked, Unused}
	for i, c := range codes {
		v := show(t, b, c, t0)
		if v.State != want[i] {
			t.Errorf("code %d: %s, want %s", i, v.State, want[i])
		}
		if i == 3 && (v.BytesUsed != 0 || len(v.Devices) != 0 || !v.FirstUsed.IsZero()) {
			t.Errorf("untouched code changed: %+v", v)
		}
	}
	if st.count(kindCode) != 3 {
		t.Fatalf("%d code records, want 3", st.count(kindCode))
	}
	// And all of it comes back from the records.
	b2 := newBook(t, st)
	for i, c := range codes {
		if s := show(t, b2, c, t0).State; s != want[i] {
			t.Errorf("reloaded code %d: %s, want %s", i, s, want[i])
		}
	}
}

// TestConcurrentRedeem has many devices race for a code's seats: exactly
// as many as it allows get in (run with -race).
func TestConcurrentRedeem(t *testing.T) {
	b := newBook(t, newMemStore())
	c := create(t, b, 1, Limits{Devices: 3, Quota: 1 << 20}, t0)[0]
	const n = 32
	errs := make(chan error, n)
	for i := range n {
		go func() {
			m := net.HardwareAddr{2, 0, 0, 0, 1, byte(i)}
			_, err := b.Redeem(context.Background(), c.String(), m, t0)
			b.Use(c, 10, t0)
			errs <- err
		}()
	}
	ok := 0
	for range n {
		err := <-errs
		var r *Refusal
		switch {
		case err == nil:
			ok++
		case errors.As(err, &r) && r.Reason == DevicesInUse:
		default:
			t.Fatalf("Redeem: %v", err)
		}
	}
	v := show(t, b, c, t0)
	if ok != 3 || len(v.Devices) != 3 || v.BytesUsed != 10*n {
		t.Fatalf("%d signed in, view %+v", ok, v)
	}
}

// A state's JSON name reads back as the state (ctl's human form decodes
// the daemon's JSON), and an unknown name is refused.
func TestStateText(t *testing.T) {
	for s := Unused; s <= Revoked; s++ {
		b, _ := s.MarshalText()
		var got State
		if err := got.UnmarshalText(b); err != nil || got != s {
			t.Errorf("%v: read back as %v, %v", s, got, err)
		}
	}
	var s State
	if err := s.UnmarshalText([]byte("spent")); err == nil {
		t.Error("an unknown state name was read")
	}
}
