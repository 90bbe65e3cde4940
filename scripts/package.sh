#!/usr/bin/env bash
# Builds the OpenWrt package of lobby for one board profile, without an
# OpenWrt SDK: an .ipk is a gzip'd tar of debian-binary, data.tar.gz and
# control.tar.gz (what OpenWrt's scripts/ipkg-build makes and opkg reads
# on 23.05 and 24.10). `make package` runs it for every board.
#
# usage: scripts/package.sh BOARD [BINARY]
#   BOARD   a profile board/BOARD.conf (its OPENWRT_ARCH is the package's
#           Architecture)
#   BINARY  the lobby binary to package (default build/BOARD/lobby, what
#           `make cross` builds)
# Environment:
#   OUT                directory for the .ipk (default build/BOARD)
#   PKG_VERSION        package version (default: scripts/pkgversion.sh)
#   PKG_RELEASE        release number (default 1)
#   SOURCE_DATE_EPOCH  file times in the archives (default: the last
#                      commit's time), so that the same inputs give the
#                      same bytes
# Prints the path of the .ipk on the last line of stdout.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
die() {
	echo "package: $*" >&2
	exit 1
}

[ $# -ge 1 ] && [ $# -le 2 ] || {
	echo "usage: scripts/package.sh BOARD [BINARY]" >&2
	exit 2
}
board=$1
conf=$repo/board/$board.conf
[ -f "$conf" ] || die "no board profile $conf (boards: $(cd "$repo/board" && ls -- *.conf | sed 's/\.conf$//' | tr '\n' ' '))"
bin=${2:-$repo/build/$board/lobby}
[ -f "$bin" ] || die "no binary $bin: run 'make cross' (or 'make build/$board/lobby') first"

arch=$(sed -n 's/^OPENWRT_ARCH=//p' "$conf")
[ -n "$arch" ] || die "$conf has no OPENWRT_ARCH"
version=$(cd "$repo" && scripts/pkgversion.sh)
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 0)}
out=${OUT:-$repo/build/$board}
files=$repo/openwrt/lobby/files

# The packages lobby needs at run time; keep in step with DEPENDS in
# openwrt/lobby/Makefile. The binary is static: no libc.
depends="kmod-nft-core, kmod-nft-nat, kmod-nf-conntrack-netlink, kmod-sched-core, kmod-sched-bpf, kmod-ifb"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
data=$work/data
ctrl=$work/control
mkdir -p "$data" "$ctrl"

# The file list, modes as OpenWrt's INSTALL_BIN/CONF/DATA give them; keep
# in step with Package/lobby/install in openwrt/lobby/Makefile.
install -d -m 0755 "$data/usr/sbin" "$data/etc/init.d" "$data/etc/config" \
	"$data/etc/uci-defaults" "$data/etc/capabilities"
install -m 0755 "$bin" "$data/usr/sbin/lobby"
install -m 0755 "$files/lobby.init" "$data/etc/init.d/lobby"
install -m 0600 "$files/lobby.config" "$data/etc/config/lobby"
install -m 0755 "$files/lobby.defaults" "$data/etc/uci-defaults/90-lobby"
install -m 0644 "$files/lobby.json" "$data/etc/capabilities/lobby.json"
chmod 0755 "$data"

# tarball DIR FILE: a reproducible tar.gz of DIR's contents, as ipkg-build
# makes them (numeric root ownership, sorted names, fixed times).
tarball() {
	tar --format=gnu --numeric-owner --owner=0 --group=0 --sort=name \
		--mtime="@$epoch" -C "$1" -cf - . | gzip -9n >"$2"
}

tarball "$data" "$work/data.tar.gz"
installed_size=$(gzip -dc "$work/data.tar.gz" | wc -c)

cat >"$ctrl/control" <<EOF
Package: lobby
Version: $version
Depends: $depends
Source: feeds/lobby/lobby
SourceName: lobby
License: NOASSERTION
Section: net
URL: https://github.com/lobby-fw/lobby
Architecture: $arch
Installed-Size: $installed_size
Description: Lobby captive portal: DHCP, DNS hijack, HTTP 511 sign-in
 redirect, sign-in pages and a firewall that lets signed-in clients through,
 in one static binary. Sets up a guest network (br-guest, firewall zone
 guest, guest SSID) on first install.
EOF
echo /etc/config/lobby >"$ctrl/conffiles"
# The maintainer scripts OpenWrt's package-pack.mk writes for every package:
# default_postinst runs the uci-defaults script, then enables and starts the
# service; default_prerm stops and disables it.
cat >"$ctrl/postinst" <<'EOF'
#!/bin/sh
[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_postinst $0 $@
EOF
cat >"$ctrl/prerm" <<'EOF'
#!/bin/sh
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_prerm $0 $@
EOF
chmod 0644 "$ctrl/control" "$ctrl/conffiles"
chmod 0755 "$ctrl/postinst" "$ctrl/prerm" "$ctrl"
tarball "$ctrl" "$work/control.tar.gz"

echo 2.0 >"$work/debian-binary"
mkdir -p "$out"
ipk=$out/lobby_${version}_${arch}.ipk
rm -f "$out"/lobby_*_"$arch".ipk
tar --format=gnu --numeric-owner --owner=0 --group=0 --mtime="@$epoch" \
	-C "$work" -cf - ./debian-binary ./data.tar.gz ./control.tar.gz | gzip -9n >"$ipk"
echo "$ipk"
