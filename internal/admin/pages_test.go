package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/metrics"
	"github.com/lobby-fw/lobby/internal/portal"
	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/voucher"
)

// memStore keeps a voucher Book's records in memory.
type memStore map[string]map[string]json.RawMessage

func (m memStore) Records(kind string) map[string]json.RawMessage { return m[kind] }
func (m memStore) Put(kind, key string, v any) error {
	b, err := json.Marshal(v)
	if m[kind] == nil {
		m[kind] = map[string]json.RawMessage{}
	}
	m[kind][key] = b
	return err
}
func (m memStore) Delete(kind, key string)    { delete(m[kind], key) }
func (m memStore) Sync(context.Context) error { return nil }

// book is a real voucher Book at the fixture's clock, as ctl has it
// (internal/signin's voucher method, without its sign-outs).
type book struct {
	b   *voucher.Book
	now func() time.Time
}

func (k book) Defaults() voucher.Defaults { return voucher.SpecDefaults() }
func (k book) Create(ctx context.Context, b voucher.Batch) ([]voucher.View, error) {
	return k.b.Create(ctx, b, k.now())
}
func (k book) List() []voucher.View { return k.b.List(k.now()) }
func (k book) Show(c voucher.Code) (voucher.View, error) {
	return k.b.Show(c, k.now())
}
func (k book) Revoke(ctx context.Context, c voucher.Code) (voucher.View, error) {
	_, err := k.b.Revoke(ctx, c, k.now())
	if err != nil {
		return voucher.View{}, err
	}
	return k.b.Show(c, k.now())
}

type fakeActivity struct {
	hours   []metrics.Hour
	started time.Time
}

func (a fakeActivity) Last24h() []metrics.Hour { return a.hours }
func (a fakeActivity) Started() time.Time      { return a.started }

// pagesFixture is a signed-in fixture with a voucher Book and the portal
// on 10.77.0.1; it returns the session cookie and the CSRF token.
func pagesFixture(t *testing.T) (*fixture, *http.Cookie, string) {
	t.Helper()
	f := newFixture(t, Config{Enabled: true, PasswordHash: testHash,
		Portal: portal.NewURLs(netip.MustParseAddr("10.77.0.1"), 80, "portal.lobby", 443, false)})
	f.s.d.Vouchers = book{voucher.New(memStore{}, voucher.Config{}), func() time.Time { return f.now }}
	_, sc := f.login(t, "192.0.2.9", "correct horse")
	m := csrfRE.FindStringSubmatch(body(f.do("GET", "/vouchers", "192.0.2.9", nil, sc)))
	if m == nil {
		t.Fatal("no token on the vouchers page")
	}
	return f, sc, m[1]
}

var codeRE = regexp.MustCompile(`<code>([2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{5})</code>`)

func TestVouchersPage(t *testing.T) {
	f, sc, csrf := pagesFixture(t)
	post := func(form url.Values) *http.Response {
		form.Set("csrf", csrf)
		return f.do("POST", "/vouchers", "192.0.2.9", form, sc)
	}
	// Refused as ctl voucher create refuses it; nothing made.
	for _, bad := range []url.Values{
		{"action": {"create"}, "count": {"0"}},
		{"action": {"create"}, "count": {"3"}, "duration": {"soon"}},
		{"action": {"create"}, "count": {"3"}, "devices": {"0"}},
		{"action": {"create"}, "count": {"3"}, "download": {"fast"}},
		{"action": {"create"}, "count": {"3"}, "note": {"a\tb"}},
	} {
		if resp := post(bad); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%v: %d", bad, resp.StatusCode)
		}
	}
	if n := len(f.s.d.Vouchers.List()); n != 0 {
		t.Fatalf("refused forms made %d codes", n)
	}
	resp := post(url.Values{"action": {"create"}, "count": {"8"}, "duration": {"2h"}, "devices": {"2"}, "download": {"8mbit"},
		"upload": {""}, "quota": {"1GB"}, "valid": {"30d"}, "note": {"Front desk <3"}})
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/vouchers?batch=") {
		t.Fatalf("create: %d %q", resp.StatusCode, loc)
	}
	list := f.s.d.Vouchers.List()
	want := voucher.Limits{Duration: 2 * time.Hour, Devices: 2, DownloadRate: 8_000_000, Quota: 1_000_000_000, Valid: 30 * 24 * time.Hour}
	if len(list) != 8 || list[0].Limits != want || list[0].Note != "Front desk <3" {
		t.Fatalf("made %d codes: %+v", len(list), list[0])
	}
	page := body(f.do("GET", loc+"&made=8", "192.0.2.9", nil, sc))
	if got := codeRE.FindAllStringSubmatch(page, -1); len(got) != 8 || !strings.Contains(page, "Made 8 codes.") ||
		!strings.Contains(page, "Front desk &lt;3") || !strings.Contains(page, "8, 8 unused") ||
		!strings.Contains(page, "2h from first use, 2 device(s) at once, download 8mbit, quota 1GB") {
		t.Fatalf("vouchers page after the batch (%d codes):\n%s", len(got), page)
	}

	// A link cannot put words of its own on the page.
	if page := body(f.do("GET", "/vouchers?made=all+your+base&batch=%3Cb%3E", "192.0.2.9", nil, sc)); strings.Contains(page, "all your base") || strings.Contains(page, "Print them") {
		t.Errorf("the page shows the query's words:\n%s", page)
	}

	// Revoke one: its state shows, and it has no Revoke button any more.
	code := list[3].Code.String()
	if resp := post(url.Values{"action": {"revoke"}, "code": {strings.ToLower(code)}}); resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if v, _ := f.s.d.Vouchers.Show(list[3].Code); v.State != voucher.Revoked {
		t.Errorf("after revoke: %v", v.State)
	}
	page = body(f.do("GET", "/vouchers", "192.0.2.9", nil, sc))
	row := page[strings.Index(page, "<code>"+code):]
	row = row[:strings.Index(row, "</tr>")]
	if !strings.Contains(row, "<td>revoked</td>") || strings.Contains(row, "Revoke") {
		t.Errorf("revoked code's row: %s", row)
	}
	if resp := post(url.Values{"action": {"revoke"}, "code": {"nonsense"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("revoke nonsense: %d", resp.StatusCode)
	}

	// The print sheet: the 7 unused codes, each with the portal link in
	// its QR code; A4 and Letter; nothing for a batch that is not there.
	batch := strings.TrimPrefix(loc, "/vouchers?batch=")
	for _, paper := range []struct{ q, css string }{{"a4", "size:A4"}, {"letter", "size:letter"}} {
		resp := f.do("GET", "/vouchers/print?batch="+batch+"&paper="+paper.q, "192.0.2.9", nil, sc)
		sheet := body(resp)
		if resp.StatusCode != 200 || !strings.Contains(sheet, "@page{"+paper.css+";") || strings.Count(sheet, `<div class="card">`) != 7 ||
			strings.Count(sheet, "<svg ") != 7 || strings.Contains(sheet, code) || !strings.Contains(sheet, "Café") {
			t.Fatalf("%s sheet: %d\n%s", paper.q, resp.StatusCode, sheet)
		}
	}
	sheet := body(f.do("GET", "/vouchers/print?batch="+batch+"&paper=a4", "192.0.2.9", nil, sc))
	for _, v := range list {
		if v.Code.String() == code {
			continue
		}
		svg, _ := qrSVG("http://10.77.0.1/?voucher=" + v.Code.String())
		if !strings.Contains(sheet, `<div class="code">`+v.Code.String()+`</div>`+svg) {
			t.Errorf("no card of %s with its QR code", v.Code)
		}
	}
	for _, q := range []string{"batch=" + batch + "&paper=a5", "batch=x&paper=a4", "paper=a4"} {
		if resp := f.do("GET", "/vouchers/print?"+q, "192.0.2.9", nil, sc); resp.StatusCode != http.StatusNotFound {
			t.Errorf("print?%s: %d", q, resp.StatusCode)
		}
	}
	// Without a login, no sheet.
	if resp := f.do("GET", "/vouchers/print?batch="+batch+"&paper=a4", "192.0.2.9", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("sheet without a login: %d", resp.StatusCode)
	}
}

func TestClientLimits(t *testing.T) {
	f, sc, csrf := pagesFixture(t)
	// The row shows how the client signed in and its limits, and the
	// form starts from them.
	page := body(f.do("GET", "/clients", "192.0.2.9", nil, sc))
	for _, want := range []string{"<td>voucher</td><td>ABCDE-FGHJK</td>", "<td>8mbit / —</td><td>1GB</td>", "<td>2.5 MB</td>",
		`name="download" value="8mbit"`, `name="upload" value=""`, `name="quota" value="1GB"`} {
		if !strings.Contains(page, want) {
			t.Errorf("clients page without %s:\n%s", want, page)
		}
	}
	f.table.grant = session.Grant{DownloadRate: 1_000_000, End: f.now.Add(time.Hour)}
	form := url.Values{"csrf": {csrf}, "mac": {"02:00:00:00:01:01"}, "action": {"limit"},
		"download": {"8mbit"}, "upload": {" 2mbit "}, "quota": {""}, "expires": {"30m"}}
	page = body(f.do("POST", "/clients", "192.0.2.9", form, sc))
	g := f.table.grant
	if g.DownloadRate != 8_000_000 || g.UploadRate != 2_000_000 || g.Quota != 0 || !g.End.Equal(f.now.Add(30*time.Minute)) || !strings.Contains(page, "Done: limit") {
		t.Errorf("grant %+v\n%s", g, page)
	}
	for _, bad := range []url.Values{{"download": {"fast"}}, {"quota": {"-1"}}, {}} {
		f.table.calls = nil
		bad.Set("csrf", csrf)
		bad.Set("mac", "02:00:00:00:01:01")
		bad.Set("action", "limit")
		page := body(f.do("POST", "/clients", "192.0.2.9", bad, sc))
		if len(f.table.calls) != 0 || !strings.Contains(page, "Could not limit") {
			t.Errorf("%v: calls %v\n%s", bad, f.table.calls, page)
		}
	}
}

func TestOverviewLastDay(t *testing.T) {
	f, sc, _ := pagesFixture(t)
	hours := make([]metrics.Hour, 24)
	for i := range hours {
		hours[i].Start = f.now.Truncate(time.Hour).Add(time.Duration(i-23) * time.Hour)
	}
	hours[20] = metrics.Hour{Start: hours[20].Start, SignIns: 4, Up: 2_000_000, Down: 30_000_000}
	hours[23] = metrics.Hour{Start: hours[23].Start, SignIns: 1, Down: 100}
	f.s.d.Activity = fakeActivity{hours, f.now.Add(-2 * time.Hour)}
	page := body(f.do("GET", "/", "192.0.2.9", nil, sc))
	bars := regexp.MustCompile(`<span style="height:(\d+)%"`).FindAllStringSubmatch(page, -1)
	var heights []string
	for _, b := range bars {
		heights = append(heights, b[1])
	}
	// 24 sign-in bars, then 24 data bars, each scaled to its busiest hour.
	wantHeights := strings.Repeat("0 ", 20) + "100 0 0 25 " + strings.Repeat("0 ", 20) + "100 0 0 2"
	if got := strings.Join(heights, " "); got != wantHeights {
		t.Errorf("bars %s\nwant %s", got, wantHeights)
	}
	if !strings.Contains(page, "Sign-ins: 5. Data: 30.0 MB down, 2.0 MB up.") || !strings.Contains(page, "Counted since lobby started") ||
		!strings.Contains(page, fmt.Sprintf(`title="%s: 4 sign-ins"`, hours[20].Start.Local().Format("15:04"))) {
		t.Errorf("overview:\n%s", page)
	}
	// Counting for a day and more: no note.
	f.s.d.Activity = fakeActivity{hours, f.now.Add(-24 * time.Hour)}
	if page := body(f.do("GET", "/", "192.0.2.9", nil, sc)); strings.Contains(page, "Counted since") {
		t.Error("a note on a day's counting")
	}
	// Without Activity the box is not there.
	f.s.d.Activity = nil
	if page := body(f.do("GET", "/", "192.0.2.9", nil, sc)); strings.Contains(page, "Last 24 hours") {
		t.Error("a last-24-hours box without Activity")
	}
}

// TestVouchersBounded: a batch of thousands of codes makes no page of
// megabytes: the list shows the newest listCodes codes, a sheet sheetCards
// cards with a link to the next.
func TestVouchersBounded(t *testing.T) {
	f, sc, _ := pagesFixture(t)
	made, err := f.s.d.Vouchers.Create(context.Background(), voucher.Batch{Count: 310, Limits: voucher.Limits{Devices: 1}})
	if err != nil {
		t.Fatal(err)
	}
	page := body(f.do("GET", "/vouchers", "192.0.2.9", nil, sc))
	if n := len(codeRE.FindAllString(page, -1)); n != listCodes || !strings.Contains(page, "The newest 300 of 310 codes") {
		t.Errorf("the list shows %d codes", n)
	}
	batch := fmt.Sprint(made[0].Batch)
	for _, tc := range []struct {
		query    string
		cards    int
		count    string
		next     string
		notFound bool
	}{
		{query: "paper=a4", cards: 96, count: "1–96 of 310", next: "paper=A4&amp;from=96"},
		{query: "paper=A4&from=96", cards: 96, count: "97–192 of 310", next: "paper=A4&amp;from=192"},
		{query: "paper=letter&from=288", cards: 22, count: "289–310 of 310"},
		{query: "paper=letter&from=310", cards: 0, count: "310–310 of 310"},
		{query: "paper=a4&from=-1", notFound: true},
		{query: "paper=a4&from=x", notFound: true},
	} {
		resp := f.do("GET", "/vouchers/print?batch="+batch+"&"+tc.query, "192.0.2.9", nil, sc)
		sheet := body(resp)
		if tc.notFound {
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: %d", tc.query, resp.StatusCode)
			}
			continue
		}
		hasNext := strings.Contains(sheet, "the next cards")
		if n := strings.Count(sheet, `<div class="card">`); n != tc.cards || !strings.Contains(sheet, "cards "+tc.count+" ·") ||
			hasNext != (tc.next != "") || (tc.next != "" && !strings.Contains(sheet, tc.next)) {
			t.Errorf("%s: %d cards, next %v:\n%.600s", tc.query, n, hasNext, sheet)
		}
	}
}

// TestOverviewRADIUS: the RADIUS box, only while RADIUS is in use: each
// server up, down or not asked yet with its last answer and failure, and
// the accounting backlog with the oldest record's age.
func TestOverviewRADIUS(t *testing.T) {
	f, sc, _ := pagesFixture(t)
	var rad *RADIUS
	f.s.d.Status = func() Status { return Status{Started: f.now.Add(-time.Hour), RADIUS: rad} }
	tests := []struct {
		name string
		rad  *RADIUS
		want []string
	}{
		{"not in use", nil, nil},
		{"servers", &RADIUS{Servers: []RADIUSServer{
			{Addr: "198.51.100.11:1812", LastAnswer: f.now.Add(-5 * time.Second), LastFailure: f.now.Add(-time.Hour), Up: true},
			{Addr: "198.51.100.12:1812", LastAnswer: f.now.Add(-2 * time.Hour), LastFailure: f.now.Add(-90 * time.Second)},
			{Addr: "[2001:db8::1]:1812"},
		}}, []string{
			"<tr><td>198.51.100.11:1812</td><td>up</td><td>5s ago</td><td>1h ago</td></tr>",
			"<tr><td>198.51.100.12:1812</td><td>down</td><td>2h ago</td><td>1m30s ago</td></tr>",
			"<tr><td>[2001:db8::1]:1812</td><td>not asked yet</td><td>—</td><td>—</td></tr>",
			"Accounting records waiting: 0.",
		}},
		{"backlog", &RADIUS{Servers: []RADIUSServer{{Addr: "198.51.100.11:1812", LastFailure: f.now}}, Waiting: 42, Oldest: f.now.Add(-10 * time.Minute)},
			[]string{"<td>down</td>", "Accounting records waiting: 42, the oldest from 10m ago."}},
	}
	for _, tt := range tests {
		rad = tt.rad
		page := body(f.do("GET", "/", "192.0.2.9", nil, sc))
		if got := strings.Contains(page, "<h2>RADIUS</h2>"); got != (tt.rad != nil) {
			t.Errorf("%s: RADIUS box shown %v", tt.name, got)
		}
		for _, w := range tt.want {
			if !strings.Contains(page, w) {
				t.Errorf("%s: no %q in\n%s", tt.name, w, page)
			}
		}
	}
}

// TestSettingsMethodsAndLimits: the form shows the methods in order (radius
// only with config radius) and each limit's text; a post gives Save the
// methods in the order chosen and every limit, empty ones as ""; no
// method at all is refused; Save's refusal is shown.
func TestSettingsMethodsAndLimits(t *testing.T) {
	f, sc, csrf := pagesFixture(t)
	cur := Settings{VenueName: "Café", Terms: "Be nice.", Auth: []string{"voucher", "click"}, Limits: map[string]string{"lobby.session_timeout": "2h", "voucher.quota": "1GB"}}
	f.s.d.Settings = func() Settings { return cur }
	page := body(f.do("GET", "/settings", "192.0.2.9", nil, sc))
	for _, w := range []string{`<option value="voucher" selected>`, `<option value="click" selected>`, `name="lobby.session_timeout" value="2h"`,
		`name="voucher.quota" value="1GB"`, `name="click.download_rate" value=""`} {
		if !strings.Contains(page, w) {
			t.Errorf("no %q in\n%s", w, page)
		}
	}
	if strings.Index(page, `"voucher" selected`) > strings.Index(page, `"click" selected`) || strings.Contains(page, `value="radius"`) {
		t.Errorf("methods out of order, or radius without config radius:\n%s", page)
	}
	cur.RADIUS = true
	if page := body(f.do("GET", "/settings", "192.0.2.9", nil, sc)); strings.Count(page, `<option value="radius">`) != 3 {
		t.Errorf("radius not offered in each place with config radius:\n%s", page)
	}

	form := url.Values{"csrf": {csrf}, "venue_name": {"Café"}, "terms": {"Be nice."}, "auth": {"radius", "", "click"}, "click.quota": {" 300MB "}}
	if resp := f.do("POST", "/settings", "192.0.2.9", form, sc); resp.StatusCode != 200 || len(f.saved) != 1 {
		t.Fatalf("%d, saved %v", resp.StatusCode, f.saved)
	}
	got := f.saved[0]
	if strings.Join(got.Auth, " ") != "radius click" || got.Limits["click.quota"] != "300MB" || len(got.Limits) != len(LimitOptions) || got.Limits["lobby.session_timeout"] != "" {
		t.Errorf("saved %+v", got)
	}
	form["auth"] = []string{"", ""}
	if resp := f.do("POST", "/settings", "192.0.2.9", form, sc); resp.StatusCode != 400 || len(f.saved) != 1 {
		t.Errorf("no method: %d, saved %d times", resp.StatusCode, len(f.saved))
	}
	f.s.d.Save = func(Settings) error { return errors.New("lobby:3: option quota \"lots\": want a size") }
	form["auth"] = []string{"click"}
	form.Set("lobby.quota", "lots")
	resp := f.do("POST", "/settings", "192.0.2.9", form, sc)
	if page := body(resp); resp.StatusCode != 400 || !strings.Contains(page, "Not saved: lobby:3: option quota") || !strings.Contains(page, `name="lobby.quota" value="lots"`) {
		t.Errorf("refused: %d\n%s", resp.StatusCode, page)
	}
}
