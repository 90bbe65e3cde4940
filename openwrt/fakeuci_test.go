package openwrt_test

// A stand-in for OpenWrt's uci command line, for running the init script
// and the uci-defaults script here. It implements the part of uci(1) those
// scripts use, with libuci's semantics:
//
//   - Changes (set, add_list) are staged, as in /tmp/.uci: get and show see
//     them, the file under /etc/config does not until `uci commit`.
//   - Sections are named by NAME or @TYPE[N] (N counts every section of
//     TYPE, named or not, from 0; negative N counts from the end); show
//     prints anonymous sections as @TYPE[N].
//   - get prints a section's type, an option's value, or a list's items
//     separated by spaces; a missing entry exits 1 with "uci: Entry not
//     found" (nothing with -q).
//   - set CONFIG.SECTION=TYPE creates a named section or changes its type;
//     set CONFIG.SECTION.OPTION=VALUE needs the section, replaces the option
//     (a list included) and deletes it when VALUE is empty; add_list appends,
//     turning a plain option into a list whose first item is the old value.
//   - show prints CONFIG.SECTION=TYPE and CONFIG.SECTION.OPTION='VALUE'
//     lines, list items each quoted and separated by spaces.
//
// Any other command fails loudly, so a script that starts using one shows
// up here instead of passing untested. The test binary becomes this
// command when it runs under the name "uci" with LOBBY_FAKE_UCI_DIR set
// (see TestMain); every invocation is appended to LOBBY_FAKE_UCI_LOG.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/lobby-fw/lobby/internal/uci"
)

var errNotFound = errors.New("Entry not found")
var errInvalid = errors.New("Invalid argument")

// fakeUCI runs one uci command line and returns its exit status.
func fakeUCI(args []string, stdout, stderr io.Writer) int {
	dir, save := os.Getenv("LOBBY_FAKE_UCI_DIR"), os.Getenv("LOBBY_FAKE_UCI_SAVE")
	if log := os.Getenv("LOBBY_FAKE_UCI_LOG"); log != "" {
		if f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(f, strings.Join(args, " "))
			f.Close()
		}
	}
	quiet := false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		if args[0] != "-q" {
			fmt.Fprintf(stderr, "fake uci: flag %s not emulated\n", args[0])
			return 1
		}
		quiet = true
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "fake uci: no command")
		return 1
	}
	st := &ucistore{dir: dir, save: save}
	var err error
	switch cmd, rest := args[0], args[1:]; {
	case cmd == "get" && len(rest) == 1:
		err = st.get(rest[0], stdout)
	case cmd == "set" && len(rest) == 1:
		err = st.set(rest[0], false)
	case cmd == "add_list" && len(rest) == 1:
		err = st.set(rest[0], true)
	case cmd == "show" && len(rest) <= 1:
		err = st.show(strings.Join(rest, ""), stdout)
	case cmd == "commit" && len(rest) <= 1:
		err = st.commit(strings.Join(rest, ""))
	default:
		fmt.Fprintf(stderr, "fake uci: %q not emulated\n", strings.Join(args, " "))
		return 1
	}
	if err != nil {
		if !quiet {
			fmt.Fprintf(stderr, "uci: %v\n", err)
		}
		return 1
	}
	return 0
}

type ucistore struct{ dir, save string }

// load returns the config with its staged changes.
func (st *ucistore) load(pkg string) (*uci.File, error) {
	if !regexp.MustCompile(`^[A-Za-z0-9_-]+$`).MatchString(pkg) {
		return nil, errInvalid
	}
	path := filepath.Join(st.save, pkg)
	if _, err := os.Stat(path); err != nil {
		path = filepath.Join(st.dir, pkg)
	}
	f, err := uci.ParseFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNotFound
	}
	return f, err
}

func (st *ucistore) stage(pkg string, f *uci.File) error {
	if err := os.MkdirAll(st.save, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(st.save, pkg), []byte(formatUCI(f)), 0o644)
}

func (st *ucistore) commit(pkg string) error {
	pkgs := []string{pkg}
	if pkg == "" {
		entries, _ := os.ReadDir(st.save)
		pkgs = nil
		for _, e := range entries {
			pkgs = append(pkgs, e.Name())
		}
	}
	for _, p := range pkgs {
		staged := filepath.Join(st.save, p)
		if _, err := os.Stat(staged); err != nil {
			if _, err := st.load(p); err != nil {
				return err
			}
			continue // nothing staged: nothing to write
		}
		if err := os.Rename(staged, filepath.Join(st.dir, p)); err != nil {
			return err
		}
	}
	return nil
}

// ref is a parsed CONFIG[.SECTION[.OPTION]][=VALUE].
type ref struct {
	pkg, sec, opt, value string
	hasValue             bool
}

func parseRef(s string) (ref, error) {
	var r ref
	s, r.value, r.hasValue = strings.Cut(s, "=")
	parts := strings.SplitN(s, ".", 3)
	r.pkg = parts[0]
	if len(parts) > 1 {
		r.sec = parts[1]
	}
	if len(parts) > 2 {
		r.opt = parts[2]
	}
	if r.pkg == "" || (len(parts) > 1 && r.sec == "") || (len(parts) > 2 && !validUCIName(r.opt)) {
		return r, errInvalid
	}
	return r, nil
}

var sectionIndex = regexp.MustCompile(`^@([^\[\]]+)\[(-?[0-9]+)\]$`)

// section finds SECTION (a name or @TYPE[N]) in f.
func section(f *uci.File, name string) *uci.Section {
	if m := sectionIndex.FindStringSubmatch(name); m != nil {
		var ofType []*uci.Section
		for _, s := range f.Sections {
			if s.Type == m[1] {
				ofType = append(ofType, s)
			}
		}
		i, _ := strconv.Atoi(m[2])
		if i < 0 {
			i += len(ofType)
		}
		if i < 0 || i >= len(ofType) {
			return nil
		}
		return ofType[i]
	}
	for _, s := range f.Sections {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func (st *ucistore) get(arg string, w io.Writer) error {
	r, err := parseRef(arg)
	if err != nil || r.hasValue || r.sec == "" {
		return errInvalid
	}
	f, err := st.load(r.pkg)
	if err != nil {
		return err
	}
	s := section(f, r.sec)
	if s == nil {
		return errNotFound
	}
	if r.opt == "" {
		fmt.Fprintln(w, s.Type)
		return nil
	}
	o := s.Option(r.opt)
	if o == nil {
		return errNotFound
	}
	texts := make([]string, len(o.Values))
	for i, v := range o.Values {
		texts[i] = v.Text
	}
	fmt.Fprintln(w, strings.Join(texts, " "))
	return nil
}

func (st *ucistore) set(arg string, addList bool) error {
	r, err := parseRef(arg)
	if err != nil || !r.hasValue || r.sec == "" {
		return errInvalid
	}
	f, err := st.load(r.pkg)
	if err != nil {
		return err
	}
	s := section(f, r.sec)
	switch {
	case r.opt == "" && addList:
		return errInvalid
	case r.opt == "":
		if r.value == "" || strings.ContainsAny(r.value, " \t'\"") {
			return errInvalid
		}
		if s == nil {
			if !validUCIName(r.sec) {
				return errInvalid
			}
			f.Sections = append(f.Sections, &uci.Section{Type: r.value, Name: r.sec})
		} else {
			s.Type = r.value
		}
	case s == nil:
		return errNotFound
	default:
		o := s.Option(r.opt)
		switch {
		case addList && o == nil:
			s.Options = append(s.Options, &uci.Option{Name: r.opt, List: true, Values: []uci.Value{{Text: r.value}}})
		case addList:
			o.List = true
			o.Values = append(o.Values, uci.Value{Text: r.value})
		case r.value == "":
			for i, x := range s.Options {
				if x == o {
					s.Options = append(s.Options[:i], s.Options[i+1:]...)
				}
			}
		case o == nil:
			s.Options = append(s.Options, &uci.Option{Name: r.opt, Values: []uci.Value{{Text: r.value}}})
		default:
			o.List = false
			o.Values = []uci.Value{{Text: r.value}}
		}
	}
	return st.stage(r.pkg, f)
}

func (st *ucistore) show(arg string, w io.Writer) error {
	var pkgs []string
	var r ref
	if arg == "" {
		entries, err := os.ReadDir(st.dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			pkgs = append(pkgs, e.Name())
		}
	} else {
		var err error
		if r, err = parseRef(arg); err != nil || r.hasValue {
			return errInvalid
		}
		pkgs = []string{r.pkg}
	}
	for _, pkg := range pkgs {
		f, err := st.load(pkg)
		if err != nil {
			return err
		}
		var only *uci.Section
		if r.sec != "" {
			if only = section(f, r.sec); only == nil {
				return errNotFound
			}
		}
		count := map[string]int{}
		for _, s := range f.Sections {
			name := s.Name
			if name == "" {
				name = fmt.Sprintf("@%s[%d]", s.Type, count[s.Type])
			}
			count[s.Type]++
			if only != nil && s != only {
				continue
			}
			if r.opt == "" {
				fmt.Fprintf(w, "%s.%s=%s\n", pkg, name, s.Type)
			}
			for _, o := range s.Options {
				if r.opt != "" && o.Name != r.opt {
					continue
				}
				q := make([]string, len(o.Values))
				for i, v := range o.Values {
					q[i] = quoteUCI(v.Text)
				}
				fmt.Fprintf(w, "%s.%s.%s=%s\n", pkg, name, o.Name, strings.Join(q, " "))
			}
			if r.opt != "" && s.Option(r.opt) == nil {
				return errNotFound
			}
		}
	}
	return nil
}

func validUCIName(s string) bool {
	return regexp.MustCompile(`^[A-Za-z0-9_]+$`).MatchString(s)
}

// quoteUCI single-quotes s the way uci writes values.
func quoteUCI(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// formatUCI writes f in the layout of `uci commit`.
func formatUCI(f *uci.File) string {
	var b strings.Builder
	for _, s := range f.Sections {
		b.WriteString("\nconfig " + s.Type)
		if s.Name != "" {
			b.WriteString(" " + quoteUCI(s.Name))
		}
		b.WriteString("\n")
		for _, o := range s.Options {
			kw := "option"
			if o.List {
				kw = "list"
			}
			for _, v := range o.Values {
				fmt.Fprintf(&b, "\t%s %s %s\n", kw, o.Name, quoteUCI(v.Text))
			}
		}
	}
	b.WriteString("\n")
	return b.String()
}

// TestFakeUCI pins the stand-in to the uci(1) behaviour the scripts rely
// on, so that a script passing against it would pass against uci.
func TestFakeUCI(t *testing.T) {
	tr := newUCITree(t)
	tr.write("net", "config interface 'lan'\n\toption proto 'static'\n\nconfig zone\n\toption name 'a'\n\nconfig zone\n\toption name 'b'\n")
	steps := []struct {
		args []string
		out  string
		ok   bool
	}{
		{[]string{"get", "net.lan"}, "interface\n", true},
		{[]string{"get", "net.lan.proto"}, "static\n", true},
		{[]string{"-q", "get", "net.lan.ipaddr"}, "", false},
		{[]string{"get", "net.@zone[1].name"}, "b\n", true},
		{[]string{"get", "net.@zone[-1].name"}, "b\n", true},
		{[]string{"get", "net.@zone[2].name"}, "", false},
		{[]string{"get", "nope.lan"}, "", false},
		{[]string{"set", "net.guest.proto=static"}, "", false}, // no such section
		{[]string{"set", "net.guest=interface"}, "", true},
		{[]string{"set", "net.guest.proto=static"}, "", true},
		{[]string{"get", "net.guest.proto"}, "static\n", true}, // staged, seen
		{[]string{"add_list", "net.@zone[0].network=lan"}, "", true},
		{[]string{"add_list", "net.@zone[0].network=guest"}, "", true},
		{[]string{"get", "net.@zone[0].network"}, "lan guest\n", true},
		{[]string{"add_list", "net.lan.proto=dhcp"}, "", true}, // option becomes a list
		{[]string{"show", "net.lan"}, "net.lan=interface\nnet.lan.proto='static' 'dhcp'\n", true},
		{[]string{"set", "net.lan.proto=it's"}, "", true}, // a list becomes an option again
		{[]string{"show", "net.lan.proto"}, "net.lan.proto='it'\\''s'\n", true},
		{[]string{"set", "net.lan.proto="}, "", true}, // empty value deletes
		{[]string{"show", "net"}, "net.lan=interface\nnet.@zone[0]=zone\nnet.@zone[0].name='a'\nnet.@zone[0].network='lan' 'guest'\nnet.@zone[1]=zone\nnet.@zone[1].name='b'\nnet.guest=interface\nnet.guest.proto='static'\n", true},
		{[]string{"delete", "net.lan"}, "", false}, // not emulated: fails loudly
	}
	for _, s := range steps {
		out, err := tr.uci(s.args...)
		if (err == nil) != s.ok || out != s.out {
			t.Errorf("uci %v = %q, %v; want %q, ok=%v", s.args, out, err, s.out, s.ok)
		}
	}
	if strings.Contains(mustRead(t, filepath.Join(tr.dir, "net")), "guest") {
		t.Error("a change reached the file before uci commit")
	}
	if _, err := tr.uci("commit", "net"); err != nil {
		t.Fatal(err)
	}
	f := tr.parse("net")
	if s := named(f, "guest"); s == nil || s.Option("proto").String() != "static" {
		t.Errorf("after commit: %+v", f.Sections)
	}
	if o := f.Sections[1].Option("network"); o == nil || !o.List || len(o.Values) != 2 || f.Sections[1].Name != "" {
		t.Errorf("anonymous zone after commit: %+v", f.Sections[1])
	}
}
