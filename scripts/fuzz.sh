#!/bin/sh
# Runs every fuzz target of the module for FUZZTIME each (default 5s): the
# short run CI does. Longer runs: FUZZTIME=10m scripts/fuzz.sh
set -eu
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-5s}
for pkg in $(go list ./...); do
	for f in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "fuzz $pkg $f ($FUZZTIME)"
		go test -run '^$' -fuzz "^$f\$" -fuzztime "$FUZZTIME" "$pkg" >/tmp/lobby-fuzz.$$ 2>&1 || {
			cat /tmp/lobby-fuzz.$$; rm -f /tmp/lobby-fuzz.$$; exit 1; }
	done
done
rm -f /tmp/lobby-fuzz.$$
