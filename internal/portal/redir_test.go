package portal

import (
	"net/url"
	"strings"
	"testing"
)

func TestSanitizeRedir(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://198.51.100.10/", "http://198.51.100.10/"},
		{"http://example.com", "http://example.com"},
		{"https://Example.COM:8443/a/b?c=d&e=%2F", "https://example.com:8443/a/b?c=d&e=%2F"},
		{"HTTP://example.com/x#frag", "http://example.com/x"},
		{"http://[2001:db8::1]:8080/", "http://[2001:db8::1]:8080/"},
		{"http://shop.test/a%20b", "http://shop.test/a%20b"},
		{"", ""},
		{"/status", ""},               // relative: never needed, the form has its own
		{"//evil.example/", ""},       // scheme-relative
		{"///evil.example/", ""},      // ditto, with a third slash
		{"javascript:alert(1)", ""},   // script
		{"JaVaScRiPt:alert(1)", ""},   // case
		{"java\tscript:alert(1)", ""}, // a tab browsers strip
		{" javascript:alert(1)", ""},  // leading blank browsers strip
		{"data:text/html,<script>x</script>", ""},
		{"vbscript:x", ""},
		{"file:///etc/passwd", ""},
		{"ftp://example.com/", ""},
		{"http:\\\\evil.example", ""}, // backslashes, read as slashes by browsers
		{"http:/\\evil.example", ""},
		{"http://evil.example\\@good.example/", ""},
		{"http:evil.example", ""},           // opaque
		{"http://user:pw@example.com/", ""}, // user info: phishing
		{"http://good.example@evil.example/", ""},
		{"http:///path", ""}, // no host
		{"http://exa mple.com/", ""},
		{"http://example.com/\r\nSet-Cookie: x", ""},
		{"http://ex%41mple.com/", ""},
		{"http://bücher.example/", ""}, // non-ASCII: the responder sends punycode
		{"http://example.com:0/", ""},
		{"http://example.com:65536/", ""},
		{"http://example.com:08080/", ""},
		{"http://-/", "http://-/"}, // odd but harmless: a DNS label
		{"http://" + strings.Repeat("a", 64) + ".com/", ""},
		{"http://example.com/" + strings.Repeat("a", maxRedir), ""},
	}
	for _, tt := range tests {
		if got := sanitizeRedir(tt.in); got != tt.want {
			t.Errorf("sanitizeRedir(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzSanitizeRedir checks that whatever comes out is an absolute http or
// https URL with a host, no blanks or control characters, that a second
// pass keeps as it is.
func FuzzSanitizeRedir(f *testing.F) {
	for _, s := range []string{"http://198.51.100.10/", "https://a.b:1/c?d#e", "javascript:x", "//x", "http:\\\\x", "http://[::1]/", "http://a@b/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := sanitizeRedir(in)
		if out == "" {
			return
		}
		u, err := url.Parse(out)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Opaque != "" {
			t.Fatalf("sanitizeRedir(%q) = %q: not a plain http(s) URL", in, out)
		}
		if strings.ContainsAny(out, " \t\r\n\\\x00\x7f") || strings.HasPrefix(out, "//") {
			t.Fatalf("sanitizeRedir(%q) = %q", in, out)
		}
		if again := sanitizeRedir(out); again != out {
			t.Fatalf("not idempotent: %q → %q → %q", in, out, again)
		}
	})
}
