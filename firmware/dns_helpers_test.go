//go:build e2e

package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dnsClientIP gives lab client k the static address 10.77.0.1K (outside
// the DHCP pool) and a default route through the router for the test, and
// returns the address.
func dnsClientIP(t *testing.T, k int) string {
	t.Helper()
	ip := fmt.Sprintf("10.77.0.%d", 10+k)
	ns := clientNS(k)
	inNS(t, ns, "ip", "addr", "flush", "dev", "eth0", "scope", "global")
	mustNS(t, ns, "ip", "addr", "add", ip+"/24", "dev", "eth0")
	mustNS(t, ns, "ip", "route", "replace", "default", "via", "10.77.0.1", "dev", "eth0")
	t.Cleanup(func() { inNS(t, ns, "ip", "addr", "flush", "dev", "eth0", "scope", "global") })
	return ip
}

// dnsKnown makes the router's neighbour table, and so lobby's client table,
// know client k at ip: it pings the router (the firewall may drop the ping
// of a preauth client; the ARP exchange before it is what counts) and waits
// until lobby lists the client with that address.
func dnsKnown(t *testing.T, d *lobbyProc, k int, ip string) {
	t.Helper()
	inNS(t, clientNS(k), "busybox", "ping", "-c", "1", "-W", "1", "10.77.0.1")
	deadline := time.Now().Add(5 * time.Second)
	for d.clients()[clientMAC(k)].IP != ip {
		if time.Now().After(deadline) {
			t.Fatalf("lobby does not list client %d at %s after a ping: %+v", k, ip, d.clients())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// digRR is one record of dig's output.
type digRR struct {
	name  string
	ttl   int
	rtype string
	data  string
}

// digResult is what dig printed, in parts.
type digResult struct {
	status    string   // NOERROR, NXDOMAIN, … ("" when no answer came)
	flags     []string // qr, aa, tc, rd, ra, ad, cd
	answer    []digRR
	authority []digRR
	raw       string
}

func (r digResult) flag(f string) bool {
	for _, x := range r.flags {
		if x == f {
			return true
		}
	}
	return false
}

// data lists the answer records as "TYPE DATA", e.g. "A 10.77.0.1".
func (r digResult) data() []string {
	var out []string
	for _, rr := range r.answer {
		out = append(out, rr.rtype+" "+rr.data)
	}
	return out
}

var (
	digStatus = regexp.MustCompile(`status: ([A-Z]+)`)
	digFlags  = regexp.MustCompile(`;; flags: ([a-z ]*);`)
)

// dig runs dig in client k's namespace; args are dig's (server, name,
// type, +options). A failed exchange (timeout, refused) gives status "".
func dig(t *testing.T, k int, args ...string) digResult {
	t.Helper()
	out, _ := inNS(t, clientNS(k), append([]string{"dig", "+time=2", "+tries=1"}, args...)...)
	return parseDig(out)
}

func parseDig(out string) digResult {
	r := digResult{raw: out}
	if m := digStatus.FindStringSubmatch(out); m != nil {
		r.status = m[1]
	}
	if m := digFlags.FindStringSubmatch(out); m != nil {
		r.flags = strings.Fields(m[1])
	}
	var section *[]digRR
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, ";; ANSWER SECTION:"):
			section = &r.answer
			continue
		case strings.HasPrefix(line, ";; AUTHORITY SECTION:"):
			section = &r.authority
			continue
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, ";"):
			section = nil
			continue
		}
		if section == nil {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		ttl, _ := strconv.Atoi(f[1])
		*section = append(*section, digRR{name: f[0], ttl: ttl, rtype: f[3], data: strings.Join(f[4:], " ")})
	}
	return r
}

// dnsProtos are the two ways every DNS sentence is checked.
var dnsProtos = []struct {
	name string
	arg  string // for dig
}{{"udp", "+notcp"}, {"tcp", "+tcp"}}
