#!/usr/bin/env bash
# Benchmark: Lobby's DHCP server against dnsmasq and Kea (kea-dhcp4), in
# one lab and one run, with Kea's perfdhcp as the load:
#
#   1. the highest DORA rate (DISCOVER-OFFER-REQUEST-ACK exchanges a
#      second) that each server answers with no drops, CLIENTS simulated
#      clients, TRIAL seconds a try;
#   2. the resident memory of each server holding LEASES leases (a /16
#      pool; perfdhcp's avalanche scenario brings exactly LEASES clients).
#
# perfdhcp acts as a relay agent on the LAN (giaddr = its own address), as
# it does by default, so every server answers it by UDP unicast.
#
# Writes docs/bench-dhcp.md. Needs root; installs kea-admin (perfdhcp),
# kea-dhcp4-server and dnsmasq-base if missing. Every daemon runs inside the
# lab's router namespace, on br-lan only, and is killed by its pid.
#
# Environment: CLIENTS (200), TRIAL (5 seconds), LEASES (10000),
# MAX_RATE (32000), MEMLIMIT (20MiB, for a second lease run of lobby),
# LAB_PREFIX (benchdh), KEEP (set: keep the work directory with the logs).
set -euo pipefail

cd "$(dirname "$0")/../.."
export LAB_PREFIX=${LAB_PREFIX:-benchdh}
export PATH=$PATH:/usr/local/go/bin
CLIENTS=${CLIENTS:-200}
TRIAL=${TRIAL:-5}
LEASES=${LEASES:-10000}
MAX_RATE=${MAX_RATE:-32000}
MEMLIMIT=${MEMLIMIT:-20MiB}
NS_R=$LAB_PREFIX-router
NS_C=$LAB_PREFIX-c1
OUT=docs/bench-dhcp.md

say() { printf 'bench-dhcp: %s\n' "$*" >&2; }
[ "$(id -u)" = 0 ] || { say "needs root (network namespaces)"; exit 1; }

# --- packages ---------------------------------------------------------------
. scripts/bench/packages.bash
bench_install kea-admin kea-dhcp4-server dnsmasq-base busybox
command -v perfdhcp >/dev/null || { say "perfdhcp missing after installing kea-admin"; exit 1; }

# --- lobby binary, lab, work directory ---------------------------------------
WORK=$(mktemp -d /tmp/bench-dhcp.XXXXXX)
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	scripts/lab.sh down >/dev/null 2>&1 || true
	if [ -n "${KEEP:-}" ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

LOBBY=$WORK/lobby
CGO_ENABLED=0 go build -trimpath -o "$LOBBY" ./firmware
say "lab $LAB_PREFIX up"
scripts/lab.sh up 1 >/dev/null 2>"$WORK/lab.log" || { cat "$WORK/lab.log" >&2; exit 1; }
# The load generator is a relay agent on the LAN: it needs an address
# there, one on the /24 and one on the /16 used for the lease count.
ip -n "$NS_R" addr replace 10.78.0.1/16 dev br-lan
ip -n "$NS_C" addr replace 10.77.0.2/24 dev eth0
ip -n "$NS_C" addr replace 10.78.0.2/16 dev eth0

# --- servers ------------------------------------------------------------------
# Each start_* takes the network (24: 10.77.0.0/24, pool .10-.249;
# 16: 10.78.0.0/16, pool 10.78.0.10 and the next 20000), starts the daemon
# in the router namespace and sets PID. Lease time 2h everywhere.
PID=""

wait_bound() { # wait until PID listens on UDP 67 in the router namespace
	local _i
	for _i in $(seq 100); do
		if ip netns exec "$NS_R" ss -Hulpn 'sport = :67' 2>/dev/null | grep -q "pid=$PID,"; then
			return 0
		fi
		kill -0 "$PID" 2>/dev/null || { say "$1 exited at start:"; tail -20 "$WORK/$1.log" >&2; exit 1; }
		sleep 0.1
	done
	say "$1 did not bind UDP 67 within 10s"
	tail -20 "$WORK/$1.log" >&2
	exit 1
}

start_lobby() {
	local net=$1 dir=$WORK/lobby-$1 env=${2:-GOGC=100}
	rm -rf "$dir"
	mkdir -p "$dir"
	if [ "$net" = 24 ]; then
		addr=10.77.0.1 start=10 limit=240
	else
		addr=10.78.0.1 start=10 limit=20000
	fi
	cat >"$dir/lobby.conf" <<EOF
config lobby 'main'
	option interface 'br-lan'
	option address '$addr'
	option state_dir '$dir/state'
	option socket '$dir/lobby.sock'
	option log_level 'warn'
config dhcp 'dhcp'
	option start '$start'
	option limit '$limit'
	option leasetime '2h'
	option domain 'lan'
config dns 'dns'
	option enabled '0'
	list upstream '198.51.100.53'
EOF
	env "$env" ip netns exec "$NS_R" "$LOBBY" run -c "$dir/lobby.conf" >"$WORK/lobby.log" 2>&1 &
	PID=$!
	PIDS+=("$PID")
	wait_bound lobby
}

start_dnsmasq() {
	local net=$1 range
	if [ "$net" = 24 ]; then
		range=10.77.0.10,10.77.0.249,255.255.255.0,2h
		gw=10.77.0.1
	else
		range=10.78.0.10,10.78.78.41,255.255.0.0,2h
		gw=10.78.0.1
	fi
	rm -f "$WORK/dnsmasq.leases"
	# --port=0: no DNS; --bind-interfaces --interface: br-lan only;
	# --quiet-dhcp: no log line per packet (lobby and Kea log at warn);
	# --no-ping: no ICMP probe of a new address, which neither lobby nor
	# Kea does (each probe holds dnsmasq's single thread for a while).
	ip netns exec "$NS_R" dnsmasq --keep-in-foreground --conf-file=/dev/null --user=root \
		--port=0 --interface=br-lan --bind-interfaces --except-interface=lo --no-ping \
		--dhcp-range="$range" --dhcp-lease-max=20000 --dhcp-authoritative --quiet-dhcp \
		--dhcp-option=option:router,$gw --dhcp-option=option:dns-server,$gw --domain=lan \
		--dhcp-leasefile="$WORK/dnsmasq.leases" --pid-file="$WORK/dnsmasq.pid" \
		--log-facility="$WORK/dnsmasq.log" >>"$WORK/dnsmasq.log" 2>&1 &
	PID=$!
	PIDS+=("$PID")
	wait_bound dnsmasq
}

start_kea() {
	local net=$1 subnet pool gw
	if [ "$net" = 24 ]; then
		subnet=10.77.0.0/24 pool="10.77.0.10 - 10.77.0.249" gw=10.77.0.1
	else
		subnet=10.78.0.0/16 pool="10.78.0.10 - 10.78.78.41" gw=10.78.0.1
	fi
	rm -f "$WORK"/kea-leases4.csv*
	# Kea's own recommendation for a busy server: multi-threading, one
	# thread per core; UDP sockets, as the traffic is relayed.
	cat >"$WORK/kea.json" <<EOF
{"Dhcp4": {
  "interfaces-config": {"interfaces": ["br-lan"], "dhcp-socket-type": "udp"},
  "lease-database": {"type": "memfile", "persist": true, "name": "$WORK/kea-leases4.csv", "lfc-interval": 0},
  "valid-lifetime": 7200,
  "multi-threading": {"enable-multi-threading": true, "thread-pool-size": $(nproc), "packet-queue-size": 64},
  "subnet4": [{"id": 1, "subnet": "$subnet", "pools": [{"pool": "$pool"}],
    "option-data": [{"name": "routers", "data": "$gw"}, {"name": "domain-name-servers", "data": "$gw"},
                    {"name": "domain-name", "data": "lan"}]}],
  "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": "stdout"}], "severity": "WARN"}]
}}
EOF
	KEA_PIDFILE_DIR=$WORK KEA_LOCKFILE_DIR=$WORK ip netns exec "$NS_R" kea-dhcp4 -c "$WORK/kea.json" >>"$WORK/kea.log" 2>&1 &
	PID=$!
	PIDS+=("$PID")
	wait_bound kea
}

stop_server() {
	kill "$PID" 2>/dev/null || true
	wait "$PID" 2>/dev/null || true
	local keep=() p
	for p in "${PIDS[@]}"; do [ "$p" = "$PID" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
	PID=""
}

# --- measurements ---------------------------------------------------------------
# trial RATE NAME: one perfdhcp run; prints "achieved drops".
trial() {
	local rate=$1 name=$2 out
	out=$(timeout $((TRIAL + 20)) ip netns exec "$NS_C" perfdhcp -4 -r "$rate" -R "$CLIENTS" -p "$TRIAL" \
		-l 10.77.0.2 10.77.0.1 2>&1) || true
	printf '%s\n' "$out" >>"$WORK/perfdhcp-$name.log"
	awk '/^Rate:/ { rate = $2 } /^drops:/ { drops += $2; n++ }
		END { if (n < 2) drops = -1; printf "%.0f %d\n", rate, drops }' <<<"$out"
}

# passes RATE NAME: two tries at most, since the machine is shared;
# prints the achieved rate of a try with no drops, or nothing.
passes() {
	local got drops _try
	for _try in 1 2; do
		read -r got drops < <(trial "$1" "$2")
		printf '| %s | %s | %s | %s |\n' "$2" "$1" "$got" "$drops" >>"$WORK/trials.md"
		say "  $2 at $1/s: achieved $got/s, drops $drops"
		if [ "$drops" = 0 ]; then
			echo "$got"
			return 0
		fi
	done
	return 1
}

# max_rate NAME: doubles the rate until drops appear, then bisects
# (bounded: at most log2(MAX_RATE/500) + 4 steps).
max_rate() {
	local name=$1 lo=0 hi="" rate=500 got best=0 _step
	while [ "$rate" -le "$MAX_RATE" ]; do
		if got=$(passes "$rate" "$name"); then
			lo=$rate best=$got
			rate=$((rate * 2))
		else
			hi=$rate
			break
		fi
	done
	if [ -n "$hi" ]; then
		for _step in 1 2 3 4; do
			rate=$(((lo + hi) / 2))
			[ $((hi - lo)) -gt $((hi / 20)) ] || break
			if got=$(passes "$rate" "$name"); then
				lo=$rate best=$got
			else
				hi=$rate
			fi
		done
	fi
	echo "$best"
}

# avalanche NAME: LEASES clients each get a lease on the /16; prints the
# server's VmRSS in kB once they all have one.
avalanche() {
	local name=$1 out
	out=$(timeout 120 ip netns exec "$NS_C" perfdhcp -4 --scenario avalanche -R "$LEASES" \
		-l 10.78.0.2 10.78.0.1 2>&1) || true
	printf '%s\n' "$out" >>"$WORK/avalanche-$name.log"
	sleep 1
	awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status"
}

kb_mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "-" }'; }

declare -A RATE RSS PEAK LEASED
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
printf '| server | offered rate (/s) | achieved (/s) | drops |\n|---|---|---|---|\n' >"$WORK/trials.md"
for name in lobby dnsmasq kea; do
	say "$name: highest DORA rate with no drops, $CLIENTS clients"
	"start_$name" 24
	RATE[$name]=$(max_rate "$name")
	stop_server
	say "$name: $LEASES leases on a /16"
	"start_$name" 16
	RSS[$name]=$(avalanche "$name")
	PEAK[$name]=$(awk '/^VmHWM:/ { print $2 }' "/proc/$PID/status")
	stop_server
	# The leases each server keeps on disk, counted after a clean stop.
	case $name in
	lobby) LEASED[$name]=$(grep -o '"10\.78\.[0-9.]*":{' "$WORK/lobby-16/state/state.json" | wc -l) ;;
	dnsmasq) LEASED[$name]=$(grep -c . "$WORK/dnsmasq.leases" || true) ;;
	kea) LEASED[$name]=$(tail -n +2 "$WORK/kea-leases4.csv" | cut -d, -f1 | sort -u | grep -c . || true) ;;
	esac
	say "$name: ${RATE[$name]}/s, $(kb_mb "${RSS[$name]}") with ${LEASED[$name]} leases"
done

# Most of lobby's RSS at this size is the Go collector's headroom, not
# leases: the same run under a soft memory limit shows how much.
say "lobby: $LEASES leases on a /16 with GOMEMLIMIT=$MEMLIMIT"
start_lobby 16 "GOMEMLIMIT=$MEMLIMIT"
LIMITED_RSS=$(avalanche lobby-memlimit)
LIMITED_PEAK=$(awk '/^VmHWM:/ { print $2 }' "/proc/$PID/status")
stop_server
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report ---------------------------------------------------------------------
cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
{
	cat <<EOF
# DHCP benchmark

Generated by \`scripts/bench/dhcp.sh\` (\`make bench\`) on $(date -u '+%Y-%m-%d %H:%M UTC'):
$(nproc) cores, ${cpu:-unknown CPU}, Linux $(uname -r). One lab, one run; the
servers take turns on the same veth bridge. Versions: $("$LOBBY" version | head -1),
dnsmasq $(dnsmasq -v | sed -n '1s/^Dnsmasq version \([^ ]*\).*/\1/p'), kea-dhcp4 $(kea-dhcp4 -v), perfdhcp from kea-admin.

Load average of the machine, which other work shares: $load_before before the run,
$load_after after it.

| server | highest DORA rate with no drops ($CLIENTS clients) | lobby ÷ server | RSS holding $LEASES leases (/16 pool) | peak RSS | leases held |
|---|---|---|---|---|---|
EOF
	for name in lobby dnsmasq kea; do
		printf '| %s | %s/s | %s | %s | %s | %s |\n' "$name" "${RATE[$name]}" "$(ratio "${RATE[lobby]}" "${RATE[$name]}")" \
			"$(kb_mb "${RSS[$name]}")" "$(kb_mb "${PEAK[$name]}")" "${LEASED[$name]}"
	done
	cat <<EOF

Lobby with a soft memory limit for the Go runtime (GOMEMLIMIT=$MEMLIMIT), same $LEASES
leases: RSS $(kb_mb "$LIMITED_RSS"), peak $(kb_mb "$LIMITED_PEAK").

How it was measured:

- Load: \`perfdhcp -4 -r RATE -R $CLIENTS -p $TRIAL -l 10.77.0.2 10.77.0.1\` in the lab's
  client namespace. perfdhcp acts as a relay agent on the LAN, so every server answers by
  UDP unicast. A rate passes when both exchanges (DISCOVER-OFFER and REQUEST-ACK) have no
  drops (perfdhcp counts a reply missing after 1s as dropped); each rate gets two tries,
  since other work shares the machine. The rate doubles from 500/s until it fails, then is
  bisected four times; the figure is the rate perfdhcp achieved in the best passing try.
- Memory: \`perfdhcp --scenario avalanche -R $LEASES\` (every one of $LEASES clients gets a
  lease) against a 10.78.0.0/16 pool, then VmRSS of the server process a second later, and
  its peak (VmHWM). "Leases held" is counted in each server's lease file after a clean stop;
  the avalanche gets 120 s, and a server that has not leased every client by then (dnsmasq
  stops answering some of perfdhcp's retried requests) is measured with what it holds.
  Lobby's figure is the whole daemon (firewall, neighbour tracking and portal run too; its
  DNS is off, as the peers' is), with the Go runtime's default GC setting.
- Same conditions for all: pool of 240 addresses (10.77.0.10-249), lease time 2h, router
  and DNS options, logging at warn (dnsmasq: --quiet-dhcp), no ICMP probe before an offer
  (dnsmasq: --no-ping; lobby and Kea never probe). dnsmasq: --bind-interfaces on br-lan,
  lease file in a temporary directory. Kea: memfile lease database (persist),
  multi-threading with $(nproc) threads, UDP sockets.
- Durability differs: lobby fsyncs every lease before its DHCPACK goes out (group commit:
  the ACKs that wait together share one fsync), so kill -9 loses none; dnsmasq rewrites its
  lease file and Kea appends to its CSV file without fsync, so a power cut can lose leases
  they acknowledged.

Every try:

$(cat "$WORK/trials.md")
EOF
} >"$OUT"
say "wrote $OUT"
