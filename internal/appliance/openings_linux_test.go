package appliance

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/lobby-fw/lobby/internal/config"
)

// The WAN side is opened to the DAS port for das_client (else the
// servers) only while RADIUS is in use.
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
				got = append(got, fmt.Sprintf("{%d %d %v}", o.proto, o.port, o.from))
			}
			if got := fmt.Sprint(got); got != tt.want {
				t.Errorf("openings %s, want %s", got, tt.want)
			}
		})
	}
}
