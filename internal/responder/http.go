package responder

import (
	"net/netip"
	"strconv"
	"strings"
)

// maxURL caps the original URL that the portal link carries (before it is
// percent-encoded): long enough for any page a person types or follows,
// short enough that the response stays a few segments and a fixed bound
// (maxResponse) holds.
const maxURL = 1024

// maxResponse bounds every response the responder renders (the worst case,
// a 1 KiB URL of bytes that all need escaping, is about 8 KiB; a test
// checks it). Cookies accept acknowledgements this far past the SYN-ACK.
const maxResponse = 16 << 10

// builtinProbes are the captive-portal probes whose detector takes a 511
// for "no internet" instead of "sign in", so they get 302 Found (SPEC §3):
// Android's. docs/responder.md lists them; option probe_redirect adds more.
var builtinProbes = [...]string{
	"connectivitycheck.gstatic.com",
	"connectivitycheck.android.com",
	"clients1.google.com",
	"clients3.google.com",
	"www.google.com",
}

// builtinProbePaths are the paths Android probes on each of builtinProbes.
var builtinProbePaths = [...]string{"/generate_204", "/gen_204"}

// request is what the responder reads of the first segment of a request.
// Its slices alias the segment.
type request struct {
	target []byte // the request-target, cut where the segment ends
	host   []byte // the Host header field's value; nil when absent or unusable
	head   bool   // a HEAD request: the response has no body
	// json is set when an Accept field names application/json or
	// application/captive+json and none names text/html: a program, not
	// a browser, which gets the 511 in JSON (SPEC §3).
	json bool
}

// parseRequest reads the request line and the Host header field from the
// start of p (RFC 9112 §3, §3.2). ok is false when p does not begin with a
// method token and a space: then it is not HTTP at all, or the rest of a
// request that did not fit its first segment.
//
// The responder keeps no state, so it cannot wait for more segments: it
// answers with what the first one holds. Every client puts the request
// line and Host first (Host is the first field for curl, browsers and the
// OS probes), so that is what matters; a target or Host cut by the end of
// the segment is used as far as it goes, or not at all for Host.
// Accept is read from the same segment: a field cut by its end is not
// used, and the answer is then the browser's.
func parseRequest(p []byte) (req request, ok bool) {
	sp := 0
	for sp < len(p) && sp <= 20 && isTchar(p[sp]) {
		sp++
	}
	if sp == 0 || sp > 20 || sp == len(p) || p[sp] != ' ' {
		return request{}, false
	}
	req.head = string(p[:sp]) == "HEAD"
	rest := p[sp+1:]
	end := 0
	for end < len(rest) && rest[end] != ' ' && rest[end] != '\r' && rest[end] != '\n' {
		end++
	}
	req.target = rest[:end]
	// The header fields start after the request line's LF.
	nl := indexByte(rest, '\n')
	if nl < 0 {
		return req, true
	}
	fields := rest[nl+1:]
	var html bool
	defer func() { req.json = req.json && !html }()
	for len(fields) > 0 {
		nl := indexByte(fields, '\n')
		if nl < 0 {
			break // a field cut by the end of the segment is not trusted
		}
		line := fields[:nl]
		fields = fields[nl+1:]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 0 {
			break // end of the header section
		}
		switch {
		case len(line) > 5 && line[4] == ':' && strings.EqualFold(string(line[:4]), "host"):
			if v := trimOWS(line[5:]); validHost(v) && req.host == nil {
				req.host = v
			}
		case len(line) > 7 && line[6] == ':' && strings.EqualFold(string(line[:6]), "accept"):
			j, h := acceptsJSON(line[7:])
			req.json, html = req.json || j, html || h
		}
	}
	return req, true
}

// acceptsJSON reads an Accept field value (RFC 9110 §12.5.1): whether
// its media ranges name application/json or application/captive+json (RFC
// 8908 §5), and whether they name text/html. Parameters and weights are
// not weighed: a client that names JSON and not HTML is a program, whatever
// it prefers among the rest; one that names HTML is a browser.
func acceptsJSON(v []byte) (json, html bool) {
	for len(v) > 0 {
		item := v
		if i := indexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		if i := indexByte(item, ';'); i >= 0 {
			item = item[:i]
		}
		switch t := string(trimOWS(item)); {
		case strings.EqualFold(t, "application/json"), strings.EqualFold(t, "application/captive+json"):
			json = true
		case strings.EqualFold(t, "text/html"):
			html = true
		}
	}
	return json, html
}

// isTchar reports whether c may appear in a token (RFC 9110 §5.6.2).
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// validHost accepts what a Host field value can be (RFC 9110 §7.2): a
// name, an IPv4 address or a bracketed IPv6 literal, with an optional port.
// Anything else is not used, so the URL never carries junk as its host.
func validHost(b []byte) bool {
	if len(b) == 0 || len(b) > 255 {
		return false
	}
	for _, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '-', c == '_', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}

// originalURL appends the URL the client asked for to dst: "http://" + Host
// + request-target, or the destination address when there is no Host
// (HTTP/1.0), or the target itself when it is in absolute form (RFC 9112
// §3.2.2). It is cut at maxURL bytes, never inside a percent-escape.
func originalURL(dst []byte, req request, server netip.AddrPort) []byte {
	start := len(dst)
	switch {
	case hasPrefixFold(req.target, "http://"), hasPrefixFold(req.target, "https://"):
		dst = append(dst, req.target...)
	default:
		dst = append(dst, "http://"...)
		if req.host != nil {
			dst = append(dst, req.host...)
		} else {
			dst = server.Addr().AppendTo(dst)
			if server.Port() != 80 {
				dst = append(dst, ':')
				dst = strconv.AppendUint(dst, uint64(server.Port()), 10)
			}
		}
		if len(req.target) > 0 && req.target[0] == '/' {
			dst = append(dst, req.target...)
		} else {
			// "*" (OPTIONS), authority form, or junk: the site's root.
			dst = append(dst, '/')
		}
	}
	if len(dst)-start > maxURL {
		dst = dst[:start+maxURL]
		// Drop a percent-escape cut in half ("%" or "%4").
		for i := 1; i <= 2; i++ {
			if j := len(dst) - i; j > start && dst[j] == '%' {
				dst = dst[:j]
				break
			}
		}
	}
	return dst
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && strings.EqualFold(string(b[:len(prefix)]), prefix)
}

// probeKey appends "host/path" of the request to dst, as probe_redirect
// spells its entries: the host in lower case without port or trailing
// dot, the path without query or fragment.
func probeKey(dst []byte, req request) []byte {
	host, path := req.host, req.target
	if hasPrefixFold(path, "http://") || hasPrefixFold(path, "https://") {
		rest := path[indexByte(path, ':')+3:]
		slash := indexByte(rest, '/')
		if slash < 0 {
			host, path = rest, []byte("/")
		} else {
			host, path = rest[:slash], rest[slash:]
		}
	}
	// Strip a port, but not the colons of an IPv6 literal.
	if i := lastIndexByte(host, ':'); i >= 0 && lastIndexByte(host, ']') < i {
		host = host[:i]
	}
	if len(host) > 0 && host[len(host)-1] == '.' {
		host = host[:len(host)-1]
	}
	for _, c := range host {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	if i := indexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	return append(dst, path...)
}

func lastIndexByte(b []byte, c byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == c {
			return i
		}
	}
	return -1
}

func indexAny(b []byte, chars string) int {
	for i, c := range b {
		if strings.IndexByte(chars, c) >= 0 {
			return i
		}
	}
	return -1
}

// appendQueryEscape appends s percent-encoded for a query component: every
// byte but RFC 3986's unreserved characters (§2.3) becomes %XX, so any URL
// decoder gets s back exactly.
func appendQueryEscape(dst, s []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~':
			dst = append(dst, c)
		default:
			dst = append(dst, '%', hex[c>>4], hex[c&15])
		}
	}
	return dst
}

// appendHTMLEscape appends s with the five HTML-special characters
// escaped, as html.EscapeString does, for an attribute value or text.
func appendHTMLEscape(dst, s []byte) []byte {
	for _, c := range s {
		switch c {
		case '&':
			dst = append(dst, "&amp;"...)
		case '<':
			dst = append(dst, "&lt;"...)
		case '>':
			dst = append(dst, "&gt;"...)
		case '"':
			dst = append(dst, "&#34;"...)
		case '\'':
			dst = append(dst, "&#39;"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// The page of both answers. The meta refresh takes a browser to the portal
// at once; the link is for those that do not follow it.
const (
	pageHead = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="0; url=`
	pageMid = `">
<title>Sign in to use this network</title></head>
<body><h1>Sign in to use this network</h1>
<p>This network needs you to <a href="`
	pageTail = `">sign in</a> before you can use the internet.</p></body></html>
`
)

// The 511 for programs (SPEC §3): the same status and headers but the type,
// and a body a program can read: that the network wants a sign-in, where
// to sign in, and the RFC 8908 API.
const (
	jsonHead = `{"error":"Network Authentication Required","code":511,"user-portal-url":"`
	jsonMid  = `","captive-portal-api":"`
	jsonTail = `"}`
)

// pages renders the responder's answers.
type pages struct {
	portal string          // "http://ADDRESS:PORT/?redir="
	probes map[string]bool // "host/path" answered with 302
	// api is the captive-portal API's URL (the one DHCP option 114
	// carries, or its http form without TLS), JSON-escaped.
	api []byte
}

// withAPI sets the URL of the captive-portal API that the JSON 511 names.
func (p *pages) withAPI(api string) *pages {
	p.api = appendJSONEscape(nil, []byte(api))
	return p
}

// appendJSONEscape appends s escaped for a JSON string (RFC 8259 §7): the
// quote, the backslash and the control characters. A URL has none of them,
// but the body must be JSON whatever it is given.
func appendJSONEscape(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20 || c == 0x7f:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func newPages(portal string, extraProbes []string) *pages {
	p := &pages{portal: portal, probes: map[string]bool{}}
	for _, h := range builtinProbes {
		for _, path := range builtinProbePaths {
			p.probes[h+path] = true
		}
	}
	for _, e := range extraProbes {
		host, path, _ := strings.Cut(e, "/")
		p.probes[strings.ToLower(host)+"/"+path] = true
	}
	return p
}

// scratch holds the buffers one render reuses, so that answering costs no
// allocation.
type scratch struct {
	url, link, key []byte
}

// render appends the response to req (ok: parseRequest's verdict) to dst
// and returns it with its status code: 302 Found for a captive-portal
// probe, else 511 Network Authentication Required (RFC 6585 §6), both with
// Cache-Control: no-store so that nothing keeps them once the client has
// signed in. A request that is not well-formed HTTP still gets the 511:
// the one thing the client must hear from this network is that it has to
// sign in, and a 400 would hide that.
func (p *pages) render(dst []byte, s *scratch, req request, server netip.AddrPort) ([]byte, int) {
	s.url = originalURL(s.url[:0], req, server)
	s.link = append(s.link[:0], p.portal...)
	s.link = appendQueryEscape(s.link, s.url)
	s.key = probeKey(s.key[:0], req)
	status := 511
	if p.probes[string(s.key)] {
		status = 302
		dst = append(dst, "HTTP/1.1 302 Found\r\nLocation: "...)
		dst = append(dst, s.link...)
		dst = append(dst, "\r\n"...)
	} else {
		dst = append(dst, "HTTP/1.1 511 Network Authentication Required\r\n"...)
	}
	if status == 511 && req.json {
		return p.renderJSON(dst, s.link, req.head), status
	}
	// The link holds only unreserved characters, '%' and the portal base,
	// so escaping changes nothing today; it keeps the page safe if the
	// base ever holds a name.
	n := len(dst)
	dst = appendHTMLEscape(dst, s.link)
	link := len(dst) - n
	dst = dst[:n]
	size := len(pageHead) + len(pageMid) + len(pageTail) + 2*link
	dst = append(dst, "Content-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\nConnection: close\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(size), 10)
	dst = append(dst, "\r\n\r\n"...)
	if req.head {
		return dst, status // RFC 9110 §9.3.2: no content
	}
	dst = append(dst, pageHead...)
	dst = appendHTMLEscape(dst, s.link)
	dst = append(dst, pageMid...)
	dst = appendHTMLEscape(dst, s.link)
	dst = append(dst, pageTail...)
	return dst, status
}

// renderJSON appends the rest of the 511 for a program: the headers after
// the status line, and the JSON body with link and the API.
func (p *pages) renderJSON(dst, link []byte, head bool) []byte {
	n := len(dst)
	dst = appendJSONEscape(dst, link)
	size := len(jsonHead) + len(jsonMid) + len(jsonTail) + len(p.api) + len(dst) - n
	dst = dst[:n]
	dst = append(dst, "Content-Type: application/json\r\nCache-Control: no-store\r\nConnection: close\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(size), 10)
	dst = append(dst, "\r\n\r\n"...)
	if head {
		return dst
	}
	dst = append(dst, jsonHead...)
	dst = appendJSONEscape(dst, link)
	dst = append(dst, jsonMid...)
	dst = append(dst, p.api...)
	return append(dst, jsonTail...)
}
