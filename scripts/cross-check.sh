#!/bin/sh
# Checks the cross builds of `make cross`: each is a statically linked ELF
# for its board's machine, and each runs (under qemu-user) `version` and
# `check` of a sample config; an OpenWrt board's binary fits its profile's
# FLASH_BUDGET (bytes of xz -9, what its squashfs pays). Then runs the unit
# tests on big-endian MIPS, where byte-order mistakes show. qemu-user has no
# nftables or neighbour netlink, so tests that need those skip there (or, for
# the firewall, are not run there).
set -eu
cd "$(dirname "$0")/.."
fail() { echo "cross-check: $*" >&2; exit 1; }

conf=$(mktemp)
trap 'rm -f "$conf"' EXIT
cat >"$conf" <<'CONF'
config lobby 'main'
	option interface 'lo'
	option session_timeout '1d12h'
	list trusted_mac '02:00:00:00:00:aa'
CONF

for f in board/*.conf; do
	b=$(basename "$f" .conf)
	bin=build/$b/lobby
	GOARCH=; GOMIPS=; GOARM=; OPENWRT_ARCH=; FLASH_BUDGET=
	. "$f"
	case $GOARCH in
	mips) machine="MIPS"; endian=MSB; qemu=qemu-mips-static ;;
	mipsle) machine="MIPS"; endian=LSB; qemu=qemu-mipsel-static ;;
	arm) machine="ARM"; endian=LSB; qemu=qemu-arm-static ;;
	arm64) machine="aarch64"; endian=LSB; qemu=qemu-aarch64-static ;;
	amd64) machine="x86-64"; endian=LSB; qemu= ;;
	*) fail "$b: no check for GOARCH=$GOARCH" ;;
	esac
	info=$(file -b "$bin")
	case $info in *"$endian"*"$machine"*"statically linked"*) ;; *) fail "$b: $bin is not a static $endian $machine ELF: $info" ;; esac
	v=$($qemu "$bin" version) || fail "$b: version failed under ${qemu:-the host}"
	case $v in *"linux/$GOARCH"*"board $b"*) ;; *) fail "$b: version says: $v" ;; esac
	out=$($qemu "$bin" check -c "$conf") || fail "$b: check failed: $out"
	case $out in *"session limit 1d12h"*"trusted MACs: 1"*) ;; *) fail "$b: check printed: $out" ;; esac
	size=
	if [ -n "$OPENWRT_ARCH" ]; then
		[ -n "$FLASH_BUDGET" ] || fail "$b: an OpenWrt board needs a FLASH_BUDGET in $f"
		size=$(xz -9 -c "$bin" | wc -c)
		[ "$size" -le "$FLASH_BUDGET" ] || fail "$b: $size bytes of xz, over its flash budget of $FLASH_BUDGET (docs/openwrt.md, Footprint)"
		size=", $size bytes of xz, budget $FLASH_BUDGET"
	fi
	echo "cross-check: $b ok ($v$size)"
done

echo "cross-check: unit tests on big-endian MIPS (qemu-mips-static)"
# internal/firewall is left out: its tests drive nf_tables over netlink in a
# fresh network namespace, which qemu-user cannot pass through.
GOARCH=mips GOMIPS=softfloat go test -count=1 -exec qemu-mips-static $(go list ./internal/... | grep -v /internal/firewall)
