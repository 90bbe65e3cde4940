// Command lobby is captive-portal firmware for access-point routers: one
// binary that runs the whole guest network (SPEC §1). This package only
// reads the command line and wires the subsystems of internal/.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/lobby-fw/lobby/internal/ctl"
)

// Stamped by the Makefile with -ldflags -X.
var (
	version = "dev"
	commit  = "unknown"
	board   = "" // set by make cross: the board/ profile it was built for
)

func main() {
	if os.Getpid() == 1 {
		pid1() // the appliance image: lobby is init (appliance.go, -tags appliance)
	}
	os.Exit(lobby(os.Args[1:], os.Stdout, os.Stderr))
}

func lobby(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "run":
		return run(args[1:], stderr)
	case "check":
		return check(args[1:], stdout, stderr)
	case "ctl":
		return ctl.Command(args[1:], stdout, stderr)
	case "passwd":
		return passwd(args[1:], os.Stdin, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "lobby %s (commit %s, %s/%s", version, commit, runtime.GOOS, runtime.GOARCH)
		if board != "" {
			fmt.Fprintf(stdout, ", board %s", board)
		}
		fmt.Fprintf(stdout, ", %s)\n", runtime.Version())
		return 0
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "lobby: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  lobby run [-c FILE]                              run the hotspot until SIGTERM; SIGHUP reloads
  lobby check [-c FILE]                            validate the config and say what it would do
  lobby ctl [-s SOCKET] [--json] VERB [ARG]        talk to the running daemon (lobby ctl -h)
  lobby passwd [-c FILE]                           set the admin password (config admin)
  lobby version                                    version, commit and GOARCH
`)
}
