package openwrt_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// standInIB makes a stand-in Image Builder for target/subtarget and arch
// that produces the given image files.
func standInIB(t *testing.T, target, arch string, apk bool, images ...string) string {
	t.Helper()
	ib := filepath.Join(t.TempDir(), "openwrt-imagebuilder")
	os.MkdirAll(filepath.Join(ib, "packages"), 0o755)
	os.WriteFile(filepath.Join(ib, "Makefile"), []byte(mustRead(t, "testdata/imagebuilder/Makefile")), 0o644)
	board, sub, _ := strings.Cut(target, "/")
	config := "CONFIG_TARGET_BOARD=\"" + board + "\"\nCONFIG_TARGET_SUBTARGET=\"" + sub + "\"\nCONFIG_TARGET_ARCH_PACKAGES=\"" + arch + "\"\n"
	repos := "repositories.conf"
	if apk {
		config += "CONFIG_USE_APK=y\n"
		repos = "repositories"
	}
	os.WriteFile(filepath.Join(ib, ".config"), []byte(config), 0o644)
	os.WriteFile(filepath.Join(ib, repos), []byte("# feeds\n"), 0o644)
	os.WriteFile(filepath.Join(ib, "images"), []byte(strings.Join(images, "\n")+"\n"), 0o644)
	return ib
}

// firmware runs scripts/firmware.sh BOARD; it returns stdout's last line,
// stderr and the error.
func firmware(t *testing.T, board string, env ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(filepath.Join(repo(t), "scripts", "firmware.sh"), board)
	cmd.Env = append(os.Environ(), "PKG_VERSION=0.1.0-r1", "EXTRA_PACKAGES=luci", "GUEST_SSID=", "GUEST_IPADDR=", "GUEST_NETMASK=", "EXTRA_FILES=", "LOBBY_PKG=", "PROFILE=")
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	return lines[len(lines)-1], stderr.String(), err
}

// invocation reads what the stand-in recorded.
func invocation(t *testing.T, ib string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(mustRead(t, filepath.Join(ib, "invocation"))), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = v
	}
	return got
}

func TestFirmware(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "lobby")
	os.WriteFile(bin, []byte("\x7fELF stand-in\n"), 0o755)

	t.Run("ath79", func(t *testing.T) {
		ib := standInIB(t, "ath79/generic", "mips_24kc", false,
			"openwrt-23.05.5-ath79-generic-tplink_archer-c7-v5-squashfs-factory.bin",
			"openwrt-23.05.5-ath79-generic-tplink_archer-c7-v5-squashfs-sysupgrade.bin")
		// An older lobby in the builder's feed must not be picked.
		os.WriteFile(filepath.Join(ib, "packages", "lobby_0.0.1-r1_mips_24kc.ipk"), []byte("old"), 0o644)
		os.WriteFile(filepath.Join(ib, "packages", "luci-app-x_1.0-r1_all.ipk"), []byte("other"), 0o644)
		out := t.TempDir()
		image, stderr, err := firmware(t, "ath79", "IB="+ib, "BIN="+bin, "OUT="+out, "GUEST_SSID=Café 'Le Zinc'", "GUEST_IPADDR=172.20.0.1")
		if err != nil {
			t.Fatalf("firmware.sh: %v\n%s", err, stderr)
		}
		if want := filepath.Join(out, "firmware", "openwrt-23.05.5-ath79-generic-tplink_archer-c7-v5-squashfs-sysupgrade.bin"); image != want {
			t.Errorf("image %q, want %q", image, want)
		}
		got := invocation(t, ib)
		want := map[string]string{"PROFILE": "tplink_archer-c7-v5", "PACKAGES": "lobby luci",
			"FILES": filepath.Join(out, "overlay"), "BIN_DIR": filepath.Join(out, "firmware")}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("make image %s=%q, want %q", k, got[k], v)
			}
		}
		if seen := mustRead(t, filepath.Join(ib, "packages.seen")); seen != "lobby_0.1.0-r1_mips_24kc.ipk\nluci-app-x_1.0-r1_all.ipk\n" {
			t.Errorf("the builder's packages/ held:\n%s", seen)
		}
		p := readIPK(t, filepath.Join(ib, "packages", "lobby_0.1.0-r1_mips_24kc.ipk"))
		if p.fields["Architecture"] != "mips_24kc" || string(p.file(p.data, "./usr/sbin/lobby").data) != "\x7fELF stand-in\n" {
			t.Errorf("the .ipk in the builder is not this build's: %v", p.fields)
		}
		if seen := mustRead(t, filepath.Join(ib, "files.seen")); seen != "./etc/lobby/site\n" {
			t.Errorf("overlay files:\n%s", seen)
		}
		// The site file reads back, through the shell the router uses.
		sh := shell(t)
		cmd := exec.Command(sh[0], append(sh[1:], "-c", `. "$1"; printf '%s|%s|%s' "$GUEST_SSID" "$GUEST_IPADDR" "$GUEST_NETMASK"`, "sh",
			filepath.Join(out, "overlay", "etc", "lobby", "site"))...)
		if b, err := cmd.Output(); err != nil || string(b) != "Café 'Le Zinc'|172.20.0.1|255.255.255.0" {
			t.Errorf("site file reads back as %q, %v", b, err)
		}
	})

	t.Run("x86-64", func(t *testing.T) {
		ib := standInIB(t, "x86/64", "x86_64", false,
			"openwrt-24.10.4-x86-64-generic-ext4-combined.img.gz",
			"openwrt-24.10.4-x86-64-generic-squashfs-combined-efi.img.gz",
			"openwrt-24.10.4-x86-64-generic-squashfs-combined.img.gz",
			"openwrt-24.10.4-x86-64-generic-squashfs-rootfs.img.gz")
		extra := t.TempDir()
		os.MkdirAll(filepath.Join(extra, "etc"), 0o755)
		os.WriteFile(filepath.Join(extra, "etc", "banner"), []byte("Welcome\n"), 0o644)
		out := t.TempDir()
		image, stderr, err := firmware(t, "x86-64", "IB="+ib, "BIN="+bin, "OUT="+out, "EXTRA_PACKAGES=", "EXTRA_FILES="+extra, "PROFILE=generic")
		if err != nil {
			t.Fatalf("firmware.sh: %v\n%s", err, stderr)
		}
		if filepath.Base(image) != "openwrt-24.10.4-x86-64-generic-squashfs-combined.img.gz" {
			t.Errorf("image %q, want the squashfs-combined one", image)
		}
		if got := invocation(t, ib); got["PACKAGES"] != "lobby" || got["PROFILE"] != "generic" {
			t.Errorf("make image %v", got)
		}
		if seen := mustRead(t, filepath.Join(ib, "files.seen")); seen != "./etc/banner\n./etc/lobby/site\n" {
			t.Errorf("overlay files:\n%s", seen)
		}
	})

	t.Run("apk builder", func(t *testing.T) {
		ib := standInIB(t, "mediatek/filogic", "aarch64_cortex-a53", true, "openwrt-25.12.0-mediatek-filogic-glinet_gl-mt6000-squashfs-sysupgrade.bin")
		_, stderr, err := firmware(t, "mediatek-filogic", "IB="+ib, "BIN="+bin, "OUT="+t.TempDir())
		if err == nil || !strings.Contains(stderr, "apk-based") || !strings.Contains(stderr, "LOBBY_PKG") {
			t.Errorf("an apk builder with our .ipk: %v\n%s", err, stderr)
		}
		apk := filepath.Join(t.TempDir(), "lobby-0.1.0-r1.apk")
		os.WriteFile(apk, []byte("apk"), 0o644)
		image, stderr, err := firmware(t, "mediatek-filogic", "IB="+ib, "OUT="+t.TempDir(), "LOBBY_PKG="+apk)
		if err != nil || !strings.HasSuffix(image, "-sysupgrade.bin") {
			t.Fatalf("with LOBBY_PKG: %v\n%s", err, stderr)
		}
		if seen := mustRead(t, filepath.Join(ib, "packages.seen")); seen != "lobby-0.1.0-r1.apk\n" {
			t.Errorf("packages/: %q", seen)
		}
	})

	for _, tc := range []struct {
		name, board string
		ib          func(t *testing.T) string
		want        string
	}{
		{"no IB", "ath79", func(t *testing.T) string { return "" }, "set IB to the unpacked Image Builder for ath79/generic"},
		{"not a builder", "ath79", func(t *testing.T) string { return t.TempDir() }, "not an unpacked Image Builder"},
		{"other target", "ath79", func(t *testing.T) string {
			return standInIB(t, "ramips/mt7621", "mipsel_24kc", false, "x-sysupgrade.bin")
		}, "an Image Builder for ramips/mt7621, but board ath79 is ath79/generic"},
		{"other arch", "ath79", func(t *testing.T) string {
			return standInIB(t, "ath79/generic", "mips_74kc", false, "x-sysupgrade.bin")
		}, "installs mips_74kc packages"},
		{"no image", "ath79", func(t *testing.T) string {
			return standInIB(t, "ath79/generic", "mips_24kc", false, "x-factory.bin")
		}, "made no sysupgrade image"},
		{"no board", "vax", func(t *testing.T) string { return "" }, "no board profile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, err := firmware(t, tc.board, "IB="+tc.ib(t), "BIN="+bin, "OUT="+t.TempDir())
			if err == nil || !strings.Contains(stderr, tc.want) {
				t.Errorf("%v\n%s\nwant an error with %q", err, stderr, tc.want)
			}
		})
	}
}
