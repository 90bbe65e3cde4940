package firewall

import "testing"

func TestXtablesVersion(t *testing.T) {
	for _, tt := range []struct {
		out  string
		want bool
	}{
		{"iptables v1.8.9 (nf_tables)\n", true},
		{"ip6tables-legacy v1.8.7 (legacy)", true},
		{"iptables v1.6.0", true},
		{"iptables v2.0.1", true},
		{"iptables v1.4.21", false},
		{"iptables v1.4.21 (legacy)", false},
		{"iptables version unknown", false},
		{"", false},
		{"iptables vX.Y", false},
	} {
		if got := xtablesVersionOK(tt.out); got != tt.want {
			t.Errorf("%q: %v, want %v", tt.out, got, tt.want)
		}
	}
}

func TestCounterSuffix(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"[3:180] -A LOBBY_MAC -m mac --mac-source 02:00:00:00:00:01", "-A LOBBY_MAC -m mac --mac-source 02:00:00:00:00:01 -c 3 180"},
		{"-A LOBBY_MAC -m mac --mac-source 02:00:00:00:00:01 -c 3 180", "-A LOBBY_MAC -m mac --mac-source 02:00:00:00:00:01 -c 3 180"},
		{"-N LOBBY_MAC", "-N LOBBY_MAC"},
		{"[weird] -A X", "[weird] -A X"},
		{"-A X -m comment --comment \"a] b\"", "-A X -m comment --comment \"a] b\""},
	} {
		if got := counterSuffix(tt.in); got != tt.want {
			t.Errorf("%q:\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}
