package appliance

import (
	"context"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// reap collects every child process that exits, until ctx ends. As PID 1,
// lobby becomes the parent of every orphaned process; without a wait for
// each, their zombies would fill the process table. reaped, if not nil,
// is told of each one.
//
// It takes every child, also ones started with os/exec, whose Wait then
// fails with ECHILD; lobby as PID 1 starts no programs (the image has
// none besides itself), so only orphans ever come here.
func reap(ctx context.Context, reaped func(pid int, status unix.WaitStatus)) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGCHLD)
	defer signal.Stop(sigs)
	for {
		// SIGCHLDs merge: one signal may stand for many exits, so wait
		// until no exited child is left. A zombie from before Notify is
		// collected on the first pass.
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err == unix.EINTR {
				continue
			}
			if pid <= 0 || err != nil {
				break
			}
			if reaped != nil {
				reaped(pid, ws)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-sigs:
		}
	}
}
