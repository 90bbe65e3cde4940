package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"

	"github.com/lobby-fw/lobby/internal/admin"
	"github.com/lobby-fw/lobby/internal/config"
	"github.com/lobby-fw/lobby/internal/uci"
)

// check is `lobby check`: exit 0 and a summary, or exit 2 and every
// problem as FILE:LINE: message. Unknown options count as errors here.
func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lobby check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", config.DefaultPath, "config file")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return 2
	}
	c, problems, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "lobby check: %v\n", err)
		return 2
	}
	if c != nil && c.Main.Interface != "" {
		// The pool and static hosts can only be checked against the
		// interface's subnet where the interface exists.
		if prefixes, err := interfacePrefixes(c.Main.Interface); err == nil {
			if err := c.Bind(prefixes); err != nil {
				problems = append(problems, err.(config.Problems)...)
				problems.Sort()
			}
		} else {
			fmt.Fprintf(stdout, "note: %v; the pool is checked against its subnet when lobby starts\n", err)
		}
	}
	if c != nil && c.Admin.PasswordHash != "" {
		if err := admin.CheckHash(c.Admin.PasswordHash); err != nil {
			problems = append(problems, config.Problem{Pos: uci.Pos{File: *path, Line: 1}, Msg: "config admin: option password_hash: " + err.Error() + "; set it with lobby passwd"})
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, p.Error())
		}
		fmt.Fprintf(stderr, "%s: %d problem(s)\n", *path, len(problems))
		return 2
	}
	fmt.Fprintf(stdout, "%s: valid\n", *path)
	describe(c, stdout)
	return 0
}

// interfacePrefixes lists the addresses of the named interface.
func interfacePrefixes(name string) ([]netip.Prefix, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", name, err)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", name, err)
	}
	var out []netip.Prefix
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			ip, _ := netip.AddrFromSlice(n.IP)
			bits, _ := n.Mask.Size()
			out = append(out, netip.PrefixFrom(ip.Unmap(), bits))
		}
	}
	return out, nil
}
