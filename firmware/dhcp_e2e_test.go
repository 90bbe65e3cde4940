//go:build e2e

package main

import (
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// inPool reports whether ip is one of the lab pool's (start 100, limit 150).
func inPool(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() {
		return false
	}
	b := a.As4()
	return b[0] == 10 && b[1] == 77 && b[2] == 0 && b[3] >= 100 && b[3] < 250
}

func TestDHCPClientsGetALease(t *testing.T) {
	d := newDaemon(t)
	d.writeConfig(dhcpConfig(d))
	d.start()

	// Each client reports its variables under its own names.
	clients := []struct {
		name, ns                          string
		get                               func() lease
		ip, router, dns, lt, mask, domain string
	}{
		{"busybox udhcpc", clientNS(1), func() lease {
			l, err := udhcpcOnce(t, clientNS(1), "-x", "hostname:guest-phone")
			if err != nil {
				t.Fatal(err)
			}
			return l
		}, "ip", "router", "dns", "lease", "subnet", "domain"},
		{"ISC dhclient", clientNS(2), func() lease { return dhclientOnce(t, clientNS(2)) },
			"new_ip_address", "new_routers", "new_domain_name_servers", "new_dhcp_lease_time", "new_subnet_mask", "new_domain_name"},
		{"dhcpcd", clientNS(3), func() lease { return dhcpcdOnce(t, clientNS(3)) },
			"new_ip_address", "new_routers", "new_domain_name_servers", "new_dhcp_lease_time", "new_subnet_mask", "new_domain_name"},
	}
	got := map[string]string{} // address → client
	for k, c := range clients {
		l := c.get()
		ip := l[c.ip]
		if !inPool(ip) {
			t.Errorf("%s: address %q, want one of 10.77.0.100-249", c.name, ip)
		}
		if other, dup := got[ip]; dup {
			t.Errorf("%s and %s both got %s", c.name, other, ip)
		}
		got[ip] = c.name
		for _, want := range []struct{ key, value string }{
			{c.router, "10.77.0.1"}, {c.dns, "10.77.0.1"}, {c.lt, "600"}, // not signed in: 10 minutes (SPEC §4)
			{c.mask, "255.255.255.0"}, {c.domain, "lan"},
		} {
			if l[want.key] != want.value {
				t.Errorf("%s: %s = %q, want %q", c.name, want.key, l[want.key], want.value)
			}
		}
		// The lease is in the client table, under the client's MAC.
		if row := d.clients()[clientMAC(k+1)]; row.IP != ip || row.State != "preauth" {
			t.Errorf("%s: ctl clients has %+v, want ip %s, preauth", c.name, row, ip)
		}
	}
	if row := d.clients()[clientMAC(1)]; row.Hostname != "guest-phone" {
		t.Errorf("ctl clients --json: hostname %q, want guest-phone (option 12)", row.Hostname)
	}
	out, _, _ := d.ctl("clients")
	if !strings.Contains(out, "guest-phone") {
		t.Errorf("ctl clients does not show the hostname:\n%s", out)
	}
}

func TestDHCPStaticHost(t *testing.T) {
	d := newDaemon(t)
	d.writeConfig(dhcpConfig(d, `config host
	option mac '`+clientMAC(2)+`'
	option ip '10.77.0.10'
	option name 'printer'
`))
	d.start()
	l, err := udhcpcOnce(t, clientNS(2))
	if err != nil {
		t.Fatal(err)
	}
	if l["ip"] != "10.77.0.10" {
		t.Errorf("static host got %q, want 10.77.0.10", l["ip"])
	}
	if row := d.clients()[clientMAC(2)]; row.IP != "10.77.0.10" || row.Hostname != "printer" {
		t.Errorf("ctl clients has %+v, want 10.77.0.10 named printer", row)
	}
	// Asking for a pool address does not move it off its own.
	l, err = udhcpcOnce(t, clientNS(2), "-r", "10.77.0.150")
	if err != nil {
		t.Fatal(err)
	}
	if l["ip"] != "10.77.0.10" {
		t.Errorf("static host asking for 10.77.0.150 got %q, want 10.77.0.10", l["ip"])
	}
	// Another client asking for the static address does not get it.
	l, err = udhcpcOnce(t, clientNS(1), "-r", "10.77.0.10")
	if err != nil {
		t.Fatal(err)
	}
	if l["ip"] == "10.77.0.10" || !inPool(l["ip"]) {
		t.Errorf("another client asking for the static address got %q", l["ip"])
	}
}

// A client that renews after lobby restarted, cleanly or by kill -9 right
// after the ACK, keeps its address, and nobody else is given it meanwhile.
func TestDHCPRenewAcrossRestart(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			d := newDaemon(t)
			d.writeConfig(dhcpConfig(d))
			d.start()
			client, events := udhcpcDaemon(t, clientNS(1), "-x", "hostname:renewer")
			bound := waitEvent(t, events, 1, 15*time.Second, "bound")
			ip := bound["ip"]
			if !inPool(ip) {
				t.Fatalf("first lease %q", ip)
			}

			d.stop(sig)
			d.start()
			// The table knows the lease again before the client says a word.
			if row := d.clients()[clientMAC(1)]; row.IP != ip || row.Hostname != "renewer" {
				t.Errorf("after restart ctl clients has %+v, want %s (renewer)", row, ip)
			}
			// A newcomer does not get the address, though it is the first
			// of the pool and a lobby that lost its leases would offer it.
			other, err := udhcpcOnce(t, clientNS(2))
			if err != nil {
				t.Fatal(err)
			}
			if other["ip"] == ip {
				t.Errorf("after %v a new client was given %s, still leased to %s", sig, ip, clientMAC(1))
			}
			// SIGUSR1 makes udhcpc renew now: a unicast REQUEST from ip.
			acks := strings.Count(d.logText(), `type=ACK mac=`+clientMAC(1))
			client.Process.Signal(syscall.SIGUSR1)
			renewed := waitEvent(t, events, 1, 15*time.Second, "renew")
			if renewed["ip"] != ip {
				t.Errorf("after %v the renewal got %q, want %s", sig, renewed["ip"], ip)
			}
			if n := strings.Count(d.logText(), `type=ACK mac=`+clientMAC(1)); n <= acks {
				t.Errorf("the renewal was not answered by lobby (ACKs to %s: %d before, %d after)", clientMAC(1), acks, n)
			}
		})
	}
}

// The WAN side gets nothing: lobby never answers on another interface,
// and never even sees the request.
func TestDHCPNotOnWAN(t *testing.T) {
	d := newDaemon(t)
	d.writeConfig(dhcpConfig(d))
	d.start()
	out, err := exec.Command("ip", "-n", inetNS, "-br", "link", "show", "eth0").Output()
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(out))
	if len(fields) < 3 {
		t.Fatalf("ip link: %q", out)
	}
	wanMAC := fields[2]
	// -B asks for broadcast replies, which a socket not bound to br-lan
	// would send out of wan.
	if l, err := udhcpcOnce(t, inetNS, "-B"); err == nil {
		t.Errorf("a client on the WAN side got a lease: %v", l)
	}
	if strings.Contains(d.logText(), wanMAC) {
		t.Errorf("lobby saw the WAN client's DISCOVER (%s):\n%s", wanMAC, d.logText())
	}
	// The same request from the LAN is answered, so the silence above is
	// lobby's choice, not a broken server.
	if _, err := udhcpcOnce(t, clientNS(1), "-B"); err != nil {
		t.Errorf("LAN client: %v", err)
	}
}
