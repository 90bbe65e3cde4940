#!/usr/bin/env bash
# RADIUS benchmark (issue 18): lobby's RADIUS client and accounting queue
# against FreeRADIUS 3.2 on loopback with the configuration that ships in
# docs/radius/raddb (SQLite accounting, the walk policy), driven at the
# radius package level (go test -bench; the session table is a loop):
#
#   sign-in          BenchmarkFreeRADIUSSignIn: an Access-Request of a user
#                    from the users file to its Access-Accept read into
#                    limits (lobby's codec and socket, the server's
#                    authorize, PAP and post-auth with its SQLite insert);
#                    BenchmarkCodec: lobby's part alone (request laid out
#                    and signed, reply checked and read). RUNS runs of
#                    SIGNINS sign-ins; a run's mean is one value.
#   accounting load  BenchmarkAccountingLoad: CLIENTS signed-in clients, each
#                    Start fsynced in a real store and answered, then an
#                    Interim-Update per client per INTERVAL spread evenly,
#                    for INTERVALS intervals: records/s answered, lobby's
#                    CPU (the test process: queue, store, codec, sockets),
#                    the backlog (records queued and not yet answered) at
#                    its highest; the benchmark fails if the backlog grows
#                    from one interval's end to the next.
#   daemon sign-in   TestSignInLatency (firmware, e2e tag; a measurement that
#                    runs only when given -signin.cycles): lobby as the
#                    lab's router (its own lab, LAB_PREFIX benchrd),
#                    FreeRADIUS in the lab's internet, POST /api/login from
#                    a client, CYCLES turns per run of click, radius as a
#                    user without limits and radius as one with rates and
#                    quota (as the LAN's only shaped client, and beside
#                    another), each signed out again; median and p90 of each,
#                    and of a radius sign-in the server's part (the kernel's
#                    times of the Access-Request leaving the router's WAN
#                    and its Accept arriving) and lobby's own (the rest).
#   backlog          the same run then stops the server, signs every client
#                    out (CLIENTS Stops wait in the store, each tried and
#                    failed), starts the server again: the seconds until
#                    the first and until the last Stop is answered (each
#                    record is tried again 30 s after its failed try).
#
# Writes $BENCH_OUT/radius.tsv and radius.md. Environment: BENCH_OUT
# (build/bench), RUNS (5; the load runs LOAD_RUNS, 1, times: it takes
# about five minutes), QUICK (1: RUNS 2, 1,000 clients, 10 s interval, one
# interval). Needs root (FreeRADIUS's tests do). Bounded: every step has a
# timeout, the script stops after BOUND seconds (1800).
set -euo pipefail
# shellcheck source=scripts/bench/packages.bash
. "$(dirname "$0")/packages.bash"
bench_begin radius "FreeRADIUS's tests do"
export CGO_ENABLED=0
if [ "${QUICK:-}" = 1 ]; then
	RUNS=${RUNS:-2} SIGNINS=200 CYCLES=20 CLIENTS=1000 INTERVAL=10s INTERVALS=1
else
	RUNS=${RUNS:-5} SIGNINS=2000 CYCLES=200 CLIENTS=10000 INTERVAL=60s INTERVALS=2
fi
LOAD_RUNS=${LOAD_RUNS:-1} BOUND=${BOUND:-1800}
TSV=$BENCH_OUT/radius.tsv MD=$BENCH_OUT/radius.md
say() { printf 'bench-radius: %s (%ds)\n' "$*" $(($(date +%s) - START)) >&2; }

bench_install freeradius freeradius-utils sqlite3
WORK=$(mktemp -d /run/bench-radius.XXXXXX)
WATCHDOG=""
rm -f "$TSV" "$MD"
cleanup() {
	set +e
	[ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
trap 'say "failed at line $LINENO: $BASH_COMMAND"' ERR
(sleep "$BOUND"; echo "bench-radius: over the bound of $BOUND s; stopping" >&2; kill -TERM $$) &
WATCHDOG=$!

emit() { bench_row "$TSV" radius "$@" || echo "$1 run $7" >>"$WORK/missing"; }

# metric FILE BENCH UNIT prints, one per run, the value that go test's
# output gives BENCH's metric UNIT (ns/op or a b.ReportMetric unit).
metric() {
	awk -v b="$2" -v u="$3" 'index($1, b "-") == 1 || $1 == b { for (i = 3; i < NF; i++) if ($(i + 1) == u) print $i }' "$1"
}

say "sign-in: $RUNS runs of $SIGNINS (go test -bench 'Codec|FreeRADIUSSignIn')"
timeout 600 "$GO" test -run '^$' -bench '^Benchmark(Codec|FreeRADIUSSignIn)$' -benchtime "${SIGNINS}x" -count "$RUNS" \
	./internal/radius/ >"$WORK/signin.out" 2>&1 || { tail -20 "$WORK/signin.out" >&2; exit 1; }
run=0
for v in $(metric "$WORK/signin.out" BenchmarkFreeRADIUSSignIn ns/op); do
	run=$((run + 1))
	emit "sign-in through RADIUS, round trip" µs lower - - lobby "$run" "$(awk -v v="$v" 'BEGIN { printf "%.1f", v / 1000 }')"
done
run=0
for v in $(metric "$WORK/signin.out" BenchmarkCodec ns/op); do
	run=$((run + 1))
	emit "sign-in through RADIUS, lobby's codec" µs lower - - lobby "$run" "$(awk -v v="$v" 'BEGIN { printf "%.2f", v / 1000 }')"
done

say "daemon sign-in: $RUNS runs of $CYCLES turns of click and radius (TestSignInLatency, lab benchrd)"
LAB_PREFIX=benchrd timeout 900 "$GO" test -tags e2e -count=1 -timeout 14m -run '^TestSignInLatency$' ./firmware/ \
	-args -signin.cycles "$CYCLES" -signin.runs "$RUNS" -signin.tsv "$WORK/daemon.tsv" >"$WORK/daemon.out" 2>&1 ||
	{ tail -30 "$WORK/daemon.out" >&2; exit 1; }
# The test writes run.sh's lines itself; bench_row checks each value.
while IFS=$'\t' read -r _ metric unit better xname x subject run value; do
	emit "$metric" "$unit" "$better" "$xname" "$x" "$subject" "$run" "$value"
done <"$WORK/daemon.tsv"

for run in $(seq 1 "$LOAD_RUNS"); do
	say "accounting: $CLIENTS clients, interim $INTERVAL × $INTERVALS, then a backlog (run $run of $LOAD_RUNS)"
	out=$WORK/load$run.out
	timeout 1200 "$GO" test -run '^$' -bench '^BenchmarkAccountingLoad$' -benchtime 1x -timeout 20m ./internal/radius/ \
		-args -radius.clients "$CLIENTS" -radius.interval "$INTERVAL" -radius.intervals "$INTERVALS" >"$out" 2>&1 ||
		{ grep -v 'Info:' "$out" | tail -20 >&2; exit 1; }
	m() { metric "$out" BenchmarkAccountingLoad "$1"; }
	emit "accounting records answered, $CLIENTS clients at $INTERVAL interim" records/s higher - - lobby "$run" "$(m records/s)"
	emit "lobby's CPU for that accounting" % lower - - lobby "$run" "$(m cpu%)"
	emit "accounting backlog at its highest" records lower - - lobby "$run" "$(m backlog-max)"
	emit "Starts answered, each fsynced first" records/s higher - - lobby "$run" "$(m starts/s)"
	emit "$CLIENTS Stops answered after the server returns" s lower - - lobby "$run" "$(m s-backlog)"
	emit "the first of them answered after" s lower - - lobby "$run" "$(m s-resume)"
done

{
	echo "FreeRADIUS $(freeradius -v 2>/dev/null | sed -n 's/.*FreeRADIUS Version \([0-9.]*\).*/\1/p' | head -1) in the foreground on loopback"
	echo "(\`internal/radius/radiustest\`), with the configuration that ships in"
	echo "\`docs/radius/raddb\` — SQLite accounting in WAL mode and the walk policy — driven"
	echo "by \`go test -bench\` in \`internal/radius\`; the session table is a loop. Sign-in:"
	echo "$RUNS runs of $SIGNINS Access-Requests, one at a time (\`BenchmarkFreeRADIUSSignIn\`:"
	echo "lobby's codec and socket and the server's authorize, PAP and post-auth with its"
	echo "SQLite insert; \`BenchmarkCodec\`: lobby's part alone). Daemon sign-in"
	echo "(\`TestSignInLatency\` in \`firmware\`, e2e tag): lobby (the e2e harness's build) as the"
	echo "router of a lab, FreeRADIUS in its internet, POST /api/login from a client on a"
	echo "connection opened beforehand, until the answer's last byte; $RUNS runs of $CYCLES turns"
	echo "of click, radius as a user whose Accept has no limits and radius as nemo (rates,"
	echo "quota, timeouts), each signed out with \`ctl deauth\`; nemo both as the LAN's only"
	echo "shaped client (the shaper's tree is put in with its class, and taken away after)"
	echo "and while another client is signed in as nemo (its class alone)."
	echo "The server's part is the time between the Access-Request leaving the router's"
	echo "WAN and the Access-Accept arriving there (kernel timestamps, a packet socket in"
	echo "the router's namespace): FreeRADIUS and the lab link; lobby's own part is the rest."
	echo "Accounting"
	echo "(\`BenchmarkAccountingLoad\`, $LOAD_RUNS run): $CLIENTS clients' Starts, each fsynced in"
	echo "a real store, then one Interim-Update per client per $INTERVAL spread evenly, for"
	echo "$INTERVALS interval(s); CPU is the test process's (queue, store, codec, sockets), not"
	echo "the server's. Backlog: the server stopped, $CLIENTS Stops queued and tried, the server"
	echo "started again: each Stop is tried again 30 s after its failed try, so they are"
	echo "answered at the pace they failed, from the first retry that finds the server."
	if [ -s "$WORK/missing" ]; then
		echo
		echo "Left out (no value): $(paste -sd';' "$WORK/missing")."
	fi
} >"$MD"
say "done: $TSV"
