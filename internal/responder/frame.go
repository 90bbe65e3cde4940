package responder

import (
	"encoding/binary"
	"errors"
	"net"

	"github.com/lobby-fw/lobby/internal/checksum"
)

// The responder reads and writes one kind of frame only: Ethernet II,
// IPv4, TCP. This file is its codec: a decoder that checks what it reads
// and an encoder that writes what the responder sends, both without
// allocating. It replaces gopacket/layers, whose init builds tables for
// every protocol it knows and links all their decoders in: about 370 KB
// of compressed flash for the three headers needed here. The tests hold
// both halves against gopacket, which stays a test-only dependency.

// Sizes and values of the headers (IEEE 802.3, RFC 894, RFC 791 §3.1,
// RFC 9293 §3.1).
const (
	ethHeaderLen = 14
	ethTypeIPv4  = 0x0800 // RFC 894
	// minFrame is the shortest Ethernet frame without its FCS: a shorter
	// datagram is padded with zeros, which Total Length does not count
	// (RFC 894).
	minFrame     = 60
	ipHeaderLen  = 20 // without options
	tcpHeaderLen = 20 // without options
	protoTCP     = 6  // RFC 791 §3.1, Protocol
	// ipFlagDF and ipFlagMF are Flags bits within the 16 bits of Flags
	// and Fragment Offset (RFC 791 §3.1).
	ipFlagDF     = 0x4000
	ipFlagMF     = 0x2000
	ipFragOffset = 0x1fff
	// ttl is the Time to Live that RFC 1700 recommends (and Linux sends).
	ttl = 64
	// Option kinds: End of Option List and No Operation, the same in
	// IPv4 (RFC 791 §3.1) and TCP (RFC 9293 §3.1); TCP's Maximum Segment
	// Size option and its length (RFC 9293 §3.2).
	optEOL    = 0
	optNOP    = 1
	optMSS    = 2
	optMSSLen = 4
	// maxSegmentHeaders is how long the headers of a frame the responder
	// sends can be: Ethernet, IPv4 and TCP with the MSS option.
	maxSegmentHeaders = ethHeaderLen + ipHeaderLen + tcpHeaderLen + optMSSLen
)

// TCP control bits (RFC 9293 §3.1), as in the 14th byte of the header.
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagPSH = 0x08
	flagACK = 0x10
)

// Why decode rejects a frame. The handler counts them all as dropped; the
// tests tell them apart.
var (
	errEthernet  = errors.New("not an Ethernet II frame of IPv4")
	errIPHeader  = errors.New("malformed IPv4 header")
	errIPLength  = errors.New("IPv4 datagram longer than the frame")
	errIPOptions = errors.New("malformed IPv4 options")
	errFragment  = errors.New("IPv4 fragment")
	errNotTCP    = errors.New("not TCP")
	errTCPHeader = errors.New("malformed TCP header")
)

// segment is a TCP segment with the IPv4 and Ethernet headers around it:
// the fields the responder reads from a frame and writes into one. After
// decode, srcMAC, dstMAC and payload alias the frame.
type segment struct {
	dstMAC, srcMAC   net.HardwareAddr
	src, dst         [4]byte
	srcPort, dstPort uint16
	seq, ack         uint32
	flags            uint8 // flagFIN … flagACK
	window           uint16
	// mss is the value of the Maximum Segment Size option, when hasMSS.
	mss     uint16
	hasMSS  bool
	payload []byte
}

// has reports whether flag (one of flagFIN … flagACK) is set.
func (s *segment) has(flag uint8) bool { return s.flags&flag != 0 }

// decode reads frame into s. It accepts what the responder can answer:
// an Ethernet II frame of an unfragmented IPv4 datagram that carries a
// whole TCP segment. It checks every length field against the others and
// against the frame, so that nothing is read past the data, but verifies
// no checksum: with checksum offload (veth, most NICs) a packet socket sees
// TCP checksums that are not filled in yet, and an IPv4 header damaged on
// the wire does not get past the Ethernet FCS.
func (s *segment) decode(frame []byte) error {
	// Ethernet II (RFC 894): the type, not an IEEE 802.3 length; the
	// socket is bound to ETH_P_IP, so an 802.1Q tag never gets here, and
	// a tagged frame is not taken apart.
	if len(frame) < ethHeaderLen || binary.BigEndian.Uint16(frame[12:]) != ethTypeIPv4 {
		return errEthernet
	}
	ip := frame[ethHeaderLen:]

	// IPv4, RFC 791 §3.1.
	if len(ip) < ipHeaderLen || ip[0]>>4 != 4 {
		return errIPHeader
	}
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:]))
	// The header is at least 5 words, and Total Length counts it.
	if ihl < ipHeaderLen || total < ihl {
		return errIPHeader
	}
	// Anything after Total Length is the link's padding (an Ethernet
	// frame is at least 60 bytes); a datagram cut short by the capture
	// cannot be answered.
	if total > len(ip) {
		return errIPLength
	}
	ip = ip[:total]
	if !ipOptionsValid(ip[ipHeaderLen:ihl]) {
		return errIPOptions
	}
	// A fragment (More Fragments set, or an offset) is not answered: the
	// responder keeps no state to reassemble it in (RFC 791 §3.2), and
	// the socket's filter passes none.
	if binary.BigEndian.Uint16(ip[6:])&(ipFlagMF|ipFragOffset) != 0 {
		return errFragment
	}
	if ip[9] != protoTCP {
		return errNotTCP
	}
	tcp := ip[ihl:]

	// TCP, RFC 9293 §3.1.
	if len(tcp) < tcpHeaderLen {
		return errTCPHeader
	}
	off := int(tcp[12]>>4) * 4
	if off < tcpHeaderLen || off > len(tcp) {
		return errTCPHeader
	}

	s.dstMAC, s.srcMAC = net.HardwareAddr(frame[0:6]), net.HardwareAddr(frame[6:12])
	s.src, s.dst = [4]byte(ip[12:16]), [4]byte(ip[16:20])
	s.srcPort, s.dstPort = binary.BigEndian.Uint16(tcp[0:]), binary.BigEndian.Uint16(tcp[2:])
	s.seq, s.ack = binary.BigEndian.Uint32(tcp[4:]), binary.BigEndian.Uint32(tcp[8:])
	s.flags = tcp[13]
	s.window = binary.BigEndian.Uint16(tcp[14:])
	s.mss, s.hasMSS = tcpMSS(tcp[tcpHeaderLen:off])
	s.payload = tcp[off:]
	return nil
}

// ipOptionsValid reports whether the IPv4 options in opts are well formed
// (RFC 791 §3.1): End of Option List and No Operation are one byte; every
// other option has a length byte that counts its type and length bytes
// and stays within the header. Bytes after End of Option List are padding.
// The responder uses no option; a datagram whose options cannot be walked
// is damaged and not answered.
func ipOptionsValid(opts []byte) bool {
	for len(opts) > 0 {
		switch opts[0] {
		case optEOL:
			return true
		case optNOP:
			opts = opts[1:]
		default:
			if len(opts) < 2 || opts[1] < 2 || int(opts[1]) > len(opts) {
				return false
			}
			opts = opts[opts[1]:]
		}
	}
	return true
}

// tcpMSS returns the value of the Maximum Segment Size option (RFC 9293
// §3.2: kind 2, length 4) among the TCP options in opts. Options are
// walked as RFC 9293 §3.1 asks: End of Option List ends them, No
// Operation is one byte, every other option has a length, and options
// the responder does not know are skipped (MUST-6). An option with an
// impossible length (below 2 or past the header) ends the walk and the
// segment is still taken (MUST-7 asks to be prepared for it; a stateless
// responder has no connection to reset). An MSS option of another length
// is not an MSS; of two MSS options the later one counts.
func tcpMSS(opts []byte) (mss uint16, ok bool) {
	for len(opts) > 0 {
		switch opts[0] {
		case optEOL:
			return mss, ok
		case optNOP:
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 || opts[1] < 2 || int(opts[1]) > len(opts) {
			return mss, ok
		}
		if opts[0] == optMSS && opts[1] == optMSSLen {
			mss, ok = binary.BigEndian.Uint16(opts[2:]), true
		}
		opts = opts[opts[1]:]
	}
	return mss, ok
}

// appendFrame appends the Ethernet frame of s to b, with every length and
// checksum filled in, and returns it; it allocates only when b has too
// little room (maxSegmentHeaders+len(s.payload), at least minFrame). The
// fields that s does not hold are constants: an IPv4 header without
// options, with DF set, ID 0 (RFC 6864 §4.1: an atomic datagram may carry
// any ID, and 0 makes the answers the same bytes every time), TOS 0, TTL
// 64; a TCP header whose only option is MSS, when hasMSS, and whose urgent
// pointer is 0.
func (s *segment) appendFrame(b []byte) []byte {
	optLen := 0
	if s.hasMSS {
		optLen = optMSSLen
	}
	tcpLen := tcpHeaderLen + optLen + len(s.payload)
	ipLen := ipHeaderLen + tcpLen
	start := len(b)
	b = grow(b, ethHeaderLen+ipLen)
	f := b[start:]

	// Ethernet II (RFC 894).
	copy(f[0:6], s.dstMAC)
	copy(f[6:12], s.srcMAC)
	binary.BigEndian.PutUint16(f[12:], ethTypeIPv4)

	// IPv4 (RFC 791 §3.1).
	ip := f[ethHeaderLen:]
	ip[0] = 4<<4 | ipHeaderLen/4
	ip[1] = 0
	binary.BigEndian.PutUint16(ip[2:], uint16(ipLen))
	binary.BigEndian.PutUint32(ip[4:], ipFlagDF) // ID 0, DF, offset 0
	ip[8] = ttl
	ip[9] = protoTCP
	ip[10], ip[11] = 0, 0
	copy(ip[12:16], s.src[:])
	copy(ip[16:20], s.dst[:])
	binary.BigEndian.PutUint16(ip[10:], ^checksum.Fold(checksum.Sum(0, ip[:ipHeaderLen])))

	// TCP (RFC 9293 §3.1).
	tcp := ip[ipHeaderLen:]
	binary.BigEndian.PutUint16(tcp[0:], s.srcPort)
	binary.BigEndian.PutUint16(tcp[2:], s.dstPort)
	binary.BigEndian.PutUint32(tcp[4:], s.seq)
	binary.BigEndian.PutUint32(tcp[8:], s.ack)
	tcp[12] = byte((tcpHeaderLen+optLen)/4) << 4 // Data Offset, in words
	tcp[13] = s.flags
	binary.BigEndian.PutUint16(tcp[14:], s.window)
	binary.BigEndian.PutUint32(tcp[16:], 0) // checksum (below), urgent pointer
	if s.hasMSS {
		tcp[20], tcp[21] = optMSS, optMSSLen
		binary.BigEndian.PutUint16(tcp[22:], s.mss)
	}
	copy(tcp[tcpHeaderLen+optLen:], s.payload)
	// The checksum covers a pseudo-header of the addresses, the protocol
	// and the TCP length (RFC 9293 §3.1), then the segment.
	var pseudo [12]byte
	copy(pseudo[0:4], s.src[:])
	copy(pseudo[4:8], s.dst[:])
	pseudo[9] = protoTCP
	binary.BigEndian.PutUint16(pseudo[10:], uint16(tcpLen))
	binary.BigEndian.PutUint16(tcp[16:], ^checksum.Fold(checksum.Sum(checksum.Sum(0, pseudo[:]), tcp)))

	// Pad to the shortest Ethernet frame, outside the IP datagram.
	if n := len(b) - start; n < minFrame {
		b = grow(b, minFrame-n)
		clear(b[start+n:])
	}
	return b
}

// grow extends b by n bytes, whose values are left to the caller.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), 2*cap(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}
