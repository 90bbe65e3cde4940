package uci

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Parse reads UCI syntax from r. name is used in every Pos.File and error
// message, and its base name becomes File.Name unless the input has a
// "package" statement. Malformed input yields a *SyntaxError; read errors
// are returned as they are.
func Parse(name string, r io.Reader) (*File, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	p := &parser{
		name:  name,
		data:  data,
		named: make(map[string]*Section),
		opts:  make(map[*Section]map[string]*Option),
		out:   &File{},
	}
	if name != "" {
		p.out.Name = filepath.Base(name)
	}
	if len(data) > MaxFileSize {
		// Count lines only up to the limit: that is where reading stopped.
		return nil, &SyntaxError{
			Pos: Pos{name, 1 + bytes.Count(data[:MaxFileSize], []byte{'\n'})},
			Msg: "file is larger than " + strconv.Itoa(MaxFileSize) + " bytes",
		}
	}
	for i, c := range data {
		switch c {
		case '\n':
			p.nl = append(p.nl, i)
		case 0:
			return nil, p.errAt(i, "NUL byte in input")
		}
	}
	if err := p.run(); err != nil {
		return nil, err
	}
	return p.out, nil
}

// parser mirrors libuci's parse context. libuci reads one physical line into
// a buffer, and appends further lines to it only while inside quotes or after
// a backslash at the end of a line; what lies past the buffer's end reads as
// NUL. Here the "buffer" is the window data[..lim] of the whole input, so
// every position is an offset into data and its line number is a lookup.
type parser struct {
	name string
	data []byte
	nl   []int // offsets of '\n' in data, for line numbers

	pos  int // read position
	lim  int // cur() reads NUL at and past lim: the buffer's end, or a cut
	phys int // end of the physical lines read so far; the next line starts here

	stmtSemi bool // the current statement consumed a ';' as an argument

	out   *File
	sec   *Section // section that option/list statements apply to
	named map[string]*Section
	opts  map[*Section]map[string]*Option // avoids quadratic option lookups
	pkg   bool                            // a package statement was seen
}

// arg is one argument token as libuci's next_arg returns it.
type arg struct {
	text  string
	start int // offset of the token's first byte
	end   int // offset just past the token's last byte (before the blank that ended it)
	// present reports whether the token consumed any input (so '' is
	// present, a missing token is not): libuci cannot tell the two apart,
	// but a missing value is almost always a mistake.
	present bool
}

func (p *parser) errAt(off int, msg string) *SyntaxError {
	return &SyntaxError{Pos: p.posAt(off), Msg: msg}
}

func (p *parser) posAt(off int) Pos {
	// The number of line breaks before off is the index of the first one at
	// or after it.
	return Pos{File: p.name, Line: sort.SearchInts(p.nl, off) + 1}
}

func (p *parser) cur() byte {
	if p.pos < p.lim {
		return p.data[p.pos]
	}
	return 0
}

func (p *parser) at(i int) byte {
	if i < p.lim {
		return p.data[i]
	}
	return 0
}

// fetch appends the next physical line to the buffer (libuci's uci_getln).
// It reports false at the end of the input.
func (p *parser) fetch() bool {
	if p.phys >= len(p.data) {
		return false
	}
	end := len(p.data)
	if i := bytes.IndexByte(p.data[p.phys:], '\n'); i >= 0 {
		end = p.phys + i + 1
	}
	p.phys, p.lim = end, end
	return true
}

// isSpace is C's isspace in the C locale, which is what libuci uses to skip
// blanks and end tokens; a CR therefore acts as a blank outside quotes,
// which is how CRLF files work.
func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

func (p *parser) skipSpace() {
	for c := p.cur(); c != 0 && isSpace(c); c = p.cur() {
		p.pos++
	}
}

func (p *parser) run() error {
	for p.phys < len(p.data) {
		p.pos = p.phys
		p.fetch()
		if err := p.line(); err != nil {
			return err
		}
	}
	return nil
}

// line parses the statements of one buffer (libuci's uci_parse_line).
func (p *parser) line() error {
	p.skipSpace()
	for {
		// libuci finds the command with strtok(" \t"), so only spaces and
		// tabs end it: "config;" or "config\n" are invalid commands.
		for c := p.cur(); c == ' ' || c == '\t'; c = p.cur() {
			p.pos++
		}
		if p.cur() == 0 {
			return nil
		}
		start := p.pos
		for c := p.cur(); c != 0 && c != ' ' && c != '\t'; c = p.cur() {
			p.pos++
		}
		word := string(p.data[start:p.pos])
		if word[0] == '#' {
			return nil
		}
		// libuci steps over the blank after the command; if the command ends
		// the buffer there is nothing to step over and no argument.
		hasArgs := p.pos < p.lim
		if hasArgs {
			p.pos++
		}
		p.stmtSemi = false
		var err error
		switch word {
		case "package", "p":
			err = p.stmtPackage(start, hasArgs)
		case "config", "c":
			err = p.stmtConfig(start, hasArgs)
		case "option", "o":
			err = p.stmtOption(start, hasArgs, false)
		case "list", "l":
			err = p.stmtOption(start, hasArgs, true)
		default:
			if c := word[0]; c == '\n' || c == '\r' {
				// Only reachable after a ';' that libuci took as an empty
				// argument: the rest of the line is just its end.
				err = p.errAt(start, "';' at the end of a line must directly follow an unquoted word (libuci rejects it here)")
			} else {
				err = p.errAt(start, fmt.Sprintf("invalid command %q", strings.TrimRight(word, "\n\r\v\f")))
			}
		}
		if err != nil {
			return err
		}
	}
}

// nextArg returns the next argument (libuci's next_arg). A ';' where an
// argument starts is consumed as an empty argument: that is how libuci ends a
// statement early, and why it cannot end one that still expects arguments.
func (p *parser) nextArg() (arg, error) {
	p.skipSpace()
	if p.cur() == ';' {
		a := arg{start: p.pos, end: p.pos}
		p.pos++
		p.stmtSemi = true
		return a, nil
	}
	return p.parseStr()
}

// parseStr reads one token (libuci's parse_str).
func (p *parser) parseStr() (arg, error) {
	a := arg{start: p.pos}
	var buf []byte
	// shrunk tracks whether libuci's in-place decoding has fallen behind
	// its read position (quotes and backslashes are dropped); only then
	// does a ';' right after the token survive the token's terminating NUL.
	shrunk := false
	next := true
loop:
	for {
		switch c := p.cur(); c {
		case '\'', '"':
			shrunk, a.present = true, true
			if err := p.quoted(&buf, c); err != nil {
				return a, err
			}
		case '#':
			p.lim = p.pos // comment: the rest of the buffer is gone
			break loop
		case 0:
			break loop
		case ';':
			next = false
			if !shrunk {
				if err := p.gluedSemicolon(); err != nil {
					return a, err
				}
				p.lim = p.pos
			}
			break loop
		case '\\':
			shrunk, a.present = true, true
			if p.backslash() {
				buf = append(buf, p.cur())
				p.pos++
			}
		default:
			a.present = true
			buf = append(buf, c)
			p.pos++
		}
		if c := p.cur(); c == 0 || isSpace(c) {
			break
		}
	}
	a.end = p.pos
	if next && p.cur() != 0 {
		p.pos++ // the blank that ended the token
	}
	a.text = string(buf)
	return a, nil
}

// gluedSemicolon is called at a ';' that directly follows an unquoted,
// unescaped word. libuci writes the token's terminating NUL over that ';'
// and so silently drops the rest of the line; refuse instead, unless
// nothing but blanks or a comment would be dropped.
func (p *parser) gluedSemicolon() error {
	rest := p.data[p.pos+1 : p.lim]
	i := 0
	for i < len(rest) && isSpace(rest[i]) {
		i++
	}
	if i == len(rest) || rest[i] == '#' {
		return nil
	}
	return p.errAt(p.pos, "libuci ignores the rest of the line after a ';' that directly follows an unquoted word; start a new line instead")
}

// backslash is called at a '\' outside single quotes (libuci's
// parse_backslash). It reports whether the next character is to be taken
// literally; at the end of a line it instead joins the next line, dropping
// the line break.
func (p *parser) backslash() bool {
	p.pos++
	c := p.cur()
	if c == 0 || c == '\n' || (c == '\r' && p.at(p.pos+1) == '\n' && p.at(p.pos+2) == 0) {
		// The line break ends the buffer, so the next line follows at lim.
		p.pos = p.lim
		p.fetch()
		return false
	}
	return true
}

// quoted reads a single- or double-quoted piece, which may span lines.
func (p *parser) quoted(buf *[]byte, q byte) error {
	open := p.pos
	p.pos++
	for {
		c := p.cur()
		switch {
		case c == q:
			p.pos++
			return nil
		case c == 0:
			if !p.fetch() {
				return p.errAt(open, "unterminated quote")
			}
		case c == '\\' && q == '"':
			if p.backslash() {
				*buf = append(*buf, p.cur())
				p.pos++
			}
		default:
			*buf = append(*buf, c)
			p.pos++
		}
	}
}

// endOfStatement checks that no argument is left (libuci's assert_eol).
func (p *parser) endOfStatement() error {
	a, err := p.nextArg()
	if err != nil || !a.present {
		return err
	}
	msg := "too many arguments"
	if p.stmtSemi {
		msg += " (libuci reads a ';' after a blank or a quoted word as an empty argument, not as the end of the statement)"
	}
	return p.errAt(a.start, msg)
}

func (p *parser) stmtPackage(start int, hasArgs bool) error {
	name := arg{}
	if hasArgs {
		var err error
		if name, err = p.nextArg(); err != nil {
			return err
		}
	}
	if name.text == "" {
		return p.errAt(start, "missing package name")
	}
	if !validPackageName(name.text) {
		return p.errAt(name.start, fmt.Sprintf("invalid character in package name %q", name.text))
	}
	if err := p.endOfStatement(); err != nil {
		return err
	}
	switch {
	case p.pkg:
		return p.errAt(start, "more than one package statement")
	case len(p.out.Sections) > 0:
		return p.errAt(start, "package statement after a config section")
	}
	p.pkg = true
	p.out.Name = name.text
	return nil
}

func (p *parser) stmtConfig(start int, hasArgs bool) error {
	if !hasArgs {
		return p.errAt(start, "missing section type")
	}
	typ, err := p.nextArg()
	if err != nil {
		return err
	}
	if typ.text == "" {
		return p.errAt(start, "missing section type")
	}
	if !validType(typ.text) {
		return p.errAt(typ.start, fmt.Sprintf("invalid character in section type %q", typ.text))
	}
	name, err := p.nextArg()
	if err != nil {
		return err
	}
	if name.text != "" && !validName(name.text) {
		return p.errAt(name.start, fmt.Sprintf("invalid character in section name %q", name.text))
	}
	if err := p.endOfStatement(); err != nil {
		return err
	}

	pos := p.posAt(start)
	end := typ.end
	if name.present {
		end = name.end
	}
	if name.text != "" {
		if s := p.named[name.text]; s != nil {
			if s.Type != typ.text {
				return p.errAt(start, fmt.Sprintf("section %q redeclared with type %q; it has type %q at %s", name.text, typ.text, s.Type, s.Pos))
			}
			p.sec = s // reopen: later options merge into it
			s.end = end
			return nil
		}
	}
	s := &Section{Type: typ.text, Name: name.text, Pos: pos, end: end, lastOption: -1}
	if name.text != "" {
		p.named[name.text] = s
	}
	p.out.Sections = append(p.out.Sections, s)
	p.sec = s
	return nil
}

func (p *parser) stmtOption(start int, hasArgs, list bool) error {
	kw := "option"
	if list {
		kw = "list"
	}
	if p.sec == nil {
		return p.errAt(start, kw+" outside of a section")
	}
	if !hasArgs {
		return p.errAt(start, "missing "+kw+" name")
	}
	name, err := p.nextArg()
	if err != nil {
		return err
	}
	if name.text == "" {
		return p.errAt(start, "missing "+kw+" name")
	}
	if !validName(name.text) {
		return p.errAt(name.start, fmt.Sprintf("invalid character in %s name %q", kw, name.text))
	}
	val, err := p.nextArg()
	if err != nil {
		return err
	}
	if err := p.endOfStatement(); err != nil {
		return err
	}
	if !val.present {
		return p.errAt(start, fmt.Sprintf("missing value for %s %q", kw, name.text))
	}

	opts := p.opts[p.sec]
	if opts == nil {
		opts = make(map[string]*Option)
		p.opts[p.sec] = opts
	}
	o := opts[name.text]
	v := Value{Text: val.text, Pos: p.posAt(val.start)}
	p.sec.end, p.sec.lastOption = val.end, start
	switch {
	case !list && val.text == "":
		// libuci's uci_set returns early for an empty value when parsing a
		// file: the option is neither created nor cleared.
	case o == nil:
		o = &Option{Name: name.text, List: list, Values: []Value{v}, Pos: p.posAt(start), value: span{val.start, val.end}}
		opts[name.text] = o
		p.sec.Options = append(p.sec.Options, o)
	case list:
		o.List = true // an option turned into a list keeps its value first
		o.Values = append(o.Values, v)
	default:
		o.List = false
		o.Values = []Value{v}
		o.Pos = p.posAt(start)
		o.value = span{val.start, val.end}
	}
	if o != nil {
		o.stmts = append(o.stmts, span{start, val.end})
	}
	return nil
}
