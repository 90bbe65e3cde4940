package dhcp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/lobby-fw/lobby/internal/config"
	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/store/storetest"
	"github.com/lobby-fw/lobby/internal/uci"
)

// storedLease returns the record of ip in st.
func storedLease(t *testing.T, st *storetest.Mem, ip string) (record, bool) {
	t.Helper()
	raw, ok := st.Records(Kind)[ip]
	if !ok {
		return record{}, false
	}
	var r record
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("stored lease %s: %v", ip, err)
	}
	return r, true
}

// testConfig parses a config for a LAN of 10.77.0.1/24; extra is more UCI
// text (config dhcp, config host sections). It turns it into the server's
// Config as firmware/derive.go does.
func testConfig(t testing.TB, extra string) Config {
	t.Helper()
	text := "config lobby 'main'\n\toption interface 'br-lan'\n\toption hostname 'portal.lan'\n" + extra
	f, err := uci.Parse("test.conf", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	c, problems := config.Parse(f)
	if errs, _ := problems.Split(); len(errs) > 0 {
		t.Fatalf("config: %v", errs)
	}
	if err := c.Bind([]netip.Prefix{netip.MustParsePrefix("10.77.0.1/24")}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	return serverConfig(c)
}

// serverConfig is what firmware/derive.go makes of a bound config for the
// server.
func serverConfig(c *config.Config) Config {
	cfg := Config{
		Enabled: c.DHCP.Enabled, Interface: c.Main.Interface, Server: c.Main.Address, Subnet: c.Main.Subnet,
		LeaseTime: c.DHCP.LeaseTime, Domain: c.DHCP.Domain,
	}
	cfg.First, cfg.Last, _ = c.Pool()
	for _, h := range c.Hosts {
		cfg.Hosts = append(cfg.Hosts, Host{MAC: h.MAC, IP: h.IP, Name: h.Name})
	}
	if c.Main.TLS() {
		cfg.CaptiveURL = fmt.Sprintf("https://%s:%d/api/captive", c.Main.Hostname, c.Main.TLSPort)
	}
	return cfg
}

// clock is a settable time for the server.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }
func quietLog() *slog.Logger             { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func mac(k byte) net.HardwareAddr        { return net.HardwareAddr{2, 0, 0, 0, 1, k} }
func addr(s string) netip.Addr           { return netip.MustParseAddr(s) }
func sessionTable(st *storetest.Mem) *session.Table {
	return session.New(session.Config{}, st, quietLog())
}

// testServer is a server with an in-memory store and table and a fake clock.
type testServer struct {
	*Server
	t     *testing.T
	store *storetest.Mem
	table *session.Table
	clock *clock
}

func newTestServer(t *testing.T, extra string) *testServer {
	t.Helper()
	return reopen(t, extra, new(storetest.Mem), newClock())
}

// reopen builds a server over an existing store, as a restart does.
func reopen(t *testing.T, extra string, st *storetest.Mem, c *clock) *testServer {
	t.Helper()
	table := sessionTable(st)
	s, err := newServer(testConfig(t, extra), table, st, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	s.now = c.now
	if s.pool != nil {
		s.announce()
	}
	return &testServer{Server: s, t: t, store: st, table: table, clock: c}
}

// signIn signs clients in, so that they get the full leasetime.
func (ts *testServer) signIn(ks ...byte) {
	ts.t.Helper()
	for _, k := range ks {
		if _, err := ts.table.Auth(context.Background(), mac(k), ts.table.NewGrant(session.MethodCtl, "", session.Limits{})); err != nil {
			ts.t.Fatal(err)
		}
	}
}

// do runs one request through the server as a worker and the committer
// would, and returns the reply (nil if none).
func (ts *testServer) do(req *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	ts.t.Helper()
	out := ts.process(req.ToBytes())
	for _, m := range out.forget {
		ts.table.Forget(m)
	}
	if out.bind != nil {
		ts.table.Leased(out.bind.mac, out.bind.ip, out.bind.hostname)
	}
	if out.resp == nil {
		return nil
	}
	// Every reply must survive the wire.
	back, err := dhcpv4.FromBytes(out.resp.ToBytes())
	if err != nil {
		ts.t.Fatalf("reply does not parse back: %v", err)
	}
	return back
}

// Requests as clients build them.

func discover(m net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	d, err := dhcpv4.NewDiscovery(m, mods...)
	if err != nil {
		panic(err)
	}
	return d
}

func request(m net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	all := append([]dhcpv4.Modifier{dhcpv4.WithHwAddr(m), dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest)}, mods...)
	r, err := dhcpv4.New(all...)
	if err != nil {
		panic(err)
	}
	return r
}

func message(typ dhcpv4.MessageType, m net.HardwareAddr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	all := append([]dhcpv4.Modifier{dhcpv4.WithHwAddr(m), dhcpv4.WithMessageType(typ)}, mods...)
	r, err := dhcpv4.New(all...)
	if err != nil {
		panic(err)
	}
	return r
}

func withRequested(ip string) dhcpv4.Modifier {
	return dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(net.ParseIP(ip)))
}

func withServerID(ip string) dhcpv4.Modifier {
	return dhcpv4.WithOption(dhcpv4.OptServerIdentifier(net.ParseIP(ip)))
}

func withHostname(name string) dhcpv4.Modifier {
	return dhcpv4.WithOption(dhcpv4.OptHostName(name))
}

func withClientID(id string) dhcpv4.Modifier {
	return dhcpv4.WithOption(dhcpv4.OptClientIdentifier([]byte(id)))
}

// lease runs a client through DISCOVER and REQUEST and returns its address.
func (ts *testServer) lease(m net.HardwareAddr, mods ...dhcpv4.Modifier) netip.Addr {
	ts.t.Helper()
	offer := ts.do(discover(m, mods...))
	if offer == nil || offer.MessageType() != dhcpv4.MessageTypeOffer {
		ts.t.Fatalf("%s: no OFFER: %v", m, offer)
	}
	ack := ts.do(request(m, append(mods, withServerID("10.77.0.1"), withRequested(offer.YourIPAddr.String()))...))
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck {
		ts.t.Fatalf("%s: no ACK for %s: %v", m, offer.YourIPAddr, ack)
	}
	return ip4(ack.YourIPAddr)
}
