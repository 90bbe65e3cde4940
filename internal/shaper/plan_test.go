package shaper

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestMacKey(t *testing.T) {
	// The classifier reads the first four bytes and the last two of the
	// MAC, each as a big-endian number, and joins them: the same number.
	for _, tc := range []struct {
		mac  string
		want uint64
	}{
		{"02:00:00:00:01:0b", 0x02000000010b},
		{"ff:ee:dd:cc:bb:aa", 0xffeeddccbbaa},
		{"00:00:00:00:00:01", 1},
	} {
		mac, err := net.ParseMAC(tc.mac)
		if err != nil {
			t.Fatal(err)
		}
		if got := macKey(mac); got != tc.want {
			t.Errorf("macKey(%s) = %#x, want %#x", tc.mac, got, tc.want)
		}
	}
}

// step is one call on a plan and the operations it must give.
type step struct {
	mac   string // last byte of 02:00:00:00:00:xx
	rates Rates  // both zero: remove
	want  string // the ops, one per line
}

func key(last string) uint64 {
	mac, err := net.ParseMAC("02:00:00:00:00:" + last)
	if err != nil {
		panic(err)
	}
	return macKey(mac)
}

func opsString(ops []op) string {
	var b strings.Builder
	for _, o := range ops {
		fmt.Fprintln(&b, o)
	}
	return strings.TrimSpace(b.String())
}

// fill is n steps that give n clients r.
func fill(n int, r Rates) []step {
	var s []step
	for i := range n {
		s = append(s, step{mac: fmt.Sprintf("%02x", i), rates: r})
	}
	return s
}

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"first client down only: install, class, map", []step{
			{"0a", Rates{Down: 8e6}, "install download\ngroup add download 0\nclass add download 0x1 8000000\nmap set 02000000000a 0x11000001/0x0"},
		}},
		{"first client both ways", []step{
			{"0a", Rates{Down: 8e6, Up: 1e6}, "install download\ngroup add download 0\nclass add download 0x1 8000000\ninstall upload\ngroup add upload 0\nclass add upload 0x1 1000000\nmap set 02000000000a 0x11000001/0x11000001"},
		}},
		{"a rate change is one class change, map untouched", []step{
			{"0a", Rates{Down: 8e6, Up: 1e6}, ""},
			{"0a", Rates{Down: 4e6, Up: 1e6}, "class change download 0x1 4000000"},
			{"0a", Rates{Down: 4e6, Up: 1e6}, ""},
		}},
		{"second client: class and map entry only", []step{
			{"0a", Rates{Down: 8e6}, ""},
			{"0b", Rates{Down: 2e6}, "class add download 0x2 2000000\nmap set 02000000000b 0x11000002/0x0"},
		}},
		{"a direction added to a client", []step{
			{"0a", Rates{Down: 8e6}, ""},
			{"0b", Rates{Down: 2e6, Up: 3e6}, ""},
			{"0a", Rates{Down: 8e6, Up: 1e6}, "class add upload 0x1 1000000\nmap set 02000000000a 0x11000001/0x11000001"},
		}},
		{"a direction dropped: map first, then the class", []step{
			{"0a", Rates{Down: 8e6, Up: 1e6}, ""},
			{"0b", Rates{Down: 2e6, Up: 3e6}, ""},
			{"0a", Rates{Down: 8e6}, "map set 02000000000a 0x11000001/0x0\nclass del upload 0x1"},
		}},
		{"the last client of a direction: uninstall it", []step{
			{"0a", Rates{Down: 8e6, Up: 1e6}, ""},
			{"0b", Rates{Down: 2e6}, ""},
			{"0a", Rates{Down: 8e6}, "map set 02000000000a 0x11000001/0x0\nuninstall upload"},
		}},
		{"remove one of two", []step{
			{"0a", Rates{Down: 8e6, Up: 1e6}, ""},
			{"0b", Rates{Down: 2e6}, ""},
			{"0b", Rates{}, "map del 02000000000b\nclass del download 0x2"},
		}},
		{"remove the last: uninstall everything", []step{
			{"0a", Rates{Down: 8e6, Up: 1e6}, ""},
			{"0a", Rates{}, "uninstall download\nuninstall upload"},
			{"0a", Rates{}, ""},
		}},
		{"a freed minor is reused", []step{
			{"0a", Rates{Down: 1e6}, ""},
			{"0b", Rates{Down: 1e6}, ""},
			{"0c", Rates{Down: 1e6}, ""},
			{"0b", Rates{}, ""},
			{"0d", Rates{Up: 5e6}, "install upload\ngroup add upload 0\nclass add upload 0x2 5000000\nmap set 02000000000d 0x0/0x11000002"},
		}},
		{"the 65th client opens a group, its leaving closes it", append(fill(64, Rates{Down: 1e6}),
			step{"ff", Rates{Down: 1e6}, "group add download 1\nclass add download 0x41 1000000\nmap set 0200000000ff 0x11010041/0x0"},
			step{"ff", Rates{}, "map del 0200000000ff\ngroup del download 1"},
		)},
		{"removing an unknown client does nothing", []step{
			{"0a", Rates{}, ""},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPlan()
			for i, s := range tc.steps {
				ops, err := p.set(key(s.mac), s.rates)
				if err != nil {
					t.Fatal(err)
				}
				last := i == len(tc.steps)-1
				if got := opsString(ops); (last || s.want != "") && got != s.want {
					t.Errorf("step %d (%s %+v):\ngot\n%s\nwant\n%s", i, s.mac, s.rates, got, s.want)
				}
			}
		})
	}
}

// TestPlanMany: 10,000 clients each get a distinct minor, every change of
// one client is the same few operations as with one client (and a group
// more for every 64th), removals give the minors back, and build makes
// the same state.
func TestPlanMany(t *testing.T) {
	const n = 10_000
	p := newPlan()
	mac := func(i int) uint64 { return 0x020000000000 | uint64(i) }
	minors := map[uint16]bool{}
	for i := range n {
		ops, err := p.set(mac(i), Rates{Down: 1e6, Up: 1e6})
		if err != nil {
			t.Fatal(err)
		}
		want := 3 // class add ×2, map set
		if i%perGroup == 0 {
			want += 2 // the first of a group: group add ×2
		}
		if i == 0 {
			want += 2 // the first of all: install ×2
		}
		if len(ops) != want {
			t.Fatalf("client %d: %d ops, want %d:\n%s", i, len(ops), want, opsString(ops))
		}
		m := p.clients[mac(i)].minor
		if m == 0 || minors[m] {
			t.Fatalf("client %d: minor %#x zero or taken", i, m)
		}
		minors[m] = true
	}
	if ops, _ := p.set(mac(n/2), Rates{Down: 2e6, Up: 1e6}); len(ops) != 1 {
		t.Errorf("a rate change at %d clients: %s", n, opsString(ops))
	}
	if ops := p.remove(mac(n / 2)); len(ops) != 3 {
		t.Errorf("a removal at %d clients: %s", n, opsString(ops))
	}

	b := p.build()
	count := map[opKind]int{}
	for _, o := range b {
		count[o.kind]++
	}
	nGroups := (n + perGroup - 1) / perGroup
	if count[opInstall] != 2 || count[opGroupAdd] != 2*nGroups || count[opClassAdd] != 2*(n-1) || count[opMapSet] != n-1 || len(b) != 2+2*nGroups+3*(n-1) {
		t.Errorf("build: %v in %d ops", count, len(b))
	}

	for i := range n {
		p.remove(mac(i))
	}
	if len(p.clients) != 0 || p.count != [2]int{} || len(p.free) != n {
		t.Errorf("after removing all: %d clients, counts %v, %d free", len(p.clients), p.count, len(p.free))
	}
}

func TestPlanFull(t *testing.T) {
	p := newPlan()
	for i := range maxClients {
		if _, err := p.set(uint64(i), Rates{Down: 1}); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	if _, err := p.set(maxClients, Rates{Down: 1}); !errors.Is(err, ErrFull) {
		t.Fatalf("one more: %v, want ErrFull", err)
	}
	if len(p.clients) != maxClients {
		t.Fatalf("a refused client was kept")
	}
	// A client already shaped may still change, and a freed class is
	// reused by the next.
	if _, err := p.set(0, Rates{Up: 1}); err != nil {
		t.Fatal(err)
	}
	p.remove(7)
	if _, err := p.set(maxClients, Rates{Down: 1}); err != nil {
		t.Fatal(err)
	}
	var ms []uint16
	for _, e := range p.clients {
		ms = append(ms, e.minor)
	}
	slices.Sort(ms)
	if ms[0] != 1 || ms[len(ms)-1] != maxClients || len(slices.Compact(ms)) != maxClients {
		t.Errorf("minors not 1..%d, each once", maxClients)
	}
}

// BenchmarkPlanMemory reports what a shaped client costs lobby's heap: its
// entry in the plan, 10,000 clients shaped both ways (the kernel's part is
// in the kernel: scripts/bench/shaper.sh).
func BenchmarkPlanMemory(b *testing.B) {
	const n = 10_000
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		p := newPlan()
		for i := range n {
			if _, err := p.set(uint64(i), Rates{Down: 8_000_000, Up: 2_000_000}); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(p)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/client")
	}
}
