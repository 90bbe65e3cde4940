package voucher

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/store"
)

// openStore opens a real store in dir; the test's end closes it.
func openStore(t testing.TB, dir string, flush time.Duration) *store.Store {
	t.Helper()
	st, err := store.Open(dir, store.Config{FlushInterval: flush, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// powerCut copies what is on disk in dir now into a new directory: the
// state a router comes back to if it loses power at this moment (every
// write of the store is fsynced, so the files are what the disk holds).
// The store in dir is left running, never closed before the copy.
func powerCut(t testing.TB, dir string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// No lazy flush during the test: what is on disk is exactly what was
	// synced, so the power cut below loses a known amount.
	st := openStore(t, dir, time.Hour)
	b := New(st, Config{Logger: quiet(), Entropy: seeded(2)})
	lim := Limits{Duration: time.Hour, Devices: 2, DownloadRate: 1e6, UploadRate: 2e5, Quota: 1e9, Valid: 24 * time.Hour}
	codes := create(t, b, 3, lim, t0)
	active, revoked, unused := codes[0], codes[1], codes[2]
	if _, err := b.Redeem(ctx, active.String(), macA, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Redeem(ctx, active.String(), macB, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Revoke(ctx, revoked, t0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Many counter updates, none synced by Use itself…
	for i := range 1000 {
		b.Use(active, 100, t0.Add(4*time.Minute+time.Duration(i)*time.Millisecond))
	}
	// …until the store's flush interval comes round (here: called by hand).
	if err := st.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for range 500 {
		b.Use(active, 100, t0.Add(5*time.Minute))
	}
	b.Release(active, macB) // lazy too

	check := func(t *testing.T, b *Book, wantUsed uint64, wantDevices int) {
		t.Helper()
		now := t0.Add(10 * time.Minute)
		v := show(t, b, active, now)
		if v.State != Active || !v.FirstUsed.Equal(t0.Add(time.Minute)) || !v.Ends.Equal(t0.Add(61*time.Minute)) ||
			v.BytesUsed != wantUsed || len(v.Devices) != wantDevices || v.Limits != lim || v.Note != "test" {
			t.Fatalf("active code after restart: %+v; want %d bytes used, %d devices", v, wantUsed, wantDevices)
		}
		if v.Devices[0].String() != macA.String() {
			t.Fatalf("devices %v", v.Devices)
		}
		if s := show(t, b, revoked, now).State; s != Revoked {
			t.Fatalf("revoked code after restart: %s", s)
		}
		if v := show(t, b, unused, now); v.State != Unused || !v.ValidUntil.Equal(t0.Add(24*time.Hour)) {
			t.Fatalf("unused code after restart: %+v", v)
		}
		// The seats survived: a third device finds none free.
		if wantDevices == 2 {
			refused(t, b, active.String(), macC, now, DevicesInUse)
		}
		refused(t, b, revoked.String(), macC, now, IsRevoked)
	}

	t.Run("power cut", func(t *testing.T) {
		// The bytes since the last flush and the lazy release are lost;
		// everything synced is there.
		st2 := openStore(t, powerCut(t, dir), time.Hour)
		check(t, New(st2, Config{Logger: quiet()}), 100_000, 2)
	})
	t.Run("clean stop", func(t *testing.T) {
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		st3 := openStore(t, dir, time.Hour)
		check(t, New(st3, Config{Logger: quiet()}), 150_000, 1)
	})
}

// TestKill9 runs a Book over a real store in a child process that redeems
// and uses a code until it is killed with SIGKILL, a few times over the same
// directory. Every use the child acknowledged (it is followed by a synced
// sign-in) must be there after the kill, and the code's clock and seat.
func TestKill9(t *testing.T) {
	if dir := os.Getenv("LOBBY_VOUCHER_KILL9_DIR"); dir != "" {
		kill9Child(dir)
		return
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	var lastAcked uint64
	var code Code
	for round, acks := range []int{50, 200, 20} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKill9$", "-test.count=1")
		cmd.Env = append(os.Environ(), "LOBBY_VOUCHER_KILL9_DIR="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			if errors.Is(err, syscall.ENOEXEC) {
				t.Skipf("cannot re-run the test binary (under qemu-user?): %v", err)
			}
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		n := 0
		for n < acks && sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || f[0] != "ack" {
				continue // test framework chatter
			}
			if err := code.UnmarshalText([]byte(f[1])); err != nil {
				t.Fatal(err)
			}
			used, err := strconv.ParseUint(f[2], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			if used < lastAcked {
				t.Fatalf("round %d: child acknowledged %d bytes used after %d", round, used, lastAcked)
			}
			lastAcked = used
			n++
		}
		cmd.Process.Kill()
		io.Copy(io.Discard, out)
		cmd.Wait()
		if n < acks {
			t.Fatalf("round %d: child stopped after %d acks; stderr:\n%s", round, n, stderr.String())
		}

		st, err := store.Open(dir, store.Config{Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		b := New(st, Config{Logger: quiet()})
		v, err := b.Show(code, time.Now())
		st.Close()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if v.BytesUsed < lastAcked || v.State != Active || v.FirstUsed.IsZero() {
			t.Fatalf("round %d: after kill -9 %+v; want at least the acknowledged %d bytes used", round, v, lastAcked)
		}
		if len(v.Devices) == 0 || v.Devices[0].String() != macA.String() {
			t.Fatalf("round %d: the first device lost its seat: %v", round, v.Devices)
		}
	}
}

// kill9Child uses one code until killed: Use after Use (lazy), and every
// 50 uses a synced sign-in of a second device, after which it prints what
// is then certainly on disk.
func kill9Child(dir string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	st, err := store.Open(dir, store.Config{FlushInterval: time.Millisecond, Logger: quiet()})
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	b := New(st, Config{Logger: quiet()})
	now := time.Now()
	var c Code
	if list := b.List(now); len(list) > 0 {
		c = list[0].Code
	} else {
		views, err := b.Create(ctx, Batch{Count: 1, Limits: Limits{Duration: 24 * time.Hour, Devices: 2}}, now)
		if err != nil {
			fail(err)
		}
		c = views[0].Code
	}
	if _, err := b.Redeem(ctx, c.String(), macA, now); err != nil {
		fail(err)
	}
	for i := 1; ; i++ {
		b.Use(c, 1000, time.Now())
		if i%50 != 0 {
			continue
		}
		v, _ := b.Show(c, time.Now())
		// The sync of this sign-in carries every use before it.
		if _, err := b.Redeem(ctx, c.String(), macB, time.Now()); err != nil {
			fail(err)
		}
		b.Release(c, macB)
		fmt.Printf("ack %s %d\n", c, v.BytesUsed)
	}
}

// TestRedeemIsDurable cuts the power the moment Redeem has returned: the
// seat and the started clock must be on disk, and the usage since the last
// write may not be.
func TestRedeemIsDurable(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir, time.Hour)
	b := New(st, Config{Logger: quiet(), Entropy: seeded(3)})
	c := create(t, b, 1, Limits{Duration: time.Hour, Devices: 1}, t0)[0]
	b.Use(c, 5, t0) // lazy; the sign-in's write takes it along
	if _, err := b.Redeem(context.Background(), c.String(), macA, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	b.Use(c, 7, t0.Add(2*time.Minute)) // lazy, after the last write: lost
	b2 := New(openStore(t, powerCut(t, dir), time.Hour), Config{Logger: quiet()})
	v := show(t, b2, c, t0.Add(3*time.Minute))
	if v.State != Active || !v.FirstUsed.Equal(t0.Add(time.Minute)) || len(v.Devices) != 1 || v.BytesUsed != 5 {
		t.Fatalf("after a power cut right after Redeem: %+v", v)
	}
}
