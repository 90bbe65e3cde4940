package main

import (
	"log/slog"
	"net"
	"sync"

	"github.com/lobby-fw/lobby/internal/session"
)

// limits holds every signed-in client to its session's rates through the
// shaper (SPEC §3, Limits). The session table stays the one owner of who
// is signed in and of each session's rates (its grant: the sign-in
// method's, else config lobby's; ctl limit changes them): limits watches it
// and mirrors each change into one Set or Remove.
type limits struct {
	sh  rateSetter
	log *slog.Logger
	// mu orders the first pass over the table with the changes that the
	// watcher sees meanwhile.
	mu sync.Mutex
}

// rateSetter is what limits needs of the shaper.
type rateSetter interface {
	Set(mac net.HardwareAddr, down, up uint64) error
	Remove(mac net.HardwareAddr) error
}

// followLimits starts mirroring table into sh: it watches the table
// first, then sets every client already signed in (the persisted
// sessions), so none falls between the two.
func followLimits(sh rateSetter, table *session.Table, log *slog.Logger) *limits {
	l := &limits{sh: sh, log: log}
	table.Watch(l.onChange)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range table.Clients() {
		l.apply(c)
	}
	return l
}

func (l *limits) onChange(ch session.Change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.apply(ch.Client)
}

// apply sets one client's rates: a signed-in client has its session's,
// every other state none (a trusted client is never slowed). The caller
// holds mu.
func (l *limits) apply(c session.Client) {
	var err error
	if g := c.Grant; c.State == session.Authenticated && (g.DownloadRate > 0 || g.UploadRate > 0) {
		err = l.sh.Set(c.MAC, g.DownloadRate, g.UploadRate)
	} else {
		err = l.sh.Remove(c.MAC)
	}
	if err != nil {
		l.log.Error("shaper: rates not applied", "mac", c.MAC.String(), "err", err)
	}
}
