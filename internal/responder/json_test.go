package responder

import (
	"encoding/json"
	"net/netip"
	"net/url"
	"strconv"
	"testing"
)

func TestAcceptJSON(t *testing.T) {
	for _, tt := range []struct {
		accept []string // Accept lines; none: no field
		json   bool
	}{
		{nil, false},
		{[]string{"*/*"}, false}, // curl
		{[]string{"application/json"}, true},
		{[]string{"Application/JSON; q=0.9"}, true},
		{[]string{"application/captive+json"}, true},
		{[]string{"text/plain, application/json;q=0.5, */*;q=0.1"}, true},
		// Browsers name text/html.
		{[]string{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, false},
		{[]string{"application/json, text/html"}, false},
		{[]string{"application/json", "text/html"}, false},
		{[]string{"application/jsonx"}, false},
	} {
		raw := "GET /v1/thing HTTP/1.1\r\nHost: api.example.com\r\n"
		for _, a := range tt.accept {
			raw += "Accept: " + a + "\r\n"
		}
		req, ok := parseRequest([]byte(raw + "User-Agent: x\r\n\r\n"))
		if !ok || req.json != tt.json || string(req.host) != "api.example.com" {
			t.Errorf("Accept %q: json %v, host %q; want json %v", tt.accept, req.json, req.host, tt.json)
		}
	}
	// An Accept field cut by the end of the segment is not used.
	if req, _ := parseRequest([]byte("GET / HTTP/1.1\r\nHost: h\r\nAccept: application/json")); req.json {
		t.Error("a cut Accept field was used")
	}
}

func TestRenderJSON(t *testing.T) {
	p := newPages("http://10.77.0.1:2050/?redir=", []string{"detect.example.net/check"}).withAPI("http://10.77.0.1:2050/api/captive")
	var s scratch
	server := netip.MustParseAddrPort("198.51.100.10:80")
	req, _ := parseRequest([]byte("GET /v1/items?a=\"b\" HTTP/1.1\r\nHost: api.example.com\r\nAccept: application/json\r\n\r\n"))
	resp, status := p.render(nil, &s, req, server)
	st, fields, body := parseResponse(t, resp)
	if status != 511 || st != "HTTP/1.1 511 Network Authentication Required" {
		t.Errorf("status %d %q", status, st)
	}
	want := map[string]string{
		"Content-Type": "application/json", "Cache-Control": "no-store", "Connection": "close",
		"Content-Length": strconv.Itoa(len(body)),
	}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("%s: %q, want %q", k, fields[k], v)
		}
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	portal := "http://10.77.0.1:2050/?redir=" + url.QueryEscape(`http://api.example.com/v1/items?a="b"`)
	if len(doc) != 4 || doc["error"] != "Network Authentication Required" || doc["code"] != float64(511) ||
		doc["captive-portal-api"] != "http://10.77.0.1:2050/api/captive" {
		t.Errorf("body %s", body)
	}
	if u, err := url.Parse(doc["user-portal-url"].(string)); err != nil || u.Query().Get("redir") != `http://api.example.com/v1/items?a="b"` {
		t.Errorf("user-portal-url %v, want %s", doc["user-portal-url"], portal)
	}

	// HEAD: the same headers, no body.
	head, _ := parseRequest([]byte("HEAD /v1/items?a=\"b\" HTTP/1.1\r\nHost: api.example.com\r\nAccept: application/json\r\n\r\n"))
	hr, _ := p.render(nil, &s, head, server)
	if string(resp[:len(hr)]) != string(hr) || len(hr) == len(resp) {
		t.Errorf("HEAD %q", hr)
	}
	// A probe asking for JSON still gets its 302.
	probe, _ := parseRequest([]byte("GET /check HTTP/1.1\r\nHost: detect.example.net\r\nAccept: application/json\r\n\r\n"))
	if _, status := p.render(nil, &s, probe, server); status != 302 {
		t.Errorf("probe: %d", status)
	}
}
