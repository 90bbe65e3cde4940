package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lobby-fw/lobby/internal/admin"
	"github.com/lobby-fw/lobby/internal/config"
	"github.com/lobby-fw/lobby/internal/ctl"
	"github.com/lobby-fw/lobby/internal/dhcp"
	"github.com/lobby-fw/lobby/internal/dns"
	"github.com/lobby-fw/lobby/internal/firewall"
	"github.com/lobby-fw/lobby/internal/memlimit"
	"github.com/lobby-fw/lobby/internal/metrics"
	"github.com/lobby-fw/lobby/internal/neigh"
	"github.com/lobby-fw/lobby/internal/portal"
	"github.com/lobby-fw/lobby/internal/relay"
	"github.com/lobby-fw/lobby/internal/responder"
	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/shaper"
	"github.com/lobby-fw/lobby/internal/signin"
	"github.com/lobby-fw/lobby/internal/store"
	"github.com/lobby-fw/lobby/internal/supervisor"
	"github.com/lobby-fw/lobby/internal/voucher"
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

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	g := derive(cfg)
	st, err := store.Open(cfg.Main.StateDir, store.Config{Logger: log})
	if err != nil {
		return fmt.Errorf("%w (option state_dir)", err)
	}
	defer st.Close()
	table := session.New(g.Session, st, log)
	neighbours, err := neigh.New(cfg.Main.Interface, table, log)
	if err != nil {
		return err
	}
	defer neighbours.Close()
	table.SetResolver(neighbours.Resolve)
	// The table learns a client's IPv6 addresses from its sign-in on
	// (option ipv6; a trusted client's always): the neighbour entries the
	// kernel made before then are reported again.
	table.Watch(func(ch session.Change) {
		s := ch.Client.State
		if (s == session.Authenticated || s == session.Trusted) && (s != ch.Old || ch.Event == session.SignIn || ch.By == "config") {
			neighbours.Relearn(ch.Client.MAC)
		}
	})
	// RADIUS (SPEC §7): accounting follows the table from its first
	// change, each Start and Stop saved with the change it records.
	rad := newAAA(g.RADIUS, cfg.Main.Interface, table, st, log)
	table.Record(rad.acct.Record)
	fw, err := firewall.New(g.Firewall, table, log)
	if err != nil {
		return err
	}
	table.SetSettle(fw.Settle)
	dhcpServer, err := dhcp.New(g.DHCP, table, st, log)
	if err != nil {
		return err
	}
	resolver, err := dns.New(g.DNS, table, fw, log)
	if err != nil {
		return err
	}
	// The codes and the sign-in methods, once the table is loaded: the
	// voucher method frees the seats of devices no longer signed in.
	book := voucher.New(st, voucher.Config{Logger: log})
	g.SignIn.RADIUS = rad.signIn(g.RADIUS)
	signIn, err := signin.New(g.SignIn, signin.Options{Table: table, Store: st, Book: book, Log: log})
	if err != nil {
		return err
	}
	table.Watch(signIn.Watch)
	pc := g.Portal
	pc.Table, pc.SignIn, pc.Log = table, signIn, log
	portalServer, err := portal.New(pc)
	if err != nil {
		return err
	}
	rc := g.Responder
	rc.Garden = fw.InGarden
	httpResponder, err := responder.New(rc, table, log)
	if err != nil {
		return err
	}
	postSignIn := relay.New(g.Relay, table, resolver, log)
	rateShaper := shaper.New(g.Shaper, log)
	followLimits(rateShaper, table, log)
	ctlServer := &ctl.Server{
		Table: table, Vouchers: signIn.Voucher(), Version: version, Started: time.Now(), Log: log,
		Backend: fw.Backend,
	}

	activity := metrics.NewActivity(table.Forwarded, nil)
	table.Watch(activity.Watch)
	var rl *reloader // the admin pages' Settings reload through it
	adminServer, err := admin.New(g.Admin, admin.Deps{
		Table: table, Vouchers: signIn.Voucher(), Activity: activity,
		Status: func() admin.Status {
			leases, pool := dhcpServer.Leases()
			return admin.Status{Started: ctlServer.Started, Backend: fw.Backend(), Leases: leases, Pool: pool, DHCPEnabled: pool > 0, RADIUS: rad.status()}
		},
		Collect:  sources{table, dhcpServer, resolver, httpResponder, activity, rad}.collect,
		Settings: func() admin.Settings { return rl.settings() },
		Save:     func(st admin.Settings) error { return rl.saveSettings(st) },
		Log:      log,
	})
	if err != nil {
		return err
	}

	// A reload hands each subsystem its part of the new config.
	apply := func(g given) error {
		// The methods and the portal may refuse what they are given
		// (a method not built in; pages, a certificate): then nothing
		// changes anywhere else.
		g.SignIn.RADIUS = rad.signIn(g.RADIUS)
		if err := signIn.Reload(g.SignIn); err != nil {
			return err
		}
		if err := portalServer.Reload(g.Portal); err != nil {
			return err
		}
		level.Set(g.LogLevel)
		table.Reload(g.Session)
		dhcpServer.Reload(g.DHCP)
		resolver.Reload(g.DNS)
		fw.Reload(g.Firewall)
		httpResponder.Reload(g.Responder)
		adminServer.Reload(g.Admin)
		rad.reload(g.RADIUS, log)
		return nil
	}
	rl = &reloader{path: path, log: log, running: cfg, apply: apply, stop: stop}
	go rl.onHUP(ctx)

	log.Info("lobby starting", "version", version, "interface", cfg.Main.Interface, "address", cfg.Main.Address)
	err = supervisor.Run(ctx, log,
		supervisor.Service{Name: "session", Run: func(ctx context.Context, ready func()) error {
			ready()
			return table.Run(ctx)
		}},
		supervisor.Service{Name: "firewall", Run: fw.Run},
		supervisor.Service{Name: "shaper", Run: rateShaper.Run},
		supervisor.Service{Name: "neighbours", Run: neighbours.Run},
		supervisor.Service{Name: "dhcp", Run: dhcpServer.Run},
		supervisor.Service{Name: "dns", Run: resolver.Run},
		supervisor.Service{Name: "signin", Run: signIn.Run},
		supervisor.Service{Name: "accounting", Run: rad.acct.Run},
		supervisor.Service{Name: "das", Run: rad.listener.Run},
		supervisor.Service{Name: "portal", Run: portalServer.Run},
		supervisor.Service{Name: "responder", Run: httpResponder.Run},
		supervisor.Service{Name: "relay", Run: postSignIn.Run},
		supervisor.Service{Name: "admin", Run: adminServer.Run},
		supervisor.Service{Name: "activity", Run: activity.Run},
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

// reloader re-reads the config and applies every option but those marked
// restart (SPEC §5), which keep their running values and are named in the
// log. A broken file keeps the running config; option enabled '0' stops
// lobby, as at start. SIGHUP and the admin pages' Settings reload through
// it, one at a time.
type reloader struct {
	mu      sync.Mutex
	path    string
	log     *slog.Logger
	running *config.Config
	apply   func(given) error
	stop    func()
}

// onHUP reloads on every SIGHUP until ctx ends.
func (r *reloader) onHUP(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		r.reload()
	}
}

// reload is one SIGHUP's work.
func (r *reloader) reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	next, err := load(r.path, r.log)
	if err != nil {
		r.log.Error("reload: keeping the running config", "err", err)
		return err
	}
	if !next.Main.Enabled {
		r.log.Info("reload: lobby is disabled (option enabled '0'); stopping", "config", r.path)
		r.stop()
		return nil
	}
	if restart := config.Pin(next, r.running); len(restart) > 0 {
		r.log.Warn("reload: these options take effect at the next restart", "options", strings.Join(restart, ", "))
	}
	if err := r.apply(derive(next)); err != nil {
		r.log.Error("reload: keeping the running config", "err", err)
		return err
	}
	r.log.Info("reload: config applied", "file", r.path)
	return nil
}
