// Package metrics writes samples in the Prometheus text exposition format
// (version 0.0.4): the format every scraper reads, written by hand in ~100
// lines because the client library would bring protobuf and ~470 KB of
// flash. Whoever has something to report calls an Emit for each sample;
// Write groups the samples by name under one HELP and one TYPE line each.
package metrics

import (
	"bufio"
	"io"
	"math"
	"strconv"
	"strings"
)

// Kind is a metric type of the exposition format.
type Kind uint8

const (
	// Gauge is a value that goes up and down: clients now, memory.
	Gauge Kind = iota
	// Counter only grows while the process lives (its name ends in
	// _total, by the format's convention); a scraper computes rates of it.
	Counter
	// Histogram is a family of samples named NAME_bucket (one per upper
	// bound, label le), NAME_sum and NAME_count; Latency emits them.
	Histogram
)

func (k Kind) String() string {
	switch k {
	case Counter:
		return "counter"
	case Histogram:
		return "histogram"
	}
	return "gauge"
}

// Label is one name="value" pair of a sample.
type Label struct{ Name, Value string }

// Emit records one sample. Samples of one name must have the same help
// and kind and distinct label sets.
type Emit func(name, help string, kind Kind, value float64, labels ...Label)

// ContentType is the Content-Type of the text format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

type sample struct {
	name   string
	labels []Label
	value  float64
}

type family struct {
	name, help string
	kind       Kind
	samples    []sample
}

// Write calls collect with an Emit and writes what it emitted to w, each
// name's samples together after its HELP and TYPE lines, in the order the
// names first came.
func Write(w io.Writer, collect func(Emit)) error {
	var order []*family
	byName := map[string]*family{}
	collect(func(name, help string, kind Kind, value float64, labels ...Label) {
		fname := name
		if kind == Histogram {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				fname = strings.TrimSuffix(fname, suffix)
			}
		}
		f := byName[fname]
		if f == nil {
			f = &family{name: fname, help: help, kind: kind}
			byName[fname] = f
			order = append(order, f)
		}
		f.samples = append(f.samples, sample{name, labels, value})
	})
	b := bufio.NewWriter(w)
	for _, f := range order {
		b.WriteString("# HELP " + f.name + " " + escapeHelp(f.help) + "\n")
		b.WriteString("# TYPE " + f.name + " " + f.kind.String() + "\n")
		for _, s := range f.samples {
			b.WriteString(s.name)
			if len(s.labels) > 0 {
				b.WriteByte('{')
				for i, l := range s.labels {
					if i > 0 {
						b.WriteByte(',')
					}
					b.WriteString(l.Name + `="` + escapeLabel(l.Value) + `"`)
				}
				b.WriteByte('}')
			}
			b.WriteByte(' ')
			b.WriteString(formatValue(s.value))
			b.WriteByte('\n')
		}
	}
	return b.Flush()
}

// The format escapes backslash and line feed in HELP text, and also the
// double quote in label values.
var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// formatValue writes a float as Go's ParseFloat reads it, with the
// format's spellings of the infinities and NaN.
func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
