#!/usr/bin/env bash
# Boot test of the appliance images (SPEC §6, docs/appliance.md): each image
# boots under qemu (software emulation; KVM hangs here) as THE router of a
# lab, and a client walks through the hotspot across it; then the VM
# reboots and the signed-in client must still be signed in.
#
#   scripts/boot-test.sh [BOARD...]   default: every board/appliance-*.conf
#
# Per board:
#   - the lab (scripts/lab.sh, LAB_ROUTER=external) gives one client and the
#     fake internet; its router namespace only switches: the VM's LAN NIC
#     (a tap) joins br-lan with the client, its WAN NIC (a tap) joins br-wan
#     with the internet, where busybox udhcpd leases it 192.0.2.x
#   - the VM boots the image (build/image/BOARD, `make image`) with a fresh
#     state disk; lobby's log is read from the serial console, and the
#     console's commands (`ctl …`, `reboot`, `poweroff`) drive it
#   - steps: boot (lobby as PID 1), LAN and WAN up, NAT, `ctl status`, then
#     the client flow — DHCP (udhcpc), DNS hijack (dig), 511 (curl), sign-in
#     (GET / and POST /login), the origin reached, DNS forwarded, a rate
#     (`ctl limit`: a class with fq_codel, traffic through it) —, reboot,
#     still signed in (ctl clients, the origin, DNS), poweroff
#   - a step needs the subsystem that provides it wired into firmware/ (go
#     list -deps ./firmware); until it is, the step reports N/A and the test
#     does not fail for it. A wired subsystem that misbehaves fails.
#
#   - a profile with QEMU_NICS (x86_64: virtio-net-pci,e1000,e1000e) boots
#     once per NIC model: the first walks everything above, the others the
#     boot and the client flow, then power off; the driver the console's
#     "net: NICs" line names must be the model's
#
# Environment: LAB_PREFIX (default ap), BOOT_TIMEOUT (seconds for one boot,
# default 240), BOOT_TEST_DIR (default /run/$LAB_PREFIX-boot-test: console
# logs, kept after the run), GO, NICS (comma-separated qemu NIC models:
# only these of a profile's QEMU_NICS), MEM_OUT (a file: lobby's memory,
# from the console's `mem`, is appended there as "BOARD STATE FIELD VALUE"
# lines, idle after the boot and with MEM_CLIENTS (500) signed in; for
# scripts/bench/daemon.sh).
#
# Needs root, qemu-system-x86/-arm/-mips, busybox (udhcpc, udhcpd), curl,
# dnsutils, iproute2 and what scripts/lab.sh needs. Exit 0 when no step
# failed.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
export LAB_PREFIX=${LAB_PREFIX:-ap}
export LAB_ROUTER=external
BOOT_TIMEOUT=${BOOT_TIMEOUT:-240}
MEM_OUT=${MEM_OUT:-}
MEM_CLIENTS=${MEM_CLIENTS:-500}
DIR=${BOOT_TEST_DIR:-/run/$LAB_PREFIX-boot-test}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
R=$LAB_PREFIX-router I=$LAB_PREFIX-inet C=${LAB_PREFIX}-c1
CLIENT_MAC=02:00:00:00:01:01
PORTAL=10.77.0.1 PORT=2050 ORIGIN=198.51.100.10

say() { printf 'boot-test: %s\n' "$*" >&2; }
die() { printf 'boot-test: error: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root (namespaces, taps)"
for c in busybox curl dig ip; do command -v "$c" >/dev/null || die "missing $c (make deps)"; done

boards=("$@")
if [ ${#boards[@]} -eq 0 ]; then
	for f in "$REPO"/board/appliance-*.conf; do boards+=("$(basename "$f" .conf)"); done
fi

# --- what is wired ------------------------------------------------------------

deps=$(cd "$REPO" && "$GO" list -tags appliance -deps ./firmware) || die "go list -deps ./firmware failed"
wired() { grep -qx "github.com/lobby-fw/lobby/internal/$1" <<<"$deps"; }

# --- results ------------------------------------------------------------------

declare -a RESULTS=()
FAILED=0
result() { # BOARD STEP PASS|FAIL|N/A DETAIL
	RESULTS+=("$(printf '%-32s %-28s %-5s %s' "$1" "$2" "$3" "$4")")
	printf 'boot-test: %-32s %-28s %-5s %s\n' "$1" "$2" "$3" "$4" >&2
	[ "$3" != FAIL ] || FAILED=$((FAILED + 1))
}
# step BOARD NAME NEEDS... -- CMD...: runs CMD (its stdout is the detail) if
# every needed package is wired, else records N/A.
step() {
	local board=$1 name=$2 missing='' out
	shift 2
	while [ "$1" != -- ]; do wired "$1" || missing="$missing internal/$1"; shift; done
	shift
	if [ -n "$missing" ]; then
		result "$board" "$name" N/A "not available yet:$missing not wired into firmware/"
		return 1
	fi
	if out=$("$@" 2>&1); then
		result "$board" "$name" PASS "$(tail -n 1 <<<"$out")"
		return 0
	fi
	result "$board" "$name" FAIL "$(tr '\n' ' ' <<<"$out" | cut -c1-300)"
	return 1
}

# --- the VM -------------------------------------------------------------------

QEMU_PID='' CONFD='' RUN='' LOG='' T0=''
UDHCPD_PID=''

# seen PATTERN: how many console lines hold the fixed string PATTERN.
seen() { grep -cF -- "$1" "$LOG" 2>/dev/null || true; }

# wait_for PATTERN N SECONDS: until the console holds PATTERN N times.
wait_for() {
	local pat=$1 n=$2 deadline=$((SECONDS + $3))
	while [ "$(seen "$pat")" -lt "$n" ]; do
		if grep -qF 'Kernel panic' "$LOG"; then echo "kernel panic: $(grep -m1 -F 'Kernel panic' "$LOG")"; return 1; fi
		if ! kill -0 "$QEMU_PID" 2>/dev/null; then echo "qemu exited: $(tail -n 3 "$RUN/qemu.err" 2>/dev/null)"; return 1; fi
		[ "$SECONDS" -lt "$deadline" ] || { echo "no '$pat' (#$n) on the console within $3 s; last line: $(tail -n 1 "$LOG")"; return 1; }
		sleep 0.2
	done
}

# console CMD: types a command line on the VM's serial console.
console() { printf '%s\n' "$*" >&"$CONFD"; }

# ctl_until PATTERN SECONDS VERB...: runs `ctl VERB…` on the console until a
# new line with PATTERN (an extended regex) shows in its answer.
ctl_until() {
	local pat=$1 secs=$2 before deadline
	shift 2
	deadline=$((SECONDS + secs))
	while :; do
		before=$(grep -cE -- "$pat" "$LOG" || true)
		console ctl "$@"
		sleep 1.5
		if [ "$(grep -cE -- "$pat" "$LOG" || true)" -gt "$before" ]; then
			grep -E -- "$pat" "$LOG" | tail -n 1
			return 0
		fi
		[ "$SECONDS" -lt "$deadline" ] || { echo "ctl $*: no answer matching '$pat' within $secs s; last: $(tail -n 2 "$LOG" | tr '\n' ' ')"; return 1; }
	done
}

key() { sed -n "s/^$1=//p" "$2" | tail -n 1; }

start_vm() { # BOARD NIC
	local board=$1 nic=$2 profile=$REPO/board/$1.conf img=$REPO/build/image/$1
	local qemu machine cpu mem blk rng order lan wan args=()
	qemu=$(key QEMU "$profile") machine=$(key QEMU_MACHINE "$profile") cpu=$(key QEMU_CPU "$profile")
	mem=$(key QEMU_MEMORY "$profile") blk=$(key QEMU_BLOCK "$profile")
	rng=$(key QEMU_RNG "$profile") order=$(key QEMU_NIC_ORDER "$profile")
	command -v "$qemu" >/dev/null || die "missing $qemu (Debian: qemu-system-x86, qemu-system-arm, qemu-system-mips)"
	args=(-M "$machine" -m "${mem:-256}" -nodefaults -no-user-config -display none -monitor none -serial stdio)
	[ -z "$cpu" ] || args+=(-cpu "$cpu")
	if [ -n "$(key DISK_IMG "$img/image.env")" ]; then
		cp "$img/disk.img" "$RUN/disk.img"
	else
		cp "$img/state.img" "$RUN/disk.img"
		args+=(-kernel "$img/vmlinuz" -initrd "$img/initrd.gz" -append "$(cat "$img/cmdline")")
	fi
	args+=(-drive "file=$RUN/disk.img,format=raw,if=none,id=disk" -device "$blk,drive=disk")
	[ -z "$rng" ] || args+=(-device "$rng")
	lan=(-netdev "tap,id=lan,ifname=tap-lan,script=no,downscript=no" -device "$nic,netdev=lan,mac=52:54:00:a0:00:01")
	wan=(-netdev "tap,id=wan,ifname=tap-wan,script=no,downscript=no" -device "$nic,netdev=wan,mac=52:54:00:a0:00:02")
	# The kernel names NICs in probe order; where that is the reverse of
	# the command line (virtio-mmio), the profile says QEMU_NIC_ORDER=wan,lan.
	if [ "$order" = wan,lan ]; then args+=("${wan[@]}" "${lan[@]}"); else args+=("${lan[@]}" "${wan[@]}"); fi

	local t
	for t in tap-lan:br-lan tap-wan:br-wan; do
		ip -n "$R" link del "${t%%:*}" 2>/dev/null || true
		ip -n "$R" tuntap add dev "${t%%:*}" mode tap
		ip -n "$R" link set dev "${t%%:*}" master "${t#*:}" up
	done
	rm -f "$RUN/console.in"
	mkfifo "$RUN/console.in"
	exec {CONFD}<>"$RUN/console.in"
	: >"$LOG"
	T0=$(date +%s.%N)
	ip netns exec "$R" "$qemu" "${args[@]}" <&"$CONFD" >"$LOG" 2>"$RUN/qemu.err" &
	QEMU_PID=$!
	echo "$qemu ${args[*]}" >"$RUN/qemu.cmd"
}

stop_vm() {
	if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
		kill "$QEMU_PID" 2>/dev/null || true
		wait "$QEMU_PID" 2>/dev/null || true
	fi
	QEMU_PID=
	[ -z "$CONFD" ] || exec {CONFD}>&-
	CONFD=
	ip -n "$R" link del tap-lan 2>/dev/null || true
	ip -n "$R" link del tap-wan 2>/dev/null || true
}

elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# --- the WAN's DHCP server ------------------------------------------------------

start_udhcpd() {
	cat >"$DIR/udhcpd.conf" <<EOF
interface eth0
start 192.0.2.10
end 192.0.2.19
max_leases 10
lease_file $DIR/udhcpd.leases
option subnet 255.255.255.0
option router 192.0.2.254
option dns 198.51.100.53
option lease 600
EOF
	: >"$DIR/udhcpd.leases"
	ip netns exec "$I" busybox udhcpd -f "$DIR/udhcpd.conf" >"$DIR/udhcpd.log" 2>&1 &
	UDHCPD_PID=$!
}

cleanup() {
	stop_vm
	if [ -n "$UDHCPD_PID" ]; then kill "$UDHCPD_PID" 2>/dev/null || true; wait "$UDHCPD_PID" 2>/dev/null || true; fi
	"$REPO/scripts/lab.sh" down >/dev/null 2>&1 || true
}
trap cleanup EXIT

# --- the client -----------------------------------------------------------------

in_client() { ip netns exec "$C" "$@"; }

# client_reset: no address, no route, as lab.sh leaves a client.
client_reset() {
	ip -n "$C" addr flush dev eth0 scope global
	ip -n "$C" -4 route flush dev eth0 2>/dev/null || true
	ip -n "$C" neigh flush dev eth0 2>/dev/null || true
}

check_dhcp() {
	local script=$DIR/udhcpc.script
	cat >"$script" <<'EOF'
#!/bin/sh
# udhcpc hook: configure eth0 and remember the lease.
case $1 in
bound|renew)
	ip addr flush dev "$interface" scope global
	ip addr add "$ip/$mask" dev "$interface"
	for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
	echo "ip=$ip mask=$mask router=$router dns=$dns" >"$LEASE_FILE"
	;;
esac
EOF
	chmod +x "$script"
	rm -f "$DIR/lease"
	LEASE_FILE=$DIR/lease in_client busybox udhcpc -i eth0 -n -q -t 6 -T 2 -s "$script" >"$DIR/udhcpc.log" 2>&1 ||
		{ echo "udhcpc got no lease: $(tail -n 2 "$DIR/udhcpc.log" | tr '\n' ' ')"; return 1; }
	local lease
	lease=$(cat "$DIR/lease")
	case $lease in
	"ip=10.77.0."*" router=$PORTAL dns=$PORTAL"*) echo "$lease" ;;
	*) echo "unexpected lease: $lease"; return 1 ;;
	esac
}

check_lan_link() {
	# ARP, which no firewall rule of lobby's filters: the VM's LAN NIC
	# answers on the lab's bridge.
	in_client ping -c 1 -W 2 "$PORTAL" >/dev/null 2>&1 || true
	ip -n "$C" neigh show "$PORTAL" | grep -q 52:54:00:a0:00:01 ||
		{ echo "no ARP answer from $PORTAL (52:54:00:a0:00:01): $(ip -n "$C" neigh show)"; return 1; }
	echo "$PORTAL is at 52:54:00:a0:00:01"
}

check_dns_hijack() {
	local a
	a=$(in_client dig +short +time=3 +tries=2 @"$PORTAL" other.test A) || { echo "dig failed: $a"; return 1; }
	[ "$a" = "$PORTAL" ] || { echo "other.test resolved to '$a' before sign-in; want the portal $PORTAL"; return 1; }
	echo "other.test -> $a (hijacked)"
}

check_511() {
	local code
	code=$(in_client curl -s -o "$DIR/511.html" -w '%{http_code}' --max-time 15 "http://$ORIGIN/some/page") || true
	[ "$code" = 511 ] || { echo "http://$ORIGIN/some/page answered $code before sign-in; want 511"; return 1; }
	grep -q "http://$PORTAL:$PORT/" "$DIR/511.html" || { echo "the 511 page does not point at http://$PORTAL:$PORT/"; return 1; }
	echo "511 pointing at the portal"
}

check_signin() {
	local code token
	code=$(in_client curl -s -o "$DIR/portal.html" -w '%{http_code}' --max-time 15 "http://$PORTAL:$PORT/") || true
	[ "$code" = 200 ] || { echo "GET / answered $code"; return 1; }
	token=$(sed -n 's/.*name="token" value="\([^"]*\)".*/\1/p' "$DIR/portal.html" | head -n 1)
	[ -n "$token" ] || { echo "no CSRF token on the sign-in page"; return 1; }
	code=$(in_client curl -s -o /dev/null -w '%{http_code}' --max-time 15 -H "Origin: http://$PORTAL:$PORT" \
		--data-urlencode "token=$token" --data-urlencode "redir=http://$ORIGIN/" "http://$PORTAL:$PORT/login") || true
	[ "$code" = 303 ] || { echo "POST /login answered $code; want 303"; return 1; }
	ctl_until "^$CLIENT_MAC .*authenticated" 20 clients
}

check_origin() {
	local body
	body=$(in_client curl -s --max-time 15 "http://$ORIGIN/") || true
	grep -q LOBBY-ORIGIN-OK <<<"$body" || { echo "the origin was not reached: $(head -c 200 <<<"$body")"; return 1; }
	echo "http://$ORIGIN/ reached through the VM (LAN -> NAT -> WAN)"
}

check_dns_forward() {
	local a
	a=$(in_client dig +short +time=3 +tries=2 @"$PORTAL" other.test A) || { echo "dig failed: $a"; return 1; }
	[ "$a" = 198.51.100.11 ] || { echo "other.test resolved to '$a' after sign-in; want the upstream's 198.51.100.11"; return 1; }
	echo "other.test -> $a (forwarded to the WAN's nameserver)"
}

# check_wan_closed: a host on the WAN segment reaches the portal port
# neither on the VM's WAN address nor on its LAN address routed through it
# (SPEC §6); the sign-in before showed the port open from the LAN.
check_wan_closed() {
	local wan url code
	wan=$(grep -m1 -F 'msg="dhcp client: lease" interface=wan' "$LOG" | grep -o 'address=[0-9.]*' | cut -d= -f2)
	[ -n "$wan" ] || { echo "no WAN address in the console log"; return 1; }
	ip -n "$I" route replace 10.77.0.0/24 via "$wan"
	for url in "http://$wan:$PORT/" "http://$PORTAL:$PORT/"; do
		code=$(ip netns exec "$I" curl -s -o /dev/null -w '%{http_code}' --connect-timeout 3 --max-time 5 "$url") || true
		[ "$code" = 000 ] || { ip -n "$I" route del 10.77.0.0/24; echo "$url answered $code from the WAN side"; return 1; }
	done
	ip -n "$I" route del 10.77.0.0/24
	echo "no answer from $wan:$PORT or $PORTAL:$PORT on the WAN side"
}

# check_rate: a rate given with `ctl limit` shapes the signed-in client
# through a class whose queue is fq_codel (Debian's kernel has it and the
# board's MODULES load sch_fq_codel; lobby logs which queue its first class
# got, and the kernel took the fq_codel options or refused the class), and
# the client's traffic still passes both ways through its classes.
check_rate() {
	ctl_until "^$CLIENT_MAC .*download=2mbit upload=1mbit" 20 limit "$CLIENT_MAC" download=2mbit upload=1mbit || return 1
	wait_for "msg=\"shaper: each client's class has an fq_codel queue\"" 1 10 || {
		grep -m1 -E 'msg="shaper: ' "$LOG" || true
		return 1
	}
	if grep -m1 -E 'msg="shaper: (the kernel has no fq_codel|rates not applied|a change failed)' "$LOG"; then return 1; fi
	check_origin >/dev/null || { echo "the origin was not reached with the rate on"; return 1; }
	echo "class with fq_codel for $CLIENT_MAC (2 Mbit/s down, 1 up); the origin reached through it"
}

check_still_signed_in() {
	ctl_until "^$CLIENT_MAC .*authenticated" 30 clients
}

# check_nics DRIVER: the console's inventory names the driver of the NIC
# model the VM has.
check_nics() {
	local line
	line=$(grep -m1 -F 'msg="net: NICs"' "$LOG") || { echo "no 'net: NICs' line"; return 1; }
	grep -qF "($1, " <<<"$line" || { echo "no NIC driven by $1: $line"; return 1; }
	grep -o 'found="[^"]*"' <<<"$line"
}

# nic_driver MODEL: the Linux driver of a qemu NIC model.
nic_driver() {
	case $1 in
	virtio-net*) echo virtio_net ;;
	pcnet) echo pcnet32 ;;
	*) echo "$1" ;; # e1000, e1000e
	esac
}

# mem_record LABEL STATE: the console's `mem` line, appended to MEM_OUT.
mem_record() {
	local line f
	line=$(ctl_until_cmd '^mem: VmRSS=' 30 mem) || { echo "$line"; return 1; }
	for f in $line; do
		case $f in *=*) printf '%s\t%s\t%s\t%s\n' "$1" "$2" "${f%%=*}" "${f#*=}" >>"$MEM_OUT" ;; esac
	done
	echo "$2: $line"
}

# ctl_until_cmd PATTERN SECONDS LINE…: like ctl_until for any console command.
ctl_until_cmd() {
	local pat=$1 secs=$2 before deadline
	shift 2
	deadline=$((SECONDS + secs))
	while :; do
		before=$(grep -cE -- "$pat" "$LOG" || true)
		console "$@"
		sleep 1.5
		if [ "$(grep -cE -- "$pat" "$LOG" || true)" -gt "$before" ]; then
			grep -E -- "$pat" "$LOG" | tail -n 1
			return 0
		fi
		[ "$SECONDS" -lt "$deadline" ] || { echo "$*: no answer matching '$pat' within $secs s"; return 1; }
	done
}

# mem_clients N: N MACs signed in with ctl auth on the console; done when
# ctl status counts them.
mem_clients() {
	local i
	# In batches: the console's tty buffer holds 4 KB of typed lines.
	for i in $(seq 0 $(($1 - 1))); do
		printf 'ctl auth 02:01:00:%02x:%02x:01\n' $((i >> 8 & 255)) $((i & 255)) >&"$CONFD"
		[ $((i % 25)) != 24 ] || sleep 1
	done
	ctl_until_cmd "^clients: [0-9]+ preauth, ($1|$(($1 + 1))) authenticated" 300 ctl status
}

# --- one board ------------------------------------------------------------------

declare -a TIMES=()

# test_board BOARD NIC FULL: one boot of BOARD with NIC; FULL=1 adds the
# reboot (the state disk keeps the session) before the power-off.
test_board() {
	local board=$1 nic=$2 full=$3 img=$REPO/build/image/$1 t_boot t_reboot b
	b=$board
	[ "$(qemu_nics "$board" | wc -w)" -le 1 ] || b=$board/$nic
	[ -f "$img/image.env" ] || { result "$b" image FAIL "no $img: run make image BOARD=$board"; return; }
	RUN=$DIR/${b//\//-} LOG=$RUN/console.log
	rm -rf "$RUN"
	mkdir -p "$RUN"
	client_reset
	say "$b: booting ($(key KERNEL_VERSION "$img/image.env"), NICs $nic)"
	start_vm "$board" "$nic"

	# Boot: lobby is PID 1 and every service runs.
	out=$(wait_for 'msg="boot: done"' 1 "$BOOT_TIMEOUT") || {
		# An x86 kernel's boot-time timer check gives up when the emulated
		# CPU gets too little host time (software emulation on a loaded
		# host), a fault of the test bed, not of the image (real boxes and
		# KVM pass it). That one panic gets one more boot, said in the log.
		if grep -qF "IO-APIC + timer doesn't work" "$LOG"; then
			say "$b: the kernel's timer check failed under emulation; booting once more"
			stop_vm
			mv "$LOG" "$RUN/console-timer-panic.log"
			start_vm "$board" "$nic"
			out=$(wait_for 'msg="boot: done"' 1 "$BOOT_TIMEOUT")
		else
			false
		fi
	}
	if [ $? -ne 0 ]; then
		result "$b" "boot (lobby as PID 1)" FAIL "$out"
		stop_vm
		return
	fi
	result "$b" "boot (lobby as PID 1)" PASS "boot steps done at $(elapsed) s"
	if out=$(wait_for 'msg="lobby starting"' 1 60); then
		t_boot=$(elapsed)
		result "$b" "daemon started" PASS "lobby starting at $t_boot s after power-on"
	else
		t_boot=-
		result "$b" "daemon started" FAIL "$out"
	fi
	if grep -qF 'msg="state: mounted"' "$LOG"; then
		result "$b" "state disk mounted" PASS "$(grep -m1 -o 'device=[^ ]*' "$LOG") at /perm"
	else
		result "$b" "state disk mounted" FAIL "$(grep -m1 -F 'state:' "$LOG" || echo 'no state line')"
	fi
	for lw in lan:eth0 wan:eth1; do
		if grep -qE "msg=\"net: up\" interface=${lw%%:*} device=${lw#*:}" "$LOG"; then
			result "$b" "${lw%%:*} up" PASS "$(grep -m1 -E "msg=\"net: up\" interface=${lw%%:*}" "$LOG" | grep -o 'mac=.*')"
		else
			result "$b" "${lw%%:*} up" FAIL "$(grep -m1 -E 'net: ' "$LOG" || echo 'no net line')"
		fi
	done
	if out=$(wait_for 'msg="dhcp client: lease" interface=wan' 1 30); then
		result "$b" "wan DHCP lease" PASS "$(grep -m1 -F 'msg="dhcp client: lease"' "$LOG" | grep -o 'address=[^ ]*')"
	else
		result "$b" "wan DHCP lease" FAIL "$out"
	fi
	step "$b" "NICs ($(nic_driver "$nic"))" -- check_nics "$(nic_driver "$nic")" || true
	if grep -qF 'msg="nat: masquerading' "$LOG"; then result "$b" "nat" PASS "table inet lobby-nat"; else result "$b" "nat" FAIL "no nat line"; fi
	step "$b" "ctl status (console)" ctl -- ctl_until '^clients: [0-9]+ preauth' 20 status || true
	if [ -n "$MEM_OUT" ]; then
		sleep 10 # idle: every service up, nothing asked
		step "$b" "memory, idle" -- mem_record "$b" idle || true
	fi

	# The client flow, as a phone would do it.
	if ! step "$b" "client DHCP" dhcp -- check_dhcp; then
		# Without our DHCP the flow goes on with an address of its own.
		ip -n "$C" addr replace 10.77.0.50/24 dev eth0
		ip -n "$C" route replace default via "$PORTAL" dev eth0
	fi
	step "$b" "LAN link" -- check_lan_link || true
	step "$b" "DNS hijack" dns -- check_dns_hijack || true
	step "$b" "HTTP 511" responder firewall -- check_511 || true
	local signed=0
	step "$b" "sign-in (portal)" portal -- check_signin && signed=1
	step "$b" "origin after sign-in" -- check_origin || true
	step "$b" "DNS after sign-in" dns -- check_dns_forward || true
	step "$b" "WAN side closed" portal -- check_wan_closed || true
	if [ "$signed" = 1 ]; then
		step "$b" "rate: class with fq_codel" shaper ctl -- check_rate || true
	fi
	if [ -n "$MEM_OUT" ]; then
		step "$b" "sign in $MEM_CLIENTS MACs (console)" ctl -- mem_clients "$MEM_CLIENTS" &&
			step "$b" "memory, $MEM_CLIENTS signed in" -- mem_record "$b" "signed-in-$MEM_CLIENTS" || true
	fi
	if [ "$full" != 1 ]; then
		poweroff_vm "$b"
		TIMES+=("$(printf '%-32s boot %6s s' "$b" "$t_boot")")
		return
	fi

	# Reboot: the state disk keeps the session.
	local t_r0=$SECONDS
	console reboot
	if ! out=$(wait_for 'msg="shutdown: reboot"' 1 60); then
		result "$b" "clean reboot" FAIL "$out"
		stop_vm
		return
	fi
	T0=$(date +%s.%N)
	if grep -qE 'msg="(state: unmount failed|shutdown: the services did not stop)' "$LOG"; then
		result "$b" "clean reboot" FAIL "$(grep -m1 -E 'state: unmount failed|services did not stop' "$LOG")"
	elif ! grep -qF 'msg="dhcp client: lease released"' "$LOG"; then
		result "$b" "clean reboot" FAIL "the WAN lease was not released"
	else
		result "$b" "clean reboot" PASS "services stopped, WAN lease released, state unmounted"
	fi
	if out=$(wait_for 'msg="lobby starting"' 2 "$BOOT_TIMEOUT"); then
		t_reboot=$(elapsed)
		result "$b" "booted again" PASS "lobby starting $t_reboot s after the reboot ($((SECONDS - t_r0)) s from the command)"
	else
		t_reboot=-
		result "$b" "booted again" FAIL "$out"
		stop_vm
		return
	fi
	if [ "$signed" = 1 ]; then
		step "$b" "still signed in (ctl)" ctl -- check_still_signed_in || true
		step "$b" "origin after reboot" -- check_origin || true
		step "$b" "DNS after reboot" dns -- check_dns_forward || true
	else
		result "$b" "still signed in" N/A "no sign-in before the reboot (portal not wired or failed)"
	fi

	poweroff_vm "$b"
	TIMES+=("$(printf '%-32s boot %6s s   reboot %6s s' "$b" "$t_boot" "$t_reboot")")
}

# poweroff_vm B: power off on the console; qemu ends when the VM does.
poweroff_vm() {
	local b=$1 deadline=$((SECONDS + 60))
	console poweroff
	while kill -0 "$QEMU_PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
	if kill -0 "$QEMU_PID" 2>/dev/null; then
		result "$b" "poweroff" FAIL "qemu still running 60 s after poweroff; last: $(tail -n 1 "$LOG")"
	else
		result "$b" "poweroff" PASS "qemu ended after a clean shutdown"
	fi
	stop_vm
}

# qemu_nics BOARD: the NIC models to boot BOARD with (QEMU_NICS, else
# QEMU_NIC), only those in NICS when set.
qemu_nics() {
	local p=$REPO/board/$1.conf all n
	all=$(key QEMU_NICS "$p")
	[ -n "$all" ] || all=$(key QEMU_NIC "$p")
	for n in ${all//,/ }; do
		if [ -z "${NICS:-}" ] || [[ ,$NICS, == *",$n,"* ]]; then echo "$n"; fi
	done
}

# --- main -----------------------------------------------------------------------

mkdir -p "$DIR"
say "lab $LAB_PREFIX (router: the VM)"
"$REPO/scripts/lab.sh" up 1 >"$DIR/lab.log" 2>&1 || { cat "$DIR/lab.log" >&2; die "lab.sh up failed"; }
start_udhcpd
start=$SECONDS
for b in "${boards[@]}"; do
	[ -f "$REPO/board/$b.conf" ] || die "no board profile board/$b.conf"
	full=1
	for nic in $(qemu_nics "$b"); do
		test_board "$b" "$nic" "$full"
		full=0
	done
done

echo
echo "boot test ($((SECONDS - start)) s; console logs in $DIR/BOARD/console.log)"
printf '%s\n' "${RESULTS[@]}"
echo
printf '%s\n' "${TIMES[@]}"
pass=$(printf '%s\n' "${RESULTS[@]}" | awk '$0 ~ / PASS / { n++ } END { print n + 0 }')
na=$(printf '%s\n' "${RESULTS[@]}" | awk '$0 ~ / N\/A / { n++ } END { print n + 0 }')
echo "boot-test: $pass passed, $FAILED failed, $na skipped"
[ "$FAILED" -eq 0 ]
