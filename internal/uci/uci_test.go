package uci

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dump renders a File with every position, so that table tests can state
// the whole expected result, positions included, in a readable form.
func dump(f *File) string {
	var b strings.Builder
	fmt.Fprintf(&b, "package %s\n", f.Name)
	for _, s := range f.Sections {
		fmt.Fprintf(&b, "config %s %q @%d\n", s.Type, s.Name, s.Pos.Line)
		for _, o := range s.Options {
			kw := "option"
			if o.List {
				kw = "list"
			}
			var vs []string
			for _, v := range o.Values {
				vs = append(vs, fmt.Sprintf("%q@%d", v.Text, v.Pos.Line))
			}
			fmt.Fprintf(&b, "  %s %s @%d = %s\n", kw, o.Name, o.Pos.Line, strings.Join(vs, " "))
		}
	}
	return b.String()
}

// parseCases are valid inputs with their full expected result. They also
// seed FuzzParse.
var parseCases = []struct {
	name, in, want string
}{
	{"empty", "", "package in\n"},
	{"only comments and blanks", "# hi\n\n   \t# x\n\v\f\n", "package in\n"},
	{"basic", `
config portal 'main'
	option port '8080'
	list dns '192.0.2.1'
	list dns "192.0.2.2"
`, `package in
config portal "main" @2
  option port @3 = "8080"@3
  list dns @4 = "192.0.2.1"@4 "192.0.2.2"@5
`},
	{"aliases", "p lobby\nc portal main\no port 1\nl dns a\nl dns b\n", `package lobby
config portal "main" @2
  option port @3 = "1"@3
  list dns @4 = "a"@4 "b"@5
`},
	{"package statement", "# c\npackage lobby\nconfig t\n", "package lobby\nconfig t \"\" @3\n"},
	{"package name with dash", "package my-pkg\n", "package my-pkg\n"},
	{"anonymous sections", "config rule\n\toption a 1\nconfig rule ''\n\toption a 2\nconfig rule \"\"\n", `package in
config rule "" @1
  option a @2 = "1"@2
config rule "" @3
  option a @4 = "2"@4
config rule "" @5
`},
	{"type punctuation", "config my.type-x+1 n\n", "package in\nconfig my.type-x+1 \"n\" @1\n"},
	{"quoted type and names", "config 't' 'n'\n\toption 'x' 'v'\n", "package in\nconfig t \"n\" @1\n  option x @2 = \"v\"@2\n"},
	{"trailing comments", "config t n # c\n\toption x 'v' # c\n\toption y \"w\"#c\n", `package in
config t "n" @1
  option x @2 = "v"@2
  option y @3 = "w"@3
`},
	// libuci starts a comment at '#' even inside a bare word.
	{"hash in bare word", "config t\n\toption url http://x/#frag\n", "package in\nconfig t \"\" @1\n  option url @2 = \"http://x/\"@2\n"},
	{"hash quoted or escaped", "config t\n\toption a '#1'\n\toption b \"#2\"\n\toption c \\#3\n", `package in
config t "" @1
  option a @2 = "#1"@2
  option b @3 = "#2"@3
  option c @4 = "#3"@4
`},
	{"multi-line single quote", "config t\n\toption motd 'line1\n  line2\n'\n\toption after x\n", `package in
config t "" @1
  option motd @2 = "line1\n  line2\n"@2
  option after @5 = "x"@5
`},
	{"multi-line double quote", "config t\n\toption a \"x\n\ny\"\n\tlist b z\n", `package in
config t "" @1
  option a @2 = "x\n\ny"@2
  list b @5 = "z"@5
`},
	{"value starts on later line of statement", "config t\n\toption a \\\n'v'\n", "package in\nconfig t \"\" @1\n  option a @2 = \"v\"@2\n"},
	{"single quotes are literal", `config t
	option a 'back\slash \n \'
`, "package in\nconfig t \"\" @1\n  option a @2 = \"back\\\\slash \\\\n \\\\\"@2\n"},
	// In double quotes a backslash takes the next character literally:
	// libuci does not decode \n into a line break.
	{"double quote escapes", `config t
	option a "q\"b\\s\n\t\$"
`, "package in\nconfig t \"\" @1\n  option a @2 = \"q\\\"b\\\\snt$\"@2\n"},
	{"double quote backslash newline", "config t\n\toption a \"ab\\\ncd\"\n\toption b x\n", `package in
config t "" @1
  option a @2 = "abcd"@2
  option b @4 = "x"@4
`},
	{"bare escapes", "config t\n\toption a x\\ y\\;z\\'\\\"\\\\\n", "package in\nconfig t \"\" @1\n  option a @2 = \"x y;z'\\\"\\\\\"@2\n"},
	{"bare backslash newline", "config t\n\toption a ab\\\ncd\n\toption b x\n", `package in
config t "" @1
  option a @2 = "abcd"@2
  option b @4 = "x"@4
`},
	{"concatenation", "config t\n\toption a 'a'\"b\"c\n\toption b x'y z'\"w\"\\ v\n", `package in
config t "" @1
  option a @2 = "abc"@2
  option b @3 = "xy zw v"@3
`},
	{"semicolon after quoted word", "config t 'n'; option a '1'; option b \"2\"; list c 3\n", `package in
config t "n" @1
  option a @1 = "1"@1
  option b @1 = "2"@1
  list c @1 = "3"@1
`},
	{"semicolon after blank", "config t n ; option a 1 ; option b 2\n", `package in
config t "n" @1
  option a @1 = "1"@1
  option b @1 = "2"@1
`},
	{"semicolon glued at end of line", "config t\n\toption a 1;\n\toption b 2; # c\n", `package in
config t "" @1
  option a @2 = "1"@2
  option b @3 = "2"@3
`},
	{"semicolon quoted or escaped", "config t\n\toption a ';'\n\toption b x\\;y\n", `package in
config t "" @1
  option a @2 = ";"@2
  option b @3 = "x;y"@3
`},
	{"repeated option replaces in place", "config t\n\toption a 1\n\toption b 2\n\toption a 333\n", `package in
config t "" @1
  option a @4 = "333"@4
  option b @3 = "2"@3
`},
	{"list after option", "config t\n\toption a 1\n\tlist a 2\n\tlist a 3\n", `package in
config t "" @1
  list a @2 = "1"@2 "2"@3 "3"@4
`},
	{"option after list", "config t\n\tlist a 1\n\tlist a 2\n\toption a 3\n", `package in
config t "" @1
  option a @4 = "3"@4
`},
	// libuci ignores an option with an empty value: no create, no clear.
	{"empty option ignored", "config t\n\toption a ''\n\toption b 1\n\toption b \"\"\n\tlist c x\n\toption c ''\n", `package in
config t "" @1
  option b @3 = "1"@3
  list c @5 = "x"@5
`},
	{"empty list item", "config t\n\tlist a ''\n\tlist a x\n", `package in
config t "" @1
  list a @2 = ""@2 "x"@3
`},
	{"reopened section merges", "config t n\n\toption a 1\nconfig u m\nconfig t n\n\toption b 2\n\toption a 3\n", `package in
config t "n" @1
  option a @6 = "3"@6
  option b @5 = "2"@5
config u "m" @3
`},
	{"crlf", "config t n\r\n\toption a 'v'\r\n\toption b w\r\n\r\n# c\r\n\tlist c x\r\n", `package in
config t "n" @1
  option a @2 = "v"@2
  option b @3 = "w"@3
  list c @6 = "x"@6
`},
	// Like libuci, quoted text keeps the CR of a CRLF line break.
	{"crlf in quotes", "config t\r\n\toption a 'x\r\ny'\r\n", "package in\nconfig t \"\" @1\n  option a @2 = \"x\\r\\ny\"@2\n"},
	{"no final newline", "config t\n\toption a 'v'", "package in\nconfig t \"\" @1\n  option a @2 = \"v\"@2\n"},
	{"no final newline bare", "config t\n\toption a v", "package in\nconfig t \"\" @1\n  option a @2 = \"v\"@2\n"},
	{"blanks everywhere", "  \t config\tt \t n \t\n\v\toption\t\ta\t \tv\t\n", `package in
config t "n" @1
  option a @2 = "v"@2
`},
	{"utf8 value", "config t\n\toption ssid 'Café ☕'\n", "package in\nconfig t \"\" @1\n  option ssid @2 = \"Café ☕\"@2\n"},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("in", strings.NewReader(tc.in))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if got := dump(f); got != tc.want {
				t.Errorf("Parse(%q) =\n%s\nwant\n%s", tc.in, got, tc.want)
			}
			for _, s := range f.Sections {
				if s.Pos.File != "in" {
					t.Errorf("section Pos.File = %q", s.Pos.File)
				}
			}
		})
	}
}

const semiHint = " (libuci reads a ';' after a blank or a quoted word as an empty argument, not as the end of the statement)"

// errorCases are invalid inputs with the exact error text. They also seed
// FuzzParse.
var errorCases = []struct {
	name, in, want string
}{
	{"unterminated single quote", "config t\n\toption a 'abc\n\n", "in:2: unterminated quote"},
	{"unterminated double quote", "config t\n\n\toption a \"x\\\"\n", "in:3: unterminated quote"},
	{"unterminated quote in type", "config 't", "in:1: unterminated quote"},
	{"unterminated after backslash", "config t\n\toption a \"x\\", "in:2: unterminated quote"},
	{"option outside section", "# c\noption a b\n", "in:2: option outside of a section"},
	{"list outside section", "l a b\nconfig t\n", "in:1: list outside of a section"},
	{"invalid command", "config t\n\tfoo a b\n", `in:2: invalid command "foo"`},
	{"invalid command glued semicolon", "config;\n", `in:1: invalid command "config;"`},
	{"invalid command prefix", "configure t\n", `in:1: invalid command "configure"`},
	{"invalid command leading semicolon", "; config t\n", `in:1: invalid command ";"`},
	{"missing type", "config\t\n", "in:1: missing section type"},
	{"missing type at eof", "\n\nconfig", "in:3: missing section type"},
	{"empty type", "config '' n\n", "in:1: missing section type"},
	{"invalid type", "config 'a b' n\n", `in:1: invalid character in section type "a b"`},
	{"invalid type non-ascii", "config café\n", `in:1: invalid character in section type "café"`},
	{"invalid section name", "config t n-1\n", `in:1: invalid character in section name "n-1"`},
	{"invalid name at token start", "config t \\\n'a.b'\n", `in:1: invalid character in section name "a.b"`},
	{"invalid option name", "config t\n\toption x-y 1\n", `in:2: invalid character in option name "x-y"`},
	{"invalid list name", "config t\n\tlist 'x y' 1\n", `in:2: invalid character in list name "x y"`},
	{"missing option name", "config t\n\toption\t\n", "in:2: missing option name"},
	{"empty option name", "config t\n\toption '' v\n", "in:2: missing option name"},
	{"missing value", "config t\n\toption a\n", `in:2: missing value for option "a"`},
	{"missing list value", "config t\n\tlist a # c\n", `in:2: missing value for list "a"`},
	{"too many option args", "config t\n\toption a b c\n", "in:2: too many arguments"},
	{"too many config args", "config t n x\n", "in:1: too many arguments"},
	{"extra empty arg", "config t\n\toption a b ''\n", "in:2: too many arguments"},
	{"too many on later line", "config t\n\toption a 'x\ny' z\n", "in:3: too many arguments"},
	{"missing package name", "package\t\n", "in:1: missing package name"},
	{"invalid package name", "package a.b\n", `in:1: invalid character in package name "a.b"`},
	{"too many package args", "package a b\n", "in:1: too many arguments"},
	{"second package", "package a\npackage b\n", "in:2: more than one package statement"},
	{"package after config", "config t\npackage a\n", "in:2: package statement after a config section"},
	{"type redeclared", "config t n\n\nconfig u n\n", `in:3: section "n" redeclared with type "u"; it has type "t" at in:1`},
	{"NUL byte", "config t\n\toption a 'x\x00y'\n", "in:2: NUL byte in input"},
	// libuci drops the rest of the line after "word;" ...
	{"glued semicolon", "config t n; option a b\n", "in:1: libuci ignores the rest of the line after a ';' that directly follows an unquoted word; start a new line instead"},
	{"glued semicolon after option", "config t\n\toption a b;option c d\n", "in:2: libuci ignores the rest of the line after a ';' that directly follows an unquoted word; start a new line instead"},
	// ... and reads ';' after a blank or quote as an empty argument.
	{"semicolon as empty section name", "config t ; option a b\n", "in:1: too many arguments" + semiHint},
	{"semicolon after quoted type", "config 't'; option a b\n", "in:1: too many arguments" + semiHint},
	{"semicolon as empty value", "config t\n\toption a ; option b c\n", "in:2: too many arguments" + semiHint},
	{"semicolon only value", "config t\n\toption a ;\n", `in:2: missing value for option "a"`},
	{"trailing semicolon after blank", "config t\n\toption a b ;\n", "in:2: ';' at the end of a line must directly follow an unquoted word (libuci rejects it here)"},
	{"trailing semicolon after quote", "config t\n\toption a 'b';\r\n", "in:2: ';' at the end of a line must directly follow an unquoted word (libuci rejects it here)"},
	{"empty statement", "config t n ; ; option a b\n", `in:1: invalid command ";"`},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("in", strings.NewReader(tc.in))
			if err == nil {
				t.Fatalf("Parse(%q) = %s, want error %q", tc.in, dump(f), tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Parse(%q) error\n got %q\nwant %q", tc.in, err.Error(), tc.want)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *SyntaxError", err)
			}
			if f != nil {
				t.Errorf("Parse returned a File with an error")
			}
		})
	}
}

func TestSizeLimit(t *testing.T) {
	in := strings.Repeat("# filler line\n", MaxFileSize/14+1)
	_, err := Parse("big", strings.NewReader(in))
	want := fmt.Sprintf("big:%d: file is larger than %d bytes", MaxFileSize/14+1, MaxFileSize)
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	if _, err := Parse("ok", strings.NewReader(in[:MaxFileSize])); err != nil {
		t.Fatalf("file of exactly MaxFileSize bytes: %v", err)
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := Parse("x", errReader{boom})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the reader's error", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestParseFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lobby")
	if err := os.WriteFile(path, []byte("config portal main\n\toption port 80\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "lobby" {
		t.Errorf("Name = %q, want base name of path", f.Name)
	}
	o := f.Lookup("portal", "main").Option("port")
	if o.String() != "80" || o.Pos.String() != path+":2" || o.Values[0].Pos.String() != path+":2" {
		t.Errorf("port = %q at %v", o.String(), o.Pos)
	}

	if _, err := ParseFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("config t\noption a\n"), 0o644)
	if _, err := ParseFile(bad); err == nil || err.Error() != bad+`:2: missing value for option "a"` {
		t.Errorf("bad file: %v", err)
	}
}

func TestAccessors(t *testing.T) {
	f, err := Parse("/etc/config/net", strings.NewReader(`
config interface lan
	option proto static
	list dns a
	list dns b
config rule
	option name r1
config rule
	option name r2
config zone lan2
`))
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "net" {
		t.Errorf("Name = %q", f.Name)
	}
	lan := f.Lookup("interface", "lan")
	if lan == nil || lan.Pos.String() != "/etc/config/net:2" {
		t.Fatalf("Lookup(interface, lan) = %+v", lan)
	}
	if f.Lookup("zone", "lan") != nil || f.Lookup("rule", "") != nil || f.Lookup("interface", "wan") != nil {
		t.Error("Lookup matched a wrong type, an anonymous section or a missing name")
	}
	if got := lan.Option("proto").String(); got != "static" {
		t.Errorf("proto = %q", got)
	}
	if got := lan.Option("dns"); got.String() != "a" || strings.Join(got.Strings(), ",") != "a,b" {
		t.Errorf("dns = %q", got.Strings())
	}
	// Chained lookups on missing things are safe and empty.
	if f.Lookup("interface", "wan").Option("proto").String() != "" || lan.Option("nope").Strings() != nil {
		t.Error("nil chain not empty")
	}
	rules := f.SectionsOfType("rule")
	if len(rules) != 2 || rules[1].Option("name").String() != "r2" {
		t.Errorf("SectionsOfType(rule) = %v", rules)
	}
	var nilFile *File
	if nilFile.Lookup("a", "b") != nil || nilFile.SectionsOfType("a") != nil {
		t.Error("nil File")
	}
	if (Pos{"a/b", 7}).String() != "a/b:7" {
		t.Error("Pos.String")
	}
	if (&SyntaxError{Pos{"f", 3}, "bad"}).Error() != "f:3: bad" {
		t.Error("SyntaxError.Error")
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		s              string
		name, pkg, typ bool
	}{
		{"lan_1", true, true, true},
		{"a-b", false, true, true},
		{"a.b", false, false, true},
		{"a b", false, false, false},
		{"", false, false, false},
		{"é", false, false, false},
		{"'#;", false, false, true},
	} {
		if validName(tc.s) != tc.name || validPackageName(tc.s) != tc.pkg || validType(tc.s) != tc.typ {
			t.Errorf("%q: name %v pkg %v type %v", tc.s, validName(tc.s), validPackageName(tc.s), validType(tc.s))
		}
	}
}

func TestWriteTo(t *testing.T) {
	f, err := Parse("x", strings.NewReader(`config interface 'lan'
	option proto static
	list dns a
	list dns "b'c"
config 'we;rd#' ''
	option motd 'it''s
two lines'
	list empty ''
`))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	n, err := f.WriteTo(&b)
	if err != nil {
		t.Fatal(err)
	}
	want := `config interface 'lan'
	option proto 'static'
	list dns 'a'
	list dns 'b'\''c'

config 'we;rd#'
	option motd 'its
two lines'
	list empty ''
`
	if b.String() != want || n != int64(len(want)) {
		t.Fatalf("WriteTo = %d\n%s\nwant\n%s", n, b.String(), want)
	}
	g, err := Parse("y", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if !sameContent(f, g) {
		t.Errorf("round trip changed the file:\n%s\n%s", dump(f), dump(g))
	}
}

func TestWriteToRefuses(t *testing.T) {
	opt := func(name string, list bool, vals ...string) *Option {
		o := &Option{Name: name, List: list}
		for _, v := range vals {
			o.Values = append(o.Values, Value{Text: v})
		}
		return o
	}
	for name, f := range map[string]*File{
		"bad type":        {Sections: []*Section{{Type: "a b"}}},
		"bad name":        {Sections: []*Section{{Type: "t", Name: "a-b"}}},
		"duplicate name":  {Sections: []*Section{{Type: "t", Name: "n"}, {Type: "t", Name: "n"}}},
		"bad option name": {Sections: []*Section{{Type: "t", Options: []*Option{opt("a.b", false, "v")}}}},
		"duplicate option": {Sections: []*Section{{Type: "t", Options: []*Option{
			opt("a", false, "v"), opt("a", true, "w")}}}},
		"empty list":         {Sections: []*Section{{Type: "t", Options: []*Option{opt("a", true)}}}},
		"option no value":    {Sections: []*Section{{Type: "t", Options: []*Option{opt("a", false)}}}},
		"option two values":  {Sections: []*Section{{Type: "t", Options: []*Option{opt("a", false, "1", "2")}}}},
		"option empty value": {Sections: []*Section{{Type: "t", Options: []*Option{opt("a", false, "")}}}},
		"NUL":                {Sections: []*Section{{Type: "t", Options: []*Option{opt("a", true, "x\x00")}}}},
	} {
		var b strings.Builder
		if n, err := f.WriteTo(&b); err == nil || n != 0 || b.Len() != 0 {
			t.Errorf("%s: WriteTo = %d, %v, wrote %q; want an error and no output", name, n, err, b.String())
		}
	}
}

// sameContent compares two Files ignoring positions and the package name,
// which WriteTo does not write.
func sameContent(a, b *File) bool {
	strip := func(f *File) string {
		var sb strings.Builder
		for _, s := range f.Sections {
			fmt.Fprintf(&sb, "config %q %q\n", s.Type, s.Name)
			for _, o := range s.Options {
				fmt.Fprintf(&sb, "%q %v %q\n", o.Name, o.List, o.Strings())
			}
		}
		return sb.String()
	}
	return strip(a) == strip(b)
}
