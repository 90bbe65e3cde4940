package uci

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSet(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		in                      string
		typ, sec, option, value string
		want                    string
	}{
		{name: "single quotes replaced in place",
			in:  "# top\nconfig admin 'admin'\n\toption enabled '0' # off\n\toption listen '10.0.0.1:8080'\n",
			typ: "admin", sec: "admin", option: "enabled", value: "1",
			want: "# top\nconfig admin 'admin'\n\toption enabled '1' # off\n\toption listen '10.0.0.1:8080'\n"},
		{name: "double quotes stay double",
			in:  "config lobby 'main'\n\toption venue_name \"Caf\\\"e\"\n",
			typ: "lobby", sec: "main", option: "venue_name", value: `Bob's "Bar" \o/`,
			want: "config lobby 'main'\n\toption venue_name \"Bob's \\\"Bar\\\" \\\\o/\"\n"},
		{name: "bare stays bare",
			in:  "config zone\n\toption name\t\tlan\n\toption input\t\tACCEPT\n",
			typ: "zone", sec: "x", option: "input", value: "REJECT",
			want: "config zone\n\toption name\t\tlan\n\toption input\t\tREJECT\n"},
		{name: "bare that cannot stay bare",
			in:  "config lobby main\n\toption venue_name Cafe\n",
			typ: "lobby", sec: "main", option: "venue_name", value: "Café Central",
			want: "config lobby main\n\toption venue_name 'Café Central'\n"},
		{name: "quote inside single quotes",
			in:  "config lobby 'main'\n\toption venue_name 'x'\n",
			typ: "lobby", sec: "main", option: "venue_name", value: "it's",
			want: "config lobby 'main'\n\toption venue_name 'it'\\''s'\n"},
		{name: "multi-line value",
			in:  "config lobby 'main'\n\toption terms 'a\n\nb'\n\toption port 2050\n",
			typ: "lobby", sec: "main", option: "terms", value: "c\n\nd\ne",
			want: "config lobby 'main'\n\toption terms 'c\n\nd\ne'\n\toption port 2050\n"},
		{name: "the last of repeated options",
			in:  "config a 'b'\n\toption x '1'\n\toption x '2'\n",
			typ: "a", sec: "b", option: "x", value: "3",
			want: "config a 'b'\n\toption x '1'\n\toption x '3'\n"},
		{name: "same value changes nothing",
			in:  "config a 'b'\n\toption x \"1\"\n",
			typ: "a", sec: "b", option: "x", value: "1",
			want: "config a 'b'\n\toption x \"1\"\n"},
		{name: "new option after the last, indented alike, before the next comment",
			in:  "config lobby 'main'\n    option interface 'br-lan'\n# the DHCP server\nconfig dhcp 'dhcp'\n",
			typ: "lobby", sec: "main", option: "port", value: "2050",
			want: "config lobby 'main'\n    option interface 'br-lan'\n    option port '2050'\n# the DHCP server\nconfig dhcp 'dhcp'\n"},
		{name: "new option in an empty section",
			in:  "config admin 'admin'\n\nconfig dns 'dns'\n",
			typ: "admin", sec: "admin", option: "password_hash", value: "$pbkdf2-sha256$i=1$a$b",
			want: "config admin 'admin'\n\toption password_hash '$pbkdf2-sha256$i=1$a$b'\n\nconfig dns 'dns'\n"},
		{name: "section found by type whatever its name",
			in:  "config admin\n\toption enabled 1\n",
			typ: "admin", sec: "admin", option: "listen", value: "192.168.1.1:8080",
			want: "config admin\n\toption enabled 1\n\toption listen '192.168.1.1:8080'\n"},
		{name: "missing section appended",
			in:  "config lobby 'main'\n\toption interface 'br-lan'\n",
			typ: "admin", sec: "admin", option: "password_hash", value: "h",
			want: "config lobby 'main'\n\toption interface 'br-lan'\n\nconfig admin 'admin'\n\toption password_hash 'h'\n"},
		{name: "missing section, no line end at the end",
			in:  "config lobby 'main'\n\toption interface 'br-lan'",
			typ: "admin", sec: "admin", option: "x", value: "h",
			want: "config lobby 'main'\n\toption interface 'br-lan'\n\nconfig admin 'admin'\n\toption x 'h'\n"},
		{name: "empty file",
			in:  "",
			typ: "admin", sec: "admin", option: "x", value: "h",
			want: "config admin 'admin'\n\toption x 'h'\n"},
		{name: "new option, last line without line end",
			in:  "config a 'b'\n\toption x '1'",
			typ: "a", sec: "b", option: "y", value: "2",
			want: "config a 'b'\n\toption x '1'\n\toption y '2'\n"},
		{name: "CRLF kept",
			in:  "config a 'b'\r\n\toption x '1'\r\n\r\nconfig c 'd'\r\n",
			typ: "a", sec: "b", option: "y", value: "2",
			want: "config a 'b'\r\n\toption x '1'\r\n\toption y '2'\r\n\r\nconfig c 'd'\r\n"},
		{name: "a list is replaced by an option after it",
			in:  "config lobby 'main'\n\tlist auth 'click'\n\tlist auth 'voucher'\n",
			typ: "lobby", sec: "main", option: "auth", value: "click",
			want: "config lobby 'main'\n\tlist auth 'click'\n\tlist auth 'voucher'\n\toption auth 'click'\n"},
		{name: "a reopened section grows where it was last written",
			in:  "config a 'b'\n\toption x '1'\nconfig c 'd'\nconfig a 'b'\n\toption z '3'\n",
			typ: "a", sec: "b", option: "y", value: "2",
			want: "config a 'b'\n\toption x '1'\nconfig c 'd'\nconfig a 'b'\n\toption z '3'\n\toption y '2'\n"},
		{name: "last statement shares its line: reopen at the end",
			in:  "config a 'b'\n\toption x '1'; config c 'd'\n",
			typ: "a", sec: "b", option: "y", value: "2",
			want: "config a 'b'\n\toption x '1'; config c 'd'\n\nconfig a 'b'\n\toption y '2'\n"},
		{name: "glued semicolon at the end of the line goes with a quoted value",
			in:  "config dhcp 'dhcp'\n\toption start 100;\n",
			typ: "dhcp", sec: "dhcp", option: "start", value: "a b",
			want: "config dhcp 'dhcp'\n\toption start 'a b'\n"},
		{name: "semicolon between statements stays",
			in:  "config dhcp 'dhcp'\n\toption start '100'; option limit 150\n",
			typ: "dhcp", sec: "dhcp", option: "start", value: "a b",
			want: "config dhcp 'dhcp'\n\toption start 'a b'; option limit 150\n"},
		{name: "glued comment",
			in:  "config a 'b'\n\toption url http://x/#y\n",
			typ: "a", sec: "b", option: "url", value: "http://z/",
			want: "config a 'b'\n\toption url http://z/#y\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Set("f", []byte(tc.in), tc.typ, tc.sec, tc.option, tc.value)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("got\n%q\nwant\n%q", got, tc.want)
			}
			checkSet(t, []byte(tc.in), got, tc.typ, tc.sec, tc.option, tc.value)
		})
	}
}

func TestSetRefuses(t *testing.T) {
	for _, tc := range []struct{ in, typ, sec, option, value string }{
		{"config lobby 'admin'\n", "admin", "admin", "x", "1"}, // the name is another type's
		{"config a 'b'\n", "a", "b", "x", ""},
		{"config a 'b'\n", "a", "b", "x-y", "1"},
		{"config a 'b'\n", "a", "b-c", "x", "1"},
		{"config a 'b'\n", "a", "b", "x", "a\x00b"},
		{"option x y\n", "a", "b", "x", "1"}, // does not parse
	} {
		if out, err := Set("f", []byte(tc.in), tc.typ, tc.sec, tc.option, tc.value); err == nil {
			t.Errorf("Set(%q, %s.%s.%s=%q) = %q, want an error", tc.in, tc.typ, tc.sec, tc.option, tc.value, out)
		}
	}
}

// TestSetOpenWrtFiles sets every plain option of files as OpenWrt ships
// them, and adds one to every named section: each time the file must
// change in that one line (or gain that one line) and nowhere else.
func TestSetOpenWrtFiles(t *testing.T) {
	paths, _ := filepath.Glob("testdata/openwrt/*")
	if len(paths) == 0 {
		t.Fatal("no fixtures")
	}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse(path, bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(data), "\n")
		first := map[string]bool{}
		for _, s := range f.Sections {
			if s.Name == "" && first[s.Type] {
				continue // Set reaches only the first anonymous section of a type
			}
			first[s.Type] = true
			for _, o := range s.Options {
				if o.List {
					continue
				}
				// Unchanged: the very same bytes.
				same, err := Set(path, data, s.Type, sectionKey(s), o.Name, o.Values[0].Text)
				if err != nil || !bytes.Equal(same, data) {
					t.Fatalf("%s: setting %s to its value changed the file (%v)", path, o.Name, err)
				}
				// As many lines as the old value, so that the lines
				// after it stay where they were.
				breaks := strings.Count(o.Values[0].Text, "\n")
				value := strings.Repeat("x\n", breaks) + "new value"
				out, err := Set(path, data, s.Type, sectionKey(s), o.Name, value)
				if err != nil {
					t.Fatal(err)
				}
				checkSet(t, data, out, s.Type, sectionKey(s), o.Name, value)
				got := strings.SplitAfter(string(out), "\n")
				if len(got) != len(lines) {
					t.Fatalf("%s: setting %s changed the number of lines", path, o.Name)
				}
				for i := range lines {
					if l := o.Values[0].Pos.Line; got[i] != lines[i] && (i+1 < l || i+1 > l+breaks) {
						t.Fatalf("%s: setting %s (line %d) changed line %d: %q", path, o.Name, o.Pos.Line, i+1, got[i])
					}
				}
			}
			if s.Name == "" {
				continue
			}
			out, err := Set(path, data, s.Type, s.Name, "lobby_test", "1")
			if err != nil {
				t.Fatal(err)
			}
			checkSet(t, data, out, s.Type, s.Name, "lobby_test", "1")
			got := strings.SplitAfter(string(out), "\n")
			var added []string
			for i, j := 0, 0; i < len(got); i++ {
				if j < len(lines) && got[i] == lines[j] {
					j++
					continue
				}
				added = append(added, got[i])
			}
			if len(added) != 1 || strings.TrimSpace(added[0]) != "option lobby_test '1'" || len(got) != len(lines)+1 {
				t.Fatalf("%s: adding an option to %s added %q", path, s.Name, added)
			}
		}
	}
}

// sectionKey names s for Set: its name, or for an anonymous one a name no
// section has, so that Set finds the first of its type.
func sectionKey(s *Section) string {
	if s.Name != "" {
		return s.Name
	}
	return "no_such_section"
}

// checkSet checks what Set promises: out parses, the section has the
// option with the value, and nothing else in the file changed.
func checkSet(t *testing.T, in, out []byte, typ, sec, option, value string) {
	t.Helper()
	checkEdit(t, in, out, typ, sec, option, func(o *Option) bool { return o != nil && !o.List && o.String() == value })
}

// checkEdit checks what Set and SetList promise: out parses, ok holds for
// the option of the section, and nothing else in the file changed.
func checkEdit(t *testing.T, in, out []byte, typ, sec, option string, ok func(*Option) bool) {
	t.Helper()
	before, err := Parse("in", bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	after, err := Parse("in", bytes.NewReader(out))
	if err != nil {
		t.Fatalf("Set's output does not parse: %v\n%q", err, out)
	}
	target := func(f *File) *Section {
		for _, s := range f.Sections {
			if s.Name == sec {
				return s
			}
		}
		for _, s := range f.Sections {
			if s.Type == typ {
				return s
			}
		}
		return nil
	}
	ts := target(after)
	if ts == nil && target(before) == nil && bytes.Equal(in, out) {
		return // nothing to remove from a section that is not there
	}
	if o := ts.Option(option); !ok(o) {
		t.Fatalf("after the edit, %s.%s is %v\n%q", sec, option, o.Strings(), out)
	}
	// Everything else is as it was: remove the option from both and
	// compare.
	if tb := target(before); tb == nil {
		before.Sections = append(before.Sections, &Section{Type: ts.Type, Name: ts.Name})
	}
	strip := func(f *File) {
		s := target(f)
		if s == nil {
			return
		}
		for i, o := range s.Options {
			if o.Name == option {
				s.Options = append(s.Options[:i:i], s.Options[i+1:]...)
				break
			}
		}
	}
	strip(before)
	strip(after)
	if !sameContent(before, after) {
		t.Fatalf("Set changed more than %s.%s:\n%s\n%s", sec, option, dump(before), dump(after))
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lobby")
	if err := os.WriteFile(path, []byte("config a 'b'\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if err := SetFile(link, "a", "b", "x", "1"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "config a 'b'\n\toption x '1'\n" {
		t.Errorf("file: %q", got)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	if li, _ := os.Lstat(link); li.Mode()&os.ModeSymlink == 0 {
		t.Error("the link was replaced by a file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("temporary files left: %v", entries)
	}
	if err := SetFile(filepath.Join(dir, "missing"), "a", "b", "x", "1"); err == nil {
		t.Error("SetFile of a missing file succeeded")
	}
	// A read-only directory: the old file stays whole.
	if os.Geteuid() != 0 {
		os.Chmod(dir, 0o500)
		defer os.Chmod(dir, 0o700)
		if err := SetFile(path, "a", "b", "x", "2"); err == nil {
			t.Error("SetFile in a read-only directory succeeded")
		}
		if got2, _ := os.ReadFile(path); !bytes.Equal(got, got2) {
			t.Error("a failed write changed the file")
		}
	}
}

// FuzzSet checks Set on any file Parse accepts: the output parses, holds
// the value, and differs from the input in nothing else; setting a value
// the option already has gives back the same bytes.
func FuzzSet(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in, "b", "x", "v")
	}
	paths, _ := filepath.Glob("testdata/openwrt/*")
	for _, p := range paths {
		data, _ := os.ReadFile(p)
		f.Add(string(data), "lan", "proto", "static")
		f.Add(string(data), "main", "terms", "a\n'b'\"c\\")
	}
	f.Fuzz(func(t *testing.T, in, sec, option, value string) {
		file, err := Parse("fuzz", strings.NewReader(in))
		if err != nil || !validName(sec) || !validName(option) || value == "" || strings.IndexByte(value, 0) >= 0 {
			return
		}
		typ := "t"
		if len(file.Sections) > 0 {
			typ = file.Sections[0].Type
		}
		for _, s := range file.Sections {
			if s.Name == sec {
				typ = s.Type
			}
		}
		out, err := Set("fuzz", []byte(in), typ, sec, option, value)
		if errors.Is(err, ErrLayout) && !strings.HasSuffix(in, "\n") {
			return
		}
		if err != nil {
			t.Fatalf("Set(%q, %s, %s, %q): %v", in, sec, option, value, err)
		}
		checkSet(t, []byte(in), out, typ, sec, option, value)
		again, err := Set("fuzz", out, typ, sec, option, value)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("setting the same value again changed %q to %q (%v)", out, again, err)
		}
	})
}

// FuzzSetList: SetList writes the list asked for (or removes the option)
// and changes nothing else, or refuses with ErrLayout.
func FuzzSetList(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in, "b", "x", "v", true)
	}
	paths, _ := filepath.Glob("testdata/openwrt/*")
	for _, p := range paths {
		data, _ := os.ReadFile(p)
		f.Add(string(data), "lan", "ipaddr", "10.0.0.1", true)
		f.Add(string(data), "lan", "proto", "", false)
	}
	f.Fuzz(func(t *testing.T, in, sec, option, value string, some bool) {
		file, err := Parse("fuzz", strings.NewReader(in))
		if err != nil || !validName(sec) || !validName(option) || strings.IndexByte(value, 0) >= 0 {
			return
		}
		typ := "t"
		if len(file.Sections) > 0 {
			typ = file.Sections[0].Type
		}
		for _, s := range file.Sections {
			if s.Name == sec {
				typ = s.Type
			}
		}
		var values []string
		if some {
			values = []string{value, "x"}
		}
		out, err := SetList("fuzz", []byte(in), typ, sec, option, values)
		if errors.Is(err, ErrLayout) {
			return
		}
		if err != nil {
			t.Fatalf("SetList(%q, %s, %s, %q): %v", in, sec, option, values, err)
		}
		checkEdit(t, []byte(in), out, typ, sec, option, func(o *Option) bool {
			if !some {
				return o == nil
			}
			return o != nil && o.List && len(o.Values) == 2 && o.Values[0].Text == value && o.Values[1].Text == "x"
		})
	})
}

// TestSetList: a list is written where it was, every other byte kept
// (comments too); an option becomes a list; no values removes it; what
// cannot be removed cleanly is refused.
func TestSetList(t *testing.T) {
	const main = "# Lobby\nconfig lobby 'main'\n\toption interface 'br-lan' # the LAN\n"
	for _, tc := range []struct {
		name, in string
		values   []string
		want     string // "": ErrLayout
	}{
		{"list replaced in place", main + "\tlist auth 'click'\n\t# then codes\n\tlist auth voucher\n\toption port '2050'\n",
			[]string{"voucher", "radius", "click"},
			main + "\tlist auth 'voucher'\n\tlist auth 'radius'\n\tlist auth 'click'\n\t# then codes\n\toption port '2050'\n"},
		{"option becomes a list", main + "  option auth 'click voucher'\n", []string{"click"}, main + "  list auth 'click'\n"},
		{"new list after the last option", main + "\nconfig dns 'dns'\n", []string{"click", "voucher"},
			main + "\tlist auth 'click'\n\tlist auth 'voucher'\n\nconfig dns 'dns'\n"},
		{"new section", "config dns 'dns'\n", []string{"click"}, "config dns 'dns'\n\nconfig lobby 'main'\n\tlist auth 'click'\n"},
		{"removed, option and list", main + "\toption auth click\n\tlist auth radius;\n# end\n", nil, main + "# end\n"},
		{"absent and none: nothing", main, nil, main},
		{"CRLF kept", "config lobby 'main'\r\n\tlist auth 'click'\r\n", []string{"radius"}, "config lobby 'main'\r\n\tlist auth 'radius'\r\n"},
		{"in a reopened section", main + "config dns 'dns'\nconfig lobby 'main'\n\tlist auth 'click'\n", []string{"voucher"},
			main + "config dns 'dns'\nconfig lobby 'main'\n\tlist auth 'voucher'\n"},
		{"a comment on the line kept", main + "\tlist auth 'click' # first\n  list auth 'voucher'\t# then\n", []string{"voucher"},
			main + "\tlist auth 'voucher'\n\t# first\n  # then\n"},
		{"another statement on the line refused", main + "\tlist auth 'click'; option port 2050\n", []string{"voucher"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := SetList("lobby", []byte(tc.in), "lobby", "main", "auth", tc.values)
			if tc.want == "" {
				if !errors.Is(err, ErrLayout) {
					t.Errorf("err %v, want ErrLayout; out %q", err, out)
				}
				return
			}
			if err != nil || string(out) != tc.want {
				t.Errorf("got %q, %v\nwant %q", out, err, tc.want)
			}
		})
	}
}
