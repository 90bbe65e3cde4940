package admin

import "github.com/lobby-fw/lobby/internal/portal"

// view is what every admin template may show; each page fills its part.
type view struct {
	Title, Body, CSRF, Error, Message string
	LoggedIn                          bool

	Preauth, Authenticated, Trusted, Blocked, DHCP, Uptime, Backend string

	Rows  string // a table's rows (clients, codes) or the sheet's cards, each rendered by its template
	Empty bool

	// The Overview's last 24 hours.
	SignInBars, DataBars, SignIns24, Data24, From, To, CountedSince string
	Percent                                                         string // one bar's height

	// The Overview's RADIUS: its server rows, the accounting backlog;
	// one server's row.
	RADIUS, Waiting, Oldest, Server, Reach, LastAnswer, LastFailure string

	MAC, IP, Hostname, State, Since, Expires, Up, Down string
	Method, User, Download, Upload, Quota              string
	SignedIn, IsBlocked, IsTrusted                     bool

	// Vouchers: the page, its rows, the print sheet and its cards.
	Batches, Defaults, Batch, Count, Code, Devices, TimeLeft, DataLeft, Note, Gives string
	Revocable                                                                       bool
	More, Paper, Next, QR, ValidUntil                                               string

	VenueName, Terms string

	// Settings: the methods' choices and the limits' fields; one of each.
	Methods, Limits, Field, Label, Value        string
	Click, Voucher, RADIUSMethod, RADIUSOffered bool
}

type tmpl = portal.Template[*view]

func text(name string, get func(*view) string) portal.Field[*view] {
	return portal.TextField(name, get)
}

func flag(name string, get func(*view) bool) portal.Field[*view] {
	return portal.FlagField(name, get)
}

var fields = []portal.Field[*view]{
	text("title", func(v *view) string { return v.Title }),
	portal.MarkupField("body", func(v *view) string { return v.Body }),
	text("csrf", func(v *view) string { return v.CSRF }),
	text("error", func(v *view) string { return v.Error }),
	text("message", func(v *view) string { return v.Message }),
	flag("logged_in", func(v *view) bool { return v.LoggedIn }),
	text("preauth", func(v *view) string { return v.Preauth }),
	text("authenticated", func(v *view) string { return v.Authenticated }),
	text("trusted", func(v *view) string { return v.Trusted }),
	text("blocked", func(v *view) string { return v.Blocked }),
	text("dhcp", func(v *view) string { return v.DHCP }),
	text("uptime", func(v *view) string { return v.Uptime }),
	text("backend", func(v *view) string { return v.Backend }),
	portal.MarkupField("rows", func(v *view) string { return v.Rows }),
	flag("empty", func(v *view) bool { return v.Empty }),
	text("mac", func(v *view) string { return v.MAC }),
	text("ip", func(v *view) string { return v.IP }),
	text("hostname", func(v *view) string { return v.Hostname }),
	text("state", func(v *view) string { return v.State }),
	text("since", func(v *view) string { return v.Since }),
	text("expires", func(v *view) string { return v.Expires }),
	text("up", func(v *view) string { return v.Up }),
	text("down", func(v *view) string { return v.Down }),
	flag("signed_in", func(v *view) bool { return v.SignedIn }),
	flag("is_blocked", func(v *view) bool { return v.IsBlocked }),
	flag("is_trusted", func(v *view) bool { return v.IsTrusted }),
	portal.MarkupField("sign_in_bars", func(v *view) string { return v.SignInBars }),
	portal.MarkupField("data_bars", func(v *view) string { return v.DataBars }),
	text("sign_ins_24h", func(v *view) string { return v.SignIns24 }),
	text("data_24h", func(v *view) string { return v.Data24 }),
	text("from", func(v *view) string { return v.From }),
	text("to", func(v *view) string { return v.To }),
	text("counted_since", func(v *view) string { return v.CountedSince }),
	text("percent", func(v *view) string { return v.Percent }),
	portal.MarkupField("radius", func(v *view) string { return v.RADIUS }),
	text("waiting", func(v *view) string { return v.Waiting }),
	text("oldest", func(v *view) string { return v.Oldest }),
	text("server", func(v *view) string { return v.Server }),
	text("reach", func(v *view) string { return v.Reach }),
	text("last_answer", func(v *view) string { return v.LastAnswer }),
	text("last_failure", func(v *view) string { return v.LastFailure }),
	text("method", func(v *view) string { return v.Method }),
	text("user", func(v *view) string { return v.User }),
	text("download", func(v *view) string { return v.Download }),
	text("upload", func(v *view) string { return v.Upload }),
	text("quota", func(v *view) string { return v.Quota }),
	portal.MarkupField("batches", func(v *view) string { return v.Batches }),
	text("defaults", func(v *view) string { return v.Defaults }),
	text("batch", func(v *view) string { return v.Batch }),
	text("count", func(v *view) string { return v.Count }),
	text("code", func(v *view) string { return v.Code }),
	text("devices", func(v *view) string { return v.Devices }),
	text("time_left", func(v *view) string { return v.TimeLeft }),
	text("data_left", func(v *view) string { return v.DataLeft }),
	text("note", func(v *view) string { return v.Note }),
	text("gives", func(v *view) string { return v.Gives }),
	flag("revocable", func(v *view) bool { return v.Revocable }),
	text("more", func(v *view) string { return v.More }),
	text("paper", func(v *view) string { return v.Paper }),
	text("next", func(v *view) string { return v.Next }),
	portal.MarkupField("qr", func(v *view) string { return v.QR }),
	text("valid_until", func(v *view) string { return v.ValidUntil }),
	text("venue_name", func(v *view) string { return v.VenueName }),
	text("terms", func(v *view) string { return v.Terms }),
	portal.MarkupField("methods", func(v *view) string { return v.Methods }),
	portal.MarkupField("limits", func(v *view) string { return v.Limits }),
	text("field", func(v *view) string { return v.Field }),
	text("label", func(v *view) string { return v.Label }),
	text("value", func(v *view) string { return v.Value }),
	flag("click", func(v *view) bool { return v.Click }),
	flag("voucher", func(v *view) bool { return v.Voucher }),
	flag("radius_method", func(v *view) bool { return v.RADIUSMethod }),
	flag("radius_offered", func(v *view) bool { return v.RADIUSOffered }),
}

// pages are the parsed templates.
type pages struct {
	layout, login, message, overview, bar, server, clients, row, vouchers, batch, code, sheet, card, settings, method, limit *tmpl
}

func loadPages() (*pages, error) {
	p := &pages{}
	for _, t := range []struct {
		dst       **tmpl
		name, src string
	}{
		{&p.layout, "layout.html", layoutHTML},
		{&p.login, "login.html", loginHTML},
		{&p.message, "message.html", messageHTML},
		{&p.overview, "overview.html", overviewHTML},
		{&p.bar, "bar.html", barHTML},
		{&p.server, "server.html", serverHTML},
		{&p.clients, "clients.html", clientsHTML},
		{&p.row, "row.html", rowHTML},
		{&p.vouchers, "vouchers.html", vouchersHTML},
		{&p.batch, "batch.html", batchHTML},
		{&p.code, "code.html", codeHTML},
		{&p.sheet, "sheet.html", sheetHTML},
		{&p.card, "card.html", cardHTML},
		{&p.settings, "settings.html", settingsHTML},
		{&p.method, "method.html", methodHTML},
		{&p.limit, "limit.html", limitHTML},
	} {
		var err error
		if *t.dst, err = portal.ParseTemplate(t.name, t.src, fields); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// The pages: one layout, small enough to read on a phone, no script.
const layoutHTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}} · Lobby admin</title>
<style>
body{font:16px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#f6f6f6}
header{background:#234;color:#fff;padding:.6em 1em;display:flex;flex-wrap:wrap;gap:1em;align-items:center}
header a{color:#fff}header form{margin-left:auto}
main{padding:1em;max-width:60em;margin:auto}
table{border-collapse:collapse;width:100%;background:#fff}
td,th{border-bottom:1px solid #ddd;padding:.4em;text-align:left;vertical-align:top}
.scroll{overflow-x:auto}.err{color:#a00;font-weight:bold}.ok{color:#060;font-weight:bold}
.box{background:#fff;padding:1em;margin:0 0 1em}
input,textarea,button{font:inherit;max-width:100%;box-sizing:border-box}
textarea{width:100%;min-height:12em}
td form{display:inline}
.chart{display:flex;align-items:flex-end;gap:2px;height:5em;background:#fff;border-bottom:1px solid #999}
.chart span{flex:1;background:#468;min-width:2px}
.axis{display:flex;justify-content:space-between;color:#555;font-size:.85em}
.note{color:#555;font-size:.9em}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(9em,1fr));gap:.5em 1em}
.grid input{width:100%}
details form p{margin:.3em 0}details input{width:7em}
</style></head><body>
<header><strong>Lobby</strong>
{{#logged_in}}<a href="/">Overview</a> <a href="/clients">Clients</a> <a href="/vouchers">Vouchers</a> <a href="/settings">Settings</a>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="{{csrf}}"><button>Sign out</button></form>{{/logged_in}}
</header>
<main><h1>{{title}}</h1>
{{#error}}<p class="err">{{error}}</p>{{/error}}
{{#message}}<p class="ok">{{message}}</p>{{/message}}
{{body}}
</main></body></html>
`

const loginHTML = `<form method="post" action="/login" class="box">
<input type="hidden" name="csrf" value="{{csrf}}">
<p><label>User<br><input name="user" value="admin" autocomplete="username" required></label></p>
<p><label>Password<br><input name="password" type="password" autocomplete="current-password" required autofocus></label></p>
<p><button>Sign in</button></p>
</form>
`

const messageHTML = `<p><a href="/">Back to the overview</a></p>
`

// The RADIUS box shows only while config radius is in use.
const overviewHTML = `<div class="box"><h2>Clients</h2>
<table><tr><th>signed in</th><td>{{authenticated}}</td></tr>
<tr><th>not signed in</th><td>{{preauth}}</td></tr>
<tr><th>trusted</th><td>{{trusted}}</td></tr>
<tr><th>blocked</th><td>{{blocked}}</td></tr></table>
<p><a href="/clients">Every client</a></p></div>
<div class="box"><h2>Router</h2>
<table><tr><th>DHCP pool</th><td>{{dhcp}}</td></tr>
<tr><th>up for</th><td>{{uptime}}</td></tr>
<tr><th>firewall</th><td>{{backend}}</td></tr></table></div>
{{#sign_ins_24h}}<div class="box"><h2>Last 24 hours</h2>
<p>Sign-ins: {{sign_ins_24h}}. Data: {{data_24h}}.</p>
<h3>Sign-ins per hour</h3><div class="chart">{{sign_in_bars}}</div><div class="axis"><span>{{from}}</span><span>{{to}}</span></div>
<h3>Data per hour</h3><div class="chart">{{data_bars}}</div><div class="axis"><span>{{from}}</span><span>{{to}}</span></div>
{{#counted_since}}<p class="note">Counted since lobby started, {{counted_since}}: the hours are kept in memory only.</p>{{/counted_since}}</div>{{/sign_ins_24h}}
{{#radius}}<div class="box"><h2>RADIUS</h2><div class="scroll">
<table><tr><th>server</th><th>as lobby saw it</th><th>last answer</th><th>last failure</th></tr>
{{radius}}</table></div>
<p>Accounting records waiting: {{waiting}}{{#oldest}}, the oldest from {{oldest}} ago{{/oldest}}.</p></div>{{/radius}}
`

const serverHTML = `<tr><td>{{server}}</td><td>{{reach}}</td><td>{{last_answer}}</td><td>{{last_failure}}</td></tr>
`

const barHTML = `<span style="height:{{percent}}%" title="{{title}}"></span>`

const clientsHTML = `<div class="scroll"><table>
<tr><th>MAC</th><th>IP</th><th>name</th><th>state</th><th>method</th><th>user</th><th>since</th><th>ends</th><th>rates down/up</th><th>quota</th><th>up</th><th>down</th><th></th></tr>
{{rows}}
</table></div>
{{#empty}}<p>No clients yet.</p>{{/empty}}
<p><a href="/clients">Refresh</a></p>
`

const rowHTML = `<tr><td>{{mac}}</td><td>{{ip}}</td><td>{{hostname}}</td><td>{{state}}</td><td>{{method}}</td><td>{{user}}</td><td>{{since}}</td><td>{{expires}}</td>
<td>{{#download}}{{download}}{{/download}}{{^download}}—{{/download}} / {{#upload}}{{upload}}{{/upload}}{{^upload}}—{{/upload}}</td><td>{{#quota}}{{quota}}{{/quota}}{{^quota}}—{{/quota}}</td><td>{{up}}</td><td>{{down}}</td><td>
{{#signed_in}}<form method="post" action="/clients"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="mac" value="{{mac}}"><button name="action" value="signout">Sign out</button></form>
<details><summary>Limits</summary><form method="post" action="/clients"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="mac" value="{{mac}}">
<p><label>download <input name="download" value="{{download}}" placeholder="none: 0"></label></p>
<p><label>upload <input name="upload" value="{{upload}}" placeholder="none: 0"></label></p>
<p><label>quota <input name="quota" value="{{quota}}" placeholder="none: 0"></label></p>
<p><label>ends in <input name="expires" placeholder="2h; never: 0"></label></p>
<p><button name="action" value="limit">Change limits</button></p></form></details>{{/signed_in}}
{{^is_blocked}}<form method="post" action="/clients"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="mac" value="{{mac}}"><button name="action" value="block">Block</button></form>{{/is_blocked}}
{{#is_blocked}}<form method="post" action="/clients"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="mac" value="{{mac}}"><button name="action" value="unblock">Unblock</button></form>{{/is_blocked}}
{{^is_trusted}}<form method="post" action="/clients"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="mac" value="{{mac}}"><button name="action" value="trust">Trust</button></form>{{/is_trusted}}
{{#is_trusted}}<form method="post" action="/clients"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="mac" value="{{mac}}"><button name="action" value="untrust">Untrust</button></form>{{/is_trusted}}
</td></tr>
`

const vouchersHTML = `<form method="post" action="/vouchers" class="box">
<input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="action" value="create">
<h2>Make a batch</h2>
<p class="note">Empty fields take config voucher's: {{defaults}}. Durations like 2h or 1d, rates like 8mbit, sizes like 1GB.</p>
<div class="grid">
<label>codes<br><input name="count" type="number" min="1" max="10000" value="10"></label>
<label>duration<br><input name="duration" placeholder="e.g. 1d"></label>
<label>devices<br><input name="devices" type="number" min="1"></label>
<label>download<br><input name="download" placeholder="e.g. 8mbit"></label>
<label>upload<br><input name="upload" placeholder="e.g. 2mbit"></label>
<label>quota<br><input name="quota" placeholder="e.g. 1GB"></label>
<label>valid unused for<br><input name="valid" placeholder="e.g. 30d"></label>
<label>note<br><input name="note" maxlength="200"></label>
</div>
<p><button>Make codes</button></p>
{{#batch}}<p class="ok">Print them: <a href="/vouchers/print?batch={{batch}}&amp;paper=a4">A4</a> · <a href="/vouchers/print?batch={{batch}}&amp;paper=letter">Letter</a></p>{{/batch}}
</form>
{{^empty}}<div class="box"><h2>Batches</h2><div class="scroll"><table>
<tr><th>made</th><th>note</th><th>each gives</th><th>codes</th><th>print the unused</th></tr>
{{batches}}</table></div></div>
<div class="box"><h2>Codes</h2><div class="scroll"><table>
<tr><th>code</th><th>state</th><th>devices</th><th>time left</th><th>data left</th><th>note</th><th></th></tr>
{{rows}}</table></div>{{#more}}<p class="note">{{more}}</p>{{/more}}</div>{{/empty}}
{{#empty}}<p>No codes yet.</p>{{/empty}}
`

const batchHTML = `<tr><td>{{since}}</td><td>{{note}}</td><td>{{gives}}</td><td>{{count}}</td><td><a href="/vouchers/print?batch={{batch}}&amp;paper=a4">A4</a> · <a href="/vouchers/print?batch={{batch}}&amp;paper=letter">Letter</a></td></tr>
`

const codeHTML = `<tr><td><code>{{code}}</code></td><td>{{state}}</td><td>{{devices}}</td><td>{{time_left}}</td><td>{{data_left}}</td><td>{{note}}</td><td>
{{#revocable}}<form method="post" action="/vouchers"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="code" value="{{code}}"><button name="action" value="revoke">Revoke</button></form>{{/revocable}}</td></tr>
`

// The print sheet: its own page, not the layout. Cards of 62 × 63 mm,
// three across and four down, fit A4 (190 × 277 mm inside 10 mm margins)
// and Letter (196 × 259 mm); each is an inline block, which a browser does
// not split across pages, and break-inside says so too.
const sheetHTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Vouchers {{count}} · {{venue_name}}</title>
<style>
@page{size:{{paper}};margin:10mm}
body{margin:0;font:10pt/1.3 system-ui,sans-serif;color:#000;background:#fff}
.bar{background:#234;color:#fff;padding:.6em 1em}.bar a{color:#fff}
.sheet{width:190mm;margin:0 auto;font-size:0}
.card{display:inline-block;vertical-align:top;width:63mm;height:62mm;box-sizing:border-box;border:.2mm dashed #888;
padding:3mm;text-align:center;overflow:hidden;break-inside:avoid;page-break-inside:avoid;font-size:10pt}
.card svg{display:block;width:27mm;height:27mm;margin:1mm auto}
.venue{font-weight:bold;font-size:11pt}.code{font:bold 15pt/1.2 monospace;letter-spacing:.04em}
.gives{font-size:8pt}.how{font-size:7pt;color:#333}
@media print{.bar{display:none}}
@media screen and (max-width:200mm){.sheet{width:auto}}
</style></head><body>
<div class="bar">cards {{count}} · <a href="?batch={{batch}}&amp;paper=a4">A4</a> · <a href="?batch={{batch}}&amp;paper=letter">Letter</a>{{#next}} · <a href="?batch={{batch}}&amp;paper={{paper}}&amp;from={{next}}">the next cards</a>{{/next}} · print with the browser's Print (Ctrl+P) · <a href="/vouchers">back</a></div>
{{#empty}}<p>No unused codes in this batch.</p>{{/empty}}
<div class="sheet">{{rows}}</div>
</body></html>
`

const cardHTML = `<div class="card"><div class="venue">{{venue_name}}</div><div>Wi-Fi voucher</div>
<div class="code">{{code}}</div>{{qr}}
<div class="gives">{{gives}}{{#valid_until}}; use by {{valid_until}}{{/valid_until}}</div>
<div class="how">Join the Wi-Fi, then scan this or type the code.</div></div>`

const settingsHTML = `<form method="post" action="/settings" class="box">
<input type="hidden" name="csrf" value="{{csrf}}">
<p><label>Venue name<br><input name="venue_name" value="{{venue_name}}" maxlength="80" required></label></p>
<p><label>Terms of use (blank lines separate paragraphs)<br><textarea name="terms" required>{{terms}}</textarea></label></p>
<h2>Sign-in methods</h2>
<p class="note">In the order the portal shows them.</p>
<div class="grid">{{methods}}</div>
<h2>Limits</h2>
<p class="note">Durations like 2h or 1d, rates like 8mbit, sizes like 1GB, 0 for none. Empty: the default; for click, config lobby's.</p>
<div class="grid">{{limits}}</div>
<p><button>Save and apply</button></p>
</form>
`

const methodHTML = `<label>{{count}}<br><select name="auth"><option value="">—</option>
<option value="click"{{#click}} selected{{/click}}>click</option>
<option value="voucher"{{#voucher}} selected{{/voucher}}>voucher</option>
{{#radius_offered}}<option value="radius"{{#radius_method}} selected{{/radius_method}}>radius</option>{{/radius_offered}}</select></label>
`

const limitHTML = `<label>{{label}}<br><input name="{{field}}" value="{{value}}"></label>
`
