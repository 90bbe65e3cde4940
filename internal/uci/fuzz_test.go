package uci

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that every position it reports
// (in a result or an error) is a real line of the input, that results obey
// the documented shape, and that WriteTo's output parses back to the same
// content and is itself stable.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.in)
	}
	for _, tc := range errorCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		lines := strings.Count(in, "\n") + 1
		checkPos := func(what string, p Pos) {
			if p.File != "fuzz" || p.Line < 1 || p.Line > lines {
				t.Fatalf("%s at %v, input has %d lines: %q", what, p, lines, in)
			}
		}
		file, err := Parse("fuzz", strings.NewReader(in))
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("non-syntax error %T %v", err, err)
			}
			checkPos("error", se.Pos)
			return
		}
		checkShape(t, file, checkPos)

		var out bytes.Buffer
		if _, err := file.WriteTo(&out); err != nil {
			t.Fatalf("WriteTo of parsed %q: %v", in, err)
		}
		again, err := Parse("fuzz", bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatalf("re-parse of %q failed: %v\ninput was %q", out.String(), err, in)
		}
		if !sameContent(file, again) {
			t.Fatalf("round trip changed %q:\n%s\n%s", in, dump(file), dump(again))
		}
		var out2 bytes.Buffer
		if _, err := again.WriteTo(&out2); err != nil || out2.String() != out.String() {
			t.Fatalf("WriteTo not stable: %q vs %q (%v)", out.String(), out2.String(), err)
		}
	})
}

// checkShape asserts the invariants the API documents for a parsed File.
func checkShape(t *testing.T, f *File, checkPos func(string, Pos)) {
	t.Helper()
	named := map[string]bool{}
	for _, s := range f.Sections {
		checkPos("section", s.Pos)
		if !validType(s.Type) || (s.Name != "" && !validName(s.Name)) || named[s.Name] {
			t.Fatalf("bad section %q %q", s.Type, s.Name)
		}
		if s.Name != "" {
			named[s.Name] = true
		}
		opts := map[string]bool{}
		for _, o := range s.Options {
			checkPos("option", o.Pos)
			if !validName(o.Name) || opts[o.Name] {
				t.Fatalf("bad option %q", o.Name)
			}
			opts[o.Name] = true
			if len(o.Values) == 0 || (!o.List && (len(o.Values) != 1 || o.Values[0].Text == "")) {
				t.Fatalf("option %q list=%v has values %q", o.Name, o.List, o.Strings())
			}
			if o.Values[0].Pos.Line < o.Pos.Line {
				t.Fatalf("option %q: first value before its statement", o.Name)
			}
			for _, v := range o.Values {
				checkPos("value", v.Pos)
			}
		}
	}
}
