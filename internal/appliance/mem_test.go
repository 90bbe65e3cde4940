package appliance

import (
	"runtime/metrics"
	"strings"
	"testing"
)

func TestMemLine(t *testing.T) {
	status := "Name:\tinit\nVmRSS:\t    7312 kB\nRssAnon:\t    3020 kB\nRssFile:\t    4292 kB\nRssShmem:\t       0 kB\n"
	samples := make([]metrics.Sample, len(memGoMetrics))
	for i, m := range memGoMetrics {
		samples[i].Name = m.name
	}
	metrics.Read(samples)
	got := memLine(strings.NewReader(status), samples)
	for _, want := range []string{"mem: VmRSS=7312_kB RssAnon=3020_kB RssFile=4292_kB RssShmem=0_kB ", " go_heap_live=", " go_stacks=", " goroutines="} {
		if !strings.Contains(got, want) {
			t.Errorf("memLine = %q, lacks %q", got, want)
		}
	}
	if strings.Contains(got, "Name") {
		t.Errorf("memLine = %q: a field it does not report", got)
	}
	if got := memLine(strings.NewReader(""), nil); got != "mem:" {
		t.Errorf("memLine of nothing = %q, want %q", got, "mem:")
	}
}
