package responder

import (
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/lobby-fw/lobby/internal/session"
)

var (
	routerMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	clientMAC = net.HardwareAddr{0x02, 0, 0, 0, 0x01, 0x01}
	portal    = netip.MustParseAddrPort("10.77.0.1:2050")
	redirect  = "http://" + portal.String() + "/?redir="
	t0        = time.Unix(1_800_000_000, 0)
)

// states is a fake session table.
type states map[string]session.State

func (s states) StateAt(mac net.HardwareAddr, _ netip.Addr) session.State { return s[mac.String()] }

// rig is a handler whose sent frames are kept.
type rig struct {
	h    *handler
	sent [][]byte
}

func newRig(t testing.TB, clients Clients, mtu int) *rig {
	t.Helper()
	r := &rig{}
	var stats Stats
	r.h = newHandler(routerMAC, mtu, []uint16{80}, clients, &cookieJar{k0: 1, k1: 2},
		newPages("http://"+portal.String()+"/?redir=", []string{"detect.example.net/check"}),
		slog.New(slog.NewTextHandler(io.Discard, nil)), &stats,
		func(b []byte) error {
			r.sent = append(r.sent, append([]byte(nil), b...))
			return nil
		})
	return r
}

// take returns and forgets the frames sent so far.
func (r *rig) take() [][]byte {
	s := r.sent
	r.sent = nil
	return s
}

// seg describes a segment a client sends.
type seg struct {
	src, dst       string // "ip:port"
	mac            net.HardwareAddr
	seq, ack       uint32
	syn, ack_, fin bool
	rst            bool
	mss            uint16 // 0: no MSS option
	data           string
}

// frame builds the Ethernet frame of s with correct checksums.
func (s seg) frame(t testing.TB) []byte {
	t.Helper()
	src, dst := netip.MustParseAddrPort(s.src), netip.MustParseAddrPort(s.dst)
	mac := s.mac
	if mac == nil {
		mac = clientMAC
	}
	eth := &layers.Ethernet{SrcMAC: mac, DstMAC: routerMAC, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, Flags: layers.IPv4DontFragment,
		SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()),
		Seq: s.seq, Ack: s.ack, SYN: s.syn, ACK: s.ack_, FIN: s.fin, RST: s.rst, Window: 64240}
	if s.mss != 0 {
		tcp.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4,
			OptionData: binary.BigEndian.AppendUint16(nil, s.mss)}}
	}
	tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, tcp, gopacket.Payload(s.data))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// reply is a frame the responder sent, decoded.
type reply struct {
	eth  layers.Ethernet
	ip   layers.IPv4
	tcp  layers.TCP
	data []byte
}

// decode decodes a sent frame with gopacket and checks its IPv4 and TCP
// checksums with an independent RFC 1071 sum.
func decode(t testing.TB, b []byte) reply {
	t.Helper()
	p := gopacket.NewPacket(b, layers.LayerTypeEthernet, gopacket.Default)
	if el := p.ErrorLayer(); el != nil {
		t.Fatalf("sent frame does not decode: %v", el.Error())
	}
	var r reply
	eth, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if eth == nil || ip == nil || tcp == nil {
		t.Fatalf("sent frame is not Ethernet/IPv4/TCP: %v", p)
	}
	r.eth, r.ip, r.tcp, r.data = *eth, *ip, *tcp, tcp.Payload
	if sum := refChecksum(0, ip.Contents); sum != 0xffff {
		t.Errorf("IPv4 header checksum wrong (sum %#04x)", sum)
	}
	seg := append(append([]byte(nil), tcp.Contents...), tcp.Payload...)
	if int(ip.Length) != len(ip.Contents)+len(seg) {
		t.Errorf("IPv4 total length %d, want %d", ip.Length, len(ip.Contents)+len(seg))
	}
	var pseudo []byte
	pseudo = append(pseudo, ip.SrcIP.To4()...)
	pseudo = append(pseudo, ip.DstIP.To4()...)
	pseudo = append(pseudo, 0, 6)
	pseudo = binary.BigEndian.AppendUint16(pseudo, uint16(len(seg)))
	if sum := refChecksum(uint32(refChecksum(0, pseudo)), seg); sum != 0xffff {
		t.Errorf("TCP checksum wrong (sum %#04x)", sum)
	}
	return r
}

// refChecksum is the RFC 1071 one's complement sum, folded: the tests' own
// reference, independent of internal/checksum.
func refChecksum(sum uint32, b []byte) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}
