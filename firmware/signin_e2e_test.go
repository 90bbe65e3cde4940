//go:build e2e

package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"
)

// siCode is a code as `lobby ctl --json voucher list|show` prints it.
type siCode struct {
	Code       string   `json:"code"`
	State      string   `json:"state"`
	MaxDevices int      `json:"max_devices"`
	BytesUsed  uint64   `json:"bytes_used"`
	Devices    []string `json:"devices"`
	Ends       *string  `json:"ends"`
}

func (d *lobbyProc) code(c string) siCode {
	var out siCode
	d.ctlJSON(&out, "voucher", "show", c)
	return out
}

// siForm signs client k in through the real form with code, and returns
// the portal's answer.
func siForm(t *testing.T, k int, code string) ptResponse {
	t.Helper()
	page := ptCurl(t, k, ptPortal+"/?voucher="+url.QueryEscape(code))
	if !strings.Contains(page.body, `name="code" value="`+code+`"`) {
		t.Fatalf("the link does not fill the code in:\n%s", page.body)
	}
	form := url.Values{"token": {ptToken(t, page.body)}, "method": {"voucher"}, "code": {code}}
	return ptCurl(t, k, "--data", form.Encode(), "-H", "Origin: "+ptPortal, ptPortal+"/login")
}

// TestVoucherSignIn: a code made with ctl for two devices signs two lab
// clients in through the real form and refuses a third; their data counts
// against the code; kill -9 keeps the code's devices and data.
func TestVoucherSignIn(t *testing.T) {
	d := newDaemon(t, "list auth 'click'", "list auth 'voucher'")
	d.start()
	var made []siCode
	d.ctlJSON(&made, "voucher", "create", "1", "devices=2", "duration=1h", "note=e2e")
	if len(made) != 1 || made[0].State != "unused" || made[0].MaxDevices != 2 {
		t.Fatalf("voucher create: %+v", made)
	}
	code := made[0].Code
	for k := 1; k <= 3; k++ {
		ptStatic(t, k)
	}
	page := ptCurl(t, 1, ptPortal+"/")
	if v, c := strings.Index(page.body, `value="voucher"`), strings.Index(page.body, `value="click"`); c < 0 || v < c {
		t.Errorf("the page has no click part before the voucher part:\n%s", page.body)
	}

	for k := 1; k <= 2; k++ {
		if r := siForm(t, k, code); r.status != 303 || ptState(d, k) != "authenticated" {
			t.Fatalf("client %d: %d, %s\n%s", k, r.status, ptState(d, k), r.body)
		}
		c := d.clients()[clientMAC(k)]
		if c.Method == nil || *c.Method != "voucher" || c.User == nil || *c.User != code {
			t.Errorf("client %d: %+v", k, c)
		}
	}
	r := siForm(t, 3, code)
	if r.status != 403 || !strings.Contains(r.body, "in use on 2 devices") || ptState(d, 3) == "authenticated" {
		t.Errorf("third client: %d, %s\n%s", r.status, ptState(d, 3), r.body)
	}
	if !strings.Contains(d.logText(), "portal: sign-in refused") {
		t.Error("the refusal is not logged")
	}

	// The clients browse; their bytes reach the code (firewall counters,
	// then the voucher's count) and its record (the store's flush).
	for k := 1; k <= 2; k++ {
		if r := ptCurl(t, k, "http://198.51.100.10/"); !strings.Contains(r.body, "LOBBY-ORIGIN-OK") {
			t.Fatalf("client %d does not reach the origin after sign-in: %d", k, r.status)
		}
	}
	// Both clients' bytes are counted once the count stands still for
	// longer than the firewall's reading and the voucher's counting
	// take; then the store's lazy flush (5 s) writes it.
	var before siCode
	for deadline, last, since := time.Now().Add(30*time.Second), uint64(0), time.Now(); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		before = d.code(code)
		if before.BytesUsed != last {
			last, since = before.BytesUsed, time.Now()
		} else if last > 0 && time.Since(since) > 5*time.Second {
			break
		}
	}
	if before.BytesUsed == 0 || before.State != "active" || len(before.Devices) != 2 {
		t.Fatalf("code in use: %+v", before)
	}
	time.Sleep(6 * time.Second)
	if again := d.code(code); again.BytesUsed != before.BytesUsed {
		t.Fatalf("the count moved while nobody browsed: %d, then %d", before.BytesUsed, again.BytesUsed)
	}

	d.stop(syscall.SIGKILL)
	d.start()
	after := d.code(code)
	if after.State != "active" || len(after.Devices) != 2 || after.BytesUsed < before.BytesUsed || *after.Ends != *before.Ends {
		t.Errorf("after kill -9: %+v; before: %+v", after, before)
	}
	for k := 1; k <= 2; k++ {
		if s := ptState(d, k); s != "authenticated" {
			t.Errorf("client %d is %s after kill -9", k, s)
		}
	}
	// Still two devices, still no third.
	if r := siForm(t, 3, code); r.status != 403 {
		t.Errorf("third client after kill -9: %d", r.status)
	}

	// Revoked: both devices are signed out at once, reason revoked.
	var revoked siCode
	d.ctlJSON(&revoked, "voucher", "revoke", code)
	if revoked.State != "revoked" || len(revoked.Devices) != 0 || ptState(d, 1) != "preauth" || ptState(d, 2) != "preauth" {
		t.Errorf("after revoke: %+v, clients %s %s", revoked, ptState(d, 1), ptState(d, 2))
	}
	if !strings.Contains(d.logText(), "reason=revoked") {
		t.Error("no sign-out with reason revoked in the log")
	}
	if out, _, code := d.ctl("voucher", "list"); code != 0 || !strings.Contains(out, "revoked") || !strings.Contains(out, "e2e") {
		t.Errorf("voucher list: %d\n%s", code, out)
	}
}

// TestAPILoginAndJSON511: a program signs in with curl and JSON, and tells
// the network's 511 from its server's by the JSON body; a browser's Accept
// still gets the page.
func TestAPILoginAndJSON511(t *testing.T) {
	d := newDaemon(t, "list auth 'voucher'")
	d.start()
	var made []siCode
	d.ctlJSON(&made, "voucher", "create", "duration=1h")
	ptStatic(t, 1)
	ptStatic(t, 2)

	api, err := respCurl(t, 1, "-H", "Accept: application/json", "http://198.51.100.10/v1/items")
	var doc map[string]any
	if err != nil || !strings.Contains(api.status, " 511 ") || api.fields["Content-Type"] != "application/json" ||
		json.Unmarshal([]byte(api.body), &doc) != nil {
		t.Fatalf("JSON 511: %v\n%s", err, api.raw)
	}
	if doc["code"] != float64(511) || doc["user-portal-url"] != respPortal("http://198.51.100.10/v1/items") ||
		doc["captive-portal-api"] != ptPortal+"/api/captive" {
		t.Errorf("JSON 511 body: %s", api.body)
	}
	browser, err := respCurl(t, 1, "-H", "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "http://198.51.100.10/")
	if err != nil || !strings.Contains(browser.status, " 511 ") || !strings.HasPrefix(browser.fields["Content-Type"], "text/html") {
		t.Errorf("browser 511: %v\n%s", err, browser.raw)
	}

	post := func(k int, body string, hdr ...string) ptResponse {
		args := []string{"--data", body}
		for _, h := range hdr {
			args = append(args, "-H", h)
		}
		return ptCurl(t, k, append(args, ptPortal+"/api/login")...)
	}
	if r := post(1, `{"method":"voucher","code":"`+made[0].Code+`"}`); r.status != 415 {
		t.Errorf("form type: %d %s", r.status, r.body)
	}
	if r := post(1, `{"method":"voucher","code":"ABCDE-FGHJK"}`, "Content-Type: application/json"); r.status != 401 || !strings.Contains(r.body, `"error"`) {
		t.Errorf("wrong code: %d %s", r.status, r.body)
	}
	if r := post(1, `{"method":"voucher","code":"`+made[0].Code+`"}`, "Content-Type: application/json", "Origin: http://evil.example"); r.status != 403 || ptState(d, 1) == "authenticated" {
		t.Errorf("foreign Origin: %d %s", r.status, r.body)
	}
	r := post(1, `{"method":"voucher","code":"`+strings.ToLower(made[0].Code)+`"}`, "Content-Type: application/json")
	var st ptCaptive
	if r.status != 200 || json.Unmarshal([]byte(r.body), &st) != nil || st.Captive || st.SecondsRemaining == nil || ptState(d, 1) != "authenticated" {
		t.Fatalf("API sign-in: %d %s", r.status, r.body)
	}
	if r := ptCurl(t, 1, "http://198.51.100.10/"); !strings.Contains(r.body, "LOBBY-ORIGIN-OK") {
		t.Errorf("after the API sign-in the origin is not reached: %d", r.status)
	}
	// The code's one device is in: another gets 401; five wrong codes
	// make it wait (429, Retry-After).
	if r := post(2, `{"method":"voucher","code":"`+made[0].Code+`"}`, "Content-Type: application/json"); r.status != 401 || !strings.Contains(r.body, "another device") {
		t.Errorf("second device: %d %s", r.status, r.body)
	}
	for range 5 {
		r = post(2, `{"method":"voucher","code":"ABCDE-FGHJK"}`, "Content-Type: application/json")
	}
	if r.status != 429 || r.header.Get("Retry-After") != "60" {
		t.Errorf("fifth wrong code: %d, Retry-After %q, %s", r.status, r.header.Get("Retry-After"), r.body)
	}
}
