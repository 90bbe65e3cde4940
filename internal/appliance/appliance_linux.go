package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lobby-fw/lobby/internal/config"
)

// Run is lobby's life as PID 1: boot, run the daemon (again after a
// failure), then reboot or power off when asked. It never returns: the
// kernel panics when init exits.
func Run(c Config) {
	log := c.Log
	start := time.Now()
	log.Info("boot: lobby is PID 1", "version", c.Version, "arch", runtime.GOARCH)
	ctx, cancel := context.WithCancel(context.Background())
	power := make(chan Power, 1)
	request := func(p Power) {
		select {
		case power <- p:
		default: // a stop is already asked for
		}
	}
	a := &appliance{cfg: c, log: log, resolv: newResolvConf(ResolvConf)}
	// Signals first: Go's default for an unhandled SIGTERM or SIGINT is
	// to exit, and init must never exit. One that comes during the boot
	// waits in power until the boot is done.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGUSR1, unix.SIGUSR2, unix.SIGPWR, unix.SIGHUP)
	go a.signals(sigs, request)
	// Orphans are reaped for the life of the machine, shutdown included.
	go reap(context.Background(), func(pid int, ws unix.WaitStatus) {
		log.Debug("reaped an orphan", "pid", pid, "status", ws.ExitStatus())
	})
	a.boot()
	log.Info("boot: done", "took", time.Since(start).Round(time.Millisecond))

	if in := consoleInput(); in != nil {
		con := &console{in: in, out: os.Stdout, ctl: c.Ctl, power: request, mem: writeMem}
		go con.serve(ctx)
	}
	daemonDone := make(chan struct{})
	go func() {
		defer close(daemonDone)
		a.runDaemon(ctx)
	}()

	p := <-power
	log.Info("shutdown: stopping the services", "then", p.String())
	cancel()
	select {
	case <-daemonDone:
	case <-time.After(daemonStopWait):
		log.Error("shutdown: the services did not stop in time; going on", "waited", daemonStopWait)
	}
	a.shutdown(p)
	select {} // reached only if reboot(2) failed: init must never exit
}

// appliance is the state of one boot.
type appliance struct {
	cfg    Config
	log    *slog.Logger
	resolv *resolvConf
	// persistent reports whether StateMount holds the state device.
	persistent bool
	// uplinks are stopped (leases released) at shutdown.
	dhcpCancel context.CancelFunc
	dhcpDone   sync.WaitGroup
	nat        bool
}

// boot runs the boot steps in order. Each logs its own failure and the
// boot goes on.
func (a *appliance) boot() {
	log := a.log
	if err := mountAll("/", systemMounts()); err != nil {
		log.Error("boot: " + err.Error())
	}
	if err := userland(); err != nil {
		log.Error("boot: " + err.Error())
	}
	// Ctrl-Alt-Del sends SIGINT to init instead of resetting at once, so
	// that it is a clean reboot.
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF); err != nil {
		log.Warn("boot: ctrl-alt-del stays a hard reset", "err", err)
	}
	params := map[string]string{}
	if b, err := os.ReadFile("/proc/cmdline"); err == nil {
		params = kernelParams(string(b))
	}
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	release := unix.ByteSliceToString(uts.Release[:])
	if err := loadModules(filepath.Join("/lib/modules", release), ModuleList, log); err != nil {
		log.Error(err.Error())
	}
	dev, err := mountState(params["lobby.state"], StateMount, deviceWait)
	a.persistent = dev != ""
	if err != nil {
		log.Error(err.Error())
	} else {
		log.Info("state: mounted", "device", dev, "spec", params["lobby.state"], "at", StateMount)
	}

	cfg, problems, err := config.Load(a.cfg.ConfigPath)
	if err != nil {
		log.Error("boot: config: " + err.Error())
		return
	}
	if errs, _ := problems.Split(); len(errs) > 0 {
		// The daemon reports these too; the interfaces may still be fine.
		log.Warn("boot: config has problems; lobby check lists them", "first", errs[0].Error())
	}
	if !strings.HasPrefix(filepath.Clean(cfg.Main.StateDir)+"/", StateMount+"/") || !a.persistent {
		log.Warn("state: sessions and leases will not survive a reboot", "state_dir", cfg.Main.StateDir, "persistent", StateMount, "mounted", a.persistent)
	}
	links, err := PlanLinks(cfg)
	if err != nil {
		log.Error("net: " + strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	if err := setupLinks(links, deviceWait, log); err != nil {
		log.Error("net: " + strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	a.uplinks(links, wanOpenings(cfg))
}

// uplinks sets up NAT with the WAN side's openings and the DHCP clients,
// and waits a moment for the first leases so that the resolver starts
// with upstreams.
func (a *appliance) uplinks(links []Link, open []wanOpening) {
	var names []string
	var static []Link
	for _, l := range links {
		if l.Uplink {
			names = append(names, l.Name)
		}
		if l.Proto == "static" && len(l.DNS) > 0 {
			static = append(static, l)
		}
	}
	for _, l := range static {
		if err := a.resolv.set(l.Section, l.DNS); err != nil {
			a.log.Error("net: " + err.Error())
		}
	}
	if err := setupNAT(names, open); err != nil {
		a.log.Error(err.Error())
	} else if len(names) > 0 {
		a.nat = true
		a.log.Info("nat: masquerading LAN traffic", "out", strings.Join(names, ","), "table", "inet "+natTable)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.dhcpCancel = cancel
	var bound []chan struct{}
	for _, l := range links {
		if !l.Uplink || l.Proto != "dhcp" {
			continue
		}
		d := newDHCPClient(l, a.resolv, a.log)
		bound = append(bound, d.bound)
		a.dhcpDone.Add(1)
		go func() {
			defer a.dhcpDone.Done()
			d.run(ctx)
		}()
	}
	deadline := time.After(uplinkWait)
	for _, b := range bound {
		select {
		case <-b:
		case <-deadline:
			a.log.Warn("net: no DHCP lease on an uplink yet; starting the services, the client keeps trying", "waited", uplinkWait)
			return
		}
	}
}

// userland makes the few paths a Linux program expects that an initramfs
// of one binary lacks.
func userland() error {
	var errs []error
	for _, d := range []string{"/etc", "/var"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.Symlink("/run", "/var/run"); err != nil && !errors.Is(err, os.ErrExist) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("userland: %w", err)
	}
	return nil
}

// runDaemon runs the daemon until ctx ends, restarting it after a failure
// with a growing pause: an appliance has no one to restart it.
func (a *appliance) runDaemon(ctx context.Context) {
	wait := restartMin
	for {
		started := time.Now()
		err := a.cfg.Daemon(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > restartMax {
			wait = restartMin // it ran a while: a fresh failure
		}
		a.log.Error("lobby stopped; restarting", "err", err, "in", wait)
		if !sleep(ctx, wait) {
			return
		}
		wait = min(wait*2, restartMax)
	}
}

// signals turns the signals init gets into stop requests, as busybox init
// reads them, for the life of the machine: Go ends the process on a signal
// nothing was notified of, and init must never exit. SIGHUP is left to the
// daemon's own handler (it reloads the config); here it only must not kill.
func (a *appliance) signals(sigs <-chan os.Signal, request func(Power)) {
	for s := range sigs {
		p := Reboot
		switch s {
		case unix.SIGHUP:
			continue
		case unix.SIGUSR1, unix.SIGUSR2, unix.SIGPWR:
			p = PowerOff
		}
		a.log.Info("signal: stopping", "signal", s.String(), "then", p.String())
		request(p)
	}
}

// shutdown undoes the boot and ends the machine: leases released, NAT
// removed, every other process stopped, the state file system synced and
// unmounted, then reboot(2).
func (a *appliance) shutdown(p Power) {
	log := a.log
	if a.dhcpCancel != nil {
		a.dhcpCancel()
		done := make(chan struct{})
		go func() { a.dhcpDone.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			log.Warn("shutdown: DHCP clients did not stop in time")
		}
	}
	if a.nat {
		if err := removeNAT(); err != nil {
			log.Warn("shutdown: " + err.Error())
		}
	}
	// Nothing else should run, but anything that does gets a moment.
	if err := unix.Kill(-1, unix.SIGTERM); err == nil {
		time.Sleep(500 * time.Millisecond)
		unix.Kill(-1, unix.SIGKILL)
	}
	if a.persistent {
		unmountState(StateMount, log)
	}
	unix.Sync()
	cmd := unix.LINUX_REBOOT_CMD_RESTART
	if p == PowerOff {
		cmd = unix.LINUX_REBOOT_CMD_POWER_OFF
	}
	log.Info("shutdown: " + p.String())
	if err := unix.Reboot(cmd); err != nil {
		log.Error("shutdown: reboot(2) failed; halting here", "err", err)
	}
}

// consoleInput opens the console for reading commands: a file description
// of its own, non-blocking so that closing it ends the reader (fds 0-2
// share the kernel's, which must stay blocking for the log). nil when
// there is no console.
func consoleInput() *os.File {
	f, err := os.OpenFile("/dev/console", os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return nil
	}
	return f
}
