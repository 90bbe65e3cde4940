//go:build e2e

package main

// Rates, end to end (SPEC §3, Limits): the real lobby shapes two signed-in
// clients of the lab, one to config lobby's rates and one to those of
// `ctl limit`, measured with iperf3 against the lab's internet at the same
// time as a trusted client that is not held back; a clean stop leaves
// nothing of it in the kernel.

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
	for k := 1; k <= 3; k++ {
		fwStatic(t, k)
	}
	// An iperf3 server per client on the lab's internet, each for one
	// test at a time.
	ports := map[int]string{1: "5201", 2: "5202", 3: "5203"}
	for _, port := range ports {
		srv := exec.Command("ip", "netns", "exec", inetNS, "iperf3", "-s", "-p", port)
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	}
	// Client 1 has config lobby's rates, client 3 its own (ctl limit),
	// client 2 is trusted: never slowed.
	d := newDaemon(t, "option firewall '"+backend+"'", "option download_rate '8mbit'", "option upload_rate '8mbit'",
		"list trusted_mac '"+clientMAC(2)+"'")
	d.start()
	for _, k := range []int{1, 3} {
		if _, errOut, code := d.ctl("auth", clientMAC(k)); code != 0 {
			t.Fatalf("ctl auth: %s", errOut)
		}
	}
	if _, errOut, code := d.ctl("limit", clientMAC(3), "download=4mbit", "upload=4mbit"); code != 0 {
		t.Fatalf("ctl limit: %s", errOut)
	}
	for k := 1; k <= 3; k++ {
		if !fwWaitOrigin(t, clientNS(k), true) {
			t.Fatalf("client %d does not reach the internet", k)
		}
	}
	limit := map[int]float64{1: 8e6, 3: 4e6}

	// All three at once each way: each limited client gets its own rate
	// of TCP payload (what a speed test shows: docs/shaper.md), while
	// the trusted one moves far more.
	for _, dir := range []struct {
		name string
		down bool
	}{{"download", true}, {"upload", false}} {
		got := map[int]float64{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for k, port := range ports {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := iperf3(t, k, port, dir.down)
				mu.Lock()
				got[k] = r
				mu.Unlock()
			}()
		}
		wg.Wait()
		t.Logf("%s: client 1 (8 Mbit/s) %.2f Mbit/s, client 3 (4 Mbit/s) %.2f Mbit/s, trusted %.1f Mbit/s",
			dir.name, got[1]/1e6, got[3]/1e6, got[2]/1e6)
		for _, k := range []int{1, 3} {
			if r := got[k] / limit[k]; r < 0.90 || r > 1.05 {
				t.Errorf("%s of client %d: %.2f Mbit/s, %.1f %% of its %.0f Mbit/s; want 90-105 %%",
					dir.name, k, got[k]/1e6, 100*r, limit[k]/1e6)
			}
		}
		if got[2] < 100e6 {
			t.Errorf("%s of the trusted client: %.2f Mbit/s, held back", dir.name, got[2]/1e6)
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
