#!/bin/sh
# make size: per board profile, the stripped binary of `make cross`, its
# xz -9 size, the board's budget and the margin left under it.
#
#   OpenWrt boards: FLASH_BUDGET, bytes of xz -9 of the binary (what the
#   squashfs pays); make cross-test enforces it.
#   Appliance boards: RAM_BUDGET, bytes the unpacked initramfs of make image
#   (build/image/BOARD/initrd.gz) holds in RAM for as long as the box runs;
#   "-" until make image has built it.
#
# `scripts/size.sh ram BOARD` checks the one appliance image against its
# RAM_BUDGET (make image runs it after each image).
set -eu
cd "$(dirname "$0")/.."
fail() { echo "size: $*" >&2; exit 1; }

# initramfs BOARD: bytes of the unpacked initramfs (the cpio archive: the
# files and their headers), or nothing without an image.
initramfs() {
	img=${IMAGE_DIR:-build/image}/$1/initrd.gz
	[ -f "$img" ] && gzip -dc "$img" | wc -c
}

if [ "${1:-}" = ram ]; then
	b=${2:?usage: scripts/size.sh ram BOARD}
	RAM_BUDGET=$(sed -n 's/^RAM_BUDGET=//p' "board/$b.conf")
	[ -n "$RAM_BUDGET" ] || fail "$b: no RAM_BUDGET in board/$b.conf"
	used=$(initramfs "$b") || fail "$b: no ${IMAGE_DIR:-build/image}/$b/initrd.gz (make image BOARD=$b)"
	[ "$used" -le "$RAM_BUDGET" ] || fail "$b: the initramfs unpacks to $used bytes, over its RAM budget of $RAM_BUDGET (docs/openwrt.md, Footprint)"
	echo "size: $b: the initramfs unpacks to $used bytes of RAM, budget $RAM_BUDGET, margin $((RAM_BUDGET - used))"
	exit 0
fi

# budget: flash counts the xz -9 size, RAM the unpacked initramfs.
printf '%-18s %10s %10s  %-6s %10s %10s %10s\n' board stripped 'xz -9' budget limit counted margin
for f in board/*.conf; do
	b=$(basename "$f" .conf)
	bin=build/$b/lobby
	[ -f "$bin" ] || fail "no $bin (make cross)"
	FLASH_BUDGET=$(sed -n 's/^FLASH_BUDGET=//p' "$f")
	RAM_BUDGET=$(sed -n 's/^RAM_BUDGET=//p' "$f")
	stripped=$(stat -c %s "$bin")
	xz=$(xz -9 -c "$bin" | wc -c)
	if [ -n "$FLASH_BUDGET" ]; then
		kind=flash used=$xz budget=$FLASH_BUDGET
	elif [ -n "$RAM_BUDGET" ]; then
		kind=RAM used=$(initramfs "$b") || used=- ; budget=$RAM_BUDGET
	else
		kind=- used=- budget=-
	fi
	margin=-
	[ "$used" = - ] || [ "$budget" = - ] || margin=$((budget - used))
	printf '%-18s %10d %10d  %-6s %10s %10s %10s\n' "$b" "$stripped" "$xz" "$kind" "$budget" "$used" "$margin"
done
