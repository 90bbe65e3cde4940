package responder

import (
	"golang.org/x/net/bpf"
)

// packetHost is PACKET_HOST (linux/if_packet.h): a frame addressed to this
// host. Frames the router sends itself are PACKET_OUTGOING, and those to
// other stations of the LAN PACKET_OTHERHOST.
const packetHost = 0

// hostOnly is the head of the socket filter: only frames addressed to the
// interface, never frames the router sends. x/net/bpf's VM cannot run
// this extension, so it is kept apart from tcpTo, which tests run.
func hostOnly() []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: packetHost, SkipTrue: 1},
		bpf.RetConstant{Val: 0},
	}
}

// tcpTo is a classic BPF program over Ethernet frames that keeps unfragmented
// IPv4 TCP segments to one of ports, except those the responder never
// answers: segments that carry no data and none of SYN, FIN or RST (the
// ACK that ends a handshake, the ACK of a response). That leaves three of
// the five segments a client sends for one request, and the kernel copies
// nothing else into the socket.
func tcpTo(ports []uint16) []bpf.Instruction {
	const (
		etherType = 12
		ipStart   = 14
		ipLen     = ipStart + 2
		ipProto   = ipStart + 9
		ipFrag    = ipStart + 6
		// From the TCP header, indexed by X = 4*IHL:
		tcpDstPort = ipStart + 2
		tcpOffset  = ipStart + 12
		tcpFlags   = ipStart + 13
		synFinRst  = 0x07
	)
	n := uint8(len(ports))
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: etherType, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0800, SkipFalse: n + 6},
		bpf.LoadAbsolute{Off: ipProto, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 6, SkipFalse: n + 4},
		// A fragment (MF set or an offset) cannot be answered statelessly.
		bpf.LoadAbsolute{Off: ipFrag, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x3fff, SkipTrue: n + 2},
		bpf.LoadMemShift{Off: ipStart},
		bpf.LoadIndirect{Off: tcpDstPort, Size: 2},
	}
	for i := range n {
		// A match skips the remaining tests and the drop.
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(ports[i]), SkipTrue: n - i})
	}
	return append(prog,
		bpf.RetConstant{Val: 0},
		// SYN, FIN or RST: keep.
		bpf.LoadIndirect{Off: tcpFlags, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: synFinRst, SkipTrue: 10},
		// Else keep it only if it carries data: IP total length minus
		// the IP and TCP header lengths.
		bpf.LoadIndirect{Off: tcpOffset, Size: 1},
		bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 4},
		bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 2},
		bpf.StoreScratch{Src: bpf.RegA, N: 0},
		bpf.LoadAbsolute{Off: ipLen, Size: 2},
		bpf.ALUOpX{Op: bpf.ALUOpSub},
		bpf.LoadScratch{Dst: bpf.RegX, N: 0},
		bpf.ALUOpX{Op: bpf.ALUOpSub},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipFalse: 1},
		bpf.RetConstant{Val: 0},
		// The whole frame: the request is in it.
		bpf.RetConstant{Val: 1 << 18},
	)
}
