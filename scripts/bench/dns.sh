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
# For each job the two servers take turns, ROUNDS times each: a warm-up pass
# over the query file (fills the caches), then DURATION seconds at full
# speed (queries per second: the median round is reported), then RATE
# queries per second for LAT_SECONDS (latency percentiles from dnsperf -v:
# the latency of a server that is not saturated; the median round).
#
# Writes docs/bench-dns.md. Needs root; installs dnsperf and dnsmasq-base when
# missing. Bounded: about 2 × 2 × ROUNDS × (DURATION + LAT_SECONDS + 4)
# seconds, about 5 minutes with the defaults.
#
# Environment: ROUNDS (3), DURATION (10), RATE (5000), LAT_SECONDS (5),
# CLIENTS (dnsperf -c, 8), OUTSTANDING (dnsperf -q, 100), LAB_PREFIX (benchdn).
set -euo pipefail

cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
RATE=${RATE:-5000}
LAT_SECONDS=${LAT_SECONDS:-5}
CLIENTS=${CLIENTS:-8}
OUTSTANDING=${OUTSTANDING:-100}
export LAB_PREFIX=${LAB_PREFIX:-benchdn}
ROUTER=$LAB_PREFIX-router
CLIENT=$LAB_PREFIX-c1
OUT=docs/bench-dns.md
export PATH=$PATH:/usr/local/go/bin

say() { printf 'bench-dns: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}

[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"

. scripts/bench/packages.bash
bench_install dnsperf dnsmasq-base dnsutils

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
WORK=$(mktemp -d /tmp/bench-dns.XXXXXX)
SERVER_PID=""

stop_server() {
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=""
	fi
}

cleanup() {
	stop_server
	scripts/lab.sh down >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

say "building lobby"
CGO_ENABLED=0 go build -trimpath -o "$WORK/lobby" ./firmware

say "bringing up lab $LAB_PREFIX"
scripts/lab.sh up 1 >"$WORK/lab.log" 2>&1 || {
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
		ip netns exec "$ROUTER" "$WORK/lobby" run -c "$WORK/lobby.conf" >>"$WORK/lobby.log" 2>&1 &
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
	ip netns exec "$CLIENT" busybox ping -c 1 -W 1 10.77.0.1 >/dev/null 2>&1 || true
	local want=10.77.0.1 name=ready.hijack.example
	[ "$2" = forward ] && want=198.51.100.10 name=ready.example.com
	for _ in $(seq 1 100); do
		if [ "$(ip netns exec "$CLIENT" dig +short +time=1 +tries=1 @10.77.0.1 "$name" A 2>/dev/null)" = "$want" ]; then
			return 0
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	tail -20 "$WORK/$1.log" >&2
	die "$1 did not answer $name with $want for the $2 job"
}

# perf FILE ARGS...: one dnsperf run from the client; prints its output.
perf() {
	local file=$1
	shift
	ip netns exec "$CLIENT" dnsperf -s 10.77.0.1 -d "$file" -c "$CLIENTS" -q "$OUTSTANDING" "$@" 2>&1
}

field() { # $1: dnsperf output, $2: label; prints the first number after it
	printf '%s\n' "$1" | awk -v label="$2" '(i = index($0, label)) { split(substr($0, i + length(label)), f, " "); print f[1]; exit }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

pct() { # $1: sorted file of microseconds, $2: percentile
	awk -v p="$2" '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit } i = int(NR * p / 100 + 0.5); if (i < 1) i = 1; printf "%.0f\n", v[i] }' "$1"
}

# One job: rounds of both servers in turn; results into $WORK/JOB-SERVER.*.
run_job() { # $1: job
	local job=$1 file="$WORK/$1.txt" r server out
	for r in $(seq 1 "$ROUNDS"); do
		for server in lobby dnsmasq; do
			start_server "$server" "$job"
			perf "$file" -n 1 -Q 50000 >/dev/null # warm-up: one pass over the file
			out=$(perf "$file" -l "$DURATION")
			printf '%s\n' "$out" >>"$WORK/$job-$server.raw"
			field "$out" "Queries per second:" >>"$WORK/$job-$server.qps"
			field "$out" "Average Latency (s):" >>"$WORK/$job-$server.avg"
			field "$out" "Queries lost:" >>"$WORK/$job-$server.lost"
			say "$job $server round $r: $(tail -1 "$WORK/$job-$server.qps") q/s, lost $(tail -1 "$WORK/$job-$server.lost")"
			perf "$file" -l "$LAT_SECONDS" -Q "$RATE" -v |
				awk '/^> NOERROR / { print $NF * 1e6 }' | sort -g >"$WORK/lat"
			pct "$WORK/lat" 50 >>"$WORK/$job-$server.p50"
			pct "$WORK/lat" 99 >>"$WORK/$job-$server.p99"
			stop_server
		done
	done
}

run_job hijack
run_job forward

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

{
	echo "# DNS benchmark: lobby against dnsmasq"
	echo
	echo "Generated by \`scripts/bench/dns.sh\` ($(date -u '+%Y-%m-%d %H:%M UTC')); do not edit by hand."
	echo
	echo "Machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name:[ \t]*//p' | head -1), Linux $(uname -r)."
	echo "Load average (1, 5, 15 min) at the start: $LOAD_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "dnsperf $(dnsperf -h 2>&1 | sed -n 's/^Version //p'), $(dnsmasq --version | head -1 | sed 's/ *Copyright.*//')."
	echo
	echo "Both servers listen on 10.77.0.1:53 in the lab's router namespace; dnsperf runs in a"
	echo "client namespace (\`-c $CLIENTS -q $OUTSTANDING\`), over UDP. Lobby runs whole (firewall rules"
	echo "in place, as in production); dnsmasq runs alone. Each server took $ROUNDS turns of ${DURATION}s per"
	echo "job, alternating with the other, after a warm-up pass over the query file; the"
	echo "table gives the median turn. Latency percentiles come from a second run in each turn"
	echo "at a fixed $RATE queries per second (${LAT_SECONDS}s), where neither server is saturated;"
	echo "again the median turn."
	echo "Lobby reads UDP with a socket (SO_REUSEPORT) and a goroutine per CPU, in batches"
	echo "(recvmmsg, sendmmsg); dnsmasq is single-threaded."
	echo "Other work on the machine (see the load average) moves every figure; the ratio of"
	echo "turns run side by side is what to compare."
	echo
	echo "- **hijack**: 20,000 distinct A names from a preauth client, all answered with the"
	echo "  portal address (dnsmasq: \`--address=/#/10.77.0.1\`)."
	echo "- **forward**: 2,000 distinct A names from a trusted client, forwarded to the lab's"
	echo "  upstream 198.51.100.53 through a 4096-entry cache (dnsmasq: \`--server=198.51.100.53"
	echo "  --cache-size=4096\`); after the warm-up pass nearly every query is a cache hit."
	echo
	echo "| job | server | queries/s (median) | avg latency at full speed | p50 / p99 at $RATE q/s | lost | q/s ratio lobby/dnsmasq |"
	echo "|---|---|---:|---:|---:|---:|---:|"
	for job in hijack forward; do
		lq=$(median <"$WORK/$job-lobby.qps")
		dq=$(median <"$WORK/$job-dnsmasq.qps")
		for server in lobby dnsmasq; do
			q=$(median <"$WORK/$job-$server.qps")
			avg=$(median <"$WORK/$job-$server.avg")
			lost=$(awk '{ s += $1 } END { print s + 0 }' "$WORK/$job-$server.lost")
			r=""
			[ "$server" = lobby ] && r=$(ratio "$lq" "$dq")
			printf '| %s | %s | %.0f | %.0f µs | %s / %s µs | %s | %s |\n' "$job" "$server" "$q" \
				"$(awk -v a="$avg" 'BEGIN { print a * 1e6 }')" \
				"$(median <"$WORK/$job-$server.p50")" "$(median <"$WORK/$job-$server.p99")" "$lost" "$r"
		done
	done
	echo
	echo "Every turn: queries per second; p50 / p99 latency in µs at $RATE q/s:"
	echo
	for job in hijack forward; do
		for server in lobby dnsmasq; do
			echo "- $job, $server: $(awk '{ printf "%s%.0f", (NR > 1 ? ", " : ""), $1 }' "$WORK/$job-$server.qps");" \
				"$(paste -d/ "$WORK/$job-$server.p50" "$WORK/$job-$server.p99" | paste -sd' ' | sed 's/ /, /g')"
		done
	done
} >"$OUT"
say "wrote $OUT"
cat "$OUT"
