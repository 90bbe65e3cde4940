package appliance

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// loadModules inserts the modules listed in list (one name a line, as
// Debian's /etc/modules) and everything they need, from dir
// (/lib/modules/VERSION), with finit_module(2). A module that fails is
// logged and the rest are still loaded: a missing bridge module must not
// keep the NAT modules out. The error says how many failed.
func loadModules(dir, list string, log *slog.Logger) error {
	start := time.Now()
	wanted, err := readModuleList(list)
	if err != nil {
		return err
	}
	if len(wanted) == 0 {
		return nil
	}
	mods, err := openModules(dir)
	if err != nil {
		return err
	}
	names := make([]string, len(wanted))
	params := map[string]string{}
	for i, w := range wanted {
		names[i] = w.Name
		params[ModuleName(w.Name)] = w.Params
	}
	steps, errs := mods.Plan(names)
	for _, e := range errs {
		log.Error("modules: "+e.Error(), "list", list)
	}
	failed := len(errs)
	loaded := 0
	for _, s := range steps {
		err := finit(filepath.Join(dir, s.Path), params[s.Name])
		switch {
		case err == nil:
			loaded++
		case errors.Is(err, unix.EEXIST):
			// Already in the kernel: loaded as a dependency of a
			// module inserted by the kernel itself, or a second boot
			// step asked for it.
		case s.Soft:
			log.Debug("modules: optional module not loaded", "module", s.Name, "err", err)
		default:
			failed++
			log.Error("modules: load failed", "module", s.Name, "err", err)
		}
	}
	log.Info("modules: loaded", "count", loaded, "wanted", len(wanted), "took", time.Since(start).Round(time.Millisecond))
	if failed > 0 {
		return fmt.Errorf("modules: %d of the modules in %s (or what they need) could not be loaded", failed, list)
	}
	return nil
}

// openModules reads depmod's files in dir.
func openModules(dir string) (*Modules, error) {
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	open := func(name string, required bool) (*os.File, error) {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			if !required && errors.Is(err, os.ErrNotExist) {
				return nil, nil
			}
			return nil, fmt.Errorf("modules: %w (run depmod for this kernel when building the image)", err)
		}
		files = append(files, f)
		return f, nil
	}
	var mf ModuleFiles
	for _, x := range []struct {
		name     string
		required bool
		dst      *io.Reader
	}{
		{"modules.dep", true, &mf.Dep},
		{"modules.softdep", false, &mf.Softdep},
		{"modules.alias", false, &mf.Alias},
		{"modules.builtin", false, &mf.Builtin},
	} {
		f, err := open(x.name, x.required)
		if err != nil {
			return nil, err
		}
		if f != nil {
			*x.dst = f
		}
	}
	m, err := ParseModules(mf)
	if err != nil {
		return nil, fmt.Errorf("modules: %w", err)
	}
	return m, nil
}

// finit inserts one module file. The kernel reads the file itself, so
// nothing is copied through user space.
func finit(file, params string) error {
	fd, err := unix.Open(file, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: file, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.FinitModule(fd, params, 0); err != nil {
		return &os.PathError{Op: "finit_module", Path: file, Err: err}
	}
	return nil
}

// readModuleList reads a module list file; a missing file is an empty list.
func readModuleList(file string) ([]WantedModule, error) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("modules: %w", err)
	}
	defer f.Close()
	ws, err := ParseModuleList(f)
	if err != nil {
		return nil, fmt.Errorf("modules: %s: %w", file, err)
	}
	return ws, nil
}
