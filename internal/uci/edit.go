package uci

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Set returns the UCI text data with option set to value in one section,
// changing nothing else: every other byte — comments, blank lines, order,
// indentation, the quoting of other values, CRLF line ends — stays as it
// was, so that `lobby passwd` and the admin pages can write into a file an
// operator (or LuCI) also edits. name is used in error positions, as for
// Parse.
//
// The section is the one called section; without one, the first section of
// type typ (Lobby's sections are read by type, whatever their name); without
// either, "config TYP 'SECTION'" is appended at the end of the file. A
// section called section of another type is an error, as reopening it would
// be for libuci.
//
// Where the option is a plain option, the value of the "option" statement
// that sets it (the last one) is replaced in place, in the quoting that
// value had (a bare word stays bare when the new value can be one). A
// value equal to the current one changes nothing at all. Otherwise (the
// option is absent, or a list) a line "option NAME 'VALUE'" is added after
// the section's last statement, indented like its options; a later
// "option" replaces a list, as in libuci. Where that statement shares its
// line with another statement, the section is reopened at the end of the
// file instead.
//
// The value must be non-empty (libuci ignores "option NAME ”") and free
// of NUL bytes; typ, section and option must be valid UCI names.
func Set(name string, data []byte, typ, section, option, value string) ([]byte, error) {
	out, err := set(name, data, typ, section, option, value)
	if err != nil {
		return nil, err
	}
	// The layouts libuci reads differently from how they look (a ';' at
	// the very end of a file without a line end) could make the edit read
	// back wrong; a file that would not read back with the value is never
	// returned.
	f, err := Parse(name, bytes.NewReader(out))
	if err != nil || f.find(typ, section).Option(option).String() != value {
		return nil, fmt.Errorf("%s: %w", name, ErrLayout)
	}
	return out, nil
}

// ErrLayout is returned by Set for a file whose layout it cannot edit
// safely; an edit by hand (a line end at the end of the file) fixes it.
var ErrLayout = errors.New("uci: cannot add the option in this file's layout; end its last line with a line break")

// find returns the section Set works on: the one called name, else the
// first of type typ, else nil.
func (f *File) find(typ, name string) *Section {
	for _, s := range f.Sections {
		if s.Name == name {
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

// target checks the names and values of an edit and returns the section
// it is for (nil: none yet).
func target(name string, data []byte, typ, section, option string, values ...string) (*Section, error) {
	switch {
	case !validType(typ):
		return nil, fmt.Errorf("uci: set: invalid section type %q", typ)
	case !validName(section):
		return nil, fmt.Errorf("uci: set: invalid section name %q", section)
	case !validName(option):
		return nil, fmt.Errorf("uci: set: invalid option name %q", option)
	}
	for _, v := range values {
		if strings.IndexByte(v, 0) >= 0 {
			return nil, fmt.Errorf("uci: set %s.%s: NUL byte in value", section, option)
		}
	}
	f, err := Parse(name, bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	sec := f.find(typ, section)
	if sec != nil && sec.Name == section && sec.Type != typ {
		return nil, fmt.Errorf("%s: section %q has type %q, not %q", sec.Pos, section, sec.Type, typ)
	}
	return sec, nil
}

func set(name string, data []byte, typ, section, option, value string) ([]byte, error) {
	if value == "" {
		return nil, fmt.Errorf("uci: set %s.%s: empty value (libuci ignores it)", section, option)
	}
	sec, err := target(name, data, typ, section, option, value)
	if err != nil {
		return nil, err
	}
	nl := lineEnd(data)
	if sec == nil {
		return appendSection(data, nl, "config "+quoteType(typ)+" "+quote(section), "\toption "+option+" "+quote(value)+nl), nil
	}
	if o := sec.Option(option); o != nil && !o.List {
		if o.Values[0].Text == value {
			return data, nil
		}
		return replaceValue(data, o.value, value), nil
	}
	at, ok := lineAfter(data, sec.end)
	if !ok {
		// Reopening a named section is plain UCI; an anonymous one cannot
		// be reopened, but then its last statement is on a line of its own
		// or the file would not have parsed as one section.
		return appendSection(data, nl, "config "+quoteType(sec.Type)+" "+quote(sec.Name), "\toption "+option+" "+quote(value)+nl), nil
	}
	return insertAt(data, at, nl, []string{"option " + option + " " + quote(value)}, optionIndent(data, sec)), nil
}

// optionIndent is the indentation of sec's last option ("\t" without
// one): what a line added to sec is indented with.
func optionIndent(data []byte, sec *Section) string {
	if sec.lastOption >= 0 {
		ls := bytes.LastIndexByte(data[:sec.lastOption], '\n') + 1
		if lead := data[ls:sec.lastOption]; len(bytes.Trim(lead, " \t")) == 0 {
			return string(lead)
		}
	}
	return "\t"
}

// insertAt adds the statements stmts, a line each, indented, at the line
// beginning at offset at.
func insertAt(data []byte, at int, nl string, stmts []string, indent string) []byte {
	var b bytes.Buffer
	b.Write(data[:at])
	if at > 0 && data[at-1] != '\n' {
		b.WriteString(nl) // the last line had no line end
	}
	if at == len(data) && bytes.HasSuffix(bytes.TrimSuffix(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\r'}), []byte{'\\'}) {
		// A backslash at the end of the last line would join the new
		// line to it; an empty line is what it joins instead.
		b.WriteString(nl)
	}
	for _, line := range stmts {
		b.WriteString(indent + line + nl)
	}
	b.Write(data[at:])
	return b.Bytes()
}

// SetList returns data with option of a section (found as Set finds it)
// set to the list values, as UCI's "list" statements: every "option" or
// "list" statement of that name in the section goes, and one "list NAME
// 'VALUE'" line per value takes the place of the first of them, indented
// like it (without one, the lines follow the section's last statement).
// No values removes the option. Every other byte stays as it was, as with
// Set: a comment after a statement that goes keeps its line. A statement
// of the option that shares its line with another statement is refused
// with ErrLayout.
func SetList(name string, data []byte, typ, section, option string, values []string) ([]byte, error) {
	sec, err := target(name, data, typ, section, option, values...)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, v := range values {
		lines = append(lines, "list "+option+" "+quote(v))
	}
	nl := lineEnd(data)
	var out []byte
	switch o := sec.Option(option); {
	case len(lines) == 0 && o == nil:
		return data, nil
	case sec == nil:
		out = appendSection(data, nl, "config "+quoteType(typ)+" "+quote(section), "\t"+strings.Join(lines, nl+"\t")+nl)
	case o == nil:
		at, ok := lineAfter(data, sec.end)
		if !ok {
			return nil, fmt.Errorf("%s: %w", name, ErrLayout)
		}
		out = insertAt(data, at, nl, lines, optionIndent(data, sec))
	default:
		var b bytes.Buffer
		last := 0
		for i, st := range o.stmts {
			ls := bytes.LastIndexByte(data[:st.start], '\n') + 1
			lead := data[ls:st.start]
			le := st.end
			for le < len(data) && (data[le] == ' ' || data[le] == '\t' || data[le] == '\r' || data[le] == ';') {
				le++
			}
			comment := le < len(data) && data[le] == '#'
			if len(bytes.Trim(lead, " \t")) > 0 || le < len(data) && data[le] != '\n' && !comment {
				return nil, fmt.Errorf("%s: %w", name, ErrLayout)
			}
			if le < len(data) && !comment {
				le++ // the line end
			}
			b.Write(data[last:ls])
			if i == 0 {
				for _, line := range lines {
					b.WriteString(string(lead) + line + nl)
				}
			}
			if comment { // the comment stays, on a line of its own
				b.Write(lead)
			}
			last = le
		}
		b.Write(data[last:])
		out = b.Bytes()
	}
	// As with Set: what would not read back as asked is never returned.
	g, err := Parse(name, bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, ErrLayout)
	}
	got := g.find(typ, section).Option(option)
	if len(values) == 0 && got != nil || len(values) > 0 && (got == nil || !got.List || !equalValues(got.Values, values)) {
		return nil, fmt.Errorf("%s: %w", name, ErrLayout)
	}
	return out, nil
}

func equalValues(vs []Value, want []string) bool {
	if len(vs) != len(want) {
		return false
	}
	for i, v := range vs {
		if v.Text != want[i] {
			return false
		}
	}
	return true
}

// lineEnd is the file's line end: CRLF if its first line has one.
func lineEnd(data []byte) string {
	if i := bytes.IndexByte(data, '\n'); i > 0 && data[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

// lineAfter returns the offset of the line after the statement that ends at
// end, when nothing but blanks, a ';' and a comment follows it there.
func lineAfter(data []byte, end int) (int, bool) {
	i := end
	skip := func() {
		for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\v' || data[i] == '\f') {
			i++
		}
	}
	skip()
	if i < len(data) && data[i] == ';' {
		i++
		skip()
	}
	if i < len(data) && data[i] == '#' {
		for i < len(data) && data[i] != '\n' {
			i++
		}
	}
	switch {
	case i == len(data):
		return i, true
	case data[i] == '\n':
		return i + 1, true
	}
	return 0, false
}

// appendSection adds a section header and its body (statement lines) at
// the end of data, after a blank line as "uci commit" separates sections.
func appendSection(data []byte, nl, header, body string) []byte {
	var b bytes.Buffer
	b.Write(data)
	if len(data) > 0 {
		if data[len(data)-1] != '\n' {
			b.WriteString(nl)
		}
		if !bytes.HasSuffix(data, []byte("\n\n")) && !bytes.HasSuffix(data, []byte("\n\r\n")) {
			b.WriteString(nl)
		}
	}
	b.WriteString(header + nl + body)
	return b.Bytes()
}

// replaceValue writes value over the token at sp in the quoting the token
// used.
func replaceValue(data []byte, sp span, value string) []byte {
	var tok string
	switch data[sp.start] {
	case '"':
		r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
		tok = `"` + r.Replace(value) + `"`
	case '\'':
		tok = quote(value)
	default:
		tok = quote(value)
		if bareSafe(value) {
			tok = value
		}
	}
	end := sp.end
	if end < len(data) && data[end] == ';' && tok != value {
		// A ';' right after a quoted word is an empty argument to libuci:
		// at the end of a line it would break the statement, so it goes;
		// before another statement it still separates them.
		if _, ok := lineAfter(data, end+1); ok {
			end++
		}
	}
	var b bytes.Buffer
	b.Write(data[:sp.start])
	b.WriteString(tok)
	b.Write(data[end:])
	return b.Bytes()
}

// bareSafe reports whether s reads back unchanged as an unquoted word.
func bareSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_-.,:/@%+=", c) >= 0) {
			return false
		}
	}
	return s != ""
}

// quote single-quotes s; a quote inside closes the quote, adds an escaped
// quote and reopens: 'it'\”s'.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// quoteType writes a section type as writeType does.
func quoteType(t string) string {
	var b bytes.Buffer
	writeType(&b, t)
	return b.String()
}

// writeType writes a section type bare when that is unambiguous, as libuci
// does, and quoted otherwise (types may contain quotes, '#' or ';').
func writeType(b *bytes.Buffer, t string) {
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c == '_' || c == '-' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			b.WriteString(quote(t))
			return
		}
	}
	b.WriteString(t)
}

// WriteFile replaces the file at path with data atomically: a temporary
// file in the same directory is written, synced, given the old file's mode
// (and owner, where allowed) and renamed over it, and the directory is
// synced, so that a crash or power cut leaves the old file or the new one,
// never half of one. A path that is a symbolic link is followed: the file
// it names is replaced, the link kept. A file that does not exist yet gets
// mode 0600.
func WriteFile(path string, data []byte) error {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	mode := os.FileMode(0o600)
	uid, gid := -1, -1
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
		uid, gid = owner(fi)
	} else if !os.IsNotExist(err) {
		return fmt.Errorf("uci: write %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("uci: write %s: %w", path, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("uci: write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("uci: write %s: %w", path, err)
	}
	if uid >= 0 {
		tmp.Chown(uid, gid) // keeps root's files root's; an unprivileged writer owns its own anyway
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("uci: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("uci: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("uci: write %s: %w", path, err)
	}
	done = true
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("uci: write %s: sync directory: %w", path, err)
		}
	}
	return nil
}

// SetFile is Set on the file at path, written back with WriteFile unless
// nothing changed. (To set several options in one write, run Set in turn
// and WriteFile once.)
func SetFile(path, typ, section, option, value string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("uci: set: %w", err)
	}
	out, err := Set(path, data, typ, section, option, value)
	if err != nil {
		return err
	}
	if bytes.Equal(out, data) {
		return nil
	}
	return WriteFile(path, out)
}

// owner returns the file's user and group.
func owner(fi os.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return -1, -1
}
