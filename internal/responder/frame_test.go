package responder

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// gopacket is the oracle of these tests: frames built by it are fed to
// decode, frames built by appendFrame are read back by it, and both agree
// on every field. It is a test dependency only: the binary has its own
// codec (frame.go).

// oracle decodes frame as the responder once did with gopacket: a
// DecodingLayerParser of Ethernet, IPv4 and TCP that ignores what follows
// TCP; ok requires all three, not truncated. mptcpStop reports that
// gopacket stopped reading TCP options at a Multipath TCP option it found
// malformed, where decode, which does not take MPTCP options apart, reads
// on: then their MSS may differ.
func oracle(frame []byte) (s segment, ok, mptcpStop bool) {
	var (
		eth     layers.Ethernet
		ip      layers.IPv4
		tcp     layers.TCP
		decoded []gopacket.LayerType
	)
	p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip, &tcp)
	p.IgnoreUnsupported = true
	if err := p.DecodeLayers(frame, &decoded); err != nil || p.Truncated || len(decoded) != 3 || decoded[2] != layers.LayerTypeTCP {
		return s, false, false
	}
	s = segment{
		dstMAC: eth.DstMAC, srcMAC: eth.SrcMAC,
		src: [4]byte(ip.SrcIP.To4()), dst: [4]byte(ip.DstIP.To4()),
		srcPort: uint16(tcp.SrcPort), dstPort: uint16(tcp.DstPort),
		seq: tcp.Seq, ack: tcp.Ack, window: tcp.Window, payload: tcp.Payload,
	}
	for bit, set := range []bool{tcp.FIN, tcp.SYN, tcp.RST, tcp.PSH, tcp.ACK, tcp.URG, tcp.ECE, tcp.CWR} {
		if set {
			s.flags |= 1 << bit
		}
	}
	for _, o := range tcp.Options {
		if o.OptionType == layers.TCPOptionKindMSS && len(o.OptionData) == 2 {
			s.mss, s.hasMSS = binary.BigEndian.Uint16(o.OptionData), true
		}
	}
	endList := len(tcp.Options) > 0 && tcp.Options[len(tcp.Options)-1].OptionType == layers.TCPOptionKindEndList
	mptcpStop = !endList && len(tcp.Padding) > 0 && tcp.Padding[0] == byte(layers.TCPOptionKindMultipathTCP)
	return s, true, mptcpStop
}

// oracleFrame builds the frame of s with gopacket, as the responder once
// did: the same constant fields appendFrame documents.
func oracleFrame(t testing.TB, s *segment) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: s.srcMAC, DstMAC: s.dstMAC, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, Flags: layers.IPv4DontFragment,
		SrcIP: net.IP(s.src[:]), DstIP: net.IP(s.dst[:])}
	f := s.flags
	tcp := &layers.TCP{SrcPort: layers.TCPPort(s.srcPort), DstPort: layers.TCPPort(s.dstPort), Seq: s.seq, Ack: s.ack,
		FIN: f&0x01 != 0, SYN: f&0x02 != 0, RST: f&0x04 != 0, PSH: f&0x08 != 0,
		ACK: f&0x10 != 0, URG: f&0x20 != 0, ECE: f&0x40 != 0, CWR: f&0x80 != 0, Window: s.window}
	if s.hasMSS {
		tcp.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4,
			OptionData: binary.BigEndian.AppendUint16(nil, s.mss)}}
	}
	tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, tcp, gopacket.Payload(s.payload)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sameSegment reports how a and b differ, or "" if they do not; the MSS
// is left out when mss is false.
func sameSegment(a, b *segment, mss bool) string {
	switch {
	case !bytes.Equal(a.dstMAC, b.dstMAC) || !bytes.Equal(a.srcMAC, b.srcMAC):
		return "MACs"
	case a.src != b.src || a.dst != b.dst:
		return "addresses"
	case a.srcPort != b.srcPort || a.dstPort != b.dstPort:
		return "ports"
	case a.seq != b.seq || a.ack != b.ack:
		return "sequence numbers"
	case a.flags != b.flags:
		return "flags"
	case a.window != b.window:
		return "window"
	case mss && (a.hasMSS != b.hasMSS || a.hasMSS && a.mss != b.mss):
		return "MSS"
	case !bytes.Equal(a.payload, b.payload):
		return "payload"
	}
	return ""
}

// rawFrame is the frame of s (which must have no MSS) with the IPv4 and
// TCP options given as bytes, each padded to a whole word with zeros
// (End of Option List). Its checksums are stale: decode checks none.
func rawFrame(t testing.TB, s seg, tcpOpts, ipOpts []byte) []byte {
	t.Helper()
	pad := func(b []byte) []byte { return append(slices.Clone(b), make([]byte, -len(b)&3)...) }
	tcpOpts, ipOpts = pad(tcpOpts), pad(ipOpts)
	f := s.frame(t) // Ethernet 14, IPv4 20, TCP 20, no padding unless the payload is short
	if len(s.data) < 6 {
		f = f[:54+len(s.data)]
	}
	ip := slices.Clone(f[14:34])
	tcp := slices.Clone(f[34:54])
	payload := f[54:]
	ip[0] = 0x40 | byte(5+len(ipOpts)/4)
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(ipOpts)+20+len(tcpOpts)+len(payload)))
	tcp[12] = byte(5+len(tcpOpts)/4) << 4
	return slices.Concat(f[:14], ip, ipOpts, tcp, tcpOpts, payload)
}

// stricter reports whether decode rejects, on purpose, a frame that
// gopacket takes: an EtherType other than IPv4's (RFC 894; gopacket also
// reads 0xffff, "raw", as IPv4), an IPv4 version other than 4 (RFC 791
// §3.1; gopacket does not look), or a Total Length of 0 (RFC 791 §3.1;
// gopacket reads it as "the whole capture", for captures of TSO frames,
// which never reach the socket whole). frame has an IPv4 header.
func stricter(frame []byte) bool {
	ip := frame[ethHeaderLen:]
	return binary.BigEndian.Uint16(frame[12:]) != ethTypeIPv4 || ip[0]>>4 != 4 || binary.BigEndian.Uint16(ip[2:]) == 0
}

func TestDecode(t *testing.T) {
	syn := seg{src: client, dst: inet, seq: isn, syn: true, mss: 1460}
	data := seg{src: client, dst: inet, seq: isn + 1, ack: 77, ack_: true, fin: true, data: req}
	mss := func(v uint16) []byte { return binary.BigEndian.AppendUint16([]byte{2, 4}, v) }
	set := func(f []byte, i int, b byte) []byte { f = slices.Clone(f); f[i] = b; return f }
	setFrag := func(f []byte, v uint16) []byte { f = slices.Clone(f); binary.BigEndian.PutUint16(f[20:], v); return f }
	tests := []struct {
		name    string
		frame   []byte
		err     error
		mss     uint16 // the MSS decode must find; 0: none
		payload string
	}{
		{"SYN with MSS", syn.frame(t), nil, 1460, ""},
		{"data and FIN", data.frame(t), nil, 0, req},
		{"padded to 60 bytes by the link", append(seg{src: client, dst: inet, seq: 1, ack: 1, ack_: true}.frame(t), 9, 9, 9, 9, 9, 9), nil, 0, ""},
		{"a Linux SYN's options", rawFrame(t, seg{src: client, dst: inet, syn: true},
			slices.Concat(mss(1400), []byte{4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7}), nil), nil, 1400, ""},
		{"MSS after NOPs and an unknown option", rawFrame(t, seg{src: client, dst: inet, syn: true},
			slices.Concat([]byte{1, 1, 99, 4, 0, 0}, mss(536)), nil), nil, 536, ""},
		{"MSS after End of Option List", rawFrame(t, seg{src: client, dst: inet, syn: true},
			slices.Concat([]byte{0, 0, 0, 0}, mss(536)), nil), nil, 0, ""},
		{"the later of two MSS options", rawFrame(t, seg{src: client, dst: inet, syn: true},
			slices.Concat(mss(9000), mss(1220)), nil), nil, 1220, ""},
		{"MSS option of length 3 (no MSS)", rawFrame(t, seg{src: client, dst: inet, syn: true},
			[]byte{2, 3, 5, 1}, nil), nil, 0, ""},
		{"option of length 0 ends the options", rawFrame(t, seg{src: client, dst: inet, syn: true},
			slices.Concat([]byte{99, 0, 1, 1}, mss(1400)), nil), nil, 0, ""},
		{"option past the header ends the options", rawFrame(t, seg{src: client, dst: inet, syn: true},
			slices.Concat(mss(1400), []byte{99, 9, 0, 0}), nil), nil, 1400, ""},
		{"IPv4 options", rawFrame(t, data, nil, []byte{1, 7, 7, 4, 0, 0, 0, 0}), nil, 0, req},
		{"IPv4 options ended early", rawFrame(t, data, nil, []byte{0, 0xff, 0xff, 0xff}), nil, 0, req},

		{"empty", nil, errEthernet, 0, ""},
		{"runt", []byte{1, 2, 3}, errEthernet, 0, ""},
		{"ARP", set(syn.frame(t), 13, 0x06), errEthernet, 0, ""},
		{"EtherType 0xffff", set(set(syn.frame(t), 12, 0xff), 13, 0xff), errEthernet, 0, ""},
		{"802.1Q tag", slices.Concat(syn.frame(t)[:12], []byte{0x81, 0x00, 0x00, 0x07}, syn.frame(t)[12:]), errEthernet, 0, ""},
		{"IEEE 802.3 length", set(set(syn.frame(t), 12, 0x00), 13, 0x2e), errEthernet, 0, ""},
		{"IPv4 header cut", syn.frame(t)[:30], errIPHeader, 0, ""},
		{"version 6", set(syn.frame(t), 14, 0x65), errIPHeader, 0, ""},
		{"IHL 4", set(syn.frame(t), 14, 0x44), errIPHeader, 0, ""},
		{"total length below the header", set(set(syn.frame(t), 16, 0), 17, 19), errIPHeader, 0, ""},
		{"total length 0", set(set(syn.frame(t), 16, 0), 17, 0), errIPHeader, 0, ""},
		{"total length past the frame", set(data.frame(t), 17, data.frame(t)[17]+1), errIPLength, 0, ""},
		{"frame cut inside TCP", data.frame(t)[:60], errIPLength, 0, ""},
		{"IHL past the total length", set(set(rawFrame(t, syn, nil, nil), 14, 0x4f), 17, 40), errIPHeader, 0, ""},
		{"IPv4 option of length 1", rawFrame(t, data, nil, []byte{7, 1, 0, 0}), errIPOptions, 0, ""},
		{"IPv4 option past the header", rawFrame(t, data, nil, []byte{1, 7, 8, 0}), errIPOptions, 0, ""},
		{"IPv4 option cut after its type", rawFrame(t, data, nil, []byte{1, 1, 1, 7}), errIPOptions, 0, ""},
		{"first fragment (MF)", setFrag(data.frame(t), ipFlagMF), errFragment, 0, ""},
		{"later fragment", setFrag(data.frame(t), 100), errFragment, 0, ""},
		{"last fragment", setFrag(data.frame(t), ipFlagDF|0x20), errFragment, 0, ""},
		{"UDP", set(syn.frame(t), 23, 17), errNotTCP, 0, ""},
		{"no TCP header", set(set(syn.frame(t)[:34], 16, 0), 17, 20), errTCPHeader, 0, ""},
		{"TCP header cut", set(set(syn.frame(t)[:50], 16, 0), 17, 36), errTCPHeader, 0, ""},
		{"data offset 4", set(syn.frame(t), 46, 0x40), errTCPHeader, 0, ""},
		{"data offset past the segment", set(syn.frame(t), 46, 0xf0), errTCPHeader, 0, ""},
	}
	for _, tt := range tests {
		var s segment
		err := s.decode(tt.frame)
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.err)
			continue
		}
		want, ok, _ := oracle(tt.frame)
		if err != nil {
			if ok && !stricter(tt.frame) {
				t.Errorf("%s: gopacket takes the frame", tt.name)
			}
			continue
		}
		if !ok {
			t.Errorf("%s: gopacket does not take the frame", tt.name)
			continue
		}
		if d := sameSegment(&s, &want, true); d != "" {
			t.Errorf("%s: %s differ from gopacket's: %+v, gopacket %+v", tt.name, d, s, want)
		}
		if (tt.mss != 0) != s.hasMSS || s.mss != tt.mss {
			t.Errorf("%s: MSS %d (%v), want %d", tt.name, s.mss, s.hasMSS, tt.mss)
		}
		if string(s.payload) != tt.payload {
			t.Errorf("%s: payload %q, want %q", tt.name, s.payload, tt.payload)
		}
	}
}

// appendFrame writes the bytes gopacket does (the responder's answers did
// not change when gopacket left the binary), and gopacket reads them back
// with correct checksums.
func TestAppendFrame(t *testing.T) {
	base := segment{
		dstMAC: clientMAC, srcMAC: routerMAC,
		src: [4]byte{198, 51, 100, 10}, dst: [4]byte{10, 77, 0, 50}, srcPort: 80, dstPort: 40000,
		seq: 0xdeadbeef, ack: 0xffffffff, window: 65535,
	}
	long := bytes.Repeat([]byte("0123456789"), 146)
	tests := []struct {
		name    string
		flags   uint8
		mss     uint16
		payload []byte
	}{
		{"SYN-ACK", flagSYN | flagACK, 1460, nil},
		{"SYN-ACK, MSS 88", flagSYN | flagACK, 88, nil},
		{"ACK", flagACK, 0, nil},
		{"FIN", flagACK | flagFIN, 0, nil},
		{"one byte (padded to 60)", flagACK, 0, []byte("x")},
		{"six bytes: exactly 60", flagACK, 0, []byte("sixsix")},
		{"odd length", flagACK, 0, long[:1001]},
		{"a full segment", flagACK | flagPSH | flagFIN, 0, long[:1460]},
		{"every flag", 0xff, 0, long[:7]},
	}
	for _, tt := range tests {
		s := base
		s.flags, s.mss, s.hasMSS, s.payload = tt.flags, tt.mss, tt.mss != 0, tt.payload
		want := oracleFrame(t, &s)
		// Into a buffer too small, and into one with room whose bytes
		// are left from an earlier frame, as the handler's are.
		small := s.appendFrame([]byte("kept"))
		dirty := bytes.Repeat([]byte{0xa5}, 2000)
		copy(dirty, "kept")
		for _, got := range [][]byte{small, s.appendFrame(dirty[:4])} {
			if string(got[:4]) != "kept" || !bytes.Equal(got[4:], want) {
				t.Errorf("%s: frame\n%x\ngopacket's\n%x", tt.name, got, want)
			}
		}
		got := small[4:]
		r := decode(t, got) // gopacket, and RFC 1071 checksums
		if r.tcp.Seq != s.seq || r.tcp.Ack != s.ack || r.tcp.Window != s.window || string(r.data) != string(s.payload) ||
			r.ip.TTL != 64 || r.ip.Flags != layers.IPv4DontFragment || r.ip.Id != 0 || r.ip.FragOffset != 0 || r.ip.TOS != 0 ||
			r.tcp.SrcPort != 80 || r.tcp.DstPort != 40000 || r.ip.SrcIP.String() != "198.51.100.10" || r.ip.DstIP.String() != "10.77.0.50" {
			t.Errorf("%s: gopacket reads %+v %+v", tt.name, r.ip, r.tcp)
		}
		if len(got) < minFrame {
			t.Errorf("%s: %d bytes, shorter than an Ethernet frame", tt.name, len(got))
		}
		// And decode reads back what was written.
		var back segment
		if err := back.decode(got); err != nil {
			t.Fatalf("%s: decode: %v", tt.name, err)
		}
		if d := sameSegment(&back, &s, true); d != "" {
			t.Errorf("%s: read back, %s differ", tt.name, d)
		}
	}
}

// FuzzDecode holds decode against gopacket for arbitrary frames: when one
// takes a frame the other does too (but for the frames decode is stricter
// about on purpose), and both read the same fields. decode does not take
// Multipath TCP options apart (RFC 8684), so it reads on where gopacket
// stops at one it finds malformed: the MSS is compared only when gopacket
// did not stop there.
func FuzzDecode(f *testing.F) {
	for _, s := range []seg{
		{src: client, dst: inet, seq: isn, syn: true, mss: 1460},
		{src: client, dst: inet, seq: isn + 1, ack: 5, ack_: true, data: req},
		{src: client, dst: inet, seq: isn + 1, ack: 5, ack_: true, fin: true},
	} {
		f.Add(s.frame(f))
	}
	f.Add(append(seg{src: client, dst: inet, seq: 1, ack: 1, ack_: true}.frame(f), 0, 0, 0, 0, 0, 0))
	f.Add(rawFrame(f, seg{src: client, dst: inet, syn: true}, []byte{2, 4, 5, 0x78, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7}, nil))
	f.Add(rawFrame(f, seg{src: client, dst: inet, syn: true}, []byte{30, 12, 0x01, 0x81, 1, 2, 3, 4, 5, 6, 7, 8, 2, 4, 5, 0xb4}, nil))
	f.Add(rawFrame(f, seg{src: client, dst: inet, data: req}, nil, []byte{1, 7, 7, 4, 0, 0, 0, 0}))
	f.Fuzz(func(t *testing.T, frame []byte) {
		var s segment
		err := s.decode(frame)
		want, ok, mptcpStop := oracle(frame)
		if err == nil && !ok {
			t.Fatalf("decode takes a frame gopacket does not: %+v", s)
		}
		if !ok {
			return
		}
		if err != nil {
			if !stricter(frame) {
				t.Fatalf("decode: %v; gopacket takes the frame: %+v", err, want)
			}
			return
		}
		if d := sameSegment(&s, &want, !mptcpStop); d != "" {
			t.Fatalf("%s differ: decode %+v, gopacket %+v", d, s, want)
		}
	})
}

// FuzzAppendFrame holds appendFrame against gopacket for arbitrary
// fields: the same bytes, and decode reads the fields back.
func FuzzAppendFrame(f *testing.F) {
	f.Add([]byte{2, 0, 0, 0, 1, 1}, uint32(0x0a4d0032), uint32(0xc633640a), uint16(40000), uint16(80),
		uint32(1), uint32(2), uint8(flagSYN|flagACK), uint16(65535), uint16(1460), true, []byte(nil))
	f.Add([]byte{2, 0, 0, 0, 1, 1}, uint32(0x0a4d0032), uint32(0xc633640a), uint16(40000), uint16(80),
		uint32(0xffffffff), uint32(0), uint8(flagACK|flagFIN|flagPSH), uint16(1), uint16(1460), false, []byte("HTTP/1.1 511"))
	f.Fuzz(func(t *testing.T, mac []byte, src, dst uint32, srcPort, dstPort uint16,
		seq, ack uint32, flags uint8, window, mss uint16, hasMSS bool, payload []byte) {
		if len(mac) != 6 || len(payload) > 9000 {
			return
		}
		s := segment{dstMAC: mac, srcMAC: routerMAC, srcPort: srcPort, dstPort: dstPort,
			seq: seq, ack: ack, flags: flags, window: window, mss: mss, hasMSS: hasMSS, payload: payload}
		binary.BigEndian.PutUint32(s.src[:], src)
		binary.BigEndian.PutUint32(s.dst[:], dst)
		got := s.appendFrame(nil)
		if want := oracleFrame(t, &s); !bytes.Equal(got, want) {
			t.Fatalf("frame\n%x\ngopacket's\n%x", got, want)
		}
		var back segment
		if err := back.decode(got); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if d := sameSegment(&back, &s, true); d != "" {
			t.Fatalf("read back, %s differ", d)
		}
	})
}
