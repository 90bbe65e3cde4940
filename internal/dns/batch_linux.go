package dns

import (
	"encoding/binary"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// udpBatch is a UDP socket read and written a batch of datagrams per
// system call (recvmmsg(2), sendmmsg(2)), through buffers made once: under
// load most of the system calls are saved, and a batch allocates nothing.
// It belongs to one goroutine.
//
// The two calls are made raw (unix.RawSyscall6), without telling the Go
// scheduler: the socket is non-blocking, so neither waits, and a call the
// scheduler is told of wakes its monitor thread (sysmon) whenever every
// other thread was idle — a few context switches for each query a quiet
// resolver answers, which doubled its CPU time per query at 5,000 q/s.
type udpBatch struct {
	rc syscall.RawConn

	in    [batch][]byte // query slots
	riov  [batch]unix.Iovec
	from  [batch]unix.RawSockaddrInet4
	rmsgs [batch]unix.Mmsghdr

	out   [batch][]byte // answer slots
	wiov  [batch]unix.Iovec
	wmsgs [batch]unix.Mmsghdr
	nw    int // answers queued
	sent  int // of which sent by the flush under way

	// Results of the callbacks below, which are made once so that a
	// batch costs no allocation.
	n       int
	errno   syscall.Errno
	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool
}

func newUDPBatch(conn *net.UDPConn) (*udpBatch, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	b := &udpBatch{rc: rc}
	arena := make([]byte, 2*batch*maxQuery)
	for i := range batch {
		b.in[i] = arena[2*i*maxQuery : (2*i+1)*maxQuery : (2*i+1)*maxQuery]
		b.out[i] = arena[(2*i+1)*maxQuery : (2*i+2)*maxQuery : (2*i+2)*maxQuery]
		b.riov[i].Base = &b.in[i][0]
		b.riov[i].SetLen(maxQuery)
		b.rmsgs[i].Hdr.Iov = &b.riov[i]
		b.rmsgs[i].Hdr.SetIovlen(1)
		b.rmsgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&b.from[i]))
		b.wiov[i].Base = &b.out[i][0]
		b.wmsgs[i].Hdr.Iov = &b.wiov[i]
		b.wmsgs[i].Hdr.SetIovlen(1)
		b.wmsgs[i].Hdr.Namelen = unix.SizeofSockaddrInet4
	}
	b.readFn = func(fd uintptr) bool {
		for i := range batch {
			b.rmsgs[i].Hdr.Namelen = unix.SizeofSockaddrInet4 // the kernel writes it
		}
		n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.rmsgs[0])), batch, 0, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false
		}
		b.n, b.errno = int(n), e
		return true
	}
	b.writeFn = func(fd uintptr) bool {
		n, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.wmsgs[b.sent])), uintptr(b.nw-b.sent), 0, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false
		}
		b.n, b.errno = int(n), e
		return true
	}
	return b, nil
}

// read waits for queries and returns how many it read, up to a batch;
// query and sender tell them, until the next read.
func (b *udpBatch) read() (int, error) {
	if err := b.rc.Read(b.readFn); err != nil {
		return 0, err // closed
	}
	if b.errno != 0 {
		return 0, b.errno
	}
	return b.n, nil
}

// query is the i-th datagram of the last read; nil when it was cut short
// (larger than any query: not DNS).
func (b *udpBatch) query(i int) []byte {
	if b.rmsgs[i].Hdr.Flags&unix.MSG_TRUNC != 0 {
		return nil
	}
	return b.in[i][:b.rmsgs[i].Len]
}

// sender is the sender of the i-th datagram of the last read.
func (b *udpBatch) sender(i int) netip.AddrPort {
	sa := &b.from[i]
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
	return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), port)
}

// slot is the buffer the next answer is written into, as long as a query.
func (b *udpBatch) slot() []byte { return b.out[b.nw] }

// queue queues answer r, written into slot (or copied there), to the
// sender of the i-th datagram of the last read.
func (b *udpBatch) queue(r []byte, i int) {
	slot := b.out[b.nw]
	if len(r) > len(slot) {
		return // cannot happen: UDP answers are at most maxUDP bytes
	}
	copy(slot, r) // as a rule r is slot already: a short memmove onto itself
	b.wiov[b.nw].SetLen(len(r))
	b.wmsgs[b.nw].Hdr.Name = (*byte)(unsafe.Pointer(&b.from[i]))
	b.nw++
}

// flush sends the queued answers. An answer the kernel refuses is
// dropped, and the first such error returned; the rest still go.
func (b *udpBatch) flush() (err error) {
	for b.sent < b.nw {
		if werr := b.rc.Write(b.writeFn); werr != nil {
			b.nw, b.sent = 0, 0
			return werr // closed
		}
		if b.errno != 0 {
			// sendmmsg reports the error of the first answer it
			// could not send, having sent none: skip that one.
			if err == nil {
				err = b.errno
			}
			b.sent++
			continue
		}
		b.sent += b.n
	}
	b.nw, b.sent = 0, 0
	return err
}
