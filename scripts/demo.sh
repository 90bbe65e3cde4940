#!/bin/sh
# make demo: bring up the lab, run lobby as the router, and walk a guest
# through the hotspot — lease, DNS hijack, 511, sign-in, the internet, a
# voucher code, its rate and its quota; a sign-in against a real FreeRADIUS,
# its CoA and Disconnect — then sign in to the admin pages as the venue's
# owner, printing a transcript. Needs root.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces); try: sudo make demo" >&2; exit 1; }

# LAB_PREFIX (scripts/lab.sh) lets the demo run beside another lab.
P=${LAB_PREFIX:-lobby}
DIR=/run/$P-demo
LOBBY=$PWD/bin/lobby
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
R="ip netns exec $P-router"
C1="ip netns exec $P-c1"
# The lab's internet stands for the owner's side: the admin pages listen on
# the router's WAN address.
I="ip netns exec $P-inet"
ADMIN=http://192.0.2.1:8080
MAC1=02:00:00:00:01:01
PORTAL=http://10.77.0.1:2050

say()  { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@" 2>&1 | sed 's/^/  /'; }
ctl()  { show "$LOBBY" ctl -s $DIR/lobby.sock "$@"; }
# download BYTES: guest 1 fetches BYTES from the lab's origin (at most
# 20 s) and the transcript shows the rate it got.
download() {
	printf '$ %s\n' "$C1 curl -s -o /dev/null --max-time 20 -w '%{size_download} %{time_total} %{speed_download}' http://198.51.100.10/bytes/$1"
	$C1 curl -s -o /dev/null --max-time 20 -w '%{size_download} %{time_total} %{speed_download}\n' \
		"http://198.51.100.10/bytes/$1" | awk '{ printf "  %d bytes in %.1f s: %.1f Mbit/s\n", $1, $2, $3 * 8 / 1e6 }'
}
# records TYPE: the guest's records of that Acct-Status-Type in
# FreeRADIUS's detail file; detail TYPE shows their main lines.
has_record() { records "$1" | grep -q .; }
records() { awk -v RS= "/Acct-Status-Type = $1\\n/ && /User-Name = \"guest\"/" $DIR/raddb/detail; }
detail() {
	printf '$ %s\n' "awk -v RS= '/Acct-Status-Type = $1\\n/ && /User-Name = \"guest\"/' $DIR/raddb/detail"
	records "$1" | grep -E '^[A-Z]|Status|User-Name|Framed-IP|Session-Time|Output-Octets|Cause' | sed 's/^/  /'
}
# das KIND ATTRS: radclient sends a KIND (coa, disconnect) request with
# ATTRS from the internet (a RADIUS server's side) to lobby's DAS port.
das() { show sh -c "printf '$2' | $I radclient -r 1 -t 2 -d $DIR/raddb 192.0.2.1:3799 $1 $secret"; }
# wait_for WHAT CMD...: until CMD succeeds (at most 10 s).
wait_for() {
	what=$1; shift
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "demo: no $what after 10 s"; exit 1; }
		sleep 0.1
	done
}

start_lobby() {
	$R "$LOBBY" run -c $DIR/lobby.conf >>$DIR/lobby.log 2>&1 &
	echo $! >$DIR/lobby.pid
	wait_for "lobby's start (log: $DIR/lobby.log)" "$LOBBY" ctl -s $DIR/lobby.sock status
}

cleanup() {
	[ -f $DIR/lobby.pid ] && kill "$(cat $DIR/lobby.pid)" 2>/dev/null || true
	[ -f $DIR/freeradius.pid ] && kill "$(cat $DIR/freeradius.pid)" 2>/dev/null || true
	sleep 0.5
	scripts/lab.sh down >/dev/null 2>&1 || true
}
trap cleanup EXIT

say "build lobby"
make -s build
show "$LOBBY" version

say "bring up the lab: a router, 3 guests, a fake internet"
rm -rf $DIR && mkdir -p $DIR
scripts/lab.sh up 3 >/dev/null
show scripts/lab.sh status

cat >$DIR/lobby.conf <<CONF
config lobby 'main'
	option interface 'br-lan'
	option state_dir '$DIR/state'
	option socket '$DIR/lobby.sock'
	option session_timeout '2h'
	option venue_name 'Café Lobby'
	list auth 'click'
	list auth 'voucher'

config dns 'dns'
	list upstream '198.51.100.53'
CONF

say "the config, checked"
show $R "$LOBBY" check -c $DIR/lobby.conf

say "lobby runs as the router"
start_lobby
ctl status

say "guest 1 ($MAC1) joins and gets a lease (busybox udhcpc)"
cat >$DIR/udhcpc.script <<'SCRIPT'
#!/bin/sh
[ "$1" = bound ] || [ "$1" = renew ] || exit 0
ip addr flush dev "$interface"
ip addr add "$ip/${mask:-24}" dev "$interface"
ip route replace default via "$router"
echo "lease: ip=$ip router=$router dns=$dns lease=${lease}s"
SCRIPT
chmod +x $DIR/udhcpc.script
show $C1 busybox udhcpc -i eth0 -n -q -t 5 -T 1 -s $DIR/udhcpc.script

say "before sign-in, every name is the portal (DNS hijack)"
show $C1 dig +short @10.77.0.1 example.com

say "plain HTTP anywhere gets 511 Network Authentication Required"
show $C1 curl -s -i --max-time 5 http://example.com/some/page
say "Android's probe gets a 302 to the portal instead"
show $C1 curl -s -o /dev/null -w '%{http_code} -> %{redirect_url}\n' --max-time 5 http://connectivitycheck.gstatic.com/generate_204
say "HTTPS is refused at once"
show $C1 curl -s -o /dev/null -w '%{http_code} %{errormsg}\n' --max-time 5 https://198.51.100.10/ || true

say "the guest opens the portal and presses the button"
redir=http://example.com/some/page
page=$($C1 curl -s --max-time 5 -G --data-urlencode "redir=$redir" "$PORTAL/")
printf '%s\n' "$page" | grep -o '<h1[^>]*>[^<]*</h1>' | sed 's/^/  /' || true
token=$(printf '%s' "$page" | sed -n 's/.*name="token" value="\([^"]*\)".*/\1/p' | head -n1)
show $C1 curl -s -o /dev/null -w '%{http_code} -> %{redirect_url}\n' --max-time 10 -H "Origin: $PORTAL" \
	--data-urlencode "token=$token" --data-urlencode "redir=$redir" "$PORTAL/login"
ctl clients

say "signed in: real DNS answers and the real internet"
show $C1 dig +short @10.77.0.1 example.com
show $C1 sh -c "curl -s --max-time 5 $redir | grep -m1 LOBBY-ORIGIN-OK"
say "a browser that kept the hijacked answer still lands on the site (the relay)"
show $C1 sh -c "curl -s --max-time 5 -H 'Host: example.com' http://10.77.0.1/ | grep -m1 LOBBY-ORIGIN-OK"

say "lobby is killed with kill -9 and started again"
kill -9 "$(cat $DIR/lobby.pid)"; sleep 0.3
start_lobby
ctl clients
show $C1 sh -c "curl -s --max-time 5 http://198.51.100.10/ | grep -m1 LOBBY-ORIGIN-OK"
echo "  the session and its time left survived the crash"

say "the operator signs the guest out: the portal is back"
ctl deauth $MAC1
show $C1 curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 http://198.51.100.10/

say "a program asking for JSON gets the 511 in JSON: where to sign in, and the captive API"
show $C1 curl -s -i --max-time 5 -H 'Accept: application/json' http://api.example.com/v1/items

say "the operator makes a voucher code for two devices, for a day, 4 Mbit/s down and 20 MB"
ctl voucher create 1 devices=2 duration=1d download=4mbit quota=20MB note=demo
code=$("$LOBBY" ctl -s $DIR/lobby.sock --json voucher list | sed -n 's/^ *"code": "\(.*\)",$/\1/p' | head -n 1)

say "the guest follows the card's link, which fills the code in, and signs in with it"
page=$($C1 curl -s --max-time 5 "$PORTAL/?voucher=$code")
printf '%s\n' "$page" | grep -o '<input id="code"[^>]*value="[^"]*"' | sed 's/^/  /'
token=$(printf '%s' "$page" | sed -n 's/.*name="token" value="\([^"]*\)".*/\1/p' | head -n 1)
show $C1 curl -s -o /dev/null -w '%{http_code} -> %{redirect_url}\n' --max-time 10 -H "Origin: $PORTAL" \
	--data-urlencode "token=$token" --data method=voucher --data-urlencode "code=$code" "$PORTAL/login"
show $C1 sh -c "curl -s --max-time 5 http://198.51.100.10/ | grep -m1 LOBBY-ORIGIN-OK"
show $C1 curl -s --max-time 5 $PORTAL/api/captive
ctl voucher show "$code"

say "the voucher holds the guest to 4 Mbit/s: a download from the internet"
download 3000000
say "the operator raises the guest's rate to 16 Mbit/s: the next download goes at it"
ctl limit $MAC1 download=16mbit
download 8000000
say "past the voucher's 20 MB the guest is signed out (reason quota) and the portal tells why"
download 12000000
wait_for "sign-out for the quota" grep -q reason=quota $DIR/lobby.log
show grep -o 'msg="client signed out".*reason=quota.*' $DIR/lobby.log
$C1 curl -s --max-time 5 "$PORTAL/" | grep -o 'Your data allowance[^<]*' | sed 's/^/  /'
show $C1 curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 http://198.51.100.10/

say "the venue's RADIUS server: a real FreeRADIUS in the lab's internet, with a users file"
cat >$DIR/users <<'USERS'
guest	Cleartext-Password := "letmein"
	Session-Timeout = 3600,
	WISPr-Bandwidth-Max-Down = 8000000,
	WISPr-Bandwidth-Max-Up = 2000000
USERS
show cat $DIR/users
# scripts/radiusconf writes the config directory the RADIUS tests run.
secret=$("$GO" run ./scripts/radiusconf -listen 198.51.100.11 -clients 192.0.2.0/24 -users $DIR/users $DIR/raddb)
printf '$ %s\n' "$I freeradius -f -l stdout -d $DIR/raddb"
$I freeradius -f -l stdout -d $DIR/raddb >$DIR/freeradius.log 2>&1 &
echo $! >$DIR/freeradius.pid
wait_for "FreeRADIUS (log: $DIR/freeradius.log)" grep -q "Ready to process requests" $DIR/freeradius.log
echo "  ready on 198.51.100.11, ports 1812 and 1813; secret $secret"

say "lobby asks it: auth radius first, config radius (its servers may send CoA and Disconnect)"
sed -i "s/^\tlist auth 'click'/\tlist auth 'radius'\n&/" $DIR/lobby.conf
cat >>$DIR/lobby.conf <<CONF

config radius 'radius'
	list server '198.51.100.11'
	option secret '$secret'
	list das_client '192.0.2.254'
CONF
show grep -E "auth|radius|server|secret|das" $DIR/lobby.conf
kill -HUP "$(cat $DIR/lobby.pid)"
wait_for "Accounting-On from lobby" grep -q Accounting-On $DIR/raddb/detail

say "the guest signs in on the page with the account's user name and password"
page=$($C1 curl -s --max-time 5 "$PORTAL/")
token=$(printf '%s' "$page" | sed -n 's/.*name="token" value="\([^"]*\)".*/\1/p' | head -n 1)
show $C1 curl -s -o /dev/null -w '%{http_code} -> %{redirect_url}\n' --max-time 10 -H "Origin: $PORTAL" \
	--data-urlencode "token=$token" --data method=radius --data username=guest --data-urlencode password=letmein "$PORTAL/login"
ctl clients
say "FreeRADIUS's detail file has the session's Start"
wait_for "Start" has_record Start
detail Start

say "the server changes the guest's rate (CoA) to 2 Mbit/s down"
das coa 'User-Name = guest\nWISPr-Bandwidth-Max-Down = 2000000\n'
ctl clients
download 1000000
say "the server signs the guest out (Disconnect); the Stop says why"
das disconnect 'User-Name = guest\n'
wait_for "Stop" has_record Stop
detail Stop
show $C1 curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 http://198.51.100.10/

say "the owner sets an admin password and turns the admin pages on, on the router's WAN address"
cat >>$DIR/lobby.conf <<CONF

config admin 'admin'
	option enabled '1'
	option listen '192.0.2.1:8080'
CONF
show sh -c "echo 'demo password' | $LOBBY passwd -c $DIR/lobby.conf"
show grep -A3 "^config admin" $DIR/lobby.conf
kill -HUP "$(cat $DIR/lobby.pid)"
wait_for "admin pages (log: $DIR/lobby.log)" grep -q "admin: serving" $DIR/lobby.log

say "the owner signs in from their side (curl here; a browser at $ADMIN/)"
jar=$DIR/admin.jar
csrf=$($I curl -s --max-time 5 -c $jar -b $jar "$ADMIN/login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n 1)
show $I curl -s -o /dev/null -w '%{http_code} -> %{redirect_url}\n' --max-time 10 -c $jar -b $jar \
	--data user=admin --data-urlencode 'password=demo password' --data "csrf=$csrf" "$ADMIN/login"
say "the Overview: clients, the last 24 hours, the router"
$I curl -s --max-time 5 -b $jar "$ADMIN/" | sed -n 's/<[^>]*>/ /g; s/  */ /g; /signed in\|Sign-ins:\|DHCP pool\|firewall/p' | sed 's/^ */  /'
say "the codes on the Vouchers page (a print sheet of cards with QR codes is one click away)"
$I curl -s --max-time 5 -b $jar "$ADMIN/vouchers" | grep -o '<code>[^<]*</code></td><td>[^<]*' | sed 's/<[^>]*>/ /g; s/^/  /'
say "a Prometheus scrape of /metrics, with the same password (Basic auth)"
$I curl -s --max-time 5 -u 'admin:demo password' "$ADMIN/metrics" | grep -E '^lobby_(clients|sign_ins_total|sign_outs_total)' | sed 's/^/  /'

say "a clean stop removes every rule"
kill -TERM "$(cat $DIR/lobby.pid)"
wait_for "clean stop (log: $DIR/lobby.log)" grep -q 'msg="lobby stopped"' $DIR/lobby.log
show sh -c "$R nft list tables"
show tail -n 2 $DIR/lobby.log

say "that was the demo; on a router the admin pages are at http://LAN-ADDRESS:8080/"
echo "  see docs/openwrt.md (Admin pages and metrics) and docs/appliance.md; the pages: docs/admin/*.png"
