package portal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCustomTemplates(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"login.html": `<link rel="stylesheet" href="/static/venue.css"><h1 class="mine">Welcome to {{venue_name}}</h1>` +
			`{{#notice}}<p class="notice">{{notice}}</p>{{/notice}}{{terms}}` +
			`<form method="post" action="/login"><input type="hidden" name="token" value="{{token}}">` +
			`<input type="hidden" name="redir" value="{{redir}}"><button>Go</button></form>`,
		"static/venue.css":  "h1 { color: red }",
		"static/portal.css": "/* mine */",
		"notes.txt":         "not a page",
	})
	f := newFixture(t, func(c *Config) { c.TemplateDir = dir })
	_, body := f.do("GET", "/?redir=http://198.51.100.10/", ip1, nil, nil)
	want := `<link rel="stylesheet" href="/static/venue.css"><h1 class="mine">Welcome to Café Test</h1>` +
		"<p>First rule.</p>\n<p>Second rule, continued.</p>\n" +
		`<form method="post" action="/login"><input type="hidden" name="token" value="` + scrape(t, body) + `">` +
		`<input type="hidden" name="redir" value="http://198.51.100.10/"><button>Go</button></form>`
	if body != want {
		t.Errorf("custom login page:\n%s\nwant\n%s", body, want)
	}
	// The operator's form works like the built-in one.
	res, _ := f.do("POST", "/login", ip1, map[string][]string{"token": {scrape(t, body)}, "redir": {"http://198.51.100.10/"}}, nil)
	if res.StatusCode != 303 || res.Header.Get("Location") != "http://198.51.100.10/" {
		t.Errorf("custom form: %d", res.StatusCode)
	}
	// Pages the operator did not replace are the built-in ones.
	_, body = f.do("GET", "/status", ip1, nil, nil)
	if !strings.Contains(body, "<h1>Café Test</h1>") || !strings.Contains(body, "You are online") {
		t.Errorf("built-in status page:\n%s", body)
	}
	for path, want := range map[string]string{"/static/venue.css": "color: red", "/static/portal.css": "/* mine */", "/static/icon.svg": "<svg"} {
		if _, body := f.do("GET", path, ip1, nil, nil); !strings.Contains(body, want) {
			t.Errorf("%s: %q", path, body)
		}
	}
}

func TestBrokenTemplates(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string // in the error, after the directory
	}{
		{"unclosed tag", map[string]string{"login.html": "<p>\n{{venue_name</p>"}, "/login.html:2: "},
		{"unknown name", map[string]string{"status.html": "<p>{{venue}}</p>"}, "/status.html:1: unknown name {{venue}}"},
		{"Go template", map[string]string{"error.html": "\n\n{{.Title}}"}, "/error.html:3: {{.Title}} is not a tag"},
		{"unbalanced", map[string]string{"status.html": "{{#signed_in}}\n{{/trusted}}"}, "/status.html:2: {{/trusted}}, but the open section is {{#signed_in}} of line 1"},
		{"never closed", map[string]string{"error.html": "{{^back}}"}, "/error.html:1: {{^back}} is never closed"},
		{"no token", map[string]string{"login.html": `<form method="post" action="/login"><button>Go</button></form>`}, "/login.html: the page does not use {{methods}} or {{token}}"},
		{"part without token", map[string]string{"voucher.html": `<form method="post" action="/login"><input name="code"></form>`}, "/voucher.html: the page does not use {{token}}"},
		{"not a page", map[string]string{"layout.html": "<p>x</p>", "login.html": "{{token}}"}, "/layout.html: not a page of the portal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			_, err := loadPages(dir)
			if err == nil || !strings.HasPrefix(err.Error(), dir+tt.want) {
				t.Errorf("loadPages: %v\nwant an error starting %s", err, dir+tt.want)
			}
		})
	}
	if _, err := loadPages(""); err != nil {
		t.Errorf("built-in templates: %v", err)
	}
}

// SIGHUP re-reads the operator's pages; a broken new one keeps the running
// one.
func TestReloadTemplates(t *testing.T) {
	dir := writeFiles(t, map[string]string{"error.html": "<h1>{{title}}</h1>"})
	f := newFixture(t, func(c *Config) { c.TemplateDir = dir })
	if _, body := f.do("GET", "/nope", ip1, nil, nil); body != "<h1>Page not found</h1>" {
		t.Errorf("before: %q", body)
	}
	os.WriteFile(filepath.Join(dir, "error.html"), []byte("<h2>{{title}}</h2>"), 0o644)
	f.s.Reload(*f.s.conf())
	if _, body := f.do("GET", "/nope", ip1, nil, nil); body != "<h2>Page not found</h2>" {
		t.Errorf("after reload: %q", body)
	}
	os.WriteFile(filepath.Join(dir, "error.html"), []byte("<h3>{{titel}}</h3>"), 0o644)
	f.s.Reload(*f.s.conf())
	if _, body := f.do("GET", "/nope", ip1, nil, nil); body != "<h2>Page not found</h2>" {
		t.Errorf("after a broken reload: %q", body)
	}
}
