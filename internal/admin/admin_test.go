package admin

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/metrics"
	"github.com/lobby-fw/lobby/internal/session"
)

type fakeTable struct {
	calls []string
	grant session.Grant // what Limit changes
}

func (f *fakeTable) Clients() []session.Client {
	mac, _ := net.ParseMAC("02:00:00:00:01:01")
	return []session.Client{{MAC: mac, State: session.Authenticated, Hostname: "<phone>", BytesDown: 2_500_000,
		Grant: session.Grant{Method: session.MethodVoucher, User: "ABCDE-FGHJK", DownloadRate: 8_000_000, Quota: 1_000_000_000}}}
}
func (f *fakeTable) Counts() map[session.State]int {
	return map[session.State]int{session.Authenticated: 1}
}
func (f *fakeTable) Deauth(_ context.Context, mac net.HardwareAddr, reason session.Reason) (session.Client, error) {
	f.calls = append(f.calls, "deauth "+mac.String()+" "+reason.String())
	return session.Client{}, nil
}
func (f *fakeTable) SetBlocked(_ context.Context, mac net.HardwareAddr, on bool, reason string) (session.Client, error) {
	f.calls = append(f.calls, "block "+mac.String()+" "+reason)
	return session.Client{}, nil
}
func (f *fakeTable) SetTrusted(_ context.Context, mac net.HardwareAddr, on bool, reason string) (session.Client, error) {
	f.calls = append(f.calls, "trust "+mac.String()+" "+reason)
	return session.Client{}, nil
}

func (f *fakeTable) Limit(_ context.Context, mac net.HardwareAddr, fn func(*session.Grant, time.Time)) (session.Client, error) {
	f.calls = append(f.calls, "limit "+mac.String())
	fn(&f.grant, time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	return session.Client{}, nil
}

type fixture struct {
	s     *Server
	table *fakeTable
	now   time.Time
	saved []Settings
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	f := &fixture{table: &fakeTable{}, now: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	s, err := New(cfg, Deps{
		Table: f.table,
		Status: func() Status {
			return Status{Started: f.now.Add(-time.Hour), Backend: "nftables", DHCPEnabled: true, Leases: 3, Pool: 150}
		},
		Collect: func(emit metrics.Emit) {
			emit("lobby_clients", "Clients.", metrics.Gauge, 1, metrics.Label{Name: "state", Value: "authenticated"})
		},
		Settings: func() Settings { return Settings{VenueName: "Café", Terms: "Be nice."} },
		Save:     func(st Settings) error { f.saved = append(f.saved, st); return nil },
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:      func() time.Time { return f.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	f.s = s
	return f
}

var testHash = func() string {
	h, err := HashPassword("correct horse")
	if err != nil {
		panic(err)
	}
	return h
}()

// do sends a request from addr with the cookies given.
func (f *fixture) do(method, path, addr string, form url.Values, cookies ...*http.Cookie) *http.Response {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, path, body)
	r.RemoteAddr = addr + ":40000"
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	f.s.ServeHTTP(w, r)
	return w.Result()
}

func cookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func body(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// login signs in and returns the session cookie and the CSRF token.
func (f *fixture) login(t *testing.T, addr, password string) (*http.Response, *http.Cookie) {
	t.Helper()
	page := f.do("GET", "/login", addr, nil)
	lc := cookie(page, loginCookie)
	m := csrfRE.FindStringSubmatch(body(page))
	if lc == nil || m == nil || m[1] != lc.Value {
		t.Fatal("login page without its token")
	}
	resp := f.do("POST", "/login", addr, url.Values{"user": {"admin"}, "password": {password}, "csrf": {m[1]}}, lc)
	return resp, cookie(resp, sessionCookie)
}

func TestLogin(t *testing.T) {
	f := newFixture(t, Config{Enabled: true, PasswordHash: testHash})
	if resp := f.do("GET", "/", "192.0.2.9", nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("without a login: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, sc := f.login(t, "192.0.2.9", "correct horse")
	if resp.StatusCode != http.StatusSeeOther || sc == nil {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	if !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.MaxAge != 12*3600 || sc.Path != "/" || len(sc.Value) != 32 {
		t.Errorf("cookie %+v", sc)
	}
	page := f.do("GET", "/", "192.0.2.9", nil, sc)
	text := body(page)
	if page.StatusCode != 200 || !strings.Contains(text, "3 of 150 addresses leased") || !strings.Contains(text, "nftables") {
		t.Fatalf("overview %d:\n%s", page.StatusCode, text)
	}
	if page.Header.Get("Cache-Control") != "no-store" || !strings.Contains(page.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("headers %v", page.Header)
	}
	// The clients page escapes what clients say about themselves.
	if text := body(f.do("GET", "/clients", "192.0.2.9", nil, sc)); !strings.Contains(text, "&lt;phone&gt;") || strings.Contains(text, "<phone>") {
		t.Errorf("clients page:\n%s", text)
	}
	// 12 hours later the session is gone.
	f.now = f.now.Add(12*time.Hour + time.Second)
	if resp := f.do("GET", "/", "192.0.2.9", nil, sc); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after 12 h: %d", resp.StatusCode)
	}
	// A made-up cookie is no session.
	if resp := f.do("GET", "/", "192.0.2.9", nil, &http.Cookie{Name: sessionCookie, Value: strings.Repeat("0", 32)}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("made-up cookie: %d", resp.StatusCode)
	}
}

func TestLoginRefused(t *testing.T) {
	f := newFixture(t, Config{Enabled: true, PasswordHash: testHash})
	// Without the form's token: refused even with the right password.
	resp := f.do("POST", "/login", "192.0.2.9", url.Values{"user": {"admin"}, "password": {"correct horse"}})
	if resp.StatusCode != http.StatusForbidden || cookie(resp, sessionCookie) != nil {
		t.Fatalf("login without token: %d", resp.StatusCode)
	}
	if resp, _ := f.login(t, "192.0.2.9", "correct hors"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	// No hash: nothing gets in.
	g := newFixture(t, Config{Enabled: true})
	if resp, sc := g.login(t, "192.0.2.9", ""); resp.StatusCode != http.StatusForbidden || sc != nil {
		t.Fatalf("no hash: %d", resp.StatusCode)
	}
}

func TestLoginLimit(t *testing.T) {
	f := newFixture(t, Config{Enabled: true, PasswordHash: testHash})
	for i := 0; i < 5; i++ {
		f.now = f.now.Add(5 * time.Second)
		if resp, _ := f.login(t, "192.0.2.9", "wrong"); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("try %d: %d", i, resp.StatusCode)
		}
	}
	// The sixth, even right, waits a minute from the fifth.
	resp, sc := f.login(t, "192.0.2.9", "correct horse")
	if resp.StatusCode != http.StatusTooManyRequests || sc != nil || resp.Header.Get("Retry-After") != "61" {
		t.Fatalf("sixth try: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Another address is not held up.
	if resp, _ := f.login(t, "192.0.2.10", "correct horse"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("other address: %d", resp.StatusCode)
	}
	f.now = f.now.Add(59 * time.Second)
	if resp, _ := f.login(t, "192.0.2.9", "correct horse"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("59 s later: %d", resp.StatusCode)
	}
	f.now = f.now.Add(time.Second)
	if resp, _ := f.login(t, "192.0.2.9", "correct horse"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a minute later: %d", resp.StatusCode)
	}
	// Failures 16 s apart are never five within a minute.
	g := newFixture(t, Config{Enabled: true, PasswordHash: testHash})
	for i := 0; i < 10; i++ {
		g.now = g.now.Add(16 * time.Second)
		if resp, _ := g.login(t, "192.0.2.9", "wrong"); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("slow try %d: %d", i, resp.StatusCode)
		}
	}
}

func TestCSRF(t *testing.T) {
	f := newFixture(t, Config{Enabled: true, PasswordHash: testHash})
	_, sc := f.login(t, "192.0.2.9", "correct horse")
	page := body(f.do("GET", "/clients", "192.0.2.9", nil, sc))
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no token on the clients page")
	}
	form := url.Values{"mac": {"02:00:00:00:01:01"}, "action": {"signout"}}
	for _, tok := range []string{"", "0123", strings.Repeat("a", 32)} {
		form.Set("csrf", tok)
		if resp := f.do("POST", "/clients", "192.0.2.9", form, sc); resp.StatusCode != http.StatusForbidden {
			t.Errorf("token %q: %d", tok, resp.StatusCode)
		}
	}
	if len(f.table.calls) > 0 {
		t.Fatalf("a form without the token changed %v", f.table.calls)
	}
	for _, action := range []string{"signout", "block", "trust"} {
		form.Set("csrf", m[1])
		form.Set("action", action)
		if resp := f.do("POST", "/clients", "192.0.2.9", form, sc); resp.StatusCode != 200 {
			t.Errorf("%s: %d", action, resp.StatusCode)
		}
	}
	if got := strings.Join(f.table.calls, "; "); got != "deauth 02:00:00:00:01:01 admin; block 02:00:00:00:01:01 admin; trust 02:00:00:00:01:01 admin" {
		t.Errorf("calls: %s", got)
	}
	// Settings: saved through Save.
	resp := f.do("POST", "/settings", "192.0.2.9", url.Values{"csrf": {m[1]}, "venue_name": {"Bar"}, "terms": {"a\r\n\r\nb"}, "auth": {"click"}}, sc)
	if resp.StatusCode != 200 || len(f.saved) != 1 || f.saved[0].VenueName != "Bar" || f.saved[0].Terms != "a\n\nb" {
		t.Errorf("settings: %d %v", resp.StatusCode, f.saved)
	}
	// A new password (a reload) ends every session.
	h2, _ := HashPassword("battery staple")
	f.s.Reload(Config{Enabled: true, PasswordHash: h2})
	if resp := f.do("GET", "/", "192.0.2.9", nil, sc); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after a new password: %d", resp.StatusCode)
	}
}

func TestMetricsAuth(t *testing.T) {
	f := newFixture(t, Config{Enabled: true, PasswordHash: testHash, Metrics: true})
	get := func(user, pw string) *http.Response {
		r := httptest.NewRequest("GET", "/metrics", nil)
		r.RemoteAddr = "192.0.2.9:1"
		if user != "" {
			r.SetBasicAuth(user, pw)
		}
		w := httptest.NewRecorder()
		f.s.ServeHTTP(w, r)
		return w.Result()
	}
	if resp := get("", ""); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no credentials: %d", resp.StatusCode)
	}
	resp := get("admin", "correct horse")
	if text := body(resp); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != metrics.ContentType || !strings.Contains(text, "lobby_clients{state=\"authenticated\"} 1") {
		t.Fatalf("scrape: %d %q", resp.StatusCode, text)
	}
	// The cache: the same credential again is taken from it; any other
	// is checked.
	if resp := get("admin", "correct horsE"); resp.StatusCode != 401 {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	if resp := get("root", "correct horse"); resp.StatusCode != 401 {
		t.Fatalf("wrong user: %d", resp.StatusCode)
	}
	if resp := get("admin", "correct horse"); resp.StatusCode != 200 {
		t.Fatalf("again: %d", resp.StatusCode)
	}
	// metrics_open: no password; metrics off: not there.
	f.s.Reload(Config{Enabled: true, Metrics: true, MetricsOpen: true})
	if resp := get("", ""); resp.StatusCode != 200 {
		t.Fatalf("open: %d", resp.StatusCode)
	}
	f.s.Reload(Config{Enabled: true, PasswordHash: testHash})
	if resp := get("admin", "correct horse"); resp.StatusCode != 404 {
		t.Fatalf("metrics off: %d", resp.StatusCode)
	}
}

// BenchmarkScrapeCached is a scrape with Basic auth once the credential is
// remembered: what a scraper every 15 s costs.
func BenchmarkScrapeCached(b *testing.B) {
	f := &fixture{table: &fakeTable{}}
	s, _ := New(Config{Enabled: true, PasswordHash: testHash, Metrics: true}, Deps{Table: f.table,
		Collect: func(emit metrics.Emit) { emit("x", "x", metrics.Gauge, 1) }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	r := httptest.NewRequest("GET", "/metrics", nil)
	r.SetBasicAuth("admin", "correct horse")
	for b.Loop() {
		s.ServeHTTP(httptest.NewRecorder(), r)
	}
}
