package appliance

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lobby-fw/lobby/internal/config"
)

func load(t *testing.T, text string) *config.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lobby")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPlanLinks(t *testing.T) {
	for _, tc := range []struct {
		name string
		conf string
		want []Link
		err  string // substring; "" for none
	}{
		{
			name: "the image's default: one LAN port, WAN by DHCP",
			conf: `
config lobby 'main'
	option interface 'eth0'
config interface 'lan'
	option device 'eth0'
	option proto 'static'
	option ipaddr '10.77.0.1'
	option netmask '255.255.255.0'
config interface 'wan'
	option device 'eth1'
	option proto 'dhcp'
`,
			want: []Link{
				{Section: "lan", Name: "eth0", Proto: "static", Prefix: netip.MustParsePrefix("10.77.0.1/24"), LAN: true},
				{Section: "wan", Name: "eth1", Proto: "dhcp", Uplink: true},
			},
		},
		{
			name: "several LAN ports are bridged as br-lan; static WAN",
			conf: `
config lobby 'main'
	option interface 'br-lan'
config interface 'lan'
	list device 'eth1'
	list device 'eth2'
	option proto 'static'
	option ipaddr '192.168.8.1'
	option netmask '255.255.252.0'
config interface 'wan'
	option device 'eth0'
	option proto 'static'
	option ipaddr '203.0.113.7'
	option netmask '255.255.255.248'
	option gateway '203.0.113.1'
	list dns '203.0.113.53'
`,
			want: []Link{
				{Section: "lan", Name: "br-lan", Ports: []string{"eth1", "eth2"}, Proto: "static", Prefix: netip.MustParsePrefix("192.168.8.1/22"), LAN: true},
				{Section: "wan", Name: "eth0", Proto: "static", Prefix: netip.MustParsePrefix("203.0.113.7/29"),
					Gateway: netip.MustParseAddr("203.0.113.1"), DNS: []netip.Addr{netip.MustParseAddr("203.0.113.53")}, Uplink: true},
			},
		},
		{
			name: "a static interface without a gateway is no uplink",
			conf: `
config lobby 'main'
	option interface 'eth0'
config interface 'lan'
	option device 'eth0'
	option ipaddr '10.0.0.1'
	option netmask '255.255.255.0'
config interface 'mgmt'
	option device 'eth2'
	option ipaddr '172.16.0.2'
	option netmask '255.255.0.0'
`,
			want: []Link{
				{Section: "lan", Name: "eth0", Proto: "static", Prefix: netip.MustParsePrefix("10.0.0.1/24"), LAN: true},
				{Section: "mgmt", Name: "eth2", Proto: "static", Prefix: netip.MustParsePrefix("172.16.0.2/16")},
			},
		},
		{
			name: "the LAN must be static",
			conf: `
config lobby 'main'
	option interface 'eth0'
config interface 'lan'
	option device 'eth0'
	option proto 'dhcp'
`,
			err: "needs proto static",
		},
		{
			name: "option interface must be one of them",
			conf: `
config lobby 'main'
	option interface 'br-lan'
config interface 'lan'
	option device 'eth0'
	option ipaddr '10.0.0.1'
	option netmask '255.255.255.0'
`,
			err: "made by no 'config interface' section (they make eth0)",
		},
		{
			name: "a port in two interfaces",
			conf: `
config lobby 'main'
	option interface 'br-lan'
config interface 'lan'
	option device 'eth0 eth1'
	option ipaddr '10.0.0.1'
	option netmask '255.255.255.0'
config interface 'wan'
	option device 'eth1'
	option proto 'dhcp'
`,
			err: `device eth1 is already used by interface "lan"`,
		},
		{
			name: "a netmask with holes",
			conf: `
config lobby 'main'
	option interface 'eth0'
config interface 'lan'
	option device 'eth0'
	option ipaddr '10.0.0.1'
	option netmask '255.0.255.0'
`,
			err: "not a contiguous mask",
		},
		{
			name: "a gateway outside the subnet",
			conf: `
config lobby 'main'
	option interface 'eth0'
config interface 'lan'
	option device 'eth0'
	option ipaddr '10.0.0.1'
	option netmask '255.255.255.0'
config interface 'wan'
	option device 'eth1'
	option ipaddr '192.0.2.2'
	option netmask '255.255.255.0'
	option gateway '198.51.100.1'
`,
			err: "gateway 198.51.100.1 is not inside 192.0.2.0/24",
		},
		{
			name: "a bridge name longer than IFNAMSIZ",
			conf: `
config lobby 'main'
	option interface 'br-guestnetwork1'
config interface 'guestnetwork1'
	option device 'eth0 eth1'
	option ipaddr '10.0.0.1'
	option netmask '255.255.255.0'
`,
			err: `"br-guestnetwork1" is not a valid interface name`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			links, err := PlanLinks(load(t, tc.conf))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want it to say %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(links, tc.want) {
				t.Fatalf("links:\n got %+v\nwant %+v", links, tc.want)
			}
		})
	}
}

func TestPlanLinksNone(t *testing.T) {
	// Outside the appliance image there are no interface sections, and no
	// complaint about option interface.
	links, err := PlanLinks(load(t, "config lobby 'main'\n\toption interface 'br-lan'\n"))
	if err != nil || len(links) != 0 {
		t.Fatalf("links %v, err %v", links, err)
	}
}

func TestMaskBits(t *testing.T) {
	for m, want := range map[string]int{"255.255.255.0": 24, "255.255.255.255": 32, "0.0.0.0": 0, "255.128.0.0": 9, "255.255.255.254": 31} {
		if n, ok := maskBits(netip.MustParseAddr(m)); !ok || n != want {
			t.Errorf("maskBits(%s) = %d, %v; want %d", m, n, ok, want)
		}
	}
	for _, m := range []string{"255.0.255.0", "0.255.255.255", "255.255.255.1", "::ffff:255.255.255.0"} {
		if _, ok := maskBits(netip.MustParseAddr(m)); ok {
			t.Errorf("maskBits(%s) accepted", m)
		}
	}
}

func TestKernelParams(t *testing.T) {
	got := kernelParams(`BOOT_IMAGE=/vmlinuz console=ttyS0,115200 lobby.state=LABEL=lobby-state quiet lobby.x="a b" "lobby.y=c d" lobbyz=1` + "\n")
	want := map[string]string{"lobby.state": "LABEL=lobby-state", "lobby.x": "a b", "lobby.y": "c d"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
