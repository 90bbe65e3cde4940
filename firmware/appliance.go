//go:build appliance

package main

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/lobby-fw/lobby/internal/appliance"
	"github.com/lobby-fw/lobby/internal/config"
	"github.com/lobby-fw/lobby/internal/ctl"
)

// pid1 is lobby as the whole userland of the appliance image (SPEC §6):
// the appliance boots the system, then runs the same daemon as `lobby
// run`. It never returns. Only the appliance profiles build it (their
// TAGS=appliance): the OpenWrt builds save its flash, and a container that
// runs lobby as its PID 1 gets plain `lobby`.
func pid1() {
	var level slog.LevelVar
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: &level}))
	path := config.DefaultPath
	appliance.Run(appliance.Config{
		ConfigPath: path,
		Daemon:     func(ctx context.Context) error { return daemon(ctx, path, log, &level) },
		Ctl: func(args []string, out io.Writer) int {
			return ctl.Command(append([]string{"-c", path}, args...), out, out)
		},
		Log:     log,
		Version: version,
	})
}
