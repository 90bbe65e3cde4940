//go:build e2e

package main

// Abuse from the guest network (SPEC §4, "Bounded under abuse"): floods
// from made-up MACs must neither grow lobby's memory without bound nor
// keep a real guest off the network.

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A flood of ARP requests from 20,000 made-up MACs — each of which the
// kernel reports as a new neighbour — keeps the client table at
// max_clients and lobby's memory flat, and a real guest still gets an
// address and signs in.
func TestARPFloodKeepsTheTableBounded(t *testing.T) {
	const maxClients, macs = 256, 20000
	d := newDaemon(t, fmt.Sprintf("option max_clients '%d'", maxClients))
	d.start()
	pid := d.cmd.Process.Pid // ip netns exec execs lobby itself
	time.Sleep(time.Second)
	base := rssKiB(t, pid)

	var mu sync.Mutex
	peakRSS, peakSize := base, 0
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			r := rssKiB(t, pid)
			n := -1
			if i%3 == 0 {
				n = tableSize(d)
			}
			mu.Lock()
			peakRSS, peakSize = max(peakRSS, r), max(peakSize, n)
			mu.Unlock()
		}
	}()
	start := time.Now()
	arpFlood(t, clientNS(1), macs, 5000)
	sent := time.Since(start)
	time.Sleep(2 * time.Second) // lobby catches up with the kernel's reports
	close(stop)
	<-sampled
	size := tableSize(d)
	t.Logf("%d ARP requests in %v; table: %d clients at the end, %d at most; RSS %d KiB before, %d KiB at most",
		macs, sent.Round(time.Millisecond), size, max(peakSize, size), base, peakRSS)

	if n := max(peakSize, size); n > maxClients {
		t.Errorf("the client table held %d clients, more than max_clients %d", n, maxClients)
	}
	// The flood must have reached the table, or the test proves nothing.
	if size < maxClients/2 || !strings.Contains(d.logText(), "client table full") {
		t.Fatalf("the flood did not fill the table (%d clients, no \"client table full\" warning)", size)
	}
	// Unbounded, the 20,000 clients grew lobby's RSS by about 12 MiB
	// here; 256 of them take under 100 KiB, and the ~4 MiB it grows by is
	// the garbage collector's slack while the reports pour in.
	if grown := peakRSS - base; grown > 8*1024 {
		t.Errorf("lobby's RSS grew by %d KiB during the flood (from %d KiB), want at most 8 MiB", grown, base)
	}

	// A real guest: a lease, then the portal signs it in.
	_, events := udhcpcDaemon(t, clientNS(2))
	ip := waitEvent(t, events, 1, 15*time.Second, "bound")["ip"]
	page := ptCurl(t, 2, ptPortal+"/")
	form := "token=" + url.QueryEscape(ptToken(t, page.body)) + "&redir=" + url.QueryEscape("http://198.51.100.10/")
	if r := ptCurl(t, 2, "--data", form, "-H", "Origin: "+ptPortal, ptPortal+"/login"); r.status != 303 {
		t.Fatalf("sign-in after the flood: status %d\n%s", r.status, r.body)
	}
	if c := d.clients()[clientMAC(2)]; c.State != "authenticated" || c.IP != ip {
		t.Errorf("after sign-in the guest is %+v, want authenticated at %s", c, ip)
	}
}

// A flood of DISCOVERs, and then of whole DORAs, from 400 made-up MACs
// takes every address of the pool (150), yet a real client that comes
// next gets an address within a few seconds, with a lease of at most 10
// minutes since it has not signed in.
func TestDHCPStarvation(t *testing.T) {
	d := newDaemon(t)
	d.writeConfig(dhcpConfig(d))
	d.start()
	for k, dora := range []bool{false, true} {
		name := map[bool]string{false: "DISCOVER flood", true: "DORA flood"}[dora]
		res := dhcpFlood(t, clientNS(1), 400, 2000, dora, time.Second)
		t.Logf("%s: %d offers, %d ACKs", name, res.offers, res.acks)
		if taken := map[bool]int{false: res.offers, true: res.acks}[dora]; taken < 150 {
			t.Fatalf("%s: only %d addresses taken; the pool (150) was not exhausted", name, taken)
		}
		start := time.Now()
		l, err := udhcpcOnce(t, clientNS(2+k))
		took := time.Since(start)
		if err != nil {
			t.Errorf("after the %s a real client got no address: %v", name, err)
			continue
		}
		t.Logf("after the %s a real client got %s (lease %ss) in %v", name, l["ip"], l["lease"], took.Round(time.Millisecond))
		if took > 5*time.Second || !inPool(l["ip"]) || l["lease"] != "600" {
			t.Errorf("after the %s a real client got %s with lease %ss in %v; want a pool address, 600 s, within 5 s", name, l["ip"], l["lease"], took)
		}
	}
}

// A client gets a lease of 10 minutes before it signs in, and the full
// leasetime (here 2h) at its first renewal after.
func TestDHCPLeaseGrowsAfterSignIn(t *testing.T) {
	d := newDaemon(t)
	d.writeConfig(dhcpConfig(d))
	d.start()
	client, events := udhcpcDaemon(t, clientNS(1))
	bound := waitEvent(t, events, 1, 15*time.Second, "bound")
	if bound["lease"] != "600" {
		t.Errorf("lease before sign-in: %ss, want 600", bound["lease"])
	}
	if _, errOut, code := d.ctl("auth", clientMAC(1)); code != 0 {
		t.Fatalf("ctl auth: %s", errOut)
	}
	client.Process.Signal(syscall.SIGUSR1) // renew now
	renewed := waitEvent(t, events, 1, 15*time.Second, "renew")
	if renewed["ip"] != bound["ip"] || renewed["lease"] != "7200" {
		t.Errorf("renewal after sign-in: %s with %ss, want %s with 7200", renewed["ip"], renewed["lease"], bound["ip"])
	}
}
