package config

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/lobby-fw/lobby/internal/uci"
	"github.com/lobby-fw/lobby/internal/voucher"
)

// Sign-in methods of `list auth` (SPEC §2).
const (
	AuthClick   = "click"
	AuthVoucher = "voucher"
	AuthRADIUS  = "radius"
)

// Click is the `config click` section (SPEC §2): what a click-through
// sign-in grants. A nil limit is not set: config lobby's applies.
type Click struct {
	SessionTimeout *time.Duration
	IdleTimeout    *time.Duration
	DownloadRate   *uint64 // bit/s
	UploadRate     *uint64 // bit/s
	Quota          *uint64 // bytes
	Cooldown       time.Duration
}

// clickSection is `config click`: each limit falls back to config lobby's.
var clickSection = section[Click]{typ: "click", into: func(c *Config, _ *uci.Section) *Click { return &c.Click }, options: []option[Click]{
	{name: "session_timeout", example: "30m", read: func(d *decoder, n string, c *Click) { c.SessionTimeout = d.optDuration(n) }},
	{name: "idle_timeout", example: "10m", read: func(d *decoder, n string, c *Click) { c.IdleTimeout = d.optDuration(n) }},
	{name: "download_rate", example: "2mbit", read: func(d *decoder, n string, c *Click) { c.DownloadRate = d.optUnits(n, (*decoder).rate) }},
	{name: "upload_rate", example: "512kbit", read: func(d *decoder, n string, c *Click) { c.UploadRate = d.optUnits(n, (*decoder).rate) }},
	{name: "quota", example: "300MB", read: func(d *decoder, n string, c *Click) { c.Quota = d.optUnits(n, (*decoder).size) }},
	{name: "cooldown", dflt: "0", example: "1d", read: func(d *decoder, n string, c *Click) { d.duration(n, &c.Cooldown) }},
}}

// voucherSection is `config voucher`: the defaults of `ctl voucher create`.
var voucherSection = section[voucher.Defaults]{typ: "voucher", into: func(c *Config, _ *uci.Section) *voucher.Defaults { return &c.Voucher }, options: []option[voucher.Defaults]{
	{name: "duration", dflt: "1d", example: "2h", read: func(d *decoder, n string, v *voucher.Defaults) { d.duration(n, &v.Duration) }},
	{name: "devices", dflt: "1", example: "3", read: func(d *decoder, n string, v *voucher.Defaults) { d.integer(n, &v.Devices, 1, voucher.MaxDevices) }},
	{name: "download_rate", dflt: "0", example: "4mbit", read: func(d *decoder, n string, v *voucher.Defaults) { d.rate(n, &v.DownloadRate) }},
	{name: "upload_rate", dflt: "0", example: "1mbit", read: func(d *decoder, n string, v *voucher.Defaults) { d.rate(n, &v.UploadRate) }},
	{name: "quota", dflt: "0", example: "2GB", read: func(d *decoder, n string, v *voucher.Defaults) { d.size(n, &v.Quota) }},
	{name: "valid", dflt: "365d", example: "30d", read: func(d *decoder, n string, v *voucher.Defaults) { d.duration(n, &v.Valid) }},
}}

// auth reads `list auth` (or `option auth`, one entry; a value may also
// name several, separated by spaces, as some OpenWrt tools write lists).
func (d *decoder) auth(name string, dst *[]string) {
	vs := d.values(name)
	if vs == nil {
		return
	}
	var out []string
	bad := false
	for _, v := range vs {
		for _, m := range strings.Fields(v.Text) {
			switch {
			case m != AuthClick && m != AuthVoucher && m != AuthRADIUS:
				d.errorf(v.Pos, "auth %q is not a sign-in method; want click, voucher or radius", m)
				bad = true
			case slices.Contains(out, m):
				d.errorf(v.Pos, "auth %q is listed twice", m)
			default:
				out = append(out, m)
			}
		}
	}
	if len(out) == 0 && !bad {
		d.errorf(vs[0].Pos, "list auth names no sign-in method; want click, voucher, radius or several")
		return
	}
	*dst = out
}

// venueURL reads an RFC 8908 venue-info-url: an absolute http or https URL.
func (d *decoder) venueURL(name string, dst *string) {
	if v, ok := d.one(name); ok && v.Text != "" {
		u, err := url.Parse(v.Text)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(v.Text, " \t\n\"'<>") {
			d.errorf(v.Pos, "option %s %q: want an absolute http or https URL like https://example.com/venue", name, v.Text)
			return
		}
		*dst = v.Text
	}
}

// optUnits reads a rate or a size (read: decoder.rate, decoder.size) of an
// option that may be absent (nil).
func (d *decoder) optUnits(name string, read func(d *decoder, name string, dst *uint64)) *uint64 {
	if d.sec.Option(name) == nil {
		d.values(name) // known, though absent
		return nil
	}
	var n uint64
	read(d, name, &n)
	return &n
}

// optDuration is duration for an option that may be absent (nil).
func (d *decoder) optDuration(name string) *time.Duration {
	if d.sec.Option(name) == nil {
		d.values(name)
		return nil
	}
	var t time.Duration
	d.duration(name, &t)
	return &t
}
