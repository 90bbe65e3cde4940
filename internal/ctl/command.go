package ctl

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lobby-fw/lobby/internal/config"
)

// Exit statuses of `lobby ctl` (SPEC §1).
const (
	ExitOK     = 0
	ExitDaemon = 1
	ExitUsage  = 2
)

// Call sends one request to the daemon at socket and returns its result.
func Call(socket string, req Request) (json.RawMessage, error) {
	conn, err := net.DialTimeout("unix", socket, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("cannot reach lobby at %s: %w (is it running? is -s right?)", socket, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return nil, err
	}
	var resp Response
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		return nil, fmt.Errorf("reading lobby's answer: %w", err)
	}
	if !resp.OK {
		return nil, errors.New(resp.Error)
	}
	return resp.Result, nil
}

// Command is `lobby ctl [-s SOCKET] [-c FILE] [--json] VERB [ARG…]`.
func Command(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lobby ctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("s", "", "control socket (default: option socket of -c FILE, else /var/run/lobby.sock)")
	file := fs.String("c", config.DefaultPath, "config file to take the socket from")
	asJSON := fs.Bool("json", false, "print one JSON document")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: lobby ctl [-s SOCKET] [-c FILE] [--json] VERB [ARG]")
		fmt.Fprintln(stderr, "verbs:")
		for _, v := range verbs {
			fmt.Fprintf(stderr, "  %s\n", v.usage())
		}
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return ExitUsage
	}
	v, vargs, ok := findVerb(verbs, rest)
	if !ok || !v.takes(len(vargs)) {
		fmt.Fprintf(stderr, "lobby ctl: bad verb or arguments: %s\n", strings.Join(rest, " "))
		fs.Usage()
		return ExitUsage
	}
	if *socket == "" {
		*socket = socketFromConfig(*file)
	}
	res, err := Call(*socket, Request{Verb: v.name, Args: vargs})
	if err != nil {
		fmt.Fprintf(stderr, "lobby ctl: %v\n", err)
		return ExitDaemon
	}
	if *asJSON {
		var v any
		json.Unmarshal(res, &v)
		b, _ := json.MarshalIndent(v, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
		return ExitOK
	}
	show := v.print
	if show == nil {
		show = printClient
	}
	if err := show(stdout, res); err != nil {
		fmt.Fprintf(stderr, "lobby ctl: %v\n", err)
		return ExitDaemon
	}
	return ExitOK
}

// socketFromConfig follows the config's option socket so that an operator
// who moved it need not pass -s; a missing or broken file means the default.
func socketFromConfig(path string) string {
	c, _, err := config.Load(path)
	if err != nil || c == nil {
		return "/var/run/lobby.sock"
	}
	return c.Main.Socket
}

func printStatus(w io.Writer, res json.RawMessage) error {
	var s Status
	if err := json.Unmarshal(res, &s); err != nil {
		return err
	}
	fmt.Fprintf(w, "lobby %s, up %s, firewall %s\n", s.Version, time.Duration(s.UptimeSeconds)*time.Second, s.Backend)
	fmt.Fprintf(w, "clients: %d preauth, %d authenticated, %d trusted, %d blocked\n",
		s.Clients["preauth"], s.Clients["authenticated"], s.Clients["trusted"], s.Clients["blocked"])
	return nil
}

func printClientList(w io.Writer, res json.RawMessage) error {
	var cs []Client
	if err := json.Unmarshal(res, &cs); err != nil {
		return err
	}
	printClients(w, cs)
	return nil
}

func printClient(w io.Writer, res json.RawMessage) error {
	var c Client
	if err := json.Unmarshal(res, &c); err != nil {
		return err
	}
	printClients(w, []Client{c})
	return nil
}

func printClients(w io.Writer, cs []Client) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MAC\tIP\tHOSTNAME\tSTATE\tSINCE\tEXPIRES\tUP\tDOWN\tMETHOD\tLIMITS")
	for _, c := range cs {
		exp := "-"
		if c.Expires != nil {
			exp = c.Expires.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", c.MAC, dash(c.IP), dash(c.Hostname), c.State,
			c.Since.Local().Format(time.DateTime), exp, c.BytesUp, c.BytesDown, method(c), limits(c))
	}
	tw.Flush()
}

// method is the METHOD column: the method, with the user after a colon
// (voucher:ABCDE-FGHJK), or "-".
func method(c Client) string {
	switch {
	case c.Method == nil:
		return "-"
	case c.User != nil:
		return *c.Method + ":" + *c.User
	}
	return *c.Method
}

// limits is the LIMITS column: the rates and quota that the session has,
// as ctl limit takes them (download=2mbit upload=512kbit quota=300MB), or "-".
func limits(c Client) string {
	var ls []string
	if c.DownloadRate > 0 {
		ls = append(ls, "download="+config.FormatRate(c.DownloadRate))
	}
	if c.UploadRate > 0 {
		ls = append(ls, "upload="+config.FormatRate(c.UploadRate))
	}
	if c.Quota > 0 {
		ls = append(ls, "quota="+config.FormatSize(c.Quota))
	}
	if ls == nil {
		return "-"
	}
	return strings.Join(ls, " ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
