package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkPutSync measures durable writes under load: many goroutines (a
// DHCP server answering many clients) each Put a lease and Sync before
// answering. Group commit is what makes this scale; fsyncs/op shows how
// many changes share each fsync.
func BenchmarkPutSync(b *testing.B) {
	type lease struct {
		MAC     string `json:"mac"`
		IP      string `json:"ip"`
		Expires int64  `json:"expires"`
	}
	s := open(b, b.TempDir(), Config{Logger: discardLog()})
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(16) // 16 × GOMAXPROCS goroutines
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			mac := fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8&0xff, i&0xff)
			if err := s.Put("lease", mac, lease{mac, "10.1.2.3", time.Now().Unix() + i}); err != nil {
				b.Error(err)
				return
			}
			if err := s.Sync(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(s.journalSyncs.Load()+s.compactions.Load())/float64(b.N), "fsyncs/op")
}
