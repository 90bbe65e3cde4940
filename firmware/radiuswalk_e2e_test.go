//go:build e2e

package main

import (
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/radius/radiustest"
)

// The second router of scripts/lab.sh (LAB_ROUTERS=2) and its clients.
var router2NS = labPrefix + "-router2"

func client2NS(k int) string { return fmt.Sprintf("%s-r2c%d", labPrefix, k) }

// labTwoRouters brings the lab's second router up for the test, and takes
// it down again after it (lab.sh up converges to LAB_ROUTERS).
func labTwoRouters(t *testing.T) {
	t.Helper()
	up := func(routers string) error {
		cmd := exec.Command("../scripts/lab.sh", "up")
		cmd.Env = append(os.Environ(), "LAB_ROUTERS="+routers)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("LAB_ROUTERS=%s lab.sh up: %v\n%s", routers, err, out)
		}
		return nil
	}
	if err := up("2"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := up("1"); err != nil {
			t.Error(err)
		}
	})
}

// TestRADIUSWalk is SPEC §7's "Several routers, one server": lobby A and
// lobby B, both with mac_auth '1', on one FreeRADIUS in the lab's internet
// running the configuration that ships (docs/radius/raddb). A guest who
// signed in at A is let in at B without the page, with what is left of
// its grant; a guest who signed out at A is not.
func TestRADIUSWalk(t *testing.T) {
	labTwoRouters(t)
	srv := radiustest.Start(t, radiustest.Options{
		Netns: inetNS, Listen: netip.MustParseAddr(radListen), Walk: true,
		Clients: []netip.Prefix{netip.MustParsePrefix(radWANPrefix)},
	})
	lobbyLines := []string{"list auth 'radius'"}
	radiusLines := []string{"option mac_auth '1'"}
	a := newRADIUSDaemon(t, srv, lobbyLines, radiusLines)
	b := newDaemonIn(t, router2NS, lobbyLines...)
	b.writeConfig(baseConfig(b.dir, lobbyLines...) + radSection(srv, radiusLines...))
	a.start()
	b.start()

	// open is how many sessions of lab client k's MAC radacct has open.
	open := func(k int) string {
		out, err := srv.SQL("SELECT COUNT(*) FROM radacct WHERE acctstoptime IS NULL AND callingstationid = '" + radStationID(k) + "'")
		if err != nil {
			t.Fatalf("radacct: %v: %s", err, out)
		}
		return out
	}
	waitOpen := func(k int, want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for open(k) != want {
			if time.Now().After(deadline) {
				t.Fatalf("client %d: %s open sessions in radacct after 10 s, want %s", k, open(k), want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	signIn := func(k int) {
		t.Helper()
		ptStatic(t, k)
		r := ptCurl(t, k, "-H", "Content-Type: application/json", "--data", `{"method":"radius","username":"nemo","password":"arctangent"}`, ptPortal+"/api/login")
		if r.status != 200 || ptState(a, k) != "authenticated" {
			t.Fatalf("client %d's sign-in at A: %d, %s\n%s", k, r.status, ptState(a, k), r.body)
		}
	}
	// atB puts the device of A's client k on B's LAN: B's client k with
	// the same MAC (lab.sh reset gives it its own back) and address.
	atB := func(k int) {
		t.Helper()
		ns := client2NS(k)
		mustNS(t, ns, "ip", "link", "set", "dev", "eth0", "address", clientMAC(k))
		mustNS(t, ns, "ip", "addr", "replace", ptClientIP(k)+"/24", "dev", "eth0")
		mustNS(t, ns, "ip", "route", "replace", "default", "via", "10.77.0.1")
		inNS(t, ns, "ping", "-c", "1", "-W", "1", "10.77.0.1")
	}

	// Client 1 signs in at A as nemo (an hour, 2 Mbit/s down, a quota)
	// and walks to B: B's MAC authentication lets it in, with what is
	// left of the hour.
	signIn(1)
	signedIn := time.Now()
	waitOpen(1, "1")
	atB(1)
	c := radWaitState(t, b, 1, "authenticated")
	const quota = 705032704 + 2<<32
	left := time.Hour - time.Since(signedIn)
	if c.Method == nil || *c.Method != "radius" || c.Expires == nil ||
		time.Until(*c.Expires) > left+5*time.Second || time.Until(*c.Expires) < left-15*time.Second ||
		c.Download != 2000000 || c.Upload != 512000 || c.Quota == 0 || c.Quota > quota {
		t.Errorf("at B: %+v, want nemo's rates and quota and about %v left", c, left.Round(time.Second))
	}
	if out, _ := inNS(t, client2NS(1), "curl", "--noproxy", "*", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
		"http://198.51.100.10/generate_204"); out != "204" {
		t.Errorf("the guest at B reaches the internet: %q, want 204", out)
	}
	waitOpen(1, "2") // A's session and B's

	// Client 2 signs in at A and signs out there; then it turns up at B,
	// which asks the server and is refused: the page, as for anyone.
	signIn(2)
	waitOpen(2, "1")
	status := ptCurl(t, 2, ptPortal+"/status")
	ptCurl(t, 2, "--data", url.Values{"token": {ptToken(t, status.body)}}.Encode(), "-H", "Origin: "+ptPortal, ptPortal+"/logout")
	waitOpen(2, "0")
	// refused counts the server's refusals of client 2's MAC (A asked
	// too, when it first saw the client).
	refused := func() int {
		n := 0
		for _, line := range strings.Split(srv.Log(), "\n") {
			if strings.Contains(line, "Login incorrect") && strings.Contains(line, "cli "+radStationID(2)+")") {
				n++
			}
		}
		return n
	}
	before := refused()
	atB(2)
	deadline := time.Now().Add(10 * time.Second)
	for refused() == before {
		if time.Now().After(deadline) {
			t.Fatalf("B did not ask about client 2 within 10 s; server's log:\n%s", srv.Log())
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if c := b.clients()[clientMAC(2)]; c.State == "authenticated" {
		t.Errorf("client 2, signed out at A, is let in at B: %+v", c)
	}
	r, _ := inNS(t, client2NS(2), "curl", "--noproxy", "*", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
		"http://198.51.100.10/generate_204")
	if r == "204" {
		t.Errorf("client 2 reaches the internet at B without the page")
	}
}
