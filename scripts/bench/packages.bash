# Sourced by the benchmarks of scripts/bench/ (not a benchmark itself: run.sh
# runs only *.sh). bench_begin starts an area; bench_lobby sets LOBBY when run.sh did not; bench_install
# installs the Debian packages that are missing. Debian starts a daemon's service on install; the peers (dnsmasq,
# Kea, openNDS) must run only inside the lab, so service starts are refused
# while apt runs.
# bench_begin AREA WHY starts an area benchmark: it needs root (WHY says
# what for); START is the clock's start, ROOT the checkout, BENCH_OUT made
# and absolute, the working directory ROOT, Go on PATH and GO its binary.
# Source this file by its path first: . "$(dirname "$0")/packages.bash".
bench_begin() {
	[ "$(id -u)" = 0 ] || { echo "bench-$1: needs root ($2)" >&2; exit 1; }
	START=$(date +%s)
	ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
	BENCH_OUT=${BENCH_OUT:-$ROOT/build/bench}
	mkdir -p "$BENCH_OUT"
	BENCH_OUT=$(cd "$BENCH_OUT" && pwd -P)
	cd "$ROOT"
	export PATH=$PATH:/usr/local/go/bin
	GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
}

# fake_mac I and fake_ip I name the lab's extra client I (0..15999).
fake_mac() { printf '02:10:00:00:%02x:%02x' $(($1 / 256)) $(($1 % 256)); }
fake_ip() { printf '10.77.%d.%d' $((1 + $1 / 250)) $((1 + $1 % 250)); }

# bench_fake_clients ROUTER N makes room for N extra clients on the lab
# router's LAN: br-lan's /24 becomes a /18 (the lab's own clients keep their
# /24 inside it), and extra client 0..N-1 is in the router's neighbour table
# at its address, so a portal sees it as connected.
bench_fake_clients() {
	local r=$1 n=$2 i
	ip -n "$r" addr del 10.77.0.1/24 dev br-lan
	ip -n "$r" addr add 10.77.0.1/18 dev br-lan
	for i in $(seq 0 $((n - 1))); do
		echo "neigh replace $(fake_ip "$i") lladdr $(fake_mac "$i") dev br-lan nud permanent"
	done | timeout 120 ip -n "$r" -batch -
}

bench_install() {
	local p need=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
	done
	[ -n "$need" ] || return 0
	printf 'bench: installing%s\n' "$need" >&2
	local made_policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	local rc=0
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086
	timeout 300 apt-get update -qq && timeout 600 apt-get install -y -qq --no-install-recommends $need >/dev/null || rc=$?
	[ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
	return $rc
}

# bench_lobby: LOBBY is the binary run.sh passed, else make build's, built
# with the flags the boards ship with (Makefile: GOTAGS, NOINLINE).
bench_lobby() {
	if [ -z "${LOBBY:-}" ]; then
		printf 'bench: building lobby (make build)\n' >&2
		timeout 600 make -s build >&2 || return 1
		LOBBY=$PWD/bin/lobby
	fi
	[ -x "$LOBBY" ] || { printf 'bench: LOBBY=%s is not an executable\n' "$LOBBY" >&2; return 1; }
}

# bench_row TSV AREA METRIC UNIT BETTER XNAME X SUBJECT RUN VALUE appends one
# line of run.sh's contract to TSV. A VALUE that is not a plain number (a
# step that gave nothing) is not written, since the report refuses such a
# file whole: bench_row says so on stderr and returns 1, and the caller may
# note it.
bench_row() {
	local tsv=$1
	shift
	if [[ $9 =~ ^-?[0-9]+([.][0-9]+)?$ ]]; then
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$tsv"
		return 0
	fi
	printf 'bench-%s: no value for %s (%s %s, %s, run %s): %q\n' "$1" "$2" "$5" "$6" "$7" "$8" "$9" >&2
	return 1
}
