package shaper

import (
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

var (
	macA = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a}
	macB = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x01, 0x0b}
)

// objects lists what lobby has in the kernel of the test's namespace, one
// line per object, from tc's view: qdiscs, classes and filters of lan0 and
// of its IFB, and whether the IFB exists.
func objects(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, dev := range []string{"lan0", ifbName("lan0")} {
		if _, err := netlink.LinkByName(dev); err != nil {
			continue
		}
		out = append(out, "link "+dev)
		for _, what := range []string{"qdisc", "class"} {
			for _, l := range lines(tc(t, what, "show", "dev", dev)) {
				// The kernel's own default qdiscs are not lobby's.
				if what == "qdisc" && regexp.MustCompile(`^qdisc (noqueue|pfifo_fast|mq|fq_codel) 0: root`).MatchString(l) {
					continue
				}
				out = append(out, dev+" "+strip(l))
			}
		}
		for _, m := range regexp.MustCompile(`qdisc (?:htb|ingress) ([0-9a-f]+:)`).FindAllStringSubmatch(tc(t, "qdisc", "show", "dev", dev), -1) {
			parent := m[1]
			for _, l := range lines(tc(t, "filter", "show", "dev", dev, "parent", parent)) {
				if strings.Contains(l, "filter") || strings.Contains(l, "mirred") {
					out = append(out, dev+" "+parent+" "+strip(l))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// strip keeps what the tests compare of a tc line: kind, handle, parent and
// rate, without counters, ids and tags that vary from run to run.
var noise = regexp.MustCompile(` (id|tag) [0-9a-f]+| (burst|cburst) \S+| refcnt \d+| r2q \d+| default \S+| direct_packets_stat \d+| direct_qlen \d+| ver \S+| quantum \d+| prio \d+ rate`)

func strip(l string) string {
	l = noise.ReplaceAllStringFunc(l, func(m string) string {
		if strings.HasSuffix(m, " rate") {
			return " rate"
		}
		return ""
	})
	l = regexp.MustCompile(`qdisc fq_codel [0-9a-f]+:`).ReplaceAllString(l, "qdisc fq_codel X:")
	if i := strings.Index(l, " limit "); i >= 0 && strings.Contains(l, "fq_codel") {
		l = l[:i] // fq_codel's parameters, where the kernel has it
	}
	return l
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

// TestKernel adds, changes and removes two clients' shaping on a veth in a
// fresh namespace and compares what tc shows after each step.
func TestKernel(t *testing.T) {
	ns := inNetNS(t)
	addVeth(t)
	s := newShaper(Config{Interface: "lan0"}, quietLog(), options{netns: ns})
	stop := running(t, s)

	want := func(step string, exp ...string) {
		t.Helper()
		got := objects(t)
		sort.Strings(exp)
		exp = append([]string{"link lan0"}, exp...)
		sort.Strings(exp)
		if !equal(got, exp) {
			t.Fatalf("%s:\ngot\n  %s\nwant\n  %s", step, strings.Join(got, "\n  "), strings.Join(exp, "\n  "))
		}
	}
	want("no client has a rate: nothing")

	// root and class are what a shaped direction holds on dev.
	filter := func(dev, parent, prog string) []string {
		return []string{
			dev + " " + parent + " filter protocol all pref 1 bpf chain 0",
			dev + " " + parent + " filter protocol all pref 1 bpf chain 0 handle 0x1 " + prog + " not_in_hw name " + prog + " jited",
		}
	}
	root := func(dev, way string) []string {
		return append([]string{dev + " qdisc htb 10bb: root"}, filter(dev, "10bb:", "lobby_root_"+way)...)
	}
	// group is the first group (minors 1 to 64).
	group := func(dev, way string) []string {
		return append([]string{
			dev + " class htb 10bb:1 root leaf 1100: rate 34359Mbit ceil 34359Mbit",
			dev + " qdisc htb 1100: parent 10bb:1",
		}, filter(dev, "1100:", "lobby_"+way)...)
	}
	// class is a client's class with minor n; rate as tc shows it: the
	// client's rate of payload in frames (wireRate), 8 Mbit/s is 8364Kbit.
	class := func(dev, way string, n int, rate string) []string {
		grp := "1100:"
		c := []string{fmt.Sprintf("%s class htb %s%x root rate %s ceil %s", dev, grp, n, rate, rate)}
		if s.k.fqCodel != nil && *s.k.fqCodel {
			c = append(c, fmt.Sprintf("%s qdisc fq_codel X: parent %s%x", dev, grp, n)) // where the kernel has it
		}
		return c
	}
	ifb := ifbName("lan0")
	gate := []string{
		"link " + ifb,
		"lan0 qdisc ingress ffff: parent ffff:fff1 ----------------",
		"lan0 ffff: filter parent ffff:fff1 protocol all pref 4283 bpf chain 0",
		"lan0 ffff: filter parent ffff:fff1 protocol all pref 4283 bpf chain 0 handle 0x1 lobby_gate direct-action not_in_hw name lobby_gate jited",
		"lan0 ffff: filter parent ffff:fff1 protocol all pref 4284 u32 chain 0",
		"lan0 ffff: filter parent ffff:fff1 protocol all pref 4284 u32 chain 0 fh 800: ht divisor 1",
		"lan0 ffff: filter parent ffff:fff1 protocol all pref 4284 u32 chain 0 fh 800::800 order 2048 key ht 800 bkt 0 terminal flowid not_in_hw",
		"lan0 ffff: action order 1: mirred (Egress Redirect to device " + ifb + ") stolen",
	}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	set := func(mac net.HardwareAddr, down, up uint64) {
		t.Helper()
		if err := s.Set(mac, down, up); err != nil {
			t.Fatalf("Set(%v, %d, %d): %v", mac, down, up, err)
		}
	}

	set(macA, 8_000_000, 0)
	want("A shaped down", cat(root("lan0", "down"), group("lan0", "down"), class("lan0", "down", 1, "8364Kbit"))...)

	set(macA, 8_000_000, 2_000_000)
	both := cat(root("lan0", "down"), group("lan0", "down"), root(ifb, "up"), group(ifb, "up"), gate)
	want("A shaped both ways", cat(both, class("lan0", "down", 1, "8364Kbit"), class(ifb, "up", 1, "2091Kbit"))...)

	set(macA, 4_000_000, 2_000_000)
	want("A's download rate changed", cat(both, class("lan0", "down", 1, "4182Kbit"), class(ifb, "up", 1, "2091Kbit"))...)

	set(macB, 0, 1_000_000)
	want("B shaped up", cat(both, class("lan0", "down", 1, "4182Kbit"), class(ifb, "up", 1, "2091Kbit"), class(ifb, "up", 2, "1045Kbit"))...)

	if err := s.Remove(macA); err != nil {
		t.Fatal(err)
	}
	want("A removed", cat(root(ifb, "up"), group(ifb, "up"), gate, class(ifb, "up", 2, "1045Kbit"))...)

	set(macB, 0, 0)
	want("B without rates: nothing")

	set(macA, 1_000_000, 1_000_000)
	set(macB, 1_000_000, 1_000_000)
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	want("stopped: nothing")
}

// TestKernelAfterCrash leaves a run's objects in the kernel as a lobby
// killed with SIGKILL does (the filters hold the BPF programs and map), and
// checks that the next run replaces them with exactly one copy of its own
// plan, and removes it at its stop.
func TestKernelAfterCrash(t *testing.T) {
	ns := inNetNS(t)
	addVeth(t)

	dead := newPlan()
	for i, mac := range []net.HardwareAddr{macA, macB} {
		if _, err := dead.set(macKey(mac), Rates{Down: uint64(i+1) * 1_000_000, Up: 3_000_000}); err != nil {
			t.Fatal(err)
		}
	}
	k, err := newKernel("lan0", ns, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := k.apply(dead.build()); err != nil {
		t.Fatal(err)
	}
	k.close() // the process dies: its fds close, the kernel objects stay
	left := objects(t)
	if len(left) < 10 {
		t.Fatalf("the dead run left too little to test with:\n%s", strings.Join(left, "\n"))
	}

	// A clean run with the same plan makes the same objects: the reference.
	s := newShaper(Config{Interface: "lan0"}, quietLog(), options{netns: ns})
	if err := s.Set(macA, 5_000_000, 0); err != nil {
		t.Fatal(err)
	}
	stop := running(t, s)
	got := objects(t)
	for _, l := range got {
		if strings.Contains(l, "lby-lan0") || strings.Contains(l, "ffff:") || strings.Contains(l, "1100:2 ") {
			t.Errorf("left from the dead run: %s", l)
		}
	}
	if n := strings.Count(strings.Join(got, "\n"), "qdisc htb 10bb: root"); n != 1 {
		t.Errorf("%d root qdiscs, want 1:\n%s", n, strings.Join(got, "\n"))
	}
	if !strings.Contains(strings.Join(got, "\n"), "lan0 class htb 1100:1 root rate 5227Kbit ceil 5227Kbit") {
		t.Errorf("A's class is missing:\n%s", strings.Join(got, "\n"))
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := objects(t); !equal(got, []string{"link lan0"}) {
		t.Errorf("after stop:\n%s", strings.Join(got, "\n"))
	}
}

// TestKernelRepair: an object removed by hand makes the next change fail
// in the kernel; the shaper then builds everything again from its plan.
func TestKernelRepair(t *testing.T) {
	ns := inNetNS(t)
	addVeth(t)
	s := newShaper(Config{Interface: "lan0"}, quietLog(), options{netns: ns})
	must(t, s.Set(macA, 1_000_000, 0))
	must(t, s.Set(macB, 2_000_000, 0))
	running(t, s)
	before := objects(t)

	tc(t, "class", "del", "dev", "lan0", "classid", "1100:1")
	if strings.Contains(strings.Join(objects(t), "\n"), "1100:1 ") {
		t.Fatal("the class is still there")
	}
	must(t, s.Set(macA, 3_000_000, 0)) // a class change: the kernel has no such class
	got := strings.Join(objects(t), "\n")
	if !strings.Contains(got, "lan0 class htb 1100:1 root rate 3136Kbit ceil 3136Kbit") ||
		!strings.Contains(got, "lan0 class htb 1100:2 root rate 2091Kbit ceil 2091Kbit") || len(objects(t)) != len(before) {
		t.Errorf("after the repair:\n%s\nbefore:\n%s", got, strings.Join(before, "\n"))
	}
}

// BenchmarkSet is the cost of a sign-in with a rate (a new client, both
// directions: two classes and a map entry), of a sign-out, and of a rate
// change, with n other clients shaped. It logs how long the start took,
// building the n clients' shaping.
func BenchmarkSet(b *testing.B) {
	for _, n := range []int{10, 10_000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			ns := inNetNS(b)
			addVeth(b)
			s := newShaper(Config{Interface: "lan0"}, quietLog(), options{netns: ns})
			for i := range n {
				mac := net.HardwareAddr{0x02, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}
				must(b, s.Set(mac, 1_000_000, 1_000_000))
			}
			start := time.Now()
			running(b, s)
			b.Logf("start with %d clients: %v", n, time.Since(start))
			mac := net.HardwareAddr{0x02, 0xff, 0, 0, 0, 1}
			b.Run("signin", func(b *testing.B) {
				for b.Loop() {
					must(b, s.Set(mac, 8_000_000, 2_000_000))
					b.StopTimer()
					must(b, s.Remove(mac))
					b.StartTimer()
				}
			})
			b.Run("signout", func(b *testing.B) {
				for b.Loop() {
					b.StopTimer()
					must(b, s.Set(mac, 8_000_000, 2_000_000))
					b.StartTimer()
					must(b, s.Remove(mac))
				}
			})
			must(b, s.Set(mac, 8_000_000, 2_000_000))
			b.Run("change", func(b *testing.B) {
				r := uint64(8_000_000)
				for b.Loop() {
					r ^= 1_000_000 // 8 and 9 Mbit/s in turn
					must(b, s.Set(mac, r, 2_000_000))
				}
			})
		})
	}
}

// TestWireRate: a client's rate is TCP payload of full-size packets; its
// class counts 1514-byte frames that carry 1448 bytes of it.
func TestWireRate(t *testing.T) {
	for _, c := range []struct{ in, want uint64 }{
		{0, 0},
		{1448, 1514},
		{1_000_000, 1_045_580},
		{8_000_000, 8_364_640},
		{50_000_000, 52_279_005},
		{1 << 40, 1149627489263}, // no overflow on the way
	} {
		if got := wireRate(c.in); got != c.want {
			t.Errorf("wireRate(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}
