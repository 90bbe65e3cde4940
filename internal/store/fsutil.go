package store

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// keepCorrupt is how many set-aside files of each kind are kept. A few are
// enough to investigate; unlimited would let a dying flash chip, which
// corrupts the state on every boot, fill itself up.
const keepCorrupt = 5

// writeSynced creates (or truncates) path, writes data and, if sync is set,
// fsyncs it. On
// failure it removes the partial file so that a full disk is not made fuller.
// The returned file is still open when keepOpen is set (the journal keeps
// being appended to through it), and closed otherwise.
func writeSynced(path string, data []byte, flag int, keepOpen, sync bool) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW|flag, 0o600)
	if err != nil {
		return nil, err
	}
	_, err = f.Write(data)
	if err == nil && sync {
		err = f.Sync()
	}
	if err == nil && !keepOpen {
		err = f.Close()
		f = nil
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		os.Remove(path)
		return nil, err
	}
	return f, nil
}

// checkDir refuses a state directory that another user can write to (SPEC
// §4): whoever can write there can plant a journal that signs devices in,
// or a symbolic link that turns lobby's writes against another file. dir
// must be owned by lobby's user or root, and writable by neither its group
// nor others. A symbolic link naming dir itself is followed: it is the
// operator's (OpenWrt's /var is one), and the directory it leads to is the
// one checked.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("store: state directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("store: state directory %s is not a directory", dir)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("store: state directory %s: no owner to check", dir)
	}
	if euid := os.Geteuid(); st.Uid != uint32(euid) && st.Uid != 0 {
		return fmt.Errorf("store: state directory %s belongs to uid %d, not to lobby's user (uid %d) or root, so another user can change lobby's state: chown %d %s, or remove it and lobby creates it (mode 0700)",
			dir, st.Uid, euid, euid, dir)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("store: state directory %s is writable by other users (mode %04o), so they can change lobby's state: chmod go-w %s, or remove it and lobby creates it (mode 0700)",
			dir, perm, dir)
	}
	return nil
}

// readRegular reads the regular file at path without following a symbolic
// link (SPEC §4): a link, a FIFO, a device or a directory there is an
// error, and its target is never opened for reading or writing.
func readRegular(path string) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO must not wait for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, noFollowError(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
	}
	return io.ReadAll(f)
}

// noFollowError makes ELOOP, which open with O_NOFOLLOW returns for a
// symbolic link, say so.
func noFollowError(err error) error {
	if errors.Is(err, syscall.ELOOP) {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("%s is a symbolic link, which lobby does not follow in its state directory", pe.Path)
		}
	}
	return err
}

// syncDir fsyncs a directory, which is what makes a rename or a file creation
// in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	cerr := d.Close()
	if err != nil && (errors.Is(err, syscall.EINVAL) || errors.Is(err, errors.ErrUnsupported)) {
		// Some file systems cannot fsync a directory; there is nothing
		// more to be done on them.
		err = nil
	}
	if err != nil {
		return err
	}
	return cerr
}

// corruptName returns an unused name "<base>.corrupt-<unixnano>" in dir.
func corruptName(dir, base string) string {
	ns := time.Now().UnixNano()
	for {
		name := base + corruptInfix + strconv.FormatInt(ns, 10)
		if _, err := os.Lstat(filepath.Join(dir, name)); errors.Is(err, os.ErrNotExist) {
			return name
		}
		ns++
	}
}

// setAside renames dir/base to an unused corrupt name and returns that name.
func setAside(dir, base string) (string, error) {
	name := corruptName(dir, base)
	if err := os.Rename(filepath.Join(dir, base), filepath.Join(dir, name)); err != nil {
		return "", err
	}
	return name, nil
}

// saveAside writes data to a new corrupt-named file next to base.
func saveAside(dir, base string, data []byte) (string, error) {
	name := corruptName(dir, base)
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(filepath.Join(dir, name))
		return "", err
	}
	return name, nil
}

// pruneCorrupt removes all but the newest keepCorrupt set-aside copies of
// base. Errors are reported, not fatal: the files only take room.
func pruneCorrupt(dir, base string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	type aside struct {
		name string
		ns   int64
	}
	var found []aside
	prefix := base + corruptInfix
	for _, e := range entries {
		suffix, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		if ns, err := strconv.ParseInt(suffix, 10, 64); err == nil {
			found = append(found, aside{e.Name(), ns})
		}
	}
	if len(found) <= keepCorrupt {
		return nil
	}
	slices.SortFunc(found, func(a, b aside) int { return cmp.Compare(b.ns, a.ns) }) // newest first
	var errs []error
	for _, a := range found[keepCorrupt:] {
		if err := os.Remove(filepath.Join(dir, a.name)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// isNoSpace reports whether err means the disk (or quota) is full: a
// condition that may clear by itself, unlike a missing permission.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// pathError wraps err with the operation and file it concerns, unless it
// already names a path.
func pathError(op, path string, err error) error {
	var pe *os.PathError
	var le *os.LinkError
	if errors.As(err, &pe) || errors.As(err, &le) {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return fmt.Errorf("store: %s %s: %w", op, path, err)
}

// lockDir takes an exclusive, non-blocking flock on dir/lock. The kernel
// drops it when the process dies, so a crash never leaves the directory
// locked.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: %w", noFollowError(err))
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("store: %s is in use by another lobby (one daemon per state_dir)", dir)
		}
		return nil, fmt.Errorf("store: lock %s: %w", dir, err)
	}
	return f, nil
}
