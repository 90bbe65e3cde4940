package dhcp

import (
	"bytes"
	"net"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/lobby-fw/lobby/internal/store/storetest"
)

// FuzzProcess feeds arbitrary datagrams to the packet handler of a server
// that already holds leases: it must never panic, must answer only with
// well-formed replies for the request's transaction, must hand out only
// addresses it may, and must keep its lease indexes consistent.
func FuzzProcess(f *testing.F) {
	seeds := []*dhcpv4.DHCPv4{
		discover(mac(1)),
		discover(mac(2), withClientID("\x01abc"), withRequested("10.77.0.101"), withHostname("x")),
		request(mac(1), withServerID("10.77.0.1"), withRequested("10.77.0.100")),
		request(mac(3), withRequested("10.77.0.102")),
		request(mac(1), dhcpv4.WithClientIP(net.ParseIP("10.77.0.100"))),
		message(dhcpv4.MessageTypeRelease, mac(1), dhcpv4.WithClientIP(net.ParseIP("10.77.0.100"))),
		message(dhcpv4.MessageTypeDecline, mac(1), withRequested("10.77.0.100"), withServerID("10.77.0.1")),
		message(dhcpv4.MessageTypeInform, mac(4), dhcpv4.WithClientIP(net.ParseIP("10.77.0.9"))),
		discover(mac(5), dhcpv4.WithGatewayIP(net.ParseIP("10.77.0.2"))),
	}
	for _, s := range seeds {
		f.Add(s.ToBytes())
	}
	cfg := testConfig(f, dhcpSection+"config host\n\toption mac '02:00:00:00:01:05'\n\toption ip '10.77.0.10'\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		st := new(storetest.Mem)
		s, err := newServer(cfg, sessionTable(st), st, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		c := newClock()
		s.now = c.now
		// Leases to act on: .100 for mac 1, .101 for client id "\x01abc".
		for _, p := range seeds[:3] {
			s.process(p.ToBytes())
		}
		for range 2 { // and again, as a retransmission
			out := s.process(data)
			if out.resp == nil {
				continue
			}
			req, err := dhcpv4.FromBytes(data)
			if err != nil {
				t.Fatalf("answered a packet that does not parse: %v", err)
			}
			r := out.resp
			if r.OpCode != dhcpv4.OpcodeBootReply || r.TransactionID != req.TransactionID || !bytes.Equal(r.ClientHWAddr, req.ClientHWAddr) {
				t.Fatalf("reply header %v for request %v", r, req)
			}
			if y := ip4(r.YourIPAddr); y.IsValid() && y != addr("10.77.0.10") && !s.pool.inRange(y) {
				t.Fatalf("handed out %s", y)
			}
			if _, err := dhcpv4.FromBytes(r.ToBytes()); err != nil {
				t.Fatalf("reply does not parse: %v", err)
			}
			_ = destination(req, r).String()
		}
		checkPool(t, s.pool)
	})
}

// checkPool verifies the pool's indexes agree with each other.
func checkPool(t *testing.T, p *pool) {
	t.Helper()
	for key, l := range p.byClient {
		if l.key != key || p.byIP[l.ip] != l {
			t.Fatalf("byClient[%q] → lease %s of %q", key, l.ip, l.key)
		}
	}
	n := 0
	for ip, l := range p.byIP {
		if l.ip != ip {
			t.Fatalf("byIP[%s] holds %s", ip, l.ip)
		}
		if l.key != "" && p.byClient[l.key] != l {
			t.Fatalf("lease %s of %q not its client's", ip, l.key)
		}
		if l.static != (l.index < 0) {
			t.Fatalf("lease %s: static %v, heap index %d", ip, l.static, l.index)
		}
		if !l.static {
			n++
		}
	}
	if n != len(p.order) {
		t.Fatalf("%d dynamic leases, %d in the reuse order", n, len(p.order))
	}
	for i, l := range p.order {
		if l.index != i {
			t.Fatalf("heap index of %s is %d, at %d", l.ip, l.index, i)
		}
		if c := 2*i + 1; c < len(p.order) && p.order[c].expires.Before(l.expires) {
			t.Fatal("heap order broken")
		}
	}
}
