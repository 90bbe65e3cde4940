package portal

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/radius"
	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/signin"
	"github.com/lobby-fw/lobby/internal/voucher"
)

// offer sets the methods of list auth (and config click's cooldown).
func (f *fixture) offer(cooldown time.Duration, methods ...session.Method) {
	f.t.Helper()
	if err := f.signin.Reload(signin.Config{Methods: methods, Click: signin.ClickConfig{Cooldown: cooldown}, Voucher: voucher.SpecDefaults()}); err != nil {
		f.t.Fatal(err)
	}
}

// code makes a voucher code for devices devices with quota bytes.
func (f *fixture) code(devices int, quota uint64) string {
	f.t.Helper()
	vs, err := f.signin.Voucher().Create(context.Background(), voucher.Batch{Count: 1, Limits: voucher.Limits{Duration: time.Hour, Devices: devices, Quota: quota}})
	if err != nil {
		f.t.Fatal(err)
	}
	return vs[0].Code.String()
}

// login posts the sign-in form of method from the client at ip.
func (f *fixture) login(ip string, form url.Values) (*http.Response, string) {
	f.t.Helper()
	_, page := f.do("GET", "/", ip, nil, nil)
	form.Set("token", scrape(f.t, page))
	return f.do("POST", "/login", ip, form, map[string]string{"Origin": "http://10.77.0.1:2050"})
}

func TestPagePartsInAuthOrder(t *testing.T) {
	f := newFixture(t)
	_, page := f.do("GET", "/", ip1, nil, nil)
	if strings.Contains(page, `name="code"`) || !strings.Contains(page, `name="method" value="click"`) {
		t.Errorf("click alone: %s", page)
	}
	f.offer(0, session.MethodVoucher, session.MethodClick)
	_, page = f.do("GET", "/?voucher=abcde-fghjk&redir=http%3A%2F%2Fexample.com%2F", ip1, nil, nil)
	v, c := strings.Index(page, `value="voucher"`), strings.Index(page, `value="click"`)
	if v < 0 || c < 0 || v > c {
		t.Errorf("voucher then click: voucher part at %d, click part at %d", v, c)
	}
	if !strings.Contains(page, `name="code" value="abcde-fghjk"`) {
		t.Errorf("GET /?voucher= does not fill the code in:\n%s", page)
	}
	if strings.Count(page, `name="redir" value="http://example.com/"`) != 2 {
		t.Errorf("each part carries redir:\n%s", page)
	}
	if strings.Contains(page, "<script") || !strings.Contains(page, "Terms of use") {
		t.Errorf("page has a script or lacks the terms")
	}
	// What the link carries is escaped in the part.
	_, page = f.do("GET", "/?voucher=%22%3E%3Cb%3E", ip1, nil, nil)
	if strings.Contains(page, `"><b>`) || !strings.Contains(page, `value="&#34;&gt;&lt;b&gt;"`) {
		t.Errorf("code not escaped:\n%s", page)
	}
}

func TestVoucherFormSignsIn(t *testing.T) {
	f := newFixture(t)
	f.offer(0, session.MethodClick, session.MethodVoucher)
	code := f.code(1, 5e8)
	res, _ := f.login(ip1, url.Values{"method": {"voucher"}, "code": {strings.ToLower(code)}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/status" {
		t.Fatalf("sign-in with a code: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	c, _ := f.table.Lookup(mac1)
	if c.State != session.Authenticated || c.Grant.Method != session.MethodVoucher || c.Grant.User != code {
		t.Fatalf("client %+v", c)
	}
	f.now = time.Now()
	_, page := f.do("GET", "/status", ip1, nil, nil)
	for _, want := range []string{"Data left</dt><dd>500 MB", "Code</dt><dd>" + code, "Time left</dt><dd>1 hour"} {
		if !strings.Contains(page, want) {
			t.Errorf("status lacks %q:\n%s", want, page)
		}
	}
	// The code's one device is in: a second is refused with the page
	// again and one sentence, and stays out.
	res, page = f.login(ip2, url.Values{"method": {"voucher"}, "code": {code}})
	if res.StatusCode != http.StatusForbidden || !strings.Contains(page, "This code is in use on another device.") ||
		!strings.Contains(page, `name="code" value="`+code+`"`) || f.state(mac2) != session.Preauth {
		t.Errorf("second device: %d\n%s", res.StatusCode, page)
	}
}

func TestRefusals(t *testing.T) {
	f := newFixture(t)
	f.offer(time.Hour, session.MethodClick, session.MethodVoucher)
	for i := range 5 {
		res, page := f.login(ip2, url.Values{"method": {"voucher"}, "code": {"ABCDE-FGHJK"}})
		want, status := "That code is not valid", http.StatusForbidden
		if i == 4 {
			want, status = "please wait 60 seconds", http.StatusTooManyRequests
		}
		if res.StatusCode != status || !strings.Contains(page, want) {
			t.Errorf("wrong code %d: %d, want %d with %q", i+1, res.StatusCode, status, want)
		}
	}
	res, _ := f.login(ip2, url.Values{"method": {"voucher"}, "code": {"ABCDE-FGHJK"}})
	if ra := res.Header.Get("Retry-After"); res.StatusCode != http.StatusTooManyRequests || ra == "" {
		t.Errorf("during the wait: %d, Retry-After %q", res.StatusCode, ra)
	}

	// Click's cooldown: 429 with the time it ends.
	if res, _ := f.login(ip1, url.Values{"method": {"click"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("click: %d", res.StatusCode)
	}
	if _, err := f.table.Deauth(context.Background(), mac1, session.ReasonLogout); err != nil {
		t.Fatal(err)
	}
	res, page := f.login(ip1, url.Values{"method": {"click"}})
	if res.StatusCode != http.StatusTooManyRequests || !strings.Contains(page, "you can sign in again at") {
		t.Errorf("cooldown: %d\n%s", res.StatusCode, page)
	}
	if ra, _ := strconv.Atoi(res.Header.Get("Retry-After")); ra < 3500 || ra > 3660 {
		t.Errorf("cooldown Retry-After %q", res.Header.Get("Retry-After"))
	}
	// A form without a method (an operator's login.html from before
	// the methods) is the click-through.
	f.offer(0, session.MethodVoucher)
	res, page = f.login(ip1, url.Values{})
	if res.StatusCode != http.StatusForbidden || !strings.Contains(page, "not offered here") {
		t.Errorf("click while only vouchers are offered: %d\n%s", res.StatusCode, page)
	}
}

// apiPost posts body to /api/login from ip with the headers given.
func (f *fixture) apiPost(ip, body string, hdr map[string]string) (*http.Response, map[string]any) {
	f.t.Helper()
	req := httptest.NewRequest("POST", "/api/login", strings.NewReader(body))
	req.RemoteAddr = ip + ":40000"
	req.Host = portalAddr + ":2050"
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	res := serve(f.s, req)
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		f.t.Fatalf("%d: not JSON: %v", res.StatusCode, err)
	}
	if res.Header.Get("Access-Control-Allow-Origin") != "" {
		f.t.Errorf("a CORS header: %v", res.Header)
	}
	return res, out
}

func TestAPILogin(t *testing.T) {
	f := newFixture(t)
	f.offer(0, session.MethodClick, session.MethodVoucher)
	code := f.code(1, 0)
	for _, tt := range []struct {
		name, ip, body string
		hdr            map[string]string
		status         int
		errText        string
	}{
		{"form type", ip1, `{"method":"click"}`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "application/json"},
		{"no type", ip1, `{"method":"click"}`, map[string]string{"Content-Type": ""}, 415, "application/json"},
		{"foreign origin", ip1, `{"method":"click"}`, map[string]string{"Origin": "http://evil.example"}, 403, "another site"},
		{"unknown field", ip1, `{"method":"voucher","cod":"x"}`, nil, 400, "cod"},
		{"no method", ip1, `{}`, nil, 400, "method"},
		{"wrong code", ip1, `{"method":"voucher","code":"ABCDE-FGHJK"}`, nil, 401, "not valid"},
		{"unknown device", ipUnknown, `{"method":"click"}`, nil, 401, "not recognised"},
	} {
		res, out := f.apiPost(tt.ip, tt.body, tt.hdr)
		if msg, _ := out["error"].(string); res.StatusCode != tt.status || !strings.Contains(msg, tt.errText) {
			t.Errorf("%s: %d %v, want %d with %q", tt.name, res.StatusCode, out, tt.status, tt.errText)
		}
	}
	if f.state(mac1) != session.Preauth {
		t.Fatal("a refused API sign-in signed the client in")
	}
	f.now = time.Now()
	res, out := f.apiPost(ip1, `{"method":"voucher","code":"`+code+`"}`, map[string]string{"Origin": "http://10.77.0.1:2050"})
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/captive+json" || out["captive"] != false {
		t.Fatalf("voucher: %d %v", res.StatusCode, out)
	}
	if s, _ := out["seconds-remaining"].(float64); s < 3500 || s > 3600 {
		t.Errorf("seconds-remaining %v", out["seconds-remaining"])
	}
	if out["can-extend-session"] != false {
		t.Errorf("can-extend-session %v", out["can-extend-session"])
	}
	// Signed in already: 200, nothing changes.
	if res, _ := f.apiPost(ip1, `{"method":"click"}`, nil); res.StatusCode != 200 {
		t.Errorf("again: %d", res.StatusCode)
	}
	// The guessing limit: 429 with Retry-After.
	var last *http.Response
	for range 5 {
		last, _ = f.apiPost(ip2, `{"method":"voucher","code":"ABCDE-FGHJK"}`, nil)
	}
	if ra := last.Header.Get("Retry-After"); last.StatusCode != 429 || ra != "60" {
		t.Errorf("fifth wrong code: %d, Retry-After %q", last.StatusCode, ra)
	}
}

func TestCaptiveAPIQuotaAndVenue(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.VenueURL = "https://example.com/venue" })
	f.offer(0, session.MethodVoucher)
	code := f.code(2, 1e6)
	_, out := f.apiPost(ip1, `{"method":"voucher","code":"`+code+`"}`, nil)
	if out["venue-info-url"] != "https://example.com/venue" || out["bytes-remaining"] != float64(1e6) {
		t.Errorf("after sign-in: %v", out)
	}
	res, body := f.do("GET", "/api/captive", ip2, nil, nil)
	var st map[string]any
	json.Unmarshal([]byte(body), &st)
	if res.StatusCode != 200 || st["captive"] != true || st["venue-info-url"] != "https://example.com/venue" || st["bytes-remaining"] != nil {
		t.Errorf("preauth: %v", st)
	}
}

func FuzzAPILogin(f *testing.F) {
	for _, s := range []string{
		`{"method":"click"}`, `{"method":"voucher","code":"abcde fghjk"}`,
		`{"method":"radius","username":"u","password":"p"}`, `{"method":"voucher"} {}`, `[]`, `{"method":"x"}`, "\"\\ud800\"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := parseAPILogin(body)
		if err != nil {
			return
		}
		switch r.Method {
		case session.MethodClick, session.MethodVoucher, session.MethodRADIUS:
		default:
			t.Fatalf("method %q accepted", r.Method)
		}
		if r.MAC != nil || r.IP.IsValid() {
			t.Fatal("the body chose the device")
		}
	})
}

// servers answers Access-Requests for the radius method: "nemo" with
// "arctangent" is accepted, "down" finds no server, anyone else is
// rejected with a Reply-Message.
type servers struct{}

func (servers) Authenticate(_ context.Context, r radius.Request) (radius.Limits, error) {
	switch {
	case r.User == "down":
		return radius.Limits{}, radius.ErrNoAnswer
	case r.User == "nemo" && r.Password == "arctangent":
		return radius.Limits{Limits: session.Limits{DownloadRate: 2e6, Given: session.GivenDownloadRate}}, nil
	}
	return radius.Limits{}, &radius.RejectError{Message: "Your account has expired."}
}

// The radius part: its form signs in, a reject shows the Reply-Message
// (403), no server answering is 503 on the page and in the API.
func TestRADIUSForm(t *testing.T) {
	f := newFixture(t)
	if err := f.signin.Reload(signin.Config{Methods: []session.Method{session.MethodRADIUS}, RADIUS: signin.RADIUSConfig{Client: servers{}}}); err != nil {
		t.Fatal(err)
	}
	_, page := f.do("GET", "/", ip1, nil, nil)
	if !strings.Contains(page, `name="method" value="radius"`) || !strings.Contains(page, `name="password" type="password"`) ||
		!strings.Contains(page, "user name and password") {
		t.Fatalf("the radius part is missing:\n%s", page)
	}
	res, page := f.login(ip1, url.Values{"method": {"radius"}, "username": {"expired"}, "password": {"x"}})
	if res.StatusCode != http.StatusForbidden || !strings.Contains(page, "Your account has expired.") {
		t.Errorf("reject: %d\n%s", res.StatusCode, page)
	}
	res, page = f.login(ip1, url.Values{"method": {"radius"}, "username": {"down"}, "password": {"x"}})
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, "does not answer") {
		t.Errorf("no answer: %d\n%s", res.StatusCode, page)
	}
	if res, out := f.apiPost(ip2, `{"method":"radius","username":"down","password":"x"}`, nil); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("api, no answer: %d %v", res.StatusCode, out)
	}
	res, _ = f.login(ip1, url.Values{"method": {"radius"}, "username": {"nemo"}, "password": {"arctangent"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("accept: %d", res.StatusCode)
	}
	_, page = f.do("GET", "/status", ip1, nil, nil)
	if !strings.Contains(page, "<dt>Signed in as</dt><dd>nemo</dd>") {
		t.Errorf("status page:\n%s", page)
	}
	if res, out := f.apiPost(ip2, `{"method":"radius","username":"nemo","password":"arctangent"}`, nil); res.StatusCode != 200 || out["captive"] != false {
		t.Errorf("api, accept: %d %v", res.StatusCode, out)
	}
}
