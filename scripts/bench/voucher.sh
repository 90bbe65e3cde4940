#!/usr/bin/env bash
# Voucher benchmark (issue 16): sign-in latency by voucher code with 10 and
# with 100,000 codes in the store, the memory 100,000 codes cost, and the
# start with them; lobby alone (no peer).
#
#   sign-in latency  curl's time_total for POST /api/login
#                    {"method":"voucher","code":…} from the lab client to the
#                    real portal; each try a fresh unused code (a first
#                    redemption, written to disk with its fsync), the client
#                    signed out with `lobby ctl deauth` between tries, off
#                    the clock. A run is REPS tries; its median is one value.
#   lobby's part     time_starttransfer − time_pretransfer of the same
#                    requests: from the request sent to the answer's first
#                    byte (lobby's work and the round trip on the veth).
#   RSS              VmRSS and RssAnon before and after 10 × `voucher create
#                    10000` (the batch limit), and two seconds after a start
#                    with 100,000 codes in state_dir.
#   start            from exec to the control socket's first answer, with
#                    10 and with 100,000 codes in state_dir.
#
# Every run starts from an empty state_dir. Writes $BENCH_OUT/voucher.tsv
# and voucher.md. Environment: LOBBY, BENCH_OUT (build/bench), RUNS (5),
# REPS (9), QUICK (1: RUNS 2, REPS 3, 20,000 codes), LAB_PREFIX (benchvo).
# Needs root. Bounded: every step has a timeout, the script stops after
# BOUND seconds (900).
set -euo pipefail
# shellcheck source=scripts/bench/packages.bash
. "$(dirname "$0")/packages.bash"
bench_begin voucher "network namespaces"
export LAB_PREFIX=${LAB_PREFIX:-benchvo}
if [ "${QUICK:-}" = 1 ]; then RUNS=${RUNS:-2} REPS=${REPS:-3} BATCHES=2; else RUNS=${RUNS:-5} REPS=${REPS:-9} BATCHES=10; fi
BOUND=${BOUND:-900} BIG=$((BATCHES * 10000))
R=$LAB_PREFIX-router C=$LAB_PREFIX-c1 TSV=$BENCH_OUT/voucher.tsv MD=$BENCH_OUT/voucher.md
say() { printf 'bench-voucher: %s (%ds)\n' "$*" $(($(date +%s) - START)) >&2; }
die() { say "error: $*"; exit 1; }

bench_install curl iproute2 iputils-ping nftables
bench_lobby || die "no lobby binary"
WORK=$(mktemp -d /run/bench-voucher.XXXXXX)
LOBBY_PID="" WATCHDOG=""
rm -f "$TSV" "$MD"
cleanup() {
	set +e
	[ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
	stop_lobby
	timeout 120 scripts/lab.sh down >/dev/null 2>&1
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
trap 'say "failed at line $LINENO: $BASH_COMMAND"' ERR
(sleep "$BOUND"; echo "bench-voucher: over the bound of $BOUND s; stopping" >&2; kill -TERM $$) &
WATCHDOG=$!

say "lab up ($LAB_PREFIX)"
timeout 300 scripts/lab.sh up 1 >"$WORK/lab.log" 2>&1 || { tail -20 "$WORK/lab.log" >&2; die "lab up failed"; }
ip -n "$C" addr replace 10.77.0.11/24 dev eth0
ip -n "$C" route replace default via 10.77.0.1
MAC=$(ip -n "$C" -br link show eth0 | awk '{ print $3 }')

cat >"$WORK/lobby.conf" <<EOF
config lobby 'main'
	option interface 'br-lan'
	option state_dir '$WORK/state'
	option socket '$WORK/lobby.sock'
	option firewall 'nftables'
	option log_level 'warn'
	list auth 'voucher'
config dns 'dns'
	list upstream '198.51.100.53'
EOF
ctl() { timeout 60 "$LOBBY" ctl -s "$WORK/lobby.sock" "$@"; }
# start_lobby starts lobby and sets MS to the milliseconds until its
# control socket answers.
start_lobby() {
	local t0 _
	t0=$(date +%s%N)
	ip netns exec "$R" "$LOBBY" run -c "$WORK/lobby.conf" 2>>"$WORK/lobby.log" &
	LOBBY_PID=$!
	for _ in $(seq 3000); do ctl status >/dev/null 2>&1 && break; sleep 0.005; done
	MS=$(( ($(date +%s%N) - t0) / 1000000 ))
	ctl status >/dev/null || { tail -20 "$WORK/lobby.log" >&2; die "lobby did not start"; }
	ip netns exec "$C" ping -c 1 -W 1 10.77.0.1 >/dev/null 2>&1 || true
}
stop_lobby() {
	[ -n "$LOBBY_PID" ] || return 0
	kill "$LOBBY_PID" 2>/dev/null
	for _ in $(seq 150); do kill -0 "$LOBBY_PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$LOBBY_PID" 2>/dev/null || true
	wait "$LOBBY_PID" 2>/dev/null || true
	LOBBY_PID=""
}
# codes N makes N codes and prints them, one a line.
codes() { ctl --json voucher create "$1" | grep -o '"code": *"[^"]*"' | cut -d'"' -f4; }
rss() { awk -v k="$1:" '$1 == k { printf "%.2f", $2 / 1024 }' "/proc/$LOBBY_PID/status"; }
row() { bench_row "$WORK/tsv" voucher "$@" || echo "$1 $5 run $7" >>"$WORK/missing"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%.2f", (v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2 }'; }
# tries N RUN: REPS sign-ins, each with a fresh code from $WORK/fresh, with
# N codes in the store; one row for the median of each time.
tries() {
	local code out http
	: >"$WORK/total"; : >"$WORK/own"
	for code in $(head -n "$REPS" "$WORK/fresh"); do
		out=$(ip netns exec "$C" timeout 10 curl -s -o /dev/null -H 'Content-Type: application/json' \
			-d "{\"method\":\"voucher\",\"code\":\"$code\"}" \
			-w '%{http_code} %{time_total} %{time_pretransfer} %{time_starttransfer}' http://10.77.0.1:2050/api/login) || out="000"
		read -r http a b c <<<"$out"
		if [ "$http" = 200 ]; then
			echo "$a" >>"$WORK/total"
			awk -v b="$b" -v c="$c" 'BEGIN { print c - b }' >>"$WORK/own"
		else echo "HTTP $http" >>"$WORK/fails"; fi
		ctl deauth "$MAC" >/dev/null 2>&1 || echo "deauth" >>"$WORK/fails"
	done
	row "sign-in latency by voucher (POST /api/login)" ms lower "codes in the store" "$1" lobby "$2" "$(awk '{ print $1 * 1000 }' "$WORK/total" | median)"
	row "lobby's part of it (request sent to first byte)" ms lower "codes in the store" "$1" lobby "$2" "$(awk '{ print $1 * 1000 }' "$WORK/own" | median)"
	sed -i "1,${REPS}d" "$WORK/fresh"
}

: >"$WORK/tsv"; : >"$WORK/fails"; : >"$WORK/missing"
for run in $(seq "$RUNS"); do
	stop_lobby
	rm -rf "$WORK/state"
	start_lobby
	codes 10 >/dev/null
	codes "$REPS" >"$WORK/fresh"
	tries 10 "$run"
	stop_lobby; start_lobby
	row "start to control socket answering" ms lower "codes in the store" 10 lobby "$run" "$MS"
	sleep 2
	row "VmRSS" MB lower "codes in the store" 10 lobby "$run" "$(rss VmRSS)"
	row "RssAnon" MB lower "codes in the store" 10 lobby "$run" "$(rss RssAnon)"
	t=$(date +%s%N)
	for _ in $(seq "$BATCHES"); do codes 10000 >>"$WORK/fresh"; done
	say "run $run: $BIG codes made in $(( ($(date +%s%N) - t) / 1000000 )) ms"
	sleep 2
	row "VmRSS" MB lower "codes in the store" "$BIG" lobby "$run" "$(rss VmRSS)"
	row "RssAnon" MB lower "codes in the store" "$BIG" lobby "$run" "$(rss RssAnon)"
	shuf -n "$REPS" "$WORK/fresh" >"$WORK/pick" && mv "$WORK/pick" "$WORK/fresh"
	tries "$BIG" "$run"
	stop_lobby; start_lobby
	row "start to control socket answering" ms lower "codes in the store" "$BIG" lobby "$run" "$MS"
	sleep 2
	row "VmRSS after a start" MB lower "codes in the store" "$BIG" lobby "$run" "$(rss VmRSS)"
	row "RssAnon after a start" MB lower "codes in the store" "$BIG" lobby "$run" "$(rss RssAnon)"
	say "run $run: $(awk -F'\t' -v r="$run" '$8 == r { printf "%s at %s: %s; ", $2, $6, $9 }' "$WORK/tsv")"
done
STATEFS=$(df -T "$WORK" | awk 'NR == 2 { print $2 }')
mv "$WORK/tsv" "$TSV"
{
	cat <<EOF
Lobby (\`$("$LOBBY" version 2>/dev/null | head -1)\`) alone, in one lab (LAB_PREFIX=$LAB_PREFIX),
one run of $(($(date +%s) - START)) s; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg).

### How

- **Sign-in latency**: curl's \`time_total\` for \`POST /api/login\` with
  \`{"method":"voucher","code":…}\` from the lab client (its own namespace, behind br-lan) to
  the portal at 10.77.0.1:2050, a new connection each. Every try uses a fresh unused code, so
  each is a first redemption, written to state_dir with its fsync ($STATEFS); the client is
  signed out with \`lobby ctl deauth\` between tries, off the clock. A run is $REPS tries; its
  value is their median; $RUNS runs, each from an empty state_dir. With 10 codes: 10 made
  beforehand and the tries' own; with $BIG: 10 × \`voucher create 10000\` (the batch limit),
  the tries' codes picked at random from them.
- **Lobby's part**: \`time_starttransfer − time_pretransfer\` of the same requests: from the
  request sent to the answer's first byte (lobby's work plus one round trip on the veth).
- **RSS**: VmRSS and RssAnon from /proc/PID/status two seconds after the start with 10
  codes, then two seconds after the $BIG codes were made (same daemon), and two seconds after
  a start with $BIG codes in state_dir.
- **Start**: from exec to the control socket's first answer (polled every 5 ms).
EOF
	[ ! -s "$WORK/fails" ] || echo "- Tries that failed and are left out: $(sort "$WORK/fails" | uniq -c | paste -sd';')."
	[ ! -s "$WORK/missing" ] || echo "- Measurements with no value: $(paste -sd';' "$WORK/missing")."
} >"$MD"
say "wrote $TSV ($(wc -l <"$TSV") lines) and $MD"
