// Package ctl is Lobby's control socket (SPEC §5): the daemon's side, which
// serves the verbs, and the `lobby ctl` command, which calls them.
//
// The protocol is one JSON request and one JSON response per connection, so
// that the socket is easy to drive from a shell script with socat too:
//
//	→ {"verb":"auth","args":["02:00:00:00:01:01","2h"]}
//	← {"ok":true,"result":{…}}   or   {"ok":false,"error":"…"}
package ctl

import (
	"encoding/json"
	"time"

	"github.com/lobby-fw/lobby/internal/session"
)

// Request is what `lobby ctl` sends.
type Request struct {
	Verb string   `json:"verb"`
	Args []string `json:"args,omitempty"`
}

// Response is what the daemon answers.
type Response struct {
	OK     bool            `json:"ok"`
	Error  string          `json:"error,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
}

// Status is the result of `status` (SPEC §5).
type Status struct {
	Version       string         `json:"version"`
	UptimeSeconds int64          `json:"uptime_seconds"`
	Backend       string         `json:"backend"`
	Clients       map[string]int `json:"clients"`
}

// Client is one row of `clients` (SPEC §5).
type Client struct {
	MAC       string     `json:"mac"`
	IP        string     `json:"ip"`
	Hostname  string     `json:"hostname"`
	State     string     `json:"state"`
	Since     time.Time  `json:"since"`
	Expires   *time.Time `json:"expires"` // null: no limit, or not signed in
	BytesUp   uint64     `json:"bytes_up"`
	BytesDown uint64     `json:"bytes_down"`
}

func clientJSON(c session.Client) Client {
	out := Client{
		MAC: c.MAC.String(), Hostname: c.Hostname, State: c.State.String(),
		Since: c.Since.UTC().Truncate(time.Second), BytesUp: c.BytesUp, BytesDown: c.BytesDown,
	}
	if c.IP.IsValid() {
		out.IP = c.IP.String()
	}
	if !c.Expires.IsZero() {
		e := c.Expires.UTC().Truncate(time.Second)
		out.Expires = &e
	}
	return out
}

// verbs lists every verb with its argument synopsis, for usage and for the
// server's check of argument counts.
var verbs = []struct {
	name     string
	args     string
	min, max int
}{
	{"status", "", 0, 0},
	{"clients", "", 0, 0},
	{"auth", "MAC|IP [DURATION]", 1, 2},
	{"deauth", "MAC|IP", 1, 1},
	{"block", "MAC", 1, 1},
	{"unblock", "MAC", 1, 1},
	{"trust", "MAC", 1, 1},
	{"untrust", "MAC", 1, 1},
}
