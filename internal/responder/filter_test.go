package responder

import (
	"strconv"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

func TestFilter(t *testing.T) {
	// The whole program must assemble, extension included.
	if _, err := bpf.Assemble(append(hostOnly(), tcpTo([]uint16{80, 8080})...)); err != nil {
		t.Fatal(err)
	}
	vm, err := bpf.NewVM(tcpTo([]uint16{80, 8080}))
	if err != nil {
		t.Fatal(err)
	}
	syn := func(port uint16) seg {
		return seg{src: client, dst: "198.51.100.10:" + strconv.Itoa(int(port)), seq: 1, syn: true}
	}
	tests := []struct {
		name  string
		frame []byte
		pass  bool
	}{
		{"TCP to 80", syn(80).frame(t), true},
		{"TCP to 8080", syn(8080).frame(t), true},
		{"TCP to 443", syn(443).frame(t), false},
		{"TCP from 80", seg{src: "10.77.0.50:80", dst: "198.51.100.10:5000", seq: 1, syn: true}.frame(t), false},
		{"request", seg{src: client, dst: inet, seq: 1, ack: 1, ack_: true, data: req}.frame(t), true},
		{"one byte of data", seg{src: client, dst: inet, seq: 1, ack: 1, ack_: true, data: "x"}.frame(t), true},
		{"FIN", seg{src: client, dst: inet, seq: 1, ack: 1, ack_: true, fin: true}.frame(t), true},
		{"RST", seg{src: client, dst: inet, seq: 1, rst: true}.frame(t), true},
		{"pure ACK", seg{src: client, dst: inet, seq: 1, ack: 1, ack_: true}.frame(t), false},
		{"pure ACK with options", seg{src: client, dst: inet, seq: 1, ack: 1, ack_: true, mss: 1460}.frame(t), false},
		{"pure ACK padded to 60 bytes", append(seg{src: client, dst: inet, seq: 1, ack: 1, ack_: true}.frame(t), 0, 0, 0, 0, 0, 0), false},
		{"IPv4 options before TCP to 80", withIPOptions(t, 80), true},
		{"IPv4 options before TCP to 443", withIPOptions(t, 443), false},
		{"UDP to 80", udpTo(t, 80), false},
		{"first fragment", fragment(t, true, 0), false},
		{"later fragment", fragment(t, false, 100), false},
		{"ARP", arp(t), false},
		{"runt", []byte{1, 2, 3}, false},
	}
	// With one port the jumps differ: the same verdicts, but 8080 is out.
	one, err := bpf.NewVM(tcpTo([]uint16{80}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		want := tt.pass && tt.name != "TCP to 8080"
		if n, _ := one.Run(tt.frame); (n > 0) != want {
			t.Errorf("port 80 only: %s: filter returned %d, want pass %v", tt.name, n, want)
		}
	}
	for _, tt := range tests {
		n, err := vm.Run(tt.frame)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if (n > 0) != tt.pass {
			t.Errorf("%s: filter returned %d, want pass %v", tt.name, n, tt.pass)
		}
		if tt.pass && n < len(tt.frame) {
			t.Errorf("%s: only %d of %d bytes kept", tt.name, n, len(tt.frame))
		}
	}
}

func serialize(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func ipTo(proto layers.IPProtocol) (*layers.Ethernet, *layers.IPv4) {
	return &layers.Ethernet{SrcMAC: clientMAC, DstMAC: routerMAC, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: []byte{10, 77, 0, 50}, DstIP: []byte{198, 51, 100, 10}}
}

func withIPOptions(t *testing.T, port uint16) []byte {
	eth, ip := ipTo(layers.IPProtocolTCP)
	ip.Options = []layers.IPv4Option{{OptionType: 7, OptionLength: 7, OptionData: []byte{4, 0, 0, 0, 0}}, {OptionType: 0, OptionLength: 1}}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: layers.TCPPort(port), SYN: true}
	tcp.SetNetworkLayerForChecksum(ip)
	return serialize(t, eth, ip, tcp)
}

func udpTo(t *testing.T, port uint16) []byte {
	eth, ip := ipTo(layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: 40000, DstPort: layers.UDPPort(port)}
	udp.SetNetworkLayerForChecksum(ip)
	return serialize(t, eth, ip, udp, gopacket.Payload("x"))
}

func fragment(t *testing.T, more bool, offset uint16) []byte {
	eth, ip := ipTo(layers.IPProtocolTCP)
	if more {
		ip.Flags = layers.IPv4MoreFragments
	}
	ip.FragOffset = offset
	// The first fragment carries a TCP header to port 80.
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, SYN: true}
	tcp.SetNetworkLayerForChecksum(ip)
	return serialize(t, eth, ip, tcp)
}

func arp(t *testing.T) []byte {
	eth := &layers.Ethernet{SrcMAC: clientMAC, DstMAC: routerMAC, EthernetType: layers.EthernetTypeARP}
	a := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: 1, SourceHwAddress: clientMAC, SourceProtAddress: []byte{10, 77, 0, 50},
		DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 77, 0, 1}}
	return serialize(t, eth, a)
}
