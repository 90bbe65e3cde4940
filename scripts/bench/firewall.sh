#!/usr/bin/env bash
# Firewall benchmark (issues 4 and 9): sign-in latency and forwarding
# throughput of lobby (nftables backend) and of openNDS (Debian's package,
# iptables-legacy) against the number of clients already signed in, with
# no portal at all as the throughput reference, measured in turns with lobby;
# all in one lab and run.
#
#   sign-in latency  from the sign-in request on the daemon's control socket
#                    (what `lobby ctl auth MAC` and `ndsctl auth MAC` send) to
#                    the arrival, in the internet namespace, of the first UDP
#                    datagram of a stream that the client sends every 200 µs.
#                    A run is REPS sign-ins (each followed by a sign-out off
#                    the clock); its median is one value.
#   throughput       iperf3 TCP, signed-in client → internet namespace,
#                    IPERF_SECS seconds; one value a run.
#   RSS              each daemon's resident memory, once a run, at the
#                    largest count (the same daemon sampled over time).
#   kernel side      lobby's set-element transaction alone
#                    (go test -bench NFTSignIn ./internal/firewall), x = MACs
#                    in the set.
#
# Lobby's other clients sign in through its control socket, each with an
# address in the router's neighbour table. openNDS signs in only clients it
# can see in a DHCP lease file and the neighbour table, launching programs
# for each (about a second each), so its other clients are loaded with
# iptables-restore as the exact rules its iptables_fw_authenticate writes
# (src/fw_iptables.c of 9.10.0); the measured client signs in through its
# control socket for real. openNDS runs in a private mount namespace (its own
# /tmp for its lease file, socket and scratch files) with the legacy iptables
# first in PATH (9.10 starts only with iptables-legacy, its issue #429) and
# an xtables lock file of its own.
#
# Writes $BENCH_OUT/firewall.tsv (the nine fields of run.sh's contract) and firewall.md.
# Environment: LOBBY (binary; built when unset), BENCH_OUT (build/bench),
# RUNS (5), QUICK (1: 10 and 1000 clients, RUNS 2, REPS 3), REPS (7),
# IPERF_SECS (3), COUNTS ("10 100 1000 3000 10000"), LAB_PREFIX (benchfw),
# GO. Needs root; installs iperf3, opennds, strace and the lab's packages
# when missing. Bounded: every step has a timeout, and the whole script
# stops after BOUND seconds (2400; QUICK 480).
set -euo pipefail

# shellcheck source=scripts/bench/packages.bash
. "$(dirname "$0")/packages.bash"
bench_begin firewall "network namespaces"
export LAB_PREFIX=${LAB_PREFIX:-benchfw}
if [ "${QUICK:-}" = 1 ]; then
	RUNS=${RUNS:-2} REPS=${REPS:-3} IPERF_SECS=${IPERF_SECS:-1} COUNTS=${COUNTS:-"10 1000"}
	BOUND=${BOUND:-480} KERN_OPS=500
else
	RUNS=${RUNS:-5} REPS=${REPS:-7} IPERF_SECS=${IPERF_SECS:-3} COUNTS=${COUNTS:-"10 100 1000 3000 10000"}
	BOUND=${BOUND:-2400} KERN_OPS=5000
fi
MAX=$(tr ' ' '\n' <<<"$COUNTS" | sort -n | tail -1)
[ "$MAX" -le 16000 ] || { echo "bench-firewall: at most 16000 clients (the /18)" >&2; exit 1; }
R=$LAB_PREFIX-router I=$LAB_PREFIX-inet C=$LAB_PREFIX-c1
MAC1=02:00:00:00:01:01 IP1=10.77.0.11
TSV=$BENCH_OUT/firewall.tsv MD=$BENCH_OUT/firewall.md
XNAME="signed-in clients"

say() { printf 'bench-firewall: %s (%ds)\n' "$*" $(($(date +%s) - START)) >&2; }
die() {
	say "error: $*"
	exit 1
}

# --- packages -----------------------------------------------------------------
# shellcheck source=scripts/bench/opennds.bash
. scripts/bench/opennds.bash
bench_install iperf3 opennds iptables nftables conntrack strace curl iproute2 iputils-ping dnsutils util-linux
for c in iperf3 opennds iptables-legacy iptables-legacy-restore strace unshare; do
	command -v "$c" >/dev/null || die "$c missing after installing packages"
done

# --- work directory, clean-up, watchdog ------------------------------------------
# Not under /tmp: openNDS gets a /tmp of its own.
WORK=$(mktemp -d /run/bench-firewall.XXXXXX)
export XTABLES_LOCKFILE=$WORK/xtables.lock # shared by openNDS and this script only
PIDS=()
LOBBY_PID="" NDS_PID="" WATCHDOG=""
rm -f "$TSV" "$MD" # a failed run leaves no stale figures behind
cleanup() {
	set +e
	trap - TERM INT
	local p
	[ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	done
	if [ -n "$LOBBY_PID" ]; then
		kill -CONT "$LOBBY_PID" 2>/dev/null # stopped by without_lobby when interrupted there
		kill "$LOBBY_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$LOBBY_PID" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$LOBBY_PID" 2>/dev/null
	fi
	[ -n "$NDS_PID" ] && stop_nds
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
	echo "bench-firewall: over the bound of $BOUND s; stopping" >&2
	kill -TERM $$
) &
WATCHDOG=$!

# --- tools ----------------------------------------------------------------------
bench_lobby || die "no lobby binary"
say "building the probe"
mkdir -p "$WORK/probe"
cat >"$WORK/probe/go.mod" <<'EOF'
module probe

go 1.22
EOF
cat >"$WORK/probe/main.go" <<'EOF'
// Command probe is the benchmark's stopwatch.
//
//	probe send ADDR            send a UDP datagram to ADDR every 200 µs, forever
//	probe recv ADDR SECS       print the arrival time (Unix ns) of the first
//	                           datagram on ADDR, or "timeout"
//	probe sock PATH REQUEST    print the time (Unix ns), then send REQUEST on
//	                           the unix socket PATH and read the answer; exit
//	                           1 unless it says yes
//	probe rtt PATH REQUEST     print how long (µs) the answer to REQUEST took;
//	                           any answer will do
//	probe many PATH FORMAT     the same as sock for FORMAT with each line of stdin, on
//	                           4 connections at a time; exit 1 on any no
//	probe bps                  print end.sum_received.bits_per_second of iperf3 -J
//
// Both control sockets take one request per connection and answer yes
// ({"ok":true…} for lobby, "Yes" for openNDS) before closing.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	switch os.Args[1] {
	case "send":
		c, err := net.Dial("udp", os.Args[2])
		check(err)
		b := make([]byte, 32)
		for {
			c.Write(b) // refused or dropped until the client is let through
			time.Sleep(200 * time.Microsecond)
		}
	case "recv":
		c, err := net.ListenPacket("udp", os.Args[2])
		check(err)
		secs, _ := strconv.Atoi(os.Args[3])
		c.SetReadDeadline(time.Now().Add(time.Duration(secs) * time.Second))
		fmt.Println("ready")
		b := make([]byte, 64)
		if _, _, err := c.ReadFrom(b); err != nil {
			fmt.Println("timeout")
			return
		}
		fmt.Println(time.Now().UnixNano())
	case "sock":
		c, err := net.Dial("unix", os.Args[2])
		check(err)
		t := time.Now().UnixNano()
		err = ask(c, os.Args[3])
		fmt.Println(t)
		check(err)
	case "rtt":
		c, err := net.Dial("unix", os.Args[2])
		check(err)
		t := time.Now()
		ask(c, os.Args[3]) // any answer will do
		fmt.Println(time.Since(t).Microseconds())
	case "many":
		lines := make(chan string)
		var failed sync.Once
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for l := range lines {
					c, err := net.Dial("unix", os.Args[2])
					if err == nil {
						err = ask(c, fmt.Sprintf(os.Args[3], l))
					}
					if err != nil {
						failed.Do(func() { fmt.Fprintln(os.Stderr, "probe:", l, err) })
					}
				}
			}()
		}
		s := bufio.NewScanner(os.Stdin)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
		wg.Wait()
	case "bps":
		var r struct {
			End struct {
				SumReceived struct {
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
		}
		check(json.NewDecoder(os.Stdin).Decode(&r))
		if r.End.SumReceived.BitsPerSecond <= 0 {
			check(fmt.Errorf("no result from iperf3"))
		}
		fmt.Printf("%.0f\n", r.End.SumReceived.BitsPerSecond)
	}
}

// ask sends one request on c and reads the answer to the end.
func ask(c net.Conn, req string) error {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, strings.ReplaceAll(req, `\r\n`, "\r\n")); err != nil {
		return err
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return err
	}
	if a := string(b); !strings.Contains(a, `"ok":true`) && !strings.HasPrefix(a, "Yes") {
		return fmt.Errorf("answer %q", a)
	}
	return nil
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}
EOF
(cd "$WORK/probe" && CGO_ENABLED=0 GOFLAGS='' timeout 300 "$GO" build -o "$WORK/probe/probe" .)
PROBE=$WORK/probe/probe

# --- lab ------------------------------------------------------------------------
say "lab up ($LAB_PREFIX)"
timeout 300 scripts/lab.sh up 2 >"$WORK/lab.log" 2>&1 || {
	tail -20 "$WORK/lab.log" >&2
	die "lab up failed"
}
ip -n "$C" addr replace "$IP1/24" dev eth0
ip -n "$C" route replace default via 10.77.0.1
bench_fake_clients "$R" "$MAX" # the signed-in ones, connected for both portals
ip netns exec "$I" iperf3 -s -B 198.51.100.10 >/dev/null 2>&1 &
PIDS+=($!)
ip netns exec "$C" "$PROBE" send 198.51.100.11:9000 &
PIDS+=($!)
sleep 0.5

# --- measuring -----------------------------------------------------------------
: >"$WORK/tsv"
# emit METRIC UNIT BETTER XNAME X SUBJECT RUN VALUE adds one line to the
# tsv; a value that is not a plain number is counted as missing instead.
emit() { bench_row "$WORK/tsv" firewall "$@" || echo "$1 $5 $6 run $7: $8" >>"$WORK/missing"; }

# signin SOCKET REQUEST runs one sign-in under the stopwatch and prints the
# latency in µs until the first datagram of the client's stream arrives;
# "fail" when none came within 10 s or the request failed, "stale" when
# the stream already passed before the request (a sign-out that did not
# take: a figure of nothing).
signin() {
	local out=$WORK/recv.out t0 t1
	: >"$out"
	ip netns exec "$I" "$PROBE" recv 198.51.100.11:9000 10 >"$out" &
	local rpid=$!
	for _ in $(seq 200); do grep -q ready "$out" 2>/dev/null && break; sleep 0.01; done
	t0=$(timeout 35 "$PROBE" sock "$@" 2>>"$WORK/probe.err" | tail -1) || {
		kill "$rpid" 2>/dev/null
		wait "$rpid" 2>/dev/null
		echo fail
		return
	}
	wait "$rpid" || true
	t1=$(tail -1 "$out")
	if [ "$t1" = timeout ] || [ -z "$t0" ] || [ -z "$t1" ]; then echo fail; return; fi
	if [ "$t1" -lt "$t0" ]; then echo stale; return; fi
	echo $(((t1 - t0) / 1000))
}

# median_ms prints the median (ms) of the µs values on stdin; nothing when
# there are none.
median_ms() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.3f\n", (v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2000 }'
}

# throughput prints one iperf3 rate in Gbit/s (nothing if it failed).
throughput() {
	{ timeout $((IPERF_SECS + 20)) ip netns exec "$C" iperf3 -c 198.51.100.10 -t "$IPERF_SECS" -J 2>/dev/null || true; } |
		"$PROBE" bps 2>/dev/null | awk '{ printf "%.3f\n", $1 / 1e9 }' || true
}

# passing waits up to 5 s until the client reaches the internet.
passing() {
	local _
	for _ in 1 2 3 4 5; do
		ip netns exec "$C" ping -c 1 -W 1 198.51.100.10 >/dev/null 2>&1 && return 0
	done
	return 1
}

# without_lobby CMD runs CMD with no portal in the packets' way: lobby's
# table dormant (its hooks unregistered: the kernel then forwards as if it
# were not there) and lobby stopped (SIGSTOP: none of its CPU), both undone
# after.
without_lobby() {
	ip netns exec "$R" nft add table inet lobby '{ flags dormant; }'
	kill -STOP "$LOBBY_PID"
	"$@" || true
	kill -CONT "$LOBBY_PID"
	ip netns exec "$R" nft add table inet lobby # clears dormant
}

# rss_mb PID prints the resident memory of PID in MB.
rss_mb() { awk '/^VmRSS:/ { printf "%.2f\n", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || true; }

# signin_runs SUBJECT N SOCKET REQUEST SIGNOUT runs RUNS runs at N signed-in
# clients: REPS sign-ins (each undone by the command SIGNOUT), then one
# throughput measurement with the client signed in, then (at the largest
# count) one RSS sample of the daemon whose pid is in $DAEMON.
signin_runs() {
	local subject=$1 n=$2 sock=$3 req=$4 signout=$5 run v
	for run in $(seq "$RUNS"); do
		: >"$WORK/reps"
		for _ in $(seq "$REPS"); do
			if [ "$subject" = opennds ]; then ensure_nds; fi
			v=$(signin "$sock" "$req")
			case $v in
			fail | stale) echo "$subject $n: $v" >>"$WORK/signin-failures" ;;
			*) echo "$v" >>"$WORK/reps" ;;
			esac
			$signout
			sleep 0.2 # the sign-out's clean-up, off the measured path
		done
		emit "sign-in latency (median of the run)" ms lower "$XNAME" "$n" "$subject" "$run" "$(median_ms <"$WORK/reps")"
		if [ "$subject" = opennds ]; then ensure_nds; fi
		timeout 35 "$PROBE" sock "$sock" "$req" >/dev/null 2>>"$WORK/probe.err" || true
		if ! passing; then
			emit "forwarding throughput" Gbit/s higher "$XNAME" "$n" "$subject" "$run" "client-not-through"
		elif [ "$subject" = lobby ]; then
			# Paired with no portal, in turns (odd runs lobby first), so
			# that the machine's drift falls on both alike.
			if [ $((run % 2)) = 1 ]; then
				emit "forwarding throughput" Gbit/s higher "$XNAME" "$n" lobby "$run" "$(throughput)"
				emit "forwarding throughput" Gbit/s higher "$XNAME" "$n" "no portal" "$run" "$(without_lobby throughput)"
			else
				emit "forwarding throughput" Gbit/s higher "$XNAME" "$n" "no portal" "$run" "$(without_lobby throughput)"
				emit "forwarding throughput" Gbit/s higher "$XNAME" "$n" lobby "$run" "$(throughput)"
			fi
		else
			emit "forwarding throughput" Gbit/s higher "$XNAME" "$n" "$subject" "$run" "$(throughput)"
		fi
		$signout
		if [ "$n" = "$MAX" ]; then
			emit "RSS with $MAX signed-in clients" MB lower - - "$subject" "$run" "$(rss_mb "$DAEMON")"
		fi
	done
	say "$subject at $n: sign-in medians $(awk -F'\t' -v s="$subject" -v n="$n" '$2 ~ /^sign-in/ && $7 == s && $6 == n { printf "%s ", $9 }' "$WORK/tsv")ms"
}

# --- lobby --------------------------------------------------------------------------
say "lobby: starting"
mkdir -p "$WORK/lobby-state"
cat >"$WORK/lobby.conf" <<EOF
config lobby 'main'
	option interface 'br-lan'
	option state_dir '$WORK/lobby-state'
	option socket '$WORK/lobby.sock'
	option firewall 'nftables'
	option log_level 'warn'
	option session_timeout '0'
	option idle_timeout '0'
config dns 'dns'
	list upstream '198.51.100.53'
EOF
ip netns exec "$R" "$LOBBY" run -c "$WORK/lobby.conf" 2>"$WORK/lobby.log" &
LOBBY_PID=$!
DAEMON=$LOBBY_PID
ctl() { timeout 30 "$LOBBY" ctl -s "$WORK/lobby.sock" "$@"; }
for _ in $(seq 100); do ctl status >/dev/null 2>&1 && break; sleep 0.1; done
ctl status >/dev/null || { tail -20 "$WORK/lobby.log" >&2; die "lobby did not start"; }
lobby_out() { ctl deauth "$MAC1" >/dev/null 2>&1 || true; }
for run in $(seq "$RUNS"); do
	: >"$WORK/reps"
	for _ in $(seq "$REPS"); do
		timeout 35 "$PROBE" rtt "$WORK/lobby.sock" '{"verb":"status"}' >>"$WORK/reps" 2>>"$WORK/probe.err" || true
	done
	emit "control-socket round trip (status)" ms lower - - lobby "$run" "$(median_ms <"$WORK/reps")"
done

have=0
for n in $COUNTS; do
	if [ "$n" -gt "$have" ]; then
		t=$(date +%s)
		seq "$have" $((n - 1)) | while read -r i; do fake_mac "$i"; echo; done |
			timeout 900 "$PROBE" many "$WORK/lobby.sock" '{"verb":"auth","args":["%s"]}'
		say "lobby: $n clients signed in (+$((n - have)) in $(($(date +%s) - t)) s)"
		have=$n
	fi
	signin_runs lobby "$n" "$WORK/lobby.sock" '{"verb":"auth","args":["'"$MAC1"'"]}' lobby_out
done
LOBBY_ELEMS=$(ip netns exec "$R" nft list set inet lobby auth | grep -o '02:[0-9a-f:]*' | wc -l)
LOBBY_RULES=$(ip netns exec "$R" nft -a list table inet lobby | grep -v -E '^\s*(table|chain|set|map|flowtable) ' | grep -c '# handle' || true)
say "lobby: stopping"
kill "$LOBBY_PID"
for _ in $(seq 150); do kill -0 "$LOBBY_PID" 2>/dev/null || break; sleep 0.2; done
kill -KILL "$LOBBY_PID" 2>/dev/null || true
wait "$LOBBY_PID" 2>/dev/null || true
LOBBY_PID=""

# --- lobby's kernel side alone ------------------------------------------------------------
# BenchmarkNFTSignIn does a sign-in and a sign-out (one set-element
# transaction each) per op, in a namespace of its own.
say "lobby: the set change alone (go test -bench NFTSignIn)"
if CGO_ENABLED=0 timeout 600 "$GO" test -run '^$' -bench NFTSignIn -benchtime "${KERN_OPS}x" -count "$RUNS" \
	./internal/firewall/ >"$WORK/kern.out" 2>&1; then
	run10=0 runbig=0
	while read -r name _ ns _; do
		case $name in
		*signed-in=10000-*) runbig=$((runbig + 1)) && emit "kernel transaction of one sign-in" µs lower "MACs in the set" 10000 lobby "$runbig" "$(awk -v v="$ns" 'BEGIN { printf "%.2f", v / 2000 }')" ;;
		*signed-in=10-*) run10=$((run10 + 1)) && emit "kernel transaction of one sign-in" µs lower "MACs in the set" 10 lobby "$run10" "$(awk -v v="$ns" 'BEGIN { printf "%.2f", v / 2000 }')" ;;
		esac
	done < <(grep '^BenchmarkNFTSignIn' "$WORK/kern.out")
else
	say "the NFTSignIn benchmark failed (left out):"
	tail -5 "$WORK/kern.out" >&2
	echo "kernel transaction: go test failed" >>"$WORK/missing"
fi

# --- openNDS --------------------------------------------------------------------------------
say "openNDS: starting"
nds_prepare -w "$WORK/nds/ndsctl.sock"
NDS_SOCK=$WORK/nds/ndsctl.sock
: >"$WORK/nds-deadlocks"
: >"$WORK/nds-crashes"
: >"$WORK/nds.log"

# nds_watch breaks openNDS's deadlock; call it every 0.1 s while waiting on
# openNDS. From about 700 signed-in clients a chain's listing outgrows the
# pipe: iptables_fw_destroy_mention (src/fw_iptables.c of 9.10.0) keeps
# `iptables -L` open, which holds the xtables lock, while it waits for its
# own `iptables --wait -D`, and neither can go on. When both have been
# there for three calls in a row (or, as a fallback, when FORCE is set and
# a listing is there at all), the listing is ended; each one is counted.
NDS_BOTH=0
nds_watch() {
	local p q cmd l="" d=""
	for p in $(pgrep -P "$NDS_PID"); do
		for q in "$p" $(pgrep -P "$p"); do
			case $(cat "/proc/$q/comm" 2>/dev/null) in iptables*) ;; *) continue ;; esac
			cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$q/cmdline") || continue
			case $cmd in
			*" -L "*) l="$l $q" ;;
			*" -D "*) d=1 ;;
			esac
		done
	done
	if [ -n "$l" ] && { [ -n "$d" ] || [ -n "${1:-}" ]; }; then NDS_BOTH=$((NDS_BOTH + 1)); else NDS_BOTH=0; fi
	if [ "$NDS_BOTH" -ge 3 ] || { [ -n "$l" ] && [ -n "${1:-}" ]; }; then
		# shellcheck disable=SC2086 # a list of pids
		kill $l 2>/dev/null && echo x >>"$WORK/nds-deadlocks"
		NDS_BOTH=0
	fi
	return 0
}

# nds_out signs the measured client out through openNDS's socket (what
# `ndsctl deauth` sends), breaking openNDS's deadlock; it gives up after
# 60 s. A sign-out that needed the deadlock broken is counted.
nds_out() {
	timeout 60 "$PROBE" rtt "$NDS_SOCK" "deauth $MAC1\\r\\n\\r\\n" >/dev/null 2>&1 &
	local pid=$! n=0 before
	before=$(wc -l <"$WORK/nds-deadlocks")
	while kill -0 "$pid" 2>/dev/null; do
		sleep 0.1
		n=$((n + 1))
		if [ $((n % 30)) = 0 ]; then nds_watch force; else nds_watch; fi
	done
	wait "$pid" || true
	[ "$(wc -l <"$WORK/nds-deadlocks")" = "$before" ] || echo x >>"$WORK/nds-stuck-signouts"
}

# stop_nds stops openNDS (its clean-up deletes rules the same way, so the
# deadlock is broken there too) and flushes whatever it left behind.
stop_nds() {
	local _
	kill "$NDS_PID" 2>/dev/null || true
	for _ in $(seq 300); do
		kill -0 "$NDS_PID" 2>/dev/null || break
		sleep 0.1
		nds_watch
	done
	kill -KILL "$NDS_PID" 2>/dev/null || true
	wait "$NDS_PID" 2>/dev/null || true
	NDS_PID=""
	nds_flush
}


# nds_rules FROM TO loads the rules of other clients FROM..TO-1 into
# openNDS's chains.
nds_rules() {
	local i
	[ "$1" -lt "$2" ] || return 0
	{
		echo "*mangle"
		for i in $(seq "$1" $(($2 - 1))); do
			echo "-A ndsOUT -s $(fake_ip "$i")/32 -m mac --mac-source $(fake_mac "$i") -j MARK --set-xmark 0x30000/0x30000"
			echo "-A ndsINC -d $(fake_ip "$i")/32 -j MARK --set-xmark 0x30000/0x30000"
			echo "-A ndsINC -d $(fake_ip "$i")/32 -j ACCEPT"
		done
		echo "COMMIT"
		echo "*filter"
		for i in $(seq "$1" $(($2 - 1))); do
			echo "-I ndsULR 1 -s $(fake_ip "$i")/32 -j RETURN"
		done
		echo "COMMIT"
	} | timeout 300 ip netns exec "$R" iptables-legacy-restore --noflush
}

# start_nds starts openNDS and puts back the other clients' rules (its
# start makes its chains afresh).
nhave=0
start_nds() {
	local runs _
	runs=$(grep -ac "now running" "$WORK/nds.log" || true)
	unshare -m --propagation private "$WORK/nds/start.sh" >>"$WORK/nds.log" 2>&1 &
	NDS_PID=$!
	DAEMON=$NDS_PID
	for _ in $(seq 150); do
		[ "$(grep -ac "now running" "$WORK/nds.log" || true)" -gt "$runs" ] && break
		kill -0 "$NDS_PID" 2>/dev/null || break
		sleep 0.2
	done
	[ "$(grep -ac "now running" "$WORK/nds.log" || true)" -gt "$runs" ] || {
		tail -20 "$WORK/nds.log" >&2
		die "openNDS did not start"
	}
	nds_rules 0 "$nhave"
	ip netns exec "$C" ping -c 1 -W 1 10.77.0.1 >/dev/null 2>&1 || true
}

# ensure_nds starts openNDS again if it died, and counts that.
ensure_nds() {
	kill -0 "$NDS_PID" 2>/dev/null && return 0
	local rc=0
	wait "$NDS_PID" 2>/dev/null || rc=$?
	echo "exit status $rc with $nhave other clients" >>"$WORK/nds-crashes"
	say "openNDS died (exit status $rc); starting it again"
	nds_flush
	start_nds
}

start_nds

# What openNDS runs for one sign-in and one sign-out: traced once with no
# other clients, off the measured path (strace slows it down). Sign-in: from
# the request until the client passes; sign-out: until openNDS answers.
timeout 60 strace -f -qq -z -ttt -e trace=execve -e signal=none -s 200 -o "$WORK/nds-exec.trace" -p "$NDS_PID" &
STRACE=$!
PIDS+=("$STRACE")
sleep 1
T_IN0=$(date +%s.%N)
timeout 35 "$PROBE" sock "$NDS_SOCK" "auth $MAC1\\r\\n\\r\\n" >/dev/null 2>>"$WORK/probe.err" || true
passing || say "openNDS: the client does not pass after the traced sign-in"
T_IN1=$(date +%s.%N)
sleep 0.5
T_OUT0=$(date +%s.%N)
nds_out
T_OUT1=$(date +%s.%N)
sleep 0.5
kill "$STRACE" 2>/dev/null || true
wait "$STRACE" 2>/dev/null || true
# execs FROM TO: the trace's successful execve lines between two times.
execs() { awk -v a="$1" -v b="$2" '$3 ~ /^execve\(/ && $2 >= a && $2 <= b' "$WORK/nds-exec.trace" 2>/dev/null || true; }
execs "$T_IN0" "$T_IN1" >"$WORK/nds-exec.signin"
NDS_EXEC_IN=$(wc -l <"$WORK/nds-exec.signin")
NDS_EXEC_OUT=$(execs "$T_OUT0" "$T_OUT1" | wc -l)
# The programs, by name, of the sign-in: "3 × iptables, 1 × sh, …".
NDS_EXEC_LIST=$(grep -o 'execve("[^"]*"' "$WORK/nds-exec.signin" | sed 's/.*\///; s/"$//' | sort | uniq -c | sort -rn |
	awk '{ printf "%s%d × %s", sep, $1, $2; sep = ", " }' || true)
grep -o 'execve("[^"]*", \[[^]]*\]' "$WORK/nds-exec.signin" | sed 's/^execve("[^"]*", \[//; s/\]$//; s/", "/ /g; s/^"//; s/"$//' |
	grep -E '^(iptables|nft) ' >"$WORK/nds-exec.argv" || true

for run in $(seq "$RUNS"); do
	: >"$WORK/reps"
	for _ in $(seq "$REPS"); do
		ensure_nds
		timeout 35 "$PROBE" rtt "$NDS_SOCK" 'status\r\n\r\n' >>"$WORK/reps" 2>>"$WORK/probe.err" || true
	done
	emit "control-socket round trip (status)" ms lower - - opennds "$run" "$(median_ms <"$WORK/reps")"
done

for n in $COUNTS; do
	t=$(date +%s)
	ensure_nds
	nds_rules "$nhave" "$n"
	nhave=$n
	say "openNDS: rules of $n signed-in clients loaded in $(($(date +%s) - t)) s"
	signin_runs opennds "$n" "$NDS_SOCK" "auth $MAC1\\r\\n\\r\\n" nds_out
done
NDS_RULES=$(ip netns exec "$R" iptables-legacy-save | grep -c -- '-A nds' || true)
say "openNDS: stopping"
stop_nds

# --- the fragment -------------------------------------------------------------------------
mv "$WORK/tsv" "$TSV"
DEADLOCKS=$(wc -l <"$WORK/nds-deadlocks")
CRASHES=$(wc -l <"$WORK/nds-crashes")
touch "$WORK/signin-failures" "$WORK/missing" "$WORK/nds-stuck-signouts"
STUCK=$(wc -l <"$WORK/nds-stuck-signouts")
FAILS=$(sort "$WORK/signin-failures" | uniq -c | awk '{ c = $1; $1 = ""; printf "%s%s ×%d", sep, substr($0, 2), c; sep = "; " }')
MISSING=$(wc -l <"$WORK/missing")
pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "?"; }
STATEFS=$(df -T "$WORK" | awk 'NR == 2 { print $2 }')
ELAPSED=$(($(date +%s) - START))
# paired_ratios prints, for each count, the median over the runs of lobby's
# throughput divided by no portal's in the same run.
paired_ratios() {
	awk -F'\t' '$2 == "forwarding throughput" && ($7 == "lobby" || $7 == "no portal") { v[$6 SUBSEP $8 SUBSEP $7] = $9; runs[$6 SUBSEP $8] = 1 }
	END {
		for (k in runs) {
			split(k, p, SUBSEP)
			if (v[k SUBSEP "lobby"] > 0 && v[k SUBSEP "no portal"] > 0) print p[1], v[k SUBSEP "lobby"] / v[k SUBSEP "no portal"]
		}
	}' "$1" | sort -k1,1n -k2,2g | awk '
	{ r[$1, ++n[$1]] = $2; if (!($1 in seen)) { seen[$1] = 1; order[++m] = $1 } }
	END {
		for (i = 1; i <= m; i++) {
			c = order[i]; k = n[c]
			med = (r[c, int((k + 1) / 2)] + r[c, int(k / 2) + 1]) / 2
			printf "%s%s: %.2f×", (i > 1 ? ", " : ""), c, med
		}
	}'
}
PAIRED=$(paired_ratios "$TSV")
{
	cat <<EOF
Lobby (\`$("$LOBBY" version 2>/dev/null | head -1 || echo lobby)\`, nftables backend) against openNDS
(Debian's opennds $(pkgver opennds-daemon), iptables-legacy $(pkgver iptables)) and, for throughput, no portal
at all, in one lab (\`scripts/lab.sh\`, LAB_PREFIX=$LAB_PREFIX) and one run of $ELAPSED s. Kernel
$(uname -r); nftables $(pkgver nftables), iperf3 $(pkgver iperf3). Load average at the end:
$(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: compare subjects of this run, not runs).

### How

- **Clients.** The measured client sits in its own namespace behind the router's br-lan
  (widened to 10.77.0.0/18). The other signed-in clients, up to $MAX, are permanent entries
  in the router's neighbour table. Counts measured: ${COUNTS// /, }.
- **Sign-in latency**: from the sign-in request on the daemon's control socket (what
  \`lobby ctl auth MAC\` and \`ndsctl auth MAC\` send) to the arrival in the internet namespace
  of the first datagram of a UDP stream the client sends every 200 µs. A run is $REPS sign-ins,
  each followed by a sign-out off the clock; the run's value is their median; $RUNS runs per
  count and subject. Lobby's sign-in includes writing the session to disk (fsync, $STATEFS)
  before the firewall change, as it does on a router.
- **Forwarding throughput**: iperf3 TCP from the signed-in client to the internet namespace,
  $IPERF_SECS s, one value per run, taken right after the run's sign-ins. No portal is measured
  in the lobby phase, paired with each lobby value (odd runs lobby first, even runs no portal
  first), so that the machine's drift falls on both alike: lobby's table made dormant (\`flags
  dormant\`: its hooks are unregistered, the kernel forwards as with no table) and lobby
  stopped (SIGSTOP), undone after; the router still routes and masquerades. The median of
  the paired ratios (lobby over no portal, run by run), by signed-in clients: $PAIRED.
  The table divides the two medians instead.
- **RSS**: each daemon's VmRSS once per run at $MAX signed-in clients — $RUNS samples over time of
  the same daemon, not separate starts. openNDS's figure is a floor: its own client list
  held only the measured client, since the other clients' rules were loaded behind its back
  (below); it would hold $MAX client records if it had signed them in itself.
- **Control-socket round trip**: a request that does nothing (\`status\`), median of $REPS per
  run: what any sign-in through the socket costs before the firewall is touched.
- **Kernel transaction**: lobby's one set-element change alone, over its lasting netlink
  socket, with 10 and 10,000 MACs in the set: \`go test -bench NFTSignIn ./internal/firewall\`
  (sign-in plus sign-out per op, halved), $KERN_OPS ops, $RUNS counts.

### What each portal does per sign-in

- Lobby: the other clients signed in through its control socket; at the end its set \`auth\`
  held $LOBBY_ELEMS MACs and its table $LOBBY_RULES rules — the rules do not grow
  with the clients. A sign-in is one netlink transaction (one set-element change) plus the
  deletion of the client's conntrack entries.
- openNDS: traced with strace once (off the clock, no other clients), one sign-in — from the
  request until the client passed — made it launch $NDS_EXEC_IN programs ($NDS_EXEC_LIST),
  and one sign-out $NDS_EXEC_OUT. Most are its shell library (\`libopennds.sh\`) finding the
  client's address, interface and lease and writing a log; its firewall commands were:
EOF
	# shellcheck disable=SC2016 # back quotes for markdown
	sed 's/^/  - `/; s/$/`/' "$WORK/nds-exec.argv" | head -20
	cat <<EOF

  Signing the other clients in through openNDS itself would cost that many launches each, so
  they were loaded with iptables-restore as exactly the rules its iptables_fw_authenticate
  writes (4 per client; $NDS_RULES nds rules at the end). The measured client signed in and
  out through openNDS's control socket for real. Each of those rules is a line in a linear
  chain that packets walk.

### openNDS's troubles in this run

- openNDS 9.10.0 deadlocked in **$STUCK** of the measured client's sign-outs; the bench
  ended **$DEADLOCKS** listings in all (sign-outs and openNDS's own clean-up at stop) to let it
  go on. Once a chain lists more than a pipe holds (from about 700 clients),
  iptables_fw_destroy_mention keeps \`iptables -L\` open, which holds the xtables lock, while
  it waits for its own \`iptables --wait -D\`. The bench ends the listing when both have been
  there for 0.3 s (any listing after 3 s); sign-outs are off the clock.
EOF
	if [ "$CRASHES" -gt 0 ]; then
		echo "- openNDS died **$CRASHES** time(s) in this run ($(paste -sd';' "$WORK/nds-crashes" | sed 's/;/; /g'); 136 is"
		echo "  SIGFPE) and was started again each time with the other clients' rules put back."
	else
		echo "- openNDS did not die in this run (in earlier runs it died of SIGFPE with 1,000 to 10,000 clients; the"
		echo "  bench would start it again with the other clients' rules put back and count it here)."
	fi
	if [ -n "$FAILS" ]; then
		echo "- Sign-ins left out (no datagram within 10 s, a refused request, or the client already"
		echo "  passing before the request because a sign-out had not taken): $FAILS."
	else
		echo "- Every sign-in of the run counted: none failed, none found the client already passing."
	fi
	if [ "$MISSING" -gt 0 ]; then
		echo "- $MISSING measurement(s) gave no value and are not in the data: $(paste -sd';' "$WORK/missing" | sed 's/;/; /g')."
	fi
} >"$MD"
say "wrote $TSV ($(wc -l <"$TSV") lines) and $MD in $ELAPSED s"
