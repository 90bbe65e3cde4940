package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/lobby-fw/lobby/internal/config"
)

// describe writes, for `lobby check`, what lobby would do with this config.
func describe(c *config.Config, w io.Writer) {
	m := &c.Main
	addr := "the first IPv4 address of " + m.Interface
	if m.Address.IsValid() {
		addr = m.Address.String()
	}
	fmt.Fprintf(w, "clients on %s; portal at %s port %d, always reachable as %s\n", m.Interface, addr, m.Port, m.Hostname)
	if m.TLS() {
		fmt.Fprintf(w, "HTTPS portal on port %d (%s, %s); DHCP option 114 and the captive API carry %s\n", m.TLSPort, m.TLSCert, m.TLSKey, derive(c).URLs.API)
	}
	fmt.Fprintf(w, "sign-in: %s; session limit %s, idle limit %s, download %s, upload %s, quota %s\n", strings.Join(m.Auth, ", "),
		durationOrNone(m.SessionTimeout), durationOrNone(m.IdleTimeout), unitOrNone(m.DownloadRate, config.FormatRate),
		unitOrNone(m.UploadRate, config.FormatRate), unitOrNone(m.Quota, config.FormatSize))
	if slices.Contains(m.Auth, config.AuthClick) {
		k := &c.Click
		var own []string
		if k.SessionTimeout != nil {
			own = append(own, "session limit "+durationOrNone(*k.SessionTimeout))
		}
		if k.IdleTimeout != nil {
			own = append(own, "idle limit "+durationOrNone(*k.IdleTimeout))
		}
		if k.DownloadRate != nil {
			own = append(own, "download "+unitOrNone(*k.DownloadRate, config.FormatRate))
		}
		if k.UploadRate != nil {
			own = append(own, "upload "+unitOrNone(*k.UploadRate, config.FormatRate))
		}
		if k.Quota != nil {
			own = append(own, "quota "+unitOrNone(*k.Quota, config.FormatSize))
		}
		if len(own) == 0 {
			own = []string{"config lobby's limits"}
		}
		fmt.Fprintf(w, "click: %s; cooldown %s\n", strings.Join(own, ", "), durationOrNone(k.Cooldown))
	}
	if slices.Contains(m.Auth, config.AuthVoucher) {
		v := &c.Voucher
		fmt.Fprintf(w, "voucher codes by default: %s from first use, %d device(s), download %s, upload %s, quota %s, valid %s\n",
			durationOrNone(v.Duration), v.Devices, unitOrNone(v.DownloadRate, config.FormatRate), unitOrNone(v.UploadRate, config.FormatRate),
			unitOrNone(v.Quota, config.FormatSize), durationOrNone(v.Valid))
	}
	fmt.Fprintf(w, "firewall backend: %s\n", m.Firewall)
	fmt.Fprintf(w, "client table: at most %d clients\n", m.MaxClients)
	if c.DHCP.Enabled {
		pool := fmt.Sprintf("host numbers %d-%d of the subnet", c.DHCP.Start, c.DHCP.Start+c.DHCP.Limit-1)
		if m.Subnet.IsValid() {
			if first, last, err := c.Pool(); err == nil {
				pool = fmt.Sprintf("%s-%s", first, last)
			}
		}
		fmt.Fprintf(w, "DHCP: pool %s (%d addresses), lease %s, domain %q, %d static host(s)\n", pool, c.DHCP.Limit, config.FormatDuration(c.DHCP.LeaseTime), c.DHCP.Domain, len(c.Hosts))
	} else {
		fmt.Fprintln(w, "DHCP: off")
	}
	if c.DNS.Enabled {
		up := "the nameservers of /etc/resolv.conf"
		if len(c.DNS.Upstream) > 0 {
			s := make([]string, len(c.DNS.Upstream))
			for i, a := range c.DNS.Upstream {
				s[i] = a.String()
			}
			up = strings.Join(s, ", ")
		}
		fmt.Fprintf(w, "DNS: hijacked until sign-in, then forwarded to %s with a %d-entry cache\n", up, c.DNS.CacheSize)
	} else {
		fmt.Fprintln(w, "DNS: off")
	}
	fmt.Fprintf(w, "trusted MACs: %d; blocked MACs: %d; walled garden: %d domain(s), %d address range(s); extra probes: %d\n",
		len(m.TrustedMAC), len(m.BlockedMAC), len(m.AllowDomain), len(m.AllowAddress), len(m.ProbeRedirect))
	fmt.Fprintf(w, "state in %s; control socket %s; log level %s\n", m.StateDir, m.Socket, strings.ToLower(m.LogLevel.String()))
	if a := c.Admin; a.Enabled {
		pw := "password set"
		if a.PasswordHash == "" {
			pw = "no password yet: every login refused until lobby passwd sets one"
		}
		metrics := "off"
		if a.Metrics {
			metrics = "/metrics with the password"
			if a.MetricsOpen {
				metrics = "/metrics without a password"
			}
		}
		fmt.Fprintf(w, "admin pages at http://%s/ (user admin; %s); %s; the firewall keeps every guest off port %d\n", a.Listen, pw, metrics, a.Listen.Port())
	} else {
		fmt.Fprintln(w, "admin pages: off")
	}
	describeRADIUS(c, w)
	if len(c.Interfaces) > 0 {
		fmt.Fprintf(w, "%d 'config interface' section(s): used only when lobby runs as PID 1 (appliance)\n", len(c.Interfaces))
	}
}

func durationOrNone(d time.Duration) string {
	if d == 0 {
		return "none"
	}
	return config.FormatDuration(d)
}

// unitOrNone is n written by format, or "none" for 0.
func unitOrNone(n uint64, format func(uint64) string) string {
	if n == 0 {
		return "none"
	}
	return format(n)
}

// describeRADIUS says what config radius does (SPEC §7), and warns of
// require_message_authenticator '0'.
func describeRADIUS(c *config.Config, w io.Writer) {
	r := &c.RADIUS
	if !c.RADIUSUsed() {
		if r.Present {
			fmt.Fprintln(w, "RADIUS: config radius is unused (neither list auth 'radius' nor option mac_auth '1')")
		}
		return
	}
	servers := make([]string, len(r.Servers))
	for i, s := range r.Servers {
		servers[i] = s.String()
	}
	g := derive(c).RADIUS
	acct := "off"
	if r.AcctPort != 0 {
		acct = fmt.Sprintf("port %d, interim %s", r.AcctPort, config.FormatDuration(r.InterimInterval))
	}
	das := "off"
	if r.DASPort != 0 {
		from := make([]string, 0, len(g.DAS.Clients))
		for _, a := range g.DAS.Clients {
			from = append(from, a.String())
		}
		das = fmt.Sprintf("UDP port %d from %s; the firewall keeps every guest off it", r.DASPort, strings.Join(from, ", "))
	}
	macAuth := "off"
	if r.MACAuth {
		macAuth = "on"
	}
	fmt.Fprintf(w, "RADIUS: servers %s (timeout %s, %d retries), NAS-Identifier %q; MAC authentication %s; accounting %s; Dynamic Authorization %s\n",
		strings.Join(servers, ", "), config.FormatDuration(r.Timeout), r.Retries, g.Client.NASIdentifier, macAuth, acct, das)
	if r.RequireMessageAuthenticator == "0" {
		fmt.Fprintln(w, "warning: config radius: require_message_authenticator '0' accepts replies without a Message-Authenticator from every server (BlastRADIUS, CVE-2024-3596); use 'auto' or '1'")
	}
}
