package portal

import (
	"bytes"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The built-in pages and static files. An operator's template_dir
// replaces any of them by name (docs/portal.md).
//
//go:embed templates/*.html static
var builtin embed.FS

// The pages, by file name. Each is one whole HTML document.
const (
	pageLogin  = "login.html"
	pageStatus = "status.html"
	pageError  = "error.html"
	// The parts of the sign-in page, one per method of list auth: login.html
	// shows those offered, in that order, where it says {{methods}}.
	partClick   = "click.html"
	partVoucher = "voucher.html"
	partRADIUS  = "radius.html"
)

// pageNames are every page and part, in the order they are loaded.
var pageNames = []string{pageLogin, pageStatus, pageError, partClick, partVoucher, partRADIUS}

// partOf is the part of the sign-in page for each method.
var partOf = map[string]string{"click": partClick, "voucher": partVoucher, "radius": partRADIUS}

// Page is what a page is rendered from; its templates reach it through the
// names of pageFields. Fields that do not apply to a page are zero.
type Page struct {
	VenueName string   // option venue_name
	Terms     []string // option terms, one string per paragraph
	PortalURL string   // the portal's advertised URL (https with TLS)

	// Token is the CSRF token the page's form must send back in a field
	// named "token" (sign-in form on login.html, sign-out on status.html).
	Token string
	// Redir is where the browser goes after signing in: an http or https
	// URL checked by sanitizeRedir, or "" (then the status page). The
	// sign-in form sends it back in a field named "redir". RedirHost is
	// its host name, for a line like "you will continue to example.com".
	Redir, RedirHost string
	// Notice is a message for the top of the page, such as "the page had
	// expired, press the button again" or why a sign-in was refused; ""
	// for none.
	Notice string

	// Methods are the sign-in methods offered (list auth), in order;
	// MethodsHTML is their parts (click.html, voucher.html) rendered, for
	// login.html's {{methods}}. Code fills in the voucher code field
	// (GET /?voucher=CODE, or the code of a refused sign-in).
	Methods     []string
	MethodsHTML string
	Code        string

	// The requesting client: State is preauth, authenticated, trusted,
	// blocked or unknown (no MAC found for its address).
	State    string
	SignedIn bool // authenticated or trusted
	MAC, IP  string
	// TimeLeft is the session time left in words ("1 hour 59 minutes"),
	// Expires the moment it ends; both zero without a limit.
	TimeLeft string
	Expires  time.Time
	// DataLeft is the data the session may still use, in words ("250
	// MB"); "" without a quota. Method is how the client signed in
	// (click, voucher, radius, ctl), User its voucher code or RADIUS
	// user name.
	DataLeft     string
	Method, User string

	// Title and Message explain an error on error.html. Back is the link
	// to the sign-in page, with redir kept ("" on error.html: no link).
	Title, Message, Back string
}

// pageFields are the names a page's template may use (docs/portal.md lists
// them), and required those of which it must use one: a sign-in page
// without the token (or the parts that carry it) could never sign anyone
// in.
func pageFields(page string) (fields []field, required []string) {
	fields = []field{
		textField("venue_name", func(p *Page) string { return p.VenueName }),
		textField("portal_url", func(p *Page) string { return p.PortalURL }),
		textField("state", func(p *Page) string { return p.State }),
		textField("mac", func(p *Page) string { return p.MAC }),
		textField("ip", func(p *Page) string { return p.IP }),
	}
	token := textField("token", func(p *Page) string { return p.Token })
	redir := textField("redir", func(p *Page) string { return p.Redir })
	redirHost := textField("redir_host", func(p *Page) string { return p.RedirHost })
	notice := textField("notice", func(p *Page) string { return p.Notice })
	back := textField("back", func(p *Page) string { return p.Back })
	offered := func(m string) field {
		return flagField(m, func(p *Page) bool { return slices.Contains(p.Methods, m) })
	}
	code := textField("code", func(p *Page) string { return p.Code })
	switch page {
	case pageLogin:
		// An operator's login.html from before the methods has one form
		// with {{token}} and no {{methods}}: it still signs in by click.
		return append(fields, token, redir, redirHost, notice, code, offered("click"), offered("voucher"), offered("radius"),
			parasField("terms", func(p *Page) []string { return p.Terms }),
			MarkupField("methods", func(p *Page) string { return p.MethodsHTML }),
		), []string{"methods", "token"}
	case partClick, partVoucher, partRADIUS:
		return append(fields, token, redir, redirHost, code,
			parasField("terms", func(p *Page) []string { return p.Terms }),
		), []string{"token"}
	case pageStatus:
		return append(fields, token, redir, redirHost, notice, back,
			textField("time_left", func(p *Page) string { return p.TimeLeft }),
			textField("data_left", func(p *Page) string { return p.DataLeft }),
			textField("method", func(p *Page) string { return p.Method }),
			textField("user", func(p *Page) string { return p.User }),
			flagField("by_code", func(p *Page) bool { return p.Method == "voucher" }),
			textField("expires", func(p *Page) string {
				if p.Expires.IsZero() {
					return ""
				}
				return p.Expires.Format(time.RFC3339)
			}),
			flagField("authenticated", func(p *Page) bool { return p.State == "authenticated" }),
			flagField("trusted", func(p *Page) bool { return p.State == "trusted" }),
			flagField("signed_in", func(p *Page) bool { return p.SignedIn }),
		), nil
	case pageError:
		return append(fields, back,
			textField("title", func(p *Page) string { return p.Title }),
			textField("message", func(p *Page) string { return p.Message }),
		), nil
	}
	return nil, nil
}

// pages is one loaded set of pages, by name, with its static files.
type pages struct {
	t      map[string]*template
	static fs.FS
}

// loadPages parses the built-in pages and the operator's from dir, where a
// file replaces the built-in page of its name, so that a broken page fails
// at start-up (or SIGHUP), naming FILE:LINE, rather than in front of a
// guest. Any other *.html file in dir is an error too: a misspelt page
// would otherwise be ignored without a word.
func loadPages(dir string) (*pages, error) {
	static, err := fs.Sub(builtin, "static")
	if err != nil {
		return nil, fmt.Errorf("built-in static files: %w", err)
	}
	p := &pages{t: map[string]*template{}, static: static}
	own := map[string]bool{}
	if dir != "" {
		files, err := filepath.Glob(filepath.Join(dir, "*.html"))
		if err != nil {
			return nil, fmt.Errorf("template_dir %s: %w", dir, err)
		}
		for _, f := range files {
			name := filepath.Base(f)
			if !slices.Contains(pageNames, name) {
				return nil, fmt.Errorf("%s: not a page of the portal (those are %s); files to serve as they are go in %s",
					f, strings.Join(pageNames, ", "), filepath.Join(dir, "static"))
			}
			own[name] = true
		}
		if fi, err := os.Stat(filepath.Join(dir, "static")); err == nil && fi.IsDir() {
			p.static = overlay{os.DirFS(filepath.Join(dir, "static")), static}
		}
	}
	for _, name := range pageNames {
		file, src := "built-in templates/"+name, []byte(nil)
		if own[name] {
			file = filepath.Join(dir, name)
			src, err = os.ReadFile(file)
		} else {
			src, err = builtin.ReadFile("templates/" + name)
		}
		if err != nil {
			return nil, fmt.Errorf("template_dir: %w", err)
		}
		fields, required := pageFields(name)
		t, err := parseTemplate(file, string(src), fields)
		if err != nil {
			return nil, err
		}
		if len(required) > 0 && !slices.ContainsFunc(required, func(n string) bool { return slices.Contains(t.names, n) }) {
			return nil, fmt.Errorf("%s: the page does not use {{%s}}; its form must send it back (docs/portal.md)", file, strings.Join(required, "}} or {{"))
		}
		p.t[name] = t
	}
	return p, nil
}

// overlay serves files from top, falling back to bottom.
type overlay struct{ top, bottom fs.FS }

func (o overlay) Open(name string) (fs.File, error) {
	if f, err := o.top.Open(name); err == nil {
		return f, nil
	}
	return o.bottom.Open(name)
}

// render sends a page. Rendering cannot fail: loadPages resolved every
// name of every page.
func (s *Server) render(w http.ResponseWriter, status int, name string, p *Page) {
	var buf bytes.Buffer
	pg := s.pages.Load()
	if name == pageLogin {
		// The parts are rendered from the same data, each escaped as any
		// page is, so what {{methods}} writes unescaped is safe.
		for _, m := range p.Methods {
			if part := partOf[m]; part != "" {
				pg.t[part].render(&buf, p)
			}
		}
		p.MethodsHTML = buf.String()
		buf.Reset()
	}
	pg.t[name].render(&buf, p)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// serveStatic serves a file from the static folder; not directories.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/static/")
	if !fs.ValidPath(name) || name == "." {
		s.notFound(w, r)
		return
	}
	f, err := s.pages.Load().static.Open(name)
	if err != nil {
		s.notFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	rs, seekable := f.(io.ReadSeeker)
	if err != nil || fi.IsDir() || !seekable {
		s.notFound(w, r)
		return
	}
	http.ServeContent(w, r, name, fi.ModTime(), rs)
}

// paragraphs splits text at blank lines and joins the lines of each
// paragraph, so that a multi-line UCI value reads as running text.
func paragraphs(text string) []string {
	var out, cur []string
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.Join(cur, " "))
			cur = nil
		}
	}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			flush()
			continue
		}
		cur = append(cur, line)
	}
	flush()
	return out
}

// timeLeft says d in words, rounded up to the minute: a guest reads
// "2 hours", not "1 hour 59 minutes 58 seconds".
func timeLeft(d time.Duration) string {
	if d <= 0 {
		return "no time"
	}
	min := int((d + time.Minute - 1) / time.Minute)
	if min < 60 {
		return plural(min, "minute")
	}
	h, m := min/60, min%60
	if h >= 48 {
		return join(plural(h/24, "day"), plural(h%24, "hour"))
	}
	return join(plural(h, "hour"), plural(m, "minute"))
}

func plural(n int, unit string) string {
	switch n {
	case 0:
		return ""
	case 1:
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func join(a, b string) string { return strings.TrimSpace(a + " " + b) }

// dataLeft says n bytes in words, in decimal units as data plans count them,
// rounded down so that a guest is never promised more than is left.
func dataLeft(n uint64) string {
	for _, u := range []struct {
		unit string
		size uint64
	}{{"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3}} {
		if n >= u.size {
			whole, tenth := n/u.size, n%u.size*10/u.size
			if whole < 10 && tenth > 0 {
				return fmt.Sprintf("%d.%d %s", whole, tenth, u.unit)
			}
			return fmt.Sprintf("%d %s", whole, u.unit)
		}
	}
	if n == 1 {
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}
