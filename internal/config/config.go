// Package config turns Lobby's UCI file (SPEC §2) into typed, validated
// values with their defaults. Every problem names the FILE:LINE it comes from,
// so `lobby check` can list them all at once and an operator can fix them in
// one pass.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lobby-fw/lobby/internal/uci"
	"github.com/lobby-fw/lobby/internal/voucher"
)

// DefaultPath is where OpenWrt keeps Lobby's config.
const DefaultPath = "/etc/config/lobby"

// Config is the whole validated configuration.
type Config struct {
	Path       string
	Main       Main
	DHCP       DHCP
	Hosts      []Host
	DNS        DNS
	Admin      Admin
	Interfaces []Interface // appliance mode only (SPEC §6)
	Click      Click
	Voucher    voucher.Defaults // `config voucher`: the defaults of ctl voucher create
	RADIUS     RADIUS
}

// Admin is the `config admin` section (SPEC §8): the operator's pages and
// /metrics.
type Admin struct {
	Enabled      bool
	Listen       netip.AddrPort // never on the LAN interface (Bind)
	PasswordHash string         // written by lobby passwd; "": every login refused
	Metrics      bool           // serve /metrics
	MetricsOpen  bool           // /metrics without the password
	pos          uci.Pos
}

// Main is the `config lobby` section.
type Main struct {
	// Enabled is false with option enabled '0': OpenWrt's init script then
	// starts nothing.
	Enabled        bool
	Interface      string
	Address        netip.Addr // zero: the interface's first IPv4, filled in by Bind
	Subnet         netip.Prefix
	Port           uint16
	Hostname       string
	StateDir       string
	Socket         string
	Firewall       string   // auto, nftables or iptables
	Auth           []string // sign-in methods in the page's order: click, voucher
	SessionTimeout time.Duration
	IdleTimeout    time.Duration
	DownloadRate   uint64 // bit/s; 0: none
	UploadRate     uint64 // bit/s; 0: none
	Quota          uint64 // bytes up + down per session; 0: none
	VenueURL       string // RFC 8908 venue-info-url; "": none
	MaxClients     int    // bound of the client table (SPEC §4); Parse fills in DefaultMaxClients when unset
	IPv6           bool   // forward signed-in clients' IPv6 (option ipv6)
	LogLevel       slog.Level
	TrustedMAC     []net.HardwareAddr
	BlockedMAC     []net.HardwareAddr
	AllowDomain    []string
	AllowAddress   []netip.Prefix
	ProbeRedirect  []string // HOST/PATH
	TLSCert        string
	TLSKey         string
	TLSPort        uint16
	VenueName      string // the venue's name on the portal pages
	Terms          string // terms of use on the sign-in page; paragraphs split by blank lines
	TemplateDir    string // the operator's own portal templates; "": the built-in ones

	pos, addrPos uci.Pos // of the section and of option address, for Bind
	authPos      uci.Pos // of list auth, for crossCheck
}

// DHCP is the `config dhcp` section.
type DHCP struct {
	Enabled   bool
	Start     int // first host number of the pool, OpenWrt's meaning
	Limit     int // pool size
	LeaseTime time.Duration
	Domain    string
	pos       uci.Pos
}

// Host is one `config host` static lease.
type Host struct {
	MAC  net.HardwareAddr
	IP   netip.Addr
	Name string
	pos  uci.Pos
}

// DNS is the `config dns` section.
type DNS struct {
	Enabled   bool
	Upstream  []netip.AddrPort // empty: the nameservers of /etc/resolv.conf
	CacheSize int
}

// Interface is a `config interface` section, used only when lobby is PID 1.
type Interface struct {
	Name    string
	Device  []string
	Proto   string // static or dhcp
	IPAddr  netip.Addr
	Netmask netip.Addr
	Gateway netip.Addr
	DNS     []netip.Addr
}

// RelayPorts are the ports of the portal address on which the post-sign-in
// relay listens: the firewall steers a signed-in client's TCP 80 and 443 to
// the portal address there (SPEC §3, "After sign-in"). They follow the
// portal port, so one option moves all of them.
func (m *Main) RelayPorts() (http, tls uint16) { return m.Port + 1, m.Port + 2 }

// DNSRedirectPort is the port of the portal address on which the resolver
// answers the DNS that a preauth client sends to another resolver: the
// firewall steers it there rather than to port 53, so that the queries sent
// to port 53 itself need no connection tracking (docs/firewall.md).
func (m *Main) DNSRedirectPort() uint16 { return m.Port + 3 }

// TLS reports whether the portal also serves HTTPS.
func (m *Main) TLS() bool { return m.TLSCert != "" && m.TLSKey != "" }

// Problem is one thing wrong with the file.
type Problem struct {
	Pos uci.Pos
	Msg string
	// Unknown marks an unknown section or option: an error for `lobby
	// check`, only a warning for `lobby run`, so an older binary still starts
	// with a config written for a newer one.
	Unknown bool
}

func (p Problem) Error() string { return p.Pos.String() + ": " + p.Msg }

// Problems is every problem found, in file order.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.Error()
	}
	return strings.Join(s, "\n")
}

// Split separates unknown-option warnings from real errors.
func (ps Problems) Split() (errs, unknown Problems) {
	for _, p := range ps {
		if p.Unknown {
			unknown = append(unknown, p)
		} else {
			errs = append(errs, p)
		}
	}
	return errs, unknown
}

// Load reads and parses path. A syntax error comes back as the only Problem.
func Load(path string) (*Config, Problems, error) {
	f, err := uci.ParseFile(path)
	if err != nil {
		var se *uci.SyntaxError
		if errors.As(err, &se) {
			return nil, Problems{{Pos: se.Pos, Msg: se.Msg}}, nil
		}
		return nil, nil, err
	}
	c, ps := Parse(f)
	c.Path = path
	return c, ps, nil
}

// Parse turns a UCI file into a Config. It always returns a Config filled
// with what could be read and the defaults; the caller decides what the
// problems mean.
func Parse(f *uci.File) (*Config, Problems) {
	c := &Config{}
	var ps Problems
	seen := map[string]*uci.Section{}
	var known []string
	for _, sec := range sections {
		known = append(known, sec.typeName())
	}
	for _, s := range f.Sections {
		sec := sectionOf(s.Type)
		if sec == nil {
			ps = append(ps, Problem{Pos: s.Pos, Msg: fmt.Sprintf("unknown section type %q (known: %s)", s.Type, strings.Join(known, ", ")), Unknown: true})
			continue
		}
		if sec.unique() {
			if prev := seen[s.Type]; prev != nil {
				ps = append(ps, Problem{Pos: s.Pos, Msg: fmt.Sprintf("second 'config %s' section; the first is at %s", s.Type, prev.Pos)})
				continue
			}
		}
		seen[s.Type] = s
		sec.decodeInto(&decoder{sec: s, ps: &ps}, c)
	}
	// A section that is written once and left out still gives its
	// options' defaults.
	for _, sec := range sections {
		if sec.unique() && seen[sec.typeName()] == nil {
			sec.decodeInto(&decoder{sec: &uci.Section{Type: sec.typeName()}, ps: &ps}, c)
		}
	}
	if seen["lobby"] == nil {
		file := f.Name
		if len(f.Sections) > 0 {
			file = f.Sections[0].Pos.File
		}
		ps = append(ps, Problem{Pos: uci.Pos{File: file, Line: 1}, Msg: "no 'config lobby' section: at least 'option interface' is required"})
	} else if c.Main.Interface == "" {
		ps = append(ps, Problem{Pos: seen["lobby"].Pos, Msg: "option interface is required: the LAN interface where clients live, like 'br-lan'"})
	}
	if c.Main.MaxClients == 0 {
		pool := 0
		if c.DHCP.Enabled {
			pool = c.DHCP.Limit
		}
		c.Main.MaxClients = DefaultMaxClients(pool)
	}
	ps = append(ps, c.crossCheck()...)
	ps.Sort()
	return c, ps
}

// DefaultMaxClients is the bound of the client table without option
// max_clients (SPEC §4): four clients per pool address — room for the
// devices that come and go while the pool turns over — and at least 1,024.
func DefaultMaxClients(poolSize int) int { return max(4*poolSize, 1024) }

// Sort orders problems by file and line.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Pos.File != ps[j].Pos.File {
			return ps[i].Pos.File < ps[j].Pos.File
		}
		return ps[i].Pos.Line < ps[j].Pos.Line
	})
}

// crossCheck finds conflicts between sections that no single option shows.
func (c *Config) crossCheck() Problems {
	var ps Problems
	macs := map[string]uci.Pos{}
	ips := map[netip.Addr]uci.Pos{}
	for _, h := range c.Hosts {
		if h.MAC != nil {
			if p, dup := macs[h.MAC.String()]; dup {
				ps = append(ps, Problem{Pos: h.pos, Msg: fmt.Sprintf("MAC %s already has a static lease at %s", h.MAC, p)})
			}
			macs[h.MAC.String()] = h.pos
		}
		if h.IP.IsValid() {
			if p, dup := ips[h.IP]; dup {
				ps = append(ps, Problem{Pos: h.pos, Msg: fmt.Sprintf("address %s already given to the static host at %s", h.IP, p)})
			}
			ips[h.IP] = h.pos
		}
	}
	if slices.Contains(c.Main.Auth, AuthRADIUS) && !c.RADIUS.Present {
		ps = append(ps, Problem{Pos: c.Main.authPos, Msg: "auth 'radius' needs a config radius section with the server and its secret (SPEC §7)"})
	}
	return ps
}

// Bind completes the config with what the LAN interface has: its IPv4
// prefixes. The portal address defaults to the first one; the DHCP pool and
// static hosts must lie inside the address's subnet. A non-nil error is
// always Problems.
func (c *Config) Bind(prefixes []netip.Prefix) error {
	var v4 []netip.Prefix
	for _, p := range prefixes {
		if p.Addr().Is4() {
			v4 = append(v4, p)
		}
	}
	m := &c.Main
	if len(v4) == 0 {
		return Problems{{Pos: m.pos, Msg: fmt.Sprintf("interface %s has no IPv4 address: give it one (for example 10.77.0.1/24) before starting lobby", m.Interface)}}
	}
	if !m.Address.IsValid() {
		m.Address = v4[0].Addr()
		m.Subnet = v4[0].Masked()
	} else {
		for _, p := range v4 {
			if p.Addr() == m.Address {
				m.Subnet = p.Masked()
			}
		}
		if !m.Subnet.IsValid() {
			return Problems{{Pos: m.addrPos, Msg: fmt.Sprintf("option address %s is not an address of interface %s (it has %v): fix option address or leave it out", m.Address, m.Interface, v4)}}
		}
	}
	var ps Problems
	if a := c.Admin; a.Enabled {
		// SPEC §8: the admin pages are for the operator's side; a guest
		// must not even see their login form.
		for _, p := range prefixes {
			if a.Listen.Addr().IsUnspecified() || p.Addr() == a.Listen.Addr().Unmap() {
				ps = append(ps, Problem{Pos: a.pos, Msg: fmt.Sprintf("option listen %s is on interface %s, where the guests are: give an address of the operator's side (LAN or management network)", a.Listen, m.Interface)})
				break
			}
		}
		// The firewall drops the admin port from the guests on every
		// address, so it cannot be a port they need.
		h, t := m.RelayPorts()
		for _, p := range []uint16{m.Port, h, t, m.DNSRedirectPort(), m.TLSPort, 53, 67} {
			if a.Listen.Port() == p && (p != m.TLSPort || m.TLS()) {
				ps = append(ps, Problem{Pos: a.pos, Msg: fmt.Sprintf("option listen %s: port %d is one the guests use (portal, relay, DNS or DHCP); pick another, like 8080", a.Listen, p)})
				break
			}
		}
	}
	if c.DHCP.Enabled {
		first, last, err := c.Pool()
		if err != nil {
			ps = append(ps, Problem{Pos: c.DHCP.pos, Msg: err.Error()})
		} else if !m.Subnet.Contains(first) || !m.Subnet.Contains(last) || last == broadcast(m.Subnet) {
			ps = append(ps, Problem{Pos: c.DHCP.pos, Msg: fmt.Sprintf("pool %s-%s (start %d, limit %d) is not inside %s: lower start or limit", first, last, c.DHCP.Start, c.DHCP.Limit, m.Subnet)})
		}
	}
	for _, h := range c.Hosts {
		if h.IP.IsValid() && (!m.Subnet.Contains(h.IP) || h.IP == m.Subnet.Addr() || h.IP == broadcast(m.Subnet) || h.IP == m.Address) {
			ps = append(ps, Problem{Pos: h.pos, Msg: fmt.Sprintf("static address %s is not a free host address of %s", h.IP, m.Subnet)})
		}
	}
	if len(ps) > 0 {
		return ps
	}
	return nil
}

// Pool is the first and last address of the DHCP pool: host numbers
// start … start+limit-1 of the subnet, as OpenWrt's dhcp config counts them.
func (c *Config) Pool() (first, last netip.Addr, err error) {
	base := c.Main.Subnet.Masked().Addr().As4()
	n := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	lo := uint64(n) + uint64(c.DHCP.Start)
	hi := lo + uint64(c.DHCP.Limit) - 1
	if hi > 0xffffffff {
		return first, last, fmt.Errorf("pool start %d, limit %d runs past 255.255.255.255", c.DHCP.Start, c.DHCP.Limit)
	}
	return u32addr(uint32(lo)), u32addr(uint32(hi)), nil
}

func u32addr(n uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	bits := p.Bits()
	for i := range a {
		for b := 0; b < 8; b++ {
			if i*8+b >= bits {
				a[i] |= 0x80 >> b
			}
		}
	}
	return netip.AddrFrom4(a)
}

// decoder reads the options of one section, remembering which it used so
// that the rest can be reported as unknown.
type decoder struct {
	sec  *uci.Section
	ps   *Problems
	used map[string]bool
	// dflt is the default of the option being read: values gives it,
	// as if it were written at the section's line, when the option is
	// absent.
	dflt string
}

func (d *decoder) errorf(pos uci.Pos, format string, a ...any) {
	*d.ps = append(*d.ps, Problem{Pos: pos, Msg: fmt.Sprintf(format, a...)})
}

// values returns the option's values, or nil if it is absent.
func (d *decoder) values(name string) []uci.Value {
	if d.used == nil {
		d.used = map[string]bool{}
	}
	d.used[name] = true
	o := d.sec.Option(name)
	if o == nil {
		if d.dflt != "" {
			return []uci.Value{{Text: d.dflt, Pos: d.sec.Pos}}
		}
		return nil
	}
	return o.Values
}

// one returns the single value of an option, reporting a list given where
// one value is wanted.
func (d *decoder) one(name string) (uci.Value, bool) {
	vs := d.values(name)
	if len(vs) == 0 {
		return uci.Value{}, false
	}
	if len(vs) > 1 {
		d.errorf(vs[1].Pos, "option %s takes one value, not a list", name)
	}
	return vs[0], true
}

func (d *decoder) unknown() {
	for _, o := range d.sec.Options {
		if !d.used[o.Name] {
			*d.ps = append(*d.ps, Problem{Pos: o.Pos, Msg: fmt.Sprintf("unknown option %q in 'config %s'", o.Name, d.sec.Type), Unknown: true})
		}
	}
}

func (d *decoder) str(name string, dst *string) {
	if v, ok := d.one(name); ok {
		*dst = v.Text
	}
}

func (d *decoder) word(name string, dst *string, allowed ...string) {
	if v, ok := d.one(name); ok {
		for _, a := range allowed {
			if v.Text == a {
				*dst = v.Text
				return
			}
		}
		d.errorf(v.Pos, "option %s is %q; want one of %s", name, v.Text, strings.Join(allowed, ", "))
	}
}

func (d *decoder) boolean(name string, dst *bool) {
	if v, ok := d.one(name); ok {
		switch v.Text {
		case "1", "on", "true", "yes", "enabled":
			*dst = true
		case "0", "off", "false", "no", "disabled":
			*dst = false
		default:
			d.errorf(v.Pos, "option %s is %q; want 1 or 0", name, v.Text)
		}
	}
}

func (d *decoder) integer(name string, dst *int, min, max int) {
	if v, ok := d.one(name); ok {
		n, err := strconv.Atoi(v.Text)
		if err != nil || n < min || n > max {
			d.errorf(v.Pos, "option %s is %q; want a whole number from %d to %d", name, v.Text, min, max)
			return
		}
		*dst = n
	}
}

func (d *decoder) port(name string, dst *uint16) {
	n := int(*dst)
	d.integer(name, &n, 1, 65535)
	*dst = uint16(n)
}

func (d *decoder) duration(name string, dst *time.Duration) {
	if v, ok := d.one(name); ok {
		t, err := ParseDuration(v.Text)
		if err != nil {
			d.errorf(v.Pos, "option %s: %v", name, err)
			return
		}
		*dst = t
	}
}

func (d *decoder) ipv4(name string, dst *netip.Addr) {
	if v, ok := d.one(name); ok {
		a, err := netip.ParseAddr(v.Text)
		if err != nil || !a.Is4() {
			d.errorf(v.Pos, "option %s is %q; want an IPv4 address like 10.77.0.1", name, v.Text)
			return
		}
		*dst = a
	}
}

func (d *decoder) mac(v uci.Value, name string) net.HardwareAddr {
	m, err := ParseMAC(v.Text)
	if err != nil {
		d.errorf(v.Pos, "%s %q: %v", name, v.Text, err)
		return nil
	}
	return m
}

func (d *decoder) macs(name string) []net.HardwareAddr {
	var out []net.HardwareAddr
	for _, v := range d.values(name) {
		if m := d.mac(v, name); m != nil {
			out = append(out, m)
		}
	}
	return out
}

// ParseMAC reads a 48-bit Ethernet address in any of the usual spellings
// (02:00:00:00:00:aa, 02-00-…, 0200.0000.00aa).
func ParseMAC(s string) (net.HardwareAddr, error) {
	m, err := net.ParseMAC(s)
	if err != nil {
		return nil, errors.New("not a MAC address; want six hex pairs like 02:00:00:00:00:aa")
	}
	if len(m) != 6 {
		return nil, errors.New("not a 48-bit Ethernet MAC address")
	}
	if m[0]&1 != 0 {
		return nil, errors.New("a multicast MAC cannot be a client")
	}
	return m, nil
}

func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}
