package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/lobby-fw/lobby/internal/config"
	"github.com/lobby-fw/lobby/internal/ctl"
	"github.com/lobby-fw/lobby/internal/neigh"
	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/store"
	"github.com/lobby-fw/lobby/internal/supervisor"
)

// run is `lobby run`: exit 0 after a clean stop on SIGTERM or SIGINT, 1 on
// a fatal error with one line on stderr.
func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("lobby run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", config.DefaultPath, "config file")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return 2
	}
	var level slog.LevelVar
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: &level}))
	if err := daemon(*path, log, &level); err != nil {
		fmt.Fprintf(stderr, "lobby: %v\n", err)
		return 1
	}
	return 0
}

// load reads the config for run: unknown options are only warnings, and the
// LAN interface must exist with an address.
func load(path string, log *slog.Logger) (*config.Config, error) {
	c, problems, err := config.Load(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	errs, unknown := problems.Split()
	if len(errs) > 0 {
		return nil, oneLine(errs)
	}
	for _, p := range unknown {
		log.Warn("config: ignored", "where", p.Pos.String(), "problem", p.Msg)
	}
	prefixes, err := interfacePrefixes(c.Main.Interface)
	if err != nil {
		return nil, fmt.Errorf("%v: create it or set option interface in %s", err, path)
	}
	if err := c.Bind(prefixes); err != nil {
		return nil, oneLine(err.(config.Problems))
	}
	return c, nil
}

// oneLine turns problems into the single line a fatal error gets.
func oneLine(ps config.Problems) error {
	if len(ps) == 1 {
		return ps[0]
	}
	return fmt.Errorf("%v (and %d more problems: lobby check lists them all)", ps[0], len(ps)-1)
}

func tableConfig(c *config.Config) session.Config {
	return session.Config{
		SessionTimeout: c.Main.SessionTimeout,
		IdleTimeout:    c.Main.IdleTimeout,
		TrustedMAC:     c.Main.TrustedMAC,
		BlockedMAC:     c.Main.BlockedMAC,
	}
}

// daemon wires the subsystems and runs them until a signal or a failure.
func daemon(path string, log *slog.Logger, level *slog.LevelVar) error {
	cfg, err := load(path, log)
	if err != nil {
		return err
	}
	level.Set(cfg.Main.LogLevel)
	if len(cfg.Interfaces) > 0 && os.Getpid() != 1 {
		log.Info("config: 'config interface' sections are for the appliance image; the system owns the interfaces here")
	}

	st, err := store.Open(cfg.Main.StateDir, store.Config{Logger: log})
	if err != nil {
		return fmt.Errorf("%w (option state_dir)", err)
	}
	defer st.Close()
	table := session.New(tableConfig(cfg), st, log)
	neighbours, err := neigh.New(cfg.Main.Interface, table, log)
	if err != nil {
		return err
	}
	defer neighbours.Close()
	table.SetResolver(neighbours.Resolve)
	ctlServer := &ctl.Server{
		Table: table, Version: version, Started: time.Now(), Log: log,
		Backend: func() string { return "none" },
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go reloadOnHUP(ctx, path, log, level, cfg, table)

	log.Info("lobby starting", "version", version, "interface", cfg.Main.Interface, "address", cfg.Main.Address)
	err = supervisor.Run(ctx, log,
		supervisor.Service{Name: "session", Run: func(ctx context.Context, ready func()) error {
			ready()
			return table.Run(ctx)
		}},
		supervisor.Service{Name: "neighbours", Run: neighbours.Run},
		supervisor.Service{Name: "ctl", Run: func(ctx context.Context, ready func()) error {
			l, err := ctl.Listen(cfg.Main.Socket)
			if err != nil {
				return err
			}
			ready()
			return ctlServer.Serve(ctx, l)
		}},
	)
	if err != nil {
		return err
	}
	log.Info("lobby stopped")
	return nil
}

// reloadOnHUP re-reads the config on SIGHUP and applies what can change
// without a restart. A broken file keeps the running config.
func reloadOnHUP(ctx context.Context, path string, log *slog.Logger, level *slog.LevelVar, cur *config.Config, table *session.Table) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		next, err := load(path, log)
		if err != nil {
			log.Error("reload: keeping the running config", "err", err)
			continue
		}
		if restart := needsRestart(cur, next); restart != nil {
			log.Warn("reload: these changes take effect at the next restart", "options", restart)
		}
		level.Set(next.Main.LogLevel)
		table.Reload(tableConfig(next))
		cur = next
		log.Info("reload: config applied", "file", path)
	}
}

// needsRestart names the changed options that a reload cannot apply.
func needsRestart(a, b *config.Config) error {
	var names []error
	for _, f := range []struct {
		name string
		same bool
	}{
		{"interface", a.Main.Interface == b.Main.Interface},
		{"address", a.Main.Address == b.Main.Address},
		{"port", a.Main.Port == b.Main.Port},
		{"state_dir", a.Main.StateDir == b.Main.StateDir},
		{"socket", a.Main.Socket == b.Main.Socket},
		{"firewall", a.Main.Firewall == b.Main.Firewall},
	} {
		if !f.same {
			names = append(names, errors.New(f.name))
		}
	}
	return errors.Join(names...)
}
