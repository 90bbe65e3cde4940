// Package openwrt_test proves the OpenWrt package of openwrt/lobby without
// an SDK, an Image Builder or a router: the .ipk that scripts/package.sh
// builds is taken apart and checked; the procd init script runs under a
// stand-in of /etc/rc.common that records its procd_* calls; the
// uci-defaults script runs against a temporary UCI tree through a stand-in
// uci command (fakeuci_test.go); and scripts/firmware.sh drives a stand-in
// Image Builder that records the make invocation. With LOBBY_BUILT=1 (make
// openwrt-test) the packages `make package` built from the real cross
// builds are checked too.
package openwrt_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lobby-fw/lobby/internal/uci"
)

func TestMain(m *testing.M) {
	if os.Getenv("LOBBY_FAKE_UCI_DIR") != "" && filepath.Base(os.Args[0]) == "uci" {
		os.Exit(fakeUCI(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// repo is the repository's top directory (tests run in openwrt/).
func repo(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// files is openwrt/lobby/files.
func files(t *testing.T) string { return filepath.Join(repo(t), "openwrt", "lobby", "files") }

// shell is the command that runs the package's scripts: busybox's ash,
// OpenWrt's own shell, where it is installed (scripts/deps.sh installs
// it); else /bin/sh.
func shell(t *testing.T) []string {
	t.Helper()
	if p, err := exec.LookPath("busybox"); err == nil {
		if exec.Command(p, "sh", "-c", "true").Run() == nil {
			return []string{p, "sh"}
		}
	}
	t.Log("busybox not found: running the scripts with /bin/sh instead of ash")
	return []string{"/bin/sh"}
}

// uciTree is a temporary /etc/config with the stand-in uci on PATH.
type uciTree struct {
	t                   *testing.T
	dir, save, bin, log string
}

// newUCITree copies testdata/uci/NAME for each name (and the package's
// default /etc/config/lobby when lobby is among them) into a fresh tree.
func newUCITree(t *testing.T, configs ...string) *uciTree {
	t.Helper()
	root := t.TempDir()
	tr := &uciTree{t: t, dir: filepath.Join(root, "config"), save: filepath.Join(root, "uci-save"),
		bin: filepath.Join(root, "bin"), log: filepath.Join(root, "uci.log")}
	for _, d := range []string{tr.dir, tr.bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(tr.bin, "uci")); err != nil {
		t.Fatal(err)
	}
	for _, c := range configs {
		src := filepath.Join("testdata", "uci", c)
		if c == "lobby" {
			src = filepath.Join(files(t), "lobby.config")
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		tr.write(c, string(b))
	}
	return tr
}

func (tr *uciTree) write(config, text string) {
	tr.t.Helper()
	if err := os.WriteFile(filepath.Join(tr.dir, config), []byte(text), 0o644); err != nil {
		tr.t.Fatal(err)
	}
}

// env is the environment that puts the stand-in uci first on PATH.
func (tr *uciTree) env(extra ...string) []string {
	env := append(os.Environ(), extra...)
	return append(env, "PATH="+tr.bin+":"+os.Getenv("PATH"),
		"LOBBY_FAKE_UCI_DIR="+tr.dir, "LOBBY_FAKE_UCI_SAVE="+tr.save, "LOBBY_FAKE_UCI_LOG="+tr.log)
}

// uci runs the stand-in uci and returns its stdout.
func (tr *uciTree) uci(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(tr.bin, "uci"), args...)
	cmd.Env = tr.env()
	out, err := cmd.Output()
	return string(out), err
}

// parse reads a committed config file.
func (tr *uciTree) parse(config string) *uci.File {
	tr.t.Helper()
	f, err := uci.ParseFile(filepath.Join(tr.dir, config))
	if err != nil {
		tr.t.Fatalf("%s: %v", config, err)
	}
	return f
}

// snapshot is the text of every committed config file.
func (tr *uciTree) snapshot() map[string]string {
	tr.t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(tr.dir)
	if err != nil {
		tr.t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(tr.dir, e.Name()))
		if err != nil {
			tr.t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

// calls is the uci invocations logged since the last call of calls.
func (tr *uciTree) calls() []string {
	tr.t.Helper()
	b, err := os.ReadFile(tr.log)
	if err != nil && !os.IsNotExist(err) {
		tr.t.Fatal(err)
	}
	os.Remove(tr.log)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// find returns the first section of typ whose options include every
// name=value in match (a list option matches if any item does).
func find(f *uci.File, typ string, match ...string) *uci.Section {
next:
	for _, s := range f.Sections {
		if s.Type != typ {
			continue
		}
		for _, m := range match {
			name, value, _ := strings.Cut(m, "=")
			o := s.Option(name)
			if o == nil {
				continue next
			}
			ok := false
			for _, v := range o.Values {
				ok = ok || v.Text == value
			}
			if !ok {
				continue next
			}
		}
		return s
	}
	return nil
}

// named returns the section called name, or nil.
func named(f *uci.File, name string) *uci.Section {
	for _, s := range f.Sections {
		if s.Name == name {
			return s
		}
	}
	return nil
}
