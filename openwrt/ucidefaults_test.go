package openwrt_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runDefaults runs the uci-defaults script the way OpenWrt does (sourced
// in a subshell, from /etc/uci-defaults), with /etc/lobby/site replaced by
// site when it is not "".
func runDefaults(t *testing.T, tr *uciTree, site string) {
	t.Helper()
	script, err := os.ReadFile(filepath.Join(files(t), "lobby.defaults"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sitePath := filepath.Join(dir, "site")
	if site != "" {
		if err := os.WriteFile(sitePath, []byte(site), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text := strings.ReplaceAll(string(script), "/etc/lobby/site", sitePath)
	if strings.Contains(text, "/etc/config") {
		t.Fatal("lobby.defaults reads /etc/config directly; it must go through uci")
	}
	path := filepath.Join(dir, "90-lobby")
	if err := os.WriteFile(path, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	sh := shell(t)
	cmd := exec.Command(sh[0], append(sh[1:], "-c", `( . "$1" ) && echo removed`, "sh", path)...)
	cmd.Dir = dir
	cmd.Env = tr.env()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasSuffix(string(out), "removed\n") {
		t.Fatalf("uci-defaults script failed (OpenWrt would run it again at every boot): %v\n%s", err, out)
	}
	if strings.TrimSuffix(string(out), "removed\n") != "" {
		t.Logf("uci-defaults output:\n%s", out)
	}
	if entries, _ := os.ReadDir(tr.save); len(entries) > 0 {
		t.Errorf("uci-defaults left uncommitted changes to %v", entries)
	}
}

// writes are the uci calls that change something.
func writes(calls []string) []string {
	var w []string
	for _, c := range calls {
		c = strings.TrimPrefix(c, "-q ")
		if strings.HasPrefix(c, "set ") || strings.HasPrefix(c, "add_list ") || strings.HasPrefix(c, "commit") {
			w = append(w, c)
		}
	}
	return w
}

func TestUCIDefaultsFreshRouter(t *testing.T) {
	tr := newUCITree(t, "network", "firewall", "dhcp", "wireless", "lobby")
	before := tr.snapshot()
	runDefaults(t, tr, "")
	if len(writes(tr.calls())) == 0 {
		t.Fatal("the script changed nothing")
	}

	network := tr.parse("network")
	dev := named(network, "guest_dev")
	if dev == nil || dev.Type != "device" || dev.Option("type").String() != "bridge" ||
		dev.Option("name").String() != "br-guest" || dev.Option("bridge_empty").String() != "1" {
		t.Errorf("network.guest_dev: want an always-up bridge br-guest, got %+v", dev)
	}
	guest := named(network, "guest")
	if guest == nil || guest.Type != "interface" || guest.Option("proto").String() != "static" ||
		guest.Option("device").String() != "br-guest" || guest.Option("ipaddr").String() != "10.77.0.1" ||
		guest.Option("netmask").String() != "255.255.255.0" {
		t.Errorf("network.guest: want static 10.77.0.1/24 on br-guest, got %+v", guest)
	}
	if guest != nil && guest.Option("ip6assign") != nil {
		t.Error("network.guest has an IPv6 prefix: a way round the portal")
	}
	if lan := named(network, "lan"); lan.Option("ipaddr").String() != "192.168.1.1" {
		t.Error("network.lan was changed")
	}

	firewall := tr.parse("firewall")
	zone := find(firewall, "zone", "name=guest")
	if zone == nil || zone.Option("input").String() != "REJECT" || zone.Option("forward").String() != "REJECT" ||
		zone.Option("output").String() != "ACCEPT" || !zone.Option("network").List || zone.Option("network").String() != "guest" {
		t.Errorf("firewall zone guest: want network guest, input and forward REJECT, got %+v", zone)
	}
	var fwd []string
	for _, s := range firewall.Sections {
		if s.Type == "forwarding" && s.Option("src").String() == "guest" {
			fwd = append(fwd, s.Option("dest").String())
		}
	}
	if strings.Join(fwd, ",") != "wan" {
		t.Errorf("guest forwards to %v, want wan only", fwd)
	}
	for _, want := range []struct{ proto, port string }{{"udp", "67"}, {"tcp udp", "53 2053"}, {"tcp", "2050 8443 2051 2052"}} {
		r := find(firewall, "rule", "src=guest", "proto="+want.proto, "dest_port="+want.port, "target=ACCEPT")
		if r == nil {
			t.Errorf("no rule accepting %s %s from guest", want.proto, want.port)
		} else if r.Option("dest") != nil {
			t.Errorf("rule %+v forwards instead of accepting input", r)
		}
	}
	if n := len(find(firewall, "zone", "name=lan").Option("network").Values); n != 1 {
		t.Errorf("zone lan now has %d networks", n)
	}

	dhcp := tr.parse("dhcp")
	g := named(dhcp, "guest")
	if g == nil || g.Option("interface").String() != "guest" || g.Option("ignore").String() != "1" ||
		g.Option("dhcpv6").String() != "disabled" || g.Option("ra").String() != "disabled" {
		t.Errorf("dhcp.guest: want ignore 1, no DHCPv6 or RA, got %+v", g)
	}
	dm := find(dhcp, "dnsmasq")
	if o := dm.Option("notinterface"); o == nil || !o.List || o.String() != "guest" {
		t.Errorf("dnsmasq notinterface = %+v, want list [guest]", o)
	}
	if dm.Option("nonwildcard").String() != "1" {
		t.Error("dnsmasq lost nonwildcard")
	}

	wireless := tr.parse("wireless")
	for _, radio := range []string{"radio0", "radio1"} {
		s := named(wireless, "guest_"+radio)
		if s == nil || s.Type != "wifi-iface" || s.Option("device").String() != radio || s.Option("network").String() != "guest" ||
			s.Option("mode").String() != "ap" || s.Option("ssid").String() != "Guest" ||
			s.Option("encryption").String() != "none" || s.Option("isolate").String() != "1" {
			t.Errorf("wireless.guest_%s: want an open isolated AP on guest, got %+v", radio, s)
		}
		if named(wireless, radio).Option("disabled").String() != "1" {
			t.Errorf("%s was switched on", radio)
		}
	}
	if n := len(wireless.Sections); n != 6 {
		t.Errorf("wireless has %d sections, want 2 radios, 2 default and 2 guest interfaces", n)
	}

	lobby := tr.parse("lobby")
	if got := named(lobby, "main").Option("interface").String(); got != "br-guest" {
		t.Errorf("lobby interface %q, want br-guest", got)
	}

	// Everything the script wrote is visible through uci, as LuCI reads it.
	out, err := tr.uci("show", "firewall")
	if err != nil || !strings.Contains(out, "firewall.guest=zone\n") || !strings.Contains(out, "firewall.guest.network='guest'\n") {
		t.Errorf("uci show firewall:\n%s", out)
	}

	// A second run (every upgrade reinstalls the script) changes nothing.
	after := tr.snapshot()
	runDefaults(t, tr, "")
	if w := writes(tr.calls()); len(w) > 0 {
		t.Errorf("second run wrote: %v", w)
	}
	for name, text := range tr.snapshot() {
		if text != after[name] {
			t.Errorf("second run changed %s", name)
		}
	}
	if before["lobby"] != after["lobby"] {
		t.Error("the shipped lobby config already points at br-guest, yet it was rewritten")
	}
}

func TestUCIDefaultsSiteAndNoRadio(t *testing.T) {
	// An x86 box: no wireless config at all; the site file of `make
	// firmware` picks the SSID and subnet.
	tr := newUCITree(t, "network", "firewall", "dhcp", "lobby")
	runDefaults(t, tr, "GUEST_SSID='Café '\\''Le Zinc'\\'''\nGUEST_IPADDR='172.20.0.1'\nGUEST_NETMASK='255.255.0.0'\n")
	guest := named(tr.parse("network"), "guest")
	if guest.Option("ipaddr").String() != "172.20.0.1" || guest.Option("netmask").String() != "255.255.0.0" {
		t.Errorf("site file ignored: %+v", guest)
	}
	if _, err := os.Stat(filepath.Join(tr.dir, "wireless")); err == nil {
		t.Error("a wireless config appeared on a box without radios")
	}

	tr = newUCITree(t, "network", "wireless", "lobby")
	tr.write("wireless", "config wifi-device 'radio0'\n\toption type 'mac80211'\n")
	runDefaults(t, tr, "GUEST_SSID='Café '\\''Le Zinc'\\'''\n")
	if got := named(tr.parse("wireless"), "guest_radio0").Option("ssid").String(); got != "Café 'Le Zinc'" {
		t.Errorf("ssid %q", got)
	}
}

func TestUCIDefaultsExistingGuestNetwork(t *testing.T) {
	// A router set up with OpenWrt's guest WLAN guide: its network.guest
	// is on another bridge, dnsmasq serves DHCP on it, its zone and
	// forwarding exist. The operator's sections stay; only dnsmasq's DHCP
	// there is switched off, and lobby follows the guest bridge.
	tr := newUCITree(t, "network", "firewall", "dhcp", "lobby")
	add := func(config, text string) {
		b, _ := os.ReadFile(filepath.Join(tr.dir, config))
		tr.write(config, string(b)+text)
	}
	add("network", "\nconfig device\n\toption type 'bridge'\n\toption name 'br-visitors'\n\nconfig interface 'guest'\n\toption proto 'static'\n\toption device 'br-visitors'\n\toption ipaddr '192.168.3.1/24'\n")
	add("dhcp", "\nconfig dhcp 'guest'\n\toption interface 'guest'\n\toption start '100'\n\toption limit '150'\n\toption leasetime '1h'\n")
	add("firewall", "\nconfig zone\n\toption name 'guest'\n\toption network 'guest'\n\toption input 'REJECT'\n\toption output 'ACCEPT'\n\toption forward 'REJECT'\n\nconfig forwarding\n\toption src 'guest'\n\toption dest 'wan'\n"+
		// As an older lobby wrote it, before the DNS redirect's port+3.
		"\nconfig rule 'guest_dns'\n\toption name 'Allow-Guest-DNS'\n\toption src 'guest'\n\toption proto 'tcp udp'\n\toption dest_port '53'\n\toption target 'ACCEPT'\n")
	before := tr.snapshot()
	runDefaults(t, tr, "")

	if tr.snapshot()["network"] != before["network"] {
		t.Error("the network config was changed although it has a guest network")
	}
	guest := named(tr.parse("network"), "guest")
	if guest.Option("ipaddr").String() != "192.168.3.1/24" || guest.Option("device").String() != "br-visitors" {
		t.Errorf("operator's guest network changed: %+v", guest)
	}
	g := named(tr.parse("dhcp"), "guest")
	if g.Option("ignore").String() != "1" || g.Option("leasetime").String() != "1h" {
		t.Errorf("dhcp.guest: want ignore 1 added to the operator's section, got %+v", g)
	}
	firewall := tr.parse("firewall")
	zones, fwds := 0, 0
	for _, s := range firewall.Sections {
		if s.Type == "zone" && s.Option("name").String() == "guest" {
			zones++
		}
		if s.Type == "forwarding" && s.Option("src").String() == "guest" {
			fwds++
		}
	}
	if zones != 1 || fwds != 1 {
		t.Errorf("%d guest zones and %d guest forwardings, want 1 and 1", zones, fwds)
	}
	if named(firewall, "guest_portal") == nil {
		t.Error("the portal rule is missing")
	}
	if got := named(firewall, "guest_dns").Option("dest_port").String(); got != "53 2053" {
		t.Errorf("the older DNS rule's dest_port is %q, want 53 2053", got)
	}
	if got := named(tr.parse("lobby"), "main").Option("interface").String(); got != "br-visitors" {
		t.Errorf("lobby interface %q, want the guest network's br-visitors", got)
	}

	// An operator's own interface for lobby is never overwritten.
	tr.write("lobby", "config lobby 'main'\n\toption interface 'br-lan'\n")
	runDefaults(t, tr, "")
	if got := named(tr.parse("lobby"), "main").Option("interface").String(); got != "br-lan" {
		t.Errorf("lobby interface %q, want the operator's br-lan", got)
	}
}

func TestUCIDefaultsNoNetworkConfig(t *testing.T) {
	// Without /etc/config/network nothing can be set up; the script says
	// so and still ends cleanly (a failing script would rerun every boot).
	tr := newUCITree(t, "firewall", "lobby")
	runDefaults(t, tr, "")
	if w := writes(tr.calls()); len(w) > 0 {
		t.Errorf("wrote without a network config: %v", w)
	}
}

func TestUCIDefaultsSyntax(t *testing.T) {
	for _, f := range []string{"lobby.defaults", "lobby.init"} {
		for _, sh := range [][]string{shell(t), {"/bin/sh"}} {
			out, err := exec.Command(sh[0], append(sh[1:], "-n", filepath.Join(files(t), f))...).CombinedOutput()
			if err != nil {
				t.Errorf("%v -n %s: %v\n%s", sh, f, err, out)
			}
		}
	}
}

// TestUCIDefaultsAdmin: the admin pages are shipped off, on the router's
// LAN address (port 8080), never on the guest network's; an operator's own
// listen stays, and an older config without config admin gets one.
func TestUCIDefaultsAdmin(t *testing.T) {
	for _, tc := range []struct {
		name, lan   string // network.lan's ipaddr line; "" keeps testdata's
		admin       string // config admin in the lobby config; "-": none; "": the shipped one
		listen      string
		wantChanged bool
	}{
		{name: "shipped, LAN 192.168.1.1", listen: "192.168.1.1:8080"},
		{name: "LAN elsewhere", lan: "\toption ipaddr '10.20.0.1'", listen: "10.20.0.1:8080", wantChanged: true},
		{name: "LAN as a list with prefix", lan: "\tlist ipaddr '172.16.5.1/24'\n\tlist ipaddr '172.16.6.1/24'", listen: "172.16.5.1:8080", wantChanged: true},
		{name: "operator's listen", lan: "\toption ipaddr '10.20.0.1'", admin: "config admin 'admin'\n\toption enabled '1'\n\toption listen '10.20.0.1:9000'\n", listen: "10.20.0.1:9000"},
		{name: "older config without admin", admin: "-", listen: "192.168.1.1:8080", wantChanged: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newUCITree(t, "network", "firewall", "dhcp", "lobby")
			if tc.lan != "" {
				net := tr.snapshot()["network"]
				net = strings.Replace(net, "\toption ipaddr '192.168.1.1'", tc.lan, 1)
				tr.write("network", net)
			}
			if tc.admin != "" {
				conf := tr.snapshot()["lobby"]
				conf = conf[:strings.Index(conf, "\n# The admin pages")+1]
				if tc.admin != "-" {
					conf += "\n" + tc.admin
				}
				tr.write("lobby", conf)
			}
			before := tr.snapshot()["lobby"]
			runDefaults(t, tr, "")
			admin := named(tr.parse("lobby"), "admin")
			if admin == nil || admin.Type != "admin" || admin.Option("listen").String() != tc.listen {
				t.Fatalf("config admin: %+v, want listen %s", admin, tc.listen)
			}
			if tc.admin == "" || tc.admin == "-" {
				if admin.Option("enabled").String() != "0" {
					t.Errorf("the admin pages are on before a password is set: %+v", admin)
				}
			}
			if changed := tr.snapshot()["lobby"] != before; changed != tc.wantChanged {
				t.Errorf("lobby config changed: %v, want %v", changed, tc.wantChanged)
			}
		})
	}
}
