// Command report gathers the figures that the area benchmarks of
// scripts/bench wrote (AREA.tsv and AREA.md in one directory, the contract
// is in scripts/bench/run.sh) into one markdown report, with PNG plots drawn
// by gnuplot.
//
//	go run ./scripts/bench/report -in build/bench -out docs/BENCHMARKS.md -plots docs/bench
//
// Every figure is the median of its runs, shown with their minimum and
// maximum; lobby's advantage over a peer is the median of the ratios of
// the runs (the subjects take turns in each run, so a run's two values
// were measured side by side), turned so that a number above 1 always
// means lobby did better.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// areas gives the order and title of the areas the report knows; an area
// it does not know comes after them under its own name.
var areas = []struct{ name, title string }{
	{"dhcp", "DHCP server"},
	{"dns", "DNS resolver"},
	{"firewall", "Firewall: sign-in and forwarding"},
	{"responder", "HTTP 511 responder"},
	{"daemon", "The daemon: size, start, memory, reload"},
	{"voucher", "Vouchers: sign-in and memory with 100,000 codes"},
	{"radius", "RADIUS: sign-in, accounting for 10,000 clients, a backlog"},
	{"shaper", "Shaper: rates, forwarding beside shaped clients, sign-in cost"},
}

const lobby = "lobby"

// A sample is one line of an area's tsv: one value of one run.
type sample struct {
	area, metric, unit, better, xname, x, subject string
	run                                           int
	value                                         float64
}

// A figure is every run of one metric for one x and one subject.
type figure struct {
	values []float64
	runs   []int // the run of each value
}

func (f *figure) median() float64 { return median(f.values) }

func median(values []float64) float64 {
	v := slices.Clone(values)
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func (f *figure) min() float64 { return slices.Min(f.values) }
func (f *figure) max() float64 { return slices.Max(f.values) }

// A metric of an area: its figures by x and subject, in the order the
// benchmark wrote them.
type metric struct {
	name, unit, better, xname string
	xs, subjects              []string
	figs                      map[[2]string]*figure // {x, subject}
}

// An area is one benchmark's metrics and its description.
type area struct {
	name, title string
	metrics     []*metric
	subjects    []string // lobby first, then the peers as they appear
	how         string
}

// parseTSV reads one area's samples; every line must have the nine fields
// of the contract.
func parseTSV(r io.Reader, file string) ([]sample, error) {
	var out []sample
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 9 {
			return nil, fmt.Errorf("%s:%d: %d fields, want 9", file, n, len(f))
		}
		run, err := strconv.Atoi(f[7])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: run %q: not a number", file, n, f[7])
		}
		v, err := strconv.ParseFloat(f[8], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%s:%d: value %q: not a number", file, n, f[8])
		}
		if f[3] != "higher" && f[3] != "lower" {
			return nil, fmt.Errorf("%s:%d: better %q: want higher or lower", file, n, f[3])
		}
		out = append(out, sample{f[0], f[1], f[2], f[3], f[4], f[5], f[6], run, v})
	}
	return out, sc.Err()
}

// gather groups samples into areas and metrics, keeping the order in which
// they first appear.
func gather(samples []sample) []*area {
	var list []*area
	byName := map[string]*area{}
	for _, s := range samples {
		a := byName[s.area]
		if a == nil {
			a = &area{name: s.area, title: s.area}
			byName[s.area] = a
			list = append(list, a)
		}
		var m *metric
		for _, c := range a.metrics {
			if c.name == s.metric {
				m = c
			}
		}
		if m == nil {
			m = &metric{name: s.metric, unit: s.unit, better: s.better, xname: s.xname, figs: map[[2]string]*figure{}}
			a.metrics = append(a.metrics, m)
		}
		if !slices.Contains(m.xs, s.x) {
			m.xs = append(m.xs, s.x)
		}
		if !slices.Contains(m.subjects, s.subject) {
			m.subjects = append(m.subjects, s.subject)
		}
		if !slices.Contains(a.subjects, s.subject) {
			a.subjects = append(a.subjects, s.subject)
		}
		k := [2]string{s.x, s.subject}
		if m.figs[k] == nil {
			m.figs[k] = &figure{}
		}
		m.figs[k].values = append(m.figs[k].values, s.value)
		m.figs[k].runs = append(m.figs[k].runs, s.run)
	}
	for _, a := range list {
		for _, m := range a.metrics {
			if !slices.ContainsFunc(m.xs, func(x string) bool { return !isNum(x) }) {
				slices.SortStableFunc(m.xs, func(a, b string) int { return cmpFloat(atof(a), atof(b)) })
			}
		}
		// lobby first: the table reads lobby, then each peer.
		if i := slices.Index(a.subjects, lobby); i > 0 {
			a.subjects = append([]string{lobby}, slices.Delete(a.subjects, i, i+1)...)
		}
	}
	// The known areas in their order, the others after them.
	slices.SortStableFunc(list, func(a, b *area) int { return rank(a.name) - rank(b.name) })
	for _, a := range list {
		for _, k := range areas {
			if k.name == a.name {
				a.title = k.title
			}
		}
	}
	return list
}

func rank(name string) int {
	for i, a := range areas {
		if a.name == name {
			return i
		}
	}
	return len(areas)
}

// num formats v with the decimals that suit ref: about three significant
// digits, none from 100 up.
func num(v, ref float64) string {
	a := math.Abs(ref)
	d := 3
	switch {
	case a >= 100:
		return group(strconv.FormatFloat(math.Round(v), 'f', 0, 64))
	case a >= 10:
		d = 1
	case a >= 1:
		d = 2
	}
	return strconv.FormatFloat(v, 'f', d, 64)
}

// group puts thousands separators into a whole number.
func group(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// cell shows a figure as "median (min–max)", or the median alone when every
// run gave the same value; whole numbers stay whole.
func cell(f *figure) string {
	if f == nil {
		return "–"
	}
	// The decimals suit the larger of the median and the maximum, so a
	// median of 0 with a stray run above it reads 0.00 (0.00–1.40).
	ref := math.Max(math.Abs(f.median()), math.Abs(f.max()))
	if !slices.ContainsFunc(f.values, func(v float64) bool { return v != math.Trunc(v) }) {
		ref = math.Max(math.Abs(ref), 100)
	}
	med, lo, hi := num(f.median(), ref), num(f.min(), ref), num(f.max(), ref)
	if lo == hi {
		return med
	}
	return fmt.Sprintf("%s (%s–%s)", med, lo, hi)
}

// advantage is lobby's value over the peer's, turned so that above 1 means
// lobby is better: the median of the runs' ratios when both have one value
// in each of the same runs, else the ratio of the medians; "" when either
// is missing or a zero makes it meaningless.
func advantage(better string, lobby, peer *figure) string {
	if lobby == nil || peer == nil {
		return ""
	}
	turn := func(l, p float64) float64 {
		if better == "lower" {
			return p / l
		}
		return l / p
	}
	r := turn(lobby.median(), peer.median())
	if byRun := peer.byRun(); byRun != nil && len(lobby.byRun()) == len(byRun) {
		var ratios []float64
		for i, run := range lobby.runs {
			p, ok := byRun[run]
			if !ok {
				ratios = nil
				break
			}
			ratios = append(ratios, turn(lobby.values[i], p))
		}
		if ratios != nil {
			r = median(ratios)
		}
	}
	if math.IsNaN(r) || math.IsInf(r, 0) || r == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", r)
}

// byRun maps each run to its value; nil when a run has several values.
func (f *figure) byRun() map[int]float64 {
	m := make(map[int]float64, len(f.runs))
	for i, run := range f.runs {
		if _, dup := m[run]; dup {
			return nil
		}
		m[run] = f.values[i]
	}
	return m
}

func label(m *metric) string {
	if m.unit == "" || m.unit == "-" {
		return m.name
	}
	return fmt.Sprintf("%s (%s)", m.name, m.unit)
}

// table writes one area's figures: a row per metric and x.
func table(w io.Writer, a *area) {
	peers := a.subjects[1:]
	if a.subjects[0] != lobby {
		peers = a.subjects
	}
	fmt.Fprint(w, "| figure | at |")
	for _, s := range a.subjects {
		fmt.Fprintf(w, " %s |", s)
	}
	for _, p := range peers {
		fmt.Fprintf(w, " lobby vs %s |", p)
	}
	fmt.Fprint(w, " runs |\n|---|---:|")
	fmt.Fprint(w, strings.Repeat("---:|", len(a.subjects)+len(peers)+1))
	fmt.Fprintln(w)
	for _, m := range a.metrics {
		for _, x := range m.xs {
			at := ""
			if x != "-" {
				at = fmt.Sprintf("%s %s", x, m.xname)
				if isNum(x) {
					at = group(x) + " " + m.xname
				}
			}
			fmt.Fprintf(w, "| %s | %s |", label(m), at)
			runs := 0
			for _, s := range a.subjects {
				f := m.figs[[2]string{x, s}]
				fmt.Fprintf(w, " %s |", cell(f))
				if f != nil && (runs == 0 || len(f.values) < runs) {
					runs = len(f.values)
				}
			}
			for _, p := range peers {
				fmt.Fprintf(w, " %s |", advantage(m.better, m.figs[[2]string{x, lobby}], m.figs[[2]string{x, p}]))
			}
			fmt.Fprintf(w, " %d |\n", runs)
		}
	}
}

func atof(s string) float64 {
	v, _ := strconv.ParseFloat(s, 64)
	return v
}

func isNum(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// plottable: a metric measured at three or more numeric x.
func plottable(m *metric) bool {
	if len(m.xs) < 3 {
		return false
	}
	for _, x := range m.xs {
		if !isNum(x) {
			return false
		}
	}
	return true
}

func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// gnuplotScript draws one metric: a line per subject through the medians,
// with the runs' minimum and maximum as error bars; a log x axis when x
// spans two orders of magnitude or more.
func gnuplotScript(m *metric, png string) string {
	var b strings.Builder
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range m.xs {
		lo, hi = math.Min(lo, atof(x)), math.Max(hi, atof(x))
	}
	fmt.Fprintf(&b, "set terminal pngcairo noenhanced size 800,480 font 'Sans,10'\nset output %q\n", png)
	fmt.Fprintf(&b, "set title %q\nset xlabel %q\nset ylabel %q\n", m.name, m.xname, m.unit)
	b.WriteString("set key top left\nset grid\nset yrange [0:*]\n")
	if lo > 0 && hi/lo >= 100 {
		b.WriteString("set logscale x\n")
	}
	var plots []string
	for i, s := range m.subjects {
		plots = append(plots, fmt.Sprintf("'-' using 1:2:3:4 with yerrorlines linewidth 2 pointtype %d title %q", 5+2*i, s))
	}
	b.WriteString("plot " + strings.Join(plots, ", \\\n     ") + "\n")
	for _, s := range m.subjects {
		for _, x := range m.xs {
			if f := m.figs[[2]string{x, s}]; f != nil {
				fmt.Fprintf(&b, "%s %g %g %g\n", x, f.median(), f.min(), f.max())
			}
		}
		b.WriteString("e\n")
	}
	return b.String()
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func plot(m *metric, png string) error {
	cmd := exec.Command("gnuplot")
	cmd.Stdin = strings.NewReader(gnuplotScript(m, png))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("gnuplot for %q: %v: %s", m.name, err, stderr.String())
	}
	return nil
}

func main() {
	in := flag.String("in", "build/bench", "directory of the areas' AREA.tsv and AREA.md, and machine.md")
	out := flag.String("out", "docs/BENCHMARKS.md", "the report")
	plots := flag.String("plots", "docs/bench", "directory for the PNG plots (relative links from the report)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("report: ")

	files, _ := filepath.Glob(filepath.Join(*in, "*.tsv"))
	if len(files) == 0 {
		log.Fatalf("no AREA.tsv in %s: run the benchmarks first (make bench)", *in)
	}
	var samples []sample
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			log.Fatal(err)
		}
		s, err := parseTSV(r, f)
		r.Close()
		if err != nil {
			log.Fatal(err)
		}
		samples = append(samples, s...)
	}
	list := gather(samples)
	if err := os.MkdirAll(*plots, 0o755); err != nil {
		log.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(*plots, "*.png"))
	for _, f := range old {
		os.Remove(f)
	}
	rel, err := filepath.Rel(filepath.Dir(*out), *plots)
	if err != nil {
		log.Fatal(err)
	}

	var b bytes.Buffer
	machine, err := os.ReadFile(filepath.Join(*in, "machine.md"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Fatal(err)
	}
	b.WriteString("# Benchmarks\n\n")
	b.WriteString("Generated by `make bench` (scripts/bench/run.sh). Do not edit: run it again.\n\n")
	b.Write(machine)
	b.WriteString(`
Every figure is the median of its runs, with the lowest and highest run in brackets.
"lobby vs PEER" is the median over the runs of the ratio of lobby's value to the peer's in
the same run (the subjects take turns within each run, so a run's two values were measured
side by side), turned so that above 1× means lobby did better (a higher rate, a lower
latency, less memory); where the runs do not pair up, the ratio of the two medians. This machine is shared and
noisy: the absolute figures move from one run of ` + "`make bench`" + ` to the next, and the
ratios measured side by side in one run are the figures that count.

`)
	for _, a := range list {
		fmt.Fprintf(&b, "- [%s](#%s)\n", a.title, slug(a.title))
	}
	for _, a := range list {
		fmt.Fprintf(&b, "\n## %s\n\n", a.title)
		table(&b, a)
		for _, m := range a.metrics {
			if !plottable(m) {
				continue
			}
			name := a.name + "-" + slug(m.name) + ".png"
			if err := plot(m, filepath.Join(*plots, name)); err != nil {
				log.Fatal(err)
			}
			fmt.Fprintf(&b, "\n![%s](%s)\n", label(m), filepath.ToSlash(filepath.Join(rel, name)))
		}
		how, err := os.ReadFile(filepath.Join(*in, a.name+".md"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			log.Fatal(err)
		}
		if len(how) > 0 {
			b.WriteString("\n### How it was measured\n\n")
			b.Write(bytes.TrimSpace(how))
			b.WriteString("\n")
		}
	}
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "report: wrote %s and %d plots in %s\n", *out, countPNG(*plots), *plots)
}

func countPNG(dir string) int {
	f, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	return len(f)
}
