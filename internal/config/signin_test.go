package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/voucher"
)

func TestSignInSections(t *testing.T) {
	c, ps := parse(t, `config lobby 'main'
	option interface 'br-lan'
	list auth 'voucher'
	list auth 'click'
	option download_rate '8mbit'
	option upload_rate '2mbit'
	option quota '1GB'
	option venue_url 'https://example.com/venue'

config click 'click'
	option session_timeout '30m'
	option quota '300MB'
	option cooldown '1d'

config voucher 'voucher'
	option devices '2'
	option download_rate '2mbit'
	option valid '30d'
`)
	if len(ps) != 0 {
		t.Fatal(ps)
	}
	m := c.Main
	if !slices.Equal(m.Auth, []string{"voucher", "click"}) || m.DownloadRate != 8e6 || m.UploadRate != 2e6 || m.Quota != 1e9 || m.VenueURL != "https://example.com/venue" {
		t.Errorf("lobby: %+v", m)
	}
	k := c.Click
	if k.SessionTimeout == nil || *k.SessionTimeout != 30*time.Minute || k.Quota == nil || *k.Quota != 300e6 ||
		k.IdleTimeout != nil || k.DownloadRate != nil || k.UploadRate != nil || k.Cooldown != 24*time.Hour {
		t.Errorf("click: %+v", k)
	}
	want := voucher.SpecDefaults()
	want.Devices, want.DownloadRate, want.Valid = 2, 2e6, 30*24*time.Hour
	if c.Voucher != want {
		t.Errorf("voucher: %+v, want %+v", c.Voucher, want)
	}
}

func TestSignInDefaults(t *testing.T) {
	c, ps := parse(t, "config lobby\n\toption interface 'x'\n")
	if len(ps) != 0 {
		t.Fatal(ps)
	}
	if c.Click != (Click{}) || c.Voucher != voucher.SpecDefaults() || c.Main.VenueURL != "" || c.Main.Quota != 0 {
		t.Errorf("defaults: click %+v, voucher %+v", c.Click, c.Voucher)
	}
	// option auth is a list of one.
	c, _ = parse(t, "config lobby\n\toption interface 'x'\n\toption auth 'voucher'\n")
	if !slices.Equal(c.Main.Auth, []string{"voucher"}) {
		t.Errorf("option auth 'voucher': %v", c.Main.Auth)
	}
}

func TestSignInProblems(t *testing.T) {
	for _, tt := range []struct{ text, want string }{
		{"\tlist auth 'radius'\n", "3: auth 'radius' needs a config radius section"},
		{"config radius\n\toption secret 's'\n", "3: config radius has no list server"},
		{"config radius\n\tlist server '192.0.2.10'\n", "3: config radius has no option secret"},
		{"config radius\n\tlist server 'radius.example'\n\toption secret 's'\n", "4: server \"radius.example\" is not"},
		{"config radius\n\tlist server '0.0.0.0'\n\toption secret 's'\n", "4: server \"0.0.0.0\" is not an address a RADIUS server"},
		{"config radius\n\tlist server '192.0.2.10'\n\toption secret 's'\n\toption interim_interval '30s'\n", "6: option interim_interval 30s: at least 1m"},
		{"config radius\n\tlist server '192.0.2.10'\n\toption secret 's'\n\toption timeout '0'\n", "6: option timeout"},
		{"config radius\n\tlist server '192.0.2.10'\n\toption secret 's'\n\toption require_message_authenticator 'yes'\n", "6: option require_message_authenticator is \"yes\""},
		{"config radius\n\tlist server '192.0.2.10'\n\toption secret 's'\n\tlist das_client 'any'\n", "6: das_client \"any\""},
		{"config radius\n\tlist server '192.0.2.10'\n\toption secret 's'\n\toption das_port '70000'\n", "6: option das_port"},
		{"config radius\n\tlist server '192.0.2.10'\n\tlist server '192.0.2.11'\n\toption secret 's'\n\toption timeout '5s'\n", "3: config radius: a guest's sign-in would wait up to 30s"},
		{"\tlist auth 'sms'\n", "3: auth \"sms\" is not a sign-in method"},
		{"\tlist auth 'click'\n\tlist auth 'click'\n", "4: auth \"click\" is listed twice"},
		{"\toption download_rate '5'\n", "3: option download_rate: bad rate"},
		{"\toption quota 'lots'\n", "3: option quota: bad size"},
		{"\toption venue_url 'javascript:alert(1)'\n", "3: option venue_url"},
		{"config click\n\toption cooldown 'soon'\n", "4: option cooldown"},
		{"config click\n\toption upload_rate '1mb'\n", "4: option upload_rate"},
		{"config voucher\n\toption devices '0'\n", "4: option devices"},
		{"config voucher\n\toption colour 'red'\n", "4: unknown option \"colour\" in 'config voucher'"},
	} {
		_, ps := parse(t, "config lobby\n\toption interface 'x'\n"+tt.text)
		line, msg, _ := strings.Cut(tt.want, ": ")
		if len(ps) != 1 || !strings.HasPrefix(ps[0].Error(), "lobby:"+line+": ") || !strings.Contains(ps[0].Error(), msg) {
			t.Errorf("%q: got %v, want lobby:%s", tt.text, ps, tt.want)
		}
	}
}

func TestRADIUSSection(t *testing.T) {
	c, ps := parse(t, `config lobby
	option interface 'x'
	list auth 'radius'
	list auth 'click'

config radius
	list server '192.0.2.10'
	list server '[2001:db8::10]:1645'
	option secret 'testing123'
	option acct_port '0'
	option mac_auth '1'
	option das_port '0'
`)
	if len(ps) != 0 {
		t.Fatal(ps)
	}
	r := c.RADIUS
	want := []netip.AddrPort{netip.MustParseAddrPort("192.0.2.10:1812"), netip.MustParseAddrPort("[2001:db8::10]:1645")}
	if !r.Present || !slices.Equal(r.Servers, want) || r.Secret != "testing123" || r.AcctPort != 0 || r.DASPort != 0 || !r.MACAuth {
		t.Errorf("radius: %+v", r)
	}
	if r.Timeout != 3*time.Second || r.Retries != 2 || r.InterimInterval != 10*time.Minute || r.RequireMessageAuthenticator != "auto" {
		t.Errorf("defaults: %+v", r)
	}
	if got := r.DASFrom(); !slices.Equal(got, []netip.Addr{netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")}) {
		t.Errorf("das clients default to the servers: %v", got)
	}
	if !c.RADIUSUsed() {
		t.Error("auth radius: RADIUS not in use")
	}
	// Without the section: not present, defaults still read, not used.
	c, ps = parse(t, "config lobby\n\toption interface 'x'\n")
	if len(ps) != 0 || c.RADIUS.Present || c.RADIUSUsed() || c.RADIUS.AcctPort != 1813 || c.RADIUS.DASPort != 3799 {
		t.Errorf("no radius section: %+v %v", c.RADIUS, ps)
	}
}
