#!/bin/sh
# Explores every fuzz target of the module for FUZZTIME each (default 30s;
# longer: FUZZTIME=10m scripts/fuzz.sh). Not part of make test: there, go
# test runs each target's corpus (seeds and testdata/fuzz) as plain tests.
# A finding is fixed and its input kept in testdata/fuzz.
#
# Go 1.26's fuzzing coordinator can fail a target with a bare "context
# deadline exceeded" when -fuzztime ends while a worker is busy on a loaded
# machine (go.dev/issue/75804, fixed in Go 1.27). A real finding always
# writes its input to testdata/fuzz; a failure with that message and no
# input written is run once more, any other failure stops the run.
set -eu
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-30s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

fuzz() { # PKG TARGET
	go test -run '^$' -fuzz "^$2\$" -fuzztime "$FUZZTIME" "$1" >"$log" 2>&1
}

coordinator_race() {
	grep -q '^    context deadline exceeded$' "$log" && ! grep -q 'Failing input written' "$log"
}

for pkg in $(go list ./...); do
	for f in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "fuzz $pkg $f ($FUZZTIME)"
		fuzz "$pkg" "$f" && continue
		if coordinator_race; then
			echo "fuzz $pkg $f: Go's coordinator stopped on its own deadline (go.dev/issue/75804), nothing found; once more"
			fuzz "$pkg" "$f" && continue
		fi
		cat "$log"
		exit 1
	done
done
