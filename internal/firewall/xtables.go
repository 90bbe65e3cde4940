package firewall

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// xtables runs one of the iptables binaries (iptables, ip6tables, or their
// -legacy variants). It does what the iptables backend needs and no more:
// the commands below, each with --wait, errors that name the command and
// carry its exit status and stderr. It replaces github.com/coreos/go-iptables,
// whose version parsing links package regexp: 58 KB of xz on the MIPS
// boards (measured on ath79 and ramips-mt7621), for the one thing lobby
// asks of the binary's version — that it is 1.6 or later, which every
// OpenWrt and Debian release since 2017 ships (--wait SECONDS, -C).
type xtables struct {
	path string
}

// xtablesWait is the --wait of every command: how long to wait for the
// xtables lock that other tools (fw4's iptables-nft shim, a user's
// script) may hold.
const xtablesWait = "5"

func newXtables(name string) (*xtables, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --version: %w", path, err)
	}
	if !xtablesVersionOK(string(out)) {
		return nil, fmt.Errorf("%s is %q: lobby needs iptables 1.6 or later", path, strings.TrimSpace(string(out)))
	}
	return &xtables{path: path}, nil
}

// xtablesVersionOK reads `iptables --version` ("iptables v1.8.9
// (nf_tables)", "ip6tables-legacy v1.8.7 (legacy)") and reports whether
// it is 1.6 or later.
func xtablesVersionOK(out string) bool {
	for _, f := range strings.Fields(out) {
		v, ok := strings.CutPrefix(f, "v")
		if !ok {
			continue
		}
		major, rest, _ := strings.Cut(v, ".")
		minor, _, _ := strings.Cut(rest, ".")
		ma, err1 := strconv.Atoi(major)
		mi, err2 := strconv.Atoi(minor)
		if err1 == nil && err2 == nil {
			return ma > 1 || ma == 1 && mi >= 6
		}
	}
	return false
}

// xtablesError is a command that exited with a status other than 0.
type xtablesError struct {
	args   []string
	status int
	stderr string
}

func (e *xtablesError) Error() string {
	return fmt.Sprintf("running %s: exit status %d: %s", strings.Join(e.args, " "), e.status, strings.TrimSpace(e.stderr))
}

// run runs the binary with args (and --wait), its output into stdout
// when that is not nil.
func (x *xtables) run(stdout *bytes.Buffer, args ...string) error {
	args = append(args, "--wait", xtablesWait)
	var stderr bytes.Buffer
	cmd := exec.Command(x.path, args...)
	if stdout != nil {
		cmd.Stdout = stdout
	}
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &xtablesError{args: cmd.Args, status: ee.ExitCode(), stderr: stderr.String()}
	}
	return err
}

// status1 turns exit status 1, which -C and -S answer for "no such rule"
// or "no such chain", into false.
func status1(err error) (bool, error) {
	var xe *xtablesError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &xe) && xe.status == 1:
		return false, nil
	}
	return false, err
}

func (x *xtables) NewChain(table, chain string) error { return x.run(nil, "-t", table, "-N", chain) }

func (x *xtables) DeleteChain(table, chain string) error { return x.run(nil, "-t", table, "-X", chain) }

// ClearChain empties chain, making it if it does not exist.
func (x *xtables) ClearChain(table, chain string) error {
	if ok, err := x.ChainExists(table, chain); err != nil {
		return err
	} else if !ok {
		return x.NewChain(table, chain)
	}
	return x.run(nil, "-t", table, "-F", chain)
}

// ChainExists lists the chain's first rule only: -S is content with a
// rule number past the end, as long as the chain is there.
func (x *xtables) ChainExists(table, chain string) (bool, error) {
	return status1(x.run(nil, "-t", table, "-S", chain, "1"))
}

func (x *xtables) Append(table, chain string, spec ...string) error {
	return x.run(nil, append([]string{"-t", table, "-A", chain}, spec...)...)
}

func (x *xtables) Insert(table, chain string, pos int, spec ...string) error {
	return x.run(nil, append([]string{"-t", table, "-I", chain, strconv.Itoa(pos)}, spec...)...)
}

func (x *xtables) Delete(table, chain string, spec ...string) error {
	return x.run(nil, append([]string{"-t", table, "-D", chain}, spec...)...)
}

func (x *xtables) DeleteById(table, chain string, n int) error {
	return x.run(nil, "-t", table, "-D", chain, strconv.Itoa(n))
}

func (x *xtables) Exists(table, chain string, spec ...string) (bool, error) {
	return status1(x.run(nil, append([]string{"-t", table, "-C", chain}, spec...)...))
}

// List is the chain's -S listing, a rule a line.
func (x *xtables) List(table, chain string) ([]string, error) {
	return x.list("-t", table, "-S", chain)
}

// ListWithCounters is List with each rule's counters as `-c PACKETS
// BYTES`.
func (x *xtables) ListWithCounters(table, chain string) ([]string, error) {
	return x.list("-t", table, "-v", "-S", chain)
}

func (x *xtables) list(args ...string) ([]string, error) {
	var out bytes.Buffer
	if err := x.run(&out, args...); err != nil {
		return nil, err
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		if l != "" {
			lines = append(lines, counterSuffix(l))
		}
	}
	return lines, nil
}

// counterSuffix moves the counters that some iptables-nft releases print
// in iptables-save's form in front of a rule ("[3:180] -A …") to the end
// as -S -v prints them ("-A … -c 3 180").
func counterSuffix(line string) string {
	c, rest, ok := strings.Cut(line, "] ")
	if !ok || !strings.HasPrefix(c, "[") {
		return line
	}
	pkts, bytes, ok := strings.Cut(c[1:], ":")
	if !ok {
		return line
	}
	return rest + " -c " + pkts + " " + bytes
}
