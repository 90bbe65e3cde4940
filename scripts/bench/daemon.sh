#!/usr/bin/env bash
# Benchmark of the daemon as a whole (issue 9): what the binary costs in
# flash, how fast a router that has just booted (or crashed) serves again,
# the memory it holds at rest, and what a config reload costs.
#
#   binary size       stripped and xz -9 per board profile (make size):
#                     what the board's squashfs pays
#   first answer      from starting the daemon to the first DHCP answer a
#                     client gets: perfdhcp in a client namespace sends a
#                     DISCOVER every 5 ms before the server starts; tcpdump
#                     there stamps the first answer. Lobby with an empty
#                     state_dir and with SOME and SESSIONS signed-in clients in it
#                     (the restart after a crash: every session and its
#                     firewall element put back first); dnsmasq (DHCP and
#                     DNS, as OpenWrt runs it) and kea-dhcp4 with empty
#                     lease files.
#   RSS after start   VmRSS two seconds after the first answer, same cases
#   reload            lobby with 0, SOME and SESSIONS sessions: RELOADS SIGHUPs,
#                     one every 200 ms; the time from the signal to the log
#                     line "reload: config applied", and the daemon's CPU
#                     time (utime + stime) per reload
#
# Follows the contract of scripts/bench/run.sh: LOBBY, BENCH_OUT, RUNS (5), QUICK;
# writes $BENCH_OUT/daemon.tsv and daemon.md. Needs root; installs kea-admin
# (perfdhcp), kea-dhcp4-server, dnsmasq-base and tcpdump when missing.
# Bounded: every wait has a limit; about 3 minutes with the defaults.
#
#   RSS on MIPS       lobby as PID 1 of the mipsel appliance under
#                     qemu-system-mipsel: idle and with SOME signed in
#                     (scripts/boot-test.sh with MEM_OUT; about 5 minutes
#                     a run)
#
# Environment: RUNS (5), SOME (500), SESSIONS (10000), RELOADS (50), LAB_PREFIX
# (benchdm), KEEP (set: keep the work directory with the logs), MIPS (1;
# 0 leaves the MIPS figures out), MIPS_RUNS (2).
set -euo pipefail

cd "$(dirname "$0")/../.."
export LAB_PREFIX=${LAB_PREFIX:-benchdm}
export PATH=$PATH:/usr/local/go/bin
BENCH_OUT=${BENCH_OUT:-build/bench}
RUNS=${RUNS:-5}
SOME=${SOME:-500}
SESSIONS=${SESSIONS:-10000}
RELOADS=${RELOADS:-50}
if [ "${QUICK:-}" = 1 ]; then
	RUNS=${QUICK_RUNS:-2} SOME=50 SESSIONS=500 RELOADS=10
fi
NS_R=$LAB_PREFIX-router
NS_C=$LAB_PREFIX-c1
TSV=$BENCH_OUT/daemon.tsv
MD=$BENCH_OUT/daemon.md

say() { printf 'bench-daemon: %s\n' "$*" >&2; }
[ "$(id -u)" = 0 ] || { say "needs root (network namespaces)"; exit 1; }

. scripts/bench/packages.bash
bench_install kea-admin kea-dhcp4-server dnsmasq-base tcpdump xz-utils
mkdir -p "$BENCH_OUT"
: >"$TSV"

WORK=$(mktemp -d /tmp/bench-daemon.XXXXXX)
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	scripts/lab.sh down >/dev/null 2>&1 || true
	if [ -n "${KEEP:-}" ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

bench_lobby

# row METRIC UNIT BETTER XNAME X SUBJECT RUN VALUE
row() { bench_row "$TSV" daemon "$@" || true; }

# --- binary size ----------------------------------------------------------------
say "binary size per board (make size)"
make -s size 2>/dev/null | awk 'NF == 3 && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/' >"$WORK/size.txt"
[ -s "$WORK/size.txt" ] || { say "make size printed no board"; exit 1; }
while read -r board stripped xz; do
	row "binary size, stripped" bytes lower board "$board" lobby 1 "$stripped"
	row "binary size, xz -9" bytes lower board "$board" lobby 1 "$xz"
done <"$WORK/size.txt"

# --- lab ------------------------------------------------------------------------
say "lab $LAB_PREFIX up"
scripts/lab.sh up 1 >/dev/null 2>"$WORK/lab.log" || { cat "$WORK/lab.log" >&2; exit 1; }
# perfdhcp is a relay agent at 10.77.0.2: every server answers it by
# unicast to UDP 67 there, which tcpdump sees.
ip -n "$NS_C" addr replace 10.77.0.2/24 dev eth0

PID=""
stop_server() {
	[ -n "$PID" ] || return 0
	kill "$PID" 2>/dev/null || true
	wait "$PID" 2>/dev/null || true
	local keep=() p
	for p in "${PIDS[@]}"; do [ "$p" = "$PID" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
	PID=""
}

lobby_conf() { # DIR: a full config (DHCP, DNS, portal, responder, firewall)
	cat >"$1/lobby.conf" <<EOF
config lobby 'main'
	option interface 'br-lan'
	option address '10.77.0.1'
	option state_dir '$1/state'
	option socket '$1/lobby.sock'
	option log_level 'info'
config dhcp 'dhcp'
	option start '10'
	option limit '240'
	option leasetime '2h'
config dns 'dns'
	list upstream '198.51.100.53'
EOF
}

start_lobby() { # DIR
	ip netns exec "$NS_R" "$LOBBY" run -c "$1/lobby.conf" >>"$1/lobby.log" 2>&1 &
	PID=$!
	PIDS+=("$PID")
}

start_dnsmasq() {
	rm -f "$WORK/dnsmasq.leases"
	ip netns exec "$NS_R" dnsmasq --keep-in-foreground --conf-file=/dev/null --user=root \
		--interface=br-lan --bind-interfaces --except-interface=lo --no-ping --no-resolv \
		--server=198.51.100.53 --cache-size=4096 \
		--dhcp-range=10.77.0.10,10.77.0.249,255.255.255.0,2h --dhcp-authoritative --quiet-dhcp \
		--dhcp-leasefile="$WORK/dnsmasq.leases" --pid-file="$WORK/dnsmasq.pid" \
		--log-facility="$WORK/dnsmasq.log" >>"$WORK/dnsmasq.log" 2>&1 &
	PID=$!
	PIDS+=("$PID")
}

start_kea() {
	rm -f "$WORK"/kea-leases4.csv*
	cat >"$WORK/kea.json" <<EOF
{"Dhcp4": {
  "interfaces-config": {"interfaces": ["br-lan"], "dhcp-socket-type": "udp"},
  "lease-database": {"type": "memfile", "persist": true, "name": "$WORK/kea-leases4.csv", "lfc-interval": 0},
  "valid-lifetime": 7200,
  "subnet4": [{"id": 1, "subnet": "10.77.0.0/24", "pools": [{"pool": "10.77.0.10 - 10.77.0.249"}],
    "option-data": [{"name": "routers", "data": "10.77.0.1"}, {"name": "domain-name-servers", "data": "10.77.0.1"}]}],
  "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": "stdout"}], "severity": "WARN"}]
}}
EOF
	KEA_PIDFILE_DIR=$WORK KEA_LOCKFILE_DIR=$WORK ip netns exec "$NS_R" kea-dhcp4 -c "$WORK/kea.json" >>"$WORK/kea.log" 2>&1 &
	PID=$!
	PIDS+=("$PID")
}

# rss N SUBJECT RUN: the process PID's resident set, whole and its
# anonymous part (heap, stacks: what the binary's own pages, which the
# kernel can drop and read again from flash, are not).
rss() {
	row "RSS after start" MB lower "signed-in clients in state_dir" "$1" "$2" "$3" \
		"$(awk '/^VmRSS:/ { printf "%.2f", $2 / 1024 }' "/proc/$PID/status")"
	row "RSS after start, anonymous part" MB lower "signed-in clients in state_dir" "$1" "$2" "$3" \
		"$(awk '/^RssAnon:/ { printf "%.2f", $2 / 1024 }' "/proc/$PID/status")"
}

# first_answer NAME START_FN [ARG]: starts the server (setting PID) while
# perfdhcp is already asking; sets MS to the milliseconds from the start to
# the first answer, or to nothing when none came within 40 s.
first_answer() {
	local name=$1 fn=$2 arg=${3:-} cap=$WORK/first.txt t0 t1 load tdpid
	MS=""
	: >"$cap"
	ip netns exec "$NS_C" timeout 40 tcpdump -i eth0 -n -tt -l -c 1 \
		'udp and src host 10.77.0.1 and src port 67' >"$cap" 2>"$WORK/tcpdump.log" &
	tdpid=$!
	# tcpdump is ready once it says it is listening.
	for _ in $(seq 100); do grep -q listening "$WORK/tcpdump.log" && break; sleep 0.05; done
	ip netns exec "$NS_C" timeout 45 perfdhcp -4 -r 200 -R 200 -p 40 -l 10.77.0.2 10.77.0.1 >/dev/null 2>&1 &
	load=$!
	sleep 0.3 # perfdhcp is sending
	t0=$(date +%s.%N)
	"$fn" ${arg:+"$arg"}
	wait "$tdpid" 2>/dev/null || true
	kill "$load" 2>/dev/null || true
	wait "$load" 2>/dev/null || true
	t1=$(awk 'NR == 1 { print $1 }' "$cap")
	[ -n "$t1" ] || { say "$name: no DHCP answer within 40 s"; return 0; }
	MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
}

# sign_in N DIR: N MACs signed in through the control socket, four ctl
# processes at a time.
sign_in() {
	local n=$1 dir=$2 i
	for i in $(seq 0 $((n - 1))); do
		printf '02:01:%02x:%02x:%02x:01\n' $((i >> 16 & 255)) $((i >> 8 & 255)) $((i & 255))
	done | timeout 600 xargs -P 4 -I{} "$LOBBY" ctl -s "$dir/lobby.sock" auth {} >/dev/null
}

wait_ctl() { # DIR
	for _ in $(seq 200); do
		"$LOBBY" ctl -s "$1/lobby.sock" status >/dev/null 2>&1 && return 0
		kill -0 "$PID" 2>/dev/null || { say "lobby exited:"; tail -5 "$1/lobby.log" >&2; exit 1; }
		sleep 0.05
	done
	say "lobby's control socket did not answer in 10 s"
	exit 1
}

# reloads DIR RUN SESSIONS: RELOADS SIGHUPs to the running lobby. The log
# is followed with tail -f (inotify) and read by bash's own read, so no
# process starts between the signal and the line.
reloads() {
	local dir=$1 run=$2 n=$3 i t0 before after tick fd tailpid line
	tick=$(getconf CLK_TCK)
	exec {fd}< <(exec tail -n0 -f "$dir/lobby.log")
	tailpid=$!
	sleep 0.2
	before=$(awk '{ print $14 + $15 }' "/proc/$PID/stat")
	: >"$WORK/reload.times"
	for i in $(seq "$RELOADS"); do
		t0=$(date +%s%N)
		kill -HUP "$PID"
		while read -r -t 5 -u "$fd" line; do
			[[ $line == *"reload: config applied"* ]] && break
		done
		echo $(($(date +%s%N) - t0)) >>"$WORK/reload.times"
		sleep 0.2
	done
	after=$(awk '{ print $14 + $15 }' "/proc/$PID/stat")
	kill "$tailpid" 2>/dev/null || true
	exec {fd}<&-
	row "config reload: signal to applied" ms lower "signed-in clients" "$n" lobby "$run" \
		"$(sort -n "$WORK/reload.times" | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] / 1e6 }')"
	row "config reload: CPU time" ms lower "signed-in clients" "$n" lobby "$run" \
		"$(awk -v d=$((after - before)) -v t="$tick" -v n="$RELOADS" 'BEGIN { printf "%.2f", d * 1000 / t / n }')"
}

# --- lobby: empty state, then SESSIONS signed in ------------------------------------
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for run in $(seq "$RUNS"); do
	say "run $run/$RUNS"
	for n in 0 "$SOME" "$SESSIONS"; do
		dir=$WORK/lobby-$run-$n
		STATE_SRC=$WORK/state-$n
		mkdir -p "$dir"
		lobby_conf "$dir"
		if [ "$n" != 0 ] && [ -d "$STATE_SRC" ]; then cp -a "$STATE_SRC" "$dir/state"; fi
		first_answer lobby start_lobby "$dir"
		[ -z "$MS" ] || row "start to first DHCP answer" ms lower "signed-in clients in state_dir" "$n" lobby "$run" "$MS"
		wait_ctl "$dir"
		if [ "$n" != 0 ] && [ ! -d "$STATE_SRC" ]; then
			# The first run makes the state the others start from.
			say "signing in $n clients"
			sign_in "$n" "$dir"
			got=$("$LOBBY" ctl -s "$dir/lobby.sock" --json clients | grep -c '"authenticated"' || true)
			say "$got clients signed in"
			stop_server
			cp -a "$dir/state" "$STATE_SRC"
			start_lobby "$dir"
			wait_ctl "$dir"
		fi
		sleep 2
		rss "$n" lobby "$run"
		reloads "$dir" "$run" "$n"
		stop_server
	done
	for peer in dnsmasq kea; do
		first_answer "$peer" "start_$peer"
		[ -z "$MS" ] || row "start to first DHCP answer" ms lower "signed-in clients in state_dir" 0 "$peer" "$run" "$MS"
		sleep 2
		rss 0 "$peer" "$run"
		stop_server
	done
done

# --- on a board: the mipsel appliance under qemu-system -----------------------------
# The figures above are this machine's (x86-64). The MIPS ones come from
# lobby as PID 1 of the mipsel appliance image (every service on, as on a
# router), booted by the boot test under qemu-system-mipsel (software
# emulation, Malta, 256 MB) with MEM_OUT set: the console's `mem` line
# (/proc/1/status and the Go runtime's figures) ten seconds after the boot,
# and again with SOME MACs signed in with `ctl auth` on the console.
# With 2,000 vouchers: pending the voucher issue (there are no vouchers
# yet); its hook is a mem_record after creating them in boot-test.sh.
if [ "${MIPS:-1}" = 1 ]; then
	say "mipsel appliance under qemu (MIPS_RUNS=${MIPS_RUNS:=2})"
	scripts/image.sh appliance-mipsel >"$WORK/image-mipsel.log" 2>&1 || { tail -5 "$WORK/image-mipsel.log" >&2; exit 1; }
	for run in $(seq "$MIPS_RUNS"); do
		: >"$WORK/mips-mem.tsv"
		LAB_PREFIX=${LAB_PREFIX}m BOOT_TEST_DIR=$WORK/boot-test MEM_OUT=$WORK/mips-mem.tsv MEM_CLIENTS=$SOME \
			NICS=virtio-net-pci scripts/boot-test.sh appliance-mipsel >"$WORK/boot-test-$run.log" 2>&1 ||
			say "boot test run $run failed (figures kept if measured): $(tail -n 1 "$WORK/boot-test-$run.log")"
		while IFS=$'\t' read -r _ state field value; do
			case $state in idle) n=0 ;; signed-in-*) n=${state#signed-in-} ;; *) continue ;; esac
			case $field in
			VmRSS) metric="RSS on the mipsel appliance (qemu)" ;;
			RssAnon) metric="RSS on the mipsel appliance (qemu), anonymous part" ;;
			*) continue ;;
			esac
			row "$metric" MB lower "signed-in clients" "$n" lobby "$run" "$(awk -v v="${value%_kB}" 'BEGIN { printf "%.2f", v / 1024 }')"
		done <"$WORK/mips-mem.tsv"
		cp "$WORK/mips-mem.tsv" "$BENCH_OUT/daemon-mips-mem-$run.tsv"
	done
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

cat >"$MD" <<EOF
Versions: $("$LOBBY" version | head -1); dnsmasq $(dnsmasq -v | sed -n '1s/^Dnsmasq version \([^ ]*\).*/\1/p'); kea-dhcp4 $(kea-dhcp4 -v).
Load average before and after this area: $load_before; $load_after.

- **Binary size**: \`make size\`: each board profile's static build (CGO_ENABLED=0,
  \`-trimpath -ldflags '-s -w'\`, tag nethttpomithttp2, the Makefile's NOINLINE or the
  board's GCFLAGS: docs/openwrt.md, Footprint), its size and the size of
  \`xz -9\` of it, which is what a board's squashfs pays. Each board has its own budget of xz
  bytes (FLASH_BUDGET in board/BOARD.conf; `make size` prints size, budget and margin).
- **Start to first DHCP answer**: perfdhcp (\`-r 200\`, a relay agent at 10.77.0.2) asks
  before the server starts; the time runs from just before the server's \`ip netns exec\` to
  the first DHCP packet from 10.77.0.1:67 that tcpdump sees in the client's namespace, so a
  DISCOVER's 5 ms spacing is in the figure. Lobby starts everything it runs (store, session
  table, neighbour tracking, the nftables table, DHCP, DNS, portal, responder, relay,
  control socket) before answering; with signed-in clients in its state_dir it also reads them
  back and puts them into the firewall first. The states with $SOME and $SESSIONS signed-in
  clients were made once each (\`lobby ctl auth\` for each) and copied into every later run. dnsmasq runs DHCP
  and DNS (as on OpenWrt), kea-dhcp4 DHCP only, both with empty lease files.
- **RSS after start**: VmRSS two seconds after the first answer (lobby: after the control
  socket answers), no client asking; and its anonymous part (RssAnon: heap and stacks).
  The rest is the program's own pages, read from the binary: lobby is one static binary of
  about 8 MB, dnsmasq and Kea share libraries with other processes, and the kernel can drop
  such pages under memory pressure and read them again.
- **RSS on the mipsel appliance**: lobby as PID 1 of the mipsel appliance image (every
  service on: DHCP, DNS, portal, responder, relay, firewall with nftables, the WAN's DHCP
  client), booted under qemu-system-mipsel (Malta, 24Kc, 256 MB, software emulation) by
  scripts/boot-test.sh; VmRSS and RssAnon from /proc/1/status, read by the console's \`mem\`
  command ten seconds after the boot (0 clients) and after $SOME MACs were signed in with
  \`ctl auth\` on the console ($SOME). The whole lines, with the Go runtime's heap and stack
  figures, are in build/bench/daemon-mips-mem-RUN.tsv. With 2,000 vouchers: pending the
  voucher issue.
- **Config reload**: $RELOADS SIGHUPs per run, 200 ms apart, to a running lobby; the time from
  \`kill -HUP\` until the log line \`reload: config applied\` reaches the script (the log
  followed with \`tail -f\`, read by the shell itself; a run's figure is the median of its
  reloads), and the CPU time the daemon
  used over all of them (utime + stime from /proc, in ticks of $((1000 / $(getconf CLK_TCK))) ms) divided by $RELOADS. A
  reload re-reads and checks the config, re-reads the upstreams (/etc/resolv.conf), the portal
  templates and TLS files, and re-applies the timeouts to every session.
EOF
say "wrote $TSV and $MD"
