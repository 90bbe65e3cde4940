package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/lobby-fw/lobby/internal/config"
	"github.com/lobby-fw/lobby/internal/ctl"
	"github.com/lobby-fw/lobby/internal/dhcp"
	"github.com/lobby-fw/lobby/internal/dns"
	"github.com/lobby-fw/lobby/internal/firewall"
	"github.com/lobby-fw/lobby/internal/memlimit"
	"github.com/lobby-fw/lobby/internal/neigh"
	"github.com/lobby-fw/lobby/internal/portal"
	"github.com/lobby-fw/lobby/internal/relay"
	"github.com/lobby-fw/lobby/internal/responder"
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
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if os.Getenv("GOMEMLIMIT") == "" {
		// A soft limit that follows the live heap keeps the collector's
		// spare room small on routers with 64-128 MB of RAM (10,000 leases:
		// ~31 MB RSS without a limit) without starving a big site of CPU.
		go memlimit.Run(ctx, 2*time.Second)
	}
	if err := daemon(ctx, *path, log, &level); err != nil {
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
	if !c.Main.Enabled {
		return c, nil // nothing will run, so the interface need not exist
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
		MaxClients:     c.Main.MaxClients,
	}
}

// daemon wires the subsystems and runs them until ctx ends (a signal, or
// the appliance shutting down) or a failure.
func daemon(ctx context.Context, path string, log *slog.Logger, level *slog.LevelVar) error {
	cfg, err := load(path, log)
	if err != nil {
		return err
	}
	level.Set(cfg.Main.LogLevel)
	if !cfg.Main.Enabled {
		log.Info("lobby is disabled (option enabled '0'); not starting", "config", path)
		return nil
	}
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
	fw, err := firewall.New(cfg, table, log)
	if err != nil {
		return err
	}
	dhcpServer, err := dhcp.New(cfg, table, st, log)
	if err != nil {
		return err
	}
	resolver, err := dns.New(cfg, table, fw, log)
	if err != nil {
		return err
	}
	portalServer, err := portal.New(portal.Config{
		Address: cfg.Main.Address, Port: cfg.Main.Port, Hostname: cfg.Main.Hostname,
		TLSCert: cfg.Main.TLSCert, TLSKey: cfg.Main.TLSKey, TLSPort: cfg.Main.TLSPort,
		VenueName: cfg.Main.VenueName, Terms: cfg.Main.Terms, TemplateDir: cfg.Main.TemplateDir,
		Table: table, Log: log,
	})
	if err != nil {
		return err
	}
	httpResponder, err := responder.New(responder.Config{
		Interface: cfg.Main.Interface, Portal: netip.AddrPortFrom(cfg.Main.Address, cfg.Main.Port),
		ProbeRedirect: cfg.Main.ProbeRedirect, AllowAddress: cfg.Main.AllowAddress,
		Garden: fw.InGarden,
	}, table, log)
	if err != nil {
		return err
	}
	relayHTTP, relayTLS := cfg.Main.RelayPorts()
	postSignIn := relay.New(relay.Config{
		HTTP: netip.AddrPortFrom(cfg.Main.Address, relayHTTP),
		TLS:  netip.AddrPortFrom(cfg.Main.Address, relayTLS),
	}, table, resolver, log)
	ctlServer := &ctl.Server{
		Table: table, Version: version, Started: time.Now(), Log: log,
		Backend: fw.Backend,
	}

	go reloadOnHUP(ctx, path, log, level, cfg, table, resolver, portalServer)

	log.Info("lobby starting", "version", version, "interface", cfg.Main.Interface, "address", cfg.Main.Address)
	err = supervisor.Run(ctx, log,
		supervisor.Service{Name: "session", Run: func(ctx context.Context, ready func()) error {
			ready()
			return table.Run(ctx)
		}},
		supervisor.Service{Name: "firewall", Run: fw.Run},
		supervisor.Service{Name: "neighbours", Run: neighbours.Run},
		supervisor.Service{Name: "dhcp", Run: dhcpServer.Run},
		supervisor.Service{Name: "dns", Run: resolver.Run},
		supervisor.Service{Name: "portal", Run: portalServer.Run},
		supervisor.Service{Name: "responder", Run: httpResponder.Run},
		supervisor.Service{Name: "relay", Run: postSignIn.Run},
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
func reloadOnHUP(ctx context.Context, path string, log *slog.Logger, level *slog.LevelVar, cur *config.Config, table *session.Table, resolver *dns.Server, pages *portal.Server) {
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
		resolver.Reload(next)
		pages.Reload()
		cur = next
		log.Info("reload: config applied", "file", path)
	}
}

// needsRestart names the changed options that a reload cannot apply, so
// that the log says so instead of ignoring them. (The portal re-reads its
// certificate and page files on SIGHUP itself; their paths and the texts
// take a restart.)
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
		{"allow_address", slices.Equal(a.Main.AllowAddress, b.Main.AllowAddress)},
		{"probe_redirect", slices.Equal(a.Main.ProbeRedirect, b.Main.ProbeRedirect)},
		{"tls_cert, tls_key or tls_port", a.Main.TLSCert == b.Main.TLSCert && a.Main.TLSKey == b.Main.TLSKey && a.Main.TLSPort == b.Main.TLSPort},
		{"venue_name, terms or template_dir", a.Main.VenueName == b.Main.VenueName && a.Main.Terms == b.Main.Terms && a.Main.TemplateDir == b.Main.TemplateDir},
		{"config dhcp or config host", sameDHCP(a, b)},
	} {
		if !f.same {
			names = append(names, errors.New(f.name))
		}
	}
	return errors.Join(names...)
}

// sameDHCP compares what the DHCP server was started with (not where in the
// file it was written).
func sameDHCP(a, b *config.Config) bool {
	da, db := a.DHCP, b.DHCP
	if da.Enabled != db.Enabled || da.Start != db.Start || da.Limit != db.Limit ||
		da.LeaseTime != db.LeaseTime || da.Domain != db.Domain || len(a.Hosts) != len(b.Hosts) {
		return false
	}
	for i, h := range a.Hosts {
		g := b.Hosts[i]
		if h.MAC.String() != g.MAC.String() || h.IP != g.IP || h.Name != g.Name {
			return false
		}
	}
	return true
}
