package metrics

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Parsed is one sample read back by parse.
type parsed struct {
	name, kind, help string
	labels           map[string]string
	value            float64
}

// parse reads the text exposition format strictly, as the format's
// documentation states it: every family's HELP then TYPE before its
// samples, its samples together, names and label names of the allowed
// characters, only \\, \" and \n escaped in label values, no label set
// twice, counters named *_total, a final line feed; a histogram's samples
// named NAME_bucket (with le, cumulative, ending at +Inf), NAME_sum and
// NAME_count (equal to the +Inf bucket).
func parse(text string) ([]parsed, error) {
	if !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("no line feed at the end")
	}
	var out []parsed
	seenType := map[string]string{}
	help := map[string]string{}
	done := map[string]bool{} // families whose samples have ended
	current := ""
	seenSets := map[string]bool{}
	// per histogram series (family and labels but le): the last bucket
	// seen and its bound, +Inf once it came.
	type series struct {
		le, n  float64
		closed bool
	}
	hist := map[string]*series{}
	for n, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		errf := func(f string, a ...any) error { return fmt.Errorf("line %d %q: %s", n+1, line, fmt.Sprintf(f, a...)) }
		if strings.HasPrefix(line, "# ") {
			f := strings.SplitN(line, " ", 4)
			if len(f) < 4 || (f[1] != "HELP" && f[1] != "TYPE") || !validName(f[2], true) {
				return nil, errf("bad comment")
			}
			name := f[2]
			if done[name] || name != current && current != "" && seenType[name] != "" {
				return nil, errf("family split")
			}
			if name != current {
				if current != "" {
					done[current] = true
				}
				current = name
			}
			switch f[1] {
			case "HELP":
				if _, dup := help[name]; dup || seenType[name] != "" {
					return nil, errf("HELP twice or after TYPE")
				}
				h, err := unescape(f[3], false)
				if err != nil {
					return nil, errf("%v", err)
				}
				help[name] = h
			case "TYPE":
				if seenType[name] != "" || (f[3] != "counter" && f[3] != "gauge" && f[3] != "histogram") {
					return nil, errf("TYPE twice or unknown")
				}
				if f[3] == "counter" && !strings.HasSuffix(name, "_total") {
					return nil, errf("counter not named _total")
				}
				seenType[name] = f[3]
			}
			continue
		}
		end := strings.IndexAny(line, "{ ")
		if end < 0 {
			return nil, errf("no value")
		}
		name := line[:end]
		family := name
		if seenType[current] == "histogram" {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if f, ok := strings.CutSuffix(name, suffix); ok && f == current {
					family = f
				}
			}
			if family == name {
				return nil, errf("histogram sample not named _bucket, _sum or _count")
			}
		}
		if family != current || seenType[family] == "" {
			return nil, errf("sample outside its family or before its TYPE")
		}
		rest := line[end:]
		labels := map[string]string{}
		if rest[0] == '{' {
			i := 1
			for rest[i] != '}' {
				eq := strings.IndexByte(rest[i:], '=')
				if eq < 0 || !validName(rest[i:i+eq], false) || rest[i+eq+1] != '"' {
					return nil, errf("bad label")
				}
				lname := rest[i : i+eq]
				i += eq + 2
				var v strings.Builder
				for ; rest[i] != '"'; i++ {
					if rest[i] == '\n' {
						return nil, errf("raw line feed")
					}
					if rest[i] == '\\' {
						i++
						switch rest[i] {
						case '\\', '"':
							v.WriteByte(rest[i])
						case 'n':
							v.WriteByte('\n')
						default:
							return nil, errf("bad escape")
						}
						continue
					}
					v.WriteByte(rest[i])
				}
				if _, dup := labels[lname]; dup {
					return nil, errf("label twice")
				}
				labels[lname] = v.String()
				i++
				if rest[i] == ',' {
					i++
				} else if rest[i] != '}' {
					return nil, errf("after a label")
				}
			}
			rest = rest[i+1:]
		}
		if !strings.HasPrefix(rest, " ") || strings.Contains(rest[1:], " ") {
			return nil, errf("value")
		}
		v, err := strconv.ParseFloat(rest[1:], 64)
		if err != nil {
			return nil, errf("value: %v", err)
		}
		set := name + fmt.Sprint(labels)
		if seenSets[set] {
			return nil, errf("label set twice")
		}
		seenSets[set] = true
		if family != name {
			rest := maps.Clone(labels)
			delete(rest, "le")
			h := hist[family+fmt.Sprint(rest)]
			if h == nil {
				h = &series{le: math.Inf(-1)}
				hist[family+fmt.Sprint(rest)] = h
			}
			switch strings.TrimPrefix(name, family) {
			case "_bucket":
				le, err := strconv.ParseFloat(labels["le"], 64)
				if err != nil || h.closed || le <= h.le || v < h.n {
					return nil, errf("bucket not after the last or without le")
				}
				h.le, h.n, h.closed = le, v, math.IsInf(le, 1)
			case "_count":
				if !h.closed || v != h.n {
					return nil, errf("count not the +Inf bucket")
				}
			}
		}
		out = append(out, parsed{name: name, kind: seenType[family], help: help[family], labels: labels, value: v})
	}
	return out, nil
}

func validName(s string, metric bool) bool {
	for i, c := range s {
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' || metric && c == ':'
		if !ok {
			return false
		}
	}
	return s != ""
}

func unescape(s string, quote bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch {
		case i < len(s) && s[i] == '\\':
			b.WriteByte('\\')
		case i < len(s) && s[i] == 'n':
			b.WriteByte('\n')
		case i < len(s) && quote && s[i] == '"':
			b.WriteByte('"')
		default:
			return "", fmt.Errorf("bad escape")
		}
	}
	return b.String(), nil
}

func TestWrite(t *testing.T) {
	var b bytes.Buffer
	err := Write(&b, func(emit Emit) {
		emit("lobby_clients", "Clients by state.", Gauge, 3, Label{"state", "preauth"})
		emit("lobby_dns_queries_total", "DNS queries by kind.\nSecond line with a \\.", Counter, 12345678901, Label{"kind", "hijacked"})
		emit("lobby_clients", "Clients by state.", Gauge, 0, Label{"state", "authenticated"})
		emit("odd", "Label values escaped.", Gauge, math.Inf(1), Label{"v", "a\"b\\c\nd"}, Label{"w", ""})
		emit("lobby_dns_queries_total", "DNS queries by kind.\nSecond line with a \\.", Counter, 0.5, Label{"kind", "refused"})
		emit("go_goroutines", "Goroutines.", Gauge, 17)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := parse(b.String())
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	want := []parsed{
		{"lobby_clients", "gauge", "Clients by state.", map[string]string{"state": "preauth"}, 3},
		{"lobby_clients", "gauge", "Clients by state.", map[string]string{"state": "authenticated"}, 0},
		{"lobby_dns_queries_total", "counter", "DNS queries by kind.\nSecond line with a \\.", map[string]string{"kind": "hijacked"}, 12345678901},
		{"lobby_dns_queries_total", "counter", "DNS queries by kind.\nSecond line with a \\.", map[string]string{"kind": "refused"}, 0.5},
		{"odd", "gauge", "Label values escaped.", map[string]string{"v": "a\"b\\c\nd", "w": ""}, math.Inf(1)},
		{"go_goroutines", "gauge", "Goroutines.", map[string]string{}, 17},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("read back\n%v\nwant\n%v\n%s", got, want, b.String())
	}
}

// A Latency is a histogram the strict parser reads, in seconds, with each
// duration in the first bucket whose bound is not below it.
func TestLatency(t *testing.T) {
	var l Latency
	for _, d := range []time.Duration{time.Millisecond, 5 * time.Millisecond, 30 * time.Millisecond, 2 * time.Second, time.Minute} {
		l.Observe(d)
	}
	var b bytes.Buffer
	if err := Write(&b, func(emit Emit) {
		l.Emit(emit, "lobby_x_duration_seconds", "Durations.", Label{"type", "access"})
		var empty Latency
		empty.Emit(emit, "lobby_x_duration_seconds", "Durations.", Label{"type", "coa"})
	}); err != nil {
		t.Fatal(err)
	}
	got, err := parse(b.String())
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	want := map[string]float64{
		`lobby_x_duration_seconds_bucket access 0.005`: 2, `lobby_x_duration_seconds_bucket access 0.025`: 2,
		`lobby_x_duration_seconds_bucket access 0.1`: 3, `lobby_x_duration_seconds_bucket access 0.5`: 3,
		`lobby_x_duration_seconds_bucket access 1`: 3, `lobby_x_duration_seconds_bucket access 3`: 4,
		`lobby_x_duration_seconds_bucket access +Inf`: 5, `lobby_x_duration_seconds_sum access `: 62.036,
		`lobby_x_duration_seconds_count access `: 5, `lobby_x_duration_seconds_count coa `: 0,
		`lobby_x_duration_seconds_bucket coa +Inf`: 0,
	}
	for _, p := range got {
		if p.kind != "histogram" {
			t.Errorf("%s: kind %s", p.name, p.kind)
		}
		k := p.name + " " + p.labels["type"] + " " + p.labels["le"]
		if w, ok := want[k]; ok && math.Abs(p.value-w) > 1e-9 {
			t.Errorf("%s = %v, want %v", k, p.value, w)
		}
		delete(want, k)
	}
	if len(want) > 0 {
		t.Errorf("missing %v\n%s", want, b.String())
	}
	if n := strings.Count(b.String(), "# TYPE"); n != 1 {
		t.Errorf("%d TYPE lines, want 1:\n%s", n, b.String())
	}
}

// The parser of the test refuses what it should, or it proves nothing.
func TestParseRefuses(t *testing.T) {
	for _, bad := range []string{
		"# TYPE a gauge\na 1", // no final line feed
		"a 1\n",               // no TYPE
		"# TYPE a_total counter\n# HELP a_total x\na 1\n", // HELP after TYPE
		"# TYPE a counter\na 1\n",                         // counter not _total
		"# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n",    // label set twice
		"# TYPE a gauge\na{x=\"\\t\"} 1\n",                // bad escape
		"# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n", // family split
		"# TYPE a gauge\na one\n",
		"# TYPE 1a gauge\n1a 1\n",
		"# TYPE h histogram\nh 1\n",                                           // bare sample
		"# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n", // not cumulative
		"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_bucket{le=\"1\"} 1\n", // bounds out of order
		"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n",               // no +Inf
		"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",   // count differs
	} {
		if _, err := parse(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
