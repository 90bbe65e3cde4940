package openwrt_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// member is one entry of a tar archive.
type member struct {
	name     string
	mode     int64
	uid, gid int
	dir      bool
	data     []byte
}

// untargz reads a gzip'd tar in order.
func untargz(t *testing.T, b []byte) []member {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	tr := tar.NewReader(zr)
	var out []member
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("tar: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, member{h.Name, h.Mode, h.Uid, h.Gid, h.Typeflag == tar.TypeDir, data})
	}
}

// boardConf reads board/NAME.conf.
func boardConf(t *testing.T, board string) map[string]string {
	t.Helper()
	conf := map[string]string{}
	for _, line := range strings.Split(mustRead(t, filepath.Join(repo(t), "board", board+".conf")), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
			conf[k] = v
		}
	}
	return conf
}

// boards are the OpenWrt board profiles: those with an OPENWRT_ARCH (the
// others are for the appliance image).
func boards(t *testing.T) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(repo(t), "board", "*.conf"))
	var out []string
	for _, p := range m {
		board := strings.TrimSuffix(filepath.Base(p), ".conf")
		if boardConf(t, board)["OPENWRT_ARCH"] != "" {
			out = append(out, board)
		}
	}
	if len(out) == 0 {
		t.Fatal("no OpenWrt board profiles")
	}
	return out
}

// buildIPK runs scripts/package.sh and returns the .ipk's path.
func buildIPK(t *testing.T, board, bin, out string, env ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(repo(t), "scripts", "package.sh"), board, bin)
	cmd.Env = append(os.Environ(), append([]string{"OUT=" + out}, env...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("package.sh %s: %v\n%s", board, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(stdout)), "\n")
	return lines[len(lines)-1]
}

// ipk is a taken-apart .ipk.
type ipk struct {
	outer, control, data []member
	fields               map[string]string
}

func (p ipk) file(list []member, name string) *member {
	for i := range list {
		if list[i].name == name {
			return &list[i]
		}
	}
	return nil
}

func readIPK(t *testing.T, path string) ipk {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p ipk
	p.outer = untargz(t, b)
	var names []string
	for _, m := range p.outer {
		names = append(names, m.name)
	}
	// opkg reads the outer archive as ar or as tar.gz; OpenWrt's
	// ipkg-build writes a tar.gz with these three members in this order.
	if strings.Join(names, " ") != "./debian-binary ./data.tar.gz ./control.tar.gz" {
		t.Fatalf("outer archive members %v", names)
	}
	if string(p.outer[0].data) != "2.0\n" {
		t.Errorf("debian-binary %q", p.outer[0].data)
	}
	p.data = untargz(t, p.outer[1].data)
	p.control = untargz(t, p.outer[2].data)
	p.fields = map[string]string{}
	c := p.file(p.control, "./control")
	if c == nil {
		t.Fatal("no ./control")
	}
	var last string
	for _, line := range strings.Split(strings.TrimRight(string(c.data), "\n"), "\n") {
		if strings.HasPrefix(line, " ") && last != "" {
			p.fields[last] += "\n" + line
			continue
		}
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			t.Errorf("control line %q", line)
		}
		p.fields[k], last = v, k
	}
	for _, list := range [][]member{p.data, p.control, p.outer} {
		for _, m := range list {
			if m.uid != 0 || m.gid != 0 {
				t.Errorf("%s owned by %d:%d, want root", m.name, m.uid, m.gid)
			}
		}
	}
	return p
}

func TestPackage(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "lobby")
	os.WriteFile(bin, []byte("\x7fELF stand-in for the lobby binary\n"), 0o644)
	gzipped, _ := exec.LookPath("tar")
	for _, board := range boards(t) {
		t.Run(board, func(t *testing.T) {
			out := t.TempDir()
			path := buildIPK(t, board, bin, out, "PKG_VERSION=1.2.3_p4-r1", "SOURCE_DATE_EPOCH=1700000000")
			arch := boardConf(t, board)["OPENWRT_ARCH"]
			if want := filepath.Join(out, "lobby_1.2.3_p4-r1_"+arch+".ipk"); path != want {
				t.Errorf("package at %s, want %s", path, want)
			}
			p := readIPK(t, path)

			// The file list, with modes as OpenWrt installs them.
			var got []string
			for _, m := range p.data {
				got = append(got, fmt.Sprintf("%s %o", m.name, m.mode))
			}
			want := []string{
				"./ 755", "./etc/ 755", "./etc/capabilities/ 755", "./etc/capabilities/lobby.json 644",
				"./etc/config/ 755", "./etc/config/lobby 600", "./etc/init.d/ 755", "./etc/init.d/lobby 755",
				"./etc/uci-defaults/ 755", "./etc/uci-defaults/90-lobby 755",
				"./usr/ 755", "./usr/sbin/ 755", "./usr/sbin/lobby 755",
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("data.tar.gz:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			for name, src := range map[string]string{
				"./usr/sbin/lobby":              bin,
				"./etc/init.d/lobby":            filepath.Join(files(t), "lobby.init"),
				"./etc/config/lobby":            filepath.Join(files(t), "lobby.config"),
				"./etc/uci-defaults/90-lobby":   filepath.Join(files(t), "lobby.defaults"),
				"./etc/capabilities/lobby.json": filepath.Join(files(t), "lobby.json"),
			} {
				if m := p.file(p.data, name); m == nil || string(m.data) != mustRead(t, src) {
					t.Errorf("%s is not %s", name, src)
				}
			}

			var size int
			zr, _ := gzip.NewReader(bytes.NewReader(p.outer[1].data))
			n, _ := io.Copy(io.Discard, zr)
			size = int(n)
			wantFields := map[string]string{
				"Package":        "lobby",
				"Version":        "1.2.3_p4-r1",
				"Depends":        "kmod-nft-core, kmod-nft-nat, kmod-nf-conntrack-netlink, kmod-sched-core, kmod-sched-bpf, kmod-ifb",
				"Source":         "feeds/lobby/lobby",
				"SourceName":     "lobby",
				"License":        "NOASSERTION",
				"Section":        "net",
				"URL":            "https://github.com/lobby-fw/lobby",
				"Architecture":   arch,
				"Installed-Size": strconv.Itoa(size),
			}
			for k, v := range wantFields {
				if p.fields[k] != v {
					t.Errorf("control %s: %q, want %q", k, p.fields[k], v)
				}
			}
			if !strings.HasPrefix(p.fields["Description"], "Lobby captive portal") || !strings.Contains(p.fields["Description"], "\n ") {
				t.Errorf("Description %q", p.fields["Description"])
			}
			if len(p.fields) != len(wantFields)+1 {
				t.Errorf("control fields %v", p.fields)
			}

			var cnames []string
			for _, m := range p.control {
				cnames = append(cnames, fmt.Sprintf("%s %o", m.name, m.mode))
			}
			if strings.Join(cnames, " ") != "./ 755 ./conffiles 644 ./control 644 ./postinst 755 ./prerm 755" {
				t.Errorf("control.tar.gz: %v", cnames)
			}
			if c := p.file(p.control, "./conffiles"); c == nil || string(c.data) != "/etc/config/lobby\n" {
				t.Errorf("conffiles %q", c.data)
			}
			// What OpenWrt's package-pack.mk writes for every package.
			if c := p.file(p.control, "./postinst"); c == nil || string(c.data) !=
				"#!/bin/sh\n[ \"${IPKG_NO_SCRIPT}\" = \"1\" ] && exit 0\n[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0\n. ${IPKG_INSTROOT}/lib/functions.sh\ndefault_postinst $0 $@\n" {
				t.Errorf("postinst %q", c.data)
			}
			if c := p.file(p.control, "./prerm"); c == nil || string(c.data) !=
				"#!/bin/sh\n[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0\n. ${IPKG_INSTROOT}/lib/functions.sh\ndefault_prerm $0 $@\n" {
				t.Errorf("prerm %q", c.data)
			}

			// The same inputs give the same bytes.
			again := buildIPK(t, board, bin, t.TempDir(), "PKG_VERSION=1.2.3_p4-r1", "SOURCE_DATE_EPOCH=1700000000")
			if mustRead(t, again) != mustRead(t, path) {
				t.Error("two builds of the same inputs differ")
			}
			// And GNU tar reads it as opkg's tar would.
			if gzipped != "" {
				out, err := exec.Command("tar", "-tzf", path).CombinedOutput()
				if err != nil || string(out) != "./debian-binary\n./data.tar.gz\n./control.tar.gz\n" {
					t.Errorf("tar -tzf: %v\n%s", err, out)
				}
			}
		})
	}
}

func TestPackageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"nosuchboard"}, nil, "no board profile"},
		{[]string{"ath79", "/nonexistent/lobby"}, nil, "run 'make cross'"},
		{[]string{"ath79", "package.sh"}, []string{"PKG_VERSION=1.0"}, "not of the form 1.2.3-r1"},
		{nil, nil, "usage"},
	} {
		cmd := exec.Command("./package.sh", tc.args...)
		cmd.Dir = filepath.Join(repo(t), "scripts")
		cmd.Env = append(append(os.Environ(), "OUT="+t.TempDir()), tc.env...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("package.sh %v: %v, %q; want failure with %q", tc.args, err, out, tc.want)
		}
	}
}

func TestPackageVersion(t *testing.T) {
	// apk (OpenWrt 25.x) accepts only VERSION-rN with apk's suffixes; opkg
	// must order them the same way: a tag's build < commits after it.
	for _, tc := range []struct{ describe, want string }{
		{"v0.1.0-0-g1234567", "0.1.0-r1"},
		{"v0.1.0-7-g1234567", "0.1.0_p7-r1"},
		{"v1.3.0-rc2-0-gabcdef0", "1.3.0_rc2-r1"},
		{"v1.3.0-rc2-3-gabcdef0", "1.3.0_rc2_p3-r1"},
		{"v2.0-1-gabcdef0", "2.0_p1-r1"},
		{"none", "0.0.0_p42-r1"},
		{"vbanana-1-gabcdef0", ""},
		{"v1.2.3-beta-0-gabcdef0", "1.2.3_beta-r1"},
		{"v1.2.3.4-weird-0-gabcdef0", ""},
	} {
		cmd := exec.Command(filepath.Join(repo(t), "scripts", "pkgversion.sh"), tc.describe)
		cmd.Env = append(os.Environ(), "COMMITS=42", "PKG_VERSION=")
		out, err := cmd.Output()
		got := strings.TrimSpace(string(out))
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s: got %q, want an error", tc.describe, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.describe, got, err, tc.want)
		}
	}
	// This checkout's version, as make package stamps it, is valid.
	out, err := exec.Command(filepath.Join(repo(t), "scripts", "pkgversion.sh")).Output()
	if err != nil || !apkVersion.MatchString(strings.TrimSpace(string(out))) {
		t.Errorf("this checkout: %q, %v", out, err)
	}
}

// apkVersion is apk-tools' version grammar (version.c) with the release.
var apkVersion = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*[a-z]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]*)*-r[0-9]+$`)

// TestFeedMakefile checks the SDK package against what package.sh builds,
// since no SDK runs here: same files, same conffiles, same dependencies,
// the module and main package that exist, a version apk accepts.
func TestFeedMakefile(t *testing.T) {
	mk := mustRead(t, filepath.Join(repo(t), "openwrt", "lobby", "Makefile"))
	v := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + name + `:=(.*)$`).FindStringSubmatch(mk)
		if m == nil {
			t.Fatalf("Makefile sets no %s", name)
		}
		return strings.TrimSpace(m[1])
	}
	module := regexp.MustCompile(`(?m)^module (\S+)`).FindStringSubmatch(mustRead(t, filepath.Join(repo(t), "go.mod")))[1]
	if v("GO_PKG") != module {
		t.Errorf("GO_PKG %s, module %s", v("GO_PKG"), module)
	}
	mainPkg := strings.TrimPrefix(v("GO_PKG_BUILD_PKG"), module+"/")
	if !strings.Contains(mustRead(t, filepath.Join(repo(t), mainPkg, "main.go")), "package main") {
		t.Errorf("GO_PKG_BUILD_PKG %s is not the main package", v("GO_PKG_BUILD_PKG"))
	}
	if !strings.Contains(mk, "$(GO_PKG_BUILD_BIN_DIR)/"+filepath.Base(mainPkg)+" ") {
		t.Errorf("the binary go install makes is named %s", filepath.Base(mainPkg))
	}
	// The build flags of `make cross`: tags, and the -gcflags of the
	// Makefile's default and of any board whose profile sets its own.
	top := mustRead(t, filepath.Join(repo(t), "Makefile"))
	if tags := regexp.MustCompile(`(?m)^GOTAGS\s*=\s*(.*)$`).FindStringSubmatch(top)[1]; v("GO_PKG_TAGS") != tags {
		t.Errorf("GO_PKG_TAGS %s, the Makefile's GOTAGS %s", v("GO_PKG_TAGS"), tags)
	}
	noinline := regexp.MustCompile(`(?m)^NOINLINE\s*=\s*((?:.*\\\n)*.*)$`).FindStringSubmatch(top)[1]
	if got, want := strings.Fields(v("LOBBY_NOINLINE")), strings.Fields(strings.ReplaceAll(noinline, "\\", "")); !slices.Equal(got, want) {
		t.Errorf("LOBBY_NOINLINE %v, the Makefile's NOINLINE %v", got, want)
	}
	own := map[string]string{} // GOARCH: the board's GCFLAGS, as the feed writes them
	for _, board := range boards(t) {
		if c := boardConf(t, board); c["GCFLAGS"] != "" {
			own[c["GOARCH"]] = strings.Join(strings.Split(c["GCFLAGS"], ","), " ")
		}
	}
	feed := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^ifeq \(\$\(GO_ARCH\),(\w+)\)\n\s+LOBBY_GCFLAGS:=(.*)\nendif$`).FindAllStringSubmatch(mk, -1) {
		feed[m[1]] = strings.Join(strings.Fields(m[2]), " ")
	}
	if !maps.Equal(feed, own) {
		t.Errorf("the feed's LOBBY_GCFLAGS per GO_ARCH %q, the board profiles' own GCFLAGS %q", feed, own)
	}
	if n := strings.Count(mk, "LOBBY_GCFLAGS:="); n != 1+len(feed) {
		t.Errorf("the feed sets LOBBY_GCFLAGS %d times, not once and once per GO_ARCH block (%d)", n, len(feed))
	}
	if ver := v("PKG_VERSION") + "-r" + v("PKG_RELEASE"); !apkVersion.MatchString(ver) {
		t.Errorf("version %s is not one apk accepts", ver)
	}
	if !strings.Contains(mk, "define Package/lobby/conffiles\n/etc/config/lobby\nendef") {
		t.Error("conffiles is not /etc/config/lobby")
	}
	// DEPENDS (+kmod-…) against package.sh's Depends.
	deps := regexp.MustCompile(`\+(\S+)`).FindAllStringSubmatch(regexp.MustCompile(`(?m)^\s+DEPENDS:=(.*)`).FindStringSubmatch(mk)[1], -1)
	var names []string
	for _, d := range deps {
		names = append(names, d[1])
	}
	if strings.Join(names, ", ") != "kmod-nft-core, kmod-nft-nat, kmod-nf-conntrack-netlink, kmod-sched-core, kmod-sched-bpf, kmod-ifb" {
		t.Errorf("DEPENDS %v differ from the .ipk's", names)
	}
	// Installed files: $(INSTALL_X) ./files/SRC $(1)/DEST, and the binary.
	var installed []string
	re := regexp.MustCompile(`\$\(INSTALL_(BIN|DATA|CONF)\) (\S+) \$\(1\)(\S+)`)
	for _, m := range re.FindAllStringSubmatch(mk, -1) {
		mode := map[string]string{"BIN": "755", "DATA": "644", "CONF": "600"}[m[1]]
		installed = append(installed, "."+m[3]+" "+mode)
		if src := m[2]; strings.HasPrefix(src, "./files/") {
			if _, err := os.Stat(filepath.Join(repo(t), "openwrt", "lobby", src)); err != nil {
				t.Errorf("installs missing %s", src)
			}
		}
	}
	sort.Strings(installed)
	bin := filepath.Join(t.TempDir(), "lobby")
	os.WriteFile(bin, []byte("x"), 0o755)
	p := readIPK(t, buildIPK(t, "x86-64", bin, t.TempDir(), "PKG_VERSION=0.1.0-r1"))
	var inIPK []string
	for _, m := range p.data {
		if !m.dir {
			inIPK = append(inIPK, fmt.Sprintf("%s %o", m.name, m.mode))
		}
	}
	sort.Strings(inIPK)
	if strings.Join(installed, "\n") != strings.Join(inIPK, "\n") {
		t.Errorf("the feed Makefile installs\n%s\nthe .ipk holds\n%s", strings.Join(installed, "\n"), strings.Join(inIPK, "\n"))
	}
}
