package voucher

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/store"
)

// nullStore marshals what it is given, as the real store does, and keeps
// nothing: for measuring the Book alone.
type nullStore struct{}

func (nullStore) Records(string) map[string]json.RawMessage { return nil }
func (nullStore) Put(_, _ string, v any) error {
	_, err := json.Marshal(v)
	return err
}
func (nullStore) Delete(string, string)      {}
func (nullStore) Sync(context.Context) error { return nil }

// fill makes n unused codes in batches of at most MaxCount.
func fill(b testing.TB, bk *Book, n int) []Code {
	b.Helper()
	var codes []Code
	for len(codes) < n {
		views, err := bk.Create(context.Background(), Batch{
			Count:  min(n-len(codes), MaxCount),
			Limits: Limits{Duration: 24 * time.Hour, Devices: 1, Quota: 1e9, Valid: 365 * 24 * time.Hour},
			Note:   "benchmark",
		}, t0)
		if err != nil {
			b.Fatal(err)
		}
		for _, v := range views {
			codes = append(codes, v.Code)
		}
	}
	return codes
}

func benchMAC(i int) net.HardwareAddr {
	return net.HardwareAddr{2, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
}

// BenchmarkRedeem is a sign-in with a code (and its release when the
// session ends) among 10 or 100,000 codes. "book" is the Book alone (its
// records marshalled, not written); "store" adds the real store in a
// temporary directory, whose fsync per sign-in is most of the time.
func BenchmarkRedeem(b *testing.B) {
	for _, n := range []int{10, 100_000} {
		for _, kind := range []string{"book", "store"} {
			b.Run(fmt.Sprintf("%s/codes=%d", kind, n), func(b *testing.B) {
				var st Store = nullStore{}
				if kind == "store" {
					st = openStore(b, b.TempDir(), 0)
				}
				bk := New(st, Config{Logger: quiet(), Entropy: seeded(4)})
				codes := fill(b, bk, n)
				ctx := context.Background()
				now := t0.Add(time.Hour)
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					c := codes[i%len(codes)]
					m := benchMAC(i)
					if _, err := bk.Redeem(ctx, c.String(), m, now); err != nil {
						b.Fatal(err)
					}
					bk.Release(c, m)
				}
			})
		}
	}
}

// BenchmarkUse is one counter update of a signed-in code (no Sync).
func BenchmarkUse(b *testing.B) {
	bk := New(nullStore{}, Config{Logger: quiet(), Entropy: seeded(5)})
	codes := fill(b, bk, 100_000)
	for i, c := range codes[:1000] {
		if _, err := bk.Redeem(context.Background(), c.String(), benchMAC(i), t0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		bk.Use(codes[i%1000], 1500, t0)
	}
}

func heapAfterGC() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkMemory100k reports the live heap that 100,000 codes cost: the
// Book alone, and the Book with the real store, which keeps every record
// in memory too. "active" gives 10 % of them a first use, a data count and
// a device.
func BenchmarkMemory100k(b *testing.B) {
	const n = 100_000
	for _, tc := range []struct {
		name   string
		store  bool
		active bool
	}{{"book/unused", false, false}, {"book/10pc-active", false, true}, {"book+store/unused", true, false}, {"book+store/10pc-active", true, true}} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				dir := b.TempDir()
				before := heapAfterGC()
				var st Store = nullStore{}
				var real *store.Store
				if tc.store {
					real = openStore(b, dir, time.Hour)
					st = real
				}
				bk := New(st, Config{Logger: quiet(), Entropy: seeded(6)})
				codes := fill(b, bk, n)
				if tc.active {
					for i := 0; i < n; i += 10 {
						if _, err := bk.Redeem(context.Background(), codes[i].String(), benchMAC(i), t0); err != nil {
							b.Fatal(err)
						}
						bk.Use(codes[i], 12345678, t0)
					}
				}
				if real != nil {
					real.Sync(context.Background())
				}
				after := heapAfterGC()
				b.ReportMetric(float64(after-before)/n, "heap-B/code")
				runtime.KeepAlive(bk)
				if real != nil {
					real.Close()
				}
			}
		})
	}
}

// BenchmarkStore100k measures the state directory with 100,000 codes (10 %
// of them in use): how long the store's compaction into one snapshot
// takes, how long a start (store.Open and New) takes, and the snapshot's
// size.
func BenchmarkStore100k(b *testing.B) {
	dir := b.TempDir()
	st, err := store.Open(dir, store.Config{FlushInterval: time.Hour, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	bk := New(st, Config{Logger: quiet(), Entropy: seeded(7)})
	codes := fill(b, bk, 100_000)
	for i := 0; i < len(codes); i += 10 {
		if _, err := bk.Redeem(context.Background(), codes[i].String(), benchMAC(i), t0); err != nil {
			b.Fatal(err)
		}
		bk.Use(codes[i], 12345678, t0)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "state.json"))
	if err != nil {
		b.Fatal(err)
	}

	b.Run("compact", func(b *testing.B) {
		for i := range b.N {
			b.StopTimer()
			st, err := store.Open(dir, store.Config{FlushInterval: time.Hour, Logger: quiet()})
			if err != nil {
				b.Fatal(err)
			}
			bk := New(st, Config{Logger: quiet()})
			bk.Use(codes[0], uint64(i+1), t0) // one change, so that Close writes a snapshot
			b.StartTimer()
			if err := st.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(fi.Size()), "snapshot-B")
		b.ReportMetric(float64(fi.Size())/float64(len(codes)), "snapshot-B/code")
	})
	b.Run("start", func(b *testing.B) {
		for range b.N {
			st, err := store.Open(dir, store.Config{FlushInterval: time.Hour, Logger: quiet()})
			if err != nil {
				b.Fatal(err)
			}
			bk := New(st, Config{Logger: quiet()})
			b.StopTimer()
			if bk.Len() != len(codes) {
				b.Fatalf("%d codes after start", bk.Len())
			}
			st.Close()
			b.StartTimer()
		}
	})
}
