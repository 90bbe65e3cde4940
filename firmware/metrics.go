package main

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/lobby-fw/lobby/internal/admin"
	"github.com/lobby-fw/lobby/internal/config"
	"github.com/lobby-fw/lobby/internal/dhcp"
	"github.com/lobby-fw/lobby/internal/dns"
	"github.com/lobby-fw/lobby/internal/metrics"
	"github.com/lobby-fw/lobby/internal/responder"
	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/uci"
)

// sources are what /metrics reports on. A subsystem that reports joins
// as one more field here and its emit lines in collect.
type sources struct {
	table    *session.Table
	dhcp     *dhcp.Server
	dns      *dns.Server
	resp     *responder.Responder
	activity *metrics.Activity
	radius   *aaa
}

// signInMethods and signOutReasons are the label values of
// lobby_sign_ins_total and lobby_sign_outs_total: every one is written,
// 0 until it happens, so that a rate over them has no gaps.
var (
	signInMethods  = []session.Method{session.MethodClick, session.MethodVoucher, session.MethodRADIUS, session.MethodCtl}
	signOutReasons = []session.Reason{session.ReasonLogout, session.ReasonIdle, session.ReasonTimeout, session.ReasonQuota,
		session.ReasonAdmin, session.ReasonRevoked, session.ReasonRADIUS, session.ReasonBlocked}
)

// collect is the one place that turns the subsystems' counters into
// /metrics series (SPEC §8): a new series is one emit line here.
func (src sources) collect(emit metrics.Emit) {
	table, d, r, resp := src.table, src.dhcp, src.dns, src.resp
	label := func(name, value string) metrics.Label { return metrics.Label{Name: name, Value: value} }
	for _, st := range []session.State{session.Preauth, session.Authenticated, session.Trusted, session.Blocked} {
		emit("lobby_clients", "Clients known, by state.", metrics.Gauge, float64(table.Counts()[st]), label("state", st.String()))
	}
	for _, m := range signInMethods {
		emit("lobby_sign_ins_total", "Sessions begun, by sign-in method (ctl: lobby ctl and the admin pages).", metrics.Counter, float64(src.activity.SignIns(m)), label("method", string(m)))
	}
	for _, why := range signOutReasons {
		emit("lobby_sign_outs_total", "Sessions ended, by reason.", metrics.Counter, float64(src.activity.SignOuts(why)), label("reason", why.String()))
	}
	up, down := table.Forwarded()
	emit("lobby_forwarded_bytes_total", "Bytes forwarded for clients, by direction (up: from the client).", metrics.Counter, float64(up), label("direction", "up"))
	emit("lobby_forwarded_bytes_total", "Bytes forwarded for clients, by direction (up: from the client).", metrics.Counter, float64(down), label("direction", "down"))
	leases, pool := d.Leases()
	emit("lobby_dhcp_leases", "Running DHCP leases.", metrics.Gauge, float64(leases))
	emit("lobby_dhcp_pool_size", "Addresses in the DHCP pool.", metrics.Gauge, float64(pool))
	q := r.Stats()
	for _, k := range []struct {
		kind string
		n    uint64
	}{{"hijacked", q.Hijacked}, {"forwarded", q.Forwarded}, {"garden", q.Garden}, {"refused", q.Refused}} {
		emit("lobby_dns_queries_total", "DNS queries answered, by kind.", metrics.Counter, float64(k.n), label("kind", k.kind))
	}
	s := resp.Stats()
	answers, redirects := s.Answers.Load(), s.Redirects.Load()
	emit("lobby_http_captive_answers_total", "Plain-HTTP requests of clients not signed in answered, by status code.", metrics.Counter, float64(answers-redirects), label("code", "511"))
	emit("lobby_http_captive_answers_total", "Plain-HTTP requests of clients not signed in answered, by status code.", metrics.Counter, float64(redirects), label("code", "302"))
	src.radius.collect(emit)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	emit("process_resident_memory_bytes", "Resident memory of the lobby process.", metrics.Gauge, float64(residentBytes()))
	emit("go_memstats_sys_bytes", "Memory obtained from the system by the Go runtime.", metrics.Gauge, float64(ms.Sys))
	emit("go_memstats_heap_inuse_bytes", "Bytes in in-use heap spans.", metrics.Gauge, float64(ms.HeapInuse))
	emit("go_goroutines", "Goroutines that currently exist.", metrics.Gauge, float64(runtime.NumGoroutine()))
}

// residentBytes reads VmRSS from /proc/self/status; 0 where it cannot.
func residentBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// settings are what the Settings page edits, as the config file has it
// now: the texts and methods as config reads them, the limits as the file
// writes them.
func (r *reloader) settings() admin.Settings {
	c, _, err := config.Load(r.path)
	if err != nil || c == nil {
		return admin.Settings{}
	}
	st := admin.Settings{VenueName: c.Main.VenueName, Terms: c.Main.Terms, Auth: c.Main.Auth, RADIUS: c.RADIUS.Present, Limits: map[string]string{}}
	if f, err := uci.ParseFile(r.path); err == nil {
		for _, l := range admin.LimitOptions {
			for _, sec := range f.Sections {
				if o := sec.Option(l.Option); sec.Type == l.Type && o != nil && !o.List {
					st.Limits[l.Key()] = o.String()
					break
				}
			}
		}
	}
	return st
}

// saveSettings writes the admin pages' settings into config lobby, click
// and voucher of the file, keeping the rest of it, and reloads as a SIGHUP
// would. Config reads them: a file it would refuse is not written.
func (r *reloader) saveSettings(st admin.Settings) error {
	data, err := os.ReadFile(r.path)
	if err != nil {
		return err
	}
	out, err := uci.Set(r.path, data, "lobby", "main", "venue_name", st.VenueName)
	if err == nil {
		out, err = uci.Set(r.path, out, "lobby", "main", "terms", st.Terms)
	}
	if err == nil && st.Auth != nil {
		out, err = uci.SetList(r.path, out, "lobby", "main", "auth", st.Auth)
	}
	for _, l := range admin.LimitOptions {
		v, ok := st.Limits[l.Key()]
		switch {
		case err != nil || !ok:
		case v == "": // not set: the default, or config lobby's
			out, err = uci.SetList(r.path, out, l.Type, sectionName(l.Type), l.Option, nil)
		default:
			out, err = uci.Set(r.path, out, l.Type, sectionName(l.Type), l.Option, v)
		}
	}
	if err != nil {
		return err
	}
	f, err := uci.Parse(r.path, bytes.NewReader(out))
	if err != nil {
		return err
	}
	if _, ps := config.Parse(f); len(ps) > 0 {
		if errs, _ := ps.Split(); len(errs) > 0 {
			return errors.New(errs[0].Error())
		}
	}
	if err := uci.WriteFile(r.path, out); err != nil {
		return err
	}
	return r.reload()
}

// sectionName is the name a section of type typ gets when Settings adds
// it (uci.Set finds an existing one by its type).
func sectionName(typ string) string {
	if typ == "lobby" {
		return "main"
	}
	return typ
}
