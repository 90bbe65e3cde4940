package appliance

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// mount is one file system the appliance mounts at boot.
type mount struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
}

// systemMounts are the file systems a Linux userland needs, in order: the
// kernel's views first (/proc, /sys, /dev), then the scratch places. /dev
// is devtmpfs, so device nodes appear as drivers find devices; there is no
// udev.
func systemMounts() []mount {
	const secure = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	return []mount{
		{"proc", "/proc", "proc", secure, ""},
		{"sysfs", "/sys", "sysfs", secure, ""},
		{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID | unix.MS_NOEXEC, "mode=0755"},
		{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "mode=0620,ptmxmode=0666"},
		{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755"},
		{"tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777"},
	}
}

// mountAll mounts ms under root ("/" at boot; a scratch directory in
// tests). A target that is already a mount point (the kernel mounted
// devtmpfs itself, or lobby runs a second time) is left alone. Every
// failure is reported, prefixed with its target, and the rest still
// mounted.
func mountAll(root string, ms []mount) error {
	var errs []error
	for _, m := range ms {
		target := filepath.Join(root, m.target)
		if err := os.MkdirAll(target, 0o755); err != nil {
			errs = append(errs, fmt.Errorf("mount %s: %w", m.target, err))
			continue
		}
		err := unix.Mount(m.source, target, m.fstype, m.flags, m.data)
		if err != nil && !errors.Is(err, unix.EBUSY) {
			errs = append(errs, fmt.Errorf("mount %s (%s): %w", m.target, m.fstype, err))
		}
	}
	return errors.Join(errs...)
}

// mountState mounts the persistent state device at dir, waiting up to wait
// for its driver to make the device node appear. device is a path
// (/dev/vda2) or LABEL=NAME, the label of an ext2/3/4 file system: the
// same image then finds its state on virtio, SATA or USB disks. Without a device, or
// when it does not mount, dir becomes a tmpfs so the daemon still runs;
// the returned error says that sessions will not survive a reboot. It
// returns the device it mounted, "" for the tmpfs.
func mountState(device, dir string, wait time.Duration) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("state: %w", err)
	}
	fallback := func(cause error) (string, error) {
		if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil && !errors.Is(err, unix.EBUSY) {
			return "", fmt.Errorf("state: %v; and tmpfs at %s: %w", cause, dir, err)
		}
		return "", fmt.Errorf("state: %w; using a tmpfs at %s: sessions and leases will not survive a reboot", cause, dir)
	}
	if device == "" {
		return fallback(errors.New("no state device (kernel parameter lobby.state=DEVICE, set by the board profile's STATE_DEVICE)"))
	}
	spec := device
	deadline := time.Now().Add(wait)
	for {
		var err error
		if label, ok := strings.CutPrefix(spec, "LABEL="); ok {
			device, err = findLabel(label)
		} else {
			_, err = os.Stat(device)
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fallback(fmt.Errorf("device %s did not appear within %s: %w", spec, wait, err))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// ext4 first (journaled, so a power cut loses nothing the store
	// synced), then vfat for boards whose only writable flash is FAT.
	var tried []string
	for _, fs := range []string{"ext4", "vfat"} {
		err := unix.Mount(device, dir, fs, unix.MS_NOATIME|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
		if err == nil || errors.Is(err, unix.EBUSY) {
			return device, nil
		}
		tried = append(tried, fs+": "+err.Error())
	}
	return fallback(fmt.Errorf("mount %s at %s: %s", device, dir, strings.Join(tried, "; ")))
}

// unmountState flushes and unmounts the state file system, so that the
// next boot finds it clean. If something still holds it, it is remounted
// read-only instead: what was synced stays.
func unmountState(dir string, log *slog.Logger) {
	unix.Sync()
	err := unix.Unmount(dir, 0)
	if err == nil || errors.Is(err, unix.EINVAL) { // EINVAL: not a mount point
		return
	}
	log.Warn("state: unmount failed; remounting read-only", "dir", dir, "err", err)
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		log.Error("state: remount read-only failed", "dir", dir, "err", err)
	}
}

// findLabel returns the block device (/dev/NAME) holding an ext2/3/4 file
// system labelled label. Without udev there is no /dev/disk/by-label: the
// devices are listed from sysfs and their superblocks read.
func findLabel(label string) (string, error) {
	ents, err := os.ReadDir("/sys/class/block")
	if err != nil {
		return "", err
	}
	buf := make([]byte, extProbeLen)
	for _, e := range ents {
		dev := "/dev/" + e.Name()
		f, err := os.Open(dev)
		if err != nil {
			continue
		}
		_, err = io.ReadFull(f, buf)
		f.Close()
		if err != nil {
			continue
		}
		if l, ok := extLabel(buf); ok && l == label {
			return dev, nil
		}
	}
	return "", fmt.Errorf("no ext4 file system labelled %q among %d block devices", label, len(ents))
}
