#!/bin/sh
# make demo: bring up the lab, run lobby as the router, and walk a guest
# through the hotspot — lease, DNS hijack, 511, sign-in, the internet, a
# voucher code — then sign in to the admin pages as the venue's owner,
# printing a transcript. Needs root.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces); try: sudo make demo" >&2; exit 1; }

# LAB_PREFIX (scripts/lab.sh) lets the demo run beside another lab.
P=${LAB_PREFIX:-lobby}
DIR=/run/$P-demo
LOBBY=$PWD/bin/lobby
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

say "the operator makes a voucher code for two devices, for a day"
ctl voucher create 1 devices=2 duration=1d quota=2GB note=demo
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

say "the owner sets an admin password and turns the admin pages on, on the router's WAN address"
cat >>$DIR/lobby.conf <<CONF

config admin 'admin'
	option enabled '1'
	option listen '192.0.2.1:8080'
CONF
show sh -c "echo 'demo password' | $LOBBY passwd -c $DIR/lobby.conf"
show grep -A3 "^config admin" $DIR/lobby.conf
kill -HUP "$(cat $DIR/lobby.pid)"
i=0
until grep -q "admin: serving" $DIR/lobby.log; do
	i=$((i + 1)); [ $i -lt 50 ] || { echo "the admin pages did not start:"; tail $DIR/lobby.log; exit 1; }
	sleep 0.1
done

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
kill -TERM "$(cat $DIR/lobby.pid)"; sleep 1
show sh -c "$R nft list tables"
show tail -n 2 $DIR/lobby.log

say "that was the demo; on a router the admin pages are at http://LAN-ADDRESS:8080/"
echo "  see docs/openwrt.md (Admin pages and metrics) and docs/appliance.md; the pages: docs/admin/*.png"
