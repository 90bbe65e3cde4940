package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"net/netip"

	"github.com/lobby-fw/lobby/internal/config"
	"github.com/lobby-fw/lobby/internal/uci"
)

// reloadBase sets every section, with TLS on, so that each option's example
// differs from what the base has.
const reloadBase = `config lobby 'main'
	option interface 'br-lan'
	option tls_cert '$DIR/a.crt'
	option tls_key '$DIR/a.key'
config dhcp 'dhcp'
config host
	option mac '02:00:00:00:00:10'
	option ip '10.77.0.10'
	option name 'printer'
config dns 'dns'
config click 'click'
config voucher 'voucher'
config admin 'admin'
	option listen '192.0.2.1:8080'
config radius 'radius'
	list server '198.51.100.9'
	option secret 'testing123'
config interface 'lan'
	option device 'eth0'
	option ipaddr '10.77.0.1'
	option netmask '255.255.255.0'
`

// TestReloadReachesEveryOption is driven by the decoder's own table: for
// every option, a config with the option set to its example must derive
// something else for some subsystem than the base config does (so a reload,
// which hands every subsystem its new part, carries the change), unless the
// option is marked restart — and then Pin must name it and keep the
// running value. An option added to the decoder without a way into a
// subsystem fails here.
func TestReloadReachesEveryOption(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.crt", "a.key", "b.crt", "b.key"} {
		os.WriteFile(filepath.Join(dir, f), nil, 0o600)
	}
	os.Mkdir(filepath.Join(dir, "pages"), 0o755)
	base := parseBound(t, strings.ReplaceAll(reloadBase, "$DIR", dir))
	want := derive(base)
	for _, o := range config.Options() {
		t.Run(o.Key(), func(t *testing.T) {
			if o.Example == "" {
				if o.Restart {
					return
				}
				t.Fatal("no example value in the decoder's table")
			}
			if o.Restart {
				return // below
			}
			next := parseBound(t, withOption(t, strings.ReplaceAll(reloadBase, "$DIR", dir), o.Section, o.Name, strings.ReplaceAll(o.Example, "$DIR", dir)))
			if names := config.Pin(next, base); len(names) > 0 {
				t.Fatalf("changing %s pinned %v", o.Key(), names)
			}
			if reflect.DeepEqual(derive(next), want) {
				t.Errorf("option %s = %q reaches no subsystem's Config: a reload would drop it (fill its field in derive, or mark it restart in internal/config)", o.Key(), o.Example)
			}
		})
	}
}

// Every option marked restart is named by Pin when it changes, and the
// running value stays.
func TestPinRestartOptions(t *testing.T) {
	base := parseBound(t, "config lobby 'main'\n\toption interface 'br-lan'\n")
	for _, tc := range []struct{ option, value, name string }{
		{"address", "10.77.0.2", "lobby.address"},
		{"port", "3050", "lobby.port"},
		{"state_dir", "/var/lobby", "lobby.state_dir"},
		{"socket", "/var/run/other.sock", "lobby.socket"},
		{"firewall", "iptables", "lobby.firewall"},
		{"interface", "br-guest", "lobby.interface"},
	} {
		next := parseBound(t, "config lobby 'main'\n\toption interface 'br-lan'\n\toption "+tc.option+" '"+tc.value+"'\n\toption hostname 'other.lan'\n")
		got := config.Pin(next, base)
		if len(got) != 1 || got[0] != tc.name {
			t.Errorf("%s changed: Pin named %v, want [%s]", tc.option, got, tc.name)
		}
		if !reflect.DeepEqual(derive(next).Firewall, derive(base).Firewall) || next.Main.StateDir != base.Main.StateDir || next.Main.Socket != base.Main.Socket {
			t.Errorf("%s changed: the running value did not stay", tc.option)
		}
		if next.Main.Hostname != "other.lan" {
			t.Errorf("%s changed: Pin undid a reloadable option", tc.option)
		}
	}
	var marked []string
	for _, o := range config.Options() {
		if o.Restart && o.Section == "lobby" {
			marked = append(marked, o.Name)
		}
	}
	// SPEC §5 names these six and no others.
	if got := strings.Join(marked, " "); got != "interface address port state_dir socket firewall" {
		t.Errorf("restart options of config lobby: %s", got)
	}
}

// The portal's URLs are one value in every subsystem that carries them.
func TestOneSetOfURLs(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.crt", "a.key"} {
		os.WriteFile(filepath.Join(dir, f), nil, 0o600)
	}
	g := derive(parseBound(t, "config lobby 'main'\n\toption interface 'br-lan'\n\toption hostname 'Guest.Example'\n\toption tls_port '9443'\n"+
		"\toption tls_cert '"+dir+"/a.crt'\n\toption tls_key '"+dir+"/a.key'\n"))
	if g.URLs.API != "https://guest.example:9443/api/captive" || g.DHCP.CaptiveURL != g.URLs.API {
		t.Errorf("API %q, option 114 %q", g.URLs.API, g.DHCP.CaptiveURL)
	}
	if g.Responder.Redirect != "http://10.77.0.1:2050/?redir=" || !reflect.DeepEqual(g.Portal.URLs, g.URLs) {
		t.Errorf("redirect %q, portal %+v", g.Responder.Redirect, g.Portal.URLs)
	}
}

func parseBound(t *testing.T, text string) *config.Config {
	t.Helper()
	f, err := uci.Parse("lobby", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	c, ps := config.Parse(f)
	if len(ps) > 0 {
		t.Fatalf("%v\n%s", ps, text)
	}
	if err := c.Bind([]netip.Prefix{netip.MustParsePrefix("10.77.0.1/24"), netip.MustParsePrefix("10.77.0.2/24")}); err != nil {
		t.Fatal(err)
	}
	return c
}

// withOption sets option name of the first section of type typ to value,
// replacing it.
func withOption(t *testing.T, text, typ, name, value string) string {
	t.Helper()
	var out []string
	in, done := false, false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "config ") {
			if in && !done {
				out = append(out, "\toption "+name+" '"+value+"'")
				done = true
			}
			in = strings.HasPrefix(line, "config "+typ+" ") || line == "config "+typ
		}
		if in && !done && strings.HasPrefix(line, "\toption "+name+" ") {
			continue // replaced below
		}
		if line == "" && in && !done {
			out = append(out, "\toption "+name+" '"+value+"'")
			done = true
		}
		out = append(out, line)
	}
	if !done {
		t.Fatalf("no section %s", typ)
	}
	return strings.Join(out, "\n")
}
