package main

import (
	"strings"
	"testing"
)

func TestParseTSV(t *testing.T) {
	good := "dhcp\tDORA rate\t/s\thigher\t-\t-\tlobby\t1\t1749\n\n" +
		"dhcp\tDORA rate\t/s\thigher\t-\t-\tkea\t1\t1375.5\n"
	s, err := parseTSV(strings.NewReader(good), "dhcp.tsv")
	if err != nil || len(s) != 2 || s[1].value != 1375.5 || s[1].subject != "kea" {
		t.Fatalf("parseTSV = %+v, %v", s, err)
	}
	for _, bad := range []string{
		"dhcp\tDORA rate\t/s\thigher\t-\t-\tlobby\t1\n",         // 8 fields
		"dhcp\tDORA rate\t/s\thigher\t-\t-\tlobby\tone\t1749\n", // run
		"dhcp\tDORA rate\t/s\thigher\t-\t-\tlobby\t1\t1,749\n",  // value
		"dhcp\tDORA rate\t/s\thigher\t-\t-\tlobby\t1\tNaN\n",
		"dhcp\tDORA rate\t/s\tmore\t-\t-\tlobby\t1\t1749\n", // better
	} {
		if _, err := parseTSV(strings.NewReader(bad), "x.tsv"); err == nil || !strings.HasPrefix(err.Error(), "x.tsv:1: ") {
			t.Errorf("parseTSV(%q): err = %v, want x.tsv:1: …", bad, err)
		}
	}
}

func TestFigures(t *testing.T) {
	f := &figure{values: []float64{5, 1, 3, 9}}
	if f.median() != 4 || f.min() != 1 || f.max() != 9 {
		t.Errorf("median/min/max of %v = %v %v %v", f.values, f.median(), f.min(), f.max())
	}
	for _, tt := range []struct {
		better      string
		lobby, peer float64
		want        string
	}{
		{"higher", 3000, 1500, "2.00×"},
		{"higher", 1000, 4000, "0.25×"},
		{"lower", 5, 100, "20.00×"},
		{"lower", 0, 100, ""},
		{"higher", 10, 0, ""},
	} {
		got := advantage(tt.better, &figure{values: []float64{tt.lobby}}, &figure{values: []float64{tt.peer}})
		if got != tt.want {
			t.Errorf("advantage(%s, %v, %v) = %q, want %q", tt.better, tt.lobby, tt.peer, got, tt.want)
		}
	}
	// Runs measured side by side pair up: the median of their ratios.
	for _, tt := range []struct {
		name, better        string
		lobby, peer         []float64
		lobbyRuns, peerRuns []int
		want                string
	}{
		{"paired", "higher", []float64{10, 20, 30}, []float64{10, 40, 15}, []int{1, 2, 3}, []int{1, 2, 3}, "1.00×"},
		{"paired, any order", "higher", []float64{10, 20, 30}, []float64{15, 10, 40}, []int{1, 2, 3}, []int{3, 1, 2}, "1.00×"},
		{"paired, lower", "lower", []float64{2, 4}, []float64{4, 4}, []int{1, 2}, []int{1, 2}, "1.50×"},
		{"other runs", "higher", []float64{10, 20, 30}, []float64{10, 40, 15}, []int{1, 2, 3}, []int{1, 2, 4}, "1.33×"},
		{"fewer runs", "higher", []float64{10, 20, 30}, []float64{10, 40}, []int{1, 2, 3}, []int{1, 2}, "0.80×"},
		{"a run twice", "higher", []float64{10, 20, 30}, []float64{10, 40, 15}, []int{1, 2, 3}, []int{1, 1, 3}, "1.33×"},
	} {
		got := advantage(tt.better, &figure{values: tt.lobby, runs: tt.lobbyRuns}, &figure{values: tt.peer, runs: tt.peerRuns})
		if got != tt.want {
			t.Errorf("%s: advantage = %q, want %q", tt.name, got, tt.want)
		}
	}
	if advantage("higher", nil, f) != "" {
		t.Error("advantage without lobby's figure")
	}
	for v, want := range map[float64]string{2928588: "2,928,588", 41612.4: "41,612", 15.94: "15.9", 4.663: "4.66", 0.0224: "0.022", -1500: "-1,500"} {
		if got := num(v, v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
	if got := cell(&figure{values: []float64{7, 7}}); got != "7" {
		t.Errorf("cell of equal runs = %q", got)
	}
	if got := cell(&figure{values: []float64{7, 8, 12}}); got != "8 (7–12)" {
		t.Errorf("cell of equal runs = %q", got)
	}
	if got := cell(&figure{values: []float64{1.5, 2.5, 2}}); got != "2.00 (1.50–2.50)" {
		t.Errorf("cell = %q", got)
	}
}

func TestGatherAndTable(t *testing.T) {
	in := `firewall	sign-in latency	ms	lower	signed-in clients	10	opennds	1	100
firewall	sign-in latency	ms	lower	signed-in clients	10	lobby	1	4
firewall	sign-in latency	ms	lower	signed-in clients	10	lobby	2	6
firewall	sign-in latency	ms	lower	signed-in clients	10000	lobby	1	6
firewall	sign-in latency	ms	lower	signed-in clients	10000	opennds	1	200
firewall	sign-in latency	ms	lower	signed-in clients	1000	lobby	1	5
dhcp	DORA rate	/s	higher	-	-	lobby	1	2000
`
	s, err := parseTSV(strings.NewReader(in), "t.tsv")
	if err != nil {
		t.Fatal(err)
	}
	list := gather(s)
	if len(list) != 2 || list[0].name != "dhcp" || list[1].subjects[0] != lobby {
		t.Fatalf("gather: areas %v, subjects %v", list[0].name, list[1].subjects)
	}
	var b strings.Builder
	table(&b, list[1])
	want := "| sign-in latency (ms) | 10 signed-in clients | 5 (4–6) | 100 | 20.00× | 1 |\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("table:\n%s\nwant the row\n%s", b.String(), want)
	}
	if !strings.Contains(b.String(), "| 1,000 signed-in clients | 5 | – |  | 1 |\n| sign-in latency (ms) | 10,000") {
		t.Errorf("a missing peer figure: table:\n%s", b.String())
	}
	if !plottable(list[1].metrics[0]) || plottable(list[0].metrics[0]) {
		t.Error("plottable: want the 3-point sweep plotted and the single figure not")
	}
	script := gnuplotScript(list[1].metrics[0], "x.png")
	if !strings.Contains(script, "set logscale x") || !strings.Contains(script, "10000 6 6 6\ne\n") {
		t.Errorf("gnuplot script:\n%s", script)
	}
}
