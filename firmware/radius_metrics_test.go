package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lobby-fw/lobby/internal/metrics"
	"github.com/lobby-fw/lobby/internal/radius"
	"github.com/lobby-fw/lobby/internal/store/storetest"
)

// TestRADIUSCollect: the RADIUS series are on /metrics only while RADIUS
// is in use, every type with each of its outcomes from 0, and so is the
// Overview's RADIUS box.
func TestRADIUSCollect(t *testing.T) {
	c := radius.NewClient(radius.Config{})
	a := &aaa{client: c, das: radius.NewDAS(radius.DASConfig{}, nil), queue: radius.NewAccounting(c, &storetest.Mem{}, radius.AcctConfig{})}
	for _, on := range []bool{false, true} {
		a.inUse.Store(on)
		var b bytes.Buffer
		if err := metrics.Write(&b, a.collect); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		want := []string{
			`lobby_radius_requests_total{type="access",outcome="no_answer"} 0`,
			`lobby_radius_requests_total{type="accounting",outcome="ack"} 0`,
			`lobby_radius_requests_total{type="disconnect",outcome="discarded"} 0`,
			`lobby_radius_request_duration_seconds_bucket{type="coa",le="+Inf"} 0`,
			"# TYPE lobby_radius_request_duration_seconds histogram",
			"lobby_radius_accounting_waiting 0",
		}
		for _, w := range want {
			if strings.Contains(out, w) != on {
				t.Errorf("in use %v: %q shown %v:\n%s", on, w, !on, out)
			}
		}
		if (a.status() != nil) != on {
			t.Errorf("in use %v: status %+v", on, a.status())
		}
	}
}
