//go:build e2e

package main

// Rates, end to end (SPEC §3, Limits): the real lobby shapes a signed-in
// client of the lab to config lobby's rates, measured with iperf3 against
// the lab's internet, while a trusted client in the same run is not held
// back; a clean stop leaves nothing of it in the kernel.

import (
	"encoding/json"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// iperf3 runs a 10 s TCP test from lab client k to the lab's internet
// (down: the internet sends) and returns what was received, in bit/s,
// leaving out the first second (slow start, HTB's first burst).
func iperf3(t *testing.T, k int, port string, down bool) float64 {
	t.Helper()
	args := []string{"iperf3", "-c", "198.51.100.10", "-p", port, "-t", "10", "-O", "1", "-J"}
	if down {
		args = append(args, "-R")
	}
	out, err := inNS(t, clientNS(k), args...)
	if err != nil {
		t.Errorf("client %d: iperf3: %v\n%s", k, err, out)
		return 0
	}
	var r struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Errorf("client %d: iperf3's report: %v\n%s", k, err, out)
	}
	return r.End.SumReceived.BitsPerSecond
}

// TestShaper runs on both firewall backends: the shaper is the same, the
// firewall that lets the clients through differs.
func TestShaper(t *testing.T) {
	if _, err := exec.LookPath("iperf3"); err != nil {
		t.Skip("iperf3 not installed (scripts/deps.sh installs it)")
	}
	for _, backend := range []string{"nftables", "iptables"} {
		t.Run(backend, func(t *testing.T) {
			if backend == "iptables" {
				fwLegacyPath(t)
			}
			testShaper(t, backend)
		})
	}
}

func testShaper(t *testing.T, backend string) {
	fwStatic(t, 1)
	fwStatic(t, 2)
	// An iperf3 server per client on the lab's internet, each for one
	// test at a time.
	for _, port := range []string{"5201", "5202"} {
		srv := exec.Command("ip", "netns", "exec", inetNS, "iperf3", "-s", "-p", port)
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	}
	const down, up = 8e6, 4e6
	d := newDaemon(t, "option firewall '"+backend+"'", "option download_rate '8mbit'", "option upload_rate '4mbit'",
		"list trusted_mac '"+clientMAC(2)+"'")
	d.start()
	if _, errOut, code := d.ctl("auth", clientMAC(1)); code != 0 {
		t.Fatalf("ctl auth: %s", errOut)
	}
	if !fwWaitOrigin(t, clientNS(1), true) || !fwWaitOrigin(t, clientNS(2), true) {
		t.Fatal("the clients do not reach the internet")
	}

	for _, dir := range []struct {
		name  string
		down  bool
		limit float64
	}{{"download", true, down}, {"upload", false, up}} {
		var limited, free float64
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); limited = iperf3(t, 1, "5201", dir.down) }()
		go func() { defer wg.Done(); free = iperf3(t, 2, "5202", dir.down) }()
		wg.Wait()
		t.Logf("%s: signed in (limited to %.0f Mbit/s) %.2f Mbit/s, trusted %.1f Mbit/s", dir.name, dir.limit/1e6, limited/1e6, free/1e6)
		// The rate counts Ethernet frames; iperf3 counts TCP payload, at
		// most 1448 bytes of a 1514-byte frame: 95.6 % of the rate. Want
		// at least 90 % of that.
		if ceiling := dir.limit * 1448 / 1514; limited < 0.90*ceiling || limited > 1.05*dir.limit {
			t.Errorf("%s of the signed-in client: %.2f Mbit/s, want 90-105 %% of the %.2f Mbit/s of TCP payload that %.0f Mbit/s of frames carry", dir.name, limited/1e6, ceiling/1e6, dir.limit/1e6)
		}
		if free < 4*dir.limit {
			t.Errorf("%s of the trusted client: %.2f Mbit/s, held back", dir.name, free/1e6)
		}
	}

	if code := d.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("lobby exited %d", code)
	}
	qdiscs := mustNS(t, routerNS, "tc", "qdisc", "show", "dev", lanIface)
	if strings.Contains(qdiscs, "htb") || strings.Contains(qdiscs, "ingress") {
		t.Errorf("after the stop, %s has:\n%s", lanIface, qdiscs)
	}
	if out, err := inNS(t, routerNS, "ip", "link", "show", "lby-"+lanIface); err == nil {
		t.Errorf("after the stop, the IFB is still there:\n%s", out)
	}
	if out := mustNS(t, routerNS, "tc", "class", "show", "dev", lanIface); strings.TrimSpace(out) != "" {
		t.Errorf("after the stop, classes are left:\n%s", out)
	}
}
