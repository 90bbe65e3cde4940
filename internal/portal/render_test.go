package portal

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

// evil holds every character that means something in HTML.
const evil = `<script>alert('x')</script> & "q"`

// escaped is evil as it must come out: the test's own idea of escaping.
var escaped = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace

// evilPage is a page whose every string is evil.
func evilPage() *Page {
	return &Page{
		VenueName: evil, Terms: []string{evil, "two " + evil}, PortalURL: evil, Token: evil,
		Redir: evil, RedirHost: evil, Notice: evil, State: evil, SignedIn: true, MAC: evil, IP: evil,
		TimeLeft: evil, Expires: time.Date(2025, 6, 1, 14, 0, 0, 0, time.UTC), Title: evil, Message: evil, Back: evil,
		Code: evil, DataLeft: evil, Method: evil, User: evil,
	}
}

// allFields are the names of every page, once each.
func allFields() []field {
	var out []field
	seen := map[string]bool{}
	for _, page := range pageNames {
		fields, _ := pageFields(page)
		for _, f := range fields {
			if !seen[f.name] {
				seen[f.name] = true
				out = append(out, f)
			}
		}
	}
	return out
}

func render(t *testing.T, src string, fields []field, p *Page) string {
	t.Helper()
	tm, err := parseTemplate("t.html", src, fields)
	if err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	var b bytes.Buffer
	tm.render(&b, p)
	return b.String()
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"":                            "",
		"plain Café text":             "plain Café text",
		"<>&\"'":                      "&lt;&gt;&amp;&#34;&#39;",
		"a\x00b":                      "a\uFFFDb",
		"&amp; is not kept as is":     "&amp;amp; is not kept as is",
		`" onmouseover="alert(1)`:     "&#34; onmouseover=&#34;alert(1)",
		"http://x/?a=1&b='2'":         "http://x/?a=1&amp;b=&#39;2&#39;",
		"</p><script>x</script>\n<p>": "&lt;/p&gt;&lt;script&gt;x&lt;/script&gt;\n&lt;p&gt;",
	} {
		var b bytes.Buffer
		escape(&b, in)
		if b.String() != want {
			t.Errorf("escape(%q) = %q, want %q", in, b.String(), want)
		}
	}
}

// Every value of every page is escaped, in text and in attributes alike.
func TestRenderEscapesEveryValue(t *testing.T) {
	for _, page := range pageNames {
		fields, _ := pageFields(page)
		for _, f := range fields {
			p := evilPage()
			if f.kind == kindMarkup {
				continue // the parts, rendered and escaped by the portal itself: TestLoginParts
			}
			src := `<p>{{` + f.name + `}}</p><input value="{{` + f.name + `}}"><a title='{{` + f.name + `}}'>`
			if f.kind == kindFlag {
				continue // no text; TestParseErrors refuses {{flag}}
			}
			var want string
			switch f.kind {
			case kindText:
				raw := f.text(p)
				if f.name != "expires" && !strings.ContainsAny(raw, `<>&"'`) {
					t.Fatalf("%s %s: the test page's value %q has nothing to escape", page, f.name, raw)
				}
				want = "<p>" + escaped(raw) + `</p><input value="` + escaped(raw) + `"><a title='` + escaped(raw) + `'>`
			case kindParagraphs:
				paras := "<p>" + escaped(evil) + "</p>\n<p>two " + escaped(evil) + "</p>\n"
				want = "<p>" + paras + `</p><input value="` + paras + `"><a title='` + paras + `'>`
			}
			if got := render(t, src, fields, p); got != want {
				t.Errorf("%s {{%s}}:\n got %s\nwant %s", page, f.name, got, want)
			}
		}
	}
}

func TestRenderSections(t *testing.T) {
	fields, _ := pageFields(pageStatus)
	login, _ := pageFields(pageLogin)
	on := &Page{VenueName: "V", Notice: "N", State: "authenticated", SignedIn: true, TimeLeft: "1 hour"}
	off := &Page{VenueName: "V", State: "preauth"}
	tests := []struct {
		name, src string
		fields    []field
		p         *Page
		want      string
	}{
		{"no tags", "<p>plain { } }} text</p>", fields, on, "<p>plain { } }} text</p>"},
		{"value", "<h1>{{venue_name}}</h1>", fields, on, "<h1>V</h1>"},
		{"spaces in tags", "{{ venue_name }}{{# notice }}n{{/ notice }}", fields, on, "Vn"},
		{"shown when set", "a{{#notice}}[{{notice}}]{{/notice}}b", fields, on, "a[N]b"},
		{"hidden when empty", "a{{#notice}}[{{notice}}]{{/notice}}b", fields, off, "ab"},
		{"inverted, set", "a{{^notice}}none{{/notice}}b", fields, on, "ab"},
		{"inverted, empty", "a{{^notice}}none{{/notice}}b", fields, off, "anoneb"},
		{"either", "{{#time_left}}{{time_left}}{{/time_left}}{{^time_left}}no limit{{/time_left}}", fields, off, "no limit"},
		{"flag true", "{{#authenticated}}in{{/authenticated}}{{^signed_in}}out{{/signed_in}}", fields, on, "in"},
		{"flag false", "{{#authenticated}}in{{/authenticated}}{{^signed_in}}out{{/signed_in}}", fields, off, "out"},
		{"nested", "{{#signed_in}}1{{#notice}}2{{^trusted}}3{{/trusted}}{{/notice}}4{{/signed_in}}", fields, on, "1234"},
		{"nested, inner hidden", "{{#signed_in}}1{{#notice}}2{{/notice}}4{{/signed_in}}", fields, &Page{SignedIn: true}, "14"},
		{"same name nested", "{{#notice}}{{#notice}}x{{/notice}}{{/notice}}", fields, on, "x"},
		{"empty section", "a{{#notice}}{{/notice}}b", fields, on, "ab"},
		{"multi-line", "{{#notice}}\n<p>\n{{notice}}\n</p>\n{{/notice}}\n", fields, on, "\n<p>\nN\n</p>\n\n"},
		{"terms", "{{#terms}}<div>{{terms}}</div>{{/terms}}", login, &Page{Terms: []string{"a", "b"}}, "<div><p>a</p>\n<p>b</p>\n</div>"},
		{"no terms", "{{#terms}}<div>{{terms}}</div>{{/terms}}{{^terms}}none{{/terms}}", login, &Page{}, "none"},
	}
	for _, tt := range tests {
		if got := render(t, tt.src, tt.fields, tt.p); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	status, _ := pageFields(pageStatus)
	errorPage, _ := pageFields(pageError)
	tests := []struct {
		name, src string
		fields    []field
		want      string // the error starts with it
	}{
		{"unknown name", "<p>\n{{venu_name}}</p>", status, "t.html:2: unknown name {{venu_name}}; this page knows: authenticated, back, by_code, data_left, expires,"},
		{"name of another page", "{{terms}}", errorPage, "t.html:1: unknown name {{terms}}"},
		{"upper case", "\n\n{{Venue_Name}}", status, "t.html:3: unknown name {{Venue_Name}}"},
		{"unknown section", "{{#nope}}{{/nope}}", status, "t.html:1: unknown name {{#nope}}"},
		{"Go template field", "<h1>{{.VenueName}}</h1>", status, "t.html:1: {{.VenueName}} is not a tag: pages use {{name}}"},
		{"Go template call", "\n{{template \"meta\" .}}", status, "t.html:2: {{template \"meta\" .}} is not a tag"},
		{"empty tag", "{{}}", status, "t.html:1: {{}} is not a tag"},
		{"bare sigil", "{{#}}", status, "t.html:1: {{#}} is not a tag"},
		{"unclosed tag", "a\nb\n<h1>{{venue_name</h1>\n}}", status, `t.html:3: "{{venue_name</h1>" has no closing }} on its line`},
		{"unclosed at the end", "x {{venue_name", status, `t.html:1: "{{venue_name" has no closing }} on its line`},
		{"flag as text", "{{signed_in}}", status, "t.html:1: {{signed_in}} is a yes/no flag, not text: use it as {{#signed_in}}…{{/signed_in}}"},
		{"never closed", "a\n{{#notice}}\n<p>x</p>\n", status, "t.html:2: {{#notice}} is never closed with {{/notice}}"},
		{"inner never closed", "{{#notice}}\n{{^redir}}\n{{/notice}}", status, "t.html:3: {{/notice}}, but the open section is {{^redir}} of line 2"},
		{"stray close", "a\n\n{{/notice}}", status, "t.html:3: {{/notice}} closes no section"},
		{"crossed", "{{#notice}}{{#redir}}{{/notice}}{{/redir}}", status, "t.html:1: {{/notice}}, but the open section is {{#redir}} of line 1"},
		{"too deep", strings.Repeat("{{#notice}}", maxSectionDepth+1), status, "t.html:1: sections nested more than 32 deep"},
		{"too big", strings.Repeat("x", maxTemplateBytes+1), status, "t.html: 1048577 bytes; a page may have at most 1048576"},
	}
	for _, tt := range tests {
		_, err := parseTemplate("t.html", tt.src, tt.fields)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: %v\nwant an error starting %q", tt.name, err, tt.want)
		}
	}
	// As deep as allowed is fine.
	deep := strings.Repeat("{{#notice}}", maxSectionDepth) + "x" + strings.Repeat("{{/notice}}", maxSectionDepth)
	if got := render(t, deep, status, &Page{Notice: "n"}); got != "x" {
		t.Errorf("deep sections: %q", got)
	}
}

// The built-in pages use only their own names, and the sign-in page the
// token.
func TestBuiltinPages(t *testing.T) {
	p, err := loadPages("")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range pageNames {
		if p.t[name] == nil || len(p.t[name].nodes) < 3 {
			t.Errorf("%s: %+v", name, p.t[name])
		}
	}
	if got := strings.Join(p.t[pageLogin].names, " "); got != "click methods notice radius redir_host terms venue_name voucher" {
		t.Errorf("login.html uses %s", got)
	}
	for _, part := range []string{partClick, partVoucher, partRADIUS} {
		if !slices.Contains(p.t[part].names, "token") {
			t.Errorf("%s does not send the token", part)
		}
	}
}
