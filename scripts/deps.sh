#!/bin/sh
# Installs the Debian packages that the lab, the end-to-end tests and the
# demo use, when any is missing. Run as root; `make test` and `make demo`
# call it, and so does CI.
set -eu
PKGS="make git ca-certificates xz-utils iproute2 nftables iptables conntrack curl
dnsutils busybox isc-dhcp-client dhcpcd5 iputils-ping ipset file qemu-user-static iperf3
chromium fonts-dejavu-core nodejs poppler-utils zbar-tools
kmod cpio e2fsprogs fdisk dosfstools mtools syslinux syslinux-common
qemu-system-x86 qemu-system-arm qemu-system-mips
freeradius freeradius-utils sqlite3"
# npm drives the browser test's playwright-core. Debian packages it apart from
# nodejs; other nodejs builds bundle it and conflict with Debian's package.
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing (run as root to install them)" >&2
	exit 0
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# The RADIUS tests start FreeRADIUS themselves with a config of their own;
# the service the package enables (a RADIUS server on every address) is
# not wanted.
case "$missing" in *" freeradius"*)
	command -v systemctl >/dev/null 2>&1 && systemctl disable --now freeradius >/dev/null 2>&1 || true ;;
esac
