#!/usr/bin/env bash
# DNS benchmark: Lobby's resolver against dnsmasq, each serving 10.77.0.1:53
# on the router of one lab (LAB_PREFIX=benchdn), driven by dnsperf from a lab
# client, in the same run, for two jobs:
#
#   hijack   every name answered with the portal address: a preauth client
#            of lobby; dnsmasq --address=/#/10.77.0.1
#   forward  forwarding to the lab's upstream (198.51.100.53) through a
#            4096-entry cache: a trusted client of lobby; dnsmasq
#            --server=198.51.100.53 --cache-size=4096
#
# The data contract is issue 9 (make bench): $BENCH_OUT/dns.tsv (one line
# per value of one run) and $BENCH_OUT/dns.md (how it was measured).
# Every run (1..RUNS), for each job, the two servers take turns (the order
# alternates from run to run). In its turn a server is started, warmed up by
# one pass over the query file (fills the caches), then gives:
#   - queries per second at full speed (DURATION seconds, dnsperf -q
#     OUTSTANDING: as fast as the server answers);
#   - latency p50 and p99 at RATE queries per second (LAT_SECONDS), where
#     neither server is saturated;
#   - a sweep of offered loads (SWEEP, dnsperf -Q, STEP seconds each, up to
#     SWEEP_OUTSTANDING queries in flight): answered queries per second, the
#     share lost, and the server's CPU time per answered query (every
#     thread's, from /proc/PID/task/*/schedstat).
#
# Environment (issue 9): LOBBY (binary; built here when unset), BENCH_OUT
# (build/bench), RUNS (5), QUICK (1: smoke run, junk figures). Also: DURATION
# (5), RATE (5000), LAT_SECONDS (3), SWEEP ("5000 10000 20000 40000 80000"),
# STEP (2), CLIENTS (dnsperf -c, 8), OUTSTANDING (dnsperf -q, 100),
# SWEEP_OUTSTANDING (10000), LAB_PREFIX (benchdn), KEEP (set: keep the work
# directory). Needs root; installs dnsperf, dnsmasq-base and dnsutils when
# missing. Every daemon runs in the lab's router namespace, killed by its pid.
set -euo pipefail
set -E # the ERR trap fires inside functions too

cd "$(dirname "$0")/../.."
export LAB_PREFIX=${LAB_PREFIX:-benchdn}
export PATH=$PATH:/usr/local/go/bin
BENCH_OUT=${BENCH_OUT:-build/bench}
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
	RUNS=${RUNS:-1}
	DURATION=${DURATION:-2}
	LAT_SECONDS=${LAT_SECONDS:-1}
	SWEEP=${SWEEP:-"10000 80000"}
	STEP=${STEP:-1}
else
	RUNS=${RUNS:-5}
	DURATION=${DURATION:-5}
	LAT_SECONDS=${LAT_SECONDS:-3}
	SWEEP=${SWEEP:-"5000 10000 20000 40000 80000"}
	STEP=${STEP:-2}
fi
RATE=${RATE:-5000}
CLIENTS=${CLIENTS:-8}
OUTSTANDING=${OUTSTANDING:-100}
SWEEP_OUTSTANDING=${SWEEP_OUTSTANDING:-10000}
ROUTER=$LAB_PREFIX-router
CLIENT=$LAB_PREFIX-c1

say() { printf 'bench-dns: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}

[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
T0=$(date +%s)

. scripts/bench/packages.bash
bench_install dnsperf dnsmasq-base dnsutils busybox

WORK=$(mktemp -d /tmp/bench-dns.XXXXXX)
SERVER_PID=""

stop_server() { # SIGTERM, SIGKILL after 10s
	local _i
	[ -n "$SERVER_PID" ] || return 0
	kill "$SERVER_PID" 2>/dev/null || true
	for _i in $(seq 100); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=""
}

cleanup() {
	stop_server
	timeout 60 scripts/lab.sh down >/dev/null 2>&1 || true
	if [ -n "${KEEP:-}" ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM
# A failing command (set -e) says what failed, once, from the main shell.
trap 'rc=$?; [ "$BASH_SUBSHELL" -gt 0 ] || say "error: command failed (exit $rc, line $LINENO): $BASH_COMMAND"' ERR

bench_lobby || die "no lobby binary"
mkdir -p "$BENCH_OUT"
TSV=$BENCH_OUT/dns.tsv
MD=$BENCH_OUT/dns.md
: >"$WORK/dns.tsv"

say "bringing up lab $LAB_PREFIX"
timeout 120 scripts/lab.sh up 1 >"$WORK/lab.log" 2>&1 || {
	cat "$WORK/lab.log" >&2
	die "lab up failed"
}
ip -n "$CLIENT" addr add 10.77.0.11/24 dev eth0
ip -n "$CLIENT" route replace default via 10.77.0.1 dev eth0

# Query files: distinct names, A only (the hijack answers A; dnsmasq's
# --address answers AAAA with REFUSED when it has no upstream).
for i in $(seq 1 20000); do echo "w$i.hijack.example A"; done >"$WORK/hijack.txt"
for i in $(seq 1 2000); do echo "f$i.example.com A"; done >"$WORK/forward.txt"

lobby_config() { # $1: job
	cat <<EOF
config lobby 'main'
	option interface 'br-lan'
	option state_dir '$WORK/state'
	option socket '$WORK/lobby.sock'
	option log_level 'warn'
EOF
	# The forward job's client is trusted: forwarded like a signed-in one.
	[ "$1" = forward ] && echo "	list trusted_mac '02:00:00:00:01:01'"
	cat <<EOF

config dhcp 'dhcp'
	option enabled '0'

config dns 'dns'
	list upstream '198.51.100.53'
	option cache_size '4096'
EOF
}

start_server() { # $1: lobby|dnsmasq, $2: job
	rm -rf "$WORK/state"
	case $1 in
	lobby)
		lobby_config "$2" >"$WORK/lobby.conf"
		ip netns exec "$ROUTER" "$LOBBY" run -c "$WORK/lobby.conf" >>"$WORK/lobby.log" 2>&1 &
		;;
	dnsmasq)
		local job_args=(--address=/#/10.77.0.1)
		[ "$2" = forward ] && job_args=(--server=198.51.100.53)
		ip netns exec "$ROUTER" dnsmasq -k --conf-file=/dev/null --no-resolv --no-hosts \
			--bind-interfaces --listen-address=10.77.0.1 --except-interface=lo --user=root \
			--pid-file= --cache-size=4096 "${job_args[@]}" >>"$WORK/dnsmasq.log" 2>&1 &
		;;
	esac
	SERVER_PID=$!
	# The client's address must be in the router's neighbour table for
	# lobby to find its MAC; the ping may be dropped, the ARP is what counts.
	timeout 5 ip netns exec "$CLIENT" busybox ping -c 1 -W 1 10.77.0.1 >/dev/null 2>&1 || true
	local want=10.77.0.1 name=ready.hijack.example
	[ "$2" = forward ] && want=198.51.100.10 name=ready.example.com
	for _ in $(seq 1 100); do
		if [ "$(timeout 5 ip netns exec "$CLIENT" dig +short +time=1 +tries=1 @10.77.0.1 "$name" A 2>/dev/null)" = "$want" ]; then
			return 0
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	tail -20 "$WORK/$1.log" >&2
	die "$1 did not answer $name with $want for the $2 job"
}

# perf SECONDS FILE ARGS...: one dnsperf run from the client, bounded by
# SECONDS + 20; prints its output. -t 1: a query unanswered after 1s is lost
# (and dnsperf waits no longer than that at the end of a run).
perf() {
	local secs=$1 file=$2
	shift 2
	timeout $((secs + 20)) ip netns exec "$CLIENT" dnsperf -s 10.77.0.1 -d "$file" -c "$CLIENTS" -t 1 "$@" 2>&1 || true
}

field() { # $1: dnsperf output, $2: label; prints the first number after it
	printf '%s\n' "$1" | awk -v label="$2" '(i = index($0, label)) { split(substr($0, i + length(label)), f, " "); print f[1] + 0; exit }'
}

cpu_ns() { # $1: pid; the CPU time of all its threads so far, in ns
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'
}

pct() { # $1: sorted file of milliseconds, $2: percentile
	awk -v p="$2" '{ v[NR] = $1 } END { if (NR == 0) { print "0"; exit } i = int(NR * p / 100 + 0.5); if (i < 1) i = 1; printf "%.3f\n", v[i] }' "$1"
}

# emit METRIC UNIT BETTER XNAME X SUBJECT RUN VALUE: one line of dns.tsv.
emit() { bench_row "$WORK/dns.tsv" dns "$@" || true; }

# turn SERVER JOB RUN: one server's turn at one job.
turn() {
	local server=$1 job=$2 run=$3 file="$WORK/$2.txt" out qps sent lost rate n cpu
	start_server "$server" "$job"
	perf 10 "$file" -q "$OUTSTANDING" -n 1 -Q 50000 >/dev/null # warm-up: one pass over the file
	out=$(perf "$DURATION" "$file" -q "$OUTSTANDING" -l "$DURATION")
	printf '== %s %s run %s, full speed\n%s\n' "$server" "$job" "$run" "$out" >>"$WORK/dnsperf.log"
	qps=$(field "$out" "Queries per second:")
	emit "queries/s at full speed, $job" q/s higher - - "$server" "$run" "$qps"
	perf "$LAT_SECONDS" "$file" -q "$OUTSTANDING" -l "$LAT_SECONDS" -Q "$RATE" -v |
		awk '/^> NOERROR / { print $NF * 1000 }' | sort -g >"$WORK/lat"
	n=$(grep -c . "$WORK/lat" || true)
	emit "latency p50 at $RATE q/s, $job" ms lower - - "$server" "$run" "$(pct "$WORK/lat" 50)"
	emit "latency p99 at $RATE q/s, $job" ms lower - - "$server" "$run" "$(pct "$WORK/lat" 99)"
	say "$job $server run $run: $qps q/s; p50 $(pct "$WORK/lat" 50) ms, p99 $(pct "$WORK/lat" 99) ms of $n answers at $RATE q/s"
	for rate in $SWEEP; do
		cpu=$(cpu_ns "$SERVER_PID")
		out=$(perf "$STEP" "$file" -q "$SWEEP_OUTSTANDING" -l "$STEP" -Q "$rate")
		cpu=$(($(cpu_ns "$SERVER_PID") - cpu))
		printf '== %s %s run %s, offered %s q/s\n%s\n' "$server" "$job" "$run" "$rate" "$out" >>"$WORK/dnsperf.log"
		qps=$(field "$out" "Queries per second:")
		sent=$(field "$out" "Queries sent:")
		lost=$(field "$out" "Queries lost:")
		emit "answered queries/s, $job" q/s higher "offered load (q/s)" "$rate" "$server" "$run" "$qps"
		emit "queries lost, $job" % lower "offered load (q/s)" "$rate" "$server" "$run" \
			"$(awk -v l="$lost" -v s="$sent" 'BEGIN { printf "%.2f\n", (s > 0 ? 100 * l / s : 100) }')"
		emit "server CPU per answered query, $job" µs lower "offered load (q/s)" "$rate" "$server" "$run" \
			"$(awk -v c="$cpu" -v l="$lost" -v s="$sent" 'BEGIN { printf "%.2f\n", (s > l ? c / 1000 / (s - l) : 0) }')"
		printf '%s\t%s\t%s\t%s\n' "$job" "$rate" "$server" "$(awk -v s="$sent" -v t="$STEP" 'BEGIN { printf "%.0f\n", s / t }')" >>"$WORK/sent.txt"
		say "  offered $rate q/s: answered $qps q/s, lost $lost of $sent"
	done
	stop_server
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for run in $(seq 1 "$RUNS"); do
	for job in hijack forward; do
		if [ $((run % 2)) = 1 ]; then order=(lobby dnsmasq); else order=(dnsmasq lobby); fi
		for server in "${order[@]}"; do
			turn "$server" "$job" "$run"
		done
	done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$(($(date +%s) - T0))

ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown; }
# What dnsperf sent at the top offered rate, per job and server: it shares
# the cores with the server, so it may not reach the nominal rate.
top=${SWEEP##* }
ceiling=$(awk -F'\t' -v top="$top" '$2 == top { k = $1 " " $3; if (!(k in lo) || $4 < lo[k]) lo[k] = $4; if ($4 > hi[k]) hi[k] = $4 }
	END { for (k in lo) printf "%s%s %d-%d", (i++ ? ", " : ""), k, lo[k], hi[k] }' "$WORK/sent.txt")
{
	cat <<EOF
$("$LOBBY" version | head -1) against dnsmasq $(ver dnsmasq-base) (Debian package), with dnsperf
$(ver dnsperf) as the load, in one lab (LAB_PREFIX=$LAB_PREFIX) and one run of $RUNS round(s). Both
servers listen on 10.77.0.1:53 in the lab's router namespace; dnsperf runs in a client namespace,
over UDP, with \`-c $CLIENTS\` sockets and \`-t 1\` (a query unanswered after 1s is lost). In every
round and job the two servers take turns, in an order that alternates from round to round, so the
drift of the shared machine hits both alike. Load average before the run: $LOAD_START; after it:
$LOAD_END. The script took ${ELAPSED}s.

- **hijack**: 20,000 distinct A names from a preauth client, all answered with the portal address
  (dnsmasq: \`--address=/#/10.77.0.1\`).
- **forward**: 2,000 distinct A names from a trusted client, forwarded to the lab's upstream
  198.51.100.53 (the lab's fake internet) through a 4096-entry cache (dnsmasq:
  \`--server=198.51.100.53 --cache-size=4096\`; lobby: \`cache_size 4096\`). Each turn starts with
  a fresh server and one pass over the query file (\`-n 1\`, not counted), so the measured queries
  are nearly all cache hits: this is the resolver's own cost, not the upstream's.
- **Full speed**: ${DURATION}s with at most $OUTSTANDING queries in flight (\`-q $OUTSTANDING\`), as
  fast as the server answers.
- **Latency**: p50 and p99 of every answer's latency (dnsperf -v) over ${LAT_SECONDS}s at a fixed
  $RATE q/s, a rate where neither server is saturated.
- **Offered load**: $SWEEP q/s (\`-Q\`), ${STEP}s each, with up to $SWEEP_OUTSTANDING queries in
  flight, so that a saturated server loses queries rather than slowing dnsperf down. dnsperf
  shares the $(nproc) cores with the server: at the top rate ($top q/s) it sent, in q/s (lowest-highest round): $ceiling.
- **Server CPU per answered query**: the CPU time of every thread of the server (the sum of
  \`/proc/PID/task/*/schedstat\`, nanoseconds) over each offered-load step, over the queries
  answered in it: what the server's core pays for a query, which on a router is the figure
  that counts (its clients do not share its cores). Lobby's includes its other work in those
  seconds (the firewall's counters, timers): an idle lobby uses about 0.1 ms of CPU a second,
  0.02 µs a query at 5,000 q/s. Softirq work done for a server's
  packets counts where the kernel ran it, as it does for both.
- **Settings**: lobby runs whole, as in production (firewall rules in place, DHCP off); its
  resolver reads UDP on one socket, up to 32 queries per recvmmsg. dnsmasq runs alone,
  \`--bind-interfaces --listen-address=10.77.0.1\`, \`--no-resolv --no-hosts\`, no DHCP, no
  logging, with the same cache size as lobby: the settings its manual gives for these jobs, and
  it is single-threaded by design. Neither server logs queries.
EOF
} >"$WORK/dns.md"

mv "$WORK/dns.tsv" "$TSV"
mv "$WORK/dns.md" "$MD"
say "wrote $TSV and $MD in ${ELAPSED}s"
