#!/usr/bin/env bash
# make bench: every benchmark of scripts/bench against lobby's peers, one
# after the other in one run, gathered into docs/BENCHMARKS.md with plots in
# docs/bench/ (scripts/bench/report, drawn by gnuplot).
#
# The contract between this script and an area benchmark AREA.sh:
#
#   in   LOBBY      the lobby binary to run (built here once; a script run
#                   on its own builds one itself)
#        BENCH_OUT  the directory to write into (default build/bench)
#        RUNS       repeated bounded runs per figure (default 5)
#        QUICK=1    a smoke run: smallest sizes, about two minutes, figures
#                   not worth reporting (make bench QUICK=1 still writes
#                   the report, marked as such)
#   out  BENCH_OUT/AREA.tsv  one line per value of one run, tab-separated:
#            area metric unit better(higher|lower) xname x subject run value
#        x and xname are "-" for a single figure; a numeric x measured at
#        three or more points makes a plot. subject is lobby or a peer.
#        BENCH_OUT/AREA.md   how it was measured (markdown, headings from ###)
#
# Every area is bounded in time and count and cleans up after itself (its own
# lab, LAB_PREFIX=bench…). AREAS picks some of them (default: all).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespaces)" >&2; exit 1; }
export PATH=$PATH:/usr/local/go/bin CGO_ENABLED=0
export BENCH_OUT=${BENCH_OUT:-build/bench} RUNS=${RUNS:-5}
AREAS=${AREAS:-dhcp dns firewall responder daemon voucher radius shaper}

. scripts/bench/packages.bash
bench_install gnuplot-nox xz-utils

rm -rf "$BENCH_OUT"
mkdir -p "$BENCH_OUT"
# What is measured is what ships: on an x86-64 machine the x86-64 board's
# build (its GCFLAGS: docs/openwrt.md, Footprint), elsewhere make build.
case $(uname -m) in
x86_64) make -s build/x86-64/lobby && export LOBBY=$PWD/build/x86-64/lobby ;;
*) make -s build && export LOBBY=$PWD/bin/lobby ;;
esac

start=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
failed=""
for area in $AREAS; do
	echo "== $area (RUNS=$RUNS${QUICK:+, QUICK})" >&2
	t=$(date +%s)
	if ! "scripts/bench/$area.sh"; then
		echo "bench: $area failed; the report leaves it out" >&2
		rm -f "$BENCH_OUT/$area.tsv" "$BENCH_OUT/$area.md"
		failed="$failed $area"
	fi
	echo "== $area took $(($(date +%s) - t)) s" >&2
done

cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
{
	echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC'), $(( ($(date +%s) - start + 59) / 60 )) minutes, \`$("$LOBBY" version | head -1)\`."
	echo "Machine: $(nproc) CPUs (${cpu:-unknown model}), $(awk '/^MemTotal:/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo) RAM,"
	echo "Linux $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME"). Load average before the run: $load_before;"
	echo "after it: $(cut -d' ' -f1-3 /proc/loadavg). Runs per figure: $RUNS."
	if [ -n "${QUICK:-}" ]; then
		echo
		echo "**A smoke run (QUICK=1): small sizes and few runs; these figures are not a benchmark.**"
	fi
	if [ -n "$failed" ]; then
		echo
		echo "**Failed in this run, left out:$failed.**"
	fi
} >"$BENCH_OUT/machine.md"

go run ./scripts/bench/report -in "$BENCH_OUT" -out docs/BENCHMARKS.md -plots docs/bench
[ -z "$failed" ] || { echo "bench: failed:$failed" >&2; exit 1; }
