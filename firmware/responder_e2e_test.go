//go:build e2e

package main

import (
	"strconv"
	"strings"
	"testing"
)

// A preauth client's HTTP to any address, the portal's own included, gets
// the 511 of SPEC §3 from the raw socket; Android's probe and a
// probe_redirect entry get 302 Found.
func TestResponder511(t *testing.T) {
	d := newDaemon(t, "list probe_redirect 'detect.example.net/check'")
	d.start()
	respStatic(t, 1)

	tests := []struct {
		name   string
		args   []string
		status string
		orig   string // the URL redir carries
		head   bool
	}{
		{"an internet address", []string{"http://198.51.100.10/some/path?x=1&y=%C3%A9"}, "511 Network Authentication Required",
			"http://198.51.100.10/some/path?x=1&y=%C3%A9", false},
		{"the portal's own address", []string{"http://10.77.0.1/"}, "511 Network Authentication Required", "http://10.77.0.1/", false},
		{"a name in Host", []string{"-H", "Host: www.example.com", "http://198.51.100.12/a/b"}, "511 Network Authentication Required",
			"http://www.example.com/a/b", false},
		{"HEAD", []string{"-I", "http://198.51.100.10/"}, "511 Network Authentication Required", "http://198.51.100.10/", true},
		{"Apple's probe", []string{"-H", "Host: captive.apple.com", "http://198.51.100.10/hotspot-detect.html"}, "511 Network Authentication Required",
			"http://captive.apple.com/hotspot-detect.html", false},
		{"Android's probe", []string{"-H", "Host: connectivitycheck.gstatic.com", "http://198.51.100.10/generate_204"}, "302 Found",
			"http://connectivitycheck.gstatic.com/generate_204", false},
		{"Android's other probe", []string{"-H", "Host: www.google.com", "http://198.51.100.11/gen_204"}, "302 Found",
			"http://www.google.com/gen_204", false},
		{"probe_redirect", []string{"-H", "Host: detect.example.net", "http://198.51.100.13/check"}, "302 Found",
			"http://detect.example.net/check", false},
	}
	for _, tt := range tests {
		r, err := respCurl(t, 1, tt.args...)
		if err != nil {
			t.Errorf("%s: curl %v: %v\n%s", tt.name, tt.args, err, r.raw)
			continue
		}
		if r.status != "HTTP/1.1 "+tt.status {
			t.Errorf("%s: status %q, want %q\n%s", tt.name, r.status, tt.status, r.raw)
			continue
		}
		portal := respPortal(tt.orig)
		want := map[string]string{
			"Content-Type":  "text/html; charset=utf-8",
			"Cache-Control": "no-store",
			"Connection":    "close",
		}
		if tt.status == "302 Found" {
			want["Location"] = portal
		}
		for k, v := range want {
			if r.fields[k] != v {
				t.Errorf("%s: %s: %q, want %q", tt.name, k, r.fields[k], v)
			}
		}
		if len(r.fields) != len(want)+1 { // + Content-Length
			t.Errorf("%s: fields %v, want %v and Content-Length", tt.name, r.fields, want)
		}
		n, err := strconv.Atoi(r.fields["Content-Length"])
		if tt.head {
			if err != nil || n == 0 || r.body != "" {
				t.Errorf("%s: Content-Length %q with a body of %d bytes", tt.name, r.fields["Content-Length"], len(r.body))
			}
			continue
		}
		if err != nil || n != len(r.body) {
			t.Errorf("%s: Content-Length %q, body %d bytes", tt.name, r.fields["Content-Length"], len(r.body))
		}
		if !strings.Contains(r.body, `<meta http-equiv="refresh" content="0; url=`+portal+`">`) ||
			!strings.Contains(r.body, `<a href="`+portal+`">sign in</a>`) {
			t.Errorf("%s: body lacks the refresh or the link to %s:\n%s", tt.name, portal, r.body)
		}
	}

	// curl follows the 511's link no further, but a browser's next stop
	// is the portal, which must answer the link.
	if out, err := inNS(t, clientNS(1), "curl", "--noproxy", "*", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3",
		respPortal("http://198.51.100.10/")); err != nil || out != "200" {
		t.Errorf("the portal link answers %q (%v), want 200", out, err)
	}
	if got := respAnswered(d.logText(), clientMAC(1)); got != len(tests) {
		t.Errorf("the log has %d answers for %s, want %d", got, clientMAC(1), len(tests))
	}
}

// Only preauth clients are answered: a signed-in client's HTTP is left to
// the firewall from its next connection on, and a signed-out one is
// answered again.
func TestResponderOnlyPreauth(t *testing.T) {
	d := newDaemon(t)
	d.start()
	respStatic(t, 1)
	respStatic(t, 2)
	mac := clientMAC(1)

	if r, err := respCurl(t, 1, "http://198.51.100.10/"); err != nil || !strings.Contains(r.status, " 511 ") {
		t.Fatalf("preauth: %q %v", r.status, err)
	}
	if _, _, code := d.ctl("auth", mac); code != 0 {
		t.Fatalf("ctl auth %s failed", mac)
	}
	mark := len(d.logText())
	r, err := respCurl(t, 1, "http://198.51.100.10/")
	// The firewall forwards it: the origin answers.
	if err != nil || !strings.Contains(r.body, "LOBBY-ORIGIN-OK") {
		t.Errorf("signed in: not the origin's page (%v):\n%s", err, r.raw)
	}
	// Meanwhile the other client is still a preauth one.
	if r, err := respCurl(t, 2, "http://198.51.100.10/"); err != nil || !strings.Contains(r.status, " 511 ") {
		t.Errorf("other client: %q %v", r.status, err)
	}
	after := d.logText()[mark:]
	if n := respAnswered(after, mac); n != 0 {
		t.Errorf("the responder answered the signed-in client %d times:\n%s", n, after)
	}
	if !strings.Contains(after, `msg="responder: passing" mac=`+mac+` state=authenticated`) {
		t.Errorf("no 'responder: passing' line for the signed-in client:\n%s", after)
	}
	if respAnswered(after, clientMAC(2)) != 1 {
		t.Errorf("no answer logged for the preauth client:\n%s", after)
	}

	if _, _, code := d.ctl("deauth", mac); code != 0 {
		t.Fatalf("ctl deauth %s failed", mac)
	}
	if r, err := respCurl(t, 1, "http://198.51.100.10/"); err != nil || !strings.Contains(r.status, " 511 ") {
		t.Errorf("signed out again: %q %v", r.status, err)
	}
}
