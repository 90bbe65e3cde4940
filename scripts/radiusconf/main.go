// Command radiusconf writes the config directory of a FreeRADIUS for the
// lab — the one internal/radius/radiustest runs for the tests, written by
// the same code (radiustest.WriteDir) — so that a script can run
// `freeradius -f -d DIR` itself: make demo does. It prints the shared
// secret of the clients it lets in.
//
//	go run ./scripts/radiusconf [-listen ADDR] [-clients PREFIX,...] [-users FILE] DIR
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/lobby-fw/lobby/internal/radius/radiustest"
)

func main() {
	listen := flag.String("listen", "127.0.0.1", "the address FreeRADIUS listens on (ports 1812 and 1813)")
	clients := flag.String("clients", "", "comma-separated networks allowed to ask (default: the listen address)")
	users := flag.String("users", "", "a users file (default: radiustest's)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: radiusconf [flags] DIR")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *listen, *clients, *users); err != nil {
		fmt.Fprintln(os.Stderr, "radiusconf:", err)
		os.Exit(1)
	}
	fmt.Println(radiustest.Secret)
}

func run(dir, listen, clients, users string) error {
	var o radiustest.Options
	var err error
	if o.Listen, err = netip.ParseAddr(listen); err != nil {
		return err
	}
	for _, c := range strings.Split(clients, ",") {
		if c == "" {
			continue
		}
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return err
		}
		o.Clients = append(o.Clients, p)
	}
	if users != "" {
		b, err := os.ReadFile(users)
		if err != nil {
			return err
		}
		o.Users = string(b)
	}
	// FreeRADIUS refuses a config directory others can write to.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	_, err = radiustest.WriteDir(dir, o)
	return err
}
