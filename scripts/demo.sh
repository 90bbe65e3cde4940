#!/bin/sh
# make demo: bring up the lab, run lobby as the router, and walk a guest
# through the hotspot, printing a transcript. Needs root.
# It grows as the subsystems land; what it shows is what works today.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces); try: sudo make demo" >&2; exit 1; }

DIR=/run/lobby-demo
LOBBY=$PWD/bin/lobby
R="ip netns exec lobby-router"
C1="ip netns exec lobby-c1"
MAC1=02:00:00:00:01:01

say()  { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@" 2>&1 | sed 's/^/  /'; }
ctl()  { show "$LOBBY" ctl -s $DIR/lobby.sock "$@"; }

start_lobby() {
	$R "$LOBBY" run -c $DIR/lobby.conf >>$DIR/lobby.log 2>&1 &
	echo $! >$DIR/lobby.pid
	i=0
	until "$LOBBY" ctl -s $DIR/lobby.sock status >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "lobby did not start:"; cat $DIR/lobby.log; exit 1; }
		sleep 0.1
	done
}

cleanup() {
	[ -f $DIR/lobby.pid ] && kill "$(cat $DIR/lobby.pid)" 2>/dev/null || true
	sleep 0.3
	scripts/lab.sh down >/dev/null 2>&1 || true
}
trap cleanup EXIT

say "build lobby"
make -s build
show "$LOBBY" version

say "bring up the lab: router, 3 guests, a fake internet"
rm -rf $DIR && mkdir -p $DIR
scripts/lab.sh up 3 >/dev/null
show scripts/lab.sh status

cat >$DIR/lobby.conf <<CONF
config lobby 'main'
	option interface 'br-lan'
	option state_dir '$DIR/state'
	option socket '$DIR/lobby.sock'
	option session_timeout '2h'

config dns 'dns'
	list upstream '198.51.100.53'
CONF

say "the config, checked"
show $R "$LOBBY" check -c $DIR/lobby.conf

say "lobby runs as the router"
start_lobby
ctl status

say "guest 1 ($MAC1) joins: until DHCP lands it takes 10.77.0.101 by hand"
$C1 ip addr add 10.77.0.101/24 dev eth0
$C1 ip route add default via 10.77.0.1
show $C1 busybox ping -c1 -W1 10.77.0.1

say "the operator signs guest 1 in"
ctl auth $MAC1
ctl clients

say "lobby is killed with kill -9 and started again"
kill -9 "$(cat $DIR/lobby.pid)"; sleep 0.2
start_lobby
ctl clients
echo "  the session and its time left survived the crash"

say "sign out, then a clean stop"
ctl deauth $MAC1
kill -TERM "$(cat $DIR/lobby.pid)"; sleep 0.5
show tail -n 3 $DIR/lobby.log
