package metrics

import (
	"strconv"
	"sync/atomic"
	"time"
)

// latencyBounds are the upper bounds of a Latency's buckets: few, so that
// a series costs little to keep and to scrape, spread over what a network
// request on a LAN or across the internet takes.
var latencyBounds = [...]time.Duration{
	5 * time.Millisecond, 25 * time.Millisecond, 100 * time.Millisecond,
	500 * time.Millisecond, time.Second, 3 * time.Second,
}

// Latency is a histogram of durations in fixed buckets. Observe takes no
// lock and allocates nothing, so it can sit on a request's path; the zero
// Latency is empty and ready.
type Latency struct {
	buckets [len(latencyBounds) + 1]atomic.Uint64 // the last: above every bound
	sum     atomic.Int64                          // nanoseconds
}

// Observe counts one duration.
func (l *Latency) Observe(d time.Duration) {
	i := 0
	for i < len(latencyBounds) && d > latencyBounds[i] {
		i++
	}
	l.buckets[i].Add(1)
	l.sum.Add(int64(d))
}

// Emit writes l as the histogram name in seconds: its cumulative
// NAME_bucket samples, NAME_sum and NAME_count, each with labels.
func (l *Latency) Emit(emit Emit, name, help string, labels ...Label) {
	var n uint64
	with := func(le string) []Label { return append(labels[:len(labels):len(labels)], Label{"le", le}) }
	for i, b := range latencyBounds {
		n += l.buckets[i].Load()
		emit(name+"_bucket", help, Histogram, float64(n), with(strconv.FormatFloat(b.Seconds(), 'g', -1, 64))...)
	}
	n += l.buckets[len(latencyBounds)].Load()
	emit(name+"_bucket", help, Histogram, float64(n), with("+Inf")...)
	emit(name+"_sum", help, Histogram, time.Duration(l.sum.Load()).Seconds(), labels...)
	emit(name+"_count", help, Histogram, float64(n), labels...)
}
