package main

import (
	"log/slog"
	"net"
	"sync/atomic"

	"github.com/lobby-fw/lobby/internal/admin"
	"github.com/lobby-fw/lobby/internal/metrics"
	"github.com/lobby-fw/lobby/internal/nas"
	"github.com/lobby-fw/lobby/internal/radius"
	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/signin"
	"github.com/lobby-fw/lobby/internal/store"
)

// aaa is the RADIUS side of lobby (SPEC §7), built whether or not config
// radius is in use so that a reload can turn it on or off: one client for
// the radius method, MAC authentication and accounting; the accounting of
// the table's sessions; the Dynamic Authorization Server on its port.
type aaa struct {
	client   *radius.Client
	queue    *radius.Accounting
	acct     *nas.Accounting
	das      *radius.DAS
	listener *nas.Listener
	// calledStation is the LAN interface's MAC (Called-Station-Id).
	calledStation net.HardwareAddr
	// inUse is config radius's enabled as of the last (re)load: the
	// Overview and /metrics show RADIUS only then.
	inUse atomic.Bool
}

// newAAA wires RADIUS to the table; register acct.Record with it.
func newAAA(r radiusConfig, iface string, table *session.Table, st *store.Store, log *slog.Logger) *aaa {
	a := &aaa{}
	if ifi, err := net.InterfaceByName(iface); err == nil {
		a.calledStation = ifi.HardwareAddr
	}
	a.client = radius.NewClient(a.clientConfig(r, log))
	a.queue = radius.NewAccounting(a.client, st, radius.AcctConfig{Logger: log})
	a.acct = nas.NewAccounting(acctConfig(r), nas.Options{Queue: a.queue, Table: table, Store: st, Log: log})
	dc := r.DAS
	dc.Logger = log
	a.das = radius.NewDAS(dc, nas.Sessions{Table: table})
	a.listener = nas.NewListener(a.das, dasPort(r), log)
	a.inUse.Store(r.Enabled)
	if r.Enabled && r.Client.Require == radius.RequireNever {
		warnUnsigned(log)
	}
	return a
}

func (a *aaa) clientConfig(r radiusConfig, log *slog.Logger) radius.Config {
	c := r.Client
	c.CalledStation, c.Logger = a.calledStation, log
	return c
}

func acctConfig(r radiusConfig) nas.Config {
	return nas.Config{On: r.Enabled && r.Client.AcctPort != 0, Interim: r.Interim}
}

func dasPort(r radiusConfig) uint16 {
	if !r.Enabled {
		return 0
	}
	return r.DASPort
}

func warnUnsigned(log *slog.Logger) {
	log.Warn("radius: require_message_authenticator '0': replies without a Message-Authenticator are accepted (BlastRADIUS, CVE-2024-3596)")
}

// signIn is what the sign-in methods are given of RADIUS: the client while
// config radius is in use.
func (a *aaa) signIn(r radiusConfig) signin.RADIUSConfig {
	if !r.Enabled {
		return signin.RADIUSConfig{}
	}
	return signin.RADIUSConfig{Client: a.client, MACAuth: r.MACAuth}
}

// reload hands each part its share of a new config radius.
func (a *aaa) reload(r radiusConfig, log *slog.Logger) {
	a.client.Reload(a.clientConfig(r, log))
	dc := r.DAS
	dc.Logger = log
	a.das.Reload(dc)
	a.acct.Reload(acctConfig(r))
	a.listener.Reload(dasPort(r))
	a.inUse.Store(r.Enabled)
	if r.Enabled && r.Client.Require == radius.RequireNever {
		warnUnsigned(log)
	}
}

// status is what the Overview shows of RADIUS; nil while it is not in
// use.
func (a *aaa) status() *admin.RADIUS {
	if !a.inUse.Load() {
		return nil
	}
	st := &admin.RADIUS{Waiting: a.queue.Pending(), Oldest: a.queue.Oldest()}
	for _, s := range a.client.Servers() {
		st.Servers = append(st.Servers, admin.RADIUSServer{Addr: s.Addr.String(), LastAnswer: s.LastAnswer, LastFailure: s.LastFailure, Up: s.Up()})
	}
	return st
}

// stats are the counters of requests of type t: the client's or the DAS's.
func (a *aaa) stats(t radius.Type) *radius.Stats {
	if t == radius.TypeCoA || t == radius.TypeDisconnect {
		return a.das.Stats()
	}
	return a.client.Stats()
}

// collect emits the RADIUS series of /metrics (SPEC §8) while RADIUS is
// in use: the client's requests and the DAS's, by type and outcome (every
// pair a type can have, from 0), their latency, the records waiting.
func (a *aaa) collect(emit metrics.Emit) {
	if !a.inUse.Load() {
		return
	}
	label := func(name, value string) metrics.Label { return metrics.Label{Name: name, Value: value} }
	for _, t := range radius.Types {
		for _, o := range t.Outcomes() {
			emit("lobby_radius_requests_total", "RADIUS requests by type and outcome (discarded: a reply to lobby or a request to its DAS that failed its checks).",
				metrics.Counter, float64(a.stats(t).Count(t, o)), label("type", t.String()), label("outcome", o.String()))
		}
	}
	for _, t := range radius.Types {
		a.stats(t).Latency(t).Emit(emit, "lobby_radius_request_duration_seconds",
			"Time of the RADIUS requests answered: lobby's from sending to the answer (every try and server it took), the DAS's to act on one.", label("type", t.String()))
	}
	emit("lobby_radius_accounting_waiting", "Accounting records waiting for a server's answer.", metrics.Gauge, float64(a.queue.Pending()))
}
