#!/usr/bin/env bash
# Builds a sysupgrade image with lobby in it, through OpenWrt's Image
# Builder for the board's target (docs/openwrt.md). `make firmware
# BOARD=… IB=…` runs it after building build/BOARD/lobby.
#
# usage: IB=/path/to/openwrt-imagebuilder-… scripts/firmware.sh BOARD
# Environment:
#   IB               the Image Builder directory, unpacked (required); it
#                    must be for the board's OPENWRT_TARGET
#   PROFILE          Image Builder profile (default: IB_PROFILE of the board)
#   EXTRA_PACKAGES   packages beside lobby (default "luci": the web UI that
#                    shows the guest network; set it empty to leave it out)
#   GUEST_SSID, GUEST_IPADDR, GUEST_NETMASK
#                    the guest network the image sets up at first boot
#                    (defaults Guest, 10.77.0.1, 255.255.255.0)
#   EXTRA_FILES      a directory of more files for the image's root
#   LOBBY_PKG        a lobby package to use instead of building the .ipk:
#                    an .apk built with the SDK for apk-based (25.x) builders
#   BIN              the lobby binary to package (default build/BOARD/lobby)
#   OUT              output directory (default build/BOARD)
# Output: OUT/firmware/ (the Image Builder's BIN_DIR), OUT/overlay/ (the
# files overlay) and the .ipk in OUT; the last line of stdout is the path of
# the sysupgrade image.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
die() {
	echo "firmware: $*" >&2
	exit 1
}

[ $# -eq 1 ] || {
	echo "usage: IB=/path/to/imagebuilder scripts/firmware.sh BOARD" >&2
	exit 2
}
board=$1
conf=$repo/board/$board.conf
[ -f "$conf" ] || die "no board profile $conf"
target=$(sed -n 's/^OPENWRT_TARGET=//p' "$conf")
arch=$(sed -n 's/^OPENWRT_ARCH=//p' "$conf")
profile=${PROFILE:-$(sed -n 's/^IB_PROFILE=//p' "$conf")}
[ -n "$target" ] && [ -n "$arch" ] && [ -n "$profile" ] ||
	die "$conf needs OPENWRT_TARGET, OPENWRT_ARCH and IB_PROFILE"
mkdir -p "${OUT:-$repo/build/$board}"
OUT=$(cd "${OUT:-$repo/build/$board}" && pwd -P)
export OUT

ib=${IB:-}
[ -n "$ib" ] || die "set IB to the unpacked Image Builder for $target, e.g. make firmware BOARD=$board IB=\$HOME/openwrt-imagebuilder-24.10.4-${target/\//-}.Linux-x86_64 (download: https://downloads.openwrt.org/releases/<release>/targets/$target/)"
[ -f "$ib/Makefile" ] || die "IB=$ib is not an unpacked Image Builder (no Makefile there)"
ib=$(cd "$ib" && pwd -P)

# The builder's .config names its target; a builder for another target
# would build an image that cannot boot on the board.
if [ -f "$ib/.config" ]; then
	ib_target=$(sed -n 's/^CONFIG_TARGET_BOARD="\(.*\)"/\1/p' "$ib/.config")/$(sed -n 's/^CONFIG_TARGET_SUBTARGET="\(.*\)"/\1/p' "$ib/.config")
	[ "$ib_target" = "$target" ] ||
		die "IB=$ib is an Image Builder for $ib_target, but board $board is $target: download the one for $target"
	ib_arch=$(sed -n 's/^CONFIG_TARGET_ARCH_PACKAGES="\(.*\)"/\1/p' "$ib/.config")
	[ -z "$ib_arch" ] || [ "$ib_arch" = "$arch" ] ||
		die "IB=$ib installs $ib_arch packages, but board $board's OPENWRT_ARCH is $arch: fix board/$board.conf"
fi

# OpenWrt 25.x builders install .apk packages: our .ipk cannot go in.
apk_ib=
if grep -qs '^CONFIG_USE_APK=y' "$ib/.config" || { [ -f "$ib/repositories" ] && [ ! -f "$ib/repositories.conf" ]; }; then
	apk_ib=1
fi

mkdir -p "$ib/packages"
if [ -n "${LOBBY_PKG:-}" ]; then
	[ -f "$LOBBY_PKG" ] || die "LOBBY_PKG=$LOBBY_PKG does not exist"
	case "$LOBBY_PKG" in
	*.apk) [ -n "$apk_ib" ] || die "LOBBY_PKG is an .apk but this Image Builder installs .ipk packages" ;;
	*.ipk) [ -z "$apk_ib" ] || die "LOBBY_PKG is an .ipk but this Image Builder (OpenWrt 25.x) installs .apk packages" ;;
	*) die "LOBBY_PKG must be an .ipk or an .apk" ;;
	esac
	pkg=$LOBBY_PKG
else
	[ -z "$apk_ib" ] || die "IB=$ib is apk-based (OpenWrt 25.x): build lobby's .apk with the SDK (docs/openwrt.md) and pass it as LOBBY_PKG=…/lobby-VERSION.apk"
	pkg=$("$repo/scripts/package.sh" "$board" ${BIN:+"$BIN"} | tail -n 1)
fi
# Only one lobby in the builder's local feed, so it cannot pick an old one.
rm -f "$ib"/packages/lobby_*.ipk "$ib"/packages/lobby-[0-9]*.apk
cp "$pkg" "$ib/packages/"

# The files overlay: the guest network's settings, read at first boot by
# /etc/uci-defaults/90-lobby.
overlay=$OUT/overlay
rm -rf "$overlay"
mkdir -p "$overlay/etc/lobby"
if [ -n "${EXTRA_FILES:-}" ]; then
	[ -d "$EXTRA_FILES" ] || die "EXTRA_FILES=$EXTRA_FILES is not a directory"
	cp -a "$EXTRA_FILES"/. "$overlay/"
fi
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
{
	echo "# Written by make firmware; read by /etc/uci-defaults/90-lobby at first boot."
	echo "GUEST_SSID=$(quote "${GUEST_SSID:-Guest}")"
	echo "GUEST_IPADDR=$(quote "${GUEST_IPADDR:-10.77.0.1}")"
	echo "GUEST_NETMASK=$(quote "${GUEST_NETMASK:-255.255.255.0}")"
} >"$overlay/etc/lobby/site"

bindir=$OUT/firmware
rm -rf "$bindir"
mkdir -p "$bindir"
packages="lobby ${EXTRA_PACKAGES-luci}"
echo "firmware: make image PROFILE=$profile PACKAGES=\"${packages% }\" in $ib" >&2
make -C "$ib" image PROFILE="$profile" PACKAGES="${packages% }" FILES="$overlay" BIN_DIR="$bindir" >&2

# The image to flash from a running OpenWrt (sysupgrade); x86 has none by
# that name, its squashfs-combined image is the one sysupgrade takes.
image=$(find "$bindir" -type f -name '*-sysupgrade.*' | sort | head -n 1)
[ -n "$image" ] || image=$(find "$bindir" -type f -name '*squashfs-combined*.img.gz' ! -name '*efi*' | sort | head -n 1)
[ -n "$image" ] || image=$(find "$bindir" -type f -name '*squashfs-combined*.img.gz' | sort | head -n 1)
[ -n "$image" ] || die "the Image Builder made no sysupgrade image in $bindir (it has: $(ls "$bindir" | tr '\n' ' '))"
echo "firmware: sysupgrade image for $board ($profile):" >&2
echo "$image"
