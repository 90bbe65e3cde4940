package dhcp

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/lobby-fw/lobby/internal/store/storetest"
)

const dhcpSection = `
config dhcp 'dhcp'
	option start '100'
	option limit '4'
	option leasetime '1h'
	option domain 'lan'
`

func TestOfferCarriesTheOptionsOfTheSpec(t *testing.T) {
	ts := newTestServer(t, dhcpSection)
	ts.signIn(1) // the full leasetime
	offer := ts.do(discover(mac(1)))
	if offer == nil {
		t.Fatal("no offer")
	}
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"op", offer.OpCode, dhcpv4.OpcodeBootReply},
		{"type (53)", offer.MessageType(), dhcpv4.MessageTypeOffer},
		{"yiaddr", offer.YourIPAddr.String(), "10.77.0.100"},
		{"chaddr", offer.ClientHWAddr.String(), mac(1).String()},
		{"subnet mask (1)", net.IP(offer.SubnetMask()).String(), "255.255.255.0"},
		{"router (3)", fmtIPs(offer.Router()), "[10.77.0.1]"},
		{"dns (6)", fmtIPs(offer.DNS()), "[10.77.0.1]"},
		{"domain (15)", offer.DomainName(), "lan"},
		{"lease time (51)", offer.IPAddressLeaseTime(0), time.Hour},
		{"server id (54)", offer.ServerIdentifier().String(), "10.77.0.1"},
		{"T1 (58)", offer.IPAddressRenewalTime(0), 30 * time.Minute},
		{"T2 (59)", offer.IPAddressRebindingTime(0), 52*time.Minute + 30*time.Second},
		{"captive portal (114) without TLS", offer.Options.Has(dhcpv4.OptionURL), false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
}

func fmtIPs(ips []net.IP) string {
	s := "["
	for i, ip := range ips {
		if i > 0 {
			s += " "
		}
		s += ip.String()
	}
	return s + "]"
}

func TestCaptivePortalOptionOnlyWithTLS(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"c.pem", "k.pem"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ts := newTestServer(t, "\toption tls_cert '"+filepath.Join(dir, "c.pem")+"'\n\toption tls_key '"+filepath.Join(dir, "k.pem")+"'\n\toption tls_port '8443'\n"+dhcpSection)
	offer := ts.do(discover(mac(1)))
	if got, want := string(offer.Options.Get(dhcpv4.OptionURL)), "https://portal.lan:8443/api/captive"; got != want {
		t.Errorf("option 114 = %q, want %q", got, want)
	}
	inform := ts.do(message(dhcpv4.MessageTypeInform, mac(2), dhcpv4.WithClientIP(net.ParseIP("10.77.0.50"))))
	if got := string(inform.Options.Get(dhcpv4.OptionURL)); got == "" {
		t.Error("INFORM's ACK lacks option 114")
	}
}

func TestDORAGrantsAndRecordsTheLease(t *testing.T) {
	ts := newTestServer(t, dhcpSection)
	ts.signIn(1)
	ip := ts.lease(mac(1), withHostname("guest-phone"))
	if ip != addr("10.77.0.100") {
		t.Errorf("address %s, want the first of the pool", ip)
	}
	r, ok := storedLease(t, ts.store, "10.77.0.100")
	if !ok || r.MAC != mac(1).String() || r.Hostname != "guest-phone" {
		t.Errorf("stored lease %+v (present %v)", r, ok)
	}
	if want := ts.clock.t.Add(time.Hour); !r.Expires.Equal(want) {
		t.Errorf("stored expiry %v, want %v", r.Expires, want)
	}
	c, ok := ts.table.Lookup(mac(1))
	if !ok || c.IP != ip || c.Hostname != "guest-phone" {
		t.Errorf("table has %+v (known %v)", c, ok)
	}
}

func TestRequestStates(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(ts *testServer) // before the request
		req    *dhcpv4.DHCPv4
		want   dhcpv4.MessageType // MessageTypeNone: no reply
		yiaddr string
	}{
		{
			name: "SELECTING our offer",
			setup: func(ts *testServer) {
				ts.do(discover(mac(1)))
			},
			req:    request(mac(1), withServerID("10.77.0.1"), withRequested("10.77.0.100")),
			want:   dhcpv4.MessageTypeAck,
			yiaddr: "10.77.0.100",
		},
		{
			name: "SELECTING another server's offer is not answered",
			setup: func(ts *testServer) {
				ts.do(discover(mac(1)))
			},
			req:  request(mac(1), withServerID("10.77.0.254"), withRequested("10.77.0.77")),
			want: dhcpv4.MessageTypeNone,
		},
		{
			name:   "INIT-REBOOT with a free pool address",
			req:    request(mac(1), withRequested("10.77.0.102")),
			want:   dhcpv4.MessageTypeAck,
			yiaddr: "10.77.0.102",
		},
		{
			name: "INIT-REBOOT with an address on another network",
			req:  request(mac(1), withRequested("192.168.1.20")),
			want: dhcpv4.MessageTypeNak,
		},
		{
			name: "INIT-REBOOT with an address outside the pool",
			req:  request(mac(1), withRequested("10.77.0.20")),
			want: dhcpv4.MessageTypeNak,
		},
		{
			name: "INIT-REBOOT with the portal's address",
			req:  request(mac(1), withRequested("10.77.0.1")),
			want: dhcpv4.MessageTypeNak,
		},
		{
			name: "INIT-REBOOT with another client's running lease",
			setup: func(ts *testServer) {
				ts.lease(mac(2))
			},
			req:  request(mac(1), withRequested("10.77.0.100")),
			want: dhcpv4.MessageTypeNak,
		},
		{
			name: "INIT-REBOOT with another client's expired lease",
			setup: func(ts *testServer) {
				ts.lease(mac(2))
				ts.clock.advance(2 * time.Hour)
			},
			req:    request(mac(1), withRequested("10.77.0.100")),
			want:   dhcpv4.MessageTypeAck,
			yiaddr: "10.77.0.100",
		},
		{
			name: "RENEWING its own lease",
			setup: func(ts *testServer) {
				ts.lease(mac(1))
				ts.clock.advance(30 * time.Minute)
			},
			req:    request(mac(1), dhcpv4.WithClientIP(net.ParseIP("10.77.0.100"))),
			want:   dhcpv4.MessageTypeAck,
			yiaddr: "10.77.0.100",
		},
		{
			name: "REBINDING to another client's address",
			setup: func(ts *testServer) {
				ts.lease(mac(2))
			},
			req:  request(mac(1), dhcpv4.WithClientIP(net.ParseIP("10.77.0.100")), dhcpv4.WithBroadcast(true)),
			want: dhcpv4.MessageTypeNak,
		},
		{
			name: "REQUEST with no address at all is dropped",
			req:  request(mac(1)),
			want: dhcpv4.MessageTypeNone,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, dhcpSection)
			if tt.setup != nil {
				tt.setup(ts)
			}
			resp := ts.do(tt.req)
			got := dhcpv4.MessageTypeNone
			if resp != nil {
				got = resp.MessageType()
			}
			if got != tt.want {
				t.Fatalf("reply %v, want %v", got, tt.want)
			}
			if tt.yiaddr != "" && resp.YourIPAddr.String() != tt.yiaddr {
				t.Errorf("yiaddr %s, want %s", resp.YourIPAddr, tt.yiaddr)
			}
			if got == dhcpv4.MessageTypeNak {
				if !resp.YourIPAddr.IsUnspecified() || resp.Options.Has(dhcpv4.OptionIPAddressLeaseTime) {
					t.Errorf("NAK carries an address or lease: %v", resp)
				}
			}
		})
	}
}

func TestClientGetsItsAddressBack(t *testing.T) {
	ts := newTestServer(t, dhcpSection)
	first := ts.lease(mac(1))
	second := ts.lease(mac(2), withClientID("\x01phone-two"))
	ts.clock.advance(3 * time.Hour) // both expired

	// A new client takes a never-used address, not their expired ones.
	if got := ts.lease(mac(3)); got == first || got == second {
		t.Errorf("new client got %s, an expired lease of another, while fresh addresses were left", got)
	}
	if got := ts.lease(mac(1)); got != first {
		t.Errorf("by MAC: got %s back, want %s", got, first)
	}
	// Known by client identifier: the MAC may change (randomised MACs).
	if got := ts.lease(mac(9), withClientID("\x01phone-two")); got != second {
		t.Errorf("by client identifier: got %s, want %s", got, second)
	}
}

func TestAddressesSurviveARestart(t *testing.T) {
	ts := newTestServer(t, dhcpSection)
	a := ts.lease(mac(1), withHostname("alpha"))
	b := ts.lease(mac(2), withClientID("\x01beta"))
	ts.clock.advance(time.Minute)

	re := reopen(t, dhcpSection, ts.store, ts.clock)
	// The table was told of the running leases at start.
	if c, ok := re.table.Lookup(mac(1)); !ok || c.IP != a || c.Hostname != "alpha" {
		t.Errorf("after restart the table has %+v (known %v)", c, ok)
	}
	// A newcomer gets neither address; the holders renew theirs.
	if got := re.lease(mac(3)); got == a || got == b {
		t.Errorf("newcomer got %s, held by a client before the restart", got)
	}
	ack := re.do(request(mac(1), dhcpv4.WithClientIP(net.IP(a.AsSlice()))))
	if ack.MessageType() != dhcpv4.MessageTypeAck || ip4(ack.YourIPAddr) != a {
		t.Errorf("renewal after restart: %v", ack)
	}
	if got := re.do(discover(mac(2), withClientID("\x01beta"))); ip4(got.YourIPAddr) != b {
		t.Errorf("client id after restart: offered %s, want %s", got.YourIPAddr, b)
	}
}

func TestStaticHost(t *testing.T) {
	const hosts = dhcpSection + `
config host
	option mac '02:00:00:00:01:05'
	option ip '10.77.0.10'
	option name 'printer'
config host
	option mac '02:00:00:00:01:06'
	option ip '10.77.0.101'
`
	ts := newTestServer(t, hosts)
	if got := ts.lease(mac(5), withHostname("HP-1234")); got != addr("10.77.0.10") {
		t.Errorf("static host got %s, want 10.77.0.10", got)
	}
	if c, _ := ts.table.Lookup(mac(5)); c.Hostname != "printer" {
		t.Errorf("static host is called %q, want the configured name", c.Hostname)
	}
	if got := ts.lease(mac(6), withHostname("cam")); got != addr("10.77.0.101") {
		t.Errorf("static host in the pool got %s, want 10.77.0.101", got)
	} else if c, _ := ts.table.Lookup(mac(6)); c.Hostname != "cam" {
		t.Errorf("static host without a name is called %q, want its own name", c.Hostname)
	}
	// A static host asking for another address is told no.
	if r := ts.do(request(mac(5), withRequested("10.77.0.100"))); r.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("static host requesting a pool address: %v", r.MessageType())
	}
	// A static address inside the pool is never handed to anyone else.
	for k := byte(10); k < 13; k++ {
		if got := ts.lease(mac(k)); got == addr("10.77.0.101") {
			t.Errorf("%s got the static address of another host", mac(k))
		}
	}
	if r := ts.do(request(mac(20), withRequested("10.77.0.101"))); r.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("asking for a static address of another host: %v", r.MessageType())
	}
}

func TestExhaustedPoolMakesNoOffer(t *testing.T) {
	ts := newTestServer(t, dhcpSection) // 4 addresses
	ts.signIn(1, 2, 3, 4, 5, 6)         // their leases are nobody else's to take
	for k := byte(1); k <= 4; k++ {
		ts.lease(mac(k))
	}
	if r := ts.do(discover(mac(5))); r != nil {
		t.Fatalf("offer from an exhausted pool: %v", r)
	}
	if st := ts.Stats(); st.Exhausted != 1 {
		t.Errorf("exhausted count %d, want 1", st.Exhausted)
	}
	// Oldest expired first: leases end at different times, the one that
	// ended first is reused.
	ts.clock.advance(10 * time.Minute)
	ts.lease(mac(3)) // renewed
	ts.lease(mac(1))
	ts.clock.advance(55 * time.Minute) // 2 and 4 expired; 1 and 3 run 5 more minutes
	got := ts.lease(mac(5))
	if got != addr("10.77.0.101") && got != addr("10.77.0.103") {
		t.Errorf("reuse gave %s, want an expired one (.101 or .103)", got)
	}
	if got2 := ts.lease(mac(6)); got2 == got || got2 == addr("10.77.0.100") || got2 == addr("10.77.0.102") {
		t.Errorf("second reuse gave %s", got2)
	}
	if r := ts.do(discover(mac(7))); r != nil {
		t.Errorf("offer of a running lease: %v", r.YourIPAddr)
	}
}

func TestOldestExpiredIsReusedFirst(t *testing.T) {
	ts := newTestServer(t, dhcpSection)
	ts.signIn(1, 2, 3, 4)
	for k := byte(1); k <= 4; k++ { // .100 to .103, a minute apart
		ts.lease(mac(k))
		ts.clock.advance(time.Minute)
	}
	ts.lease(mac(1)) // .100 renewed: now it ends last
	ts.clock.advance(2 * time.Hour)
	want := []string{"10.77.0.101", "10.77.0.102", "10.77.0.103", "10.77.0.100"}
	for i, k := range []byte{20, 21, 22, 23} {
		if got := ts.lease(mac(k)); got != addr(want[i]) {
			t.Errorf("reuse %d gave %s, want %s", i, got, want[i])
		}
	}
}

func TestDeclineQuarantines(t *testing.T) {
	ts := newTestServer(t, dhcpSection)
	ts.signIn(2, 3) // their leases are nobody else's to take
	ip := ts.lease(mac(1))
	if r := ts.do(message(dhcpv4.MessageTypeDecline, mac(1), withRequested(ip.String()), withServerID("10.77.0.1"))); r != nil {
		t.Fatalf("DECLINE answered: %v", r)
	}
	if _, ok := ts.table.Lookup(mac(1)); ok {
		t.Error("the declining client is still in the table")
	}
	ts.signIn(1)
	if r, ok := storedLease(t, ts.store, ip.String()); !ok || !r.Declined || r.MAC != "" {
		t.Errorf("stored: %+v (present %v), want a declined record", r, ok)
	}
	next := ts.lease(mac(1))
	if next == ip {
		t.Fatalf("declined address offered again at once")
	}
	// Fill the pool; the quarantined address stays out until it ends.
	for k := byte(2); k <= 3; k++ {
		ts.lease(mac(k))
	}
	if r := ts.do(discover(mac(4))); r != nil {
		t.Fatalf("quarantined address offered: %v", r.YourIPAddr)
	}
	ts.clock.advance(quarantine)
	if got := ts.lease(mac(4)); got != ip {
		t.Errorf("after the quarantine got %s, want %s back in the pool", got, ip)
	}
	// A DECLINE for someone else's address is ignored.
	ts.do(message(dhcpv4.MessageTypeDecline, mac(9), withRequested(next.String()), withServerID("10.77.0.1")))
	if r, _ := storedLease(t, ts.store, next.String()); r.Declined {
		t.Error("a stranger's DECLINE quarantined a running lease")
	}
}

func TestReleaseEndsTheLeaseButKeepsTheAddress(t *testing.T) {
	ts := newTestServer(t, dhcpSection)
	ip := ts.lease(mac(1))
	ts.do(message(dhcpv4.MessageTypeRelease, mac(1), dhcpv4.WithClientIP(net.IP(ip.AsSlice())), withServerID("10.77.0.1")))
	if _, ok := ts.table.Lookup(mac(1)); ok {
		t.Error("released client still in the table")
	}
	if r, _ := storedLease(t, ts.store, ip.String()); r.Expires.After(ts.clock.t) {
		t.Errorf("released lease still runs until %v", r.Expires)
	}
	if st := ts.Stats(); st.Releases != 1 {
		t.Errorf("releases %d", st.Releases)
	}
	if got := ts.lease(mac(1)); got != ip {
		t.Errorf("came back to %s, want %s", got, ip)
	}
	// Releasing an address one does not hold changes nothing.
	ts.do(message(dhcpv4.MessageTypeRelease, mac(2), dhcpv4.WithClientIP(net.IP(ip.AsSlice()))))
	if _, ok := ts.table.Lookup(mac(1)); !ok {
		t.Error("a stranger's RELEASE ended a lease")
	}
}

func TestInformAllocatesNothing(t *testing.T) {
	ts := newTestServer(t, dhcpSection)
	r := ts.do(message(dhcpv4.MessageTypeInform, mac(1), dhcpv4.WithClientIP(net.ParseIP("10.77.0.50"))))
	if r == nil || r.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("INFORM: %v", r)
	}
	if !r.YourIPAddr.IsUnspecified() || r.Options.Has(dhcpv4.OptionIPAddressLeaseTime) || r.Options.Has(dhcpv4.OptionRenewTimeValue) {
		t.Errorf("INFORM's ACK carries a lease: %v", r)
	}
	if fmtIPs(r.DNS()) != "[10.77.0.1]" {
		t.Errorf("INFORM's ACK: DNS %v", r.DNS())
	}
	if len(ts.store.Records(Kind)) != 0 || ts.pool.active(ts.clock.t) != 0 {
		t.Error("INFORM allocated a lease")
	}
	if d := destination(message(dhcpv4.MessageTypeInform, mac(1), dhcpv4.WithClientIP(net.ParseIP("10.77.0.50"))), r); d.ip != addr("10.77.0.50") || d.mac != nil {
		t.Errorf("INFORM's ACK goes to %v, want ciaddr", d)
	}
}

func TestExpiredLeasesAreForgotten(t *testing.T) {
	ts := newTestServer(t, dhcpSection)
	ts.signIn(1, 2)
	ts.lease(mac(1))
	ts.lease(mac(2))
	ts.clock.advance(40 * time.Minute)
	ts.lease(mac(2)) // renewed
	ts.clock.advance(30 * time.Minute)
	ts.mu.Lock()
	ts.pool.expire(ts.clock.t)
	ended := ts.pool.takeEnded()
	ts.mu.Unlock()
	if len(ended) != 1 || ended[0].String() != mac(1).String() {
		t.Errorf("ended %v, want only %s", ended, mac(1))
	}
}

func TestDropsAndIgnores(t *testing.T) {
	ts := newTestServer(t, dhcpSection)
	good := discover(mac(1)).ToBytes()
	bad := [][]byte{
		nil,
		good[:100],                         // cut short
		append(good[:236:236], 1, 2, 3, 4), // wrong magic cookie
		func() []byte { b := append([]byte(nil), good...); b[0] = 2; return b }(),   // BOOTREPLY
		func() []byte { b := append([]byte(nil), good...); b[1] = 6; return b }(),   // token ring
		func() []byte { b := append([]byte(nil), good...); b[28] |= 1; return b }(), // multicast chaddr
	}
	noType, _ := dhcpv4.New(dhcpv4.WithHwAddr(mac(1)))
	noType.Options.Del(dhcpv4.OptionDHCPMessageType)
	bad = append(bad, noType.ToBytes())
	for i, b := range bad {
		if out := ts.process(b); out.resp != nil {
			t.Errorf("malformed packet %d answered", i)
		}
	}
	if st := ts.Stats(); st.Malformed != uint64(len(bad)) {
		t.Errorf("malformed count %d, want %d", st.Malformed, len(bad))
	}
	ignored := []*dhcpv4.DHCPv4{
		message(dhcpv4.MessageTypeOffer, mac(1)),
		discover(mac(1), dhcpv4.WithGatewayIP(net.ParseIP("192.168.9.1"))), // relay on another subnet
	}
	for _, r := range ignored {
		if out := ts.process(r.ToBytes()); out.resp != nil {
			t.Errorf("answered %v", r.MessageType())
		}
	}
	if st := ts.Stats(); st.Ignored != uint64(len(ignored)) {
		t.Errorf("ignored count %d, want %d", st.Ignored, len(ignored))
	}
}

func TestStoredLeasesThatNoLongerFitAreDropped(t *testing.T) {
	st := new(storetest.Mem)
	now := newClock()
	exp := now.t.Add(time.Hour)
	st.Put(Kind, "10.77.0.100", record{MAC: mac(1).String(), Expires: exp})   // fine
	st.Put(Kind, "10.77.0.50", record{MAC: mac(2).String(), Expires: exp})    // below the pool
	st.Put(Kind, "10.77.0.101", record{MAC: mac(5).String(), Expires: exp})   // mac(5) is static now
	st.Put(Kind, "not-an-ip", record{MAC: mac(3).String(), Expires: exp})     // garbage
	st.Put(Kind, "10.77.0.102", record{MAC: "zz", Expires: exp})              // garbage
	st.Put(Kind, "10.77.0.103", record{MAC: mac(1).String(), Expires: now.t}) // older lease of mac(1)
	st.PutRaw(Kind, "10.77.0.104", []byte(`{"mac":`))                         // cut short
	ts := reopen(t, dhcpSection+"config host\n\toption mac '02:00:00:00:01:05'\n\toption ip '10.77.0.10'\n", st, now)
	recs := ts.store.Records(Kind)
	if len(recs) != 1 || recs["10.77.0.100"] == nil {
		t.Errorf("kept %v, want only 10.77.0.100", keys(recs))
	}
	if got := ts.lease(mac(5)); got != addr("10.77.0.10") {
		t.Errorf("static host got %s", got)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestHostnameIsSanitised(t *testing.T) {
	for in, want := range map[string]string{
		"guest-phone":                   "guest-phone",
		"evil\x1b[31m;rm -rf":           "evil31mrm-rf",
		"":                              "",
		string(make([]byte, 300)) + "x": "x",
	} {
		r := discover(mac(1), withHostname(in))
		if got := hostname(r); got != want {
			t.Errorf("hostname(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDisabledServerLoadsNothing(t *testing.T) {
	ts := newTestServer(t, "config dhcp 'dhcp'\n\toption enabled '0'\n")
	if ts.enabled.On() || ts.pool != nil {
		t.Error("disabled server has a pool")
	}
}

// A running lease belongs to its client identifier and chaddr together:
// another device that copies the identifier from its own MAC can neither
// take the address, nor move it to itself in the client table, nor
// release or decline it.
func TestClientIDNeedsTheMAC(t *testing.T) {
	const id = "\x01victim-phone"
	victim, attacker := mac(1), mac(9)
	ts := newTestServer(t, dhcpSection)
	ip := ts.lease(victim, withClientID(id))
	ipSlice := net.IP(ip.AsSlice())
	stored, _ := storedLease(t, ts.store, ip.String())

	if offer := ts.do(discover(attacker, withClientID(id))); offer == nil || ip4(offer.YourIPAddr) == ip {
		t.Errorf("the copier was offered %v, want another address than the victim's %s", offer, ip)
	}
	for name, req := range map[string]*dhcpv4.DHCPv4{
		"SELECTING":   request(attacker, withClientID(id), withServerID("10.77.0.1"), withRequested(ip.String())),
		"INIT-REBOOT": request(attacker, withClientID(id), withRequested(ip.String())),
		"RENEWING":    request(attacker, withClientID(id), dhcpv4.WithClientIP(ipSlice)),
	} {
		if r := ts.do(req); r == nil || r.MessageType() != dhcpv4.MessageTypeNak {
			t.Errorf("%s by the copier: %v, want a NAK", name, r)
		}
	}
	ts.do(message(dhcpv4.MessageTypeRelease, attacker, withClientID(id), dhcpv4.WithClientIP(ipSlice), withServerID("10.77.0.1")))
	ts.do(message(dhcpv4.MessageTypeDecline, attacker, withClientID(id), withRequested(ip.String()), withServerID("10.77.0.1")))
	if r, _ := storedLease(t, ts.store, ip.String()); !r.Expires.Equal(stored.Expires) || r.MAC != victim.String() || r.Declined {
		t.Errorf("after the copier's RELEASE and DECLINE the lease is %+v, want %+v", r, stored)
	}
	if c, ok := ts.table.LookupIP(ip); !ok || c.MAC.String() != victim.String() {
		t.Errorf("the table has %s at %s, want the victim %s", c.MAC, ip, victim)
	}
	// The victim renews as before.
	if r := ts.do(request(victim, withClientID(id), dhcpv4.WithClientIP(ipSlice))); r.MessageType() != dhcpv4.MessageTypeAck || ip4(r.YourIPAddr) != ip {
		t.Errorf("the victim's renewal: %v", r)
	}
	// A RELEASE with both its identifier and its MAC is the victim's own.
	ts.do(message(dhcpv4.MessageTypeRelease, victim, withClientID(id), dhcpv4.WithClientIP(ipSlice), withServerID("10.77.0.1")))
	if r, _ := storedLease(t, ts.store, ip.String()); r.Expires.After(ts.clock.t) {
		t.Errorf("the victim's own RELEASE left the lease running until %v", r.Expires)
	}
}

// Without a client identifier, a RELEASE from another MAC ends nothing.
func TestReleaseNeedsTheMAC(t *testing.T) {
	ts := newTestServer(t, dhcpSection)
	ip := ts.lease(mac(1))
	ts.do(message(dhcpv4.MessageTypeRelease, mac(2), dhcpv4.WithClientIP(net.IP(ip.AsSlice())), withServerID("10.77.0.1")))
	if r, _ := storedLease(t, ts.store, ip.String()); !r.Expires.After(ts.clock.t) {
		t.Error("another MAC's RELEASE ended the lease")
	}
}
