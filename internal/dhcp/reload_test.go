package dhcp

import (
	"net"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// A reload moves the pool, adds a static host and changes the lease time
// and domain: leases the new pool holds stay as they were, one outside it is
// dropped and its renewal NAKed, and the next DISCOVER gets the new pool.
func TestReloadPoolAndHosts(t *testing.T) {
	ts := newTestServer(t, dhcpSection) // pool 10.77.0.100-103
	kept := ts.lease(mac(1))            // .100
	moved := ts.lease(mac(2))           // .101
	if kept != addr("10.77.0.100") || moved != addr("10.77.0.101") {
		t.Fatalf("leases %v %v", kept, moved)
	}
	next := testConfig(t, "config dhcp 'dhcp'\n\toption start '100'\n\toption limit '1'\n\toption leasetime '5m'\n\toption domain 'guest'\n"+
		"config host\n\toption mac '02:00:00:00:01:09'\n\toption ip '10.77.0.20'\n")
	ts.Reload(next)

	if _, ok := storedLease(t, ts.store, "10.77.0.100"); !ok {
		t.Error("the lease inside the new pool was dropped")
	}
	if _, ok := storedLease(t, ts.store, "10.77.0.101"); ok {
		t.Error("the lease outside the new pool is still stored")
	}
	renew := ts.do(request(mac(2), dhcpv4.WithClientIP(net.IP(moved.AsSlice()))))
	if renew == nil || renew.MessageType() != dhcpv4.MessageTypeNak {
		t.Errorf("renewal outside the new pool: %v, want a NAK", renew)
	}
	ack := ts.do(request(mac(1), dhcpv4.WithClientIP(net.IP(kept.AsSlice()))))
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("renewal inside the new pool: %v", ack)
	}
	if lt := ack.IPAddressLeaseTime(0); lt.Minutes() != 5 {
		t.Errorf("lease time after reload %v, want 5m", lt)
	}
	if d := ack.DomainName(); d != "guest" {
		t.Errorf("domain after reload %q, want guest", d)
	}
	// The dropped address is never offered again; a new client gets the
	// new pool's only address or nothing.
	if offer := ts.do(discover(mac(3))); offer != nil && !offer.YourIPAddr.Equal(net.IP(kept.AsSlice())) {
		t.Errorf("a new client was offered %v, outside the new pool", offer.YourIPAddr)
	}
	if got := ts.lease(mac(9)); got != addr("10.77.0.20") {
		t.Errorf("new static host got %v", got)
	}
}

// option enabled '0' on reload stops answering; '1' starts again.
func TestReloadEnabled(t *testing.T) {
	ts := newTestServer(t, "config dhcp 'dhcp'\n\toption enabled '0'\n")
	ts.Reload(testConfig(t, dhcpSection))
	if !ts.enabled.On() || ts.pool == nil {
		t.Fatal("reload did not turn the server on")
	}
	ts.Reload(testConfig(t, "config dhcp 'dhcp'\n\toption enabled '0'\n"))
	if ts.enabled.On() {
		t.Error("reload did not turn the server off")
	}
}
