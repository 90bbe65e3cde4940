package portal

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// The portal's own template language, small on purpose (docs/portal.md,
// "Your own pages"). A page is HTML with three kinds of tag:
//
//	{{name}}                 the value of name, HTML-escaped
//	{{#name}} … {{/name}}    shown when name's value is not empty (a flag: true)
//	{{^name}} … {{/name}}    shown when it is empty (a flag: false)
//
// Each page has a fixed set of names. A template is parsed once, at start-up
// or SIGHUP: an unknown name, an unclosed tag or an unbalanced section is an
// error naming FILE:LINE, and a parsed template renders without error.
//
// Why not html/template: text/template, under it, looks methods up by a name
// only known at run time (reflect.Value.MethodByName), which makes the Go
// linker keep every exported method of every reachable type in the binary:
// about 600 KB of xz on a MIPS flash budget of 2.5 MB. The price is that the
// escaping here does not follow the HTML context. Every value is escaped for
// text and for quoted attribute values (& < > " ' all escaped), which is
// where a page may put it; the values that are URLs (redir, back) were
// checked to be http/https or our own path before they reach a page
// (sanitizeRedir), since a URL attribute runs what it is given.

// Limits on an operator's template file.
const (
	maxTemplateBytes = 1 << 20 // a page, its terms included
	maxSectionDepth  = 32      // sections inside sections
)

// fieldKind says how a name's value is written and tested.
type fieldKind uint8

const (
	kindText       fieldKind = iota // a string, escaped
	kindParagraphs                  // paragraphs of text: <p>…</p> each, escaped
	kindFlag                        // yes or no: for sections only
	kindMarkup                      // another template's output, written as it is
)

// A field is a name a page's template may use, and where its value comes
// from. Exactly one of text, paras and flag is set, as kind says.
type gfield[P any] struct {
	name  string
	kind  fieldKind
	text  func(P) string
	paras func(P) []string
	flag  func(P) bool
}

// field, node and template are the portal's own pages' instances.
type (
	field    = gfield[*Page]
	node     = gnode[*Page]
	template = gtemplate[*Page]
)

func textField(name string, get func(*Page) string) field { return TextField(name, get) }

func parasField(name string, get func(*Page) []string) field { return ParasField(name, get) }

func flagField(name string, get func(*Page) bool) field { return FlagField(name, get) }

// TextField, ParasField, FlagField and MarkupField name a value of pages of
// type P, for another package's pages (the admin pages) written in this
// language: text is escaped, paragraphs are <p> each, a flag is for
// sections only.
func TextField[P any](name string, get func(P) string) gfield[P] {
	return gfield[P]{name: name, kind: kindText, text: get}
}

// ParasField: see TextField.
func ParasField[P any](name string, get func(P) []string) gfield[P] {
	return gfield[P]{name: name, kind: kindParagraphs, paras: get}
}

// FlagField: see TextField.
func FlagField[P any](name string, get func(P) bool) gfield[P] {
	return gfield[P]{name: name, kind: kindFlag, flag: get}
}

// MarkupField is a value written as it is: only ever the output of
// another Template (rows of a table, each rendered, and so escaped, by
// its own template), never text from outside.
func MarkupField[P any](name string, get func(P) string) gfield[P] {
	return gfield[P]{name: name, kind: kindMarkup, text: get}
}

// Field is a name a Template of pages of type P may use.
type Field[P any] = gfield[P]

// Template is a parsed page of type P (see ParseTemplate).
type Template[P any] struct{ t *gtemplate[P] }

// ParseTemplate parses src, called file in errors, with the names fields
// give; it fails as the portal's own pages do (docs/portal.md).
func ParseTemplate[P any](file, src string, fields []gfield[P]) (*Template[P], error) {
	t, err := parseGTemplate(file, src, fields)
	if err != nil {
		return nil, err
	}
	return &Template[P]{t}, nil
}

// Render appends the page for p to b.
func (t *Template[P]) Render(b *bytes.Buffer, p P) { t.t.render(b, p) }

// set reports whether f has a value for p: not empty, or true.
func (f *gfield[P]) set(p P) bool {
	switch f.kind {
	case kindParagraphs:
		return len(f.paras(p)) > 0
	case kindFlag:
		return f.flag(p)
	}
	return f.text(p) != ""
}

// write writes f's value for p, escaped.
func (f *gfield[P]) write(b *bytes.Buffer, p P) {
	switch f.kind {
	case kindParagraphs:
		for _, para := range f.paras(p) {
			b.WriteString("<p>")
			escape(b, para)
			b.WriteString("</p>\n")
		}
	case kindText:
		escape(b, f.text(p))
	case kindMarkup:
		b.WriteString(f.text(p))
	}
	// A flag has no text; parse refuses {{flag}}.
}

// A node is a piece of a parsed template: literal HTML (field nil), a value,
// or a section with its body.
type gnode[P any] struct {
	html     string
	field    *gfield[P]
	section  bool
	inverted bool // {{^name}}: shown when the value is empty
	body     []gnode[P]
}

// template is a parsed page.
type gtemplate[P any] struct {
	nodes []gnode[P]
	names []string // the names it uses, for checks at load
}

// render writes the page for p. It cannot fail: every name was resolved
// when the template was parsed.
func (t *gtemplate[P]) render(b *bytes.Buffer, p P) { renderNodes(b, t.nodes, p) }

func renderNodes[P any](b *bytes.Buffer, nodes []gnode[P], p P) {
	for i := range nodes {
		n := &nodes[i]
		switch {
		case n.field == nil:
			b.WriteString(n.html)
		case n.section:
			if n.field.set(p) != n.inverted {
				renderNodes(b, n.body, p)
			}
		default:
			n.field.write(b, p)
		}
	}
}

// escape writes s with the characters that mean something in HTML text or
// in a quoted attribute value replaced by references (the same ones
// html/template uses); NUL, which HTML parsers drop or replace, becomes
// U+FFFD.
func escape(b *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var ref string
		switch s[i] {
		case '&':
			ref = "&amp;"
		case '<':
			ref = "&lt;"
		case '>':
			ref = "&gt;"
		case '"':
			ref = "&#34;"
		case '\'':
			ref = "&#39;"
		case 0:
			ref = "\uFFFD"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(ref)
		last = i + 1
	}
	b.WriteString(s[last:])
}

// parseTemplate parses src, the template called file in errors, for a page
// whose names are fields.
func parseTemplate(file, src string, fields []field) (*template, error) {
	return parseGTemplate(file, src, fields)
}

func parseGTemplate[P any](file, src string, fields []gfield[P]) (*gtemplate[P], error) {
	if len(src) > maxTemplateBytes {
		return nil, fmt.Errorf("%s: %d bytes; a page may have at most %d", file, len(src), maxTemplateBytes)
	}
	byName := make(map[string]*gfield[P], len(fields))
	for i := range fields {
		byName[fields[i].name] = &fields[i]
	}
	known := func() string {
		names := make([]string, 0, len(fields))
		for _, f := range fields {
			names = append(names, f.name)
		}
		slices.Sort(names)
		return strings.Join(names, ", ")
	}

	// open is a section being read: the tag that opened it and what is
	// in it so far. stack[0] is the page itself.
	type open struct {
		tag   string // "{{#name}}", for errors
		name  string
		line  int
		node  gnode[P]
		nodes []gnode[P]
	}
	stack := []*open{{}}
	used := map[string]bool{}
	add := func(n gnode[P]) {
		top := stack[len(stack)-1]
		if n.field == nil {
			if n.html == "" {
				return
			}
			if k := len(top.nodes); k > 0 && top.nodes[k-1].field == nil {
				top.nodes[k-1].html += n.html
				return
			}
		}
		top.nodes = append(top.nodes, n)
	}

	line, rest := 1, src
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			add(gnode[P]{html: rest})
			break
		}
		add(gnode[P]{html: rest[:i]})
		line += strings.Count(rest[:i], "\n")
		rest = rest[i+2:]
		// A tag ends on its own line; an unclosed "{{" is an error, not
		// text, so that a typo cannot swallow the page up to some later
		// "}}".
		end := strings.Index(rest, "}}")
		if nl := strings.IndexByte(rest, '\n'); end < 0 || nl >= 0 && nl < end {
			return nil, fmt.Errorf("%s:%d: %q has no closing }} on its line", file, line, "{{"+firstLine(rest, 20))
		}
		raw := rest[:end]
		rest = rest[end+2:]
		tag := "{{" + raw + "}}"

		body := strings.TrimSpace(raw)
		sigil := byte(0)
		if body != "" && strings.IndexByte("#^/", body[0]) >= 0 {
			sigil, body = body[0], strings.TrimSpace(body[1:])
		}
		if !isName(body) {
			return nil, fmt.Errorf("%s:%d: %s is not a tag: pages use {{name}}, {{#name}}…{{/name}} and {{^name}}…{{/name}}, not Go templates (docs/portal.md)", file, line, tag)
		}
		f, ok := byName[body]
		if !ok {
			return nil, fmt.Errorf("%s:%d: unknown name %s; this page knows: %s", file, line, tag, known())
		}
		used[body] = true
		switch sigil {
		case 0:
			if f.kind == kindFlag {
				return nil, fmt.Errorf("%s:%d: %s is a yes/no flag, not text: use it as {{#%s}}…{{/%[4]s}} or {{^%[4]s}}…{{/%[4]s}}", file, line, tag, body)
			}
			add(gnode[P]{field: f})
		case '#', '^':
			if len(stack) > maxSectionDepth {
				return nil, fmt.Errorf("%s:%d: sections nested more than %d deep", file, line, maxSectionDepth)
			}
			stack = append(stack, &open{tag: tag, name: body, line: line, node: gnode[P]{field: f, section: true, inverted: sigil == '^'}})
		case '/':
			top := stack[len(stack)-1]
			if len(stack) == 1 {
				return nil, fmt.Errorf("%s:%d: %s closes no section", file, line, tag)
			}
			if top.node.field != f {
				return nil, fmt.Errorf("%s:%d: %s, but the open section is %s of line %d", file, line, tag, top.tag, top.line)
			}
			stack = stack[:len(stack)-1]
			n := top.node
			n.body = top.nodes
			add(n)
		}
	}
	if len(stack) > 1 {
		top := stack[len(stack)-1]
		return nil, fmt.Errorf("%s:%d: %s is never closed with {{/%s}}", file, top.line, top.tag, top.name)
	}
	t := &gtemplate[P]{nodes: stack[0].nodes}
	for name := range used {
		t.names = append(t.names, name)
	}
	slices.Sort(t.names)
	return t, nil
}

// isName reports whether s is made of the characters names are made of.
// Names themselves are lower case; an upper-case one is then unknown.
func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// firstLine is s up to its first line break, cut to at most n bytes.
func firstLine(s string, n int) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	return s
}
