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
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
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
	// Method and User are null unless the client is signed in (User also
	// for click and ctl); the limits 0 (none) then.
	Method       *string `json:"method"`
	User         *string `json:"user"`
	DownloadRate uint64  `json:"download_rate"` // bit/s
	UploadRate   uint64  `json:"upload_rate"`   // bit/s
	Quota        uint64  `json:"quota"`         // bytes up + down of the session
	// IPv6 are the IPv6 addresses learned for the client (option ipv6;
	// a trusted client's always): absent when none.
	IPv6 []string `json:"ipv6,omitempty"`
	// Ended is why the client's last session ended ("quota": its data
	// allowance is used up), while it is not signed in; absent when none.
	Ended string `json:"ended,omitempty"`
}

func clientJSON(c session.Client) Client {
	out := Client{
		MAC: c.MAC.String(), Hostname: c.Hostname, State: c.State.String(),
		Since: c.Since.UTC().Truncate(time.Second), BytesUp: c.BytesUp, BytesDown: c.BytesDown,
	}
	if c.IP.IsValid() {
		out.IP = c.IP.String()
	}
	if c.Ended != 0 {
		out.Ended = c.Ended.String()
	}
	for _, a := range c.IPv6 {
		out.IPv6 = append(out.IPv6, a.String())
	}
	if !c.Expires.IsZero() {
		e := c.Expires.UTC().Truncate(time.Second)
		out.Expires = &e
	}
	if g := c.Grant; g.Method != "" {
		m := string(g.Method)
		out.Method = &m
	}
	if g := c.Grant; g.User != "" {
		out.User = &g.User
	}
	out.DownloadRate, out.UploadRate, out.Quota = c.Grant.DownloadRate, c.Grant.UploadRate, c.Grant.Quota
	return out
}

// verb is one `lobby ctl` verb: the one place that says what it takes, how
// the daemon does it and how its result prints. A name of two words
// ("voucher create") is a verb of its own.
type verb struct {
	name     string
	args     string // synopsis, for usage
	min, max int    // how many arguments it takes
	// do is the daemon's side; what it returns is the result, in JSON.
	do func(s *Server, ctx context.Context, args []string) (any, error)
	// print writes the result for a person; nil prints the client row
	// that the verbs which change a client return.
	print func(w io.Writer, res json.RawMessage) error
}

// verbs are the verbs of SPEC §5, in the order usage lists them.
var verbs = []verb{
	{name: "status", do: (*Server).status, print: printStatus},
	{name: "clients", do: (*Server).clients, print: printClientList},
	{name: "auth", args: "MAC|IP [DURATION]", min: 1, max: 2, do: (*Server).auth},
	{name: "deauth", args: "MAC|IP", min: 1, max: 1, do: (*Server).deauth},
	{name: "limit", args: "MAC|IP [download=RATE] [upload=RATE] [quota=BYTES] [expires=DURATION]", min: 2, max: 5, do: (*Server).limit},
	{name: "block", args: "MAC", min: 1, max: 1, do: byMAC((*session.Table).SetBlocked, true)},
	{name: "unblock", args: "MAC", min: 1, max: 1, do: byMAC((*session.Table).SetBlocked, false)},
	{name: "trust", args: "MAC", min: 1, max: 1, do: byMAC((*session.Table).SetTrusted, true)},
	{name: "untrust", args: "MAC", min: 1, max: 1, do: byMAC((*session.Table).SetTrusted, false)},
	{name: "voucher create", args: voucherCreateArgs, min: 0, max: 8, do: (*Server).voucherCreate, print: printCodes},
	{name: "voucher list", do: (*Server).voucherList, print: printCodes},
	{name: "voucher show", args: "CODE", min: 1, max: 1, do: (*Server).voucherShow, print: printCode},
	{name: "voucher revoke", args: "CODE", min: 1, max: 1, do: (*Server).voucherRevoke, print: printCode},
}

// findVerb is the verb of vs named by the first words of args (the one of
// most words, should "voucher" and "voucher create" both be verbs), and the
// arguments after its name.
func findVerb(vs []verb, args []string) (verb, []string, bool) {
	var found verb
	n := 0
	for _, v := range vs {
		words := strings.Fields(v.name)
		if len(words) > n && len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			found, n = v, len(words)
		}
	}
	if n == 0 {
		return verb{}, nil, false
	}
	return found, args[n:], true
}

// lookupVerb is the verb of vs called name.
func lookupVerb(vs []verb, name string) (verb, bool) {
	for _, v := range vs {
		if v.name == name {
			return v, true
		}
	}
	return verb{}, false
}

// takes reports whether v takes n arguments.
func (v verb) takes(n int) bool { return n >= v.min && n <= v.max }

// usage is v's line in the usage text.
func (v verb) usage() string { return strings.TrimSpace(v.name + " " + v.args) }
