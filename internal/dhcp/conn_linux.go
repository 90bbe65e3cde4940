package dhcp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// rcvBuf is the receive buffer asked for: about a thousand requests.
const rcvBuf = 1 << 20

// conn is the server's pair of sockets on the LAN interface: UDP port 67
// for requests and most replies, and an AF_PACKET socket for replies to
// clients that have no address yet.
type conn struct {
	udp   *net.UDPConn
	batch *ipv4.PacketConn // udp, for recvmmsg and sendmmsg
	link  *packet.Conn
}

// listen opens both sockets on iface.
//
// The UDP socket is bound to the interface (SO_BINDTODEVICE) before it is
// bound to the port, so that it sees requests from that interface only
// and its broadcasts leave through it. It sets neither SO_REUSEADDR nor
// SO_REUSEPORT (unlike insomniacslk's server4.NewIPv4UDPConn): with them
// a second DHCP server on the interface, such as OpenWrt's dnsmasq, would
// silently share the clients instead of being reported.
func listen(iface string, server netip.Addr) (*conn, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w — create it, or set option interface", iface, err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("open udp socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), "dhcp")
	defer f.Close() // FilePacketConn dups it
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1); err != nil {
		return nil, fmt.Errorf("udp socket: SO_BROADCAST: %w", err)
	}
	// A larger buffer rides out a burst of DISCOVERs (a venue's Wi-Fi
	// coming back after a power cut). SO_RCVBUFFORCE passes OpenWrt's
	// small rmem_max; the memory is used only while packets wait.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
	}
	if err := unix.BindToDevice(fd, iface); err != nil {
		return nil, fmt.Errorf("bind udp socket to %s (SO_BINDTODEVICE): %w — lobby needs CAP_NET_RAW", iface, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: serverPort}); err != nil {
		if errors.Is(err, unix.EADDRINUSE) {
			return nil, fmt.Errorf("listen udp :%d on %s: %w — another DHCP server serves %s: stop it (on OpenWrt: uci set dhcp.lan.ignore=1; uci commit dhcp; service dnsmasq restart) or set option enabled '0' in config dhcp", serverPort, iface, err, iface)
		}
		return nil, fmt.Errorf("listen udp :%d on %s: %w — lobby needs root or CAP_NET_BIND_SERVICE", serverPort, iface, err)
	}
	pc, err := net.FilePacketConn(f)
	if err != nil {
		return nil, fmt.Errorf("listen udp :%d on %s: %w", serverPort, iface, err)
	}
	udp := pc.(*net.UDPConn)

	// The AF_PACKET socket only sends. A filter that accepts nothing,
	// attached before bind, keeps the kernel from copying every IPv4
	// frame of the interface into it.
	none, err := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 0}})
	if err != nil {
		udp.Close()
		return nil, fmt.Errorf("assemble bpf filter: %w", err)
	}
	link, err := packet.Listen(ifi, packet.Datagram, unix.ETH_P_IP, &packet.Config{Filter: none})
	if err != nil {
		udp.Close()
		return nil, fmt.Errorf("open packet socket on %s: %w — lobby needs CAP_NET_RAW", iface, err)
	}
	return &conn{udp: udp, batch: ipv4.NewPacketConn(udp), link: link}, nil
}

// readBatch reads at least one datagram sent to port 67 on the interface,
// and as many more as are waiting and fit in ms.
func (c *conn) readBatch(ms []ipv4.Message) (int, error) {
	return c.batch.ReadBatch(ms, 0)
}

// send sends each reply's payload along its route. src is the server's
// address, needed only for the packets built by hand. It returns how
// many could not be sent and the last error.
func (c *conn) send(rs []reply, src netip.Addr) (failed int, err error) {
	ms := make([]ipv4.Message, 0, len(rs))
	for _, r := range rs {
		if r.dst.mac != nil {
			if _, e := c.link.WriteTo(udpPacket(src, r.dst.ip, r.dst.port, r.payload), &packet.Addr{HardwareAddr: r.dst.mac}); e != nil {
				failed, err = failed+1, e
			}
			continue
		}
		ms = append(ms, ipv4.Message{
			Buffers: [][]byte{r.payload},
			Addr:    &net.UDPAddr{IP: r.dst.ip.AsSlice(), Port: int(r.dst.port)},
		})
	}
	for len(ms) > 0 {
		n, e := c.batch.WriteBatch(ms, 0)
		if e != nil {
			// sendmmsg reports the error of the first message it could
			// not send; skip that one and go on with the rest.
			failed, err = failed+1, e
			n++
		}
		ms = ms[min(n, len(ms)):]
	}
	return failed, err
}

// Close closes both sockets.
func (c *conn) Close() error {
	return errors.Join(c.udp.Close(), c.link.Close())
}
