package responder

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"unsafe"

	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// batch is how many frames one system call reads or writes: recvmmsg(2)
// and sendmmsg(2) take the per-frame system call out of the cost of a
// segment, which is what lets one core keep up with a flood.
const batch = 64

// socket is the responder's AF_PACKET socket on the LAN interface, with
// the buffers of one batch each way. It belongs to one goroutine.
type socket struct {
	conn *packet.Conn
	rc   syscall.RawConn

	rbufs  [batch][]byte
	riov   [batch]unix.Iovec
	rmsgs  [batch]unix.Mmsghdr
	frames [batch][]byte // what the last read returned

	wbufs [batch][]byte // slots of the frames queued to send
	wiov  [batch]unix.Iovec
	wmsgs [batch]unix.Mmsghdr
	nw    int // frames queued
	sent  int // of which sent by the flush under way

	// Results of the callbacks below, which are made once so that a batch
	// costs no allocation.
	n       int
	errno   error
	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool
}

// listen opens the socket on ifi with the filter for ports attached before
// it is bound, so that no other frame is ever queued to it.
func listen(ifi *net.Interface, ports []uint16) (*socket, error) {
	prog, err := bpf.Assemble(append(hostOnly(), tcpTo(ports)...))
	if err != nil {
		return nil, fmt.Errorf("assemble bpf filter: %w", err)
	}
	conn, err := packet.Listen(ifi, packet.Raw, unix.ETH_P_IP, &packet.Config{Filter: prog})
	if err != nil {
		return nil, fmt.Errorf("open packet socket on %s: %w — lobby needs root or CAP_NET_RAW", ifi.Name, err)
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("packet socket on %s: %w", ifi.Name, err)
	}
	rc.Control(func(fd uintptr) {
		// Room for a burst of SYNs; the kernel caps it at rmem_max
		// unless we may force it.
		if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 1<<20) != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
		}
		// Answers need no queueing discipline: skip it (Linux 3.14+).
		_ = unix.SetsockoptInt(int(fd), unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	})
	s := &socket{conn: conn, rc: rc}
	// A slot holds a whole frame of the interface (jumbo frames too).
	size := max(2048, ifi.MTU+18)
	// Untouched until used: recvmmsg fills the slots from the first, so a
	// quiet LAN keeps a few pages of the 256 KB resident and only a flood
	// makes the rest so (on a 64 MB MIPS router that is RAM for
	// something else while nothing floods).
	arena := make([]byte, 2*batch*size)
	for i := range batch {
		s.rbufs[i] = arena[2*i*size : (2*i+1)*size : (2*i+1)*size]
		s.wbufs[i] = arena[(2*i+1)*size : (2*i+2)*size : (2*i+2)*size]
		s.riov[i].Base = &s.rbufs[i][0]
		s.riov[i].SetLen(size)
		s.rmsgs[i].Hdr.Iov = &s.riov[i]
		s.rmsgs[i].Hdr.SetIovlen(1)
		s.wiov[i].Base = &s.wbufs[i][0]
		s.wmsgs[i].Hdr.Iov = &s.wiov[i]
		s.wmsgs[i].Hdr.SetIovlen(1)
	}
	s.readFn = func(fd uintptr) bool {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&s.rmsgs[0])), batch, 0, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false
		}
		s.n, s.errno = int(n), errnoErr(e)
		return true
	}
	s.writeFn = func(fd uintptr) bool {
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.wmsgs[s.sent])), uintptr(s.nw-s.sent), 0, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false
		}
		s.n, s.errno = int(n), errnoErr(e)
		return true
	}
	return s, nil
}

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// read waits for frames and returns up to a batch of them; they are valid
// until the next read. A frame cut short (larger than a slot) comes back
// empty, to be dropped.
func (s *socket) read() ([][]byte, error) {
	if err := s.rc.Read(s.readFn); err != nil {
		return nil, err
	}
	if s.errno != nil {
		return nil, s.errno
	}
	for i := range s.n {
		s.frames[i] = s.rbufs[i][:s.rmsgs[i].Len]
		if s.rmsgs[i].Hdr.Flags&unix.MSG_TRUNC != 0 {
			s.frames[i] = nil
		}
	}
	return s.frames[:s.n], nil
}

// queue copies frame into the next send slot; flush sends the slots. A
// full set of slots is flushed first.
func (s *socket) queue(frame []byte) error {
	if s.nw == batch {
		if _, err := s.flush(); err != nil && !isSendError(err) {
			return err
		}
	}
	if len(frame) > len(s.wbufs[s.nw]) {
		return fmt.Errorf("frame of %d bytes does not fit a slot of %d", len(frame), len(s.wbufs[s.nw]))
	}
	copy(s.wbufs[s.nw], frame)
	s.wiov[s.nw].SetLen(len(frame))
	s.nw++
	return nil
}

// flush sends every queued frame out of the interface (the socket is bound
// to it; each frame carries its own Ethernet header). A frame the kernel
// refuses (ENOBUFS in a flood) is dropped and counted in failed; the
// rest still go.
func (s *socket) flush() (failed int, err error) {
	for s.sent < s.nw {
		if werr := s.rc.Write(s.writeFn); werr != nil {
			s.nw, s.sent = 0, 0
			return failed, werr // closed
		}
		if s.errno != nil {
			// sendmmsg reports the error of the first frame it
			// could not send, having sent none: skip that one.
			failed++
			err = s.errno
			s.sent++
			continue
		}
		s.sent += s.n
	}
	s.nw, s.sent = 0, 0
	return failed, err
}

// isSendError reports whether err is about one frame, not the socket.
func isSendError(err error) bool {
	var e syscall.Errno
	return errors.As(err, &e)
}

// drops is how many frames the kernel dropped because the socket's queue
// was full, since the last call.
func (s *socket) drops() uint64 {
	st, err := s.conn.Stats()
	if err != nil {
		return 0
	}
	return uint64(st.Drops)
}

func (s *socket) close() error { return s.conn.Close() }
