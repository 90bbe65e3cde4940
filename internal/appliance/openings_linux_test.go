package appliance

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/lobby-fw/lobby/internal/config"
)

const (
	wan  = "config interface 'wan'\n\toption device 'eth1'\n\toption proto 'static'\n\toption ipaddr '192.0.2.1'\n\toption netmask '255.255.255.0'\n\toption gateway '192.0.2.254'\n\n"
	mgmt = "config interface 'mgmt'\n\toption device 'eth2'\n\toption proto 'static'\n\toption ipaddr '192.168.88.1'\n\toption netmask '255.255.255.0'\n\n"
)

// The WAN side is opened to the DAS port for das_client (else the
// servers) only while RADIUS is in use, and to the admin pages when their
// listen address is on the WAN side.
func TestWANOpenings(t *testing.T) {
	for _, tt := range []struct {
		name, radius string
		want         string
	}{
		{"no radius", "", "[]"},
		{"radius unused", "config radius\n\tlist server '192.0.2.10'\n\toption secret 's'\n", "[]"},
		{"servers", "config radius\n\tlist server '192.0.2.10'\n\tlist server '[2001:db8::10]:1645'\n\toption secret 's'\n\toption mac_auth '1'\n",
			"[{17 3799 [192.0.2.10/32 2001:db8::10/128]}]"},
		{"das_client", "config radius\n\tlist server '192.0.2.10'\n\toption secret 's'\n\tlist das_client '198.51.100.7'\n\toption das_port '1700'\n\toption mac_auth '1'\n",
			"[{17 1700 [198.51.100.7/32]}]"},
		{"das off", "config radius\n\tlist server '192.0.2.10'\n\toption secret 's'\n\toption das_port '0'\n\toption mac_auth '1'\n", "[]"},
		{"admin on the WAN address", wan + "config admin\n\toption enabled '1'\n\toption listen '192.0.2.1:8080'\n", "[{6 8080 [] 192.0.2.1}]"},
		{"admin on a DHCP WAN's address", "config interface 'wan'\n\toption device 'eth1'\n\toption proto 'dhcp'\n\nconfig admin\n\toption enabled '1'\n\toption listen '198.51.100.20:8443'\n", "[{6 8443 [] 198.51.100.20}]"},
		{"admin on a management port", wan + mgmt + "config admin\n\toption enabled '1'\n\toption listen '192.168.88.1:8080'\n", "[]"},
		{"admin off", wan + "config admin\n\toption enabled '0'\n\toption listen '192.0.2.1:8080'\n", "[]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "lobby")
			text := "config lobby 'main'\n\toption interface 'br-lan'\n\n" + tt.radius
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			c, problems, err := config.Load(path)
			if errs, _ := problems.Split(); err != nil || len(errs) > 0 {
				t.Fatalf("%v %v", err, errs)
			}
			var got []string
			for _, o := range wanOpenings(c) {
				s := fmt.Sprintf("{%d %d %v}", o.proto, o.port, o.from)
				if o.to.IsValid() {
					s = fmt.Sprintf("{%d %d %v %v}", o.proto, o.port, o.from, o.to)
				}
				got = append(got, s)
			}
			if got := fmt.Sprint(got); got != tt.want {
				t.Errorf("openings %s, want %s", got, tt.want)
			}
		})
	}
}
