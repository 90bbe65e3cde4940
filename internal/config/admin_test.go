package config

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/lobby-fw/lobby/internal/uci"
)

func TestAdminSection(t *testing.T) {
	lan := []netip.Prefix{netip.MustParsePrefix("10.77.0.1/24"), netip.MustParsePrefix("10.77.0.9/24")}
	for _, tc := range []struct {
		name, admin string
		problem     string // in Parse or Bind; "" = none
	}{
		{"off by default", "", ""},
		{"on the WAN side", "option enabled '1'\n\toption listen '192.0.2.1:8080'", ""},
		{"off, listen anywhere", "option enabled '0'\n\toption listen '10.77.0.1:8080'", ""},
		{"on the portal address", "option enabled '1'\n\toption listen '10.77.0.1:8080'", "is on interface br-lan"},
		{"on another address of the interface", "option enabled '1'\n\toption listen '10.77.0.9:8080'", "is on interface br-lan"},
		{"on every address", "option enabled '1'\n\toption listen '0.0.0.0:8080'", "is on interface br-lan"},
		{"on the portal's port elsewhere", "option enabled '1'\n\toption listen '192.0.2.1:2050'", "one the guests use"},
		{"on the relay's port", "option enabled '1'\n\toption listen '192.0.2.1:2052'", "one the guests use"},
		{"without listen", "option enabled '1'", "without option listen"},
		{"no port", "option listen '192.0.2.1'", "want ADDRESS:PORT"},
		{"bad flag", "option metrics 'maybe'", "want 1 or 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := "config lobby 'main'\n\toption interface 'br-lan'\nconfig admin 'admin'\n\t" + tc.admin + "\n"
			f, err := uci.Parse("lobby", strings.NewReader(text))
			if err != nil {
				t.Fatal(err)
			}
			c, ps := Parse(f)
			var all []string
			for _, p := range ps {
				all = append(all, p.Error())
			}
			if len(ps) == 0 {
				if err := c.Bind(lan); err != nil {
					all = append(all, err.Error())
				}
			}
			got := strings.Join(all, "\n")
			if (tc.problem == "") != (got == "") || !strings.Contains(got, tc.problem) {
				t.Fatalf("problems %q, want %q", got, tc.problem)
			}
			if got == "" && tc.admin == "" && (c.Admin.Enabled || !c.Admin.Metrics || c.Admin.MetricsOpen) {
				t.Errorf("defaults: %+v", c.Admin)
			}
		})
	}
}
