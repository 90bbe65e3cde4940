package main

import (
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/lobby-fw/lobby/internal/admin"
	"github.com/lobby-fw/lobby/internal/config"
	"github.com/lobby-fw/lobby/internal/dhcp"
	"github.com/lobby-fw/lobby/internal/dns"
	"github.com/lobby-fw/lobby/internal/firewall"
	"github.com/lobby-fw/lobby/internal/portal"
	"github.com/lobby-fw/lobby/internal/radius"
	"github.com/lobby-fw/lobby/internal/relay"
	"github.com/lobby-fw/lobby/internal/responder"
	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/shaper"
	"github.com/lobby-fw/lobby/internal/signin"
)

// given is what each subsystem is given, derived from one config. derive is
// the only code that knows both internal/config's types and the
// subsystems' own Configs: the subsystems never see the file's structure,
// and the config package imports none of them. It lives here, with the
// wiring, because it is wiring: which option goes where.
//
// An option costs one entry in its section's table in internal/config and
// one field in its subsystem's Config, filled here; TestReloadReachesEveryOption
// fails for an option that reaches no subsystem and is not marked restart.
// A reload derives a new given and hands each subsystem its part.
type given struct {
	Enabled   bool
	LogLevel  slog.Level
	URLs      portal.URLs
	Session   session.Config
	DHCP      dhcp.Config
	DNS       dns.Config
	Firewall  firewall.Config
	Portal    portal.Config // without Table and Log, which daemon adds
	Responder responder.Config
	Relay     relay.Config
	Shaper    shaper.Config
	Admin     admin.Config
	SignIn    signin.Config
	RADIUS    radiusConfig
}

// radiusConfig is config radius as the RADIUS wiring uses it (SPEC §7).
// Client.CalledStation, the LAN interface's MAC, is filled in at start.
type radiusConfig struct {
	// Enabled: a sign-in method or MAC authentication asks the servers;
	// accounting and the DAS run only then.
	Enabled bool
	Client  radius.Config
	MACAuth bool
	// Interim is the Acct-Interim-Interval of a session whose
	// Access-Accept gives none.
	Interim time.Duration
	DASPort uint16 // 0: no Dynamic Authorization listener
	DAS     radius.DASConfig
}

// derive works on any config, bound or not (lobby check describes an
// unbound one); daemon only runs a bound one.
func derive(c *config.Config) given {
	m := &c.Main
	g := given{
		Enabled:  m.Enabled,
		LogLevel: m.LogLevel,
		// The portal's URLs, made once: the portal, the 511 responder,
		// DHCP option 114 and lobby check all take them from here.
		URLs:   portal.NewURLs(m.Address, m.Port, m.Hostname, m.TLSPort, m.TLS()),
		Shaper: shaper.Config{Interface: m.Interface},
		Session: session.Config{
			SessionTimeout: m.SessionTimeout,
			IdleTimeout:    m.IdleTimeout,
			DownloadRate:   m.DownloadRate,
			UploadRate:     m.UploadRate,
			Quota:          m.Quota,
			TrustedMAC:     m.TrustedMAC,
			BlockedMAC:     m.BlockedMAC,
			MaxClients:     m.MaxClients,
			IPv6:           m.IPv6,
		},
		DNS: dns.Config{
			Enabled:      c.DNS.Enabled,
			Address:      m.Address,
			RedirectPort: m.DNSRedirectPort(),
			Hostname:     m.Hostname,
			AllowDomain:  m.AllowDomain,
			Upstream:     c.DNS.Upstream,
			CacheSize:    c.DNS.CacheSize,
		},
	}
	g.DHCP = dhcp.Config{
		Enabled:   c.DHCP.Enabled,
		Interface: m.Interface,
		Server:    m.Address,
		Subnet:    m.Subnet,
		LeaseTime: c.DHCP.LeaseTime,
		Domain:    c.DHCP.Domain,
	}
	if m.Subnet.IsValid() {
		if first, last, err := c.Pool(); err == nil {
			g.DHCP.First, g.DHCP.Last = first, last
		}
	}
	for _, h := range c.Hosts {
		g.DHCP.Hosts = append(g.DHCP.Hosts, dhcp.Host{MAC: h.MAC, IP: h.IP, Name: h.Name})
	}
	if m.TLS() {
		// RFC 8910 §2: https only, since clients ignore a plain-http URI.
		g.DHCP.CaptiveURL = g.URLs.API
	}
	ports := []uint16{m.Port}
	if m.TLS() && m.TLSPort != m.Port {
		ports = append(ports, m.TLSPort)
	}
	relayHTTP, relayTLS := m.RelayPorts()
	g.Firewall = firewall.Config{
		Backend: m.Firewall, Interface: m.Interface, Address: m.Address, Ports: ports,
		RelayHTTP: relayHTTP, RelayTLS: relayTLS, DNSRedirect: m.DNSRedirectPort(),
		AllowAddress: m.AllowAddress,
	}
	if c.Admin.Enabled {
		g.Firewall.AdminPort = c.Admin.Listen.Port()
	}
	g.Portal = portal.Config{
		Address: m.Address, Port: m.Port, Hostname: m.Hostname, URLs: g.URLs,
		TLSCert: m.TLSCert, TLSKey: m.TLSKey, TLSPort: m.TLSPort,
		VenueName: m.VenueName, Terms: m.Terms, TemplateDir: m.TemplateDir,
		VenueURL: m.VenueURL,
	}
	g.Responder = responder.Config{
		Interface: m.Interface, Redirect: g.URLs.Redirect, API: g.URLs.API,
		ProbeRedirect: m.ProbeRedirect, AllowAddress: m.AllowAddress,
	}
	g.Admin = admin.Config{
		Enabled: c.Admin.Enabled, Listen: c.Admin.Listen, PasswordHash: c.Admin.PasswordHash,
		Metrics: c.Admin.Metrics, MetricsOpen: c.Admin.MetricsOpen,
		Portal: g.URLs,
	}
	g.Relay = relay.Config{
		HTTP: netip.AddrPortFrom(m.Address, relayHTTP),
		TLS:  netip.AddrPortFrom(m.Address, relayTLS),
	}
	g.SignIn = signin.Config{Click: signin.ClickConfig{Limits: clickLimits(&c.Click), Cooldown: c.Click.Cooldown}, Voucher: c.Voucher}
	for _, a := range m.Auth {
		g.SignIn.Methods = append(g.SignIn.Methods, session.Method(a))
	}
	g.RADIUS = deriveRADIUS(c)
	if g.RADIUS.Enabled {
		g.Firewall.DASPort = g.RADIUS.DASPort
	}
	return g
}

func deriveRADIUS(c *config.Config) radiusConfig {
	r := &c.RADIUS
	nas := r.NASIdentifier
	if nas == "" {
		nas, _ = os.Hostname()
	}
	require := radius.RequireAuto
	switch r.RequireMessageAuthenticator {
	case "1":
		require = radius.RequireAlways
	case "0":
		require = radius.RequireNever
	}
	return radiusConfig{
		Enabled: c.RADIUSUsed(),
		Client: radius.Config{
			Servers: r.Servers, AcctPort: r.AcctPort, Secret: []byte(r.Secret),
			NASIdentifier: nas, NASIP: c.Main.Address,
			Timeout: r.Timeout, Retries: r.Retries, Require: require,
		},
		MACAuth: r.MACAuth,
		Interim: r.InterimInterval,
		DASPort: r.DASPort,
		DAS: radius.DASConfig{
			Secret: []byte(r.Secret), Clients: r.DASFrom(),
			NASIP: c.Main.Address, NASIdentifier: nas,
		},
	}
}

// clickLimits are the limits that config click sets; the others are
// config lobby's (session.Limits.Over).
func clickLimits(c *config.Click) session.Limits {
	var l session.Limits
	if c.SessionTimeout != nil {
		l.SessionTimeout, l.Given = *c.SessionTimeout, l.Given|session.GivenSessionTimeout
	}
	if c.IdleTimeout != nil {
		l.IdleTimeout, l.Given = *c.IdleTimeout, l.Given|session.GivenIdleTimeout
	}
	if c.DownloadRate != nil {
		l.DownloadRate, l.Given = *c.DownloadRate, l.Given|session.GivenDownloadRate
	}
	if c.UploadRate != nil {
		l.UploadRate, l.Given = *c.UploadRate, l.Given|session.GivenUploadRate
	}
	if c.Quota != nil {
		l.Quota, l.Given = *c.Quota, l.Given|session.GivenQuota
	}
	return l
}
