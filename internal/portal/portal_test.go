package portal

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/session"
)

func TestIndex(t *testing.T) {
	f := newFixture(t)
	res, body := f.do("GET", "/?redir="+url.QueryEscape("http://198.51.100.10/a?b=c"), ip1, nil, nil)
	if res.StatusCode != 200 {
		t.Fatalf("status %d\n%s", res.StatusCode, body)
	}
	for _, want := range []string{
		"Café Test", "<p>First rule.</p>", "<p>Second rule, continued.</p>", `action="/login"`, `method="post"`,
		`name="redir" value="http://198.51.100.10/a?b=c"`, "198.51.100.10</strong>",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(body, "<button"); n != 1 {
		t.Errorf("%d buttons, want one", n)
	}
	if strings.Contains(body, "<script") || strings.Contains(body, "http://fonts") {
		t.Error("page loads scripts or external files")
	}
	if tok := scrape(t, body); !f.s.validToken(tok, purposeLogin, "mac:"+mac1.String()) {
		t.Errorf("token %q is not a login token for %v", tok, mac1)
	}
	wantHeaders := map[string]string{
		"Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8", "X-Frame-Options": "DENY",
		"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Content-Security-Policy": contentSecurityPolicy,
	}
	for k, v := range wantHeaders {
		if got := res.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}

	// The redir field never carries a dangerous URL into the page.
	_, body = f.do("GET", "/?redir="+url.QueryEscape("javascript:alert(1)"), ip1, nil, nil)
	if !strings.Contains(body, `name="redir" value=""`) {
		t.Errorf("javascript: redir kept:\n%s", body)
	}

	// A client signed in already sees its status, with a way on.
	f.table.Auth(context.Background(), mac1, f.table.NewGrant(session.MethodCtl, "", session.Limits{}))
	_, body = f.do("GET", "/?redir=http://198.51.100.10/", ip1, nil, nil)
	if !strings.Contains(body, "You are online") || !strings.Contains(body, `href="http://198.51.100.10/"`) {
		t.Errorf("signed-in client's / is not its status:\n%s", body)
	}
	// A blocked one is told so.
	f.table.SetBlocked(context.Background(), mac2, true, "test")
	if res, body := f.do("GET", "/", ip2, nil, nil); res.StatusCode != 403 || !strings.Contains(body, "may not use this network") {
		t.Errorf("blocked: %d\n%s", res.StatusCode, body)
	}
	// A client whose MAC is unknown still gets the page, token bound to its IP.
	_, body = f.do("GET", "/", ipUnknown, nil, nil)
	if tok := scrape(t, body); !f.s.validToken(tok, purposeLogin, "ip:"+ipUnknown) {
		t.Errorf("unknown client's token %q is not bound to its IP", tok)
	}
}

func TestHost(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.TLSCert, c.TLSKey = writeCert(t, "portal.lan") })
	tests := []struct {
		method, target, host string
		tls                  bool
		wantStatus           int
		wantLocation         string
	}{
		{"GET", "/", "10.77.0.1:2050", false, 200, ""},
		{"GET", "/", "portal.lan:2050", false, 200, ""},
		{"GET", "/", "PORTAL.LAN.", false, 200, ""},
		{"GET", "/?redir=x", "example.com:2050", false, 302, "http://10.77.0.1:2050/?redir=x"},
		{"HEAD", "/status", "example.com", false, 302, "http://10.77.0.1:2050/status"},
		{"GET", "/status", "example.com", true, 302, "https://portal.lan:8443/status"},
		{"GET", "/api/captive", "example.com", false, 200, ""}, // the API answers under any name
	}
	for _, tt := range tests {
		req := newRequest(tt.method, tt.target, ip1)
		req.Host = tt.host
		if tt.tls {
			req.TLS = &tlsState
		}
		res := serve(f.s, req)
		if res.StatusCode != tt.wantStatus || res.Header.Get("Location") != tt.wantLocation {
			t.Errorf("%s %s Host %s: %d %q, want %d %q", tt.method, tt.target, tt.host, res.StatusCode, res.Header.Get("Location"), tt.wantStatus, tt.wantLocation)
		}
	}
}

func TestLogin(t *testing.T) {
	const redir = "http://198.51.100.10/page?q=1"
	tests := []struct {
		name string
		// token makes the token to send from the fixture
		token      func(f *fixture) string
		ip         string
		redir      string
		hdr        map[string]string
		wantStatus int
		wantLoc    string
		wantIn     bool   // signed in afterwards
		wantBody   string // in the page
	}{
		{name: "good, no Origin", ip: ip1, redir: redir, wantStatus: 303, wantLoc: redir, wantIn: true},
		{name: "own Origin", ip: ip1, redir: redir, hdr: map[string]string{"Origin": "http://10.77.0.1:2050"}, wantStatus: 303, wantLoc: redir, wantIn: true},
		{name: "own Origin by hostname", ip: ip1, redir: redir, hdr: map[string]string{"Origin": "http://portal.lan:2050"}, wantStatus: 303, wantLoc: redir, wantIn: true},
		{name: "own Referer without Origin", ip: ip1, redir: redir, hdr: map[string]string{"Referer": "http://10.77.0.1:2050/?redir=x"}, wantStatus: 303, wantLoc: redir, wantIn: true},
		{name: "no redir", ip: ip1, wantStatus: 303, wantLoc: "/status", wantIn: true},
		{name: "javascript redir", ip: ip1, redir: "javascript:alert(document.domain)", wantStatus: 303, wantLoc: "/status", wantIn: true},
		{name: "scheme-relative redir", ip: ip1, redir: "//evil.example/", wantStatus: 303, wantLoc: "/status", wantIn: true},
		{name: "foreign Origin", ip: ip1, redir: redir, hdr: map[string]string{"Origin": "http://evil.example"}, wantStatus: 403, wantBody: "another site (http://evil.example)"},
		{name: "own host, other port", ip: ip1, hdr: map[string]string{"Origin": "http://10.77.0.1:8080"}, wantStatus: 403},
		{name: "Origin null", ip: ip1, hdr: map[string]string{"Origin": "null"}, wantStatus: 403},
		{name: "foreign Referer", ip: ip1, hdr: map[string]string{"Referer": "http://evil.example/x"}, wantStatus: 403},
		{name: "own Referer, foreign Origin", ip: ip1, hdr: map[string]string{"Origin": "http://evil.example", "Referer": "http://10.77.0.1:2050/"}, wantStatus: 403},
		{name: "no token", ip: ip1, token: func(*fixture) string { return "" }, wantStatus: 403, wantBody: "page had expired"},
		{name: "garbage token", ip: ip1, token: func(*fixture) string { return "AAAAAAAAAAAAAAAAAAAAAA" }, wantStatus: 403},
		{name: "expired token", ip: ip1, token: func(f *fixture) string {
			return f.s.tokenAt(purposeLogin, "mac:"+mac1.String(), f.s.slice()-tokenSlices)
		}, wantStatus: 403, wantBody: "page had expired"},
		{name: "oldest valid token", ip: ip1, redir: redir, token: func(f *fixture) string {
			return f.s.tokenAt(purposeLogin, "mac:"+mac1.String(), f.s.slice()-tokenSlices+1)
		}, wantStatus: 303, wantLoc: redir, wantIn: true},
		{name: "other client's token", ip: ip1, token: func(f *fixture) string { return f.s.token(purposeLogin, "mac:"+mac2.String()) }, wantStatus: 403},
		{name: "sign-out token", ip: ip1, token: func(f *fixture) string { return f.s.token(purposeLogout, "mac:"+mac1.String()) }, wantStatus: 403},
		{name: "token from before the MAC was known", ip: ip1, token: func(f *fixture) string { return f.s.token(purposeLogin, "ip:"+ip1) }, wantStatus: 303, wantLoc: "/status", wantIn: true},
		{name: "unknown client", ip: ipUnknown, token: func(f *fixture) string { return f.s.token(purposeLogin, "ip:"+ipUnknown) }, wantStatus: 403, wantBody: "not recognised"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tok := f.s.token(purposeLogin, "mac:"+mac1.String())
			if tt.token != nil {
				tok = tt.token(f)
			}
			res, body := f.do("POST", "/login", tt.ip, url.Values{"token": {tok}, "redir": {tt.redir}}, tt.hdr)
			if res.StatusCode != tt.wantStatus || res.Header.Get("Location") != tt.wantLoc {
				t.Errorf("%d %q, want %d %q\n%s", res.StatusCode, res.Header.Get("Location"), tt.wantStatus, tt.wantLoc, body)
			}
			if in := f.state(mac1) == session.Authenticated; in != tt.wantIn {
				t.Errorf("signed in: %v, want %v", in, tt.wantIn)
			}
			if f.state(mac2) != session.Preauth {
				t.Errorf("the other client was signed in")
			}
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("page lacks %q:\n%s", tt.wantBody, body)
			}
			if res.StatusCode == 403 && strings.Contains(tt.wantBody, "expired") {
				// The page has a fresh token that works.
				res, _ := f.do("POST", "/login", tt.ip, url.Values{"token": {scrape(t, body)}}, nil)
				if res.StatusCode != 303 || f.state(mac1) != session.Authenticated {
					t.Errorf("the fresh token of the expired page did not sign in: %d", res.StatusCode)
				}
			}
		})
	}
}

func TestLoginSession(t *testing.T) {
	f := newFixture(t)
	_, page := f.do("GET", "/", ip1, nil, nil)
	tok := scrape(t, page)
	res, _ := f.do("POST", "/login", ip1, url.Values{"token": {tok}}, map[string]string{"Origin": "http://10.77.0.1:2050"})
	if res.StatusCode != 303 {
		t.Fatalf("status %d", res.StatusCode)
	}
	c, _ := f.table.Lookup(mac1)
	if c.State != session.Authenticated || c.Expires.IsZero() {
		t.Errorf("client %+v: want authenticated with the session timeout", c)
	}
	// Pressing again (a reload re-posts) keeps the session as it is.
	f.now = f.now.Add(time.Minute)
	if res, _ := f.do("POST", "/login", ip1, url.Values{"token": {tok}}, nil); res.StatusCode != 303 {
		t.Errorf("second press: %d", res.StatusCode)
	}
	if c2, _ := f.table.Lookup(mac1); !c2.Expires.Equal(c.Expires) {
		t.Errorf("second press moved the session end from %v to %v", c.Expires, c2.Expires)
	}

	// A blocked client is not signed in, whatever its token.
	f.table.SetBlocked(context.Background(), mac2, true, "test")
	res, body := f.do("POST", "/login", ip2, url.Values{"token": {f.s.token(purposeLogin, "mac:"+mac2.String())}}, nil)
	if res.StatusCode != 403 || f.state(mac2) != session.Blocked || !strings.Contains(body, "may not use") {
		t.Errorf("blocked: %d %v", res.StatusCode, f.state(mac2))
	}
	// Too big a form is refused before anything else.
	res, _ = f.do("POST", "/login", ip2, url.Values{"x": {strings.Repeat("a", maxFormBytes)}}, nil)
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("big form: %d", res.StatusCode)
	}
	// GET /login (a reload of the page after a POST) goes back to the form.
	if res, _ := f.do("GET", "/login", ip2, nil, nil); res.StatusCode != 303 || res.Header.Get("Location") != "/" {
		t.Errorf("GET /login: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := f.do("PUT", "/login", ip2, nil, nil); res.StatusCode != 405 {
		t.Errorf("PUT /login: %d", res.StatusCode)
	}
}

func TestStatusAndLogout(t *testing.T) {
	f := newFixture(t)
	_, body := f.do("GET", "/status", ip1, nil, nil)
	if !strings.Contains(body, "not signed in") || !strings.Contains(body, `href="/"`) {
		t.Errorf("preauth status:\n%s", body)
	}
	f.table.Auth(context.Background(), mac1, f.table.NewGrant(session.MethodCtl, "", session.Limits{}))
	f.now = time.Now().Add(time.Minute) // the table stamps with the real clock
	_, body = f.do("GET", "/status", ip1, nil, nil)
	if !strings.Contains(body, "You are online") || !strings.Contains(body, "<dd>1 hour 59 minutes</dd>") || !strings.Contains(body, `action="/logout"`) {
		t.Errorf("signed-in status:\n%s", body)
	}
	tok := scrape(t, body)

	for _, bad := range []struct {
		name  string
		token string
		hdr   map[string]string
	}{
		{"no token", "", nil},
		{"sign-in token", f.s.token(purposeLogin, "mac:"+mac1.String()), nil},
		{"foreign Origin", tok, map[string]string{"Origin": "http://evil.example"}},
	} {
		res, _ := f.do("POST", "/logout", ip1, url.Values{"token": {bad.token}}, bad.hdr)
		if res.StatusCode != 403 || f.state(mac1) != session.Authenticated {
			t.Errorf("logout with %s: %d, state %v", bad.name, res.StatusCode, f.state(mac1))
		}
	}
	// Another client cannot sign this one out: a token is for its own MAC.
	if res, _ := f.do("POST", "/logout", ip2, url.Values{"token": {tok}}, nil); res.StatusCode != 403 || f.state(mac1) != session.Authenticated {
		t.Errorf("logout by another client: %d", res.StatusCode)
	}
	res, _ := f.do("POST", "/logout", ip1, url.Values{"token": {tok}}, map[string]string{"Origin": "http://10.77.0.1:2050"})
	if res.StatusCode != 303 || res.Header.Get("Location") != "/" || f.state(mac1) != session.Preauth {
		t.Errorf("logout: %d %q, state %v", res.StatusCode, res.Header.Get("Location"), f.state(mac1))
	}
	// Signing out twice is harmless.
	if res, _ := f.do("POST", "/logout", ip1, url.Values{"token": {tok}}, nil); res.StatusCode != 303 {
		t.Errorf("second logout: %d", res.StatusCode)
	}
	// A trusted device has no sign-out.
	f.table.SetTrusted(context.Background(), mac2, true, "test")
	_, body = f.do("GET", "/status", ip2, nil, nil)
	if !strings.Contains(body, "always allowed") || strings.Contains(body, "/logout") {
		t.Errorf("trusted status:\n%s", body)
	}
}

func TestCaptiveAPI(t *testing.T) {
	type state struct {
		Captive          bool    `json:"captive"`
		UserPortalURL    string  `json:"user-portal-url"`
		SecondsRemaining *int64  `json:"seconds-remaining"`
		CanExtend        *bool   `json:"can-extend-session"`
		Extra            *string `json:"venue-info-url"`
	}
	f := newFixture(t)
	ctx := context.Background()
	get := func(ip string) (state, *http.Response) {
		t.Helper()
		res, body := f.do("GET", "/api/captive", ip, nil, nil)
		var st state
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		return st, res
	}
	st, res := get(ip1)
	if ct := res.Header.Get("Content-Type"); ct != "application/captive+json" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "private, no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	if !st.Captive || st.UserPortalURL != "http://10.77.0.1:2050/" || st.SecondsRemaining != nil || st.CanExtend == nil || *st.CanExtend {
		t.Errorf("preauth: %+v", st)
	}
	if st, _ := get(ipUnknown); !st.Captive {
		t.Errorf("unknown client: %+v", st)
	}
	f.table.Auth(ctx, mac1, f.table.NewGrant(session.MethodCtl, "", session.Limits{SessionTimeout: 90 * time.Second, Given: session.GivenSessionTimeout}))
	f.now = time.Now()
	if st, _ := get(ip1); st.Captive || st.SecondsRemaining == nil || *st.SecondsRemaining < 85 || *st.SecondsRemaining > 90 {
		t.Errorf("authenticated: %+v (seconds %v)", st, st.SecondsRemaining)
	}
	f.table.SetTrusted(ctx, mac2, true, "test")
	if st, _ := get(ip2); st.Captive || st.SecondsRemaining != nil {
		t.Errorf("trusted: %+v", st)
	}
	f.table.SetBlocked(ctx, mac2, true, "test")
	if st, _ := get(ip2); !st.Captive {
		t.Errorf("blocked: %+v", st)
	}

	// Without a session limit there is no seconds-remaining; with TLS the
	// portal URL is the https one.
	g := newFixture(t, func(c *Config) { c.TLSCert, c.TLSKey = writeCert(t, "portal.lan") })
	g.table.Reload(session.Config{SessionTimeout: 0})
	g.table.Auth(ctx, mac1, g.table.NewGrant(session.MethodCtl, "", session.Limits{}))
	_, body := g.do("GET", "/api/captive", ip1, nil, nil)
	if body != `{"captive":false,"user-portal-url":"https://portal.lan:8443/","can-extend-session":false}`+"\n" {
		t.Errorf("no-limit TLS body %s", body)
	}
}

func TestNotFoundAndStatic(t *testing.T) {
	f := newFixture(t)
	if res, body := f.do("GET", "/nope", ip1, nil, nil); res.StatusCode != 404 || !strings.Contains(body, "Page not found") {
		t.Errorf("404: %d", res.StatusCode)
	}
	res, body := f.do("GET", "/static/portal.css", ip1, nil, nil)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") || !strings.Contains(body, ".button") {
		t.Errorf("css: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for p, want := range map[string]int{
		"/static/":             404,
		"/static/missing.css":  404,
		"/static/../portal.go": 307, // the mux cleans the path: to /portal.go, which is 404
	} {
		if res, _ := f.do("GET", p, ip1, nil, nil); res.StatusCode != want {
			t.Errorf("%s: %d, want %d", p, res.StatusCode, want)
		}
	}
}

func TestTimeLeftAndParagraphs(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "no time", 10 * time.Second: "1 minute", 59 * time.Minute: "59 minutes",
		time.Hour: "1 hour", 2*time.Hour - time.Second: "2 hours", 90 * time.Minute: "1 hour 30 minutes",
		50 * time.Hour: "2 days 2 hours", 72 * time.Hour: "3 days",
	} {
		if got := timeLeft(d); got != want {
			t.Errorf("timeLeft(%v) = %q, want %q", d, got, want)
		}
	}
	got := strings.Join(paragraphs("  a\n\tb\n\n\n c \n"), "|")
	if got != "a b|c" {
		t.Errorf("paragraphs: %q", got)
	}
}

// A client signed out by its quota is told so on the portal (SPEC §3,
// Limits); one signed out otherwise is not.
func TestQuotaUsedUpNotice(t *testing.T) {
	const notice = "data allowance is used up"
	f := newFixture(t)
	ctx := context.Background()
	f.table.Auth(ctx, mac1, f.table.NewGrant(session.MethodCtl, "", session.Limits{Quota: 1000, Given: session.GivenQuota}))
	f.table.Auth(ctx, mac2, f.table.NewGrant(session.MethodCtl, "", session.Limits{}))
	f.table.Account(mac1, 600, 600)
	f.table.Deauth(ctx, mac2, session.ReasonAdmin)
	if f.state(mac1) != session.Preauth {
		t.Fatalf("over its quota, the client is %v", f.state(mac1))
	}
	for _, path := range []string{"/", "/status"} {
		if _, body := f.do("GET", path, ip1, nil, nil); !strings.Contains(body, notice) {
			t.Errorf("GET %s of a client signed out by quota does not say %q:\n%s", path, notice, body)
		}
		if _, body := f.do("GET", path, ip2, nil, nil); strings.Contains(body, notice) {
			t.Errorf("GET %s of a client signed out by ctl says %q", path, notice)
		}
	}
	// Signed in again, the notice is gone.
	f.table.Auth(ctx, mac1, f.table.NewGrant(session.MethodCtl, "", session.Limits{}))
	if _, body := f.do("GET", "/", ip1, nil, nil); strings.Contains(body, notice) {
		t.Errorf("signed in again, the page still says %q", notice)
	}
}
