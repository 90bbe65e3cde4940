#!/usr/bin/env bash
# Benchmark: Lobby's DHCP server against dnsmasq and Kea (kea-dhcp4), in one
# lab and one run, with Kea's perfdhcp as the load. The data contract is
# issue 9 (make bench): $BENCH_OUT/dhcp.tsv (one line per value of one run)
# and $BENCH_OUT/dhcp.md (how it was measured).
#
# Every run (1..RUNS) the three servers take turns, in an order that rotates
# from run to run, so that the drift of a shared machine hits them alike.
# In its turn a server gives:
#   - its RSS idle: started, bound, no client yet;
#   - a sweep of offered loads (RATES, DORA exchanges a second, CLIENTS
#     simulated clients, TRIAL seconds each): the rate achieved and the share
#     of exchanges not completed at each;
#   - the highest DORA rate with no drops: bisected (BISECT steps) between
#     the highest sweep rate with no drops and the next one;
#   - its RSS holding LEASES leases on a /16: restarted with the same LEASES
#     leases in its own lease database, then serving those clients for
#     TRIAL seconds (perfdhcp -R LEASES), then VmRSS.
# The LEASES leases are made once per script run by a real avalanche
# against lobby (perfdhcp --scenario avalanche), then written into each
# server's own lease file (see the .md it writes for why).
#
# perfdhcp acts as a relay agent on the LAN (giaddr = its own address), as it
# does by default, so every server answers it by UDP unicast.
#
# Environment (issue 9): LOBBY (binary; built here when unset), BENCH_OUT
# (build/bench), RUNS (5), QUICK (1: smoke run, junk figures). Also:
# CLIENTS (200), TRIAL (2 s), RATES ("500 1000 2000 4000 8000 16000"),
# BISECT (3), LEASES (10000), LAB_PREFIX (benchdh), KEEP (set: keep the work
# directory with every log). Needs root; installs kea-admin (perfdhcp),
# kea-dhcp4-server, dnsmasq-base and jq if missing. Every daemon runs in the
# lab's router namespace on br-lan only and is killed by its pid.
set -euo pipefail
set -E # the ERR trap fires inside functions too

cd "$(dirname "$0")/../.."
export LAB_PREFIX=${LAB_PREFIX:-benchdh}
export PATH=$PATH:/usr/local/go/bin
BENCH_OUT=${BENCH_OUT:-build/bench}
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
	RUNS=${RUNS:-1}
	TRIAL=${TRIAL:-1}
	RATES=${RATES:-"1000 4000"}
	BISECT=${BISECT:-1}
	LEASES=${LEASES:-1000}
else
	RUNS=${RUNS:-5}
	TRIAL=${TRIAL:-2}
	RATES=${RATES:-"500 1000 2000 4000 8000 16000"}
	BISECT=${BISECT:-3}
	LEASES=${LEASES:-10000}
fi
CLIENTS=${CLIENTS:-200}
NS_R=$LAB_PREFIX-router
NS_C=$LAB_PREFIX-c1
SERVERS=(lobby dnsmasq kea)

say() { printf 'bench-dhcp: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}
[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
case $TRIAL in *[!0-9]* | "" | 0) die "TRIAL must be a whole number of seconds (perfdhcp -p)" ;; esac
T0=$(date +%s)

# --- packages ---------------------------------------------------------------
. scripts/bench/packages.bash
bench_install kea-admin kea-dhcp4-server dnsmasq-base jq
command -v perfdhcp >/dev/null || die "perfdhcp missing after installing kea-admin"

# --- work directory, cleanup, lobby binary, lab -------------------------------
WORK=$(mktemp -d /tmp/bench-dhcp.XXXXXX)
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	timeout 60 scripts/lab.sh down >/dev/null 2>&1 || true
	if [ -n "${KEEP:-}" ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM
# A failing command (set -e) says what failed, once, from the main shell.
trap 'rc=$?; [ "$BASH_SUBSHELL" -gt 0 ] || say "error: command failed (exit $rc, line $LINENO): $BASH_COMMAND"' ERR

bench_lobby || die "no lobby binary"
mkdir -p "$BENCH_OUT"
TSV=$BENCH_OUT/dhcp.tsv
MD=$BENCH_OUT/dhcp.md
: >"$WORK/dhcp.tsv"

say "lab $LAB_PREFIX up"
timeout 120 scripts/lab.sh up 1 >"$WORK/lab.log" 2>&1 || {
	cat "$WORK/lab.log" >&2
	die "lab up failed"
}
# The load generator is a relay agent on the LAN: it needs an address there,
# one on the /24 of the rate trials and one on the /16 of the lease count.
ip -n "$NS_R" addr replace 10.78.0.1/16 dev br-lan
ip -n "$NS_C" addr replace 10.77.0.2/24 dev eth0
ip -n "$NS_C" addr replace 10.78.0.2/16 dev eth0

# --- servers ------------------------------------------------------------------
# start_NAME NET: NET 24 is 10.77.0.0/24, pool .10-.249 (rate trials); NET
# 16 is 10.78.0.0/16, pool 10.78.0.10 and the next 20000, started with the
# LEASES leases in the server's lease database. Lease time 2h everywhere.
# Each starts the daemon in the router namespace and sets PID.
PID=""

wait_bound() { # NAME: wait until PID listens on UDP 67 in the router namespace
	local _i
	for _i in $(seq 100); do
		if ip netns exec "$NS_R" ss -Hulpn 'sport = :67' 2>/dev/null | grep -q "pid=$PID,"; then
			return 0
		fi
		kill -0 "$PID" 2>/dev/null || {
			tail -20 "$WORK/$1.log" >&2
			die "$1 exited at start"
		}
		sleep 0.1
	done
	tail -20 "$WORK/$1.log" >&2
	die "$1 did not bind UDP 67 within 10s"
}

start_lobby() {
	local net=$1 dir=$WORK/lobby-$1 addr limit
	rm -rf "$dir"
	mkdir -p "$dir"
	if [ "$net" = 24 ]; then
		addr=10.77.0.1 limit=240
	else
		addr=10.78.0.1 limit=20000
		[ ! -d "$WORK/leases-lobby" ] || cp -a "$WORK/leases-lobby" "$dir/state"
	fi
	cat >"$dir/lobby.conf" <<EOF
config lobby 'main'
	option interface 'br-lan'
	option address '$addr'
	option state_dir '$dir/state'
	option socket '$dir/lobby.sock'
	option log_level 'warn'
config dhcp 'dhcp'
	option start '10'
	option limit '$limit'
	option leasetime '2h'
	option domain 'lan'
config dns 'dns'
	option enabled '0'
	list upstream '198.51.100.53'
EOF
	ip netns exec "$NS_R" "$LOBBY" run -c "$dir/lobby.conf" >>"$WORK/lobby.log" 2>&1 &
	PID=$!
	PIDS+=("$PID")
	wait_bound lobby
}

start_dnsmasq() {
	local net=$1 range gw
	if [ "$net" = 24 ]; then
		range=10.77.0.10,10.77.0.249,255.255.255.0,2h gw=10.77.0.1
		: >"$WORK/dnsmasq.leases"
	else
		range=10.78.0.10,10.78.78.41,255.255.0.0,2h gw=10.78.0.1
		cp "$WORK/leases-dnsmasq" "$WORK/dnsmasq.leases"
	fi
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
	rm -f "$WORK"/kea-leases4.csv*
	if [ "$net" = 24 ]; then
		subnet=10.77.0.0/24 pool="10.77.0.10 - 10.77.0.249" gw=10.77.0.1
	else
		subnet=10.78.0.0/16 pool="10.78.0.10 - 10.78.78.41" gw=10.78.0.1
		cp "$WORK/leases-kea" "$WORK/kea-leases4.csv"
	fi
	# Kea's own advice for a busy server: multi-threading, a thread per
	# core; UDP sockets, as the traffic is relayed; memfile, persisted.
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

stop_server() { # SIGTERM, then SIGKILL after 10s; forget the pid
	local p keep=() _i
	kill "$PID" 2>/dev/null || true
	for _i in $(seq 100); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$PID" 2>/dev/null || true
	wait "$PID" 2>/dev/null || true
	for p in "${PIDS[@]}"; do [ "$p" = "$PID" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
	PID=""
}

rss_mb() { awk '/^VmRSS:/ { printf "%.2f\n", $2 / 1024 }' "/proc/$PID/status"; }

# emit METRIC UNIT BETTER XNAME X SUBJECT RUN VALUE: one line of dhcp.tsv.
emit() { bench_row "$WORK/dhcp.tsv" dhcp "$@" || true; }

# --- measurements ---------------------------------------------------------------
# trial RATE NAME: one perfdhcp run of TRIAL seconds on the /24; prints
# "achieved notdone% sent": DORA exchanges completed (ACKs received) a
# second of the trial, the share of started exchanges (DISCOVERs sent) that
# were not completed, and DISCOVERs sent a second. -W 300000: perfdhcp waits
# 0.3 s for the last replies before it counts them as dropped.
trial() {
	local rate=$1 name=$2 out
	out=$(timeout $((TRIAL + 20)) ip netns exec "$NS_C" perfdhcp -4 -r "$rate" -R "$CLIENTS" -p "$TRIAL" \
		-W 300000 -l 10.77.0.2 10.77.0.1 2>&1) || true
	printf '== %s at %s/s\n%s\n' "$name" "$rate" "$out" >>"$WORK/perfdhcp-$name.log"
	awk -v t="$TRIAL" '
		/^\*\*\*Statistics for: DISCOVER-OFFER/ { s = 1 }
		/^\*\*\*Statistics for: REQUEST-ACK/ { s = 2 }
		/^sent packets:/ && s == 1 { sent = $3 }
		/^received packets:/ && s == 2 { acks = $3; ok = 1 }
		END {
			if (!ok || sent == 0) { print "0 100 0"; exit }
			printf "%.0f %.2f %.0f\n", acks / t, 100 * (sent - acks) / sent, sent / t
		}' <<<"$out"
}

# warm_up NAME: 1000 DORA/s for 2s, not counted, so that the sweep meets
# clients that already hold a lease, as every later trial does: the first
# contact of 200 new clients costs each server more than a renewal.
warm_up() {
	timeout 30 ip netns exec "$NS_C" perfdhcp -4 -r 1000 -R "$CLIENTS" -p 2 -W 300000 \
		-l 10.77.0.2 10.77.0.1 >>"$WORK/perfdhcp-$1-warmup.log" 2>&1 || true
}

# rates NAME RUN: the sweep of RATES, then the bisection for the highest
# rate with no drops; writes both to the tsv.
rates() {
	local name=$1 run=$2 rate got notdone sent lo=0 best=0 hi="" _step
	for rate in $RATES; do
		read -r got notdone sent < <(trial "$rate" "$name")
		say "  $name run $run: offered $rate/s: achieved $got/s, not completed $notdone %, perfdhcp sent $sent/s"
		emit "DORA rate achieved" /s higher "offered load (/s)" "$rate" "$name" "$run" "$got"
		emit "DORA exchanges not completed" % lower "offered load (/s)" "$rate" "$name" "$run" "$notdone"
		printf '%s\t%s\t%s\n' "$name" "$rate" "$sent" >>"$WORK/sent.txt"
		if [ "$notdone" = 0.00 ]; then
			if [ -z "$hi" ]; then lo=$rate best=$got; fi
		elif [ -z "$hi" ]; then
			hi=$rate
		fi
	done
	if [ -n "$hi" ]; then
		for _step in $(seq "$BISECT"); do
			rate=$(((lo + hi) / 2))
			read -r got notdone sent < <(trial "$rate" "$name")
			say "  $name run $run: bisect $rate/s: achieved $got/s, not completed $notdone %"
			if [ "$notdone" = 0.00 ]; then lo=$rate best=$got; else hi=$rate; fi
		done
	else
		printf '%s\t%s\n' "$name" "$run" >>"$WORK/no-knee.txt"
	fi
	emit "DORA rate with no drops" /s higher - - "$name" "$run" "$best"
	say "  $name run $run: highest rate with no drops $best/s"
}

# make_leases: LEASES clients get a lease from lobby on the /16 (perfdhcp's
# avalanche: each client retried until it has one); the lease list is then
# written in dnsmasq's and Kea's lease file formats, for the same clients and
# addresses, and lobby's state directory is kept as is.
make_leases() {
	local n out
	start_lobby 16
	out=$(timeout 120 ip netns exec "$NS_C" perfdhcp -4 --scenario avalanche -R "$LEASES" \
		-l 10.78.0.2 10.78.0.1 2>&1) || true
	printf '%s\n' "$out" >"$WORK/avalanche.log"
	AVALANCHE=$(sed -n 's/^It took \([0-9:.]*\) to provision.*/\1/p' <<<"$out")
	stop_server
	cp -a "$WORK/lobby-16/state" "$WORK/leases-lobby"
	local exp=$(($(date +%s) + 7200))
	jq -r '.records.lease | to_entries[] | [.key, .value.mac, (.value.client_id // "")] | @tsv' \
		"$WORK/leases-lobby/state.json" >"$WORK/leases.tsv"
	n=$(grep -c . "$WORK/leases.tsv" || true)
	[ "$n" -gt 0 ] || die "the avalanche left no lease in lobby's state (see $WORK/avalanche.log)"
	HELD=$n
	# dnsmasq: EXPIRY MAC IP HOSTNAME CLIENT-ID; Kea memfile CSV (schema 2.0).
	awk -F'\t' -v expiry="$exp" '{ cid = $3; gsub(/../, "&:", cid); sub(/:$/, "", cid)
		printf "%d %s %s * %s\n", expiry, $2, $1, (cid == "" ? "*" : cid) }' "$WORK/leases.tsv" >"$WORK/leases-dnsmasq"
	{
		echo "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context"
		awk -F'\t' -v expiry="$exp" '{ cid = $3; gsub(/../, "&:", cid); sub(/:$/, "", cid)
			printf "%s,%s,%s,7200,%d,1,0,0,,0,\n", $1, $2, cid, expiry }' "$WORK/leases.tsv"
	} >"$WORK/leases-kea"
}

# held NAME: the leases the stopped server keeps in its lease database.
held() {
	case $1 in
	lobby) jq '.records.lease | length' "$WORK/lobby-16/state/state.json" ;;
	dnsmasq) grep -c . "$WORK/dnsmasq.leases" || true ;;
	kea) tail -n +2 "$WORK/kea-leases4.csv" | cut -d, -f1 | sort -u | grep -c . || true ;;
	esac
}

# memory NAME RUN: restart on the /16 with the leases, serve them for TRIAL
# seconds at 500 DORA/s, then VmRSS.
memory() {
	local name=$1 run=$2 rss
	"start_$name" 16
	timeout $((TRIAL + 20)) ip netns exec "$NS_C" perfdhcp -4 -r 500 -R "$LEASES" -p "$TRIAL" -W 300000 \
		-l 10.78.0.2 10.78.0.1 >>"$WORK/perfdhcp-$name-16.log" 2>&1 || true
	sleep 0.5
	rss=$(rss_mb)
	emit "RSS holding $LEASES leases" MB lower - - "$name" "$run" "$rss"
	stop_server
	printf '%s\t%s\t%s\n' "$name" "$run" "$(held "$name")" >>"$WORK/held.txt"
	say "  $name run $run: RSS $rss MB holding $LEASES leases ($(tail -1 "$WORK/held.txt" | cut -f3) in its database after the stop)"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "making $LEASES leases (avalanche against lobby)"
make_leases
say "  $HELD leases in $AVALANCHE"
[ "$HELD" = "$LEASES" ] || say "  warning: $HELD leases, not $LEASES"

for run in $(seq "$RUNS"); do
	k=$(((run - 1) % ${#SERVERS[@]}))
	order=("${SERVERS[@]:k}" "${SERVERS[@]:0:k}")
	say "run $run of $RUNS: ${order[*]}"
	for name in "${order[@]}"; do
		"start_$name" 24
		sleep 1
		emit "RSS idle" MB lower - - "$name" "$run" "$(rss_mb)"
		warm_up "$name"
		rates "$name" "$run"
		stop_server
		memory "$name" "$run"
	done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$(($(date +%s) - T0))

# --- the fragment -----------------------------------------------------------------
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown; }
# What perfdhcp sent at the top offered rate, per server: it shares the
# cores with the server, so a busy server slows the load generator too.
top=${RATES##* }
ceiling=$(awk -F'\t' -v top="$top" '$2 == top { if (!($1 in lo) || $3 < lo[$1]) lo[$1] = $3; if ($3 > hi[$1]) hi[$1] = $3 }
	END { for (n in lo) printf "%s%s %d-%d", (i++ ? ", " : ""), n, lo[n], hi[n] }' "$WORK/sent.txt")
# Where the lost exchanges were lost, over every trial of the sweep and the
# bisection: the share that got no OFFER, and the slowest OFFER.
min_held=$(cut -f3 "$WORK/held.txt" | sort -n | head -1)
losses=""
for name in "${SERVERS[@]}"; do
	losses+=$(awk -v n="$name" '
		/^\*\*\*Statistics for: DISCOVER-OFFER/ { s = 1 }
		/^\*\*\*Statistics for: REQUEST-ACK/ { s = 2 }
		/^drops:/ { d[s] += $2 }
		/^max delay:/ && s == 1 && $3 > m { m = $3 }
		END { t = d[1] + d[2]; printf "%s%s %s%% (slowest OFFER %.0f ms)", (n == "lobby" ? "" : ", "), n,
			(t > 0 ? sprintf("%.0f", 100 * d[1] / t) : "-"), m }' "$WORK/perfdhcp-$name.log")
done
no_knee=""
[ ! -s "$WORK/no-knee.txt" ] || no_knee=$(cut -f1 "$WORK/no-knee.txt" | sort | uniq -c | awk '{ printf "%s%s (%d run%s)", (NR > 1 ? ", " : ""), $2, $1, ($1 > 1 ? "s" : "") }')
{
	cat <<EOF
$("$LOBBY" version | head -1) against dnsmasq $(ver dnsmasq-base) and kea-dhcp4
$(ver kea-dhcp4-server) (Debian packages), with perfdhcp from kea-admin $(ver kea-admin) as the load,
in one lab (LAB_PREFIX=$LAB_PREFIX) and one run of $RUNS round(s): in each round every server takes
its turn on the same veth bridge, in an order that rotates from round to round, so the drift of the
shared machine hits all three alike. Load average before the run: $LOAD_BEFORE; after it:
$LOAD_AFTER. The script took ${ELAPSED}s.

- **Load**: \`perfdhcp -4 -r RATE -R $CLIENTS -p $TRIAL -W 300000 -l 10.77.0.2 10.77.0.1\` from the lab's
  client namespace: $CLIENTS simulated clients, ${TRIAL}s a trial. perfdhcp acts as a relay agent on
  the LAN, so every server answers by UDP unicast. An exchange is DISCOVER-OFFER-REQUEST-ACK; the
  achieved rate is ACKs received over the ${TRIAL}s; "not completed" is the share of DISCOVERs sent
  that got no ACK (perfdhcp gives a reply 1s, and 0.3s more at the end of a trial).
- **Offered load**: $RATES DORA/s, once each per round, the server running
  throughout, after a warm-up of 2s at 1000/s that is not counted (so the $CLIENTS clients hold leases, as in every
  later trial: a first contact costs every server more than a renewal). perfdhcp shares the
  $(nproc) cores with the server and may not reach the nominal rate: at the top rate ($top/s)
  it sent, in DISCOVERs a second (lowest-highest round): $ceiling. Of the exchanges each server
  lost over all trials, the share lost at DISCOVER (no OFFER within 1s): $losses.
- **Highest rate with no drops**: after the sweep, bisected $BISECT times between the highest
  sweep rate where every exchange completed and the next one; the figure is the rate achieved
  at the highest passing try (0 if even the lowest sweep rate lost an exchange). One try per
  rate: a stray loss on the shared machine costs a round, and shows as the spread.
EOF
	[ -z "$no_knee" ] || echo "  No sweep rate lost an exchange for $no_knee: the figure is then the top sweep rate."
	cat <<EOF
- **RSS idle**: VmRSS 1s after the server bound UDP 67 on the /24, before any client.
- **RSS holding $LEASES leases**: the leases are made once per script run by an avalanche of $LEASES
  clients against lobby (\`perfdhcp --scenario avalanche -R $LEASES\`, ${HELD} leases in $AVALANCHE),
  then written into each server's own lease database (lobby's state directory, dnsmasq's lease
  file, Kea's memfile CSV): the same clients and addresses for all three. Each round each server
  restarts with them on 10.78.0.0/16 (pool of 20,000), serves those clients at 500 DORA/s for
  ${TRIAL}s (\`perfdhcp -r 500 -R $LEASES\`: renewals of held leases), then VmRSS is read. After
  the stop every server still held at least $min_held leases in its database. Why not an avalanche
  per server: perfdhcp's avalanche sends all $LEASES DISCOVERs at once and backs off by seconds
  on every one that goes unanswered; in trials while this benchmark was written neither peer
  (dnsmasq on its single thread, Kea behind its 64-packet queue) finished one within the bound
  of this script, which would leave their figures with fewer leases than lobby's. Lobby's figure is the
  whole daemon (firewall, neighbour tracking and portal run too; its DNS is off, as the peers'
  is), with the soft memory limit lobby sets itself (20 MiB, or 1.5 × the live heap + 8 MiB when that is more; unless GOMEMLIMIT says otherwise).
- **Same conditions for all**: pool of 240 addresses (10.77.0.10-249) for the rates, lease time
  2h, router, DNS and domain options, logging at warn (dnsmasq: \`--quiet-dhcp\`), no ICMP probe
  before an offer (dnsmasq: \`--no-ping\`; lobby and Kea never probe). dnsmasq:
  \`--bind-interfaces\` on br-lan, \`--dhcp-authoritative\`, no DNS (\`--port=0\`), lease file in
  the same directory as lobby's state ($(findmnt -n -o FSTYPE -T "$WORK" 2>/dev/null || echo '?')). Kea: memfile lease database (persist, no LFC),
  multi-threading with $(nproc) threads (Kea's advice: one a core) and its default 64-packet queue, UDP sockets since the
  traffic is relayed. These are each server's recommended settings for throughput, not tuned
  against the others.
- **Durability differs**: lobby fsyncs every lease before its DHCPACK goes out (group commit:
  the ACKs that wait together share one fsync), so kill -9 loses none; dnsmasq rewrites its
  lease file and Kea appends to its CSV file without fsync, so a power cut can lose leases they
  acknowledged. Lobby pays for that guarantee in these rates.
EOF
} >"$WORK/dhcp.md"

# Publish both files at once, only from a complete run.
mv "$WORK/dhcp.tsv" "$TSV"
mv "$WORK/dhcp.md" "$MD"
say "wrote $TSV and $MD in ${ELAPSED}s"
