// Package appliance is lobby as PID 1: the whole userland of the appliance
// image (SPEC §6), in the spirit of gokrazy. Run boots the system as a list
// of short steps with raw system calls (mount file systems, insert kernel
// modules, bring up LAN and WAN from the `config interface` sections, NAT
// LAN to WAN, mount the persistent state), runs the daemon, reaps orphans,
// and reboots or powers off cleanly when asked.
//
// A step that fails is logged with its name as prefix ("modules: …",
// "state: …") and the boot goes on: an appliance that half-boots can still
// show what is wrong on its console, one that stops cannot.
//
// Stopping: the serial console takes `reboot` and `poweroff` (and `ctl …`
// for lobby ctl); signals follow busybox init: SIGTERM and SIGINT (which
// the kernel sends on Ctrl-Alt-Del) reboot, SIGUSR1, SIGUSR2 and SIGPWR
// power off.
package appliance

import (
	"context"
	"io"
	"log/slog"
	"time"
)

// Config is what Run needs from the binary it is part of.
type Config struct {
	// ConfigPath is lobby's UCI file, /etc/config/lobby in the image.
	ConfigPath string
	// Daemon runs every service until ctx ends, like `lobby run` (which
	// ends on signals instead): nil after a clean stop.
	Daemon func(ctx context.Context) error
	// Ctl runs one `lobby ctl` command line (without "ctl"), printing to
	// out, for the serial console; it returns the exit status.
	Ctl func(args []string, out io.Writer) int
	// Log is where boot steps and the daemon log: the console.
	Log *slog.Logger
	// Version names the build in the boot banner.
	Version string
}

// Where the image keeps things. The board profile's STATE_DEVICE reaches
// Run as the kernel parameter lobby.state=DEVICE.
const (
	// StateMount is where the persistent state device is mounted; the
	// image's default config puts state_dir below it.
	StateMount = "/perm"
	// ModuleList names the kernel modules to load, one a line.
	ModuleList = "/etc/modules"
	// ResolvConf is written with the uplinks' nameservers.
	ResolvConf = "/etc/resolv.conf"
)

// Bounds of the boot steps that wait for hardware or the network.
const (
	// deviceWait bounds the wait for a network or disk device whose
	// driver is probing.
	deviceWait = 10 * time.Second
	// uplinkWait bounds the wait for the first DHCP lease on the uplinks
	// before the services start; the client keeps trying afterwards.
	uplinkWait = 10 * time.Second
	// daemonStopWait bounds a clean stop of the services at shutdown.
	daemonStopWait = 30 * time.Second
	// restartMin and restartMax space restarts of a daemon that failed.
	restartMin = 2 * time.Second
	restartMax = 60 * time.Second
)
