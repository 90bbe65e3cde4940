//go:build e2e

package main

// Helpers for the DHCP end-to-end tests: real clients (busybox udhcpc, ISC
// dhclient, dhcpcd) run in the lab's client namespaces and report what
// they got through a script that writes its environment to a file.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dhcpConfig is baseConfig plus a `config dhcp` section and more sections.
func dhcpConfig(d *lobbyProc, sections ...string) string {
	return baseConfig(d.dir) + `
config dhcp 'dhcp'
	option start '100'
	option limit '150'
	option leasetime '2h'
	option domain 'lan'
` + strings.Join(sections, "\n")
}

// lease is what a client's script saw at one event.
type lease map[string]string

// envScript writes a client script that appends, for each event, one line
// "EVENT <event>" and then every variable of its environment as
// "<name>=<value>", to out. With configure set (udhcpc only) it also puts
// the address on the interface, so that the client can renew by unicast.
func envScript(t *testing.T, out string, configure bool) string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "dhcp-script")
	body := "#!/bin/sh\n"
	if configure {
		body += `case "$1" in
bound|renew) ip addr replace "$ip/${mask:-24}" dev "$interface" ;;
deconfig) ip addr flush dev "$interface" scope global ;;
esac
`
	}
	// udhcpc passes the event as $1, dhclient and dhcpcd as $reason.
	body += fmt.Sprintf(`{ echo "EVENT ${1:-$reason}"; env | sed -n 's/^\([a-z_][a-z_0-9]*=\)/\1/p'; echo END; } >> %q
`, out)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

// readEvents parses the file an envScript writes.
func readEvents(t *testing.T, path string) (events []string, leases []lease) {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cur lease
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "EVENT "):
			events = append(events, strings.TrimPrefix(line, "EVENT "))
			cur = lease{"event": strings.TrimPrefix(line, "EVENT ")}
		case line == "END":
			leases = append(leases, cur)
		case cur != nil:
			if k, v, ok := strings.Cut(line, "="); ok {
				cur[k] = v
			}
		}
	}
	return events, leases
}

// waitEvent waits until the script reported the n-th (from 1) event whose
// name is in names, and returns that event's environment.
func waitEvent(t *testing.T, path string, n int, timeout time.Duration, names ...string) lease {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, leases := readEvents(t, path)
		seen := 0
		for _, l := range leases {
			for _, name := range names {
				if l["event"] == name {
					seen++
					if seen == n {
						return l
					}
				}
			}
		}
		if time.Now().After(deadline) {
			events, _ := readEvents(t, path)
			t.Fatalf("no %v event #%d within %v; events: %v", names, n, timeout, events)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// flushClient removes what a client left on its interface.
func flushClient(ns string) {
	exec.Command("ip", "-n", ns, "addr", "flush", "dev", "eth0", "scope", "global").Run()
	exec.Command("ip", "-n", ns, "-4", "route", "flush", "dev", "eth0").Run()
}

// udhcpcOnce runs busybox udhcpc in ns until it has a lease or gives up
// (-n), and returns the lease; extra goes on udhcpc's command line.
func udhcpcOnce(t *testing.T, ns string, extra ...string) (lease, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "events")
	script := envScript(t, out, false)
	args := append([]string{"busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-t", "4", "-T", "1", "-s", script}, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("udhcpc in %s: %v\n%s", ns, err, log)
	}
	_, leases := readEvents(t, out)
	for _, l := range leases {
		if l["event"] == "bound" {
			return l, nil
		}
	}
	return nil, fmt.Errorf("udhcpc in %s exited without a bound event\n%s", ns, log)
}

// udhcpcDaemon starts busybox udhcpc in the foreground in ns, configuring
// the address it gets; it is killed when the test ends. Its script's
// events go to the returned file.
func udhcpcDaemon(t *testing.T, ns string, extra ...string) (*exec.Cmd, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "events")
	script := envScript(t, out, true)
	args := append([]string{"netns", "exec", ns, "busybox", "udhcpc", "-f", "-i", "eth0", "-t", "10", "-T", "1", "-s", script}, extra...)
	// ip netns exec execs udhcpc itself, so signals reach it.
	cmd := exec.Command("ip", args...)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		flushClient(ns)
		if t.Failed() {
			t.Logf("udhcpc in %s:\n%s", ns, log.String())
		}
	})
	return cmd, out
}

// dhclientOnce runs ISC dhclient in ns until it is bound, stops it and
// returns the lease.
func dhclientOnce(t *testing.T, ns string) lease {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "events")
	script := envScript(t, out, false)
	pidFile := filepath.Join(dir, "dhclient.pid")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// -1: one try; dhclient forks into the background once bound, and the
	// cleanup stops that process through its pid file.
	log, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "dhclient", "-4", "-1", "-v",
		"-sf", script, "-lf", filepath.Join(dir, "leases"), "-pf", pidFile, "eth0").CombinedOutput()
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			var pid int
			if _, err := fmt.Sscan(string(b), &pid); err == nil && pid > 1 {
				if p, err := os.FindProcess(pid); err == nil {
					p.Kill()
				}
			}
		}
		flushClient(ns)
	})
	if err != nil {
		t.Fatalf("dhclient in %s: %v\n%s", ns, err, log)
	}
	return waitEvent(t, out, 1, 5*time.Second, "BOUND")
}

// dhcpcdOnce runs dhcpcd in ns until it has a lease (it exits then) and
// returns the lease. dhcpcd keeps its pid file, control socket and lease
// files in fixed places under /run and /var/lib, so it runs in a mount
// namespace of its own with empty ones: another lab's dhcpcd on an
// interface of the same name must not collide with it.
func dhcpcdOnce(t *testing.T, ns string) lease {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "events")
	script := envScript(t, out, false)
	conf := filepath.Join(dir, "dhcpcd.conf")
	if err := os.WriteFile(conf, []byte(`option subnet_mask, routers, domain_name_servers, domain_name, dhcp_lease_time
noipv4ll
ipv4only
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sh := fmt.Sprintf(`mount -t tmpfs tmpfs /run && mkdir -p /run/dhcpcd && mount -t tmpfs tmpfs /var/lib/dhcpcd && exec dhcpcd -f %q -c %q -1 -4 -B -t 30 eth0`, conf, script)
	log, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "unshare", "-m", "sh", "-c", sh).CombinedOutput()
	t.Cleanup(func() { flushClient(ns) })
	if err != nil {
		t.Fatalf("dhcpcd in %s: %v\n%s", ns, err, log)
	}
	return waitEvent(t, out, 1, 5*time.Second, "BOUND")
}
