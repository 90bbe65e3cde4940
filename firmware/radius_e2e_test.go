//go:build e2e

package main

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/radius/radiustest"
)

// TestRADIUS runs lobby against a real FreeRADIUS in the lab's internet
// (SPEC §7): the radius part of the page, a reject's Reply-Message, an
// accept's limits, MAC authentication without the portal, Start, Interim
// and Stop with Class and the cause, Disconnect and CoA from the server's
// side, a wrong secret unanswered, no guest at the DAS port, the DAS moved
// by a reload, and On and Off.
func TestRADIUS(t *testing.T) {
	srv := radServer(t, radUsers)
	lobbyOpts := []string{"list auth 'radius'", "list auth 'click'"}
	radOpts := []string{"option mac_auth '1'", "option interim_interval '1m'", "list das_client '" + radInetWAN + "'"}
	d := newRADIUSDaemon(t, srv, lobbyOpts, radOpts)
	// /metrics without a password, on the operator's side.
	d.writeConfig(baseConfig(d.dir, lobbyOpts...) + radSection(srv, radOpts...) +
		"\nconfig admin 'admin'\n\toption enabled '1'\n\toption listen '192.0.2.1:8080'\n\toption metrics_open '1'\n")
	d.start()
	radWaitRecord(t, srv, "Accounting-On", "", 10*time.Second)

	// Client 1 is not known to MAC authentication: the portal, with the
	// radius part first.
	ptStatic(t, 1)
	page := ptCurl(t, 1, ptPortal+"/")
	if r, c := strings.Index(page.body, `value="radius"`), strings.Index(page.body, `value="click"`); r < 0 || c < r || !strings.Contains(page.body, `name="password"`) {
		t.Fatalf("the page has no radius part before the click part:\n%s", page.body)
	}
	login := func(k int, user, pw string) ptResponse {
		page := ptCurl(t, k, ptPortal+"/")
		form := url.Values{"token": {ptToken(t, page.body)}, "method": {"radius"}, "username": {user}, "password": {pw}}
		return ptCurl(t, k, "--data", form.Encode(), "-H", "Origin: "+ptPortal, ptPortal+"/login")
	}
	if r := login(1, "expired", "x"); r.status != 403 || !strings.Contains(r.body, "Your account has expired.") || ptState(d, 1) != "preauth" {
		t.Errorf("reject: %d, %s\n%s", r.status, ptState(d, 1), r.body)
	}
	if r := login(1, "nemo", "arctangent"); r.status != 303 {
		t.Fatalf("accept: %d\n%s", r.status, r.body)
	}
	c := d.clients()[clientMAC(1)]
	const quota = 705032704 + 2<<32
	if c.State != "authenticated" || c.Method == nil || *c.Method != "radius" || c.User == nil || *c.User != "nemo" ||
		c.Download != 2000000 || c.Upload != 512000 || c.Quota != quota || c.Expires == nil ||
		time.Until(*c.Expires) > time.Hour || time.Until(*c.Expires) < 59*time.Minute {
		t.Errorf("nemo's session: %+v", c)
	}
	start := radWaitRecord(t, srv, "Start", "nemo", 10*time.Second)
	for _, want := range []string{"Class = 0x706c616e2d676f6c64", "Framed-IP-Address = " + ptClientIP(1), "Calling-Station-Id = \"" + radStationID(1) + "\""} {
		if !strings.Contains(start, want) {
			t.Errorf("nemo's Start lacks %q:\n%s", want, start)
		}
	}

	// The scrape counts the reject and the accept, with their latency,
	// and the accounting answered (On, nemo's Start).
	radScrape(t, map[string]float64{
		`lobby_radius_requests_total{type="access",outcome="reject"}`:        1,
		`lobby_radius_requests_total{type="access",outcome="accept"}`:        1,
		`lobby_radius_requests_total{type="accounting",outcome="ack"}`:       2,
		`lobby_radius_request_duration_seconds_count{type="access"}`:         2,
		`lobby_radius_request_duration_seconds_bucket{type="access",le="3"}`: 2,
	})

	// Client 2 is known by its MAC: signed in as soon as it is seen,
	// without the portal.
	ptStatic(t, 2)
	c = radWaitState(t, d, 2, "authenticated")
	if c.Method == nil || *c.Method != "radius" || c.User == nil || *c.User != radStationID(2) {
		t.Errorf("MAC authentication: %+v", c)
	}
	if start := radWaitRecord(t, srv, "Start", radStationID(2), 10*time.Second); !strings.Contains(start, "Class = 0x6d61632d6f6b") {
		t.Errorf("client 2's Start lacks its Class:\n%s", start)
	}

	// Client 3 signs in through the API as walker (an interim a minute)
	// and moves some bytes.
	ptStatic(t, 3)
	r := ptCurl(t, 3, "-H", "Content-Type: application/json", "--data", `{"method":"radius","username":"walker","password":"pw"}`, ptPortal+"/api/login")
	if r.status != 200 || ptState(d, 3) != "authenticated" {
		t.Fatalf("api sign-in: %d\n%s", r.status, r.body)
	}
	walkStart := time.Now()
	for range 5 {
		ptCurl(t, 3, "-o", "/dev/null", "http://198.51.100.10/generate_204")
	}

	radWaitClass(t, 2_000_000)
	// CoA from the server's side: nemo's download rate changes at once.
	out, err := radclient(srv, 3799, "coa", radiustest.Secret, "User-Name = nemo\nWISPr-Bandwidth-Max-Down = 1000000\n")
	if err != nil || !strings.Contains(out, "Received CoA-ACK") {
		t.Errorf("coa: %v\n%s", err, out)
	}
	if c := d.clients()[clientMAC(1)]; c.Download != 1000000 || c.Upload != 512000 {
		t.Errorf("after the CoA: %+v", c)
	}
	// … and the shaper's class for what nemo receives with it.
	radWaitClass(t, 1_000_000)
	// A wrong secret is not answered, and nothing changes.
	out, err = radclient(srv, 3799, "disconnect", "wrong", "User-Name = nemo\n")
	if err == nil || strings.Contains(out, "Received") || ptState(d, 1) != "authenticated" {
		t.Errorf("a wrong secret: %v, %s\n%s", err, ptState(d, 1), out)
	}
	// A guest, even signed in, does not reach the DAS port on any of the
	// router's addresses: the firewall drops it before the DAS sees it
	// (the DAS would log a request from a stranger).
	for _, addr := range []string{"10.77.0.1:3799", radRouterWAN + ":3799"} {
		out, err := radiustest.Radclient(srv.Dir, clientNS(2), addr, "disconnect", radiustest.Secret, "User-Name = nemo\n")
		if err == nil || strings.Contains(out, "Received") {
			t.Errorf("a guest reached %s: %v\n%s", addr, err, out)
		}
	}
	if strings.Contains(d.logText(), "from="+ptClientIP(2)) {
		t.Errorf("a guest's request reached the DAS:\n%s", d.logText())
	}
	// nemo's only forwarded traffic, right before the Disconnect: the
	// Stop must count it whole, although the firewall's periodic reading
	// (every 5 s) has not come since (session.Table.SetSettle).
	const lastBytes = 150_000
	if out, _ := inNS(t, clientNS(1), "curl", "--noproxy", "*", "-s", "-o", "/dev/null", "-w", "%{size_download}", "--max-time", "10",
		fmt.Sprintf("http://198.51.100.10/bytes/%d", lastBytes)); out != fmt.Sprint(lastBytes) {
		t.Errorf("nemo's download: %q bytes, want %d", out, lastBytes)
	}
	// Disconnect: nemo is signed out (reason radius), and its Stop says
	// Admin-Reset with its Class and bytes.
	out, err = radclient(srv, 3799, "disconnect", radiustest.Secret, "User-Name = nemo\n")
	if err != nil || !strings.Contains(out, "Received Disconnect-ACK") {
		t.Errorf("disconnect: %v\n%s", err, out)
	}
	radWaitState(t, d, 1, "preauth")
	stop := radWaitRecord(t, srv, "Stop", "nemo", 10*time.Second)
	for _, want := range []string{"Acct-Terminate-Cause = Admin-Reset", "Class = 0x706c616e2d676f6c64", "Acct-Session-Time = "} {
		if !strings.Contains(stop, want) {
			t.Errorf("nemo's Stop lacks %q:\n%s", want, stop)
		}
	}
	if n, err := strconv.ParseUint(radAttr(stop, "Acct-Output-Octets"), 10, 64); err != nil || n < lastBytes {
		t.Errorf("nemo's Stop counts less than the %d bytes of its last download:\n%s", lastBytes, stop)
	}
	if !strings.Contains(d.logText(), "reason=radius") {
		t.Error("the sign-out's reason radius is not logged")
	}

	// walker's Interim-Update comes a minute after its start, with its
	// bytes; its sign-out on the portal is User-Request.
	interim := radWaitRecord(t, srv, "Interim-Update", "walker", 80*time.Second-time.Since(walkStart))
	if !strings.Contains(interim, "Class = 0x706c616e2d77616c6b") || strings.Contains(interim, "Acct-Output-Octets = 0\n") {
		t.Errorf("walker's Interim-Update:\n%s", interim)
	}
	status := ptCurl(t, 3, ptPortal+"/status")
	form := url.Values{"token": {ptToken(t, status.body)}}
	ptCurl(t, 3, "--data", form.Encode(), "-H", "Origin: "+ptPortal, ptPortal+"/logout")
	if stop := radWaitRecord(t, srv, "Stop", "walker", 10*time.Second); !strings.Contains(stop, "Acct-Terminate-Cause = User-Request") {
		t.Errorf("walker's Stop:\n%s", stop)
	}
	// Start before Stop, each session once.
	for _, user := range []string{"nemo", "walker"} {
		if s, p := len(radRecords(srv, "Start", user)), len(radRecords(srv, "Stop", user)); s != 1 || p != 1 {
			t.Errorf("%s: %d Starts, %d Stops", user, s, p)
		}
	}

	// A reload moves the DAS to another port, and the firewall with it:
	// a Disconnect there ends client 2's MAC-authenticated session.
	d.writeConfig(baseConfig(d.dir, "list auth 'radius'", "list auth 'click'") + radSection(srv,
		"option mac_auth '1'", "option interim_interval '1m'", "list das_client '"+radInetWAN+"'", "option das_port '1700'"))
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, d, "port=1700")
	if out, err := radiustest.Radclient(srv.Dir, clientNS(2), "10.77.0.1:1700", "disconnect", radiustest.Secret, "User-Name = nemo\n"); err == nil || strings.Contains(out, "Received") {
		t.Errorf("a guest reached the new DAS port: %v\n%s", err, out)
	}
	out, err = radclient(srv, 1700, "disconnect", radiustest.Secret, "Calling-Station-Id = "+radStationID(2)+"\n")
	if err != nil || !strings.Contains(out, "Received Disconnect-ACK") {
		t.Errorf("disconnect on the new port: %v\n%s", err, out)
	}
	radWaitState(t, d, 2, "preauth")
	if stop := radWaitRecord(t, srv, "Stop", radStationID(2), 10*time.Second); !strings.Contains(stop, "Acct-Terminate-Cause = Admin-Reset") {
		t.Errorf("client 2's Stop:\n%s", stop)
	}
	if out, err := radclient(srv, 3799, "disconnect", radiustest.Secret, "User-Name = walker\n"); err == nil || strings.Contains(out, "Received") {
		t.Errorf("the old port still answers: %v\n%s", err, out)
	}
	if strings.Contains(d.logText(), "from="+ptClientIP(2)) {
		t.Errorf("a guest's request reached the DAS:\n%s", d.logText())
	}

	// A clean stop sends Accounting-Off.
	if code := d.stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d", code)
	}
	if len(radRecords(srv, "Accounting-Off", "")) != 1 {
		t.Errorf("no Accounting-Off; detail file:\n%s", srv.Detail())
	}
	if t.Failed() {
		t.Logf("detail file:\n%s", srv.Detail())
	}
}
