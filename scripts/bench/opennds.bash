# Sourced by the benchmarks that run openNDS (firewall.sh, shaper.sh): its
# files in WORK/nds, and its clean-up. The caller sets WORK, R (the router
# namespace), MAC1 and IP1 (the measured client).

# nds_prepare [OPENNDS-ARGS…] writes openNDS's config and WORK/nds/start.sh,
# which runs it in the foreground in R (inside `unshare -m`: it mounts a
# /tmp of its own) with the legacy iptables binaries first on its PATH.
nds_prepare() {
	local t s
	mkdir -p "$WORK/nds/bin"
	for t in iptables ip6tables; do
		for s in "" -save -restore; do ln -sf "$(command -v "$t-legacy$s")" "$WORK/nds/bin/$t$s"; done
	done
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
	# openNDS adds a client only if dnsmasq's lease file (/tmp/dhcp.leases)
	# lists it: the measured client gets a line in openNDS's own /tmp.
	cat >"$WORK/nds/start.sh" <<EOF
#!/bin/sh
set -e
mount -t tmpfs tmpfs /tmp
echo "\$((\$(date +%s) + 86400)) $MAC1 $IP1 c1 *" >/tmp/dhcp.leases
export PATH=$WORK/nds/bin:\$PATH
cd $WORK/nds
exec ip netns exec $R opennds -f -d 1 -c $WORK/nds/opennds.conf $*
EOF
	chmod +x "$WORK/nds/start.sh"
}

# nds_flush removes every legacy iptables rule and chain of the router
# namespace: what openNDS left behind, which a new openNDS would refuse.
nds_flush() {
	local t
	for t in raw mangle nat filter; do
		timeout 60 ip netns exec "$R" iptables-legacy -t "$t" -F 2>/dev/null || true
		timeout 60 ip netns exec "$R" iptables-legacy -t "$t" -X 2>/dev/null || true
	done
}
