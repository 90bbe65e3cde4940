#!/usr/bin/env bash
# Benchmark of the raw-socket HTTP 511 responder (SPEC §3, issue 6): 511
# responses a second that preauth clients get from
#
#   lobby     its raw-socket responder (the firewall drops TCP 80 before
#             the kernel's TCP stack; an AF_PACKET socket answers)
#   net/http  a plain Go net/http server on the kernel's TCP stack in the
#             same router namespace, answering the same 511 page
#             (scripts/bench/http511, not part of lobby)
#   openNDS   Debian's opennds 9.10, its captive redirect (iptables DNAT to
#             its libmicrohttpd server, which runs a shell script per
#             request)
#
# driven by wrk from two client namespaces at once (CONNS connections in
# all, DURATION seconds). lobby and net/http take turns ROUNDS times and
# the median round counts; openNDS runs once. Then a bounded SYN flood:
# hping3 -S --flood from a third client for FLOOD seconds, during which
# another client asks for its 511 every 250 ms (curl, 1 s limit) and
# lobby's resident memory is sampled before, during and after (and during
# as long a window without flood, for comparison).
#
# Writes docs/bench-responder.md. Needs root; installs wrk, hping3, opennds,
# iptables and ipset when missing. Every daemon runs inside the lab's router
# namespace and is stopped by its pid; openNDS runs in a private mount
# namespace (its own /tmp, where it looks for dnsmasq's leases, and the
# legacy iptables first in PATH: openNDS 9.10 starts only with
# iptables-legacy, its issue #429). Bounded: about
# ROUNDS × (3 × DURATION + 8) + DURATION + 2 × FLOOD + 60 seconds, under 3
# minutes with the defaults.
#
# Environment: ROUNDS (3), DURATION (10), CONNS (64), FLOOD (10),
# LAB_PREFIX (benchrs).
set -euo pipefail

cd "$(dirname "$0")/../.."
export LAB_PREFIX=${LAB_PREFIX:-benchrs}
export PATH=$PATH:/usr/local/go/bin
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
FLOOD=${FLOOD:-10}
ROUTER=$LAB_PREFIX-router
C1=$LAB_PREFIX-c1 C2=$LAB_PREFIX-c2 C3=$LAB_PREFIX-c3
OUT=docs/bench-responder.md

say() { printf 'bench-responder: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}
[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"

# --- packages ---------------------------------------------------------------
. scripts/bench/packages.bash
bench_install wrk hping3 opennds iptables ipset curl
for c in wrk hping3 opennds iptables-legacy ipset curl; do
	command -v "$c" >/dev/null || die "$c missing after installing packages"
done

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# --- binaries, lab, work directory ---------------------------------------------
# Not under /tmp: openNDS gets a /tmp of its own.
WORK=$(mktemp -d /run/bench-responder.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	sleep 1
	for p in "${PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	scripts/lab.sh down >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

say "building lobby and the net/http yardstick"
CGO_ENABLED=0 go build -o "$WORK/lobby" ./firmware
CGO_ENABLED=0 go build -o "$WORK/http511" ./scripts/bench/http511

say "lab up ($LAB_PREFIX)"
scripts/lab.sh up 3 >"$WORK/lab.log" 2>&1 || {
	cat "$WORK/lab.log" >&2
	die "lab up failed"
}
for k in 1 2 3; do
	ip -n "$LAB_PREFIX-c$k" addr replace "10.77.0.1$k/24" dev eth0
	ip -n "$LAB_PREFIX-c$k" route replace default via 10.77.0.1
done

# start NAME CMD... runs CMD in the router namespace in the background; its
# pid (ip netns exec execs it) goes to PIDS and to $NAME.pid.
start() {
	local name=$1
	shift
	ip netns exec "$ROUTER" "$@" >"$WORK/$name.log" 2>&1 &
	PIDS+=($!)
	echo $! >"$WORK/$name.pid"
}

# stop NAME stops what start NAME started and waits for it.
stop() {
	local pid _
	pid=$(cat "$WORK/$1.pid")
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

# status NS URL prints the HTTP status a client gets (000: none).
status() {
	ip netns exec "$1" curl --noproxy '*' -s -o /dev/null -w '%{http_code}' --max-time 2 "$2" 2>/dev/null || true
}

# wait_status URL CODE [LOG] waits up to 30 s until client 1 gets CODE
# from URL; on failure it shows the end of LOG.
wait_status() {
	local _
	for _ in $(seq 150); do
		[ "$(status "$C1" "$1")" = "$2" ] && return 0
		sleep 0.2
	done
	[ -z "${3:-}" ] || tail -20 "$3" >&2
	die "no $2 from $1 within 30 s"
}

# load NAME URL runs wrk from clients 1 and 2 at once and prints
# "requests/s p50-ms p99-ms errors" (rates added, latencies the worse of the
# two, errors: socket errors and timeouts of both).
load() {
	local name=$1 url=$2 half=$((CONNS / 2))
	ip netns exec "$C1" wrk -t1 -c"$half" -d"${DURATION}s" --timeout 10s --latency "$url" >"$WORK/$name.wrk1" 2>&1 &
	local w1=$!
	ip netns exec "$C2" wrk -t1 -c"$half" -d"${DURATION}s" --timeout 10s --latency "$url" >"$WORK/$name.wrk2" 2>&1 &
	local w2=$!
	wait "$w1" "$w2" || true
	awk '
	function ms(v) {
		if (v ~ /us$/) return v / 1000
		if (v ~ /ms$/) return v + 0
		if (v ~ /m$/) return v * 60000
		if (v ~ /s$/) return v * 1000
		return v
	}
	/^Requests\/sec:/ { rps += $2 }
	$1 == "50%" { p = ms($2); if (p > p50) p50 = p }
	$1 == "99%" { p = ms($2); if (p > p99) p99 = p }
	/Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
	END { printf "%.0f %.2f %.2f %d\n", rps, p50, p99, err }
	' "$WORK/$name.wrk1" "$WORK/$name.wrk2"
}

# median picks the middle line of its input by the first field.
median() { sort -n | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'; }

cat >"$WORK/lobby.conf" <<EOF
config lobby 'main'
	option interface 'br-lan'
	option state_dir '$WORK/state'
	option socket '$WORK/lobby.sock'
	option log_level 'info'

config dhcp 'dhcp'
	option enabled '0'

config dns 'dns'
	list upstream '198.51.100.53'
EOF

start_lobby() {
	rm -rf "$WORK/state"
	start lobby "$WORK/lobby" run -c "$WORK/lobby.conf"
	wait_status http://198.51.100.10/ 511
}

# --- 1. lobby and net/http, in turns -------------------------------------------
: >"$WORK/rounds.lobby"
: >"$WORK/rounds.lobby-inet"
: >"$WORK/rounds.nethttp"
for r in $(seq "$ROUNDS"); do
	say "round $r/$ROUNDS: lobby"
	start_lobby
	[ "$(status "$C1" http://10.77.0.1/)" = 511 ] || die "lobby does not answer 10.77.0.1:80"
	load "lobby-$r" http://10.77.0.1/ >>"$WORK/rounds.lobby"
	load "lobby-inet-$r" http://198.51.100.10/ >>"$WORK/rounds.lobby-inet"
	stop lobby
	grep 'responder: stopped' "$WORK/lobby.log" | tail -1 >"$WORK/lobby-$r.stats" || true

	say "round $r/$ROUNDS: net/http"
	start nethttp "$WORK/http511" -listen 10.77.0.1:80
	wait_status http://10.77.0.1/ 511
	load "nethttp-$r" http://10.77.0.1/ >>"$WORK/rounds.nethttp"
	stop nethttp
done
read -r L_RPS L_P50 L_P99 L_ERR < <(median <"$WORK/rounds.lobby")
read -r LI_RPS LI_P50 LI_P99 LI_ERR < <(median <"$WORK/rounds.lobby-inet")
read -r N_RPS N_P50 N_P99 N_ERR < <(median <"$WORK/rounds.nethttp")
say "lobby $L_RPS/s (internet address $LI_RPS/s), net/http $N_RPS/s"

# --- 2. SYN flood against lobby ------------------------------------------------
start_lobby
LPID=$(cat "$WORK/lobby.pid")
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$LPID/status"; }

# window NAME: for FLOOD seconds, client 1 asks for its 511 every 250 ms
# (1 s limit) and lobby's RSS is sampled; NAME.probes and NAME.rss.
window() {
	local end=$((SECONDS + FLOOD))
	: >"$WORK/$1.probes"
	: >"$WORK/$1.rss"
	while [ "$SECONDS" -lt "$end" ]; do
		ip netns exec "$C1" curl --noproxy '*' -s -o /dev/null --max-time 1 -w '%{http_code} %{time_total}\n' \
			http://198.51.100.11/during-the-flood >>"$WORK/$1.probes" 2>/dev/null || echo "000 1.0" >>"$WORK/$1.probes"
		rss >>"$WORK/$1.rss"
		sleep 0.25
	done
}
# series NAME: the RSS samples of a window, one a second, in MB.
series() { awk 'NR % 4 == 1 { printf "%s%.1f", sep, $1 / 1024; sep = ", " }' "$WORK/$1.rss"; }

sleep 1
say "idle window: ${FLOOD}s of probes alone"
window idle
RSS_BEFORE=$(rss)
say "SYN flood: hping3 from client 3 for ${FLOOD}s"
ip netns exec "$C3" timeout -s INT "$FLOOD" hping3 -S --flood -p 80 198.51.100.10 >"$WORK/hping.log" 2>&1 &
HPING=$!
PIDS+=("$HPING")
window flood
wait "$HPING" || true
sleep 2
RSS_AFTER=$(rss)
RSS_MAX=$(sort -n "$WORK/flood.rss" | tail -1)
FLOOD_SENT=$(awk '/packets transmitted/ { print $1 }' "$WORK/hping.log")
PROBES=$(wc -l <"$WORK/flood.probes")
PROBES_OK=$(awk '$1 == 511 && $2 < 1 { n++ } END { print n + 0 }' "$WORK/flood.probes")
PROBE_MAX=$(awk '{ t = $2 * 1000; if (t > m) m = t } END { printf "%.1f", m }' "$WORK/flood.probes")
PROBE_P50=$(awk '{ print $2 * 1000 }' "$WORK/flood.probes" | sort -n | awk '{ l[NR] = $0 } END { printf "%.1f", l[int((NR + 1) / 2)] }')
stop lobby
FLOOD_STATS=$(grep 'responder: stopped' "$WORK/lobby.log" | tail -1 || true)
field() { printf '%s\n' "$FLOOD_STATS" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }
say "flood: $PROBES_OK/$PROBES probes answered within 1 s (max ${PROBE_MAX} ms); RSS $RSS_BEFORE → max $RSS_MAX → $RSS_AFTER kB"

# --- 3. openNDS ----------------------------------------------------------------
say "openNDS"
mkdir -p "$WORK/nds/bin"
for t in iptables ip6tables; do
	ln -s "/usr/sbin/$t-legacy" "$WORK/nds/bin/$t"
	ln -s "/usr/sbin/$t-legacy-save" "$WORK/nds/bin/$t-save"
	ln -s "/usr/sbin/$t-legacy-restore" "$WORK/nds/bin/$t-restore"
done
cat >"$WORK/nds/opennds.conf" <<EOF
GatewayInterface br-lan
GatewayName lobbybench
login_option_enabled 1
EOF
# openNDS serves only clients in dnsmasq's leases: the static clients get
# lines there, in a /tmp of openNDS's own.
cat >"$WORK/nds/start.sh" <<EOF
#!/bin/sh
set -e
mount -t tmpfs tmpfs /tmp
for k in 1 2 3; do echo "0 02:00:00:00:01:0\$k 10.77.0.1\$k c\$k *" >>/tmp/dhcp.leases; done
export PATH=$WORK/nds/bin:\$PATH
# A lock of its own: legacy iptables locks /run/xtables.lock for every
# namespace, and another lab's iptables must not hold this one up.
export XTABLES_LOCKFILE=$WORK/nds/xtables.lock
exec ip netns exec $ROUTER opennds -f -d 1 -c $WORK/nds/opennds.conf -w $WORK/nds/ndsctl.sock
EOF
chmod +x "$WORK/nds/start.sh"
unshare -m --propagation private "$WORK/nds/start.sh" >"$WORK/opennds.log" 2>&1 &
PIDS+=($!)
echo $! >"$WORK/opennds.pid"
wait_status http://198.51.100.10/ 307 "$WORK/opennds.log"
read -r O_RPS O_P50 O_P99 O_ERR < <(load opennds http://198.51.100.10/)
stop opennds
for t in nat mangle filter; do
	XTABLES_LOCKFILE=$WORK/nds/xtables.lock ip netns exec "$ROUTER" iptables-legacy -t "$t" -F 2>/dev/null || true
	XTABLES_LOCKFILE=$WORK/nds/xtables.lock ip netns exec "$ROUTER" iptables-legacy -t "$t" -X 2>/dev/null || true
done
say "openNDS $O_RPS/s"

# --- report --------------------------------------------------------------------
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f×", a / b; else print "∞ (0 answers)" }'; }
CPU=$(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2; exit }')
{
	cat <<EOF
# Benchmark: the raw-socket HTTP 511 responder

Generated by \`scripts/bench/responder.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'). Machine: $(nproc) cores
($CPU), Linux $(uname -r); load average $LOAD_START at the start, $LOAD_END at the end
(other jobs share the machine: compare rows of one run, not runs).

Every server runs in the lab's router namespace; wrk runs in two client namespaces at once
(2 × $((CONNS / 2)) connections, ${DURATION} s, one request per connection: every answer says
\`Connection: close\`). lobby and net/http took turns $ROUNDS times; the median round is shown.

## 511 responses a second

| server | target | responses/s | p50 | p99 | socket errors | lobby is |
|---|---|---:|---:|---:|---:|---:|
| lobby (raw socket) | http://10.77.0.1/ | $L_RPS | $L_P50 ms | $L_P99 ms | $L_ERR | |
| lobby (raw socket) | http://198.51.100.10/ | $LI_RPS | $LI_P50 ms | $LI_P99 ms | $LI_ERR | |
| Go net/http, kernel TCP | http://10.77.0.1/ | $N_RPS | $N_P50 ms | $N_P99 ms | $N_ERR | $(ratio "$L_RPS" "$N_RPS") |
| openNDS 9.10 (307 redirect) | http://198.51.100.10/ | $O_RPS | $O_P50 ms | $O_P99 ms | $O_ERR | $(ratio "$L_RPS" "$O_RPS") |

Targets: at least 100× openNDS, at least the net/http server's rate.

Rounds (responses/s p50-ms p99-ms errors):

- lobby, 10.77.0.1: $(tr '\n' ';' <"$WORK/rounds.lobby" | sed 's/;$//; s/;/; /g')
- lobby, 198.51.100.10: $(tr '\n' ';' <"$WORK/rounds.lobby-inet" | sed 's/;$//; s/;/; /g')
- net/http: $(tr '\n' ';' <"$WORK/rounds.nethttp" | sed 's/;$//; s/;/; /g')

## SYN flood

hping3 -S --flood to 198.51.100.10:80 from client 3 for ${FLOOD} s ($FLOOD_SENT SYNs sent);
meanwhile client 1 asked for http://198.51.100.11/ every 250 ms with a 1 s limit.

| | |
|---|---|
| probes answered with the 511 within 1 s | $PROBES_OK of $PROBES |
| probe time, median / worst | $PROBE_P50 ms / $PROBE_MAX ms |
| lobby's RSS before / highest during / 2 s after | $RSS_BEFORE kB / $RSS_MAX kB / $RSS_AFTER kB |
| lobby's RSS each second of the flood | $(series flood) MB |
| lobby's RSS each second of as long a window without flood, just before | $(series idle) MB |
| frames read by the responder | $(field frames) |
| SYN-ACKs sent / SYNs shed (over a MAC's share of a crowded batch) | $(field syns) / $(field shed) |
| frames the kernel dropped from the socket's queue | $(field queue_drops) |

The responder allocates nothing per frame (TestNoAllocations in internal/responder covers SYNs,
requests, resets, bad cookies, FINs, shed SYNs and signed-in clients' frames); the two RSS rows
show what a flood adds to what lobby does anyway.
EOF
} >"$OUT"
say "wrote $OUT"
