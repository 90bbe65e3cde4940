//go:build e2e

package main

import (
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SPEC §3, DNS: a client that has not signed in.
func TestDNSPreauth(t *testing.T) {
	d := newDaemon(t, "list allow_domain 'garden.test'")
	d.start()
	dnsClientIP(t, 1)

	portal := []string{"A 10.77.0.1"}
	for _, p := range dnsProtos {
		t.Run(p.name, func(t *testing.T) {
			tests := []struct {
				name  string
				qname string
				qtype string
				want  []string
				ttl   int // of the first record; -1: any but 0
			}{
				// Every A query: the portal address, TTL 0.
				{"A", "www.example.com", "A", portal, 0},
				{"A of a name that does not exist", "a.nx.test", "A", portal, 0},
				{"A of a dotless name", "intranet", "A", portal, 0},
				// AAAA: an empty NOERROR answer.
				{"AAAA", "www.example.com", "AAAA", nil, 0},
				// Nothing else leaks: no DNS tunnel, no hints round the portal.
				{"TXT", "tunnel.example.com", "TXT", nil, 0},
				{"MX", "example.com", "MX", nil, 0},
				{"NULL", "tunnel.example.com", "NULL", nil, 0},
				{"HTTPS", "www.example.com", "HTTPS", nil, 0},
				{"SVCB", "_dns.resolver.arpa", "SVCB", nil, 0},
				{"CNAME", "www.example.com", "CNAME", nil, 0},
				{"ANY", "example.com", "ANY", nil, 0},
				// hostname: the portal address.
				{"hostname", "portal.lan", "A", portal, -1},
				// allow_domain and its subdomains: for real.
				{"allow_domain", "garden.test", "A", []string{"A 198.51.100.20"}, -1},
				{"allow_domain subdomain", "www.garden.test", "A", []string{"A 198.51.100.20"}, -1},
				{"allow_domain AAAA", "garden.test", "AAAA", []string{"AAAA 2001:db8:100::10"}, -1},
				{"allow_domain TXT", "garden.test", "TXT", []string{`TXT "v=spf1 -all"`, `TXT "lobby-lab origin=garden.test"`}, -1},
				{"a suffix that is no subdomain", "notgarden.test", "A", portal, 0},
			}
			for _, tt := range tests {
				r := dig(t, 1, p.arg, "@10.77.0.1", tt.qname, tt.qtype)
				if r.status != "NOERROR" {
					t.Errorf("%s: status %q; want NOERROR\n%s", tt.name, r.status, r.raw)
					continue
				}
				if got := r.data(); !slices.Equal(got, tt.want) {
					t.Errorf("%s: answer %q; want %q\n%s", tt.name, got, tt.want, r.raw)
					continue
				}
				if len(r.answer) > 0 && (tt.ttl == 0) != (r.answer[0].ttl == 0) {
					t.Errorf("%s: TTL %d; want %s", tt.name, r.answer[0].ttl, map[bool]string{true: "0", false: "more than 0"}[tt.ttl == 0])
				}
				if len(tt.want) == 0 && len(r.authority) > 0 {
					t.Errorf("%s: authority %v; an empty answer must carry no SOA, or the client caches it past sign-in", tt.name, r.authority)
				}
			}
		})
	}
}

// SPEC §3, DNS: authenticated and trusted clients get the upstream's
// answers through a cache; hostname is the portal for them too.
func TestDNSSignedIn(t *testing.T) {
	d := newDaemon(t, "list allow_domain 'garden.test'", "list trusted_mac '"+clientMAC(3)+"'")
	d.start()
	ip2 := dnsClientIP(t, 2)
	ip3 := dnsClientIP(t, 3)
	dnsKnown(t, d, 2, ip2)
	dnsKnown(t, d, 3, ip3)
	if _, errOut, code := d.ctl("auth", ip2); code != 0 {
		t.Fatalf("ctl auth %s: %s", ip2, errOut)
	}

	for _, k := range []int{2, 3} {
		for _, p := range dnsProtos {
			who := map[int]string{2: "authenticated", 3: "trusted"}[k] + "/" + p.name
			tests := []struct {
				name   string
				qname  string
				qtype  string
				status string
				want   []string
			}{
				{"A", "www.example.com", "A", "NOERROR", []string{"A 198.51.100.10"}},
				{"AAAA", "www.example.com", "AAAA", "NOERROR", []string{"AAAA 2001:db8:100::10"}},
				{"MX", "example.com", "MX", "NOERROR", []string{"MX 10 mail.example.com."}},
				{"TXT", "example.com", "TXT", "NOERROR", []string{`TXT "v=spf1 -all"`, `TXT "lobby-lab origin=example.com"`}},
				{"NXDOMAIN", "gone.nx.test", "A", "NXDOMAIN", nil},
				{"hostname", "portal.lan", "A", "NOERROR", []string{"A 10.77.0.1"}},
				{"allow_domain", "www.garden.test", "A", "NOERROR", []string{"A 198.51.100.20"}},
			}
			for _, tt := range tests {
				r := dig(t, k, p.arg, "@10.77.0.1", tt.qname, tt.qtype)
				if r.status != tt.status || !slices.Equal(r.data(), tt.want) {
					t.Errorf("%s %s: %s %q; want %s %q\n%s", who, tt.name, r.status, r.data(), tt.status, tt.want, r.raw)
				}
				if tt.status == "NXDOMAIN" && (len(r.authority) == 0 || r.authority[0].rtype != "SOA") {
					t.Errorf("%s %s: authority %v; want the upstream's SOA", who, tt.name, r.authority)
				}
			}
		}
	}

	// Cached: the TTL counts down from the upstream's 300.
	first := dig(t, 2, "@10.77.0.1", "cache-probe.example.com", "A")
	time.Sleep(2100 * time.Millisecond)
	second := dig(t, 2, "@10.77.0.1", "cache-probe.example.com", "A")
	if len(first.answer) != 1 || len(second.answer) != 1 || first.answer[0].ttl != 300 || second.answer[0].ttl > 298 {
		t.Errorf("TTLs %v then %v; want 300, then at most 298 from the cache", first.answer, second.answer)
	}

	// An answer too large for UDP: truncated over UDP, whole over TCP.
	r := dig(t, 2, "+notcp", "+noedns", "+ignore", "@10.77.0.1", "big.test", "TXT")
	if r.status != "NOERROR" || !r.flag("tc") {
		t.Errorf("big answer over UDP without EDNS: %s, flags %v; want TC\n%s", r.status, r.flags, r.raw)
	}
	r = dig(t, 2, "+tcp", "@10.77.0.1", "big.test", "TXT")
	if !strings.Contains(r.raw, "BIG-TXT-END") || r.flag("tc") {
		t.Errorf("big answer over TCP is not whole\n%s", r.raw)
	}

	// Signed out: the portal again.
	if _, errOut, code := d.ctl("deauth", ip2); code != 0 {
		t.Fatalf("ctl deauth: %s", errOut)
	}
	for _, p := range dnsProtos {
		if r := dig(t, 2, p.arg, "@10.77.0.1", "www.example.com", "A"); !slices.Equal(r.data(), []string{"A 10.77.0.1"}) {
			t.Errorf("%s after deauth: %q; want the portal address\n%s", p.name, r.data(), r.raw)
		}
	}
}

// dnsUpstreamConfig is a lab config whose `config dns` lists upstreams.
func dnsUpstreamConfig(d *lobbyProc, upstreams ...string) string {
	text := baseConfig(d.dir, "list trusted_mac '"+clientMAC(1)+"'")
	var list string
	for _, u := range upstreams {
		list += "\tlist upstream '" + u + "'\n"
	}
	return strings.Replace(text, "\tlist upstream '198.51.100.53'\n", list, 1)
}

// Failover between upstreams, and a new upstream list on SIGHUP.
func TestDNSUpstreams(t *testing.T) {
	d := newDaemon(t)
	// Nothing listens on port 5353 of the origin: that upstream is down.
	d.writeConfig(dnsUpstreamConfig(d, "198.51.100.10:5353", "198.51.100.53"))
	d.start()
	ip := dnsClientIP(t, 1)
	dnsKnown(t, d, 1, ip)
	for _, p := range dnsProtos {
		if r := dig(t, 1, p.arg, "@10.77.0.1", p.name+".failover.example.com", "A"); !slices.Equal(r.data(), []string{"A 198.51.100.10"}) {
			t.Errorf("%s with the first upstream down: %s %q\n%s", p.name, r.status, r.data(), r.raw)
		}
	}

	d.writeConfig(dnsUpstreamConfig(d, "198.51.100.10:5353"))
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitDig(t, 1, "SERVFAIL", nil, "@10.77.0.1", "only-dead.example.com", "A")

	d.writeConfig(dnsUpstreamConfig(d, "198.51.100.53"))
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitDig(t, 1, "NOERROR", []string{"A 198.51.100.10"}, "@10.77.0.1", "after-hup.example.com", "A")
}

// waitDig asks until the answer is status and want (SIGHUP takes effect
// asynchronously), for up to 5 s.
func waitDig(t *testing.T, k int, status string, want []string, args ...string) {
	t.Helper()
	var r digResult
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if r = dig(t, k, args...); r.status == status && slices.Equal(r.data(), want) {
			return
		}
	}
	t.Errorf("dig %v: %s %q; want %s %q\n%s", args, r.status, r.data(), status, want, r.raw)
}

// Port 53 on the portal address only: never an open resolver on the WAN
// side; and bad queries do not stop it.
func TestDNSOnlyOnThePortalAddress(t *testing.T) {
	d := newDaemon(t)
	d.start()
	dnsClientIP(t, 1)

	out := mustNS(t, routerNS, "ss", "-Hlnu", "sport = :53")
	out += mustNS(t, routerNS, "ss", "-Hlnt", "sport = :53")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) < 4 || f[3] != "10.77.0.1:53" {
			t.Errorf("listening on port 53 elsewhere than 10.77.0.1: %q", line)
		}
	}
	for _, p := range dnsProtos {
		out, err := inNS(t, inetNS, "dig", "+time=2", "+tries=1", p.arg, "@192.0.2.1", "www.example.com", "A")
		if r := parseDig(out); err == nil && r.status != "" {
			t.Errorf("%s from the WAN side: answered %s\n%s", p.name, r.status, out)
		}
	}

	// Malformed queries: FORMERR or nothing, and the resolver goes on.
	for _, junk := range []string{`\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x3f`, `\x00`, `\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff`} {
		inNS(t, clientNS(1), "bash", "-c", `printf '`+junk+`' >/dev/udp/10.77.0.1/53`)
		inNS(t, clientNS(1), "bash", "-c", `exec 3<>/dev/tcp/10.77.0.1/53 && printf '\x00\x0e`+junk+`' >&3`)
	}
	if r := dig(t, 1, "@10.77.0.1", "www.example.com", "A"); !slices.Equal(r.data(), []string{"A 10.77.0.1"}) {
		t.Errorf("after malformed queries: %s %q\n%s", r.status, r.data(), r.raw)
	}
	if !d.running() {
		t.Fatal("lobby exited after malformed queries")
	}
}

// SPEC §3: "Queries that a preauth client sends to any other resolver are
// answered the same way (the firewall redirects them)", and walled-garden
// addresses are reachable before sign-in. Both need the firewall.
func TestDNSOtherResolversHijacked(t *testing.T) {
	d := newDaemon(t, "list allow_domain 'garden.test'")
	d.start()
	var st struct {
		Backend string `json:"backend"`
	}
	d.ctlJSON(&st, "status")
	if st.Backend == "none" || st.Backend == "" {
		t.Skipf("no firewall backend wired yet (ctl status backend %q): redirecting other resolvers and the walled garden need it", st.Backend)
	}
	ip := dnsClientIP(t, 1)
	dnsKnown(t, d, 1, ip)

	for _, p := range dnsProtos {
		for _, server := range []string{"@198.51.100.53", "@192.0.2.254", "@9.9.9.9"} {
			r := dig(t, 1, p.arg, server, "www.example.com", "A")
			if !slices.Equal(r.data(), []string{"A 10.77.0.1"}) || r.answer[0].ttl != 0 {
				t.Errorf("preauth %s to %s: %s %q; want the portal address, TTL 0\n%s", p.name, server, r.status, r.data(), r.raw)
			}
			if r := dig(t, 1, p.arg, server, "tunnel.example.com", "TXT"); r.status != "NOERROR" || len(r.answer) != 0 {
				t.Errorf("preauth %s TXT to %s: %s %q; want an empty answer\n%s", p.name, server, r.status, r.data(), r.raw)
			}
		}
	}

	// The walled garden: what the resolver returned for garden.test is
	// reachable; the origin next door is not.
	if r := dig(t, 1, "@10.77.0.1", "garden.test", "A"); !slices.Equal(r.data(), []string{"A 198.51.100.20"}) {
		t.Fatalf("garden.test: %q", r.data())
	}
	if out, err := inNS(t, clientNS(1), "curl", "-s", "--max-time", "3", "http://garden.test/", "--resolve", "garden.test:80:198.51.100.20"); err != nil || !strings.Contains(out, "LOBBY-ORIGIN-OK") {
		t.Errorf("walled-garden address not reachable before sign-in: %v\n%s", err, out)
	}

	// Signed in: other resolvers are reached for real.
	if _, errOut, code := d.ctl("auth", ip); code != 0 {
		t.Fatalf("ctl auth: %s", errOut)
	}
	for _, p := range dnsProtos {
		if r := dig(t, 1, p.arg, "@198.51.100.53", "www.example.com", "A"); !slices.Equal(r.data(), []string{"A 198.51.100.10"}) {
			t.Errorf("signed-in %s to 198.51.100.53: %s %q; want the real answer\n%s", p.name, r.status, r.data(), r.raw)
		}
	}
}
