#!/usr/bin/env bash
# Builds the appliance image of a board profile (SPEC §6, docs/appliance.md):
# Debian's kernel, and an initramfs whose whole userland is lobby as /init,
# the kernel modules it needs, and its config.
#
#   scripts/image.sh BOARD        e.g. appliance-x86_64, appliance-armhf, appliance-mipsel
#
# Output in build/image/BOARD/:
#   vmlinuz       the kernel (Debian's package KERNEL_PACKAGE for DEBIAN_ARCH)
#   initrd.gz     gzip'd cpio (newc): /init = lobby, /etc/config/lobby,
#                 /etc/modules, /lib/modules/VERSION (MODULES and what they
#                 need, with depmod's modules.dep/softdep/alias/builtin),
#                 /lib/firmware (the files those modules ask for that Debian's
#                 FIRMWARE_PACKAGES ship) and those packages' copyright files
#   cmdline       the kernel command line (console, lobby.state=STATE_DEVICE)
#   dtbs/         DTBS=1: the device trees of Debian's kernel package
#   disk.img      DISK=syslinux: an MBR disk that boots with SYSLINUX from
#                 partition 1 (FAT) and keeps the state on partition 2 (ext4,
#                 label lobby-state)
#   state.img     otherwise: an empty ext4 state disk (label lobby-state)
#   image.env     what boot-test.sh needs (paths, kernel version, sizes)
#
# Environment: CONFIG (default board/appliance/config) becomes
# /etc/config/lobby; IMAGE_DIR (default build/image); IMAGE_CACHE (default
# build/image/cache: apt lists and kernel packages, reused offline).
#
# Needs: apt-get (Debian's mirror), dpkg-deb, kmod (depmod, modprobe), cpio,
# gzip, e2fsprogs; for DISK=syslinux also fdisk (sfdisk), dosfstools, mtools,
# syslinux, syslinux-common. Root only for the device node in the initramfs.
# shellcheck disable=SC2012 # its ls calls list files named by apt and Debian (no blanks)
set -euo pipefail

die() { printf 'image: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'image: %s\n' "$*" >&2; }

[ $# -eq 1 ] || die "usage: $0 BOARD (a board/appliance-*.conf profile)"
BOARD=$1
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
PROFILE=$REPO/board/$BOARD.conf
[ -f "$PROFILE" ] || die "no board profile $PROFILE"
CONFIG=${CONFIG:-$REPO/board/appliance/config}
[ -f "$CONFIG" ] || die "no config $CONFIG"
IMAGE_DIR=${IMAGE_DIR:-$REPO/build/image}
IMAGE_CACHE=${IMAGE_CACHE:-$IMAGE_DIR/cache}
OUT=$IMAGE_DIR/$BOARD

# The profile's keys, read as data (KEY=value lines, no spaces, no quotes).
key() { sed -n "s/^$1=//p" "$PROFILE" | tail -n 1; }
DEBIAN_ARCH=$(key DEBIAN_ARCH)
KERNEL_PACKAGE=$(key KERNEL_PACKAGE)
MODULES=$(key MODULES)
CONSOLE=$(key CONSOLE)
STATE_DEVICE=$(key STATE_DEVICE)
DISK=$(key DISK)
FIRMWARE_PACKAGES=$(key FIRMWARE_PACKAGES)
DTBS=$(key DTBS)
for k in DEBIAN_ARCH KERNEL_PACKAGE CONSOLE; do
	[ -n "${!k}" ] || die "$PROFILE has no $k (board/README.md lists the keys)"
done
for c in apt-get apt-cache dpkg-deb depmod modprobe cpio gzip mkfs.ext4; do
	command -v "$c" >/dev/null || die "missing $c (Debian: apt-get install -y apt kmod cpio gzip e2fsprogs)"
done
if [ "$DISK" = syslinux ]; then
	for c in sfdisk mkfs.vfat mcopy syslinux; do
		command -v "$c" >/dev/null || die "missing $c (Debian: apt-get install -y fdisk dosfstools mtools syslinux syslinux-common)"
	done
elif [ -n "$DISK" ]; then
	die "$PROFILE: DISK=$DISK; want syslinux or nothing"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lobby-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- lobby ------------------------------------------------------------------

say "building lobby for $BOARD"
make -s --no-print-directory -C "$REPO" "build/$BOARD/lobby" >&2
BIN=$REPO/build/$BOARD/lobby

# --- kernel -----------------------------------------------------------------

# A private apt state per architecture (lists and downloads under
# IMAGE_CACHE), so that the host's dpkg needs no foreign architecture and
# its own lists stay as they are. The sources are the host's Debian ones.
apt_dir=$IMAGE_CACHE/apt-$DEBIAN_ARCH
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/sources"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] || continue
	# Only Debian's own mirrors: other repositories rarely carry armhf or
	# mipsel and would only fail the update.
	grep -q 'debian' "$f" || continue
	# Firmware lives in Debian's non-free-firmware component, which a
	# host may not list: it is added here, for this private state only.
	sed -E -e '/^Components:/{/non-free-firmware/!s/$/ non-free-firmware/}' \
		-e '/^deb[[:space:]]/{/non-free-firmware/!s/$/ non-free-firmware/}' "$f" >"$apt_dir/sources/$(basename "$f")"
done
case $(ls "$apt_dir/sources") in '') die "no Debian apt sources in /etc/apt" ;; esac
apt_opts=(
	-o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir" -o "Dir::Cache::Archives=$apt_dir/archives"
	-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$apt_dir/sources"
	-o "Dir::State::status=/dev/null" -o "APT::Architecture=$DEBIAN_ARCH" -o "APT::Architectures::=$DEBIAN_ARCH"
	-o "APT::Sandbox::User=root" -o "Debug::NoLocking=1"
)
say "updating the $DEBIAN_ARCH package lists"
# A mirror that is mid-sync fails one index now and then; what was fetched
# is still used, and the resolution below says if it is not enough.
apt-get "${apt_opts[@]}" -qq update >"$WORK/apt.log" 2>&1 || say "apt-get update reported problems (going on): $(grep -m1 '^E:' "$WORK/apt.log" || true)"
pkg=$(apt-cache "${apt_opts[@]}" depends "$KERNEL_PACKAGE" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
if [ -z "$pkg" ]; then
	pkg=$(cd "$apt_dir/archives" 2>/dev/null && ls -t linux-image-[0-9]*_"$DEBIAN_ARCH".deb 2>/dev/null | head -n 1 | cut -d_ -f1)
	[ -n "$pkg" ] || die "cannot resolve $KERNEL_PACKAGE for $DEBIAN_ARCH (log: $(tail -n 3 "$WORK/apt.log"))"
	say "offline: using the cached $pkg"
else
	(cd "$apt_dir/archives" && apt-get "${apt_opts[@]}" -qq download "$pkg:$DEBIAN_ARCH") >&2 ||
		die "apt-get download $pkg:$DEBIAN_ARCH failed"
fi
deb=$(ls -t "$apt_dir/archives/${pkg}_"*"_$DEBIAN_ARCH.deb" | head -n 1)
say "kernel package $(basename "$deb")"
fwdebs=()
for p in ${FIRMWARE_PACKAGES//,/ }; do
	(cd "$apt_dir/archives" && apt-get "${apt_opts[@]}" -qq download "$p") >&2 ||
		say "apt-get download $p failed (going on with a cached one)"
	f=$(ls -t "$apt_dir/archives/${p}_"*.deb 2>/dev/null | head -n 1)
	[ -n "$f" ] || die "no package $p (FIRMWARE_PACKAGES; Debian's non-free-firmware component)"
	fwdebs+=("$f")
done
dpkg-deb -x "$deb" "$WORK/kernel"
KVER=$(ls "$WORK/kernel/lib/modules")
[ "$(echo "$KVER" | wc -l)" -eq 1 ] || die "$deb holds several kernels: $KVER"
vmlinuz=$(ls "$WORK"/kernel/boot/vmlinu[xz]-"$KVER" 2>/dev/null | head -n 1)
[ -n "$vmlinuz" ] || die "$deb has no /boot/vmlinuz-$KVER"

# --- modules ----------------------------------------------------------------

ROOT=$WORK/root
MODDIR=lib/modules/$KVER
mkdir -p "$ROOT/$MODDIR"
depmod -b "$WORK/kernel" "$KVER"
: >"$WORK/modfiles"
IFS=, read -r -a mods <<<"$MODULES"
for m in "${mods[@]}"; do
	[ -n "$m" ] || continue
	# --show-depends lists the module, what it depends on and its soft
	# dependencies, as insmod lines; built-in ones as "builtin NAME".
	out=$(modprobe -d "$WORK/kernel" -S "$KVER" --show-depends "$m" 2>&1) || die "module $m: $out"
	printf '%s\n' "$out" | awk '$1 == "insmod" { print $2 }' >>"$WORK/modfiles"
done
sort -u "$WORK/modfiles" | while read -r f; do
	rel=${f#"$WORK/kernel/"}
	mkdir -p "$ROOT/$(dirname "$rel")"
	cp "$f" "$ROOT/$rel"
done
for f in modules.builtin modules.order modules.builtin.modinfo; do
	[ -f "$WORK/kernel/$MODDIR/$f" ] && cp "$WORK/kernel/$MODDIR/$f" "$ROOT/$MODDIR/"
done
depmod -b "$ROOT" "$KVER"
# lobby reads the text files; the binary indexes are modprobe's.
rm -f "$ROOT/$MODDIR"/*.bin "$ROOT/$MODDIR/modules.builtin.modinfo" "$ROOT/$MODDIR/modules.order"
nmods=$(find "$ROOT/$MODDIR" -name '*.ko*' | wc -l)

# --- firmware -----------------------------------------------------------------

# The files the carried modules ask for at probe or open (modinfo's
# firmware lines: r8169's rtl_nic/*.fw, say) that FIRMWARE_PACKAGES ship,
# at /lib/firmware where the kernel's own loader looks (no udev helper, and
# lobby never leaves the initramfs, so it stays findable). A driver whose
# file is missing still runs without it, the kernel says so on the console.
nfw=0
if [ ${#fwdebs[@]} -gt 0 ]; then
	for f in "${fwdebs[@]}"; do
		dpkg-deb -x "$f" "$WORK/firmware"
		p=$(basename "$f" | cut -d_ -f1)
		# The licences ask for the notice to go with the files.
		mkdir -p "$ROOT/usr/share/doc/$p"
		cp "$WORK/firmware/usr/share/doc/$p/copyright" "$ROOT/usr/share/doc/$p/copyright"
	done
	find "$ROOT/$MODDIR" -name '*.ko*' -print0 | xargs -0 -n 1 modinfo -F firmware 2>/dev/null | sort -u >"$WORK/fwnames"
	while read -r fw; do
		[ -n "$fw" ] || continue
		src=$WORK/firmware/lib/firmware/$fw
		[ -f "$src" ] || continue
		mkdir -p "$ROOT/lib/firmware/$(dirname "$fw")"
		cp "$src" "$ROOT/lib/firmware/$fw"
		nfw=$((nfw + 1))
	done <"$WORK/fwnames"
	say "firmware: $nfw of the $(wc -l <"$WORK/fwnames") files the modules name, from ${FIRMWARE_PACKAGES//,/ }"
fi
tr , '\n' <<<"$MODULES" | sed '/^$/d' >"$WORK/modules.list"

# --- initramfs ----------------------------------------------------------------

mkdir -p "$ROOT/etc/config" "$ROOT/dev" "$ROOT/proc" "$ROOT/sys" "$ROOT/run" "$ROOT/tmp" "$ROOT/perm"
cp "$BIN" "$ROOT/init"
cp "$CONFIG" "$ROOT/etc/config/lobby"
{
	echo "# Kernel modules lobby loads at boot (board $BOARD), with what they need."
	cat "$WORK/modules.list"
} >"$ROOT/etc/modules"
# The kernel opens /dev/console for init before anything is mounted.
if [ "$(id -u)" -eq 0 ]; then
	mknod -m 600 "$ROOT/dev/console" c 5 1
else
	say "not root: no /dev/console in the initramfs (init starts without a console until devtmpfs)"
fi
(cd "$ROOT" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
	cpio --quiet --null -o -H newc --owner=0:0 --reproducible) | gzip -9n >"$WORK/initrd.gz"

rm -rf "$OUT"
mkdir -p "$OUT"
cp "$vmlinuz" "$OUT/vmlinuz"
cp "$WORK/initrd.gz" "$OUT/initrd.gz"
if [ "$DTBS" = 1 ]; then
	# Device trees: the board's boot loader passes its own to the kernel.
	[ -d "$WORK/kernel/usr/lib/linux-image-$KVER" ] || die "$deb has no device trees (DTBS=1)"
	cp -r "$WORK/kernel/usr/lib/linux-image-$KVER" "$OUT/dtbs"
fi
cmdline="console=$CONSOLE,115200 lobby.state=$STATE_DEVICE panic=10 loglevel=4"
echo "$cmdline" >"$OUT/cmdline"

# --- disks --------------------------------------------------------------------

STATE_MB=16
mkstate() { # FILE: an empty ext4 state file system, found by its label
	truncate -s "${STATE_MB}M" "$1"
	mkfs.ext4 -q -F -L lobby-state -m 0 "$1" >/dev/null
}
if [ "$DISK" = syslinux ]; then
	# MBR: partition 1 FAT (the boot loader, kernel, initramfs), active;
	# partition 2 ext4 (the state). SYSLINUX reads its config, kernel and
	# initramfs from the FAT; its MBR code boots the active partition.
	k=$(stat -c %s "$OUT/vmlinuz") i=$(stat -c %s "$OUT/initrd.gz")
	boot_mb=$(((k + i) / 1048576 + 8))
	truncate -s $((1 + boot_mb + STATE_MB))M "$OUT/disk.img"
	sfdisk --quiet "$OUT/disk.img" <<EOF
label: dos
start=2048, size=$((boot_mb * 2048)), type=6, bootable
start=$(((1 + boot_mb) * 2048)), size=$((STATE_MB * 2048)), type=83
EOF
	mkfs.vfat -n LOBBY -C "$WORK/boot.img" $((boot_mb * 1024)) >/dev/null
	cat >"$WORK/syslinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT lobby
PROMPT 0
TIMEOUT 0
LABEL lobby
	LINUX /vmlinuz
	INITRD /initrd.gz
	APPEND $cmdline
EOF
	mcopy -i "$WORK/boot.img" "$OUT/vmlinuz" "$OUT/initrd.gz" "$WORK/syslinux.cfg" ::
	syslinux --install "$WORK/boot.img"
	dd if="$WORK/boot.img" of="$OUT/disk.img" bs=1M seek=1 conv=notrunc status=none
	mkstate "$WORK/state.img"
	dd if="$WORK/state.img" of="$OUT/disk.img" bs=1M seek=$((1 + boot_mb)) conv=notrunc status=none
	mbr=$(ls /usr/lib/syslinux/mbr/mbr.bin /usr/lib/SYSLINUX/mbr.bin 2>/dev/null | head -n 1)
	[ -n "$mbr" ] || die "no SYSLINUX mbr.bin (Debian: syslinux-common)"
	dd if="$mbr" of="$OUT/disk.img" bs=440 count=1 conv=notrunc status=none
else
	mkstate "$OUT/state.img"
fi

size() { stat -c %s "$1"; }
{
	echo "BOARD=$BOARD"
	echo "KERNEL_VERSION=$KVER"
	echo "KERNEL_DEB=$(basename "$deb")"
	echo "MODULE_COUNT=$nmods"
	echo "FIRMWARE_COUNT=$nfw"
	echo "LOBBY_BYTES=$(size "$BIN")"
	echo "VMLINUZ_BYTES=$(size "$OUT/vmlinuz")"
	echo "INITRD_BYTES=$(size "$OUT/initrd.gz")"
	[ -f "$OUT/disk.img" ] && echo "DISK_IMG=disk.img" && echo "DISK_BYTES=$(size "$OUT/disk.img")"
	[ -f "$OUT/state.img" ] && echo "STATE_IMG=state.img"
	true
} >"$OUT/image.env"
say "$BOARD: kernel $KVER, $nmods modules; vmlinuz $(size "$OUT/vmlinuz") B, initrd.gz $(size "$OUT/initrd.gz") B (lobby $(size "$BIN") B)${DISK:+, disk.img $(size "$OUT/disk.img") B} in ${OUT#"$REPO"/}"
