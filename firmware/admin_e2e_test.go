//go:build e2e

package main

import (
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestAdminPages runs lobby with its admin listener on the router's WAN
// address (the operator's side in the lab) and checks that no client on
// the LAN reaches the admin port on any of the router's addresses, signed
// in or not, while from the lab's internet a wrong password is refused, the
// right one signs in, and a Prometheus scrape with Basic auth works.
func TestAdminPages(t *testing.T) {
	d := newDaemon(t)
	d.writeConfig(baseConfig(d.dir) + adminSection(t, "correct horse"))
	d.start()
	waitLog(t, d, "admin: serving")

	// The listener is there, for the operator's side.
	curl := adminCurl(t)
	page, code := curl(adminPage + "/login")
	csrf := adminCSRF(t, page)
	if code != 200 {
		t.Fatalf("login page from the internet side: %d\n%s", code, page)
	}
	if _, code := curl("-d", "user=admin&password=wrong+horse&csrf="+csrf, adminPage+"/login"); code != 403 {
		t.Fatalf("wrong password: %d", code)
	}
	if _, code := curl("-d", "user=admin&password=correct+horse&csrf="+csrf, adminPage+"/login"); code != 303 {
		t.Fatalf("right password: %d", code)
	}
	if page, code := curl(adminPage + "/"); code != 200 || !strings.Contains(page, "Overview") || !strings.Contains(page, "nftables") {
		t.Fatalf("overview after login: %d\n%s", code, page)
	}

	// The guests: a LAN client, before and after sign-in, on every address
	// of the router. The connection must time out (dropped), not be
	// refused: where nothing listens, a refusal would mean the firewall
	// let the packet through.
	ptStatic(t, 1)
	mustNS(t, clientNS(1), "ip", "-6", "addr", "replace", "fd77::31/64", "dev", "eth0", "nodad")
	mustNS(t, clientNS(1), "ip", "-6", "route", "replace", "default", "via", "fd77::1", "dev", "eth0")
	t.Cleanup(func() { inNS(t, clientNS(1), "ip", "-6", "route", "del", "default") })
	for _, state := range []string{"preauth", "signed in"} {
		if state == "signed in" {
			if _, errOut, code := d.ctl("auth", clientMAC(1)); code != 0 {
				t.Fatalf("ctl auth: %s", errOut)
			}
		}
		for _, url := range []string{"http://192.0.2.1:8080/login", "http://10.77.0.1:8080/login", "http://[fd77::1]:8080/login", "http://[2001:db8:2::1]:8080/login"} {
			cmd := exec.Command("ip", "netns", "exec", clientNS(1), "curl", "--noproxy", "*", "-s", "--connect-timeout", "2", url)
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 28 {
				t.Errorf("%s client, %s: curl ended with %v; want a timeout (28): dropped", state, url, err)
			}
		}
	}

	// A scrape: without the password refused, with it the text format.
	if _, code := curl(adminPage + "/metrics"); code != 401 {
		t.Fatalf("scrape without a password: %d", code)
	}
	text, code := curl("-u", "admin:correct horse", adminPage+"/metrics")
	if code != 200 || !strings.Contains(text, "# TYPE lobby_clients gauge\n") || !strings.Contains(text, `lobby_clients{state="authenticated"} 1`) ||
		!strings.Contains(text, "# TYPE lobby_dns_queries_total counter\n") ||
		!strings.Contains(text, "# TYPE lobby_sign_ins_total counter\n") || !strings.Contains(text, `lobby_sign_ins_total{method="ctl"} 1`+"\n") ||
		!strings.Contains(text, `lobby_sign_ins_total{method="voucher"} 0`+"\n") || !strings.Contains(text, `lobby_sign_outs_total{reason="admin"} 0`+"\n") {
		t.Fatalf("scrape: %d\n%s", code, text)
	}
	sample := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*\})? [-+0-9.eEInfa]+$`)
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if !strings.HasPrefix(line, "# HELP ") && !strings.HasPrefix(line, "# TYPE ") && !sample.MatchString(line) {
			t.Errorf("not the exposition format: %q", line)
		}
	}

	// Settings: a rate of config click's own and a quota in config
	// lobby's, applied without a restart: the next click sign-in gets
	// them, and the file says them.
	page, _ = curl(adminPage + "/settings")
	if !strings.Contains(page, `<option value="click" selected>`) {
		t.Fatalf("settings page:\n%s", page)
	}
	form := url.Values{"csrf": {adminCSRF(t, page)}, "venue_name": {"Lab Café"}, "terms": {"Be kind."}, "auth": {"click", ""},
		"lobby.session_timeout": {"2h"}, "lobby.quota": {"1GB"}, "click.download_rate": {"1mbit"}}
	if page, code := curl("--data", form.Encode(), adminPage+"/settings"); code != 200 || !strings.Contains(page, "Saved and applied.") {
		t.Fatalf("settings saved: %d\n%s", code, page)
	}
	ptStatic(t, 2)
	portal := ptCurl(t, 2, ptPortal+"/")
	if r := ptCurl(t, 2, "--data", "token="+url.QueryEscape(ptToken(t, portal.body)), "-H", "Origin: "+ptPortal, ptPortal+"/login"); r.status != 303 {
		t.Fatalf("click sign-in: %d\n%s", r.status, r.body)
	}
	if c := d.clients()[clientMAC(2)]; c.State != "authenticated" || c.Download != 1e6 || c.Quota != 1e9 {
		t.Errorf("the sign-in after the settings: %+v", c)
	}
	if conf, _ := os.ReadFile(d.config); !strings.Contains(string(conf), "config click 'click'\n\toption download_rate '1mbit'\n") ||
		!strings.Contains(string(conf), "\tlist auth 'click'\n") || !strings.Contains(string(conf), "\toption quota '1GB'\n") {
		t.Errorf("config file:\n%s", conf)
	}
}

// TestAdminBrowser: headless Chromium on the operator's side signs in,
// makes a batch of 8 vouchers on the Vouchers page, prints its A4 sheet to
// PDF (the 8 codes must be in the PDF's text), and signs a guest out on the
// Clients page; on a phone's width no page scrolls sideways. zbar reads the sheet's QR codes back: each is the portal's
// link with its card's code. The screenshots of the sheet and the overview
// are kept among the artefacts (docs/admin/ shows them). Needs chromium,
// node, npm, pdftotext and zbarimg (scripts/deps.sh).
func TestAdminBrowser(t *testing.T) {
	for tool, pkg := range map[string]string{"pdftotext": "poppler-utils", "zbarimg": "zbar-tools"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: apt-get install %s", tool, pkg)
		}
	}
	chromium, browserDir, artefacts := needBrowser(t)
	d := newDaemon(t)
	d.writeConfig(baseConfig(d.dir, "option venue_name 'Lab Café'", "list auth 'click'", "list auth 'voucher'") + adminSection(t, "correct horse"))
	d.start()
	waitLog(t, d, "admin: serving")
	ptStatic(t, 1)
	if _, errOut, code := d.ctl("auth", clientMAC(1)); code != 0 {
		t.Fatalf("ctl auth: %s", errOut)
	}

	for _, f := range []string{"admin-overview.png", "admin-vouchers.png", "admin-sheet.png", "admin-sheet.pdf"} {
		os.Remove(filepath.Join(artefacts, f))
	}
	start := time.Now()
	out, err := inNS(t, inetNS, "env", "CHROMIUM="+chromium, "PASSWORD=correct horse", "node", filepath.Join(browserDir, "admin.js"),
		adminPage, artefacts, clientMAC(1))
	var res struct {
		Error      string
		Console    []string
		AfterLogin struct{ URL, Title string }
		Made       struct{ URL, Message string }
		Sheet      struct {
			URL       string
			Cards, QR int
		}
		ClientRow, SignedOut, Overview string
		PhoneWidths                    map[string]int
	}
	if jerr := json.Unmarshal([]byte(lastLine(out)), &res); jerr != nil || err != nil || res.Error != "" {
		t.Fatalf("browser: %v %v %s\n%s", err, jerr, res.Error, out)
	}
	t.Logf("browser run took %v; artefacts in %s", time.Since(start).Round(time.Millisecond), artefacts)
	if len(res.Console) > 0 {
		t.Errorf("console errors on the admin pages (CSP?): %q", res.Console)
	}
	if res.AfterLogin.URL != adminPage+"/" || !strings.HasPrefix(res.AfterLogin.Title, "Overview") {
		t.Errorf("after the login: %+v", res.AfterLogin)
	}
	if res.Made.Message != "Made 8 codes." || res.Sheet.Cards != 8 || res.Sheet.QR != 8 || !strings.Contains(res.Sheet.URL, "paper=a4") {
		t.Errorf("batch: %+v, sheet: %+v", res.Made, res.Sheet)
	}

	// The 8 codes ctl knows are the 8 on the printed sheet.
	var codes []siCode
	d.ctlJSON(&codes, "voucher", "list")
	pdf, err := exec.Command("pdftotext", "-layout", filepath.Join(artefacts, "admin-sheet.pdf"), "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, pdf)
	}
	text := string(pdf)
	if len(codes) != 8 {
		t.Fatalf("ctl voucher list: %d codes", len(codes))
	}
	for _, c := range codes {
		if !strings.Contains(text, c.Code) {
			t.Errorf("code %s is not on the printed sheet", c.Code)
		}
	}
	if n := len(regexp.MustCompile(`[2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{5}`).FindAllString(text, -1)); n != 8 || !strings.Contains(text, "Lab Café") {
		t.Errorf("the sheet has %d codes:\n%s", n, text)
	}
	if pages := strings.Count(text, "\f"); pages != 1 {
		t.Errorf("8 cards on %d A4 pages, want 1", pages)
	}
	// Each card's QR code, read back from the picture of the sheet by
	// zbar, is the portal's link with that card's code.
	qr, err := exec.Command("zbarimg", "-q", "--raw", filepath.Join(artefacts, "admin-sheet.png")).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v\n%s", err, qr)
	}
	links := strings.Fields(string(qr))
	sort.Strings(links)
	var want []string
	for _, c := range codes {
		want = append(want, ptPortal+"/?voucher="+c.Code)
	}
	sort.Strings(want)
	if strings.Join(links, " ") != strings.Join(want, " ") {
		t.Errorf("QR codes on the sheet:\n%s\nwant:\n%s", strings.Join(links, "\n"), strings.Join(want, "\n"))
	}

	// The guest was signed out from the Clients page.
	if !strings.Contains(res.ClientRow, "authenticated") || !strings.HasPrefix(res.SignedOut, "Done: signout") {
		t.Errorf("clients: row %q, then %q", res.ClientRow, res.SignedOut)
	}
	if s := ptState(d, 1); s != "preauth" {
		t.Errorf("after Sign out the client is %s", s)
	}
	if !strings.Contains(res.Overview, "Sign-ins: 1.") {
		t.Errorf("overview:\n%s", res.Overview)
	}
	if len(res.PhoneWidths) != 4 {
		t.Errorf("phone widths: %v", res.PhoneWidths)
	}
	for p, w := range res.PhoneWidths {
		if w > 390 {
			t.Errorf("%s is %d px wide on a 390 px phone", p, w)
		}
	}
	for _, f := range []string{"admin-overview.png", "admin-vouchers.png", "admin-sheet.png"} {
		if fi, err := os.Stat(filepath.Join(artefacts, f)); err != nil || fi.Size() == 0 {
			t.Errorf("no %s: %v", f, err)
		}
	}
}
