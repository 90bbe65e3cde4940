package openwrt_test

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// builtOnly skips unless make openwrt-test (LOBBY_BUILT=1) asks for the
// checks of what make package built.
func builtOnly(t *testing.T) {
	t.Helper()
	if os.Getenv("LOBBY_BUILT") != "1" {
		t.Skip("checks make package's output; run by make openwrt-test (LOBBY_BUILT=1)")
	}
}

// TestBuiltPackages takes apart the .ipk make package built for each board
// from make cross's binary: the right architecture on both sides, the very
// binary of the cross build, static.
func TestBuiltPackages(t *testing.T) {
	builtOnly(t)
	out, err := exec.Command(filepath.Join(repo(t), "scripts", "pkgversion.sh")).Output()
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(out))
	machine := map[string]struct {
		m     elf.Machine
		order string
	}{
		"mips": {elf.EM_MIPS, "BigEndian"}, "mipsle": {elf.EM_MIPS, "LittleEndian"},
		"arm": {elf.EM_ARM, "LittleEndian"}, "arm64": {elf.EM_AARCH64, "LittleEndian"}, "amd64": {elf.EM_X86_64, "LittleEndian"},
	}
	for _, board := range boards(t) {
		t.Run(board, func(t *testing.T) {
			conf := boardConf(t, board)
			bin := filepath.Join(repo(t), "build", board, "lobby")
			path := filepath.Join(repo(t), "build", board, "lobby_"+version+"_"+conf["OPENWRT_ARCH"]+".ipk")
			p := readIPK(t, path)
			if p.fields["Architecture"] != conf["OPENWRT_ARCH"] || p.fields["Version"] != version {
				t.Errorf("control: %v", p.fields)
			}
			lobby := p.file(p.data, "./usr/sbin/lobby")
			if lobby == nil || !bytes.Equal(lobby.data, []byte(mustRead(t, bin))) {
				t.Fatalf("./usr/sbin/lobby is not %s", bin)
			}
			f, err := elf.NewFile(bytes.NewReader(lobby.data))
			if err != nil {
				t.Fatal(err)
			}
			want, ok := machine[conf["GOARCH"]]
			if !ok {
				t.Fatalf("no ELF machine known for GOARCH %s", conf["GOARCH"])
			}
			if f.Machine != want.m || f.ByteOrder.String() != want.order {
				t.Errorf("ELF %v %v, want %v %v for GOARCH %s", f.Machine, f.ByteOrder, want.m, want.order, conf["GOARCH"])
			}
			for _, prog := range f.Progs {
				if prog.Type == elf.PT_INTERP {
					t.Error("dynamically linked: the router may lack its loader")
				}
			}
		})
	}
}

// TestBuiltMakeFirmware runs `make firmware` itself against a stand-in
// Image Builder, for the board most routers in the field are.
func TestBuiltMakeFirmware(t *testing.T) {
	builtOnly(t)
	out, err := exec.Command("make", "-C", repo(t), "--no-print-directory", "firmware").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "set BOARD to one of: ath79") {
		t.Errorf("make firmware without BOARD: %v\n%s", err, out)
	}
	ib := standInIB(t, "ath79/generic", "mips_24kc", false, "openwrt-ath79-generic-tplink_archer-c7-v5-squashfs-sysupgrade.bin")
	cmd := exec.Command("make", "-C", repo(t), "--no-print-directory", "firmware", "BOARD=ath79", "IB="+ib)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("make firmware: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	image := filepath.Join(repo(t), "build", "ath79", "firmware", "openwrt-ath79-generic-tplink_archer-c7-v5-squashfs-sysupgrade.bin")
	if !strings.HasSuffix(stdout.String(), image+"\n") {
		t.Errorf("make firmware printed\n%s\nwant the image %s last", stdout.String(), image)
	}
	got := invocation(t, ib)
	if got["PROFILE"] != "tplink_archer-c7-v5" || got["PACKAGES"] != "lobby luci" ||
		got["FILES"] != filepath.Join(repo(t), "build", "ath79", "overlay") {
		t.Errorf("make image %v", got)
	}
}
