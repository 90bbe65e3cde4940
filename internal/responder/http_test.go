package responder

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		in           string
		ok           bool
		target, host string
		head         bool
	}{
		{"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", true, "/", "example.com", false},
		{"GET /a?b=c HTTP/1.1\r\nUser-Agent: x\r\nhOsT:  example.com:8080 \r\n\r\n", true, "/a?b=c", "example.com:8080", false},
		{"HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n", true, "/x", "h", true},
		{"GET / HTTP/1.0\r\n\r\n", true, "/", "", false},
		{"GET / HTTP/1.1\nHost: bare-lf.example\n\n", true, "/", "bare-lf.example", false},
		{"GET /only-the-line-so-far", true, "/only-the-line-so-far", "", false},
		{"GET / HTTP/1.1\r\nHost: cut-in-the-midd", true, "/", "", false},      // a cut field is not trusted
		{"GET / HTTP/1.1\r\nHost: bad<host>\r\n\r\n", true, "/", "", false},    // not a host
		{"GET / HTTP/1.1\r\nHost: \r\n\r\n", true, "/", "", false},             // empty
		{"GET / HTTP/1.1\r\n\r\nHost: body.example\r\n", true, "/", "", false}, // after the header section
		{"GET http://abs.example/p HTTP/1.1\r\nHost: other\r\n\r\n", true, "http://abs.example/p", "other", false},
		{"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", true, "*", "h", false},
		{"GET  HTTP/1.1\r\n", true, "", "", false},
		{"", false, "", "", false},
		{"GET", false, "", "", false},
		{" GET / HTTP/1.1\r\n", false, "", "", false},
		{"Cookie: a=b\r\n\r\n", false, "", "", false}, // the rest of a long request
		{"\x16\x03\x01\x00\xa5\x01", false, "", "", false},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZ / HTTP/1.1\r\n", false, "", "", false}, // no method is that long
	}
	for _, tt := range tests {
		req, ok := parseRequest([]byte(tt.in))
		if ok != tt.ok || string(req.target) != tt.target || string(req.host) != tt.host || req.head != tt.head {
			t.Errorf("parseRequest(%q) = target %q host %q head %v ok %v; want %q %q %v %v",
				tt.in, req.target, req.host, req.head, ok, tt.target, tt.host, tt.head, tt.ok)
		}
	}
}

func TestOriginalURL(t *testing.T) {
	long := "/" + strings.Repeat("a", 2000)
	tests := []struct {
		target, host string
		server       string
		want         string
	}{
		{"/p?q=1", "example.com", "198.51.100.10:80", "http://example.com/p?q=1"},
		{"/p", "", "198.51.100.10:80", "http://198.51.100.10/p"},
		{"/p", "", "198.51.100.10:8080", "http://198.51.100.10:8080/p"},
		{"http://abs.example/x", "ignored", "198.51.100.10:80", "http://abs.example/x"},
		{"*", "h", "198.51.100.10:80", "http://h/"},
		{"", "h", "198.51.100.10:80", "http://h/"},
		{long, "h", "198.51.100.10:80", ("http://h" + long)[:maxURL]},
		// A cut never leaves half a percent-escape.
		// "http://h/" is 9 bytes: the cut falls after "%", after "%4", and
		// after a whole "%41".
		{"/" + strings.Repeat("a", maxURL-9) + "%41%42", "h", "1.2.3.4:80", "http://h/" + strings.Repeat("a", maxURL-9)},
		{"/" + strings.Repeat("a", maxURL-10) + "%41%42", "h", "1.2.3.4:80", "http://h/" + strings.Repeat("a", maxURL-10)},
		{"/" + strings.Repeat("a", maxURL-11) + "%41%42", "h", "1.2.3.4:80", "http://h/" + strings.Repeat("a", maxURL-11)},
		{"/" + strings.Repeat("a", maxURL-12) + "%41%42", "h", "1.2.3.4:80", "http://h/" + strings.Repeat("a", maxURL-12) + "%41"},
	}
	for _, tt := range tests {
		req := request{target: []byte(tt.target)}
		if tt.host != "" {
			req.host = []byte(tt.host)
		}
		got := string(originalURL(nil, req, netip.MustParseAddrPort(tt.server)))
		if got != tt.want {
			t.Errorf("originalURL(%q, %q) = %q (%d bytes), want %q", tt.target, tt.host, got, len(got), tt.want)
		}
		if len(got) > maxURL {
			t.Errorf("originalURL(%q): %d bytes, over %d", tt.target, len(got), maxURL)
		}
	}
}

func TestProbeMatching(t *testing.T) {
	p := newPages("http://10.77.0.1:2050/?redir=", []string{"detect.example.net/check", "Mixed.Example/"})
	tests := []struct {
		host, target string
		want         int
	}{
		{"connectivitycheck.gstatic.com", "/generate_204", 302},
		{"connectivitycheck.android.com", "/generate_204", 302},
		{"clients1.google.com", "/generate_204", 302},
		{"clients3.google.com", "/generate_204", 302},
		{"www.google.com", "/gen_204", 302},
		{"CONNECTIVITYCHECK.GSTATIC.COM.", "/generate_204", 302}, // case and trailing dot
		{"connectivitycheck.gstatic.com:80", "/generate_204?x=1", 302},
		{"", "http://connectivitycheck.gstatic.com/generate_204", 302}, // absolute form
		{"detect.example.net", "/check", 302},
		{"mixed.example", "/", 302},
		{"connectivitycheck.gstatic.com", "/generate_204/", 511},
		{"connectivitycheck.gstatic.com", "/GENERATE_204", 511}, // paths are case-sensitive
		{"captive.apple.com", "/hotspot-detect.html", 511},      // Apple shows a 511 page fine
		{"www.msftconnecttest.com", "/connecttest.txt", 511},
		{"detectportal.firefox.com", "/canonical.html", 511},
		{"example.com", "/generate_204", 511},
		{"", "/generate_204", 511}, // no Host: the destination address never matches
	}
	var s scratch
	for _, tt := range tests {
		req := request{target: []byte(tt.target)}
		if tt.host != "" {
			req.host = []byte(tt.host)
		}
		resp, status := p.render(nil, &s, req, netip.MustParseAddrPort("198.51.100.10:80"))
		if status != tt.want {
			t.Errorf("%s %s: %d, want %d", tt.host, tt.target, status, tt.want)
		}
		if status == 302 && !strings.Contains(string(resp), "\r\nLocation: http://10.77.0.1:2050/?redir=") {
			t.Errorf("%s %s: 302 without Location:\n%s", tt.host, tt.target, resp)
		}
	}
}

// parseResponse splits a rendered response into status line, header
// fields and body, checking the framing.
func parseResponse(t testing.TB, resp []byte) (status string, fields map[string]string, body string) {
	t.Helper()
	head, body, ok := strings.Cut(string(resp), "\r\n\r\n")
	if !ok {
		t.Fatalf("no end of header section:\n%s", resp)
	}
	lines := strings.Split(head, "\r\n")
	fields = map[string]string{}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ": ")
		if !ok {
			t.Fatalf("bad field line %q", l)
		}
		fields[k] = v
	}
	return lines[0], fields, body
}

func TestRender(t *testing.T) {
	p := newPages("http://10.77.0.1:2050/?redir=", nil)
	var s scratch
	server := netip.MustParseAddrPort("198.51.100.10:80")
	req, _ := parseRequest([]byte("GET /a b<c>&\"'/%zz?x=1&y=\u00e9 HTTP/1.1\r\nHost: example.com\r\n\r\n"))
	resp, status := p.render(nil, &s, req, server)
	st, fields, body := parseResponse(t, resp)
	if status != 511 || st != "HTTP/1.1 511 Network Authentication Required" {
		t.Errorf("status %d %q", status, st)
	}
	want := map[string]string{
		"Content-Type":   "text/html; charset=utf-8",
		"Cache-Control":  "no-store",
		"Connection":     "close",
		"Content-Length": strconv.Itoa(len(body)),
	}
	if len(fields) != len(want) {
		t.Errorf("fields %v, want %v", fields, want)
	}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("%s: %q, want %q", k, fields[k], v)
		}
	}
	// The request line ends the target at the first space: "/a".
	link := "http://10.77.0.1:2050/?redir=" + url.QueryEscape("http://example.com/a")
	link = strings.ReplaceAll(link, "+", "%20")
	if !strings.Contains(body, `<meta http-equiv="refresh" content="0; url=`+link+`">`) ||
		!strings.Contains(body, `<a href="`+link+`">sign in</a>`) {
		t.Errorf("body lacks the refresh or the link to %s:\n%s", link, body)
	}

	// Every byte of a hostile target comes back from the link's query
	// exactly, and nothing in the page is left unescaped.
	hostile := "/<script>alert(1)</script>\"'&%00\x01\xff?q=a+b&r=%2F"
	resp, _ = p.render(nil, &s, request{target: []byte(hostile), host: []byte("h.example")}, server)
	_, _, body = parseResponse(t, resp)
	if strings.Contains(body, "<script>") || strings.Contains(body, "\x01") {
		t.Errorf("unescaped content in the page:\n%s", body)
	}
	i := strings.Index(body, `<a href="`) + len(`<a href="`)
	href := body[i : i+strings.IndexByte(body[i:], '"')]
	u, err := url.Parse(href)
	if err != nil {
		t.Fatalf("link %q: %v", href, err)
	}
	if got := u.Query().Get("redir"); got != "http://h.example"+hostile {
		t.Errorf("redir decodes to %q, want %q", got, "http://h.example"+hostile)
	}
	if u.Host != "10.77.0.1:2050" || u.Path != "/" {
		t.Errorf("link goes to %s%s", u.Host, u.Path)
	}

	// HEAD: the same header section, no body.
	head, _ := parseRequest([]byte("HEAD / HTTP/1.1\r\nHost: example.com\r\n\r\n"))
	get, _ := parseRequest([]byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"))
	hr, _ := p.render(nil, &s, head, server)
	gr, _ := p.render(nil, &s, get, server)
	if !strings.HasSuffix(string(hr), "\r\n\r\n") || !strings.HasPrefix(string(gr), string(hr)) || len(gr) == len(hr) {
		t.Errorf("HEAD response:\n%s\nGET response:\n%s", hr, gr)
	}
}

// The largest response stays under maxResponse, which the cookies rely on.
func TestMaxResponse(t *testing.T) {
	p := newPages("http://255.255.255.255:65535/?redir=", nil)
	var s scratch
	worst := request{target: []byte("/" + strings.Repeat("\x01", 4000)), host: []byte(strings.Repeat("a", 255))}
	for _, probe := range []bool{false, true} {
		if probe {
			p.probes[string(probeKey(nil, worst))] = true
		}
		resp, status := p.render(nil, &s, worst, netip.MustParseAddrPort("255.255.255.255:65535"))
		if probe != (status == 302) {
			t.Errorf("probe %v: status %d", probe, status)
		}
		if len(resp) > maxResponse {
			t.Errorf("status %d: %d bytes, over maxResponse %d", status, len(resp), maxResponse)
		}
		t.Logf("worst case %d: %d bytes", status, len(resp))
	}
}
