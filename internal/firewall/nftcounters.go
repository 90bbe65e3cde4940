package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// counterReader dumps a set's elements and decodes their byte counters in
// place, over a netlink socket of its own, into one buffer kept from read
// to read. google/nftables's GetSetElements builds several objects for
// every element; with 10,000 signed-in clients, read every pollInterval,
// that garbage and its collection kept lobby at 15 % of a core while
// nothing else happened.
type counterReader struct {
	c   *netlink.Conn
	buf []byte
}

// dumpBuffer is the largest datagram the kernel fills for a dump: it sizes
// them after the reader's buffer, up to 32 KiB less its overhead. Small
// datagrams cost more than their number: each one walks the set's hash
// table from the start to where the last one ended.
const dumpBuffer = 32 << 10

func newCounterReader(nsfd int) (*counterReader, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: nsfd})
	if err != nil {
		return nil, fmt.Errorf("nftables: opening netlink for counters: %w", err)
	}
	return &counterReader{c: c, buf: make([]byte, dumpBuffer)}, nil
}

// nftSetElemExpressions is NFTA_SET_ELEM_EXPRESSIONS, which carries an
// element's expressions when it has more than one (x/sys/unix lacks it).
const nftSetElemExpressions = 11

// read calls fn with the key and the counter's bytes of every element of
// the set in table inet table that has a counter. A dump that meets the
// kernel growing the set's hash table (in the background, after a large
// insert) may miss elements without a sign; a missing element is no news
// of its client (state.account), which the next reading brings. It is not
// safe for concurrent use.
func (r *counterReader) read(table, set string, fn func(key []byte, bytes uint64)) error {
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.NFTA_SET_ELEM_LIST_TABLE, table)
	ae.String(unix.NFTA_SET_ELEM_LIST_SET, set)
	attrs, err := ae.Encode()
	if err != nil {
		return err
	}
	// struct nfgenmsg: family, version, resource id (big endian).
	data := append([]byte{unix.NFPROTO_INET, unix.NFNETLINK_V0, 0, 0}, attrs...)
	req, err := r.c.Send(netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETSETELEM),
			Flags: netlink.Request | netlink.Dump,
		},
		Data: data,
	})
	if err != nil {
		return err
	}
	rc, err := r.c.SyscallConn()
	if err != nil {
		return err
	}
	for {
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			n, _, rerr = unix.Recvfrom(int(fd), r.buf, 0)
			return rerr != unix.EAGAIN
		})
		if err = errors.Join(err, rerr); err != nil {
			return err
		}
		done, err := dumpMessages(r.buf[:n], req.Header.Sequence, fn)
		if done || err != nil {
			return err
		}
	}
}

// dumpMessages decodes one datagram of a dump answering request seq. done
// is true at the dump's end, or at an error from the kernel.
func dumpMessages(b []byte, seq uint32, fn func(key []byte, bytes uint64)) (done bool, err error) {
	for len(b) >= unix.NLMSG_HDRLEN {
		n := int(binary.NativeEndian.Uint32(b))
		if n < unix.NLMSG_HDRLEN || n > len(b) {
			return true, fmt.Errorf("netlink message: length %d of %d bytes", n, len(b))
		}
		typ := binary.NativeEndian.Uint16(b[4:])
		msg := b[unix.NLMSG_HDRLEN:n]
		mseq := binary.NativeEndian.Uint32(b[8:])
		b = b[min(len(b), (n+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1)):]
		if mseq != seq {
			continue // the rest of an earlier dump that failed half-way
		}
		switch typ {
		case unix.NLMSG_DONE:
			return true, nil
		case unix.NLMSG_ERROR:
			if len(msg) < 4 {
				return true, errors.New("netlink error message too short")
			}
			if errno := -int32(binary.NativeEndian.Uint32(msg)); errno != 0 {
				return true, unix.Errno(errno)
			}
			return true, nil
		}
		if len(msg) < 4 {
			return true, errors.New("set element message too short")
		}
		if err := parseSetElems(msg[4:], fn); err != nil {
			return true, err
		}
	}
	return false, nil
}

// parseSetElems decodes the attributes of one NFT_MSG_NEWSETELEM message
// (after its nfgenmsg) and calls fn for every element with a counter.
func parseSetElems(b []byte, fn func(key []byte, bytes uint64)) error {
	list := attrs{b: b}
	for list.next() {
		if list.typ != unix.NFTA_SET_ELEM_LIST_ELEMENTS {
			continue
		}
		elems := attrs{b: list.data}
		for elems.next() {
			if elems.typ != unix.NFTA_LIST_ELEM {
				continue
			}
			key, n, ok, err := parseElem(elems.data)
			if err != nil {
				return err
			}
			if ok {
				fn(key, n)
			}
		}
		if elems.err != nil {
			return elems.err
		}
	}
	return list.err
}

// parseElem returns an element's key and its counter's bytes; ok is false
// for an element without a counter.
func parseElem(b []byte) (key []byte, bytes uint64, ok bool, err error) {
	a := attrs{b: b}
	for a.next() {
		switch a.typ {
		case unix.NFTA_SET_ELEM_KEY:
			v := attrs{b: a.data}
			for v.next() {
				if v.typ == unix.NFTA_DATA_VALUE {
					key = v.data
				}
			}
			if v.err != nil {
				return nil, 0, false, v.err
			}
		case unix.NFTA_SET_ELEM_EXPR:
			if n, found, err := parseCounter(a.data); err != nil {
				return nil, 0, false, err
			} else if found {
				bytes, ok = n, true
			}
		case nftSetElemExpressions:
			l := attrs{b: a.data}
			for l.next() {
				if l.typ != unix.NFTA_LIST_ELEM {
					continue
				}
				if n, found, err := parseCounter(l.data); err != nil {
					return nil, 0, false, err
				} else if found {
					bytes, ok = n, true
				}
			}
			if l.err != nil {
				return nil, 0, false, l.err
			}
		}
	}
	if a.err != nil {
		return nil, 0, false, a.err
	}
	return key, bytes, ok && key != nil, nil
}

// parseCounter reads the bytes of one expression if it is a counter.
func parseCounter(b []byte) (bytes uint64, ok bool, err error) {
	var name, data []byte
	a := attrs{b: b}
	for a.next() {
		switch a.typ {
		case unix.NFTA_EXPR_NAME:
			name = a.data
		case unix.NFTA_EXPR_DATA:
			data = a.data
		}
	}
	if a.err != nil || string(trimNUL(name)) != "counter" {
		return 0, false, a.err
	}
	c := attrs{b: data}
	for c.next() {
		if c.typ == unix.NFTA_COUNTER_BYTES {
			if len(c.data) != 8 {
				return 0, false, errors.New("counter bytes: not 8 bytes")
			}
			bytes, ok = binary.BigEndian.Uint64(c.data), true
		}
	}
	return bytes, ok, c.err
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// attrs walks a run of netlink attributes without copying them.
type attrs struct {
	b    []byte
	typ  uint16 // of the current attribute, flags masked off
	data []byte // the current attribute's payload
	err  error
}

func (a *attrs) next() bool {
	if len(a.b) == 0 {
		return false
	}
	if len(a.b) < unix.NLA_HDRLEN {
		a.err, a.b = errors.New("netlink attribute: truncated header"), nil
		return false
	}
	n := int(binary.NativeEndian.Uint16(a.b))
	if n < unix.NLA_HDRLEN || n > len(a.b) {
		a.err, a.b = fmt.Errorf("netlink attribute: length %d of %d bytes", n, len(a.b)), nil
		return false
	}
	a.typ = binary.NativeEndian.Uint16(a.b[2:]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
	a.data = a.b[unix.NLA_HDRLEN:n]
	a.b = a.b[min(len(a.b), (n+unix.NLA_ALIGNTO-1)&^(unix.NLA_ALIGNTO-1)):]
	return true
}
