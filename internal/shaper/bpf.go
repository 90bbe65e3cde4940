package shaper

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The classifier is a cls_bpf program of 17 to 21 instructions, assembled here
// rather than compiled and loaded with a library (cilium/ebpf would cost
// flash for an ELF loader this needs none of). It reads a MAC address of
// the frame, looks it up in a hash map and answers the client's class: one
// lookup per packet whatever the number of clients, and one map update per
// change of a client (the u32 classifier's hash tables stop at 256 buckets
// a level). A frame of a MAC not in the map is no match, so HTB sends it
// on unshaped.

// bpf(2) commands and constants (include/uapi/linux/bpf.h).
const (
	bpfMapCreate     = 0
	bpfMapUpdateElem = 2
	bpfMapDeleteElem = 3
	bpfProgLoad      = 5

	bpfMapTypeHash      = 1
	bpfFNoPrealloc      = 1 // a map entry is allocated when it is added
	bpfProgTypeSchedCls = 3
	bpfPseudoMapFD      = 1
	bpfFuncMapLookup    = 1
)

// eBPF opcodes used by the program.
const (
	opMovReg   = 0xbf // ALU64 | MOV | X
	opMovImm   = 0xb7 // ALU64 | MOV | K
	opLshImm   = 0x67 // ALU64 | LSH | K
	opOrReg    = 0x4f // ALU64 | OR | X
	opAddImm   = 0x07 // ALU64 | ADD | K
	opRshImm   = 0x77 // ALU64 | RSH | K
	opOrImm    = 0x47 // ALU64 | OR | K
	opLdAbsW   = 0x20 // LD | ABS | W: r0 = ntohl(*(u32 *)(skb->data + imm))
	opLdAbsH   = 0x28 // LD | ABS | H
	opLdImm64  = 0x18 // LD | IMM | DW, two slots
	opStxDW    = 0x7b // STX | MEM | DW
	opLdxW     = 0x61 // LDX | MEM | W
	opCall     = 0x85
	opJeqImm   = 0x15 // JMP | JEQ | K
	opExit     = 0x95
	tcActOK    = 0
	tcActUnspc = -1
)

// insn is one eBPF instruction (struct bpf_insn).
type insn struct {
	code     uint8
	dst, src uint8
	off      int16
	imm      int32
}

// progKind is which of the five programs: the class of a frame's
// destination (LAN egress) or source (the IFB) in its group's HTB, the
// group's class in the root HTB (the same lookup, turned into the group),
// or whether its source is shaped on upload (LAN ingress, direct action:
// TC_ACT_OK lets it pass, TC_ACT_UNSPEC goes on to the redirect to the
// IFB).
type progKind int

const (
	progDown progKind = iota
	progUp
	progRootDown
	progRootUp
	progGate
	nProgs
)

func (k progKind) name() string {
	return [...]string{"lobby_down", "lobby_up", "lobby_root_down", "lobby_root_up", "lobby_gate"}[k]
}

// program assembles a classifier for the map mapFD.
func program(k progKind, mapFD int) []insn {
	macOff, valOff := int32(0), int16(0) // destination MAC; mapValue.down
	if k != progDown && k != progRootDown {
		macOff, valOff = 6, 4 // source MAC; mapValue.up
	}
	p := []insn{
		{code: opMovReg, dst: 6, src: 1}, // LD_ABS reads the skb in r6
		{code: opLdAbsW, imm: macOff},    // cls_bpf runs with skb->data at the Ethernet header, on ingress too
		{code: opMovReg, dst: 7, src: 0},
		{code: opLshImm, dst: 7, imm: 16},
		{code: opLdAbsH, imm: macOff + 4},
		{code: opOrReg, dst: 7, src: 0}, // r7 = macKey
		{code: opStxDW, dst: 10, src: 7, off: -8},
		{code: opLdImm64, dst: 1, src: bpfPseudoMapFD, imm: int32(mapFD)},
		{},
		{code: opMovReg, dst: 2, src: 10},
		{code: opAddImm, dst: 2, imm: -8},
		{code: opCall, imm: bpfFuncMapLookup},
	}
	hit := []insn{{code: opLdxW, dst: 0, src: 0, off: valOff}} // the classid; 0: no match
	switch k {
	case progGate:
		hit = append(hit,
			insn{code: opJeqImm, dst: 0, off: 1}, // no upload rate: r0 = TC_ACT_OK
			insn{code: opMovImm, dst: 0, imm: tcActUnspc})
	case progRootDown, progRootUp:
		hit = append(hit,
			insn{code: opJeqImm, dst: 0, off: 3},  // no rate this way: no match
			insn{code: opRshImm, dst: 0, imm: 16}, // the group qdisc's major …
			insn{code: opAddImm, dst: 0, imm: 1 - groupMajor},
			insn{code: opOrImm, dst: 0, imm: handleMajor << 16}) // … to its class in the root: groupClassid
	}
	hit = append(hit, insn{code: opExit})
	p = append(p, insn{code: opJeqImm, dst: 0, off: int16(len(hit))})
	p = append(p, hit...)
	return append(p, insn{code: opMovImm, dst: 0, imm: tcActOK}, insn{code: opExit})
}

// encode lays the instructions out as the kernel reads them: native byte
// order, and the two register nibbles in bitfield order, which is the
// other way round on big-endian machines (MIPS ath79).
func encode(p []insn) []byte {
	b := make([]byte, 0, 8*len(p))
	big := binary.NativeEndian.Uint16([]byte{0, 1}) == 1
	for _, in := range p {
		regs := in.src<<4 | in.dst
		if big {
			regs = in.dst<<4 | in.src
		}
		b = append(b, in.code, regs)
		b = binary.NativeEndian.AppendUint16(b, uint16(in.off))
		b = binary.NativeEndian.AppendUint32(b, uint32(in.imm))
	}
	return b
}

func bpfCall(cmd uintptr, attr unsafe.Pointer, size uintptr) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, cmd, uintptr(attr), size)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// newMap makes the classifiers' map: macKey → mapValue.
func newMap() (int, error) {
	attr := struct {
		mapType, keySize, valueSize, maxEntries, flags, innerFD, numaNode uint32
		name                                                              [16]byte
	}{mapType: bpfMapTypeHash, keySize: 8, valueSize: 8, maxEntries: maxClients, flags: bpfFNoPrealloc}
	copy(attr.name[:], "lobby_shaper")
	fd, err := bpfCall(bpfMapCreate, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if errors.Is(err, unix.EPERM) {
		// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK, 64 KiB
		// by default; the map's buckets alone are 256 KiB.
		if rerr := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}); rerr == nil {
			fd, err = bpfCall(bpfMapCreate, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
		}
	}
	if err != nil {
		return -1, fmt.Errorf("bpf map create: %w", err)
	}
	return fd, nil
}

func mapKeyBytes(key uint64) [8]byte {
	var k [8]byte
	binary.NativeEndian.PutUint64(k[:], key)
	return k
}

// mapUpdate sets the map entry of key.
func mapUpdate(fd int, key uint64, v mapValue) error {
	k := mapKeyBytes(key)
	var val [8]byte
	binary.NativeEndian.PutUint32(val[0:], v.down)
	binary.NativeEndian.PutUint32(val[4:], v.up)
	attr := struct {
		fd         uint32
		_          uint32
		key, value uint64
		flags      uint64
	}{fd: uint32(fd), key: uint64(uintptr(unsafe.Pointer(&k))), value: uint64(uintptr(unsafe.Pointer(&val)))}
	_, err := bpfCall(bpfMapUpdateElem, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(&k)
	runtime.KeepAlive(&val)
	if err != nil {
		return fmt.Errorf("bpf map update: %w", err)
	}
	return nil
}

// mapDelete removes the map entry of key; a missing one is not an error.
func mapDelete(fd int, key uint64) error {
	k := mapKeyBytes(key)
	attr := struct {
		fd  uint32
		_   uint32
		key uint64
	}{fd: uint32(fd), key: uint64(uintptr(unsafe.Pointer(&k)))}
	_, err := bpfCall(bpfMapDeleteElem, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	runtime.KeepAlive(&k)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("bpf map delete: %w", err)
	}
	return nil
}

// loadProgram loads a classifier. On refusal it loads it again with the
// verifier's log, for the error.
func loadProgram(k progKind, mapFD int) (int, error) {
	code := encode(program(k, mapFD))
	license := []byte("GPL\x00") // lobby's programs call no GPL-only helper; any string would do
	var log []byte
	for {
		attr := struct {
			progType, insnCnt   uint32
			insns, license      uint64
			logLevel, logSize   uint32
			logBuf              uint64
			kernVersion, flags  uint32
			name                [16]byte
			ifindex, attachType uint32
		}{
			progType: bpfProgTypeSchedCls, insnCnt: uint32(len(code) / 8),
			insns:   uint64(uintptr(unsafe.Pointer(&code[0]))),
			license: uint64(uintptr(unsafe.Pointer(&license[0]))),
		}
		copy(attr.name[:], k.name())
		if log != nil {
			attr.logLevel, attr.logSize = 1, uint32(len(log))
			attr.logBuf = uint64(uintptr(unsafe.Pointer(&log[0])))
		}
		fd, err := bpfCall(bpfProgLoad, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
		runtime.KeepAlive(code)
		runtime.KeepAlive(license)
		runtime.KeepAlive(log)
		if err == nil {
			return fd, nil
		}
		if log != nil || !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EINVAL) {
			msg := strings.TrimSpace(string(log[:max(0, strings.IndexByte(string(log), 0))]))
			if msg != "" {
				return -1, fmt.Errorf("bpf prog load %s: %w: %s", k.name(), err, msg)
			}
			return -1, fmt.Errorf("bpf prog load %s: %w", k.name(), err)
		}
		log = make([]byte, 1<<16)
	}
}
