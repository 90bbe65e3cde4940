package uci

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// WriteTo (a test helper: the fuzz target checks that what Parse reads
// survives a round trip) writes f in the layout "uci commit" gives /etc/config files, so
// that Lobby can rewrite a configuration that libuci, and people, read back
// unchanged:
//
//	config interface 'lan'
//		option proto 'static'
//		list dns '192.0.2.1'
//
// Values and section names are always single-quoted, which keeps '#', ';',
// backslashes and line breaks literal; a quote inside is written as close
// quote, backslash-escaped quote, reopen quote:
//
//	option motd 'it'\''s'
//
// No "package" line is written because libuci names a package after its
// file.
//
// WriteTo refuses (writing nothing) a File that Parse could not have
// produced, because its output would read back differently: invalid names
// or types, two sections with one name, two options with one name in a
// section, a plain option without exactly one non-empty value, an empty
// list, or a NUL byte. For any File that Parse returned, Parse of the output
// gives the same File apart from positions.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	named := make(map[string]bool)
	for i, s := range f.Sections {
		if !validType(s.Type) {
			return 0, fmt.Errorf("uci: section %d: invalid type %q", i, s.Type)
		}
		if s.Name != "" {
			if !validName(s.Name) {
				return 0, fmt.Errorf("uci: section %d: invalid name %q", i, s.Name)
			}
			if named[s.Name] {
				return 0, fmt.Errorf("uci: two sections named %q", s.Name)
			}
			named[s.Name] = true
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("config ")
		writeType(&b, s.Type)
		if s.Name != "" {
			b.WriteByte(' ')
			writeQuoted(&b, s.Name)
		}
		b.WriteByte('\n')
		seen := make(map[string]bool)
		for _, o := range s.Options {
			if err := checkOption(s, o, seen); err != nil {
				return 0, err
			}
			kw := "\toption "
			if o.List {
				kw = "\tlist "
			}
			for _, v := range o.Values {
				b.WriteString(kw)
				b.WriteString(o.Name)
				b.WriteByte(' ')
				writeQuoted(&b, v.Text)
				b.WriteByte('\n')
			}
		}
	}
	return b.WriteTo(w)
}

func checkOption(s *Section, o *Option, seen map[string]bool) error {
	where := fmt.Sprintf("section %s %q: option %q", s.Type, s.Name, o.Name)
	switch {
	case !validName(o.Name):
		return fmt.Errorf("uci: %s: invalid name", where)
	case seen[o.Name]:
		return fmt.Errorf("uci: %s: appears twice", where)
	case o.List && len(o.Values) == 0:
		return fmt.Errorf("uci: %s: empty list", where)
	case !o.List && len(o.Values) != 1:
		return fmt.Errorf("uci: %s: plain option with %d values", where, len(o.Values))
	case !o.List && o.Values[0].Text == "":
		// libuci ignores "option NAME ''", so it would not read back.
		return fmt.Errorf("uci: %s: empty value", where)
	}
	for _, v := range o.Values {
		if strings.IndexByte(v.Text, 0) >= 0 {
			return fmt.Errorf("uci: %s: NUL byte in value", where)
		}
	}
	seen[o.Name] = true
	return nil
}

// writeQuoted single-quotes s. A quote cannot appear inside single quotes,
// so it closes the quote, adds an escaped quote and reopens (see WriteTo).
func writeQuoted(b *bytes.Buffer, s string) {
	b.WriteByte('\'')
	b.WriteString(strings.ReplaceAll(s, "'", `'\''`))
	b.WriteByte('\'')
}
