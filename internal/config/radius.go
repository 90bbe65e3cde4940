package config

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/lobby-fw/lobby/internal/uci"
)

// RADIUS is the `config radius` section (SPEC §7).
type RADIUS struct {
	// Servers are tried in order, each at its authentication port
	// (default 1812); accounting goes to AcctPort of the same addresses.
	Servers         []netip.AddrPort
	Secret          string
	AcctPort        uint16 // 0: no accounting
	NASIdentifier   string // "": the system's host name
	Timeout         time.Duration
	Retries         int
	MACAuth         bool
	InterimInterval time.Duration
	DASPort         uint16       // 0: no Dynamic Authorization listener
	DASClients      []netip.Addr // nil: the servers' addresses
	// RequireMessageAuthenticator is auto, 1 or 0 as written.
	RequireMessageAuthenticator string
	// Present is set when the file has a config radius section.
	Present bool
	pos     uci.Pos
}

// MaxRADIUSWait bounds how long a guest's sign-in may wait for RADIUS
// servers that do not answer (SPEC §7: timeout × (retries + 1) each): the
// page must answer before a phone's sign-in window gives up on it.
const MaxRADIUSWait = 20 * time.Second

// RADIUSUsed reports whether RADIUS is in use: a sign-in method or MAC
// authentication asks the servers.
func (c *Config) RADIUSUsed() bool {
	return c.RADIUS.MACAuth || slices.Contains(c.Main.Auth, AuthRADIUS)
}

// DASFrom is who may send Disconnect- and CoA-Requests: das_client,
// else the servers.
func (r *RADIUS) DASFrom() []netip.Addr {
	if r.DASClients != nil {
		return r.DASClients
	}
	out := make([]netip.Addr, 0, len(r.Servers))
	for _, s := range r.Servers {
		out = append(out, s.Addr())
	}
	return out
}

// radiusSection is `config radius`: every option applies on a reload
// (SPEC §5), das_port by moving the listener.
var radiusSection = section[RADIUS]{typ: "radius", into: func(c *Config, s *uci.Section) *RADIUS {
	c.RADIUS.pos = s.Pos
	c.RADIUS.Present = s.Pos.Line > 0
	return &c.RADIUS
}, options: []option[RADIUS]{
	{name: "server", example: "198.51.100.10:1645", read: func(d *decoder, n string, r *RADIUS) {
		for _, v := range d.values(n) {
			ap, err := netip.ParseAddrPort(v.Text)
			if err != nil {
				a, aerr := netip.ParseAddr(v.Text)
				if aerr != nil || a.Zone() != "" {
					d.errorf(v.Pos, "server %q is not an ADDRESS or ADDRESS:PORT", v.Text)
					continue
				}
				ap = netip.AddrPortFrom(a, 1812)
			}
			if ap.Port() == 0 || ap.Addr().IsUnspecified() || ap.Addr().IsMulticast() {
				d.errorf(v.Pos, "server %q is not an address a RADIUS server can have", v.Text)
				continue
			}
			r.Servers = append(r.Servers, ap)
		}
	}},
	{name: "secret", example: "an0ther-secret", read: func(d *decoder, n string, r *RADIUS) { d.str(n, &r.Secret) }},
	{name: "acct_port", dflt: "1813", example: "1646", read: func(d *decoder, n string, r *RADIUS) {
		if v, ok := d.one(n); ok && v.Text == "0" {
			r.AcctPort = 0
			return
		}
		d.port(n, &r.AcctPort)
	}},
	{name: "nas_identifier", example: "cafe-1", read: func(d *decoder, n string, r *RADIUS) { d.str(n, &r.NASIdentifier) }},
	{name: "timeout", dflt: "3s", example: "1s", read: func(d *decoder, n string, r *RADIUS) {
		d.duration(n, &r.Timeout)
		if v, ok := d.one(n); ok && (r.Timeout < 100*time.Millisecond || r.Timeout > time.Minute) {
			d.errorf(v.Pos, "option timeout %s: want between 100ms and 1m", v.Text)
			r.Timeout = 3 * time.Second
		}
	}},
	{name: "retries", dflt: "2", example: "0", read: func(d *decoder, n string, r *RADIUS) { d.integer(n, &r.Retries, 0, 10) }},
	{name: "mac_auth", dflt: "0", example: "1", read: func(d *decoder, n string, r *RADIUS) { d.boolean(n, &r.MACAuth) }},
	{name: "interim_interval", dflt: "10m", example: "5m", read: func(d *decoder, n string, r *RADIUS) {
		d.duration(n, &r.InterimInterval)
		if v, ok := d.one(n); ok && r.InterimInterval < time.Minute {
			d.errorf(v.Pos, "option interim_interval %s: at least 1m (RFC 2869 §5.16)", v.Text)
			r.InterimInterval = 10 * time.Minute
		}
	}},
	{name: "das_port", dflt: "3799", example: "1700", read: func(d *decoder, n string, r *RADIUS) {
		if v, ok := d.one(n); ok && v.Text == "0" {
			r.DASPort = 0
			return
		}
		d.port(n, &r.DASPort)
	}},
	{name: "das_client", example: "198.51.100.11", read: func(d *decoder, n string, r *RADIUS) {
		for _, v := range d.values(n) {
			a, err := netip.ParseAddr(v.Text)
			if err != nil || a.Zone() != "" || a.IsUnspecified() {
				d.errorf(v.Pos, "das_client %q is not an address", v.Text)
				continue
			}
			r.DASClients = append(r.DASClients, a.Unmap())
		}
	}},
	{name: "require_message_authenticator", dflt: "auto", example: "1", read: func(d *decoder, n string, r *RADIUS) {
		d.word(n, &r.RequireMessageAuthenticator, "auto", "1", "0")
	}},
}, check: func(d *decoder, r *RADIUS) {
	if !r.Present {
		return
	}
	if d.sec.Option("server") == nil {
		d.errorf(d.sec.Pos, "config radius has no list server: give the RADIUS server's address, like 192.0.2.10")
	}
	if wait := r.Timeout * time.Duration(r.Retries+1) * time.Duration(len(r.Servers)); wait > MaxRADIUSWait {
		d.errorf(d.sec.Pos, "config radius: a guest's sign-in would wait up to %s (timeout × (retries + 1) × %d servers) when no server answers; lower timeout or retries to keep it within %s", wait, len(r.Servers), MaxRADIUSWait)
	}
	if r.Secret == "" {
		d.errorf(d.sec.Pos, "config radius has no option secret: give the shared secret of the server's clients.conf")
	} else if strings.ContainsAny(r.Secret, "\x00") {
		d.errorf(d.sec.Pos, "option secret holds a NUL byte")
	}
}}
