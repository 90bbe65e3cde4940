package admin

import "github.com/lobby-fw/lobby/internal/portal"

// view is what every admin template may show; each page fills its part.
type view struct {
	Title, Body, CSRF, Error, Message string
	LoggedIn                          bool

	Preauth, Authenticated, Trusted, Blocked, DHCP, Uptime, Backend string

	Rows  string // the Clients table's rows, each rendered by the row template
	Empty bool

	MAC, IP, Hostname, State, Since, Expires, Up, Down string
	SignedIn, IsBlocked, IsTrusted                     bool

	VenueName, Terms string
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
	text("venue_name", func(v *view) string { return v.VenueName }),
	text("terms", func(v *view) string { return v.Terms }),
}

// pages are the parsed templates.
type pages struct {
	layout, login, message, overview, clients, row, settings *tmpl
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
		{&p.clients, "clients.html", clientsHTML},
		{&p.row, "row.html", rowHTML},
		{&p.settings, "settings.html", settingsHTML},
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
.todo{color:#777}
</style></head><body>
<header><strong>Lobby</strong>
{{#logged_in}}<a href="/">Overview</a> <a href="/clients">Clients</a> <a href="/settings">Settings</a>
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

// The marked parts are filled by later work: sign-ins and data of the last
// 24 hours (the sign-in methods), RADIUS reachability and the accounting
// backlog (RADIUS).
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
<!-- LATER: sign-ins and data of the last 24 hours; RADIUS reachability and accounting backlog -->
`

const clientsHTML = `<div class="scroll"><table>
<tr><th>MAC</th><th>IP</th><th>name</th><th>state</th><th>since</th><th>ends</th><th>up</th><th>down</th><th></th></tr>
{{rows}}
</table></div>
{{#empty}}<p>No clients yet.</p>{{/empty}}
<p><a href="/clients">Refresh</a></p>
`

const rowHTML = `<tr><td>{{mac}}</td><td>{{ip}}</td><td>{{hostname}}</td><td>{{state}}</td><td>{{since}}</td><td>{{expires}}</td><td>{{up}}</td><td>{{down}}</td><td>
{{#signed_in}}<form method="post" action="/clients"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="mac" value="{{mac}}"><button name="action" value="signout">Sign out</button></form>{{/signed_in}}
{{^is_blocked}}<form method="post" action="/clients"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="mac" value="{{mac}}"><button name="action" value="block">Block</button></form>{{/is_blocked}}
{{#is_blocked}}<form method="post" action="/clients"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="mac" value="{{mac}}"><button name="action" value="unblock">Unblock</button></form>{{/is_blocked}}
{{^is_trusted}}<form method="post" action="/clients"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="mac" value="{{mac}}"><button name="action" value="trust">Trust</button></form>{{/is_trusted}}
{{#is_trusted}}<form method="post" action="/clients"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="mac" value="{{mac}}"><button name="action" value="untrust">Untrust</button></form>{{/is_trusted}}
</td></tr>
`

const settingsHTML = `<form method="post" action="/settings" class="box">
<input type="hidden" name="csrf" value="{{csrf}}">
<p><label>Venue name<br><input name="venue_name" value="{{venue_name}}" maxlength="80" required></label></p>
<p><label>Terms of use (blank lines separate paragraphs)<br><textarea name="terms" required>{{terms}}</textarea></label></p>
<p><button>Save and apply</button></p>
</form>
`
