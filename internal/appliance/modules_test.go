package appliance

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// A reduced depmod output in the shape Debian's 6.1 kernels produce.
const (
	testDep = `kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko
kernel/fs/jbd2/jbd2.ko:
kernel/fs/mbcache.ko:
kernel/lib/crc16.ko:
kernel/crypto/crc32c_generic.ko:
kernel/arch/x86/crypto/crc32c-intel.ko:
kernel/net/netfilter/nft_masq.ko: kernel/net/netfilter/nf_nat.ko kernel/net/netfilter/nf_conntrack.ko kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko kernel/lib/libcrc32c.ko kernel/net/netfilter/nf_tables.ko kernel/net/netfilter/nfnetlink.ko
kernel/net/netfilter/nf_nat.ko: kernel/net/netfilter/nf_conntrack.ko kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko kernel/lib/libcrc32c.ko
kernel/net/netfilter/nf_conntrack.ko: kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko kernel/lib/libcrc32c.ko
kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko:
kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko:
kernel/lib/libcrc32c.ko:
kernel/net/netfilter/nf_tables.ko: kernel/net/netfilter/nfnetlink.ko
kernel/net/netfilter/nfnetlink.ko:
kernel/drivers/char/hw_random/virtio-rng.ko:
`
	testSoftdep = `# Soft dependencies extracted from modules themselves.
softdep ext4 pre: crypto-crc32c
softdep jbd2 pre: crypto-crc32c
softdep libcrc32c pre: crc32c
softdep cifs gcm
`
	testAlias = `# Aliases extracted from modules themselves.
alias crypto-crc32c crc32c_generic
alias crc32c crc32c_generic
alias crypto-crc32c crc32c_intel
alias crc32c crc32c_intel
alias virtio:d00000004v* virtio_rng
alias fs-ext4 ext4
alias nft-expr-masq nft_masq
alias crypto-sha256 sha256_generic
`
	testBuiltin = `kernel/net/packet/af_packet.ko
kernel/net/ipv6/ipv6.ko
kernel/crypto/sha256_generic.ko
`
)

func testModules(t testing.TB) *Modules {
	t.Helper()
	m, err := ParseModules(ModuleFiles{
		Dep: strings.NewReader(testDep), Softdep: strings.NewReader(testSoftdep),
		Alias: strings.NewReader(testAlias), Builtin: strings.NewReader(testBuiltin),
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func names(steps []LoadStep) []string {
	var out []string
	for _, s := range steps {
		n := s.Name
		if s.Soft {
			n += "?"
		}
		out = append(out, n)
	}
	return out
}

func TestPlan(t *testing.T) {
	m := testModules(t)
	for _, tc := range []struct {
		name   string
		wanted []string
		want   []string // "?" marks a soft dependency
		errs   int
	}{
		{
			name:   "soft deps through an alias, then deps last-listed first",
			wanted: []string{"ext4"},
			want:   []string{"crc32c_generic?", "crc32c_intel?", "jbd2", "mbcache", "crc16", "ext4"},
		},
		{
			name:   "a soft dependency also wanted must load",
			wanted: []string{"ext4", "crc32c_generic"},
			want:   []string{"crc32c_generic", "crc32c_intel?", "jbd2", "mbcache", "crc16", "ext4"},
		},
		{
			name:   "deep dependencies, each once",
			wanted: []string{"nft_masq", "nf_nat"},
			want: []string{"nfnetlink", "nf_tables", "crc32c_generic?", "crc32c_intel?", "libcrc32c",
				"nf_defrag_ipv4", "nf_defrag_ipv6", "nf_conntrack", "nf_nat", "nft_masq"},
		},
		{
			name:   "an alias and a dashed name",
			wanted: []string{"nft-expr-masq", "virtio-rng"},
			want: []string{"nfnetlink", "nf_tables", "crc32c_generic?", "crc32c_intel?", "libcrc32c",
				"nf_defrag_ipv4", "nf_defrag_ipv6", "nf_conntrack", "nf_nat", "nft_masq", "virtio_rng"},
		},
		{
			name:   "built-in modules and aliases of them need nothing",
			wanted: []string{"af_packet", "ipv6", "crypto-sha256"},
		},
		{
			name:   "unknown names are errors, the rest still planned",
			wanted: []string{"nosuch", "crc16", "nosuch-alias"},
			want:   []string{"crc16"},
			errs:   2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steps, errs := m.Plan(tc.wanted)
			if got := names(steps); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Plan(%v) = %v, want %v", tc.wanted, got, tc.want)
			}
			if len(errs) != tc.errs {
				t.Errorf("Plan(%v) errors = %v, want %d", tc.wanted, errs, tc.errs)
			}
		})
	}
}

func TestPlanPaths(t *testing.T) {
	steps, _ := testModules(t).Plan([]string{"virtio_rng"})
	if len(steps) != 1 || steps[0].Path != "kernel/drivers/char/hw_random/virtio-rng.ko" {
		t.Fatalf("steps = %+v", steps)
	}
}

func TestPlanCycle(t *testing.T) {
	// depmod refuses cycles, but a broken image must not hang the boot.
	m, err := ParseModules(ModuleFiles{
		Dep:     strings.NewReader("a.ko: b.ko\nb.ko: a.ko\n"),
		Softdep: strings.NewReader("softdep a pre: b post: a\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	steps, errs := m.Plan([]string{"a"})
	if got := names(steps); !reflect.DeepEqual(got, []string{"b", "a"}) || len(errs) != 0 {
		t.Fatalf("Plan = %v, %v", got, errs)
	}
}

func TestParseModulesErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files ModuleFiles
		want  string
	}{
		{"dep without colon", ModuleFiles{Dep: strings.NewReader("kernel/a.ko\n")}, "modules.dep:1:"},
		{"dep with blank path", ModuleFiles{Dep: strings.NewReader("# c\nkernel/a b.ko: x.ko\n")}, "modules.dep:2:"},
		{"softdep without module", ModuleFiles{Softdep: strings.NewReader("softdep\n")}, "modules.softdep:1:"},
		{"not a softdep line", ModuleFiles{Softdep: strings.NewReader("options a b=1\n")}, "modules.softdep:1:"},
		{"short alias", ModuleFiles{Alias: strings.NewReader("alias x\n")}, "modules.alias:1:"},
		{"bad alias pattern", ModuleFiles{Alias: strings.NewReader("alias pci:v[ x\n")}, "modules.alias:1:"},
		{"overlong line", ModuleFiles{Dep: strings.NewReader("a.ko: " + strings.Repeat("b", maxModuleLine) + "\n")}, "modules.dep:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseModules(tc.files)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("err = %v, want prefix %q", err, tc.want)
			}
		})
	}
}

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/drivers/char/hw_random/virtio-rng.ko": "virtio_rng",
		"kernel/net/bridge/br_netfilter.ko.xz":        "br_netfilter",
		"crc32c-intel.ko.zst":                         "crc32c_intel",
		"nft-masq":                                    "nft_masq",
		"ext4":                                        "ext4",
	} {
		if got := ModuleName(in); got != want {
			t.Errorf("ModuleName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseModuleList(t *testing.T) {
	got, err := ParseModuleList(strings.NewReader("# modules\nvirtio_net\n\n  bridge  # LAN\nnf_conntrack hashsize=4096 expect_hashsize=64\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []WantedModule{{"virtio_net", ""}, {"bridge", ""}, {"nf_conntrack", "hashsize=4096 expect_hashsize=64"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if _, err := ParseModuleList(strings.NewReader("kernel/net/bridge.ko\n")); err == nil {
		t.Fatal("a path was taken for a module name")
	}
}

// FuzzParseModules feeds depmod files that may be anything (a broken or
// hostile image) and checks that parsing and planning never panic, never
// loop, and only ever plan modules from modules.dep, each once, after the
// modules it depends on.
func FuzzParseModules(f *testing.F) {
	f.Add(testDep, testSoftdep, testAlias, "ext4 nft_masq crypto-crc32c")
	f.Add("a.ko: b.ko\nb.ko: a.ko\n", "softdep a pre: b post: a\n", "alias * a\n", "a b *")
	f.Add("x/y-z.ko.xz: x/q.ko\n", "softdep y_z post: y-z q\n", "alias [a-z] q\n", "y-z a")
	f.Fuzz(func(t *testing.T, dep, softdep, alias, wanted string) {
		m, err := ParseModules(ModuleFiles{
			Dep: strings.NewReader(dep), Softdep: strings.NewReader(softdep), Alias: strings.NewReader(alias),
		})
		if err != nil {
			return
		}
		steps, _ := m.Plan(strings.Fields(wanted))
		at := map[string]int{}
		for i, s := range steps {
			e, ok := m.dep[s.Name]
			if !ok || e.path != s.Path {
				t.Fatalf("step %+v is not a modules.dep entry", s)
			}
			if _, dup := at[s.Name]; dup {
				t.Fatalf("%s planned twice: %v", s.Name, names(steps))
			}
			at[s.Name] = i
		}
		for _, s := range steps {
			for _, d := range m.dep[s.Name].deps {
				if j, ok := at[d]; ok && j > at[s.Name] && !dependsOn(m, d, s.Name) {
					t.Fatalf("%s planned before its dependency %s: %v", s.Name, d, names(steps))
				}
			}
		}
	})
}

// dependsOn reports whether a needs b, directly or not: only in a cycle may
// a dependency come after its dependent.
func dependsOn(m *Modules, a, b string) bool {
	seen := map[string]bool{}
	var walk func(string) bool
	walk = func(n string) bool {
		if n == b {
			return true
		}
		if seen[n] {
			return false
		}
		seen[n] = true
		for _, d := range m.dep[n].deps {
			if walk(d) {
				return true
			}
		}
		sd := m.soft[n]
		for _, d := range append(append([]string{}, sd.pre...), sd.post...) {
			if mods, err := m.resolve(d); err == nil {
				for _, x := range mods {
					if walk(x) {
						return true
					}
				}
			}
		}
		return false
	}
	return walk(a)
}

func TestExtLabel(t *testing.T) {
	b := make([]byte, extProbeLen)
	b[extMagicOffset], b[extMagicOffset+1] = 0x53, 0xEF
	copy(b[extLabelOffset:], "lobby-state")
	if l, ok := extLabel(b); !ok || l != "lobby-state" {
		t.Fatalf("extLabel = %q, %v", l, ok)
	}
	copy(b[extLabelOffset:], bytes.Repeat([]byte("x"), extLabelLen))
	if l, ok := extLabel(b); !ok || l != strings.Repeat("x", extLabelLen) {
		t.Fatalf("full-length label = %q, %v", l, ok)
	}
	b[extMagicOffset] = 0
	if _, ok := extLabel(b); ok {
		t.Fatal("no magic, yet a label")
	}
	if _, ok := extLabel(b[:100]); ok {
		t.Fatal("short read, yet a label")
	}
}
