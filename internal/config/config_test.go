package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/uci"
)

func parse(t *testing.T, text string) (*Config, Problems) {
	t.Helper()
	f, err := uci.Parse("lobby", strings.NewReader(text))
	if err != nil {
		t.Fatalf("syntax: %v", err)
	}
	return Parse(f)
}

func TestDefaults(t *testing.T) {
	c, ps := parse(t, "config lobby 'main'\n\toption interface 'br-lan'\n")
	if len(ps) != 0 {
		t.Fatal(ps)
	}
	m := c.Main
	if m.Port != 2050 || m.Hostname != "portal.lan" || m.StateDir != "/tmp/lobby" || m.Socket != "/var/run/lobby.sock" ||
		m.Firewall != "auto" || !slices.Equal(m.Auth, []string{"click"}) || m.SessionTimeout != 24*time.Hour || m.IdleTimeout != time.Hour || m.TLSPort != 8443 {
		t.Errorf("main defaults: %+v", m)
	}
	if !c.DHCP.Enabled || c.DHCP.Start != 100 || c.DHCP.Limit != 150 || c.DHCP.LeaseTime != 12*time.Hour || c.DHCP.Domain != "lan" {
		t.Errorf("dhcp defaults: %+v", c.DHCP)
	}
	if !c.DNS.Enabled || c.DNS.CacheSize != 4096 || len(c.DNS.Upstream) != 0 {
		t.Errorf("dns defaults: %+v", c.DNS)
	}
}

// max_clients defaults to 4 × the DHCP pool, at least 1,024 (SPEC §4).
func TestMaxClients(t *testing.T) {
	for _, tt := range []struct {
		name, text string
		want       int
	}{
		{"default pool", "", 1024},
		{"empty is the default", "\toption max_clients ''\n", 1024},
		{"big pool", "config dhcp\n\toption limit '1000'\n", 4000},
		{"dhcp off", "config dhcp\n\toption enabled '0'\n\toption limit '1000'\n", 1024},
		{"set", "\toption max_clients '300'\n", 300},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, ps := parse(t, "config lobby 'main'\n\toption interface 'br-lan'\n"+tt.text)
			if len(ps) != 0 {
				t.Fatal(ps)
			}
			if c.Main.MaxClients != tt.want {
				t.Errorf("max_clients %d, want %d", c.Main.MaxClients, tt.want)
			}
		})
	}
	_, ps := parse(t, "config lobby 'main'\n\toption interface 'br-lan'\n\toption max_clients '0'\n")
	if len(ps) != 1 || !strings.Contains(ps[0].Error(), "option max_clients") {
		t.Errorf("max_clients 0: %v", ps)
	}
}

// The example of SPEC §2, verbatim, must be valid.
const specExample = `config lobby 'main'
	option interface 'br-lan'        # LAN side: where clients live (required)
	option address '10.77.0.1'       # portal IPv4; default: the interface's first IPv4
	option port '2050'               # portal web server port
	option hostname 'portal.lan'     # name that always resolves to the portal address
	option state_dir '/tmp/lobby'    # leases and sessions, kept across restarts
	option socket '/var/run/lobby.sock'
	option firewall 'auto'           # auto | nftables | iptables
	option auth 'click'              # click (accept the terms); more methods come later
	option session_timeout '24h'     # hard limit of a session; 0 = none
	option idle_timeout '1h'         # no traffic forwarded for a client this long: signed out; 0 = never
	option max_clients ''            # bound of the client table (section 4); default 4 × the DHCP pool, at least 1024
	option log_level 'info'
	list trusted_mac '02:00:00:00:00:aa'   # always let through, never shown the portal
	list blocked_mac '02:00:00:00:00:bb'   # never let through, not even after sign-in
	list allow_domain 'example.org'        # walled garden: reachable before sign-in (and subdomains)
	list allow_address '203.0.113.0/24'    # walled garden by address
	list probe_redirect 'detect.example.net/check'  # extra probes answered with 302 (section 3)

config dhcp 'dhcp'
	option enabled '1'
	option start '100'               # first host number of the pool (OpenWrt's meaning)
	option limit '150'               # pool size
	option leasetime '12h'
	option domain 'lan'

config host                          # static lease, like OpenWrt's /etc/config/dhcp
	option mac '02:00:00:00:00:10'
	option ip '10.77.0.10'
	option name 'printer'

config dns 'dns'
	option enabled '1'
	list upstream '198.51.100.53'    # default: the nameservers of /etc/resolv.conf
	option cache_size '4096'

config interface 'lan'
	option device 'eth0'
	option proto 'static'
	option ipaddr '10.77.0.1'
	option netmask '255.255.255.0'

config interface 'wan'
	option device 'eth1'
	option proto 'dhcp'
`

func TestSpecExample(t *testing.T) {
	c, ps := parse(t, specExample)
	if len(ps) != 0 {
		t.Fatal(ps)
	}
	if err := c.Bind([]netip.Prefix{netip.MustParsePrefix("fd77::1/64"), netip.MustParsePrefix("10.77.0.1/24")}); err != nil {
		t.Fatal(err)
	}
	first, last, _ := c.Pool()
	if first.String() != "10.77.0.100" || last.String() != "10.77.0.249" {
		t.Errorf("pool %v-%v", first, last)
	}
	if len(c.Hosts) != 1 || c.Hosts[0].IP.String() != "10.77.0.10" || c.Hosts[0].Name != "printer" {
		t.Errorf("hosts %+v", c.Hosts)
	}
	if len(c.DNS.Upstream) != 1 || c.DNS.Upstream[0].String() != "198.51.100.53:53" {
		t.Errorf("upstream %v", c.DNS.Upstream)
	}
	if len(c.Interfaces) != 2 || c.Interfaces[1].Proto != "dhcp" {
		t.Errorf("interfaces %+v", c.Interfaces)
	}
	if c.Main.AllowAddress[0].String() != "203.0.113.0/24" || c.Main.TrustedMAC[0].String() != "02:00:00:00:00:aa" {
		t.Errorf("lists %+v", c.Main)
	}
}

func TestProblems(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string // "LINE: substring", in order
	}{
		{"no lobby section", "config dhcp 'dhcp'\n", []string{"1: no 'config lobby'"}},
		{"no interface", "config lobby 'main'\n\toption port '80'\n", []string{"1: option interface is required"}},
		{"bad values", `config lobby 'main'
	option interface 'br-lan'
	option port '0'
	option address '10.77.0'
	option session_timeout '1w'
	option idle_timeout 'soon'
	option firewall 'pf'
	option log_level 'loud'
	option state_dir 'relative/dir'
	option hostname 'bad name'
	list trusted_mac '01:00:5e:00:00:01'
	list blocked_mac 'nope'
	list allow_address '203.0.113.1/24'
	list allow_domain '-bad-.org'
	list probe_redirect 'nopath'
`, []string{"3: option port", "4: option address", "5: option session_timeout", "6: option idle_timeout",
			"7: option firewall", "8: option log_level", "9: option state_dir", "10: option hostname",
			"11: trusted_mac", "12: blocked_mac", "13: allow_address", "14: allow_domain", "15: probe_redirect"}},
		{"unknown things", "config lobby 'main'\n\toption interface 'x'\n\toption colour 'red'\nconfig widget\n",
			[]string{"3: unknown option \"colour\"", "4: unknown section type"}},
		{"one value wanted", "config lobby 'main'\n\toption interface 'x'\n\tlist port '1'\n\tlist port '2'\n",
			[]string{"4: option port takes one value"}},
		{"duplicate section", "config lobby 'main'\n\toption interface 'x'\nconfig lobby 'other'\n\toption interface 'y'\n",
			[]string{"3: second 'config lobby'"}},
		{"hosts", `config lobby
	option interface 'x'
config host
	option mac '02:00:00:00:00:10'
	option ip '10.77.0.10'
config host
	option mac '02:00:00:00:00:10'
	option ip '10.77.0.10'
config host
	option name 'lonely'
`, []string{"6: MAC 02:00:00:00:00:10 already", "6: address 10.77.0.10 already", "9: static host without option mac", "9: static host without option ip"}},
		{"portal ports", "config lobby\n\toption interface 'x'\n\toption port '65533'\n",
			[]string{"1: port 65533 leaves no room"}},
		{"tls_port on the DNS redirect", "config lobby\n\toption interface 'x'\n\toption tls_cert '/dev/null'\n\toption tls_key '/dev/null'\n\toption tls_port '2053'\n",
			[]string{"1: tls_port 2053 is taken by the DNS redirect"}},
		{"dhcp", "config lobby\n\toption interface 'x'\nconfig dhcp\n\toption enabled 'maybe'\n\toption leasetime '30s'\n\toption limit '-1'\n",
			[]string{"4: option enabled", "5: option leasetime", "6: option limit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := parse(t, tt.text)
			if len(ps) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(tt.want), ps)
			}
			for i, w := range tt.want {
				line, msg, _ := strings.Cut(w, ": ")
				got := ps[i].Error()
				if !strings.HasPrefix(got, "lobby:"+line+": ") || !strings.Contains(got, msg) {
					t.Errorf("problem %d = %q, want lobby:%s: …%s…", i, got, line, msg)
				}
			}
		})
	}
}

func TestSplit(t *testing.T) {
	_, ps := parse(t, "config lobby\n\toption interface 'x'\n\toption colour 'red'\n\toption port 'x'\n")
	errs, unknown := ps.Split()
	if len(errs) != 1 || len(unknown) != 1 || !unknown[0].Unknown {
		t.Errorf("errs %v, unknown %v", errs, unknown)
	}
}

func TestBind(t *testing.T) {
	lan := []netip.Prefix{netip.MustParsePrefix("10.77.0.1/24")}
	tests := []struct {
		name, extra string
		prefixes    []netip.Prefix
		want        string // substring of the error; "" for none
		address     string
	}{
		{"default address", "", lan, "", "10.77.0.1"},
		{"explicit address", "\toption address '10.77.0.1'\n", lan, "", "10.77.0.1"},
		{"address not on interface", "\toption address '10.78.0.1'\n", lan, "lobby:3: option address 10.78.0.1 is not an address", ""},
		{"no IPv4", "", []netip.Prefix{netip.MustParsePrefix("fd77::1/64")}, "has no IPv4 address", ""},
		{"pool too big", "config dhcp\n\toption start '200'\n\toption limit '100'\n", lan, "lobby:3: pool 10.77.0.200-10.77.1.43", ""},
		{"pool reaches broadcast", "config dhcp\n\toption start '100'\n\toption limit '156'\n", lan, "is not inside", ""},
		{"pool fits a /16", "config dhcp\n\toption start '100'\n\toption limit '1000'\n", []netip.Prefix{netip.MustParsePrefix("10.77.0.1/16")}, "", "10.77.0.1"},
		{"static host outside", "config host\n\toption mac '02:00:00:00:00:10'\n\toption ip '10.78.0.10'\n", lan, "lobby:3: static address 10.78.0.10", ""},
		{"static host is the portal", "config host\n\toption mac '02:00:00:00:00:10'\n\toption ip '10.77.0.1'\n", lan, "not a free host address", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ps := parse(t, "config lobby\n\toption interface 'br-lan'\n"+tt.extra)
			if len(ps) != 0 {
				t.Fatal(ps)
			}
			err := c.Bind(tt.prefixes)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Main.Address.String() != tt.address {
					t.Errorf("address %v, want %v", c.Main.Address, tt.address)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want %q", err, tt.want)
			}
			if _, ok := err.(Problems); !ok {
				t.Errorf("Bind returned %T, want Problems", err)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90", 90 * time.Second, true},
		{"0", 0, true},
		{"90s", 90 * time.Second, true},
		{"15m", 15 * time.Minute, true},
		{"12h", 12 * time.Hour, true},
		{"2d", 48 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"", 0, false},
		{"h", 0, false},
		{"12", 12 * time.Second, true},
		{"12x", 0, false},
		{"1.5h", 0, false},
		{"-5m", 0, false},
		{"99999d", 0, false},
		{"12h ", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok {
			back, err := ParseDuration(FormatDuration(got))
			if err != nil || back != got {
				t.Errorf("FormatDuration(%v) = %q does not read back", got, FormatDuration(got))
			}
		}
	}
}

func TestLoadSyntaxError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lobby")
	os.WriteFile(path, []byte("config lobby 'main'\n\toption interface 'br-lan\n"), 0o644)
	_, ps, err := Load(path)
	if err != nil || len(ps) != 1 || !strings.HasPrefix(ps[0].Error(), path+":2: ") {
		t.Errorf("Load: %v, %v", ps, err)
	}
	if _, _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

func FuzzConfig(f *testing.F) {
	f.Add(specExample)
	f.Add("config lobby\n\toption interface 'x'\n\toption session_timeout '1d2h3m4s'\n")
	f.Fuzz(func(t *testing.T, text string) {
		file, err := uci.Parse("fuzz", strings.NewReader(text))
		if err != nil {
			return
		}
		c, ps := Parse(file)
		for _, p := range ps {
			if p.Pos.Line < 1 && p.Pos.File == "fuzz" {
				t.Errorf("problem without a line: %v", p)
			}
		}
		if len(ps) == 0 {
			c.Bind([]netip.Prefix{netip.MustParsePrefix("10.0.0.1/8")})
		}
	})
}

func TestPortalText(t *testing.T) {
	c, ps := parse(t, "config lobby\n\toption interface 'x'\n")
	if len(ps) != 0 || c.Main.VenueName != "Guest Wi-Fi" || c.Main.Terms != DefaultTerms || c.Main.TemplateDir != "" {
		t.Errorf("defaults: %q %q %q %v", c.Main.VenueName, c.Main.Terms, c.Main.TemplateDir, ps)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	c, ps = parse(t, "config lobby\n\toption interface 'x'\n\toption venue_name ' Café Central '\n\toption terms 'One.\n\n\tTwo.'\n\toption template_dir '"+dir+"'\n")
	if len(ps) != 0 || c.Main.VenueName != "Café Central" || c.Main.Terms != "One.\n\n\tTwo." || c.Main.TemplateDir != dir {
		t.Errorf("set: %q %q %q %v", c.Main.VenueName, c.Main.Terms, c.Main.TemplateDir, ps)
	}
	_, ps = parse(t, "config lobby\n\toption interface 'x'\n\toption venue_name 'two\nlines'\n\toption terms '"+strings.Repeat("x", 65<<10)+"'\n"+
		"\toption template_dir 'relative'\n")
	want := []string{"3: option venue_name", "5: option terms is 66560 bytes", "6: option template_dir \"relative\" must be an absolute path"}
	if len(ps) != len(want) {
		t.Errorf("got %d problems, want %d: %v", len(ps), len(want), ps)
	}
	for i, w := range want {
		line, msg, _ := strings.Cut(w, ": ")
		if i >= len(ps) || !strings.HasPrefix(ps[i].Error(), "lobby:"+line+": ") || !strings.Contains(ps[i].Error(), msg) {
			t.Errorf("problem %d: want lobby:%s: …%s…; got %v", i, line, msg, ps)
		}
	}
	for _, dirOpt := range []string{dir + "/missing", file} {
		_, ps = parse(t, "config lobby\n\toption interface 'x'\n\toption template_dir '"+dirOpt+"'\n")
		if len(ps) != 1 || !strings.Contains(ps[0].Error(), "template_dir") {
			t.Errorf("template_dir %s: %v", dirOpt, ps)
		}
	}
}

func TestEnabled(t *testing.T) {
	for _, tc := range []struct {
		line    string
		enabled bool
		problem string
	}{
		{"", true, ""},
		{"\toption enabled '1'\n", true, ""},
		{"\toption enabled '0'\n", false, ""},
		{"\toption enabled 'off'\n", false, ""},
		{"\toption enabled 'disabled'\n", false, ""},
		{"\toption enabled 'maybe'\n", true, "lobby:3: option enabled is \"maybe\"; want 1 or 0"},
	} {
		c, ps := parse(t, "config lobby 'main'\n\toption interface 'br-guest'\n"+tc.line)
		if c.Main.Enabled != tc.enabled {
			t.Errorf("%q: Enabled = %v, want %v", tc.line, c.Main.Enabled, tc.enabled)
		}
		if got := ps.Error(); got != tc.problem {
			t.Errorf("%q: problems %q, want %q", tc.line, got, tc.problem)
		}
	}
}
