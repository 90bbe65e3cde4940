// Package uci reads OpenWrt UCI configuration files (/etc/config/*) the way
// libuci reads them, and remembers the FILE:LINE of every section, option and
// value so that Lobby can point an operator at the exact line of a bad
// setting instead of only naming the setting.
//
// The parser follows libuci's file.c, because the files Lobby reads are the
// same files the daemons on the device read through libuci: where the two
// disagreed, Lobby would be validating a configuration the device never
// sees. Its rules, as libuci applies them:
//
//   - Statements are "package NAME", "config TYPE [NAME]", "option NAME
//     VALUE" and "list NAME VALUE", or their one-letter forms p, c, o and l.
//     A statement ends at the end of the line. ';' can separate statements
//     on one line, but only in the forms libuci gets right: after a blank
//     or a quoted word once the statement has all its arguments, as in
//     "option a b ; option c d" or "config t 'n'; option a b", and glued
//     to the last word of a line, as in "option a b;" (see below).
//   - Tokens are separated by blanks. A token is made of bare text, in which
//     a backslash takes the next character literally, single-quoted text
//     (fully literal), and double-quoted text (a backslash takes the next
//     character literally, so "\n" is the letter n); adjacent pieces join, so
//     'a'"b"c is abc. Quoted text may span lines and keeps the line breaks
//     (including the CR of a CRLF line). A backslash at the end of a line,
//     outside single quotes, joins the next line without a line break.
//   - '#' outside quotes starts a comment that runs to the end of the line,
//     even in the middle of a bare word: "option url http://x/#y" sets url
//     to http://x/, exactly as on the device.
//   - Section and option names are [A-Za-z0-9_]+, package names also allow
//     '-', and section types may be any printable ASCII except space.
//   - "config TYPE NAME" for a NAME that already exists reopens that section
//     (options merge into it, it keeps its place and first Pos); reopening
//     it with a different TYPE is an error, as in libuci's default strict
//     mode. "config TYPE", or a NAME that is an empty quoted string, adds an
//     anonymous section.
//   - A repeated "option" replaces the earlier value in place (also when the
//     earlier one was a list); "list" appends, and a "list" after an "option"
//     of the same name turns it into a list whose first value is the old
//     one. An "option" whose value is an empty quoted string changes nothing
//     at all: libuci ignores options whose value is empty (it neither
//     creates nor clears the option), so this parser does too. A "list"
//     with an empty value appends an empty item.
//
// Where libuci's behaviour would silently lose text, or where it accepts a
// form that is almost certainly a mistake, this parser reports a
// SyntaxError instead, so it may reject a file libuci accepts but never reads
// a file differently from libuci:
//
//   - A ';' directly after an unquoted word (as in "config a; option b c")
//     makes libuci discard the rest of the line; that is an error here unless
//     only blanks or a comment follow. A ';' after a blank or after a quoted
//     word is taken by libuci as an empty argument rather than as the end of
//     the statement, which is why "config a ; option b c" and
//     "option a 'b';" followed by a line end are errors in libuci and here.
//   - "option NAME" or "list NAME" with no value at all, and any token after
//     the last argument (even an empty quoted one), are errors; libuci ignores the option or
//     adds an empty list item, and ignores an empty extra token.
//   - Only one "package" statement is allowed, and only before the first
//     section. (libuci ignores it when loading /etc/config/NAME and starts a
//     new package with it on "uci import".)
//   - NUL bytes are rejected (libuci would cut the line there), and input is
//     limited to MaxFileSize bytes.
//
// A named section whose name happens to equal one that libuci generates for
// an anonymous section (cfgXXXXXX) is not merged with it here.
package uci

import (
	"os"
	"strconv"
)

// MaxFileSize bounds the input Parse accepts. Configuration files are a few
// kilobytes; the cap keeps a corrupted or hostile file (for example one
// uploaded through the portal's admin UI) from exhausting the router's
// memory.
const MaxFileSize = 8 << 20

// Pos is where something appeared in a config file. It is kept on every
// section, option and value so that errors found long after parsing (bad IP,
// unknown interface) can still name the offending line.
type Pos struct {
	File string // the name given to Parse, or the path given to ParseFile
	Line int    // 1-based
}

// String returns "FILE:LINE", the form editors and compilers use, so that
// messages built from it are clickable in a terminal or an editor.
func (p Pos) String() string {
	return p.File + ":" + strconv.Itoa(p.Line)
}

// File is a parsed UCI file, i.e. one libuci package.
type File struct {
	// Name is the package name: from a "package NAME" statement if the file
	// has one, else the base name of the path, as libuci names a package
	// after its file in /etc/config.
	Name string
	// Sections are in file order; a reopened named section stays where it
	// first appeared, as in libuci.
	Sections []*Section
}

// Section is one "config" block.
type Section struct {
	Type string
	// Name is "" for an anonymous section. libuci invents a name for those
	// (cfgXXXXXX), but it is not in the file, so it is not reported here.
	Name string
	// Pos is the first "config" line that declared the section; later
	// "config" lines that reopen it do not move it.
	Pos Pos
	// Options are in order of first appearance; replacing an option keeps
	// its place, as libuci does.
	Options []*Option

	// For Set: the offset just past the section's last statement (its
	// "config" line or an option of it, wherever it was reopened), and
	// where its last option statement starts (-1: none).
	end, lastOption int
}

// Option is an "option" or a "list" of a section.
type Option struct {
	Name string
	// List reports whether the option was declared with "list", whose values
	// accumulate; it is false for a plain "option".
	List bool
	// Values holds exactly one value for a plain option, and the items in
	// file order for a list.
	Values []Value
	// Pos is the line of the last "option" statement for a plain option, or
	// of the statement that supplied Values[0] for a list: the first "list"
	// statement, or the "option" statement a later "list" turned into a list.
	Pos Pos

	// value is where the value token of a plain option's last "option"
	// statement lies in the input, for Set; stmts are where each of its
	// statements ("option" or "list", in file order) lies, for SetList.
	value span
	stmts []span
}

// span is a range of input offsets, [start, end).
type span struct{ start, end int }

// Value is one value of an option, with its own position because the items
// of a list may be spread over many lines.
type Value struct {
	Text string
	// Pos is the line on which the value's token starts, even if quoted text
	// continues over several lines.
	Pos Pos
}

// SyntaxError is returned for malformed input. It carries a Pos rather than
// only a message so callers can collect, sort or re-render errors.
type SyntaxError struct {
	Pos Pos
	Msg string
}

// Error returns "FILE:LINE: message".
func (e *SyntaxError) Error() string {
	return e.Pos.String() + ": " + e.Msg
}

// ParseFile opens and parses path; positions and errors name path as given.
func ParseFile(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(path, f)
}

// Option returns the option called name, or nil if the section has none.
// It accepts a nil section so that lookups can be chained, as in
// f.Sections[0].Option("port").String().
func (s *Section) Option(name string) *Option {
	if s == nil {
		return nil
	}
	for _, o := range s.Options {
		if o.Name == name {
			return o
		}
	}
	return nil
}

// String returns the first value's text, or "" if there is none or o is nil,
// so that a plain option can be read in one expression.
func (o *Option) String() string {
	if o == nil || len(o.Values) == 0 {
		return ""
	}
	return o.Values[0].Text
}

// validName reports whether s may name a section or an option: libuci allows
// only [A-Za-z0-9_] there so that names can become shell variables.
func validName(s string) bool {
	return validStr(s, false)
}

// validPackageName reports whether s may name a package: like validName but
// '-' is also allowed.
func validPackageName(s string) bool {
	return validStr(s, true)
}

// validType reports whether s may be a section type: libuci allows any
// printable ASCII character except space there.
func validType(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

func validStr(s string, pkg bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_':
		case c == '-' && pkg:
		default:
			return false
		}
	}
	return true
}
