package main

import (
	"bytes"
	"strings"
	"testing"
)

// lobby check's RADIUS line: what config radius does when it is in use,
// and the warning of require_message_authenticator '0'.
func TestDescribeRADIUS(t *testing.T) {
	const lobby = "config lobby 'main'\n\toption interface 'br-lan'\n"
	const radius = "config radius 'radius'\n\tlist server '192.0.2.10'\n\toption secret 's'\n\toption nas_identifier 'cafe'\n"
	for _, tt := range []struct {
		name, text string
		want, not  []string
	}{
		{"none", lobby, nil, []string{"RADIUS"}},
		{"unused", lobby + radius, []string{"config radius is unused"}, []string{"warning"}},
		{"method", lobby + "\tlist auth 'radius'\n" + radius,
			[]string{`RADIUS: servers 192.0.2.10:1812 (timeout 3s, 2 retries), NAS-Identifier "cafe"; MAC authentication off; accounting port 1813, interim 10m; Dynamic Authorization UDP port 3799 from 192.0.2.10`},
			[]string{"warning"}},
		{"mac auth, no accounting, unsigned", lobby + radius + "\toption mac_auth '1'\n\toption acct_port '0'\n\toption das_port '0'\n\toption require_message_authenticator '0'\n",
			[]string{"MAC authentication on; accounting off; Dynamic Authorization off", "warning: config radius: require_message_authenticator '0'"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			describeRADIUS(parseBound(t, tt.text), &b)
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("lacks %q:\n%s", w, b.String())
				}
			}
			for _, n := range tt.not {
				if strings.Contains(b.String(), n) {
					t.Errorf("has %q:\n%s", n, b.String())
				}
			}
		})
	}
}
