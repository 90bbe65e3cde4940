#!/usr/bin/env bash
# Firewall benchmark: sign-in latency and forwarding throughput of lobby
# (nftables backend), of openNDS (Debian's package, iptables-legacy) and of
# no portal at all, in one lab and one run. Writes docs/bench-firewall.md.
#
#   sign-in latency  from the sign-in request on the daemon's control socket
#                    (what `lobby ctl auth MAC` and `ndsctl auth MAC` send) to
#                    the arrival, in the internet namespace, of the first UDP
#                    datagram of a stream that the client sends every 200 µs;
#                    with 10, 1,000 and 10,000 clients already signed in.
#                    REPS sign-ins each; median and 90th percentile. The
#                    start-up of the control programs is measured apart.
#   throughput       iperf3 TCP, client → internet namespace, IPERF_SECS
#                    seconds, median of IPERF_RUNS runs; with 0 and 10,000
#                    clients signed in; no portal before lobby, between
#                    lobby and openNDS, and after, each portal compared with
#                    the two around it.
#
# Lobby's 10,000 clients sign in through its control socket, each with an
# address in the router's neighbour table. openNDS signs in only clients it
# can see in a DHCP lease file and the neighbour table, one shell script and
# four iptables launches each (about a second), so its other clients are
# loaded with iptables-restore as the exact rules its iptables_fw_authenticate
# writes (src/fw_iptables.c of 9.10.0); the measured client signs in through
# ndsctl for real.
#
# Environment: LAB_PREFIX (default benchfw), REPS (21), IPERF_SECS (5),
# IPERF_RUNS (5), GO. Needs root; installs iperf3, opennds and the lab's
# packages when missing. Bounded: every step has a timeout.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "bench-firewall: needs root (network namespaces)" >&2; exit 1; }
ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
export LAB_PREFIX=${LAB_PREFIX:-benchfw}
REPS=${REPS:-21}
IPERF_SECS=${IPERF_SECS:-5}
IPERF_RUNS=${IPERF_RUNS:-5}
COUNTS="10 1000 10000"
MAX=10000
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
R=$LAB_PREFIX-router I=$LAB_PREFIX-inet C=$LAB_PREFIX-c1
MAC1=02:00:00:00:01:01 IP1=10.77.0.11
OUT=$ROOT/docs/bench-firewall.md

say() { printf 'bench-firewall: %s\n' "$*" >&2; }

# nds_unstick ends the `iptables -L` that openNDS holds open while it waits
# for its own `iptables --wait -D`: from about 700 signed-in clients the
# listing outgrows the pipe, keeps the xtables lock and neither can go on
# (iptables_fw_destroy_mention of openNDS 9.10.0). Each one is counted.
nds_unstick() {
	local sh l
	for sh in $(pgrep -P "$NDS_PID"); do
		for l in $(pgrep -P "$sh" -f -- ' -L '); do
			kill "$l" 2>/dev/null && echo x >>"$WORK/nds-deadlocks"
		done
	done
}

# nds_run runs ndsctl (openNDS's control program) with openNDS's deadlock
# broken whenever it has waited 3 s.
nds_run() {
	ip netns exec "$R" ndsctl "$@" >/dev/null 2>&1 &
	local pid=$! n=0
	while kill -0 "$pid" 2>/dev/null; do
		sleep 0.1
		n=$((n + 1))
		if [ "$n" -ge 30 ]; then
			nds_unstick
			n=0
		fi
	done
	wait "$pid" || true
}

stop_nds() {
	kill "$NDS_PID" 2>/dev/null
	for _ in $(seq 150); do
		kill -0 "$NDS_PID" 2>/dev/null || break
		sleep 0.2
		nds_unstick # its clean-up deletes rules the same way
	done
	NDS_PID=""
}

# --- packages -----------------------------------------------------------
. "$ROOT/scripts/bench/packages.bash"
bench_install iperf3 opennds iptables nftables conntrack curl iproute2 iputils-ping dnsutils util-linux
# Debian's opennds starts itself on install where systemd runs; it must not
# run outside the lab.
if pgrep -x opennds >/dev/null; then
	say "an opennds is already running on this machine; stop it first"
	exit 1
fi

WORK=$(mktemp -d /tmp/bench-firewall.XXXXXX)
PIDS=()
LEASES_MADE=""
# openNDS leaves these in /tmp; remove only what this run made.
NDS_LEFTOVERS=""
for f in /tmp/ndsctl.sock /tmp/ndsctl.lock /tmp/ndscids /tmp/ndsdebuglevel /tmp/ndslog; do
	[ -e "$f" ] || NDS_LEFTOVERS="$NDS_LEFTOVERS $f"
done
cleanup() {
	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	[ -n "${LOBBY_PID:-}" ] && kill "$LOBBY_PID" 2>/dev/null && wait "$LOBBY_PID" 2>/dev/null
	[ -n "${NDS_PID:-}" ] && stop_nds
	[ -n "$LEASES_MADE" ] && rm -f /tmp/dhcp.leases
	# shellcheck disable=SC2086 # a list of paths without blanks
	[ -n "$NDS_LEFTOVERS" ] && rm -rf $NDS_LEFTOVERS
	"$ROOT/scripts/lab.sh" down >/dev/null 2>&1
	rm -rf "$WORK"
}
trap cleanup EXIT

# --- tools ----------------------------------------------------------------
say "building lobby and the probe"
(cd "$ROOT" && CGO_ENABLED=0 timeout 300 "$GO" build -o "$WORK/lobby" ./firmware)
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
//	probe rtt PATH REQUEST     print how long (µs) the answer to REQUEST took
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
(cd "$WORK/probe" && CGO_ENABLED=0 GOFLAGS='' timeout 120 "$GO" build -o "$WORK/probe/probe" .)
PROBE=$WORK/probe/probe
LOBBY=$WORK/lobby

# --- lab --------------------------------------------------------------------
say "lab up ($LAB_PREFIX)"
timeout 300 "$ROOT/scripts/lab.sh" up 2 >/dev/null
ip -n "$C" addr replace "$IP1/24" dev eth0
ip -n "$C" route replace default via 10.77.0.1
# The other clients need room: br-lan's /24 becomes a /18 (the measured
# client keeps its /24 inside it), and each is in the router's neighbour
# table, so that both portals see it as connected.
ip -n "$R" addr del 10.77.0.1/24 dev br-lan
ip -n "$R" addr add 10.77.0.1/18 dev br-lan
fake_mac() { printf '02:10:00:00:%02x:%02x' $(($1 / 256)) $(($1 % 256)); }
fake_ip() { printf '10.77.%d.%d' $((1 + $1 / 250)) $((1 + $1 % 250)); }
for i in $(seq 0 $((MAX - 1))); do
	echo "neigh replace $(fake_ip "$i") lladdr $(fake_mac "$i") dev br-lan nud permanent"
done | ip -n "$R" -batch -
ip netns exec "$I" iperf3 -s -B 198.51.100.10 >/dev/null 2>&1 &
PIDS+=($!)
ip netns exec "$C" "$PROBE" send 198.51.100.11:9000 &
PIDS+=($!)
sleep 0.5

# --- measurements -------------------------------------------------------------

# signin SOCKET REQUEST runs one sign-in under the stopwatch and prints
# the latency in µs until the first datagram of the client's stream arrives.
signin() {
	local fifo=$WORK/recv.out t0 t1
	ip netns exec "$I" "$PROBE" recv 198.51.100.11:9000 10 >"$fifo" &
	local rpid=$!
	for _ in $(seq 100); do grep -q ready "$fifo" 2>/dev/null && break; sleep 0.01; done
	t0=$("$PROBE" sock "$@" 2>>"$WORK/probe.err" | tail -1) || { kill "$rpid" 2>/dev/null; echo fail; return; }
	wait "$rpid" || true
	t1=$(tail -1 "$fifo")
	if [ "$t1" = timeout ] || [ -z "$t0" ]; then echo fail; return; fi
	echo $(((t1 - t0) / 1000))
}

# stats prints "median p90" (ms, 2 decimals) of µs values on stdin.
stats() {
	sort -n | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "- -"; exit }
		m = v[int((NR + 1) / 2)]; p = v[int(NR * 0.9 + 0.999)]
		printf "%.2f %.2f\n", m / 1000, p / 1000 }'
}

# throughput prints the median iperf3 rate in Gbit/s.
throughput() {
	local i
	for i in $(seq "$IPERF_RUNS"); do
		{ timeout $((IPERF_SECS + 20)) ip netns exec "$C" iperf3 -c 198.51.100.10 -t "$IPERF_SECS" -J 2>/dev/null || true; } |
			"$PROBE" bps 2>/dev/null || true
	done | sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else printf "%.2f\n", v[int((NR + 1) / 2)] / 1e9 }'
}

declare -A RES

say "no portal: throughput"
RES[none_tp]=$(throughput)
touch "$WORK/nds-deadlocks"

# --- lobby ------------------------------------------------------------------------
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
for _ in $(seq 100); do "$LOBBY" ctl -s "$WORK/lobby.sock" status >/dev/null 2>&1 && break; sleep 0.1; done
ctl() { "$LOBBY" ctl -s "$WORK/lobby.sock" "$@"; }
ctl status >/dev/null
ctl auth "$MAC1" >/dev/null
RES[lobby_tp0]=$(throughput)
ctl deauth "$MAC1" >/dev/null
RES[lobby_ctl]=$(for _ in $(seq "$REPS"); do
	s=$(date +%s%N); ctl status >/dev/null; echo $((($(date +%s%N) - s) / 1000))
done | stats)
RES[lobby_rtt]=$(for _ in $(seq "$REPS"); do "$PROBE" rtt "$WORK/lobby.sock" '{"verb":"status"}'; done | stats)

have=0
populate_lobby() {
	local want=$1 start
	start=$(date +%s)
	seq "$have" $((want - 1)) | while read -r i; do fake_mac "$i"; echo; done |
		timeout 900 "$PROBE" many "$WORK/lobby.sock" '{"verb":"auth","args":["%s"]}'
	say "lobby: $want clients signed in (+$((want - have)) in $(($(date +%s) - start)) s)"
	have=$want
}
for n in $COUNTS; do
	populate_lobby "$n"
	RES[lobby_$n]=$(for _ in $(seq "$REPS"); do
		signin "$WORK/lobby.sock" '{"verb":"auth","args":["'"$MAC1"'"]}'
		ctl deauth "$MAC1" >/dev/null
		sleep 0.2 # the sign-out's clean-up, off the measured path
	done | grep -v fail | stats)
	say "lobby: sign-in with $n signed in: ${RES[lobby_$n]} ms (median p90)"
done
ctl auth "$MAC1" >/dev/null
RES[lobby_tp10000]=$(throughput)
RES[lobby_elems]=$(ip netns exec "$R" nft list set inet lobby auth | grep -o '02:[0-9a-f:]*' | wc -l)
say "lobby: throughput ${RES[lobby_tp0]} / ${RES[lobby_tp10000]} Gbit/s; stopping"
kill "$LOBBY_PID"
wait "$LOBBY_PID" || true
LOBBY_PID=""
say "no portal: throughput"
RES[none_tp2]=$(throughput)

# The kernel side alone: one set-element transaction (BenchmarkNFTSignIn
# does a sign-in and a sign-out per op) with 10 and 10,000 in the set.
say "lobby: the set change alone (go test -bench NFTSignIn)"
RES[lobby_kern]=$(cd "$ROOT" && CGO_ENABLED=0 timeout 300 "$GO" test -run '^$' -bench NFTSignIn -benchtime 5000x ./internal/firewall/ 2>/dev/null |
	awk '/signed-in=10-/ { a = $3 } /signed-in=10000-/ { b = $3 } END { if (a == "" || b == "") print "- -"; else printf "%.3f %.3f\n", a / 2e6, b / 2e6 }') || RES[lobby_kern]="- -"

# --- openNDS --------------------------------------------------------------------
say "openNDS: starting"
mkdir -p "$WORK/nds/bin"
# openNDS needs the legacy iptables (openNDS issue #429).
ln -s "$(command -v iptables-legacy)" "$WORK/nds/bin/iptables"
ln -s "$(command -v ip6tables-legacy)" "$WORK/nds/bin/ip6tables"
cat >"$WORK/nds/opennds.conf" <<'EOF'
GatewayInterface br-lan
GatewayPort 2050
allow_preemptive_authentication 1
sessiontimeout 0
preauthidletimeout 0
authidletimeout 0
login_option_enabled 1
FirewallRuleSet authenticated-users {
}
FirewallRuleSet preauthenticated-users {
}
FirewallRuleSet users-to-router {
    FirewallRule allow udp port 53
    FirewallRule allow tcp port 53
    FirewallRule allow udp port 67
}
EOF
# openNDS adds a client only if a dnsmasq lease file lists it.
if [ ! -e /tmp/dhcp.leases ]; then
	echo "$(($(date +%s) + 86400)) $MAC1 $IP1 c1 *" >/tmp/dhcp.leases
	LEASES_MADE=1
fi
touch "$WORK/nds-crashes"

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
	local runs
	runs=$(grep -ac "now running" "$WORK/nds/log" 2>/dev/null || true)
	(cd "$WORK/nds" && PATH=$WORK/nds/bin:$PATH exec ip netns exec "$R" opennds -f -c "$WORK/nds/opennds.conf" -d 1) >>"$WORK/nds/log" 2>&1 &
	NDS_PID=$!
	for _ in $(seq 150); do
		[ "$(grep -ac "now running" "$WORK/nds/log")" -gt "${runs:-0}" ] && break
		sleep 0.2
	done
	[ "$(grep -ac "now running" "$WORK/nds/log")" -gt "${runs:-0}" ] || { say "openNDS did not start:"; tail -20 "$WORK/nds/log" >&2; exit 1; }
	NDS_SOCK=$(grep -a -o 'Socket access at [^ ]*' "$WORK/nds/log" | tail -1 | cut -d' ' -f4)
	nds_rules 0 "$nhave"
}

# ensure_nds starts openNDS again if it died, and counts that.
ensure_nds() {
	kill -0 "$NDS_PID" 2>/dev/null && return 0
	wait "$NDS_PID" 2>/dev/null
	echo "$? with $nhave other clients" >>"$WORK/nds-crashes"
	say "openNDS died (exit $(tail -1 "$WORK/nds-crashes")); starting it again"
	start_nds
}

start_nds
ip netns exec "$C" ping -c 1 -W 1 10.77.0.1 >/dev/null 2>&1 || true
nds_run auth "$MAC1"
RES[nds_tp0]=$(throughput)
nds_run deauth "$MAC1"
RES[nds_ctl]=$(for _ in $(seq "$REPS"); do
	s=$(date +%s%N); ndsctl status >/dev/null 2>&1; echo $((($(date +%s%N) - s) / 1000))
done | stats)
RES[nds_rtt]=$(for _ in $(seq "$REPS"); do "$PROBE" rtt "$NDS_SOCK" 'status\r\n\r\n'; done | stats)

for n in $COUNTS; do
	nds_rules "$nhave" "$n"
	nhave=$n
	say "openNDS: rules of $n signed-in clients loaded"
	for _ in $(seq "$REPS"); do
		ensure_nds
		signin "$NDS_SOCK" "auth $MAC1\\r\\n\\r\\n"
		nds_run deauth "$MAC1"
		sleep 0.2 # the sign-out's clean-up, off the measured path
	done >"$WORK/nds-$n"
	RES[nds_$n]=$(grep -v fail "$WORK/nds-$n" | stats)
	say "openNDS: sign-in with $n signed in: ${RES[nds_$n]} ms (median p90)"
done
ensure_nds
nds_run auth "$MAC1"
RES[nds_tp10000]=$(throughput)
RES[nds_rules]=$(ip netns exec "$R" iptables-legacy-save | grep -c -- '-A nds')
say "openNDS: throughput ${RES[nds_tp0]} / ${RES[nds_tp10000]} Gbit/s; stopping"
stop_nds
RES[nds_deadlocks]=$(wc -l <"$WORK/nds-deadlocks")
RES[nds_crashes]=$(wc -l <"$WORK/nds-crashes")
RES[nds_crash_list]=$(paste -sd';' "$WORK/nds-crashes")
# Whatever openNDS left behind goes, so that the last figure is no portal's.
for t in raw mangle nat filter; do
	ip netns exec "$R" iptables-legacy -t "$t" -F 2>/dev/null || true
	ip netns exec "$R" iptables-legacy -t "$t" -X 2>/dev/null || true
done
say "no portal: throughput"
RES[none_tp3]=$(throughput)

# --- report ---------------------------------------------------------------------
med() { echo "$1" | cut -d' ' -f1; }
p90() { echo "$1" | cut -d' ' -f2; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0 || a == "-" || b == "-") print "-"; else printf "%.1f×\n", a / b }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b + 0 == 0) print "-"; else printf "%.1f %%\n", 100 * a / b }'; }
mean() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (a + b) / 2 }'; }
lbase=$(mean "${RES[none_tp]}" "${RES[none_tp2]}")
nbase=$(mean "${RES[none_tp2]}" "${RES[none_tp3]}")
{
	echo "# Firewall benchmark"
	echo
	echo "Generated by \`scripts/bench/firewall.sh\` (\`make bench\`) on $(date -u '+%Y-%m-%d %H:%M UTC')."
	echo "Machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1), Linux $(uname -r)."
	echo "Lobby: nftables backend. openNDS: Debian's $(dpkg-query -W -f='${Version}' opennds), iptables-legacy."
	echo
	echo "## Sign-in latency"
	echo
	echo "From the sign-in request on the daemon's control socket (what \`lobby ctl auth MAC\`"
	echo "and \`ndsctl auth MAC\` send) to the client's first forwarded datagram (it sends one"
	echo "every 200 µs), median and 90th percentile of $REPS sign-ins, in ms. Lobby's includes"
	echo "writing the session to disk (fsync) before the firewall change. The rows below the"
	echo "line put it in proportion: a control-socket round trip that does nothing (\`status\`),"
	echo "and starting the control program."
	echo
	echo "| clients already signed in | lobby median | lobby p90 | openNDS median | openNDS p90 | openNDS / lobby |"
	echo "|---:|---:|---:|---:|---:|---:|"
	for n in $COUNTS; do
		echo "| $n | $(med "${RES[lobby_$n]}") | $(p90 "${RES[lobby_$n]}") | $(med "${RES[nds_$n]}") | $(p90 "${RES[nds_$n]}") | $(ratio "$(med "${RES[nds_$n]}")" "$(med "${RES[lobby_$n]}")") |"
	done
	echo "| | | | | | |"
	echo "| control-socket round trip of \`status\` | $(med "${RES[lobby_rtt]}") | $(p90 "${RES[lobby_rtt]}") | $(med "${RES[nds_rtt]}") | $(p90 "${RES[nds_rtt]}") | |"
	echo "| running the control program (\`lobby ctl status\`, \`ndsctl status\`) | $(med "${RES[lobby_ctl]}") | $(p90 "${RES[lobby_ctl]}") | $(med "${RES[nds_ctl]}") | $(p90 "${RES[nds_ctl]}") | |"
	echo
	echo "Lobby's kernel transaction alone (one set-element change over netlink, mean of 5,000,"
	echo "\`go test -bench NFTSignIn ./internal/firewall\`): $(med "${RES[lobby_kern]}") ms with 10 MACs in the set,"
	echo "$(p90 "${RES[lobby_kern]}") ms with 10,000."
	echo
	echo "## Forwarding throughput"
	echo
	echo "iperf3 TCP from a signed-in client to the internet namespace, ${IPERF_SECS} s, median of $IPERF_RUNS runs, Gbit/s."
	echo "No portal was measured before lobby, between lobby and openNDS, and after openNDS"
	echo "(${RES[none_tp]}, ${RES[none_tp2]}, ${RES[none_tp3]}); each portal is compared with the mean of the"
	echo "two measurements around it ($lbase for lobby, $nbase for openNDS), and with itself"
	echo "without the other clients. The spread of the three no-portal figures is this machine's"
	echo "run-to-run noise: differences smaller than it are not measured here."
	echo
	echo "| other clients signed in | lobby | lobby / no portal | openNDS | openNDS / no portal |"
	echo "|---:|---:|---:|---:|---:|"
	echo "| 0 | ${RES[lobby_tp0]} | $(pct "${RES[lobby_tp0]}" "$lbase") | ${RES[nds_tp0]} | $(pct "${RES[nds_tp0]}" "$nbase") |"
	echo "| 10000 | ${RES[lobby_tp10000]} | $(pct "${RES[lobby_tp10000]}" "$lbase") | ${RES[nds_tp10000]} | $(pct "${RES[nds_tp10000]}" "$nbase") |"
	echo "| 10000 / 0 | | $(pct "${RES[lobby_tp10000]}" "${RES[lobby_tp0]}") | | $(pct "${RES[nds_tp10000]}" "${RES[nds_tp0]}") |"
	echo
	echo "## How"
	echo
	echo "- One lab (\`scripts/lab.sh\`, LAB_PREFIX=$LAB_PREFIX): the measured client in its own namespace"
	echo "  behind the router's br-lan (widened to 10.77.0.0/18); 10,000 more clients as permanent"
	echo "  neighbour entries in it."
	echo "- Lobby: the other clients signed in through its control socket; at the end its set \`auth\` held"
	echo "  ${RES[lobby_elems]} MACs. Every sign-in is one set-element change; the rules do not grow."
	echo "- openNDS signs a client in only when a lease file and the neighbour table show it, through"
	echo "  shell scripts and four iptables launches per client, so its other clients were"
	echo "  loaded with iptables-restore as exactly the rules its iptables_fw_authenticate writes"
	echo "  (${RES[nds_rules]} nds rules at the end). The measured client signed in through its control"
	echo "  socket, as \`ndsctl auth\` does, and out through \`ndsctl deauth\`."
	if [ "${RES[nds_crashes]}" -gt 0 ]; then
		echo "- openNDS died ${RES[nds_crashes]} times during the run (exit status, clients: ${RES[nds_crash_list]};"
		echo "  136 is SIGFPE) and was started again each time with the other clients' rules put back."
	else
		echo "- openNDS did not die during this run (in an earlier one it died of SIGFPE with 10,000"
		echo "  clients; the bench then starts it again with the other clients' rules put back)."
	fi
	echo "- openNDS 9.10.0 deadlocked ${RES[nds_deadlocks]} times while signing the client out (and while"
	echo "  stopping): once a chain lists more than a pipe holds (from about 700 clients),"
	echo "  iptables_fw_destroy_mention keeps \`iptables -L\` open, which holds the xtables lock, while"
	echo "  it waits for its own \`iptables --wait -D\`. The bench ended the listing each time (after 3 s)."
	echo "- The machine runs other jobs too (load average $(cut -d' ' -f1-3 /proc/loadavg) at the end), so the"
	echo "  throughput figures carry some noise; every portal ran in the same lab and run."
	echo "- No portal: the same lab with neither running (the router only routes and masquerades)."
} >"$OUT"
say "wrote $OUT"
cat "$OUT"
