//go:build e2e

package main

import (
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRADIUSOutage is SPEC §7's accounting that is never lost, against a
// FreeRADIUS that goes away: a sign-in while it is down is refused with
// "does not answer"; a Stop made while it is down arrives when it is back;
// records waiting across a kill -9 of lobby arrive after the restart, each
// once, a session's Start before its Stop. The admin Overview shows the
// server down and the records waiting, then the server up and none.
func TestRADIUSOutage(t *testing.T) {
	srv := radServer(t, radUsers)
	lobbyLines, radiusLines := []string{"list auth 'radius'", "list auth 'click'"}, []string{"option timeout '1s'", "option retries '0'"}
	d := newRADIUSDaemon(t, srv, lobbyLines, radiusLines)
	d.writeConfig(baseConfig(d.dir, lobbyLines...) + radSection(srv, radiusLines...) + adminSection(t, "correct horse"))
	d.start()
	radWaitRecord(t, srv, "Accounting-On", "", 10*time.Second)

	// records are the detail file's records of status for lab client k.
	records := func(status string, k int) []string {
		var out []string
		for _, r := range radRecords(srv, status, "") {
			if strings.Contains(r, `Calling-Station-Id = "`+radStationID(k)+`"`) {
				out = append(out, r)
			}
		}
		return out
	}
	// wait waits up to timeout for a record of status for client k: a
	// record that waited for the server comes with the queue's retry, 30
	// s after the failed try.
	wait := func(status string, k int, timeout time.Duration) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for len(records(status, k)) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("no %s of client %d within %v; detail file:\n%s", status, k, timeout, srv.Detail())
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	login := func(k int, body string) ptResponse {
		return ptCurl(t, k, "-H", "Content-Type: application/json", "--data", body, ptPortal+"/api/login")
	}
	const nemo = `{"method":"radius","username":"nemo","password":"arctangent"}`
	logout := func(k int) {
		t.Helper()
		status := ptCurl(t, k, ptPortal+"/status")
		ptCurl(t, k, "--data", url.Values{"token": {ptToken(t, status.body)}}.Encode(), "-H", "Origin: "+ptPortal, ptPortal+"/logout")
		if s := ptState(d, k); s == "authenticated" {
			t.Fatalf("client %d still signed in after its logout", k)
		}
	}
	for k := 1; k <= 3; k++ {
		ptStatic(t, k)
	}
	// overview is the admin Overview's RADIUS box: the server's row and
	// the backlog's sentence.
	curl := adminCurl(t)
	overview := func() (row, waiting string) {
		t.Helper()
		page, code := curl(adminPage + "/")
		if code != 200 {
			adminLogin(t, curl, "correct horse")
			page, code = curl(adminPage + "/")
		}
		row = regexp.MustCompile(`<tr><td>[^<]+</td><td>[^<]*</td><td>[^<]*</td><td>[^<]*</td></tr>`).FindString(page)
		waiting = regexp.MustCompile(`Accounting records waiting: [^<]*`).FindString(page)
		if code != 200 || row == "" || waiting == "" {
			t.Fatalf("the Overview has no RADIUS box: %d\n%s", code, page)
		}
		t.Logf("the Overview: %s %s", row, waiting)
		return row, waiting
	}

	// Down during a sign-in: refused, "does not answer", nothing changes.
	srv.Stop()
	if r := login(1, nemo); r.status != 503 || !strings.Contains(r.body, "does not answer") || ptState(d, 1) == "authenticated" {
		t.Errorf("a sign-in with the server away: %d, %s\n%s", r.status, ptState(d, 1), r.body)
	}
	srv.Start()
	for _, k := range []int{1, 2} {
		if r := login(k, nemo); r.status != 200 {
			t.Fatalf("client %d's sign-in with the server back: %d\n%s", k, r.status, r.body)
		}
		wait("Start", k, 10*time.Second)
	}

	// Down during a sign-out: the Stop arrives when the server is back.
	srv.Stop()
	logout(1)
	time.Sleep(2 * time.Second) // tried once, and failed
	srv.Start()
	wait("Stop", 1, 70*time.Second)

	// Down, with records waiting: client 2's Stop, and client 3's click
	// session, Start and Stop. kill -9, a restart, the server back.
	srv.Stop()
	logout(2)
	if r := login(3, `{"method":"click"}`); r.status != 200 {
		t.Fatalf("client 3's click sign-in: %d\n%s", r.status, r.body)
	}
	logout(3)
	time.Sleep(2 * time.Second)
	if row, waiting := overview(); !strings.Contains(row, "<td>down</td>") || strings.HasSuffix(row, "<td>—</td></tr>") ||
		!regexp.MustCompile(`^Accounting records waiting: [3-9], the oldest from \S+ ago\.$`).MatchString(waiting) {
		t.Errorf("the Overview with the server away and 3 records waiting: %q, %q", row, waiting)
	}
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
	d.start()
	srv.Start()
	wait("Stop", 2, 70*time.Second)
	wait("Stop", 3, 70*time.Second)
	time.Sleep(3 * time.Second) // a record sent twice would come now
	if row, waiting := overview(); !strings.Contains(row, "<td>up</td>") || waiting != "Accounting records waiting: 0." {
		t.Errorf("the Overview with every record delivered: %q, %q", row, waiting)
	}

	for k, want := range map[int][2]int{1: {1, 1}, 2: {1, 1}, 3: {1, 1}} {
		if s, p := len(records("Start", k)), len(records("Stop", k)); s != want[0] || p != want[1] {
			t.Errorf("client %d: %d Starts and %d Stops, want one of each", k, s, p)
		}
	}
	// Client 3's Start waited: it says so (RFC 2866 §5.2).
	if start := records("Start", 3)[0]; strings.Contains(start, "Acct-Delay-Time = 0\n") || !strings.Contains(start, "Acct-Delay-Time = ") {
		t.Errorf("client 3's Start, sent late, has no Acct-Delay-Time:\n%s", start)
	}
	if i, j := strings.Index(srv.Detail(), records("Start", 3)[0]), strings.Index(srv.Detail(), records("Stop", 3)[0]); i > j {
		t.Errorf("client 3's Stop came before its Start")
	}
	if n := len(radRecords(srv, "Accounting-On", "")); n != 2 {
		t.Errorf("%d Accounting-On, want 2 (a start and a restart)", n)
	}
	if t.Failed() {
		t.Logf("detail file:\n%s", srv.Detail())
	}
}
