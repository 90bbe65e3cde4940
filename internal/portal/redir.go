package portal

import (
	"net/url"
	"strconv"
	"strings"
)

// maxRedir caps the redir URL. The 511 responder caps what it puts there;
// this bound is for whatever else a client sends.
const maxRedir = 2048

// sanitizeRedir returns the URL a signed-in client may be sent to, or ""
// when raw is not one: only absolute http and https URLs with a plain host
// name or address, no user info, nothing a browser would read differently
// from this parser. That rules out javascript: and data: URLs,
// scheme-relative "//evil" and the backslash and whitespace tricks
// ("http:\\evil", "/\evil", "java\tscript:") that browsers normalise away
// (WHATWG URL standard) but net/url keeps. The result is re-serialised, so
// what the browser gets is what was checked.
func sanitizeRedir(raw string) string {
	if raw == "" || len(raw) > maxRedir {
		return ""
	}
	for i := 0; i < len(raw); i++ {
		// Control characters, blanks, backslashes and non-ASCII: a
		// responder-made redir is percent-encoded and has none.
		if c := raw[i]; c <= ' ' || c == '\\' || c >= 0x7f {
			return ""
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil {
		return ""
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	default:
		return ""
	}
	if !validHost(u.Hostname()) {
		return ""
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || p[0] == '0' {
			return ""
		}
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	u.Fragment, u.RawFragment = "", ""
	// Re-serialising may escape what raw left bare and grow it past the
	// cap, which a second pass would then refuse: the cap holds for the
	// result too.
	if out := u.String(); len(out) <= maxRedir {
		return out
	}
	return ""
}

// validHost accepts a DNS name (LDH labels, as the Host header of the
// original request had it), an IPv4 address or a bracketed IPv6 one's
// inside.
func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if strings.Contains(h, ":") { // IPv6, from [..]
		for _, c := range h {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':' || c == '.') {
				return false
			}
		}
		return true
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
