package dhcp

import (
	"encoding/binary"
	"net"
	"net/netip"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/lobby-fw/lobby/internal/checksum"
)

// The DHCP ports (RFC 2131 §4.1).
const (
	serverPort = 67
	clientPort = 68
)

// route is where one reply goes.
type route struct {
	// ip and port are the IP destination. With mac set the reply goes
	// to that link-layer address, built by hand, because the client has
	// no address yet and the kernel would ARP for it in vain.
	ip   netip.Addr
	port uint16
	mac  net.HardwareAddr
}

var broadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

func (r route) String() string {
	s := netip.AddrPortFrom(r.ip, r.port).String()
	if r.mac != nil {
		s += " via " + r.mac.String()
	}
	return s
}

// destination is where a server's reply to req goes: RFC 2131 §4.1,
// "Constructing and sending DHCP messages", in the order the RFC gives.
func destination(req, resp *dhcpv4.DHCPv4) route {
	giaddr, ciaddr := ip4(req.GatewayIPAddr), ip4(req.ClientIPAddr)
	yiaddr := ip4(resp.YourIPAddr)
	switch {
	case giaddr.IsValid():
		// "If the 'giaddr' field in a DHCP message from a client is
		// non-zero, the server sends any return messages to the 'DHCP
		// server' port on the BOOTP relay agent whose address appears in
		// 'giaddr'."
		return route{ip: giaddr, port: serverPort}
	case resp.MessageType() == dhcpv4.MessageTypeNak:
		// "In all cases, when 'giaddr' is zero, the server broadcasts any
		// DHCPNAK messages to 0xffffffff."
		return route{ip: broadcast, port: clientPort}
	case ciaddr.IsValid():
		// "If the 'giaddr' field is zero and the 'ciaddr' field is
		// nonzero, then the server unicasts DHCPOFFER and DHCPACK
		// messages to the address in 'ciaddr'." (Also §4.3.5 for the ACK
		// to a DHCPINFORM.)
		return route{ip: ciaddr, port: clientPort}
	case req.IsBroadcast() || !yiaddr.IsValid():
		// "If 'giaddr' is zero and 'ciaddr' is zero, and the broadcast
		// bit is set, then the server broadcasts DHCPOFFER and DHCPACK
		// messages to 0xffffffff."
		return route{ip: broadcast, port: clientPort}
	default:
		// "If the broadcast bit is not set and 'giaddr' is zero and
		// 'ciaddr' is zero, then the server unicasts DHCPOFFER and
		// DHCPACK messages to the client's hardware address and 'yiaddr'
		// address."
		return route{ip: yiaddr, port: clientPort, mac: req.ClientHWAddr}
	}
}

// udpPacket wraps payload in an IPv4 and UDP header from src:67 to
// dst:port, for the link-layer unicast of §4.1.
func udpPacket(src, dst netip.Addr, port uint16, payload []byte) []byte {
	const ipLen, udpLen = 20, 8
	b := make([]byte, ipLen+udpLen+len(payload))
	total := len(b)
	// IPv4 header (RFC 791): version 4, IHL 5, TTL 64, protocol UDP.
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(total))
	b[8] = 64
	b[9] = 17
	s, d := src.As4(), dst.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[10:], ^checksum.Fold(checksum.Sum(0, b[:ipLen])))

	u := b[ipLen:]
	binary.BigEndian.PutUint16(u[0:], serverPort)
	binary.BigEndian.PutUint16(u[2:], port)
	binary.BigEndian.PutUint16(u[4:], uint16(udpLen+len(payload)))
	copy(u[udpLen:], payload)
	// UDP checksum over the pseudo-header (RFC 768); 0 would mean "none",
	// so a computed 0 is sent as 0xffff.
	pseudo := checksum.Sum(checksum.Sum(0, s[:]), d[:]) + 17 + uint64(len(u))
	c := ^checksum.Fold(checksum.Sum(pseudo, u))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:], c)
	return b
}
