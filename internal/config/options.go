package config

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/lobby-fw/lobby/internal/uci"
)

// An option is one `option` or `list` that the decoder knows, with all there
// is to know about it: how it is read, its default, whether a reload can
// apply it, and a value to test that with. A new option costs one entry in
// its section's table here and one field in the Config of the subsystem that
// firmware/ hands it to (firmware/derive.go), for example:
//
//	{name: "cooldown", dflt: "0", example: "1d", read: func(d *decoder, n string, c *Click) { d.duration(n, &c.Cooldown) }},
//
// and a new section one table, listed in sections. firmware's
// TestReloadReachesEveryOption sets every option of these tables to its
// example and fails unless the change reaches a subsystem's Config or the
// option is marked restart, so an option that a reload would drop cannot be
// added by mistake.
type option[T any] struct {
	name string
	// restart marks the options a reload cannot apply (SPEC §5: the
	// sockets and files a running daemon holds). It sets the option in
	// next back to its running value and reports whether they differed;
	// both are bound (Bind), so a portal address that follows the
	// interface counts too.
	restart func(next, running *Config) bool
	// example is a valid value unlike the default, for the reload test;
	// "$DIR/" stands for a directory the test fills with the files that
	// examples name (see Options).
	example string
	// dflt is the value of an option left out, read like a written one.
	dflt string
	read func(d *decoder, name string, dst *T)
}

// section is the table of one section type.
type section[T any] struct {
	typ string
	// into returns where a section of this type is read to: the one
	// struct of a section written once, or a new element of a list.
	into func(c *Config, s *uci.Section) *T
	// many marks a type of which a file may have any number of sections
	// (config host); the others are written at most once.
	many    bool
	options []option[T]
	// check reports what only the options together can show.
	check func(d *decoder, dst *T)
	// pin runs after the options' own restart pins (see Pin).
	pin func(next, running *Config)
}

// decode reads every option of s into dst and reports the unknown ones.
func (s *section[T]) decode(d *decoder, dst *T) {
	for _, o := range s.options {
		if o.dflt != "" && d.sec.Option(o.name) != nil {
			// The default first, so that a wrong value leaves it.
			blank := &decoder{sec: &uci.Section{Type: s.typ, Pos: d.sec.Pos}, ps: d.ps, dflt: o.dflt}
			o.read(blank, o.name, dst)
		}
		d.dflt = o.dflt
		o.read(d, o.name, dst)
	}
	d.dflt = ""
	if s.check != nil {
		s.check(d, dst)
	}
	d.unknown()
}

func (s *section[T]) typeName() string { return s.typ }
func (s *section[T]) unique() bool     { return !s.many }
func (s *section[T]) decodeInto(d *decoder, c *Config) {
	s.decode(d, s.into(c, d.sec))
}

func (s *section[T]) describe() []Option {
	out := make([]Option, len(s.options))
	for i, o := range s.options {
		out[i] = Option{Section: s.typ, Name: o.name, Restart: o.restart != nil, Default: o.dflt, Example: o.example}
	}
	return out
}

func (s *section[T]) pinAll(next, running *Config) []string {
	var out []string
	for _, o := range s.options {
		if o.restart != nil && o.restart(next, running) {
			out = append(out, s.typ+"."+o.name)
		}
	}
	if s.pin != nil {
		s.pin(next, running)
	}
	return out
}

// anySection is a section table whatever its type.
type anySection interface {
	typeName() string
	unique() bool
	decodeInto(d *decoder, c *Config)
	describe() []Option
	pinAll(next, running *Config) []string
}

// sections are every section type the decoder knows.
var sections = []anySection{&lobbySection, &dhcpSection, &hostSection, &dnsSection, &clickSection, &voucherSection, &radiusSection, &adminSection, &interfaceSection}

func sectionOf(typ string) anySection {
	for _, s := range sections {
		if s.typeName() == typ {
			return s
		}
	}
	return nil
}

// Option describes one option the decoder knows, for tests and tools.
type Option struct {
	Section string // the section type: lobby, dhcp, host, dns, interface
	Name    string
	// Restart is set for the options a reload cannot apply (SPEC §5).
	Restart bool
	Default string // "" for none (or empty)
	// Example is a valid value other than the default; "$DIR/" stands for
	// a directory holding the files examples name (b.crt, b.key, pages/).
	Example string
}

// Key is SECTION.NAME, as the reload log names an option.
func (o Option) Key() string { return o.Section + "." + o.Name }

// Options lists every option of every section the decoder knows.
func Options() []Option {
	var out []Option
	for _, s := range sections {
		out = append(out, s.describe()...)
	}
	return out
}

// Pin sets the options marked restart in next back to their values in
// running, the config the daemon started with, and names those that
// differed: a reload applies next, and the log names the rest as waiting
// for a restart.
func Pin(next, running *Config) []string {
	var out []string
	for _, s := range sections {
		out = append(out, s.pinAll(next, running)...)
	}
	return out
}

// pin sets *dst to v and reports whether it was different.
func pin[V comparable](dst *V, v V) bool {
	changed := *dst != v
	*dst = v
	return changed
}

// Section tables. Their order is the order options are read in, which only
// matters to the checks.
var (
	lobbySection = section[Main]{typ: "lobby", into: func(c *Config, _ *uci.Section) *Main { return &c.Main }, options: []option[Main]{
		{name: "enabled", dflt: "1", example: "0", read: func(d *decoder, n string, m *Main) { d.boolean(n, &m.Enabled) }},
		{name: "interface", restart: func(n, r *Config) bool { return pin(&n.Main.Interface, r.Main.Interface) },
			read: func(d *decoder, n string, m *Main) { d.str(n, &m.Interface) }},
		{name: "address", restart: func(n, r *Config) bool {
			n.Main.Subnet = r.Main.Subnet
			return pin(&n.Main.Address, r.Main.Address)
		},
			read: func(d *decoder, n string, m *Main) {
				if o := d.sec.Option(n); o != nil {
					m.addrPos = o.Pos
				}
				d.ipv4(n, &m.Address)
			}},
		{name: "port", dflt: "2050", restart: func(n, r *Config) bool { return pin(&n.Main.Port, r.Main.Port) },
			read: func(d *decoder, n string, m *Main) { d.port(n, &m.Port) }},
		{name: "hostname", dflt: "portal.lan", example: "guest.example", read: func(d *decoder, n string, m *Main) {
			if v, ok := d.one(n); ok {
				if !validHostname(v.Text) {
					d.errorf(v.Pos, "option hostname %q is not a valid DNS name", v.Text)
				} else {
					m.Hostname = strings.ToLower(strings.TrimSuffix(v.Text, "."))
				}
			}
		}},
		{name: "state_dir", dflt: "/tmp/lobby", restart: func(n, r *Config) bool { return pin(&n.Main.StateDir, r.Main.StateDir) },
			read: func(d *decoder, n string, m *Main) { d.absPath(n, &m.StateDir) }},
		{name: "socket", dflt: "/var/run/lobby.sock", restart: func(n, r *Config) bool { return pin(&n.Main.Socket, r.Main.Socket) },
			read: func(d *decoder, n string, m *Main) { d.absPath(n, &m.Socket) }},
		{name: "firewall", dflt: "auto", restart: func(n, r *Config) bool { return pin(&n.Main.Firewall, r.Main.Firewall) },
			read: func(d *decoder, n string, m *Main) { d.word(n, &m.Firewall, "auto", "nftables", "iptables") }},
		// auth has one value until the other sign-in methods come, so it
		// has no example: nothing to reload yet.
		{name: "auth", dflt: "click", example: "voucher", read: func(d *decoder, n string, m *Main) {
			if o := d.sec.Option(n); o != nil {
				m.authPos = o.Pos
			} else {
				m.authPos = d.sec.Pos
			}
			d.auth(n, &m.Auth)
		}},
		{name: "session_timeout", dflt: "24h", example: "2h", read: func(d *decoder, n string, m *Main) { d.duration(n, &m.SessionTimeout) }},
		{name: "idle_timeout", dflt: "1h", example: "10m", read: func(d *decoder, n string, m *Main) { d.duration(n, &m.IdleTimeout) }},
		{name: "download_rate", dflt: "0", example: "2mbit", read: func(d *decoder, n string, m *Main) { d.rate(n, &m.DownloadRate) }},
		{name: "upload_rate", dflt: "0", example: "512kbit", read: func(d *decoder, n string, m *Main) { d.rate(n, &m.UploadRate) }},
		{name: "quota", dflt: "0", example: "300MB", read: func(d *decoder, n string, m *Main) { d.size(n, &m.Quota) }},
		{name: "venue_url", example: "https://example.com/venue", read: func(d *decoder, n string, m *Main) { d.venueURL(n, &m.VenueURL) }},
		// '' is the default, as SPEC §2 writes it; Parse fills it in.
		{name: "max_clients", example: "300", read: func(d *decoder, n string, m *Main) {
			if v, ok := d.one(n); ok && v.Text != "" {
				d.integer(n, &m.MaxClients, 1, 1<<24)
			}
		}},
		// ipv6 '1' forwards a signed-in client's IPv6 from the addresses
		// the neighbour table learns for its MAC (docs/firewall.md).
		{name: "ipv6", dflt: "0", example: "1", read: func(d *decoder, n string, m *Main) { d.boolean(n, &m.IPv6) }},
		{name: "log_level", dflt: "info", example: "debug", read: func(d *decoder, n string, m *Main) {
			if v, ok := d.one(n); ok {
				if err := m.LogLevel.UnmarshalText([]byte(v.Text)); err != nil {
					d.errorf(v.Pos, "option log_level is %q; want debug, info, warn or error", v.Text)
				}
			}
		}},
		{name: "trusted_mac", example: "02:00:00:00:00:cc", read: func(d *decoder, n string, m *Main) { m.TrustedMAC = d.macs(n) }},
		{name: "blocked_mac", example: "02:00:00:00:00:dd", read: func(d *decoder, n string, m *Main) { m.BlockedMAC = d.macs(n) }},
		{name: "allow_domain", example: "example.net", read: func(d *decoder, n string, m *Main) {
			for _, v := range d.values(n) {
				name := strings.ToLower(strings.TrimPrefix(strings.TrimSuffix(v.Text, "."), "*."))
				if !validHostname(name) {
					d.errorf(v.Pos, "allow_domain %q is not a domain name", v.Text)
					continue
				}
				m.AllowDomain = append(m.AllowDomain, name)
			}
		}},
		{name: "allow_address", example: "198.51.100.0/24", read: func(d *decoder, n string, m *Main) {
			for _, v := range d.values(n) {
				p, err := netip.ParsePrefix(v.Text)
				if err != nil {
					a, aerr := netip.ParseAddr(v.Text)
					if aerr != nil {
						d.errorf(v.Pos, "allow_address %q is not an address or CIDR like 203.0.113.0/24", v.Text)
						continue
					}
					p = netip.PrefixFrom(a, a.BitLen())
				}
				if p != p.Masked() {
					d.errorf(v.Pos, "allow_address %q has host bits set; did you mean %s?", v.Text, p.Masked())
					continue
				}
				m.AllowAddress = append(m.AllowAddress, p)
			}
		}},
		{name: "probe_redirect", example: "detect.example.net/check", read: func(d *decoder, n string, m *Main) {
			for _, v := range d.values(n) {
				host, path, ok := strings.Cut(v.Text, "/")
				if !ok || !validHostname(host) || strings.ContainsAny(path, " \t?#") {
					d.errorf(v.Pos, "probe_redirect %q: want HOST/PATH like detect.example.net/check", v.Text)
					continue
				}
				m.ProbeRedirect = append(m.ProbeRedirect, strings.ToLower(host)+"/"+path)
			}
		}},
		{name: "tls_cert", example: "$DIR/b.crt", read: func(d *decoder, n string, m *Main) { d.file(n, &m.TLSCert) }},
		{name: "tls_key", example: "$DIR/b.key", read: func(d *decoder, n string, m *Main) { d.file(n, &m.TLSKey) }},
		{name: "tls_port", dflt: "8443", example: "9443", read: func(d *decoder, n string, m *Main) { d.port(n, &m.TLSPort) }},
		{name: "venue_name", dflt: "Guest Wi-Fi", example: "Café Central", read: func(d *decoder, n string, m *Main) {
			if v, ok := d.one(n); ok {
				name := strings.TrimSpace(v.Text)
				switch {
				case name == "" || !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl):
					d.errorf(v.Pos, "option venue_name %q: want one line of text, like 'Café Central'", v.Text)
				case utf8.RuneCountInString(name) > 80:
					d.errorf(v.Pos, "option venue_name is %d characters long; at most 80 fit on a phone", utf8.RuneCountInString(name))
				default:
					m.VenueName = name
				}
			}
		}},
		// The limits keep a typo (a whole file pasted in) off every
		// guest's phone.
		{name: "terms", dflt: DefaultTerms, example: "Be nice.", read: func(d *decoder, n string, m *Main) {
			if v, ok := d.one(n); ok {
				switch {
				case !utf8.ValidString(v.Text):
					d.errorf(v.Pos, "option terms is not UTF-8 text")
				case len(v.Text) > 64<<10:
					d.errorf(v.Pos, "option terms is %d bytes; keep it under 64 KiB (put long terms in your own template, option template_dir)", len(v.Text))
				default:
					m.Terms = strings.TrimSpace(v.Text)
				}
			}
		}},
		{name: "template_dir", example: "$DIR/pages", read: func(d *decoder, n string, m *Main) {
			if v, ok := d.one(n); ok {
				if fi, err := os.Stat(v.Text); !strings.HasPrefix(v.Text, "/") {
					d.errorf(v.Pos, "option template_dir %q must be an absolute path", v.Text)
				} else if err != nil {
					d.errorf(v.Pos, "option template_dir: %v", err)
				} else if !fi.IsDir() {
					d.errorf(v.Pos, "option template_dir %q is not a directory", v.Text)
				} else {
					m.TemplateDir = v.Text
				}
			}
		}},
	}, check: func(d *decoder, m *Main) {
		m.pos = d.sec.Pos
		if (m.TLSCert == "") != (m.TLSKey == "") {
			d.errorf(d.sec.Pos, "tls_cert and tls_key go together: set both or neither")
		}
		if m.Port == m.TLSPort && m.TLS() {
			d.errorf(d.sec.Pos, "port and tls_port are both %d", m.Port)
		}
		if m.Port > 65532 {
			d.errorf(d.sec.Pos, "port %d leaves no room for the relay on port+1 and port+2 and the DNS redirect on port+3", m.Port)
		} else if h, t := m.RelayPorts(); m.TLS() && (m.TLSPort == h || m.TLSPort == t) {
			d.errorf(d.sec.Pos, "tls_port %d is taken by the post-sign-in relay (port+1 and port+2: %d, %d)", m.TLSPort, h, t)
		} else if r := m.DNSRedirectPort(); m.TLS() && m.TLSPort == r {
			d.errorf(d.sec.Pos, "tls_port %d is taken by the DNS redirect (port+3)", m.TLSPort)
		}
	}}

	dhcpSection = section[DHCP]{typ: "dhcp", into: func(c *Config, s *uci.Section) *DHCP {
		c.DHCP.pos = s.Pos
		return &c.DHCP
	}, options: []option[DHCP]{
		{name: "enabled", dflt: "1", example: "0", read: func(d *decoder, n string, c *DHCP) { d.boolean(n, &c.Enabled) }},
		{name: "start", dflt: "100", example: "50", read: func(d *decoder, n string, c *DHCP) { d.integer(n, &c.Start, 1, 1<<24) }},
		{name: "limit", dflt: "150", example: "20", read: func(d *decoder, n string, c *DHCP) { d.integer(n, &c.Limit, 1, 1<<24) }},
		{name: "leasetime", dflt: "12h", example: "1h", read: func(d *decoder, n string, c *DHCP) {
			d.duration(n, &c.LeaseTime)
			if c.LeaseTime < time.Minute {
				if v, ok := d.one(n); ok {
					d.errorf(v.Pos, "option leasetime %q is shorter than a minute; clients would renew constantly", v.Text)
				}
			}
		}},
		{name: "domain", dflt: "lan", example: "guest.example", read: func(d *decoder, n string, c *DHCP) {
			if v, ok := d.one(n); ok {
				if v.Text != "" && !validHostname(v.Text) {
					d.errorf(v.Pos, "option domain %q is not a DNS name", v.Text)
				}
				c.Domain = v.Text
			}
		}},
	}}

	hostSection = section[Host]{typ: "host", many: true, into: func(c *Config, s *uci.Section) *Host {
		c.Hosts = append(c.Hosts, Host{pos: s.Pos})
		return &c.Hosts[len(c.Hosts)-1]
	}, options: []option[Host]{
		{name: "mac", example: "02:00:00:00:00:11", read: func(d *decoder, n string, h *Host) {
			if v, ok := d.one(n); ok {
				h.MAC = d.mac(v, "option mac")
			} else {
				d.errorf(d.sec.Pos, "static host without option mac")
			}
		}},
		{name: "ip", example: "10.77.0.11", read: func(d *decoder, n string, h *Host) {
			d.ipv4(n, &h.IP)
			if d.sec.Option(n) == nil {
				d.errorf(d.sec.Pos, "static host without option ip")
			}
		}},
		{name: "name", example: "scanner", read: func(d *decoder, n string, h *Host) {
			if v, ok := d.one(n); ok {
				if !validHostname(v.Text) {
					d.errorf(v.Pos, "option name %q is not a host name", v.Text)
				}
				h.Name = v.Text
			}
		}},
	}}

	dnsSection = section[DNS]{typ: "dns", into: func(c *Config, _ *uci.Section) *DNS { return &c.DNS }, options: []option[DNS]{
		{name: "enabled", dflt: "1", example: "0", read: func(d *decoder, n string, c *DNS) { d.boolean(n, &c.Enabled) }},
		{name: "upstream", example: "198.51.100.54", read: func(d *decoder, n string, c *DNS) {
			for _, v := range d.values(n) {
				ap, err := netip.ParseAddrPort(v.Text)
				if err != nil {
					a, aerr := netip.ParseAddr(v.Text)
					if aerr != nil {
						d.errorf(v.Pos, "upstream %q is not an address or ADDRESS:PORT", v.Text)
						continue
					}
					ap = netip.AddrPortFrom(a, 53)
				}
				c.Upstream = append(c.Upstream, ap)
			}
		}},
		{name: "cache_size", dflt: "4096", example: "100", read: func(d *decoder, n string, c *DNS) { d.integer(n, &c.CacheSize, 0, 1<<20) }},
	}}

	// SPEC §8; every option applies on a reload (SPEC §5), listen by
	// moving the listener.
	adminSection = section[Admin]{typ: "admin", into: func(c *Config, s *uci.Section) *Admin {
		c.Admin.pos = s.Pos
		return &c.Admin
	}, options: []option[Admin]{
		{name: "enabled", dflt: "0", example: "1", read: func(d *decoder, n string, a *Admin) { d.boolean(n, &a.Enabled) }},
		{name: "listen", example: "192.0.2.1:9090", read: func(d *decoder, n string, a *Admin) {
			if v, ok := d.one(n); ok {
				ap, err := netip.ParseAddrPort(v.Text)
				if err != nil || ap.Port() == 0 {
					d.errorf(v.Pos, "option listen %q: want ADDRESS:PORT like 192.168.1.1:8080", v.Text)
					return
				}
				a.Listen = ap
			}
		}},
		{name: "password_hash", example: "$pbkdf2-sha256$i=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", read: func(d *decoder, n string, a *Admin) { d.str(n, &a.PasswordHash) }},
		{name: "metrics", dflt: "1", example: "0", read: func(d *decoder, n string, a *Admin) { d.boolean(n, &a.Metrics) }},
		{name: "metrics_open", dflt: "0", example: "1", read: func(d *decoder, n string, a *Admin) { d.boolean(n, &a.MetricsOpen) }},
	}, check: func(d *decoder, a *Admin) {
		if a.Enabled && !a.Listen.IsValid() {
			d.errorf(d.sec.Pos, "config admin is enabled without option listen: give ADDRESS:PORT on the operator's side, like 192.168.1.1:8080")
		}
	}}

	// The appliance sets its interfaces up once, at boot (SPEC §6).
	interfaceSection = section[Interface]{typ: "interface", many: true, into: func(c *Config, s *uci.Section) *Interface {
		c.Interfaces = append(c.Interfaces, Interface{Name: s.Name})
		return &c.Interfaces[len(c.Interfaces)-1]
	}, pin: func(n, r *Config) {
		n.Interfaces = r.Interfaces // every option of theirs is restart
	}, options: []option[Interface]{
		{name: "device", restart: interfaces(func(i Interface) any { return i.Device }), read: func(d *decoder, n string, i *Interface) {
			for _, v := range d.values(n) {
				i.Device = append(i.Device, strings.Fields(v.Text)...)
			}
		}},
		{name: "proto", dflt: "static", restart: interfaces(func(i Interface) any { return i.Proto }),
			read: func(d *decoder, n string, i *Interface) { d.word(n, &i.Proto, "static", "dhcp") }},
		{name: "ipaddr", restart: interfaces(func(i Interface) any { return i.IPAddr }),
			read: func(d *decoder, n string, i *Interface) { d.ipv4(n, &i.IPAddr) }},
		{name: "netmask", restart: interfaces(func(i Interface) any { return i.Netmask }),
			read: func(d *decoder, n string, i *Interface) { d.ipv4(n, &i.Netmask) }},
		{name: "gateway", restart: interfaces(func(i Interface) any { return i.Gateway }),
			read: func(d *decoder, n string, i *Interface) { d.ipv4(n, &i.Gateway) }},
		{name: "dns", restart: interfaces(func(i Interface) any { return i.DNS }), read: func(d *decoder, n string, i *Interface) {
			for _, v := range d.values(n) {
				a, err := netip.ParseAddr(v.Text)
				if err != nil {
					d.errorf(v.Pos, "dns %q is not an address", v.Text)
					continue
				}
				i.DNS = append(i.DNS, a)
			}
		}},
	}, check: func(d *decoder, i *Interface) {
		if len(i.Device) == 0 {
			d.errorf(d.sec.Pos, "interface %q has no option device", i.Name)
		}
		if i.Proto == "static" && (!i.IPAddr.IsValid() || !i.Netmask.IsValid()) {
			d.errorf(d.sec.Pos, "interface %q is static but lacks ipaddr or netmask", i.Name)
		}
	}}
)

// interfaces compares one field of every `config interface` section; Pin
// keeps the running sections whole.
func interfaces(field func(Interface) any) func(n, r *Config) bool {
	return func(n, r *Config) bool {
		list := func(c *Config) string {
			var b strings.Builder
			for _, i := range c.Interfaces {
				fmt.Fprintf(&b, "%s=%v;", i.Name, field(i))
			}
			return b.String()
		}
		return list(n) != list(r)
	}
}

// DefaultTerms is the sign-in page's terms of use without option terms.
const DefaultTerms = "By connecting you agree to use this network lawfully and considerately: no illegal activity, " +
	"no attacks on other users or systems, and no use that spoils it for others. " +
	"Access is provided as is and may be limited or ended at any time."

func (d *decoder) absPath(name string, dst *string) {
	if v, ok := d.one(name); ok {
		if !strings.HasPrefix(v.Text, "/") {
			d.errorf(v.Pos, "option %s %q must be an absolute path", name, v.Text)
		} else {
			*dst = v.Text
		}
	}
}

// file reads the path of a file that must exist.
func (d *decoder) file(name string, dst *string) {
	if v, ok := d.one(name); ok {
		if _, err := os.Stat(v.Text); err != nil {
			d.errorf(v.Pos, "option %s: %v", name, err)
		}
		*dst = v.Text
	}
}
