package config

import (
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
		{"\tlist auth 'radius'\n", "3: auth 'radius': RADIUS sign-in is not built"},
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
