#!/bin/sh
# make bench: every benchmark of scripts/bench/, in one run, side by side
# with the peers. Each script is bounded and writes docs/bench-AREA.md.
set -eu
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespaces)" >&2; exit 1; }
make -s build
for s in scripts/bench/*.sh; do
	[ "$(basename "$s")" = run.sh ] && continue
	echo "== $s"
	"$s"
done
