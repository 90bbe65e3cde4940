package appliance

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strings"
)

// Modules is what depmod(8) wrote about one kernel's modules: where each
// module is and what it needs (modules.dep), what it wants loaded around it
// (modules.softdep), the other names it answers to (modules.alias), and
// which modules are built into the kernel (modules.builtin). The appliance
// loads modules with it as modprobe(8) would, without modprobe.
type Modules struct {
	dep     map[string]depEntry
	soft    map[string]softdep
	alias   []aliasEntry
	builtin map[string]bool
}

type depEntry struct {
	path string   // relative to /lib/modules/VERSION
	deps []string // module names, as modules.dep lists them
}

type softdep struct{ pre, post []string }

type aliasEntry struct{ pattern, module string }

// ModuleFiles are the depmod outputs that ParseModules reads. A nil reader
// stands for a missing file (a kernel with no soft dependencies, say).
type ModuleFiles struct {
	Dep, Softdep, Alias, Builtin io.Reader
}

// maxModuleLine bounds one line of a depmod file: the longest modules.dep
// line of a distribution kernel is a few kilobytes.
const maxModuleLine = 64 << 10

// ParseModules reads depmod's files. A malformed line is an error that
// names the file and line; the files are depmod's output, so anything odd
// means a broken image rather than something to guess around.
func ParseModules(f ModuleFiles) (*Modules, error) {
	m := &Modules{dep: map[string]depEntry{}, soft: map[string]softdep{}, builtin: map[string]bool{}}
	if err := eachLine("modules.dep", f.Dep, m.depLine); err != nil {
		return nil, err
	}
	if err := eachLine("modules.softdep", f.Softdep, m.softdepLine); err != nil {
		return nil, err
	}
	if err := eachLine("modules.alias", f.Alias, m.aliasLine); err != nil {
		return nil, err
	}
	if err := eachLine("modules.builtin", f.Builtin, func(line string) error {
		m.builtin[ModuleName(line)] = true
		return nil
	}); err != nil {
		return nil, err
	}
	return m, nil
}

// eachLine calls fn for every line of r that is not blank or a # comment.
func eachLine(name string, r io.Reader, fn func(string) error) error {
	if r == nil {
		return nil
	}
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 4096), maxModuleLine)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if err := fn(line); err != nil {
			return fmt.Errorf("%s:%d: %w", name, n, err)
		}
	}
	if err := s.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// depLine reads "kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko".
func (m *Modules) depLine(line string) error {
	file, deps, ok := strings.Cut(line, ":")
	file = strings.TrimSpace(file)
	if !ok || file == "" || strings.ContainsAny(file, " \t") {
		return fmt.Errorf("want 'MODULE.ko: DEPENDENCY.ko …', got %q", line)
	}
	e := depEntry{path: file}
	for _, d := range strings.Fields(deps) {
		e.deps = append(e.deps, ModuleName(d))
	}
	m.dep[ModuleName(file)] = e
	return nil
}

// softdepLine reads "softdep MODULE pre: A B post: C". Names before any
// "pre:" or "post:" are ignored, as libkmod ignores them.
func (m *Modules) softdepLine(line string) error {
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "softdep" {
		return fmt.Errorf("want 'softdep MODULE pre: … post: …', got %q", line)
	}
	name := ModuleName(f[1])
	s := m.soft[name]
	var list *[]string
	for _, w := range f[2:] {
		switch w {
		case "pre:":
			list = &s.pre
		case "post:":
			list = &s.post
		default:
			if list != nil {
				*list = append(*list, w)
			}
		}
	}
	m.soft[name] = s
	return nil
}

// aliasLine reads "alias PATTERN MODULE"; PATTERN may hold fnmatch(3)
// wildcards (device aliases such as pci:v00001AF4d*).
func (m *Modules) aliasLine(line string) error {
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "alias" {
		return fmt.Errorf("want 'alias PATTERN MODULE', got %q", line)
	}
	if _, err := path.Match(f[1], ""); err != nil {
		return fmt.Errorf("alias pattern %q: %w", f[1], err)
	}
	m.alias = append(m.alias, aliasEntry{pattern: f[1], module: ModuleName(f[2])})
	return nil
}

// ModuleName is the kernel's name of a module given as a file or a name:
// kernel/net/bridge/br_netfilter.ko.xz and br-netfilter are both
// br_netfilter (the kernel treats - and _ alike in module names).
func ModuleName(s string) string {
	s = path.Base(s)
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		s = strings.TrimSuffix(s, ext)
	}
	s = strings.TrimSuffix(s, ".ko")
	return strings.ReplaceAll(s, "-", "_")
}

// resolve turns a name from a module list or a softdep into the modules
// that provide it: the module itself, nothing if it is built in, or every
// module whose alias matches (as modprobe loads them all).
func (m *Modules) resolve(name string) ([]string, error) {
	n := ModuleName(name)
	if _, ok := m.dep[n]; ok {
		return []string{n}, nil
	}
	if m.builtin[n] {
		return nil, nil
	}
	var out []string
	builtin := false
	for _, a := range m.alias {
		if ok, _ := path.Match(a.pattern, name); !ok && a.pattern != name {
			continue
		}
		if _, known := m.dep[a.module]; known && !contains(out, a.module) {
			out = append(out, a.module)
		}
		builtin = builtin || m.builtin[a.module]
	}
	if len(out) == 0 && !builtin {
		return nil, fmt.Errorf("module %s: not in modules.dep, modules.builtin or modules.alias", name)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// LoadStep is one module to insert, in order.
type LoadStep struct {
	Name string
	Path string // relative to /lib/modules/VERSION
	// Soft marks a module loaded only as a soft dependency: failing to load
	// it is not an error (crc32c-intel on a CPU without SSE 4.2, say).
	Soft bool
}

// Plan orders the modules that loading names needs, as modprobe would:
// for each module its "pre:" soft dependencies, then its dependencies from
// the last listed to the first (modules.dep lists the one loaded last
// first), then the module, then its "post:" soft dependencies. Each module
// appears once. Names it cannot resolve are returned as errors; the plan
// still holds everything else.
func (m *Modules) Plan(names []string) ([]LoadStep, []error) {
	p := planner{m: m, seen: map[string]bool{}, at: map[string]int{}}
	for _, n := range names {
		mods, err := m.resolve(n)
		if err != nil {
			p.errs = append(p.errs, err)
			continue
		}
		for _, mod := range mods {
			p.visit(mod, false)
		}
	}
	return p.steps, p.errs
}

type planner struct {
	m     *Modules
	seen  map[string]bool
	at    map[string]int // module → its index in steps
	steps []LoadStep
	errs  []error
}

func (p *planner) visit(name string, soft bool) {
	if p.seen[name] {
		if !soft {
			p.harden(name)
		}
		return
	}
	p.seen[name] = true // before the recursion: cycles end here
	e, ok := p.m.dep[name]
	if !ok {
		if !p.m.builtin[name] {
			p.errs = append(p.errs, fmt.Errorf("module %s: needed but not in modules.dep", name))
		}
		return
	}
	sd := p.m.soft[name]
	p.softdeps(sd.pre)
	for i := len(e.deps) - 1; i >= 0; i-- {
		p.visit(e.deps[i], soft)
	}
	p.at[name] = len(p.steps)
	p.steps = append(p.steps, LoadStep{Name: name, Path: e.path, Soft: soft})
	p.softdeps(sd.post)
}

// harden marks a module planned as a soft dependency, and what it depends
// on, as needed after all: a module that is both must load.
func (p *planner) harden(name string) {
	i, ok := p.at[name]
	if !ok || !p.steps[i].Soft {
		return
	}
	p.steps[i].Soft = false
	for _, d := range p.m.dep[name].deps {
		p.harden(d)
	}
}

// softdeps visits soft dependencies; one that names nothing known is
// skipped, as modprobe skips it.
func (p *planner) softdeps(names []string) {
	for _, n := range names {
		mods, err := p.m.resolve(n)
		if err != nil {
			continue
		}
		for _, mod := range mods {
			p.visit(mod, true)
		}
	}
}

// WantedModule is one line of a module list: a module (or alias) and the
// parameters to insert it with.
type WantedModule struct{ Name, Params string }

// ParseModuleList reads a module list in the format of Debian's
// /etc/modules: one module name a line, optionally followed by its
// parameters; # starts a comment.
func ParseModuleList(r io.Reader) ([]WantedModule, error) {
	var out []WantedModule
	err := eachLine("module list", r, func(line string) error {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			return nil
		}
		if strings.ContainsAny(f[0], "/=") {
			return fmt.Errorf("%q is not a module name", f[0])
		}
		out = append(out, WantedModule{Name: f[0], Params: strings.Join(f[1:], " ")})
		return nil
	})
	return out, err
}
