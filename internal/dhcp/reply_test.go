package dhcp

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/lobby-fw/lobby/internal/checksum"
)

func TestDestination(t *testing.T) {
	client := mac(1)
	tests := []struct {
		name     string
		req      *dhcpv4.DHCPv4
		respType dhcpv4.MessageType
		yiaddr   string
		want     string // route.String()
		wantLink bool
	}{
		{"relay gets everything at port 67", discover(client, dhcpv4.WithGatewayIP(net.ParseIP("10.77.0.2")), dhcpv4.WithBroadcast(true)),
			dhcpv4.MessageTypeOffer, "10.77.0.100", "10.77.0.2:67", false},
		{"relay gets the NAK too", request(client, dhcpv4.WithGatewayIP(net.ParseIP("10.77.0.2"))),
			dhcpv4.MessageTypeNak, "", "10.77.0.2:67", false},
		{"NAK is broadcast even to a client with ciaddr", request(client, dhcpv4.WithClientIP(net.ParseIP("10.77.0.100"))),
			dhcpv4.MessageTypeNak, "", "255.255.255.255:68", false},
		{"ciaddr: unicast to it", request(client, dhcpv4.WithClientIP(net.ParseIP("10.77.0.100")), dhcpv4.WithBroadcast(true)),
			dhcpv4.MessageTypeAck, "10.77.0.100", "10.77.0.100:68", false},
		{"broadcast bit: broadcast", discover(client, dhcpv4.WithBroadcast(true)),
			dhcpv4.MessageTypeOffer, "10.77.0.100", "255.255.255.255:68", false},
		{"otherwise link-layer unicast to chaddr and yiaddr", discover(client, dhcpv4.WithBroadcast(false)),
			dhcpv4.MessageTypeOffer, "10.77.0.100", "10.77.0.100:68 via 02:00:00:00:01:01", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := message(tt.respType, client)
			resp.OpCode = dhcpv4.OpcodeBootReply
			if tt.yiaddr != "" {
				resp.YourIPAddr = net.ParseIP(tt.yiaddr)
			}
			d := destination(tt.req, resp)
			if d.String() != tt.want || (d.mac != nil) != tt.wantLink {
				t.Errorf("destination %s, want %s", d, tt.want)
			}
		})
	}
}

func TestNAKThroughARelayAsksForBroadcast(t *testing.T) {
	ts := newTestServer(t, dhcpSection)
	r := ts.do(request(mac(1), withRequested("10.77.0.5"), dhcpv4.WithGatewayIP(net.ParseIP("10.77.0.2")), dhcpv4.WithBroadcast(false)))
	if r.MessageType() != dhcpv4.MessageTypeNak || !r.IsBroadcast() || !r.GatewayIPAddr.Equal(net.ParseIP("10.77.0.2")) {
		t.Errorf("NAK via relay: %v", r)
	}
}

func TestUDPPacket(t *testing.T) {
	payload := []byte("a DHCP reply, odd length")
	b := udpPacket(addr("10.77.0.1"), addr("10.77.0.100"), clientPort, payload)
	if len(b) != 28+len(payload) {
		t.Fatalf("length %d", len(b))
	}
	if b[0] != 0x45 || b[9] != 17 || int(binary.BigEndian.Uint16(b[2:])) != len(b) {
		t.Errorf("IPv4 header % x", b[:20])
	}
	// A header with its checksum in place sums to 0xffff (RFC 1071).
	if c := checksum.Fold(checksum.Sum(0, b[:20])); c != 0xffff {
		t.Errorf("IPv4 header checksum does not verify: %#x", c)
	}
	u := b[20:]
	if binary.BigEndian.Uint16(u[0:]) != 67 || binary.BigEndian.Uint16(u[2:]) != 68 || int(binary.BigEndian.Uint16(u[4:])) != len(u) {
		t.Errorf("UDP header % x", u[:8])
	}
	pseudo := checksum.Sum(0, b[12:20]) + 17 + uint64(len(u))
	if c := checksum.Fold(checksum.Sum(pseudo, u)); c != 0xffff {
		t.Errorf("UDP checksum does not verify: %#x", c)
	}
	if string(u[8:]) != string(payload) {
		t.Error("payload changed")
	}
}
