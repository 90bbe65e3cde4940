//go:build e2e

package main

// Helpers of the raw-socket responder's end-to-end tests: static client
// addresses, curl from a client, and reading lobby's debug log.

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// respClientIP is lab client k's static address in these tests (outside
// the DHCP pool; DHCP is not what they test).
func respClientIP(k int) string { return fmt.Sprintf("10.77.0.%d", 20+k) }

// respStatic gives client k its static address and a default route through
// the router, and removes them when the test ends.
func respStatic(t *testing.T, k int) {
	t.Helper()
	ns := clientNS(k)
	inNS(t, ns, "ip", "addr", "flush", "dev", "eth0", "scope", "global")
	mustNS(t, ns, "ip", "addr", "add", respClientIP(k)+"/24", "dev", "eth0")
	mustNS(t, ns, "ip", "route", "replace", "default", "via", "10.77.0.1", "dev", "eth0")
	t.Cleanup(func() {
		inNS(t, ns, "ip", "addr", "flush", "dev", "eth0", "scope", "global")
		inNS(t, ns, "ip", "-4", "route", "flush", "dev", "eth0")
	})
}

// respResponse is what curl -si printed, in parts.
type respResponse struct {
	status string            // "HTTP/1.1 511 Network Authentication Required"
	fields map[string]string // last value of each field
	body   string
	raw    string
}

// respCurl runs curl -si from client k with extra arguments; err is curl's.
func respCurl(t *testing.T, k int, args ...string) (respResponse, error) {
	t.Helper()
	out, err := inNS(t, clientNS(k), append([]string{"curl", "--noproxy", "*", "-si", "--max-time", "3"}, args...)...)
	r := respResponse{raw: out, fields: map[string]string{}}
	if err != nil {
		return r, err
	}
	head, body, _ := strings.Cut(out, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	r.status, r.body = lines[0], body
	for _, l := range lines[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok {
			r.fields[k] = strings.TrimSpace(v)
		}
	}
	return r, nil
}

// respPortal is the portal link the responder gives for the original URL.
func respPortal(orig string) string {
	return "http://10.77.0.1:2050/?redir=" + strings.ReplaceAll(url.QueryEscape(orig), "+", "%20")
}

var respAnsweredRE = regexp.MustCompile(`msg="responder: answered" mac=(\S+) .* status=(\d+)`)

// respAnswered counts the "responder: answered" lines for mac in a piece of
// lobby's debug log.
func respAnswered(log, mac string) int {
	n := 0
	for _, m := range respAnsweredRE.FindAllStringSubmatch(log, -1) {
		if m[1] == mac {
			n++
		}
	}
	return n
}
