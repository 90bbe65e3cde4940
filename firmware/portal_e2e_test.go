//go:build e2e

package main

import (
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ptCaptive is the RFC 8908 API state.
type ptCaptive struct {
	Captive          bool   `json:"captive"`
	UserPortalURL    string `json:"user-portal-url"`
	SecondsRemaining *int64 `json:"seconds-remaining"`
	CanExtendSession *bool  `json:"can-extend-session"`
}

func ptAPI(t *testing.T, k int, extra ...string) ptCaptive {
	t.Helper()
	r := ptCurl(t, k, append(extra, ptPortal+"/api/captive")...)
	if r.status != 200 || r.header.Get("Content-Type") != "application/captive+json" || !strings.Contains(r.header.Get("Cache-Control"), "no-store") {
		t.Fatalf("api: %d %v\n%s", r.status, r.header, r.body)
	}
	var c ptCaptive
	if err := json.Unmarshal([]byte(r.body), &c); err != nil {
		t.Fatalf("api: %v\n%s", err, r.body)
	}
	return c
}

// TestPortalSignIn walks a client through the portal with curl: the page,
// forged and foreign posts that sign nobody in, the real sign-in, its
// status and time left, the captive API, and signing out.
func TestPortalSignIn(t *testing.T) {
	d := newDaemon(t, "option venue_name 'Lab Café'", "option terms 'Be kind to the other guests.'", "option download_rate '2mbit'", "option quota '2GB'")
	d.start()
	ptStatic(t, 1)
	ptStatic(t, 2)
	const redir = "http://198.51.100.10/"

	if c := ptAPI(t, 1); !c.Captive || c.UserPortalURL != ptPortal+"/" || c.SecondsRemaining != nil {
		t.Errorf("api before sign-in: %+v", c)
	}

	page := ptCurl(t, 1, ptPortal+"/?redir="+url.QueryEscape(redir))
	for _, want := range []string{"Lab Café", "Be kind to the other guests.", `action="/login"`, `name="redir" value="` + redir + `"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("portal page lacks %q", want)
		}
	}
	if page.status != 200 || page.header.Get("Cache-Control") != "no-store" {
		t.Errorf("portal page: %d, Cache-Control %q", page.status, page.header.Get("Cache-Control"))
	}
	token := ptToken(t, page.body)
	form := func(tok string) string { return "token=" + url.QueryEscape(tok) + "&redir=" + url.QueryEscape(redir) }

	for _, bad := range []struct {
		name string
		k    int
		args []string
	}{
		{"no token", 1, []string{"--data", "redir=" + url.QueryEscape(redir)}},
		{"foreign Origin", 1, []string{"--data", form(token), "-H", "Origin: http://evil.example"}},
		{"foreign Referer", 1, []string{"--data", form(token), "-H", "Referer: http://evil.example/page"}},
		{"another client's token", 2, []string{"--data", form(token)}},
	} {
		r := ptCurl(t, bad.k, append(bad.args, ptPortal+"/login")...)
		if r.status != 403 {
			t.Errorf("%s: status %d, want 403", bad.name, r.status)
		}
		// Client 2 may not be listed yet: it is known only from the
		// neighbour table until it signs in.
		if s1, s2 := ptState(d, 1), ptState(d, 2); s1 != "preauth" || s2 == "authenticated" {
			t.Errorf("%s signed a client in: %q, %q", bad.name, s1, s2)
		}
	}

	r := ptCurl(t, 1, "--data", form(token), "-H", "Origin: "+ptPortal, ptPortal+"/login")
	if r.status != 303 || r.header.Get("Location") != redir {
		t.Fatalf("sign-in: %d, Location %q\n%s", r.status, r.header.Get("Location"), r.body)
	}
	c := d.clients()[clientMAC(1)]
	if c.State != "authenticated" || c.IP != ptClientIP(1) || c.Expires == nil || c.Method == nil || *c.Method != "click" || c.User != nil ||
		c.Download != 2e6 || c.Upload != 0 || c.Quota != 2e9 { // config lobby's limits
		t.Errorf("after sign-in: %+v", c)
	}
	if s := ptState(d, 2); s == "authenticated" {
		t.Errorf("client 2 is %s", s)
	}

	status := ptCurl(t, 1, ptPortal+"/status")
	if !strings.Contains(status.body, "You are online") || !strings.Contains(status.body, "2 hours") {
		t.Errorf("status page:\n%s", status.body)
	}
	if c := ptAPI(t, 1); c.Captive || c.SecondsRemaining == nil || *c.SecondsRemaining < 7000 || *c.SecondsRemaining > 7200 {
		t.Errorf("api after sign-in: %+v", c)
	}
	if c := ptAPI(t, 2); !c.Captive {
		t.Errorf("api of the other client: %+v", c)
	}

	// Signing out needs the status page's own token too.
	if r := ptCurl(t, 1, "--data", "token="+url.QueryEscape(token), ptPortal+"/logout"); r.status != 403 || ptState(d, 1) != "authenticated" {
		t.Errorf("sign-out with the sign-in token: %d, %s", r.status, ptState(d, 1))
	}
	r = ptCurl(t, 1, "--data", "token="+url.QueryEscape(ptToken(t, status.body)), "-H", "Origin: "+ptPortal, ptPortal+"/logout")
	if r.status != 303 || r.header.Get("Location") != "/" {
		t.Errorf("sign-out: %d %q", r.status, r.header.Get("Location"))
	}
	if s := ptState(d, 1); s != "preauth" {
		t.Errorf("after sign-out: %s", s)
	}
	if c := ptAPI(t, 1); !c.Captive || c.SecondsRemaining != nil {
		t.Errorf("api after sign-out: %+v", c)
	}
	log := d.logText()
	for _, want := range []string{`msg="client signed in" mac=` + clientMAC(1) + " ip=" + ptClientIP(1) + " method=click", `msg="client signed out" mac=` + clientMAC(1) + " ip=" + ptClientIP(1) + " method=click user=\"\" reason=logout"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q", want)
		}
	}
}

// TestPortalHTTPS serves the portal over TLS too: the captive API then
// advertises the https URI, over either scheme.
func TestPortalHTTPS(t *testing.T) {
	dir := t.TempDir()
	cert, key := ptCert(t, dir, "portal.lan")
	d := newDaemon(t, "option tls_cert '"+cert+"'", "option tls_key '"+key+"'", "option tls_port '8443'")
	d.start()
	ptStatic(t, 1)
	want := "https://portal.lan:8443/"
	if c := ptAPI(t, 1); c.UserPortalURL != want || !c.Captive {
		t.Errorf("api over http: %+v", c)
	}
	tls := []string{"--cacert", cert, "--resolve", "portal.lan:8443:10.77.0.1"}
	r := ptCurl(t, 1, append(tls, "https://portal.lan:8443/api/captive")...)
	var c ptCaptive
	if err := json.Unmarshal([]byte(r.body), &c); err != nil || r.status != 200 || c.UserPortalURL != want {
		t.Errorf("api over https: %d %v %+v", r.status, err, c)
	}
	page := ptCurl(t, 1, append(tls, "https://portal.lan:8443/")...)
	r = ptCurl(t, 1, append(tls, "--data", "token="+url.QueryEscape(ptToken(t, page.body)), "-H", "Origin: https://portal.lan:8443",
		"https://portal.lan:8443/login")...)
	if r.status != 303 || ptState(d, 1) != "authenticated" {
		t.Errorf("sign-in over https: %d, %s", r.status, ptState(d, 1))
	}
}

// TestPortalBadTemplate: an operator's broken template stops lobby at
// start-up with one line that names the file.
func TestPortalBadTemplate(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "login.html"), []byte("<h1>{{.VenueName</h1>\n"), 0o644)
	d := newDaemon(t, "option template_dir '"+dir+"'")
	out, err := exec.Command("ip", "netns", "exec", routerNS, lobbyBin, "run", "-c", d.config).CombinedOutput()
	if exitCode(err) != 1 || !strings.Contains(string(out), filepath.Join(dir, "login.html")) {
		t.Errorf("exit %d, want 1 with the file named:\n%s", exitCode(err), out)
	}
}

// ptBrowserOutput is what scripts/browser/portal.js prints.
type ptBrowserOutput struct {
	Error  string `json:"error"`
	Portal struct {
		URL         string `json:"url"`
		Status      int    `json:"status"`
		Title       string `json:"title"`
		Text        string `json:"text"`
		Buttons     int    `json:"buttons"`
		ScrollWidth int    `json:"scrollWidth"`
	} `json:"portal"`
	Navigations []string `json:"navigations"`
	Console     []string `json:"console"`
	WaitError   string   `json:"waitError"`
	Final       struct {
		URL  string `json:"url"`
		MS   int    `json:"ms"`
		Text string `json:"text"`
	} `json:"final"`
	Status struct {
		Text string `json:"text"`
	} `json:"status"`
}

// TestPortalBrowser signs in with headless Chromium on a phone-sized
// screen: the portal page renders (its screenshot is kept as an artefact),
// one press of the button signs the client in and the browser lands on the
// page it first asked for. Needs chromium, node and npm (scripts/deps.sh);
// installs playwright-core into scripts/browser when it is missing.
func TestPortalBrowser(t *testing.T) {
	d := newDaemon(t, "option venue_name 'Lab Café'")
	d.start()
	ptStatic(t, 1)
	const redir = "http://198.51.100.10/"
	res := ptBrowser(t, "", "portal", redir)

	if res.Portal.Status != 200 || !strings.Contains(res.Portal.Text, "Lab Café") || res.Portal.Buttons != 1 {
		t.Errorf("portal page: status %d, %d buttons:\n%s", res.Portal.Status, res.Portal.Buttons, res.Portal.Text)
	}
	// The button posted the form, and the browser went on to redir.
	want := []string{"GET " + ptPortal + "/?redir=" + url.QueryEscape(redir), "POST " + ptPortal + "/login", "GET " + redir}
	if strings.Join(res.Navigations[:min(3, len(res.Navigations))], "\n") != strings.Join(want, "\n") {
		t.Errorf("navigations %q, want %q first", res.Navigations, want)
	}
	if s := ptState(d, 1); s != "authenticated" {
		t.Errorf("after the click the client is %s", s)
	}
	// With the firewall wired, redir is the origin's page itself: no
	// error page, no reload.
	if res.WaitError != "" || res.Final.URL != redir || !strings.Contains(res.Final.Text, "LOBBY-ORIGIN-OK") {
		t.Errorf("landed on %q (%s):\n%s", res.Final.URL, res.WaitError, res.Final.Text)
	}
	if !strings.Contains(res.Status.Text, "You are online") {
		t.Errorf("status page after sign-in:\n%s", res.Status.Text)
	}
}

// ptBrowser runs scripts/browser/portal.js in lab client 1 from the portal
// page with redir to the sign-in (by code when code is set, else by the
// button) and on to redir; its screenshots are NAME.png and
// NAME-status.png among the artefacts. It skips without chromium, node or
// npm, and installs playwright-core into scripts/browser when it is
// missing.
func ptBrowser(t *testing.T, code, name, redir string) ptBrowserOutput {
	t.Helper()
	chromium, browserDir, artefacts := needBrowser(t)
	shot := filepath.Join(artefacts, name+".png")
	statusShot := filepath.Join(artefacts, name+"-status.png")

	start := time.Now()
	out, err := inNS(t, clientNS(1), "env", "CHROMIUM="+chromium, "CODE="+code, "node", filepath.Join(browserDir, "portal.js"),
		ptPortal+"/?redir="+url.QueryEscape(redir), shot, redir, statusShot)
	var res ptBrowserOutput
	if jerr := json.Unmarshal([]byte(lastLine(out)), &res); jerr != nil || err != nil || res.Error != "" {
		t.Fatalf("browser: %v %v %s\n%s", err, jerr, res.Error, out)
	}
	t.Logf("browser run took %v; screenshots: %s, %s", time.Since(start).Round(time.Millisecond), shot, statusShot)
	if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
		t.Errorf("no screenshot: %v", err)
	}
	if len(res.Console) > 0 {
		t.Errorf("console errors on the portal (CSP?): %q", res.Console)
	}
	if res.Portal.ScrollWidth > 390 {
		t.Errorf("the page is %d px wide on a 390 px screen", res.Portal.ScrollWidth)
	}
	return res
}

// TestPortalBrowserVoucher: Chromium on a phone types a code from ctl
// voucher create (in lower case) into the page's code field, presses its
// button, and lands on the page it first asked for.
func TestPortalBrowserVoucher(t *testing.T) {
	d := newDaemon(t, "list auth 'click'", "list auth 'voucher'")
	d.start()
	ptStatic(t, 1)
	var made []siCode
	d.ctlJSON(&made, "voucher", "create", "quota=1GB")
	const redir = "http://198.51.100.10/"
	res := ptBrowser(t, made[0].Code, "portal-voucher", redir)
	if res.Portal.Status != 200 || res.Portal.Buttons != 2 {
		t.Errorf("portal page: status %d, %d buttons (want click's and the code's):\n%s", res.Portal.Status, res.Portal.Buttons, res.Portal.Text)
	}
	want := []string{"GET " + ptPortal + "/?redir=" + url.QueryEscape(redir), "POST " + ptPortal + "/login", "GET " + redir}
	if strings.Join(res.Navigations[:min(3, len(res.Navigations))], "\n") != strings.Join(want, "\n") {
		t.Errorf("navigations %q, want %q first", res.Navigations, want)
	}
	c := d.clients()[clientMAC(1)]
	if c.State != "authenticated" || c.User == nil || *c.User != made[0].Code {
		t.Errorf("after the code: %+v", c)
	}
	if res.WaitError != "" || res.Final.URL != redir || !strings.Contains(res.Final.Text, "LOBBY-ORIGIN-OK") {
		t.Errorf("landed on %q (%s):\n%s", res.Final.URL, res.WaitError, res.Final.Text)
	}
	if !strings.Contains(res.Status.Text, "Data left") || !strings.Contains(res.Status.Text, made[0].Code) {
		t.Errorf("status page after sign-in:\n%s", res.Status.Text)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// needBrowser skips the test without chromium, node or npm, installs
// playwright-core into scripts/browser when it is missing, and returns
// chromium's path, scripts/browser and the directory of artefacts
// ($LOBBY_ARTEFACTS, else build/artefacts).
func needBrowser(t *testing.T) (chromium, browserDir, artefacts string) {
	t.Helper()
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("no chromium (%v): apt-get install chromium", err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("no node: apt-get install nodejs npm")
	}
	browserDir, _ = filepath.Abs("../scripts/browser")
	if _, err := os.Stat(filepath.Join(browserDir, "node_modules", "playwright-core")); err != nil {
		if _, err := exec.LookPath("npm"); err != nil {
			t.Skip("no npm to install playwright-core: apt-get install npm")
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = browserDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", browserDir, err, out)
		}
	}
	artefacts = os.Getenv("LOBBY_ARTEFACTS")
	if artefacts == "" {
		artefacts, _ = filepath.Abs("../build/artefacts")
	}
	os.MkdirAll(artefacts, 0o755)
	return chromium, browserDir, artefacts
}
