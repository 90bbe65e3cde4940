package portal

import (
	"bufio"
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/session"
)

// FuzzRequest feeds arbitrary requests, as they come off the wire, to the
// portal: it must answer each without a panic, never with a 5xx, and never
// sign anyone in or out, since no fuzzed request can hold a valid token.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		"GET /?redir=http%3A%2F%2F198.51.100.10%2F HTTP/1.1\r\nHost: 10.77.0.1:2050\r\n\r\n",
		"POST /login HTTP/1.1\r\nHost: 10.77.0.1:2050\r\nOrigin: http://10.77.0.1:2050\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 40\r\n\r\ntoken=AAAAAAAAAAAAAAAAAAAAAA&redir=http://x/",
		"POST /logout HTTP/1.1\r\nHost: portal.lan\r\nReferer: http://portal.lan:2050/status\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\ntoken=x",
		"GET /api/captive HTTP/1.1\r\nHost: example.com\r\n\r\n",
		"GET /static/portal.css HTTP/1.1\r\nHost: 10.77.0.1\r\n\r\n",
		"HEAD /status?redir=javascript:x HTTP/1.0\r\n\r\n",
	} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, signedIn bool) {
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return
		}
		fx := newFixture(t)
		if signedIn {
			fx.table.Auth(t.Context(), mac1, fx.table.NewGrant(session.MethodCtl, "", session.Limits{}))
		}
		before := fx.state(mac1)
		req.RemoteAddr = ip1 + ":40000"
		req.RequestURI = ""
		rec := httptest.NewRecorder()
		fx.s.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Errorf("%d for %q", rec.Code, raw)
		}
		if after := fx.state(mac1); after != before || fx.state(mac2) != session.Preauth {
			t.Errorf("state moved from %v to %v for %q", before, after, raw)
		}
		if loc := rec.Header().Get("Location"); loc != "" && rec.Code == 303 && req.Method == "POST" && !strings.HasPrefix(loc, "/") {
			t.Errorf("POST sent the browser to %q without a token", loc)
		}
	})
}

// FuzzTemplate feeds arbitrary text to the template parser, as an
// operator's file would be: it must not panic; an error names the file and
// a line of it; a parsed template renders without panicking, with values
// set and with values empty, and never lets a value's markup through; and a
// template without tags is the page as it is.
func FuzzTemplate(f *testing.F) {
	for _, name := range []string{pageLogin, pageStatus, pageError} {
		src, err := builtin.ReadFile("templates/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src))
	}
	for _, s := range []string{
		"", "plain }} {", "{{venue_name}}", "{{#notice}}a{{^redir}}b{{/redir}}{{/notice}}", "{{#x}}", "{{/notice}}",
		"{{ # terms }}{{terms}}{{/ terms}}", "{{signed_in}}", "{{.Title}}", "a\n{{venue_name\n}}", "{{{{}}}}", "{{#notice}}\n{{/redir}}",
	} {
		f.Add(s)
	}
	fields := allFields()
	const marker = `<evil'">`
	full := &Page{
		VenueName: marker, Terms: []string{marker, marker}, PortalURL: marker, Token: marker, Redir: marker, RedirHost: marker,
		Notice: marker, State: "authenticated", SignedIn: true, MAC: marker, IP: marker, TimeLeft: marker,
		Expires: time.Unix(1e9, 0), Title: marker, Message: marker, Back: marker,
	}
	f.Fuzz(func(t *testing.T, src string) {
		tm, err := parseTemplate("f.html", src, fields)
		if err != nil {
			msg := err.Error()
			rest, ok := strings.CutPrefix(msg, "f.html:")
			num, _, ok2 := strings.Cut(rest, ": ")
			n, nerr := strconv.Atoi(num)
			if !ok || !ok2 || nerr != nil || n < 1 || n > strings.Count(src, "\n")+1 {
				t.Fatalf("error %q does not name f.html:LINE", msg)
			}
			return
		}
		for _, p := range []*Page{full, {}} {
			var b bytes.Buffer
			tm.render(&b, p)
			out := b.String()
			if !strings.Contains(src, "{{") && out != src {
				t.Fatalf("%q rendered as %q", src, out)
			}
			if !strings.Contains(src, marker) && strings.Contains(out, marker) {
				t.Fatalf("%q let a value through unescaped: %q", src, out)
			}
		}
	})
}
