package responder

import (
	"io"
	"log/slog"
	"net/netip"
	"testing"
)

func TestNew(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tt := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"fine", Config{Interface: "br-lan", Redirect: redirect}, true},
		{"no interface", Config{Redirect: redirect}, false},
		{"no portal", Config{Interface: "br-lan"}, false},
		{"not http", Config{Interface: "br-lan", Redirect: "ftp://10.77.0.1/"}, false},
	} {
		r, err := New(tt.cfg, states{}, log)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err %v", tt.name, err)
		}
		if err == nil && (len(r.cfg.Ports) != 1 || r.cfg.Ports[0] != 80) {
			t.Errorf("%s: ports %v, want [80]", tt.name, r.cfg.Ports)
		}
	}
}

func TestInGarden(t *testing.T) {
	dynamic := netip.MustParseAddr("192.0.2.7")
	r, err := New(Config{Interface: "br-lan", Redirect: redirect,
		AllowAddress: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("198.51.100.20/32")},
		Garden:       func(a netip.Addr) bool { return a == dynamic },
	}, states{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for a, want := range map[string]bool{
		"203.0.113.1": true, "203.0.113.255": true, "198.51.100.20": true, "192.0.2.7": true,
		"198.51.100.10": false, "203.0.114.1": false, "10.77.0.1": false,
	} {
		if got := r.inGarden(netip.MustParseAddr(a)); got != want {
			t.Errorf("inGarden(%s) = %v, want %v", a, got, want)
		}
	}
}

// Config's walled garden (AllowAddress and Garden) reaches the handler:
// segments to it are passed, and the rest answered.
func TestConfigGarden(t *testing.T) {
	learned := map[netip.Addr]bool{}
	r, err := New(Config{Interface: "br-lan", Redirect: redirect,
		AllowAddress: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")},
		Garden:       func(a netip.Addr) bool { return learned[a] },
	}, states{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var sent int
	h := r.handler(routerMAC, 1500, func([]byte) error { sent++; return nil })
	learned[netip.MustParseAddr("192.0.2.7")] = true
	for dst, want := range map[string]verdict{
		"203.0.113.9:80": passed, "192.0.2.7:80": passed, "192.0.2.8:80": synAcked,
	} {
		sent = 0
		if v := h.handle(seg{src: client, dst: dst, seq: isn, syn: true}.frame(t), t0); v != want || (sent > 0) != (want == synAcked) {
			t.Errorf("SYN to %s: verdict %v with %d frames sent, want %v", dst, v, sent, want)
		}
	}
	if n := r.Stats().Passed.Load(); n != 2 {
		t.Errorf("%d passed, want 2", n)
	}
}

// A reload changes the link, the probe list and the walled garden by
// address of the next answers.
func TestReload(t *testing.T) {
	r, err := New(Config{Interface: "br-lan", Redirect: redirect}, states{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	garden := netip.MustParseAddr("198.51.100.7")
	if r.inGarden(garden) {
		t.Fatal("in the garden before the reload")
	}
	r.Reload(Config{Interface: "br-lan", Redirect: "http://10.77.0.1:3050/?redir=",
		ProbeRedirect: []string{"detect.example.net/check"}, AllowAddress: []netip.Prefix{netip.PrefixFrom(garden, 32)}})
	if !r.inGarden(garden) {
		t.Error("allow_address not applied")
	}
	p := r.set.Load().pages
	if p.portal != "http://10.77.0.1:3050/?redir=" || !p.probes["detect.example.net/check"] {
		t.Errorf("pages after reload: %q %v", p.portal, p.probes)
	}
}
