#!/usr/bin/env bash
# Lobby test lab: network namespaces standing in for a captive-portal router,
# its LAN clients and "the internet". Every end-to-end test and `make demo`
# use it; the names below are fixed and tests hard-code them.
#
#   scripts/lab.sh up [N]   build and start (or repair) the lab with N clients
#   scripts/lab.sh reset    undo what a test changed (addresses, neighbours, …)
#   scripts/lab.sh down     remove everything the lab made
#   scripts/lab.sh status   show the lab; exit 0 only if it is up and serving
#
# Topology:
#   lobby-c1..N   eth0 (MAC 02:00:00:00:01:KK, up, no IPv4, accept_ra off),
#                 resolv.conf (/etc/netns/NAME) naming 10.77.0.1
#        |  veth
#   lobby-router  lan1..N in bridge br-lan (10.77.0.1/24, fd77::1/64)
#                 wan 192.0.2.1/24, 2001:db8:2::1/64, default routes to
#                 lobby-inet; forwarding on; nft table `ip lab` masquerades
#                 IPv4 leaving wan; IPv6 is routed as is
#        |  veth
#   lobby-inet    eth0 192.0.2.254/24, 2001:db8:2::fe/64, route fd77::/64
#                 lo: 198.51.100.10 (origin), .53 (DNS), .11-.20 (spare
#                 origins), 2001:db8:100::10
#                 runs scripts/internet (HTTP :80, HTTPS :443, DNS on .53)
#
# With LAB_ROUTERS=2 a second router shares the internet segment (two Lobby
# routers on one RADIUS server, SPEC §7):
#   lobby-r2c1..N eth0 (MAC 02:00:00:00:02:KK), as lobby-cK
#        |  veth
#   lobby-router2 lan1..N in br-lan (MAC 02:00:00:00:00:02; 10.77.0.1/24,
#                 fd77::1/64: the same LAN addresses as lobby-router)
#                 wan 192.0.2.2/24, 2001:db8:2::2/64, default routes to
#                 lobby-inet; nft table `ip lab` masquerades IPv4 leaving
#                 wan; its LAN's IPv6 is not routed back (fd77::/64 goes to
#                 lobby-router)
#        |  veth
#   lobby-inet    eth0 (to lobby-router) and eth1 (to lobby-router2) in
#                 bridge br-wan, which has eth0's addresses instead
#
# Environment:
#   LAB_PREFIX         namespace prefix (default lobby: lobby-router, …), so
#                      that several labs can run side by side
#   LAB_ROUTER         internal (default): the router namespace routes, as
#                      above. external: the router is outside the lab (the
#                      appliance VM of scripts/boot-test.sh): lobby-router
#                      only switches, with br-lan (the clients' lan veths)
#                      and br-wan (the wan veth) and no address, route or
#                      nft table, for the router's taps to join; the
#                      internet gets no route to the LAN (the router NATs)
#   LAB_CLIENTS        number of clients (default 3; the N argument wins),
#                      on each router
#   LAB_ROUTERS        1 (default) or 2: with 2, `up` adds lobby-router2
#                      and its clients; with 1 it removes them
#   LAB_DIR            pid file, binary, logs, CA (default /run/lobby-lab)
#   LAB_WAIT           seconds `up` waits for the internet to answer (20)
#   LAB_INTERNET_ARGS  extra flags for the internet program, split on
#                      blanks, e.g. "-a shop.test=198.51.100.12"
#   GO                 the go command (default: go on PATH, then
#                      /usr/local/go/bin/go)
#
# Files in LAB_DIR: internet (binary), internet.pid, internet.log,
# internet-ca.pem (the CA that signs the HTTPS certificates), build.log.
#
# Needs root, iproute2, nftables, curl, dnsutils (dig), util-linux (flock,
# setsid) and Go. Nothing is created in the host's own network namespace.

set -eu
set -o pipefail
set -E # the ERR trap below also fires inside functions

# LAB_PREFIX lets several labs live side by side (default: lobby).
LAB_PREFIX=${LAB_PREFIX:-lobby}
case $LAB_PREFIX in *[!a-z0-9]* | "") echo "lab: LAB_PREFIX must be lowercase letters and digits" >&2; exit 2 ;; esac
readonly NS_ROUTER=$LAB_PREFIX-router
readonly NS_INET=$LAB_PREFIX-inet
readonly NS_CLIENT=$LAB_PREFIX-c # + index
readonly NS_ROUTER2=$LAB_PREFIX-router2
readonly NS_CLIENT2=$LAB_PREFIX-r2c # + index
readonly MAX_CLIENTS=254

SCRIPT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/$(basename "${BASH_SOURCE[0]}")
REPO_ROOT=$(cd "$(dirname "$SCRIPT")/.." && pwd -P)
LAB_DIR=${LAB_DIR:-/run/$LAB_PREFIX-lab}
LAB_WAIT=${LAB_WAIT:-20}
LAB_INTERNET_ARGS=${LAB_INTERNET_ARGS:-}
LAB_ROUTER=${LAB_ROUTER:-internal}
case $LAB_ROUTER in internal | external) ;; *) echo "lab: LAB_ROUTER must be internal or external" >&2; exit 2 ;; esac
LAB_ROUTERS=${LAB_ROUTERS:-1}
case $LAB_ROUTER/$LAB_ROUTERS in internal/1 | internal/2 | external/1) ;; *) echo "lab: LAB_ROUTERS must be 1 or 2 (2 only with an internal router)" >&2; exit 2 ;; esac
INTERNET_BIN=$LAB_DIR/internet
INTERNET_PID=$LAB_DIR/internet.pid
INTERNET_LOG=$LAB_DIR/internet.log
INTERNET_CA=$LAB_DIR/internet-ca.pem
INTERNET_STAMP=$LAB_DIR/internet.stamp
MARKER=$LAB_DIR/.lobby-lab

say() { printf 'lab: %s\n' "$*" >&2; }

# A failing command (set -e) says what failed, once, from the main shell.
on_err() {
	[ "$BASH_SUBSHELL" -eq 0 ] || return 0
	printf 'lab: error: command failed (exit %s, line %s): %s\n' "$1" "$2" "$3" >&2
}
trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR
die() {
	printf 'lab: error: %s\n' "$*" >&2
	exit 1
}

usage() {
	cat <<EOF
usage: $(basename "$SCRIPT") up [N] | reset | down | status

  up [N]   create or repair the lab with N clients (default \$LAB_CLIENTS or 3),
           build and start the fake internet, wait until it answers
  reset    undo what tests change (client addresses, routes, neighbour
           entries, tracked connections) in a lab that is up
  down     stop the fake internet, delete every lobby-* namespace, remove \$LAB_DIR
  status   print namespaces, addresses and the fake internet's state;
           exit 0 only if the lab is up and the fake internet runs

environment: LAB_CLIENTS, LAB_ROUTERS, LAB_DIR (now $LAB_DIR), LAB_WAIT, LAB_INTERNET_ARGS, GO
EOF
}

# --- checks -----------------------------------------------------------------

check_lab_dir() {
	case $LAB_DIR in
	/*) ;;
	*) die "LAB_DIR must be an absolute path (got '$LAB_DIR')" ;;
	esac
	case ${LAB_DIR%/} in
	"" | /run | /tmp | /var | /var/tmp | /var/run | /home | /root | /usr | /etc | /opt | /srv | /work | /dev | /proc | /sys)
		die "LAB_DIR=$LAB_DIR is too broad; use a directory of its own"
		;;
	esac
}

need_root() {
	[ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces need it)"
}

need_cmds() {
	local c missing=
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
	done
	[ -z "$missing" ] || die "missing commands:$missing (Debian: apt-get install -y iproute2 nftables curl dnsutils util-linux)"
}

# Serialise concurrent runs: an exclusive lock on this script file.
take_lock() {
	exec 9<"$SCRIPT"
	flock -w 300 9 || die "another lab.sh is still running (waited 300 s for its lock)"
}

# --- namespace helpers ------------------------------------------------------

# lab_namespaces prints every lobby-* namespace name.
lab_namespaces() {
	ip netns list 2>/dev/null | awk -v p="$LAB_PREFIX-" 'index($1, p) == 1 { print $1 }'
}

ns_listed() {
	lab_namespaces | grep -qx -- "$1"
}

# ns_ensure makes namespace $1 exist and work (a stale entry left by an
# interrupted `ip netns add` is recreated).
ns_ensure() {
	if ns_listed "$1"; then
		ip netns exec "$1" true 2>/dev/null && return 0
		say "namespace $1 is broken; recreating it"
		ip netns del "$1" 2>/dev/null || rm -f "/run/netns/$1"
	fi
	ip netns add "$1" || die "cannot create namespace $1"
}

# nsysctl NS key=value... sets sysctls inside a namespace; a key starting
# with '?' is skipped when absent.
nsysctl() {
	local ns=$1
	shift
	# shellcheck disable=SC2016 # the inner script expands its own variables
	ip netns exec "$ns" sh -c '
		rc=0
		for kv; do
			key=${kv%%=*} val=${kv#*=} opt=
			case $key in \?*) key=${key#\?} opt=1 ;; esac
			f=/proc/sys/$(echo "$key" | tr . /)
			if [ ! -e "$f" ]; then
				[ -n "$opt" ] && continue
				echo "lab: error: sysctl $key does not exist" >&2; rc=1; continue
			fi
			echo "$val" >"$f" || { echo "lab: error: cannot set $key=$val" >&2; rc=1; }
		done
		exit $rc' sh "$@" || die "setting sysctls in $ns failed"
}

link_exists() { ip -n "$1" link show dev "$2" >/dev/null 2>&1; }

# ifindex NS DEV, peer_index NS DEV (the @ifN of a veth).
ifindex() { ip -n "$1" -o link show dev "$2" 2>/dev/null | sed -n 's/^\([0-9]*\): .*/\1/p'; }
peer_index() { ip -n "$1" -o link show dev "$2" 2>/dev/null | sed -n 's/^[0-9]*: [^@:]*@if\([0-9]*\):.*/\1/p'; }

# veth_ensure makes a veth pair: $2 in $1 and $4 in $3 (with MAC $5 if
# given). A lone end, or a pair that is not each other's peer, is replaced.
veth_ensure() {
	local ns_a=$1 dev_a=$2 ns_b=$3 dev_b=$4 mac=${5:-}
	if link_exists "$ns_a" "$dev_a" && link_exists "$ns_b" "$dev_b" &&
		[ "$(peer_index "$ns_a" "$dev_a")" = "$(ifindex "$ns_b" "$dev_b")" ] &&
		[ "$(peer_index "$ns_b" "$dev_b")" = "$(ifindex "$ns_a" "$dev_a")" ]; then
		:
	else
		link_exists "$ns_a" "$dev_a" && ip -n "$ns_a" link del dev "$dev_a"
		link_exists "$ns_b" "$dev_b" && ip -n "$ns_b" link del dev "$dev_b"
		if [ -n "$mac" ]; then
			ip -n "$ns_a" link add "$dev_a" type veth peer name "$dev_b" address "$mac" netns "$ns_b"
		else
			ip -n "$ns_a" link add "$dev_a" type veth peer name "$dev_b" netns "$ns_b"
		fi || die "cannot create veth $ns_a/$dev_a <-> $ns_b/$dev_b"
	fi
	if [ -n "$mac" ]; then
		[ "$(link_mac "$ns_b" "$dev_b")" = "$mac" ] || ip -n "$ns_b" link set dev "$dev_b" address "$mac"
	fi
}

# link_mac NS DEV prints the MAC of DEV in namespace NS.
link_mac() { ip -n "$1" -o link show dev "$2" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'; }

# client_mac K [R]: the MAC of client K of router R (default 1).
client_mac() { printf '02:00:00:00:%02x:%02x' "${2:-1}" "$1"; }

# --- processes --------------------------------------------------------------

# ancestors prints this shell's pid and those of its ancestors (never killed).
ancestors() {
	local p=$$
	while [ -n "$p" ] && [ "$p" -gt 1 ] 2>/dev/null; do
		echo "$p"
		p=$(sed -n 's/.*) [A-Za-z] \([0-9]*\) .*/\1/p' "/proc/$p/stat" 2>/dev/null || true)
	done
}

# terminate PID... sends SIGTERM, waits up to 5 s, then SIGKILL.
terminate() {
	local p i alive
	[ $# -gt 0 ] || return 0
	kill -TERM "$@" 2>/dev/null || true
	for i in $(seq 50); do
		alive=
		for p in "$@"; do
			kill -0 "$p" 2>/dev/null && alive="$alive $p"
		done
		[ -n "$alive" ] || return 0
		sleep 0.1
	done
	say "killing (SIGKILL) pids:$alive"
	# shellcheck disable=SC2086
	kill -KILL $alive 2>/dev/null || true
}

# internet_pids prints the pids running this lab's internet binary,
# whatever namespace they are in (also one whose namespace was deleted or
# whose binary was replaced).
internet_pids() {
	local d exe
	for d in /proc/[0-9]*; do
		exe=$(readlink "$d/exe" 2>/dev/null) || continue
		case $exe in
		"$INTERNET_BIN" | "$INTERNET_BIN (deleted)") echo "${d#/proc/}" ;;
		esac
	done
}

stop_internet() {
	local pids
	pids=$(internet_pids | tr '\n' ' ')
	if [ -n "${pids// /}" ]; then
		say "stopping the internet program (pid ${pids% })"
		# shellcheck disable=SC2086
		terminate $pids
	fi
	rm -f "$INTERNET_PID" "$INTERNET_STAMP"
}

# internet_running succeeds if the pid file names a live internet program
# inside the current lobby-inet.
internet_running() {
	local pid exe
	[ -s "$INTERNET_PID" ] || return 1
	pid=$(cat "$INTERNET_PID")
	case $pid in '' | *[!0-9]*) return 1 ;; esac
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
	[ "$exe" = "$INTERNET_BIN" ] || return 1
	[ "$(ip netns identify "$pid" 2>/dev/null)" = "$NS_INET" ]
}

# kill_ns_procs NS terminates every process inside namespace NS.
kill_ns_procs() {
	local ns=$1 pids p keep
	keep=" $(ancestors | tr '\n' ' ') "
	pids=
	for p in $(ip netns pids "$ns" 2>/dev/null || true); do
		case $keep in *" $p "*) continue ;; esac
		pids="$pids $p"
	done
	[ -n "$pids" ] || return 0
	say "stopping processes in $ns:$(for p in $pids; do printf ' %s(%s)' "$p" "$(cat "/proc/$p/comm" 2>/dev/null || echo '?')"; done)"
	# shellcheck disable=SC2086
	terminate $pids
}

ns_delete() {
	kill_ns_procs "$1"
	ip netns del "$1" 2>/dev/null || {
		rm -f "/run/netns/$1" 2>/dev/null || true
	}
	! ns_listed "$1" || die "cannot delete namespace $1"
	rm -rf "/etc/netns/$1"
	say "deleted namespace $1"
}

# --- up ---------------------------------------------------------------------

find_go() {
	if [ -n "${GO:-}" ]; then
		echo "$GO"
	elif command -v go >/dev/null 2>&1; then
		command -v go
	elif [ -x /usr/local/go/bin/go ]; then
		echo /usr/local/go/bin/go
	else
		die "go not found (set GO=/path/to/go)"
	fi
}

build_internet() {
	local go
	go=$(find_go)
	say "building scripts/internet"
	if ! (cd "$REPO_ROOT" && "$go" build -buildvcs=false -o "$INTERNET_BIN.new" ./scripts/internet) >"$LAB_DIR/build.log" 2>&1; then
		cat "$LAB_DIR/build.log" >&2
		rm -f "$INTERNET_BIN.new"
		die "building scripts/internet failed (log: $LAB_DIR/build.log)"
	fi
}

# setup_router [NS BRMAC]: the router namespace (default lobby-router) and
# its LAN bridge.
setup_router() {
	local r=${1:-$NS_ROUTER} brmac=${2:-02:00:00:00:00:01}
	ns_ensure "$r"
	# Defaults first, so interfaces made later inherit them: no DAD delay.
	nsysctl "$r" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 net.ipv6.conf.default.forwarding=1 \
		'?net.bridge.bridge-nf-call-iptables=0' '?net.bridge.bridge-nf-call-ip6tables=0' \
		'?net.bridge.bridge-nf-call-arptables=0'
	ip -n "$r" link set lo up

	if ! link_exists "$r" br-lan; then
		ip -n "$r" link add br-lan type bridge || die "cannot create bridge br-lan"
	fi
	ip -n "$r" link set dev br-lan type bridge stp_state 0 forward_delay 0 mcast_snooping 0
	ip -n "$r" link set dev br-lan address "$brmac"
	nsysctl "$r" net.ipv6.conf.br-lan.accept_dad=0
	ip -n "$r" link set dev br-lan up
	if [ "$LAB_ROUTER" = external ]; then
		# Only a switch: no address for the clients to find here.
		nsysctl "$r" net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0 net.ipv6.conf.br-lan.disable_ipv6=1
		ip -n "$r" addr flush dev br-lan
		return
	fi
	nsysctl "$r" net.ipv6.conf.br-lan.disable_ipv6=0
	ip -n "$r" addr replace 10.77.0.1/24 dev br-lan
	ip -n "$r" -6 addr replace fd77::1/64 dev br-lan nodad
}

setup_inet() {
	local i=$NS_INET n
	ns_ensure "$i"
	nsysctl "$i" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
	ip -n "$i" link set lo up
	ip -n "$i" addr replace 198.51.100.10/32 dev lo
	ip -n "$i" addr replace 198.51.100.53/32 dev lo
	for n in $(seq 11 20); do
		ip -n "$i" addr replace "198.51.100.$n/32" dev lo
	done
	ip -n "$i" -6 addr replace 2001:db8:100::10/128 dev lo nodad
}

setup_wan() {
	local r=$NS_ROUTER i=$NS_INET
	veth_ensure "$r" wan "$i" eth0
	nsysctl "$r" net.ipv6.conf.wan.accept_dad=0
	nsysctl "$i" net.ipv6.conf.eth0.accept_dad=0 net.ipv6.conf.eth0.accept_ra=0
	ip -n "$r" link set dev wan up
	ip -n "$i" link set dev eth0 up
	inet_segment
	local seg
	seg=$(inet_wan_dev)
	if [ "$LAB_ROUTER" = external ]; then
		# The wan veth joins br-wan, where the external router's uplink
		# tap goes; the router gets its address by DHCP (boot-test.sh
		# serves one in the internet namespace).
		ip -n "$r" addr flush dev wan
		link_exists "$r" br-wan || ip -n "$r" link add br-wan type bridge || die "cannot create bridge br-wan"
		ip -n "$r" link set dev br-wan type bridge stp_state 0 forward_delay 0 mcast_snooping 0
		nsysctl "$r" net.ipv6.conf.br-wan.disable_ipv6=1
		ip -n "$r" link set dev wan master br-wan
		ip -n "$r" link set dev br-wan up
		ip -n "$i" -6 route del fd77::/64 2>/dev/null || true
		return
	fi
	if link_exists "$r" br-wan; then
		ip -n "$r" link set dev wan nomaster
		ip -n "$r" link del br-wan
	fi
	ip -n "$r" addr replace 192.0.2.1/24 dev wan
	ip -n "$r" -6 addr replace 2001:db8:2::1/64 dev wan nodad
	ip -n "$r" route replace default via 192.0.2.254 dev wan
	ip -n "$r" -6 route replace default via 2001:db8:2::fe dev wan
	ip -n "$i" -6 route replace fd77::/64 via 2001:db8:2::1 dev "$seg"
}

# inet_wan_dev prints the internet's device on the routers' segment: eth0,
# or br-wan when two routers share it.
inet_wan_dev() { if [ "$LAB_ROUTERS" = 2 ]; then echo br-wan; else echo eth0; fi; }

# inet_segment puts the internet's segment addresses on eth0 (one router)
# or on bridge br-wan with eth0 and eth1 (two), undoing the other layout.
inet_segment() {
	local i=$NS_INET dev
	dev=$(inet_wan_dev)
	if [ "$dev" = br-wan ]; then
		link_exists "$i" br-wan || ip -n "$i" link add br-wan type bridge || die "cannot create bridge br-wan in $i"
		ip -n "$i" link set dev br-wan type bridge stp_state 0 forward_delay 0 mcast_snooping 0
		# The gateway keeps eth0's MAC in both layouts: a bridge left to
		# itself takes its lowest port's, and when that was eth1 the first
		# router's neighbour entry for 192.0.2.254 pointed nowhere after
		# the bridge went, for up to 50 s.
		ip -n "$i" link set dev br-wan address "$(link_mac "$i" eth0)"
		nsysctl "$i" net.ipv6.conf.br-wan.accept_dad=0 net.ipv6.conf.br-wan.accept_ra=0
		ip -n "$i" addr flush dev eth0
		ip -n "$i" link set dev eth0 master br-wan
		ip -n "$i" link set dev br-wan up
	elif link_exists "$i" br-wan; then
		ip -n "$i" link del br-wan
	fi
	ip -n "$i" addr replace 192.0.2.254/24 dev "$dev"
	ip -n "$i" -6 addr replace 2001:db8:2::fe/64 dev "$dev" nodad
}

# setup_wan2 links lobby-router2's wan to the internet's br-wan.
setup_wan2() {
	local r=$NS_ROUTER2 i=$NS_INET
	veth_ensure "$r" wan "$i" eth1
	nsysctl "$r" net.ipv6.conf.wan.accept_dad=0
	nsysctl "$i" net.ipv6.conf.eth1.accept_dad=0 net.ipv6.conf.eth1.accept_ra=0
	ip -n "$i" link set dev eth1 master br-wan up
	ip -n "$r" link set dev wan up
	ip -n "$r" addr replace 192.0.2.2/24 dev wan
	ip -n "$r" -6 addr replace 2001:db8:2::2/64 dev wan nodad
	ip -n "$r" route replace default via 192.0.2.254 dev wan
	ip -n "$r" -6 route replace default via 2001:db8:2::fe dev wan
}

# setup_nft [NS]: the masquerade of router NS (default lobby-router).
setup_nft() {
	local r=${1:-$NS_ROUTER}
	if [ "$LAB_ROUTER" = external ]; then
		ip netns exec "$r" nft delete table ip lab 2>/dev/null || true
		return
	fi
	# One transaction: create-if-missing, delete, recreate. Only the lab's
	# own table is touched; the product's tables (inet lobby) are not.
	ip netns exec "$r" nft -f - <<'EOF' || die "loading nft table ip lab in $r failed"
table ip lab
delete table ip lab
table ip lab {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" masquerade
	}
}
EOF
}

# setup_client K [R]: client K of router R (1, the default, or 2).
setup_client() {
	local k=$1 c=$NS_CLIENT$1 r=$NS_ROUTER mac
	if [ "${2:-1}" = 2 ]; then c=$NS_CLIENT2$1 r=$NS_ROUTER2; fi
	mac=$(client_mac "$k" "${2:-1}")
	ns_ensure "$c"
	nsysctl "$c" net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
	ip -n "$c" link set lo up
	veth_ensure "$r" "lan$k" "$c" eth0 "$mac"
	nsysctl "$c" net.ipv6.conf.eth0.accept_dad=0 net.ipv6.conf.eth0.accept_ra=0
	ip -n "$r" link set dev "lan$k" master br-lan up
	ip -n "$c" link set dev eth0 up
	# The resolver a DHCP client of the router would be given; `ip netns
	# exec` shows this file as the namespace's /etc/resolv.conf, so programs
	# in the client (curl, browsers, dhclient's script) never touch the
	# host's.
	mkdir -p "/etc/netns/$c"
	echo "nameserver 10.77.0.1" >"/etc/netns/$c/resolv.conf"
	reset_client "$c" "$mac"
}

# reset_client converges client namespace $1 to the documented state: its
# MAC $2 (a test of a device that moves to the other router gives a client
# there the same MAC), no global address or route left over from an
# earlier test (DHCP or static), and no neighbour entry learnt with it. Two
# `ip -batch` runs, not one `ip` per step: every end-to-end test ends with
# a reset, and on a loaded machine each process costs tens of milliseconds.
reset_client() {
	local c=$1 mac=$2 proto
	{
		echo "link set dev eth0 address $mac"
		echo "address flush dev eth0 scope global"
		echo "route flush dev eth0"
		echo "neigh flush dev eth0"
	} | ip -n "$c" -4 -force -batch - 2>/dev/null || true
	{
		echo "address flush dev eth0 scope global"
		for proto in boot static ra dhcp; do
			echo "route flush dev eth0 proto $proto"
		done
		echo "neigh flush dev eth0"
	} | ip -n "$c" -6 -force -batch - 2>/dev/null || true
}

# reset_router makes the router forget the clients of an earlier test: its
# neighbour entries on the LAN and its connection tracking. An entry for an
# address a client no longer has lives on, and its late state changes (a
# DELAY that turns REACHABLE up to 5 s after the last traffic) tell the
# next lobby that the client's MAC is at that old address.
reset_router() {
	local r
	[ "$LAB_ROUTER" = internal ] || return 0
	for r in "$NS_ROUTER" "$NS_ROUTER2"; do
		ns_listed "$r" || continue
		ip -n "$r" neigh flush dev br-lan 2>/dev/null || true
		ip -n "$r" neigh flush dev wan 2>/dev/null || true
		if command -v conntrack >/dev/null 2>&1; then
			ip netns exec "$r" conntrack -F >/dev/null 2>&1 || true
		fi
	done
}

# client_of NS prints "K R" when NS is client K of router R (1 or 2), and
# nothing for any other namespace.
client_of() {
	local k
	k=${1#"$NS_CLIENT2"}
	case $k in '' | *[!0-9]* | "$1") ;; *) echo "$((10#$k)) 2" && return 0 ;; esac
	k=${1#"$NS_CLIENT"}
	case $k in '' | *[!0-9]* | "$1") ;; *) echo "$((10#$k)) 1" ;; esac
}

# remove_extra_clients N removes clients beyond N, and the second router
# with its clients unless LAB_ROUTERS=2.
remove_extra_clients() {
	local n=$1 ns k r
	for ns in $(lab_namespaces); do
		if [ "$ns" = "$NS_ROUTER2" ]; then
			[ "$LAB_ROUTERS" = 2 ] || ns_delete "$ns"
			continue
		fi
		read -r k r <<<"$(client_of "$ns")"
		[ -n "$k" ] || continue
		if [ "$k" -gt "$n" ] || { [ "$r" = 2 ] && [ "$LAB_ROUTERS" != 2 ]; }; then
			ns_delete "$ns"
		fi
	done
}

internet_args() {
	printf '%s\n' -http :80 -https :443 -dns 198.51.100.53:53 -ca-out "$INTERNET_CA"
	# Split on blanks, without glob expansion ("-a *.x.test=..." stays as is).
	# shellcheck disable=SC2086
	[ -z "$LAB_INTERNET_ARGS" ] || (set -f && printf '%s\n' $LAB_INTERNET_ARGS)
}

start_internet() {
	local stamp pid args
	mapfile -t args < <(internet_args)
	stamp="$(sha256sum <"$INTERNET_BIN.new" | cut -d' ' -f1) ${args[*]}"
	if internet_running && [ -f "$INTERNET_BIN" ] && [ "$(cat "$INTERNET_STAMP" 2>/dev/null)" = "$stamp" ]; then
		rm -f "$INTERNET_BIN.new"
		say "internet program already running (pid $(cat "$INTERNET_PID")), unchanged"
		return 0
	fi
	stop_internet
	mv -f "$INTERNET_BIN.new" "$INTERNET_BIN"
	printf '\n=== %s start: %s %s\n' "$(date '+%F %T')" "$INTERNET_BIN" "${args[*]}" >>"$INTERNET_LOG"
	# The subshell closes every inherited descriptor above 2 (this script's
	# lock, a caller's pipes) so that the program holds none of them; setsid
	# gives it its own session, so no terminal signal or hangup reaches it.
	# The subshell, `ip netns exec` and setsid all exec: $! is its pid.
	(
		for fd in "/proc/$BASHPID/fd/"*; do
			fd=${fd##*/}
			[ "$fd" -le 2 ] || eval "exec $fd>&-"
		done
		exec ip netns exec "$NS_INET" setsid "$INTERNET_BIN" "${args[@]}"
	) >>"$INTERNET_LOG" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$INTERNET_PID"
	echo "$stamp" >"$INTERNET_STAMP"
	say "started the internet program in $NS_INET (pid $pid, log $INTERNET_LOG)"
}

# probe NS: does the fake internet answer HTTP, HTTPS and DNS (UDP, TCP)
# from namespace NS?
probe() {
	local ns=$1 code
	code=$(ip netns exec "$ns" curl --noproxy '*' -s -o /dev/null -w '%{http_code}' --max-time 2 http://198.51.100.10/generate_204 2>/dev/null) || return 1
	[ "$code" = 204 ] || return 1
	code=$(ip netns exec "$ns" curl --noproxy '*' -sk -o /dev/null -w '%{http_code}' --max-time 2 https://198.51.100.10/generate_204 2>/dev/null) || return 1
	[ "$code" = 204 ] || return 1
	[ "$(ip netns exec "$ns" dig +short +time=1 +tries=1 @198.51.100.53 lab-ready.test A 2>/dev/null)" = 198.51.100.10 ] || return 1
	[ "$(ip netns exec "$ns" dig +tcp +short +time=1 +tries=1 @198.51.100.53 lab-ready.test A 2>/dev/null)" = 198.51.100.10 ] || return 1
}

# wait_probe NS waits up to LAB_WAIT seconds for the internet to answer
# from NS (the second router, once the first one's probe passed).
wait_probe() {
	local deadline=$(($(date +%s) + LAB_WAIT))
	until probe "$1"; do
		[ "$(date +%s)" -lt "$deadline" ] || die "the internet does not answer from $1 after ${LAB_WAIT}s: check routes ('$(basename "$SCRIPT") status')"
		sleep 0.2
	done
}

# last_run_log prints the log of the latest start (at most 40 lines).
last_run_log() {
	awk '/^=== / { n = 0 } { line[n++] = $0 } END { for (i = (n > 40 ? n - 40 : 0); i < n; i++) print line[i] }' "$INTERNET_LOG" 2>/dev/null || true
}

wait_internet() {
	local pid deadline
	pid=$(cat "$INTERNET_PID")
	deadline=$(($(date +%s) + LAB_WAIT))
	while :; do
		if ! kill -0 "$pid" 2>/dev/null; then
			last_run_log >&2
			rm -f "$INTERNET_PID" "$INTERNET_STAMP"
			die "the internet program (pid $pid) exited; log above and in $INTERNET_LOG"
		fi
		# With an external router nothing in the lab routes yet: the
		# internet is probed from inside.
		if [ "$LAB_ROUTER" = external ]; then probe "$NS_INET" && return 0; else probe "$NS_ROUTER" && return 0; fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			last_run_log >&2
			if probe "$NS_INET"; then
				die "the internet program answers inside $NS_INET but not from $NS_ROUTER after ${LAB_WAIT}s: check routes ('$(basename "$SCRIPT") status')"
			fi
			die "the internet program (pid $pid) did not answer HTTP/HTTPS/DNS within ${LAB_WAIT}s; log above and in $INTERNET_LOG"
		fi
		sleep 0.2
	done
}

cmd_up() {
	local n=${1:-${LAB_CLIENTS:-3}} k
	case $n in '' | *[!0-9]*) die "client count must be a number (got '$n')" ;; esac
	n=$((10#$n))
	if [ "$n" -lt 1 ] || [ "$n" -gt "$MAX_CLIENTS" ]; then die "client count must be 1..$MAX_CLIENTS (got $n)"; fi

	need_root
	need_cmds ip nft curl dig flock setsid sha256sum
	take_lock
	# shellcheck disable=SC2154 # rc is set inside the trap
	trap 'rc=$?; [ "$rc" -eq 0 ] || say "up failed; the lab may be half made: run up again, or down"' EXIT

	mkdir -p "$LAB_DIR"
	touch "$MARKER"
	build_internet

	say "setting up the lab with $n client(s)"
	remove_extra_clients "$n"
	setup_router
	setup_inet
	setup_wan
	setup_nft
	reset_router
	for k in $(seq 1 "$n"); do
		setup_client "$k"
	done
	if [ "$LAB_ROUTERS" = 2 ]; then
		setup_router "$NS_ROUTER2" 02:00:00:00:00:02
		setup_wan2
		setup_nft "$NS_ROUTER2"
		for k in $(seq 1 "$n"); do
			setup_client "$k" 2
		done
	fi

	start_internet
	wait_internet
	local clients=${NS_CLIENT}1
	[ "$n" -eq 1 ] || clients="$clients..${NS_CLIENT}$n"
	if [ "$LAB_ROUTERS" = 2 ]; then
		wait_probe "$NS_ROUTER2"
		clients="$clients, $NS_ROUTER2, ${NS_CLIENT2}1"
		[ "$n" -eq 1 ] || clients="$clients..${NS_CLIENT2}$n"
	fi
	say "lab is up: $NS_ROUTER, $NS_INET, $clients (LAB_DIR=$LAB_DIR)"
}

# --- reset ------------------------------------------------------------------

# cmd_reset brings a lab that is up back to the state `up` leaves, fast:
# what tests change (client addresses, routes, neighbour entries, tracked
# connections) is undone; links, namespaces and the internet stay. Every
# end-to-end test ends with it, so that the next one starts clean.
cmd_reset() {
	local ns k r
	need_root
	need_cmds ip
	take_lock
	ns_listed "$NS_ROUTER" || die "no lab with prefix $LAB_PREFIX is up (run up)"
	reset_router
	for ns in $(lab_namespaces); do
		read -r k r <<<"$(client_of "$ns")"
		[ -n "$k" ] || continue
		reset_client "$ns" "$(client_mac "$k" "$r")"
	done
}

# --- down -------------------------------------------------------------------

cmd_down() {
	local ns
	need_root
	need_cmds ip flock
	take_lock
	stop_internet
	for ns in $(lab_namespaces); do
		ns_delete "$ns"
	done
	if [ -d "$LAB_DIR" ]; then
		if [ -e "$MARKER" ] || [ -z "$(ls -A "$LAB_DIR")" ]; then
			rm -rf -- "$LAB_DIR"
			say "removed $LAB_DIR"
		else
			die "not removing $LAB_DIR: it has no .lobby-lab marker (not made by lab.sh?)"
		fi
	fi
	say "lab is down"
}

# --- status -----------------------------------------------------------------

cmd_status() {
	local ns nss ok=0 pid
	need_root
	need_cmds ip
	nss=$(lab_namespaces | sort -V | tr '\n' ' ')
	echo "LAB_DIR: $LAB_DIR"
	echo "namespaces: ${nss:-none}"
	for ns in $nss; do
		echo
		echo "== $ns"
		ip -n "$ns" -br link show 2>/dev/null | sed 's/^/  link  /' || true
		ip -n "$ns" -br addr show 2>/dev/null | awk 'NF > 2' | sed 's/^/  addr  /' || true
		ip -n "$ns" route show 2>/dev/null | sed 's/^/  route /' || true
		ip -n "$ns" -6 route show 2>/dev/null | grep -v '^fe80::\|^multicast\|^ff00::' | sed 's/^/  route /' || true
		if { [ "$ns" = "$NS_ROUTER" ] || [ "$ns" = "$NS_ROUTER2" ]; } && [ "$LAB_ROUTER" = internal ]; then
			if ip netns exec "$ns" nft list table ip lab >/dev/null 2>&1; then
				echo "  nft   table ip lab: present"
			else
				echo "  nft   table ip lab: MISSING"
				ok=1
			fi
		fi
	done
	echo
	ns_listed "$NS_ROUTER" || ok=1
	ns_listed "$NS_INET" || ok=1
	if internet_running; then
		pid=$(cat "$INTERNET_PID")
		echo "internet: running (pid $pid in $NS_INET, log $INTERNET_LOG)"
	else
		echo "internet: NOT running"
		ok=1
	fi
	if [ "$ok" -eq 0 ]; then
		echo "state: up"
	else
		echo "state: down or incomplete"
	fi
	exit "$ok"
}

# --- main -------------------------------------------------------------------

main() {
	[ $# -ge 1 ] || {
		usage >&2
		exit 2
	}
	check_lab_dir
	local cmd=$1
	shift
	case $cmd in
	up)
		[ $# -le 1 ] || die "usage: up [N]"
		cmd_up "$@"
		;;
	reset)
		[ $# -eq 0 ] || die "usage: reset"
		cmd_reset
		;;
	down)
		[ $# -eq 0 ] || die "usage: down"
		cmd_down
		;;
	status)
		[ $# -eq 0 ] || die "usage: status"
		cmd_status
		;;
	-h | --help | help) usage ;;
	*)
		usage >&2
		exit 2
		;;
	esac
}

main "$@"
