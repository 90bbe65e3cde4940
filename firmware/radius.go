package main

import (
	"log/slog"
	"net"

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
	acct     *nas.Accounting
	das      *radius.DAS
	listener *nas.Listener
	// calledStation is the LAN interface's MAC (Called-Station-Id).
	calledStation net.HardwareAddr
}

// newAAA wires RADIUS to the table; register acct.Watch with it.
func newAAA(r radiusConfig, iface string, table *session.Table, st *store.Store, log *slog.Logger) *aaa {
	a := &aaa{}
	if ifi, err := net.InterfaceByName(iface); err == nil {
		a.calledStation = ifi.HardwareAddr
	}
	a.client = radius.NewClient(a.clientConfig(r, log))
	queue := radius.NewAccounting(a.client, st, radius.AcctConfig{Logger: log})
	a.acct = nas.NewAccounting(acctConfig(r), nas.Options{Queue: queue, Table: table, Log: log})
	dc := r.DAS
	dc.Logger = log
	a.das = radius.NewDAS(dc, nas.Sessions{Table: table})
	a.listener = nas.NewListener(a.das, dasPort(r), log)
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
	if r.Enabled && r.Client.Require == radius.RequireNever {
		warnUnsigned(log)
	}
}
