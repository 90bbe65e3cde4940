package appliance

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime/metrics"
	"strings"
)

// memStatusFields are the lines of /proc/PID/status that say what a
// process holds resident: all of it, its anonymous part (heap, stacks:
// what only swap could take away), its file part (the binary's pages,
// which the kernel drops and reads again under pressure) and its shared
// memory part (where the binary's pages are counted when it runs from an
// initramfs, which is a tmpfs: they cannot be dropped there).
var memStatusFields = []string{"VmRSS", "RssAnon", "RssFile", "RssShmem"}

// memGoMetrics are the Go runtime's views of the anonymous part.
var memGoMetrics = []struct{ name, label string }{
	{"/gc/heap/live:bytes", "go_heap_live"},
	{"/memory/classes/heap/objects:bytes", "go_heap_objects"},
	{"/memory/classes/heap/unused:bytes", "go_heap_unused"},
	{"/memory/classes/heap/free:bytes", "go_heap_free"},
	{"/memory/classes/heap/released:bytes", "go_heap_released"},
	{"/memory/classes/heap/stacks:bytes", "go_stacks"},
	{"/memory/classes/metadata/other:bytes", "go_metadata"},
	{"/memory/classes/total:bytes", "go_mapped"},
	{"/gc/gomemlimit:bytes", "go_memlimit"},
	{"/sched/goroutines:goroutines", "goroutines"},
}

// memLine formats one line from a /proc/PID/status and Go runtime samples:
// "mem: VmRSS=5120 kB RssAnon=2048 kB … go_heap_live=1048576 …".
func memLine(status io.Reader, samples []metrics.Sample) string {
	var b strings.Builder
	b.WriteString("mem:")
	got := map[string]string{}
	s := bufio.NewScanner(status)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if ok {
			got[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	for _, k := range memStatusFields {
		if v, ok := got[k]; ok {
			fmt.Fprintf(&b, " %s=%s", k, strings.ReplaceAll(v, " ", "_"))
		}
	}
	for i, m := range memGoMetrics {
		if i < len(samples) && samples[i].Value.Kind() == metrics.KindUint64 {
			fmt.Fprintf(&b, " %s=%d", m.label, samples[i].Value.Uint64())
		}
	}
	return b.String()
}

// writeMem writes this process's memory line: PID 1 is lobby with every
// service in it.
func writeMem(out io.Writer) {
	samples := make([]metrics.Sample, len(memGoMetrics))
	for i, m := range memGoMetrics {
		samples[i].Name = m.name
	}
	metrics.Read(samples)
	f, err := os.Open("/proc/self/status")
	if err != nil {
		fmt.Fprintf(out, "mem: %v\n", err)
		return
	}
	defer f.Close()
	fmt.Fprintln(out, memLine(f, samples))
}
