//go:build e2e

package main

// Helpers for the RADIUS end-to-end tests (SPEC §7): a real FreeRADIUS in
// the lab's internet namespace, answering the router's WAN side, and a
// lobby that uses it.

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/radius/radiustest"
)

const (
	// radListen is where the lab's FreeRADIUS listens: a spare address
	// of the lab's internet (scripts/lab.sh).
	radListen = "198.51.100.11"
	// radRouterWAN is the router's WAN address, where the DAS answers;
	// radInetWAN the internet namespace's address on that link, the
	// source of what radclient sends from there.
	radRouterWAN = "192.0.2.1"
	radInetWAN   = "192.0.2.254"
	radWANPrefix = "192.0.2.0/24"
)

// radUsers are radiustest.Users and the lab's own: walker's Interim-Update
// interval is the shortest Lobby takes, and lab client 2's MAC is known to
// MAC authentication.
var radUsers = radiustest.Users + `walker	Cleartext-Password := "pw"
	Acct-Interim-Interval = 60,
	Class = "plan-walk"
` + radStationID(2) + `	Cleartext-Password := "` + radStationID(2) + `"
	Session-Timeout = 1800,
	Class = "mac-ok"
`

// radStationID is lab client k's MAC as RADIUS writes it.
func radStationID(k int) string {
	return strings.ToUpper(strings.ReplaceAll(clientMAC(k), ":", "-"))
}

// radServer starts FreeRADIUS in the lab's internet namespace; it answers
// every address of the router's WAN prefix.
func radServer(t *testing.T, users string) *radiustest.Server {
	t.Helper()
	return radiustest.Start(t, radiustest.Options{
		Netns: inetNS, Listen: netip.MustParseAddr(radListen), Users: users,
		Clients: []netip.Prefix{netip.MustParsePrefix(radWANPrefix)},
	})
}

// radSection is config radius for srv, with extra option lines.
func radSection(srv *radiustest.Server, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "config radius 'radius'\n\tlist server '%s'\n\toption secret '%s'\n\toption acct_port '%d'\n",
		srv.Auth, radiustest.Secret, srv.Acct.Port())
	for _, e := range extra {
		b.WriteString("\t" + e + "\n")
	}
	return b.String()
}

// newRADIUSDaemon is newDaemon with config radius for srv: lobby lines go
// into config lobby (list auth …), radius lines into config radius.
func newRADIUSDaemon(t *testing.T, srv *radiustest.Server, lobby, radius []string) *lobbyProc {
	d := newDaemon(t, lobby...)
	d.writeConfig(baseConfig(d.dir, lobby...) + radSection(srv, radius...))
	return d
}

// radclient sends a Dynamic Authorization request (kind coa or
// disconnect) from the lab's internet to the router's DAS on port.
func radclient(srv *radiustest.Server, port int, kind, secret, attrs string) (string, error) {
	return radiustest.Radclient(srv.Dir, inetNS, fmt.Sprintf("%s:%d", radRouterWAN, port), kind, secret, attrs)
}

// radRecords are the records of srv's detail file with status (Start,
// Interim-Update, Stop, Accounting-On, Accounting-Off) and, if user is
// not "", that User-Name.
func radRecords(srv *radiustest.Server, status, user string) []string {
	var out []string
	for _, r := range strings.Split(srv.Detail(), "\n\n") {
		if strings.Contains(r, "Acct-Status-Type = "+status+"\n") && (user == "" || strings.Contains(r, `User-Name = "`+user+`"`)) {
			out = append(out, r)
		}
	}
	return out
}

// radAttr is the value of attribute name in a detail file record ("" if
// it has none).
func radAttr(record, name string) string {
	for _, line := range strings.Split(record, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+" = "); ok {
			return v
		}
	}
	return ""
}

// radWaitRecord waits up to timeout for a record of status for user in
// srv's detail file and returns it.
func radWaitRecord(t *testing.T, srv *radiustest.Server, status, user string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if rs := radRecords(srv, status, user); len(rs) > 0 {
			return rs[len(rs)-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s record for %q within %v; detail file:\n%s", status, user, timeout, srv.Detail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// radWaitState waits up to 10 s for lab client k to be in state.
func radWaitState(t *testing.T, d *lobbyProc, k int, state string) ctlClient {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := d.clients()[clientMAC(k)]
		if c.State == state {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("client %d is %q, not %q, after 10 s", k, c.State, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// radWaitClass waits up to 5 s for a shaper class on the LAN interface
// (what clients receive) for a client rate of bps bit/s. The class counts
// Ethernet frames, so its rate is bps × 1514/1448 (a rate is the TCP
// payload a speed test shows: docs/shaper.md), which tc prints in Kbit.
func radWaitClass(t *testing.T, bps uint64) {
	t.Helper()
	text := fmt.Sprintf("rate %dKbit ", bps*1514/1448/1000)
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := mustNS(t, routerNS, "tc", "class", "show", "dev", lanIface)
		if strings.Contains(out, text) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no class with %q on %s:\n%s", text, lanIface, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// radScrape reads /metrics from the operator's side (config admin
// listening on 192.0.2.1:8080 with metrics_open) and checks that each
// sample named in atLeast is there with at least that value, and that the
// accounting backlog is reported.
func radScrape(t *testing.T, atLeast map[string]float64) {
	t.Helper()
	out, err := inNS(t, inetNS, "curl", "--noproxy", "*", "-s", "--max-time", "5", "http://192.0.2.1:8080/metrics")
	if err != nil {
		t.Fatalf("scrape: %v\n%s", err, out)
	}
	got := map[string]float64{}
	for _, line := range strings.Split(out, "\n") {
		if i := strings.LastIndexByte(line, ' '); i > 0 && !strings.HasPrefix(line, "#") {
			v, err := strconv.ParseFloat(line[i+1:], 64)
			if err == nil {
				got[line[:i]] = v
			}
		}
	}
	for name, min := range atLeast {
		if v, ok := got[name]; !ok || v < min {
			t.Errorf("scrape: %s = %v, want at least %v", name, v, min)
		}
	}
	if _, ok := got["lobby_radius_accounting_waiting"]; !ok {
		t.Errorf("scrape: no lobby_radius_accounting_waiting")
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", out)
	}
}
