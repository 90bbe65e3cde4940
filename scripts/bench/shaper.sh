#!/usr/bin/env bash
# Shaper benchmark (issue 17): how exactly a client's rate holds, for lobby
# and for openNDS's own rate limit (Debian's package), what clients without
# a rate lose while others are shaped, what a sign-in with a rate costs, and
# what a shaped client costs in memory; all in one lab and run.
#
#   rate off         iperf3 TCP, IPERF_SECS seconds (the first one left
#                    out), the lab client with a rate of 1, 8 and 50 Mbit/s
#                    both ways; download (iperf3 -R) and upload; the value is
#                    how far what iperf3 received is off the rate, over or
#                    under, in % of the rate (the log has each). Lobby: the rate
#                    given with `ctl limit`. openNDS: the same rates given in
#                    its sign-in (`ndsctl auth MAC 0 UP DOWN 0 0`, kbit/s),
#                    its other knobs at their defaults.
#   unlimited client the lab client signed in without a rate, iperf3 TCP for
#                    THRU_SECS seconds each way, while SHAPED other clients
#                    (signed in through the control socket, each with an
#                    address in the neighbour table) have 8 Mbit/s both ways
#                    ("lobby"), and with the same clients'
#                    rates taken away by `ctl limit … download=0 upload=0`
#                    ("no shaping": nothing of the shaper in the kernel), in
#                    turns within each run.
#   memory           kernel: at the largest SHAPED count, in the same turns,
#                    /proc/meminfo's Slab + Percpu with and without the
#                    rates, per shaped client. Lobby: its heap per shaped
#                    client (go test -bench PlanMemory ./internal/shaper).
#   sign-in cost     the shaper alone (go test -bench Set ./internal/shaper):
#                    a new client with rates both ways (two HTB classes and a
#                    map entry) at 10 and 10,000 shaped clients.
#
# Writes $BENCH_OUT/shaper.tsv (run.sh's contract) and shaper.md.
# Environment: LOBBY, BENCH_OUT (build/bench), RUNS (3), QUICK (1: RUNS 1,
# 3 s transfers, SHAPED "0 100"), IPERF_SECS (10), THRU_SECS (5), SHAPED
# ("0 100 1000"), RATES ("1 8 50", Mbit/s), LAB_PREFIX (benchsh), GO. Needs
# root; installs iperf3, opennds and the lab's packages when missing.
# Bounded: every step has a timeout, and the script stops after BOUND
# seconds (2400; QUICK 600).
set -euo pipefail

# shellcheck source=scripts/bench/packages.bash
. "$(dirname "$0")/packages.bash"
bench_begin shaper "network namespaces"
export LAB_PREFIX=${LAB_PREFIX:-benchsh}
if [ "${QUICK:-}" = 1 ]; then
	RUNS=${RUNS:-1} IPERF_SECS=${IPERF_SECS:-3} THRU_SECS=${THRU_SECS:-2} SHAPED=${SHAPED:-"0 100"}
	BOUND=${BOUND:-600} KERN_OPS=100
else
	RUNS=${RUNS:-3} IPERF_SECS=${IPERF_SECS:-10} THRU_SECS=${THRU_SECS:-5} SHAPED=${SHAPED:-"0 100 1000"}
	BOUND=${BOUND:-2400} KERN_OPS=1000
fi
RATES=${RATES:-"1 8 50"}
MAX=$(tr ' ' '\n' <<<"$SHAPED" | sort -n | tail -1)
[ "$MAX" -le 16000 ] || { echo "bench-shaper: at most 16000 clients (the /18)" >&2; exit 1; }
R=$LAB_PREFIX-router I=$LAB_PREFIX-inet C=$LAB_PREFIX-c1
MAC1=02:00:00:00:01:01 IP1=10.77.0.11
TSV=$BENCH_OUT/shaper.tsv MD=$BENCH_OUT/shaper.md

say() { printf 'bench-shaper: %s (%ds)\n' "$*" $(($(date +%s) - START)) >&2; }
die() {
	say "error: $*"
	exit 1
}

# shellcheck source=scripts/bench/opennds.bash
. scripts/bench/opennds.bash
bench_install iperf3 opennds iptables nftables iproute2 iputils-ping util-linux
for c in iperf3 opennds iptables-legacy unshare; do
	command -v "$c" >/dev/null || die "$c missing after installing packages"
done

# Not under /tmp: openNDS gets a /tmp of its own.
WORK=$(mktemp -d /run/bench-shaper.XXXXXX)
export XTABLES_LOCKFILE=$WORK/xtables.lock
LOBBY_PID="" NDS_PID="" IPERF_PID="" WATCHDOG=""
rm -f "$TSV" "$MD"
cleanup() {
	set +e
	trap - TERM INT
	[ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
	[ -n "$IPERF_PID" ] && kill "$IPERF_PID" 2>/dev/null
	[ -n "$LOBBY_PID" ] && stop_lobby
	[ -n "$NDS_PID" ] && stop_nds
	# Deleting the namespaces removes every rule, qdisc and device in them.
	timeout 120 scripts/lab.sh down >/dev/null 2>&1
	if [ -n "${KEEP:-}" ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT
trap 'say "failed at line $LINENO: $BASH_COMMAND"' ERR
(
	sleep "$BOUND"
	echo "bench-shaper: over the bound of $BOUND s; stopping" >&2
	kill -TERM $$
) &
WATCHDOG=$!

bench_lobby || die "no lobby binary"

# --- lab ------------------------------------------------------------------------
say "lab up ($LAB_PREFIX)"
timeout 300 scripts/lab.sh up 1 >"$WORK/lab.log" 2>&1 || {
	tail -20 "$WORK/lab.log" >&2
	die "lab up failed"
}
ip -n "$C" addr replace "$IP1/24" dev eth0
ip -n "$C" route replace default via 10.77.0.1
bench_fake_clients "$R" "$MAX" # the shaped ones, where lobby finds their addresses
ip netns exec "$I" iperf3 -s -B 198.51.100.10 >/dev/null 2>&1 &
IPERF_PID=$!
sleep 0.5

# --- measuring -----------------------------------------------------------------
: >"$WORK/tsv"
: >"$WORK/missing"
: >"$WORK/achieved"
emit() { bench_row "$WORK/tsv" shaper "$@" || echo "$1 $5 $6 run $7: $8" >>"$WORK/missing"; }

# mbps DIR SECS prints what the lab client received from (down) or sent to
# (up) the internet over TCP, in Mbit/s, the first second left out; nothing
# if iperf3 failed.
mbps() {
	local r=""
	[ "$1" = down ] && r=-R
	# shellcheck disable=SC2086 # r is one flag or none
	timeout $(($2 + 30)) ip netns exec "$C" iperf3 -c 198.51.100.10 -t "$2" -O 1 -f k $r 2>/dev/null |
		awk '/ receiver$/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Kbits/sec") v = $i } END { if (v != "") printf "%.3f\n", v / 1000 }' || true
}

# off VALUE RATE prints how far VALUE (Mbit/s) is off RATE (Mbit/s), over
# or under, in % of RATE; the achieved rate goes to the run's log.
off() {
	[ -n "$1" ] || return 0
	local p
	p=$(awk -v v="$1" -v r="$2" 'BEGIN { printf "%.2f\n", 100 * v / r }')
	echo "$p" >>"$WORK/achieved"
	awk -v p="$p" 'BEGIN { d = p - 100; printf "%.2f\n", d < 0 ? -d : d }'
}

passing() {
	local _
	for _ in 1 2 3 4 5; do
		ip netns exec "$C" ping -c 1 -W 1 198.51.100.10 >/dev/null 2>&1 && return 0
	done
	return 1
}

meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
kernel_kb() { echo $(($(meminfo Slab) + $(meminfo Percpu))); }

# --- lobby --------------------------------------------------------------------------
say "lobby: starting"
mkdir -p "$WORK/lobby-state"
cat >"$WORK/lobby.conf" <<EOF
config lobby 'main'
	option interface 'br-lan'
	option state_dir '$WORK/lobby-state'
	option socket '$WORK/lobby.sock'
	option firewall 'nftables'
	option log_level 'warn'
	option session_timeout '0'
	option idle_timeout '0'
config dns 'dns'
	list upstream '198.51.100.53'
EOF
ip netns exec "$R" "$LOBBY" run -c "$WORK/lobby.conf" 2>"$WORK/lobby.log" &
LOBBY_PID=$!
ctl() { timeout 30 "$LOBBY" ctl -s "$WORK/lobby.sock" "$@"; }
for _ in $(seq 100); do ctl status >/dev/null 2>&1 && break; sleep 0.1; done
ctl status >/dev/null || { tail -20 "$WORK/lobby.log" >&2; die "lobby did not start"; }
stop_lobby() {
	kill "$LOBBY_PID" 2>/dev/null || true
	for _ in $(seq 150); do kill -0 "$LOBBY_PID" 2>/dev/null || break; sleep 0.2; done
	kill -KILL "$LOBBY_PID" 2>/dev/null || true
	wait "$LOBBY_PID" 2>/dev/null || true
	LOBBY_PID=""
}
ip netns exec "$C" ping -c 1 -W 1 10.77.0.1 >/dev/null 2>&1 || true
ctl auth "$MAC1" >/dev/null || die "ctl auth $MAC1 failed"
passing || die "the signed-in client does not reach the internet"

# Accuracy: the client's rate both ways, one rate after the other.
for run in $(seq "$RUNS"); do
	for rate in $RATES; do
		ctl limit "$MAC1" "download=${rate}mbit" "upload=${rate}mbit" >/dev/null
		emit "download rate off the rate given" "% of the rate" lower "rate (Mbit/s)" "$rate" lobby "$run" "$(off "$(mbps down "$IPERF_SECS")" "$rate")"
		emit "upload rate off the rate given" "% of the rate" lower "rate (Mbit/s)" "$rate" lobby "$run" "$(off "$(mbps up "$IPERF_SECS")" "$rate")"
	done
done
ctl limit "$MAC1" download=0 upload=0 >/dev/null
say "lobby: achieved, % of the rate: $(paste -sd' ' "$WORK/achieved")"
: >"$WORK/achieved"

# limit_all FROM TO ARGS… runs `ctl limit MAC ARGS…` for the other clients
# FROM..TO-1, four at a time.
limit_all() {
	local from=$1 to=$2
	shift 2
	[ "$from" -lt "$to" ] || return 0
	for i in $(seq "$from" $((to - 1))); do fake_mac "$i"; echo; done |
		timeout 900 xargs -P 4 -I{} "$LOBBY" ctl -s "$WORK/lobby.sock" limit {} "$@" >/dev/null
}

# The unlimited client beside shaped ones, in turns with the same clients
# unshaped (odd runs shaped first).
have=0 memrun=0
for n in $SHAPED; do
	if [ "$n" -gt "$have" ]; then
		t=$(date +%s)
		for i in $(seq "$have" $((n - 1))); do fake_mac "$i"; echo; done |
			timeout 900 xargs -P 4 -I{} "$LOBBY" ctl -s "$WORK/lobby.sock" auth {} >/dev/null
		limit_all "$have" "$n" download=8mbit upload=8mbit
		say "lobby: $n clients signed in and shaped (+$((n - have)) in $(($(date +%s) - t)) s)"
		have=$n
	fi
	was=lobby
	for run in $(seq "$RUNS"); do
		for turn in 1 2; do
			if [ $(((run + turn) % 2)) = 0 ]; then subject=lobby; else subject="no shaping"; fi
			m0=$(kernel_kb)
			if [ "$subject" = "no shaping" ]; then
				limit_all 0 "$n" download=0 upload=0
			else
				limit_all 0 "$n" download=8mbit upload=8mbit
			fi
			sleep 1
			m1=$(kernel_kb)
			# The kernel's memory across a real toggle at the largest count
			# (each level starts with its clients shaped).
			if [ "$n" = "$MAX" ] && [ "$n" -gt 0 ] && [ "$subject" != "$was" ]; then
				if [ "$subject" = lobby ]; then d=$((m1 - m0)); else d=$((m0 - m1)); fi
				emit "kernel memory per shaped client (Slab + Percpu)" KB lower - - lobby "$((memrun + 1))" "$(awk -v d="$d" -v n="$n" 'BEGIN { printf "%.2f\n", d / n }')"
				memrun=$((memrun + 1))
			fi
			was=$subject
			emit "unlimited client's download" Gbit/s higher "shaped clients" "$n" "$subject" "$run" "$(mbps down "$THRU_SECS" | awk '{ printf "%.3f\n", $1 / 1000 }')"
			emit "unlimited client's upload" Gbit/s higher "shaped clients" "$n" "$subject" "$run" "$(mbps up "$THRU_SECS" | awk '{ printf "%.3f\n", $1 / 1000 }')"
		done
	done
	limit_all 0 "$n" download=8mbit upload=8mbit
	say "lobby: $n shaped: $(awk -F'\t' -v n="$n" '$2 ~ /^unlimited/ && $6 == n { printf "%s %s %s; ", substr($2, 20), $7, $9 }' "$WORK/tsv")"
done
HTB_CLASSES=$(ip netns exec "$R" tc class show dev br-lan | grep -c 'class htb' || true)
say "lobby: stopping"
stop_lobby

# --- the shaper's kernel side alone --------------------------------------------------
say "lobby: a sign-in with rates alone (go test -bench Set ./internal/shaper)"
if CGO_ENABLED=0 timeout 900 "$GO" test -run '^$' -bench 'Set/clients=.*/signin|PlanMemory' -benchtime "${KERN_OPS}x" -count "$RUNS" \
	./internal/shaper/ >"$WORK/kern.out" 2>&1; then
	for n in 10 10000; do
		r=0
		while read -r _ _ ns _; do
			r=$((r + 1))
			emit "sign-in with rates both ways (shaper alone)" ms lower "shaped clients" "$n" lobby "$r" "$(awk -v v="$ns" 'BEGIN { printf "%.3f", v / 1e6 }')"
		done < <(grep "^BenchmarkSet/clients=$n/signin" "$WORK/kern.out")
	done
	r=0
	while read -r _ _ _ _ b _; do
		r=$((r + 1))
		emit "lobby's heap per shaped client" bytes lower - - lobby "$r" "$b"
	done < <(grep "^BenchmarkPlanMemory" "$WORK/kern.out")
else
	say "the Set benchmark failed (left out):"
	tail -5 "$WORK/kern.out" >&2
	echo "sign-in cost: go test failed" >>"$WORK/missing"
fi

# --- openNDS --------------------------------------------------------------------------
say "openNDS: starting"
nds_prepare
stop_nds() {
	kill "$NDS_PID" 2>/dev/null || true
	for _ in $(seq 150); do kill -0 "$NDS_PID" 2>/dev/null || break; sleep 0.2; done
	kill -KILL "$NDS_PID" 2>/dev/null || true
	wait "$NDS_PID" 2>/dev/null || true
	NDS_PID=""
	nds_flush
}
# ndsctl talks to openNDS's socket at its default path, /tmp/ndsctl.sock,
# which is in openNDS's private /tmp: it runs in openNDS's mount namespace.
ndsctl() { timeout 30 nsenter -t "$NDS_PID" -m ndsctl "$@"; }
: >"$WORK/nds.log"
: >"$WORK/nds-crashes"
start_nds() {
	local runs _
	runs=$(grep -ac "now running" "$WORK/nds.log" || true)
	unshare -m --propagation private "$WORK/nds/start.sh" >>"$WORK/nds.log" 2>&1 &
	NDS_PID=$!
	for _ in $(seq 150); do
		[ "$(grep -ac "now running" "$WORK/nds.log" || true)" -gt "$runs" ] && break
		kill -0 "$NDS_PID" 2>/dev/null || break
		sleep 0.2
	done
	[ "$(grep -ac "now running" "$WORK/nds.log" || true)" -gt "$runs" ] || { tail -20 "$WORK/nds.log" >&2; die "openNDS did not start"; }
	ip netns exec "$C" ping -c 1 -W 1 10.77.0.1 >/dev/null 2>&1 || true
	for _ in $(seq 50); do ndsctl status >/dev/null 2>&1 && break; sleep 0.2; done
}
# ensure_nds starts openNDS again if it died (its rules flushed first), and
# counts that.
ensure_nds() {
	kill -0 "$NDS_PID" 2>/dev/null && return 0
	local rc=0
	wait "$NDS_PID" 2>/dev/null || rc=$?
	echo "exit status $rc at $1" >>"$WORK/nds-crashes"
	say "openNDS died (exit status $rc); starting it again"
	nds_flush
	start_nds
}
start_nds
# nds_rate DIR RATE RUN measures one direction; a value measured while
# openNDS died is left out (its left-over rules are not its rate limit).
nds_rate() {
	local v
	v=$(off "$(mbps "$1" "$IPERF_SECS")" "$2")
	if kill -0 "$NDS_PID" 2>/dev/null; then
		emit "${1}load rate off the rate given" "% of the rate" lower "rate (Mbit/s)" "$2" opennds "$3" "$v"
	else
		echo "openNDS ${1}load at $2 Mbit/s, run $3: openNDS died during it" >>"$WORK/missing"
	fi
}
for run in $(seq "$RUNS"); do
	for rate in $RATES; do
		ensure_nds "$rate Mbit/s, run $run"
		ndsctl deauth "$MAC1" >/dev/null 2>&1 || true
		sleep 1
		ndsctl auth "$MAC1" 0 $((rate * 1000)) $((rate * 1000)) 0 0 bench 2>&1 | grep -v pgrep >>"$WORK/nds-ctl.log" || true
		passing || say "openNDS: the client does not pass at $rate Mbit/s"
		nds_rate down "$rate" "$run"
		nds_rate up "$rate" "$run"
	done
done
NDS_CRASHES=$(wc -l <"$WORK/nds-crashes")
say "openNDS: achieved, % of the rate: $(paste -sd' ' "$WORK/achieved")"
stop_nds

# --- the fragment -------------------------------------------------------------------------
mv "$WORK/tsv" "$TSV"
pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }
{
	cat <<EOF
Lobby (\`$("$LOBBY" version 2>/dev/null | head -1)\`, nftables backend) and openNDS $(pkgver opennds)
(Debian's package, iptables-legacy) in one lab (LAB_PREFIX=$LAB_PREFIX), one after the other,
one run of $(($(date +%s) - START)) s; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg).
This kernel has no fq_codel: lobby's classes have pfifo queues here.

### How

- **Rate off the rate given**: iperf3 TCP for $IPERF_SECS s (\`-O 1\`: the first second left out) from the
  lab client (its own namespace, behind br-lan) to the lab's internet, download with \`-R\`; the
  value is how far the rate iperf3's receiver reports is off the rate given, over or under, in %
  of it (0: exact). Lobby: \`ctl limit MAC
  download=Nmbit upload=Nmbit\` (a rate is TCP payload of full-size packets: docs/shaper.md).
  openNDS: \`ndsctl auth MAC 0 UP DOWN 0 0\` with the rates in kbit/s, its other knobs (rate check
  interval, bucket ratios, bursting) at their defaults. $RUNS runs, the rates one after the other.
- **Unlimited client**: the same client signed in without a rate, iperf3 TCP for $THRU_SECS s each
  way, while the other clients (signed in through the control socket, each with an address in
  the neighbour table) have 8 Mbit/s both ways, and in turn with the same clients' rates taken
  away (\`ctl limit MAC download=0 upload=0\`: nothing of the shaper left in the kernel) — "no
  shaping". Odd runs shaped first. Its download passes the root HTB's classifier (one map lookup)
  and HTB's direct queue, its upload the ingress gate (one map lookup).
- **Memory**: the kernel's at $MAX shaped clients, in the same turns: \`Slab + Percpu\`
  (/proc/meminfo, the whole machine: other work moves it too), shaped minus unshaped, divided by
  $MAX ($HTB_CLASSES HTB classes on br-lan then, clients' and groups'; as many on the IFB).
  Lobby's: the heap of its plan per shaped client, 10,000 shaped both ways
  (\`go test -bench PlanMemory ./internal/shaper\`); the session is there with or without a rate.
- **Sign-in cost**: \`go test -bench Set ./internal/shaper\` (a fresh namespace with a veth, the
  shaper alone): a new client with rates both ways (two HTB classes, their queues, one map entry),
  $KERN_OPS times a run, with 10 and with 10,000 clients shaped both ways.
EOF
	[ "$NDS_CRASHES" = 0 ] || echo "- openNDS died $NDS_CRASHES times ($(paste -sd';' "$WORK/nds-crashes")) and was started again; the values measured while it was dead are left out."
	[ ! -s "$WORK/missing" ] || echo "- Measurements with no value: $(paste -sd';' "$WORK/missing")."
} >"$MD"
say "wrote $TSV ($(wc -l <"$TSV") lines) and $MD"
