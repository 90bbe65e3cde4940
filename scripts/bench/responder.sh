#!/usr/bin/env bash
# Benchmark of the raw-socket HTTP 511 responder (SPEC §3, issues 6 and 9):
# answers a second that preauth clients get from
#
#   lobby     its raw-socket responder (the firewall drops TCP 80 before
#             the kernel's TCP stack; an AF_PACKET socket answers, with
#             lobby's own Ethernet/IPv4/TCP codec)
#   net/http  a plain Go net/http server on the kernel's TCP stack in the
#             same router namespace, answering the same 511 page
#             (scripts/bench/http511, not part of lobby)
#   openNDS   Debian's opennds 9.10, its captive redirect (iptables DNAT to
#             its libmicrohttpd server, which answers with a 307)
#
# driven by wrk from two client namespaces at once (CONNS connections in
# all, DURATION seconds). lobby and net/http take turns RUNS times, each a
# fresh start; then RUNS
# bounded SYN floods against one lobby: hping3 -S --flood from a third
# client for FLOOD seconds, during which another client asks for its 511
# every 250 ms (curl, 1 s limit) and lobby's resident memory is sampled;
# before each flood, IDLE seconds of the same without the flood. Last,
# openNDS, RUNS rounds, each a fresh start.
#
# Writes $BENCH_OUT/responder.tsv (the nine fields of run.sh's contract) and
# responder.md. Needs root; installs wrk, hping3, opennds, iptables, ipset,
# strace and curl when missing. Every daemon runs inside the lab's router
# namespace and is stopped by its pid; openNDS runs in a private mount
# namespace (its own /tmp, where it looks for dnsmasq's leases, and the
# legacy iptables first in PATH: openNDS 9.10 starts only with
# iptables-legacy, its issue #429). Bounded: every step has a timeout and
# the whole script stops after BOUND seconds (900; QUICK 300); about
# RUNS × (4 × DURATION + IDLE + FLOOD + 14) + 30 seconds with the defaults.
#
# Environment: LOBBY (binary; built when unset), BENCH_OUT (build/bench),
# RUNS (5), QUICK (1: RUNS 2, DURATION 3, FLOOD 3, IDLE 2), DURATION (8),
# CONNS (64), FLOOD (10), IDLE (5), LAB_PREFIX (benchrs), KEEP (keep the
# work directory).
set -euo pipefail

# shellcheck source=scripts/bench/packages.bash
. "$(dirname "$0")/packages.bash"
bench_begin responder "network namespaces"
export LAB_PREFIX=${LAB_PREFIX:-benchrs}
if [ "${QUICK:-}" = 1 ]; then
	RUNS=${RUNS:-2} DURATION=${DURATION:-3} FLOOD=${FLOOD:-3} IDLE=${IDLE:-2} BOUND=${BOUND:-300}
else
	RUNS=${RUNS:-5} DURATION=${DURATION:-8} FLOOD=${FLOOD:-10} IDLE=${IDLE:-5} BOUND=${BOUND:-900}
fi
CONNS=${CONNS:-64}
ROUTER=$LAB_PREFIX-router
C1=$LAB_PREFIX-c1 C2=$LAB_PREFIX-c2 C3=$LAB_PREFIX-c3
TSV=$BENCH_OUT/responder.tsv MD=$BENCH_OUT/responder.md

say() { printf 'bench-responder: %s (%ds)\n' "$*" $(($(date +%s) - START)) >&2; }
die() {
	say "error: $*"
	exit 1
}

# --- packages ---------------------------------------------------------------
bench_install wrk hping3 opennds iptables ipset strace curl
for c in wrk hping3 opennds iptables-legacy ipset strace curl unshare; do
	command -v "$c" >/dev/null || die "$c missing after installing packages"
done
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# --- work directory, clean-up, watchdog --------------------------------------------
# Not under /tmp: openNDS gets a /tmp of its own.
WORK=$(mktemp -d /run/bench-responder.XXXXXX)
export XTABLES_LOCKFILE=$WORK/xtables.lock # shared by openNDS and this script only
PIDS=()
WATCHDOG=""
rm -f "$TSV" "$MD" # a failed run leaves no stale figures behind
cleanup() {
	set +e
	trap - TERM INT
	local p
	[ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	sleep 1
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	# Deleting the namespaces removes every rule, set and chain made in them.
	timeout 120 scripts/lab.sh down >/dev/null 2>&1
	if [ -n "${KEEP:-}" ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT
trap 'say "failed at line $LINENO: $BASH_COMMAND"' ERR
(
	sleep "$BOUND"
	echo "bench-responder: over the bound of $BOUND s; stopping" >&2
	kill -TERM $$
) &
WATCHDOG=$!

# --- binaries, lab ---------------------------------------------------------------
bench_lobby || die "no lobby binary"
say "building the net/http yardstick"
CGO_ENABLED=0 timeout 300 "$GO" build -trimpath -o "$WORK/http511" ./scripts/bench/http511

say "lab up ($LAB_PREFIX)"
timeout 300 scripts/lab.sh up 3 >"$WORK/lab.log" 2>&1 || {
	tail -20 "$WORK/lab.log" >&2
	die "lab up failed"
}
for k in 1 2 3; do
	ip -n "$LAB_PREFIX-c$k" addr replace "10.77.0.1$k/24" dev eth0
	ip -n "$LAB_PREFIX-c$k" route replace default via 10.77.0.1
done

# --- helpers ---------------------------------------------------------------------
: >"$WORK/tsv"
: >"$WORK/missing"
: >"$WORK/notes"
# emit METRIC UNIT BETTER SUBJECT RUN VALUE adds one line (a single figure:
# no x) to the tsv; a value that is not a plain number is counted as
# missing instead.
emit() { bench_row "$WORK/tsv" responder "$1" "$2" "$3" - - "$4" "$5" "$6" || echo "$1, $4, run $5: '$6'" >>"$WORK/missing"; }

# start NAME CMD... runs CMD in the router namespace in the background; its
# pid (ip netns exec execs it) goes to PIDS and to $NAME.pid.
start() {
	local name=$1
	shift
	ip netns exec "$ROUTER" "$@" >"$WORK/$name.log" 2>&1 &
	PIDS+=($!)
	echo $! >"$WORK/$name.pid"
}

# stop NAME stops what start NAME started and waits for it (10 s, then
# SIGKILL).
stop() {
	local pid _
	pid=$(cat "$WORK/$1.pid")
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
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
# "requests/s errors" (rates added; errors: socket errors, timeouts and
# non-2xx/3xx answers other than the expected status are not told apart
# by wrk, so only socket errors and timeouts of both are counted).
load() {
	local name=$1 url=$2 half=$((CONNS / 2)) w1 w2
	timeout $((DURATION + 30)) ip netns exec "$C1" wrk -t1 -c"$half" -d"${DURATION}s" --timeout 10s "$url" >"$WORK/$name.wrk1" 2>&1 &
	w1=$!
	timeout $((DURATION + 30)) ip netns exec "$C2" wrk -t1 -c"$half" -d"${DURATION}s" --timeout 10s "$url" >"$WORK/$name.wrk2" 2>&1 &
	w2=$!
	wait "$w1" || true
	wait "$w2" || true
	awk '
	/^Requests\/sec:/ { rps += $2; n++ }
	/Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
	END { if (n == 2) printf "%.0f %d\n", rps, err; else print "- 0" }
	' "$WORK/$name.wrk1" "$WORK/$name.wrk2"
}

# rss_kb PID prints the resident memory of PID in kB.
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true; }

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
	start lobby "$LOBBY" run -c "$WORK/lobby.conf"
	wait_status http://198.51.100.10/ 511 "$WORK/lobby.log"
}

# --- 1. lobby and net/http, in turns -------------------------------------------
R_ROUTER="511 responses/s, to the router's address"
R_INET="portal answers/s, to an internet address"
: >"$WORK/errors"
for r in $(seq "$RUNS"); do
	say "round $r/$RUNS: lobby"
	start_lobby
	[ "$(status "$C1" http://10.77.0.1/)" = 511 ] || die "lobby does not answer 10.77.0.1:80"
	read -r rps err < <(load "lobby-$r" http://10.77.0.1/)
	emit "$R_ROUTER" /s higher lobby "$r" "$rps"
	echo "lobby router $err" >>"$WORK/errors"
	read -r rps err < <(load "lobby-inet-$r" http://198.51.100.10/)
	emit "$R_INET" /s higher lobby "$r" "$rps"
	echo "lobby internet $err" >>"$WORK/errors"
	stop lobby

	say "round $r/$RUNS: net/http"
	start nethttp "$WORK/http511" -listen 10.77.0.1:80
	wait_status http://10.77.0.1/ 511 "$WORK/nethttp.log"
	read -r rps err < <(load "nethttp-$r" http://10.77.0.1/)
	emit "$R_ROUTER" /s higher net/http "$r" "$rps"
	echo "net/http router $err" >>"$WORK/errors"
	stop nethttp
done

# --- 2. SYN floods against one lobby ------------------------------------------------
start_lobby
LPID=$(cat "$WORK/lobby.pid")

# window NAME SECS: for SECS seconds, client 1 asks for its 511 every 250 ms
# (1 s limit) and lobby's RSS is sampled; NAME.probes ("status seconds")
# and NAME.rss (kB).
window() {
	local end=$((SECONDS + $2))
	: >"$WORK/$1.probes"
	: >"$WORK/$1.rss"
	while [ "$SECONDS" -lt "$end" ]; do
		ip netns exec "$C1" curl --noproxy '*' -s -o /dev/null --max-time 1 -w '%{http_code} %{time_total}\n' \
			http://198.51.100.11/during-the-flood >>"$WORK/$1.probes" 2>/dev/null || echo "000 1.0" >>"$WORK/$1.probes"
		rss_kb "$LPID" >>"$WORK/$1.rss"
		sleep 0.25
	done
}
max_mb() { sort -n "$1" | tail -1 | awk '{ printf "%.2f\n", $1 / 1024 }'; }

sleep 1
RSS_FIRST=$(rss_kb "$LPID")
: >"$WORK/syns-sent"
for r in $(seq "$RUNS"); do
	say "flood $r/$RUNS: ${IDLE}s without, then hping3 -S --flood from client 3 for ${FLOOD}s"
	window "idle-$r" "$IDLE"
	ip netns exec "$C3" timeout -s INT "$FLOOD" hping3 -S --flood -p 80 198.51.100.10 >"$WORK/hping-$r.log" 2>&1 &
	HPING=$!
	PIDS+=("$HPING")
	window "flood-$r" "$FLOOD"
	wait "$HPING" || true
	awk '/packets transmitted/ { print $1 }' "$WORK/hping-$r.log" >>"$WORK/syns-sent"
	emit "RSS without a SYN flood" MB lower lobby "$r" "$(max_mb "$WORK/idle-$r.rss")"
	emit "RSS during a SYN flood" MB lower lobby "$r" "$(max_mb "$WORK/flood-$r.rss")"
	emit "511s answered within 1 s during a SYN flood" % higher lobby "$r" \
		"$(awk '{ n++ } $1 == 511 && $2 < 1 { ok++ } END { if (n) printf "%.1f\n", 100 * ok / n }' "$WORK/flood-$r.probes")"
	emit "time to the 511 during a SYN flood (median)" ms lower lobby "$r" \
		"$(awk '$1 == 511 { print $2 * 1000 }' "$WORK/flood-$r.probes" | sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.2f\n", (v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2 }')"
	sleep 2
done
RSS_LAST=$(rss_kb "$LPID")
PROBES=$(cat "$WORK"/flood-*.probes | wc -l)
PROBES_OK=$(cat "$WORK"/flood-*.probes | awk '$1 == 511 && $2 < 1 { n++ } END { print n + 0 }')
PROBE_MAX=$(cat "$WORK"/flood-*.probes | awk '{ t = $2 * 1000; if (t > m) m = t } END { printf "%.0f", m }')
SYNS_SENT=$(awk '{ n += $1 } END { print n + 0 }' "$WORK/syns-sent")
stop lobby
FLOOD_STATS=$(grep 'responder: stopped' "$WORK/lobby.log" | tail -1 || true)
field() { printf '%s\n' "$FLOOD_STATS" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }
say "floods: $PROBES_OK/$PROBES probes answered within 1 s; RSS $RSS_FIRST kB at first, $RSS_LAST kB after"

# --- 3. openNDS ----------------------------------------------------------------
say "openNDS"
mkdir -p "$WORK/nds/bin"
for t in iptables ip6tables; do
	for s in "" -save -restore; do ln -s "$(command -v "$t-legacy$s")" "$WORK/nds/bin/$t$s"; done
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
cd $WORK/nds
exec ip netns exec $ROUTER opennds -f -d 1 -c $WORK/nds/opennds.conf -w $WORK/nds/ndsctl.sock
EOF
chmod +x "$WORK/nds/start.sh"
# start_nds starts openNDS afresh (a new log each time) and waits for its
# redirect; stop_nds stops it and removes whatever rules it left.
start_nds() {
	unshare -m --propagation private "$WORK/nds/start.sh" >"$WORK/opennds.log" 2>&1 &
	NDS_PID=$!
	PIDS+=("$NDS_PID")
	echo "$NDS_PID" >"$WORK/opennds.pid"
	wait_status http://198.51.100.10/ 307 "$WORK/opennds.log"
}
stop_nds() {
	local t
	stop opennds
	for t in nat mangle filter; do
		timeout 60 ip netns exec "$ROUTER" iptables-legacy -t "$t" -F 2>/dev/null || true
		timeout 60 ip netns exec "$ROUTER" iptables-legacy -t "$t" -X 2>/dev/null || true
	done
}
start_nds

# What openNDS runs to answer one request, traced once off the clock.
timeout 30 strace -f -qq -z -e trace=execve -e signal=none -o "$WORK/nds-exec.trace" -p "$NDS_PID" &
STRACE=$!
PIDS+=("$STRACE")
sleep 1
NDS_ONE=$(status "$C1" http://198.51.100.10/traced)
sleep 1
kill "$STRACE" 2>/dev/null || true
wait "$STRACE" 2>/dev/null || true
NDS_EXECS=$(grep -c 'execve(' "$WORK/nds-exec.trace" || true)
NDS_EXEC_LIST=$(grep -o 'execve("[^"]*"' "$WORK/nds-exec.trace" | sed 's/.*\///; s/"$//' | sort | uniq -c | sort -rn |
	awk '{ printf "%s%d × %s", sep, $1, $2; sep = ", " }' || true)

NDS_RSS=""
for r in $(seq "$RUNS"); do
	say "round $r/$RUNS: openNDS"
	[ "$r" = 1 ] || start_nds
	read -r rps err < <(load "opennds-$r" http://198.51.100.10/)
	emit "$R_INET" /s higher opennds "$r" "$rps"
	echo "opennds internet $err" >>"$WORK/errors"
	kill -0 "$NDS_PID" 2>/dev/null || echo "openNDS had died by the end of round $r" >>"$WORK/notes"
	NDS_RSS="$NDS_RSS $(rss_kb "$NDS_PID")"
	stop_nds
done

# --- the fragment --------------------------------------------------------------------
mv "$WORK/tsv" "$TSV"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }
errors() { awk -v s="$1" -v t="$2" '$1 == s && $2 == t { n += $3 } END { print n + 0 }' "$WORK/errors"; }
ELAPSED=$(($(date +%s) - START))
{
	cat <<EOF
Lobby (\`$("$LOBBY" version 2>/dev/null | head -1 || echo lobby)\`) against a plain Go net/http server
($("$GO" env GOVERSION)) and Debian's openNDS $(pkgver opennds-daemon), in one lab (\`scripts/lab.sh\`,
LAB_PREFIX=$LAB_PREFIX) and one run of $ELAPSED s; wrk $(pkgver wrk), hping3 $(pkgver hping3), Linux $(uname -r).
Load average $LOAD_START at the start, $LOAD_END at the end (the machine is shared: compare
subjects of this run, not runs).

### How

- **Load.** Every server runs in the lab's router namespace; wrk runs in two client namespaces
  at once (2 × $((CONNS / 2)) connections, $DURATION s a round). Every answer says
  \`Connection: close\`, so each request is a new TCP connection: handshake, request, answer,
  close. A round's value is the two wrk rates added.
- **Lobby** answers from its raw-socket responder: the firewall drops the preauth clients'
  TCP 80 before the kernel's TCP stack, an AF_PACKET socket with a BPF filter reads the
  frames, and lobby's own Ethernet/IPv4/TCP codec decodes them and builds the SYN-ACK (a SYN
  cookie: no state per connection), the ACK, the 511 and the FIN. The page is the same 511 the
  net/http server sends.
- **net/http** (\`scripts/bench/http511\`) listens on 10.77.0.1:80 on the kernel's TCP stack and
  answers every request with that same 511 page. Lobby and net/http took turns, $RUNS rounds,
  each a fresh start; lobby was loaded at the router's address (the comparison with net/http)
  and at an internet address (the comparison with openNDS) in each of its rounds.
- **openNDS** answers a preauth client's port 80 with an iptables DNAT to its libmicrohttpd
  server on port 2050, which sends a 307 redirect to its login page. Its figure is of that
  redirect, at the internet address 198.51.100.10. Traced with strace once, off the clock, one
  such request (status $NDS_ONE) made it launch $NDS_EXECS programs${NDS_EXEC_LIST:+ ($NDS_EXEC_LIST)}.
  It was started afresh for each of its $RUNS rounds (in one daemon, what a round leaves queued
  slows the next one down); its RSS at the end of each round:
  $(awk -v l="$NDS_RSS" 'BEGIN { n = split(l, v, " "); for (i = 1; i <= n; i++) printf "%s%.1f", (i > 1 ? ", " : ""), v[i] / 1024 }') MB.
- Socket errors and timeouts reported by wrk, all rounds: lobby $(errors lobby router) (router address),
  $(errors lobby internet) (internet address); net/http $(errors net/http router); openNDS $(errors opennds internet).

### SYN floods

- One lobby, $RUNS floods: each time $IDLE s without a flood, then \`hping3 -S --flood\` to
  198.51.100.10:80 from client 3 for $FLOOD s ($SYNS_SENT SYNs sent in all, as hping3 counts). In
  both windows client 1 asked for http://198.51.100.11/ every 250 ms with a 1 s limit, and
  lobby's VmRSS was read at each ask; a run's RSS values are the highest of each window.
- During the floods, $PROBES_OK of $PROBES asks got their 511 within 1 s (slowest $PROBE_MAX ms).
  Lobby's RSS was $(awk -v k="$RSS_FIRST" 'BEGIN { printf "%.1f", k / 1024 }') MB before the first window and $(awk -v k="$RSS_LAST" 'BEGIN { printf "%.1f", k / 1024 }') MB after the last flood.
- The responder's own counters over all the floods (from its log at stop): $(field frames) frames read,
  $(field syns) SYN-ACKs sent, $(field shed) SYNs shed (over a MAC's share of a crowded batch: what
  keeps one flooding client from crowding out the others), $(field queue_drops) frames the kernel
  dropped from the socket's queue, $(field send_errors) send errors.
- The responder allocates nothing per frame (TestNoAllocations in internal/responder covers
  SYNs, requests, resets, bad cookies, FINs, shed SYNs and signed-in clients' frames).
EOF
	if [ -s "$WORK/notes" ]; then
		echo "- $(paste -sd';' "$WORK/notes" | sed 's/;/; /g')."
	fi
	if [ -s "$WORK/missing" ]; then
		echo "- Measurements that gave no value and are not in the data: $(paste -sd';' "$WORK/missing" | sed 's/;/; /g')."
	fi
} >"$MD"
say "wrote $TSV ($(wc -l <"$TSV") lines) and $MD in $ELAPSED s"
