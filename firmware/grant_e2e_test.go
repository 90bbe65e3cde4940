//go:build e2e

package main

import (
	"strings"
	"testing"
	"time"
)

// TestQuotaSignsOut: a real client signed in with a data quota (ctl limit)
// browses until it is used up; it is signed out with reason quota within
// the firewall's 5 s counter reading of the traffic that crossed it (SPEC
// §3, Limits), and the portal holds it again.
func TestQuotaSignsOut(t *testing.T) {
	d := newDaemon(t)
	d.start()
	ptStatic(t, 1)
	mac := clientMAC(1)
	if _, errOut, code := d.ctl("auth", mac); code != 0 {
		t.Fatalf("ctl auth: %s", errOut)
	}
	const quota = 100_000
	if _, errOut, code := d.ctl("limit", mac, "quota=100KB"); code != 0 {
		t.Fatalf("ctl limit: %s", errOut)
	}
	if r := ptCurl(t, 1, "http://198.51.100.10/"); r.status != 200 || !strings.Contains(r.body, "LOBBY-ORIGIN-OK") {
		t.Fatalf("signed in, the origin answers %d", r.status)
	}

	// About 1 KB a page, request and answer: 300 pages are three times
	// the quota. Bounded: curl gives up after 20 s.
	urls := make([]string, 300)
	for i := range urls {
		urls[i] = "http://198.51.100.10/page" + string(rune('a'+i%26))
	}
	start := time.Now()
	inNS(t, clientNS(1), append([]string{"curl", "--noproxy", "*", "-s", "-o", "/dev/null", "--max-time", "20"}, urls...)...)
	browsed := time.Since(start)

	deadline := time.Now().Add(6 * time.Second)
	for ptState(d, 1) == "authenticated" && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	c := d.clients()[mac]
	t.Logf("browsing took %v; signed out %v after it ended, at %d bytes", browsed, time.Since(start)-browsed, c.BytesUp+c.BytesDown)
	if c.State != "preauth" {
		t.Fatalf("after browsing %v over its quota: %+v", browsed, c)
	}
	if c.BytesUp+c.BytesDown < quota {
		t.Errorf("signed out after %d bytes, before the quota of %d", c.BytesUp+c.BytesDown, quota)
	}
	log := d.logText()
	if !strings.Contains(log, `msg="client signed out" mac=`+mac) || !strings.Contains(log, "reason=quota") {
		t.Errorf("no sign-out with reason quota in the log:\n%s", log)
	}
	if r := ptCurl(t, 1, "http://198.51.100.10/"); r.status != 511 {
		t.Errorf("signed out by quota, the origin's page gets %d, want the portal's 511", r.status)
	}
}
