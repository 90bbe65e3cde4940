package responder

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// The responder keeps no state per connection: the sequence number of its
// SYN-ACK is a cookie (RFC 4987 §3.6, as Linux's SYN cookies) that proves,
// when the client acknowledges it, that this responder answered that
// client's SYN a moment ago. Its 32 bits:
//
//	31-29  index of the client's MSS in mssTable (the SYN's MSS option is
//	       seen only once, and the response must be cut to it)
//	28     zero, so that adding an acknowledged length below maxResponse
//	       never carries into the index
//	27-0   SipHash-2-4, under a key drawn at start, of the time slice, the
//	       index and the 4-tuple
//
// A client's segment acknowledges cookie+1+n, where n counts the response
// bytes (and the FIN) it has received: 0 until the response arrives. The
// check accepts n up to maxResponse+1, so it also recognises the client's
// FIN after the response, whose request length it cannot know.
//
// The client's ISN is not in the MAC (unlike Linux's cookies): a segment
// after the request (the client's FIN, the rest of a request longer than
// a segment) has a sequence number that depends on the request's length,
// which a stateless responder cannot know, and it must still be
// recognised. So two connections on the same 4-tuple within a slice get
// the same ISN; the client's own ISN still differs, and a client reuses a
// 4-tuple only after the previous connection has closed.
const (
	sliceLen  = 64 * time.Second // a cookie is good for 64 to 128 seconds
	macBits   = 28
	macMask   = 1<<macBits - 1
	idxShift  = 29
	maxAcked  = maxResponse + 1 // the response and the FIN
	cookieMsg = 4 + 4 + 2 + 2 + 1 + 8
)

// mssTable holds the MSS values a cookie can carry: 88 for the odd client
// below 536, RFC 9293's default 536 (§3.7.1), and what common links leave
// (IPv6 tunnels, PPPoE, VPNs, Ethernet).
var mssTable = [8]uint16{88, 536, 1220, 1360, 1380, 1400, 1452, 1460}

// mssIndex is the index of the largest entry of mssTable not above mss.
func mssIndex(mss uint16) uint32 {
	for i := len(mssTable) - 1; i > 0; i-- {
		if mssTable[i] <= mss {
			return uint32(i)
		}
	}
	return 0
}

// flow is a connection's 4-tuple as the client sees it.
type flow struct {
	client, server         [4]byte
	clientPort, serverPort uint16
}

// cookieJar mints and checks cookies under one secret key.
type cookieJar struct {
	k0, k1 uint64
}

// newCookieJar draws a fresh key: cookies do not survive a restart, which
// costs at most the connections of the last two minutes.
func newCookieJar() *cookieJar {
	var k [16]byte
	rand.Read(k[:]) // never fails (crypto/rand, Go 1.24+)
	return &cookieJar{k0: binary.LittleEndian.Uint64(k[:8]), k1: binary.LittleEndian.Uint64(k[8:])}
}

func slice(now time.Time) uint64 { return uint64(now.Unix()) / uint64(sliceLen/time.Second) }

// sum is the MAC part of the cookie of f in time slice s.
func (j *cookieJar) sum(s uint64, f *flow, idx uint32) uint32 {
	var m [cookieMsg]byte
	copy(m[0:4], f.client[:])
	copy(m[4:8], f.server[:])
	binary.BigEndian.PutUint16(m[8:], f.clientPort)
	binary.BigEndian.PutUint16(m[10:], f.serverPort)
	m[12] = byte(idx)
	binary.BigEndian.PutUint64(m[13:], s)
	return uint32(sipHash24(j.k0, j.k1, m[:])) & macMask
}

// mint returns the ISN of the SYN-ACK that answers f's SYN, carrying the
// MSS index idx.
func (j *cookieJar) mint(now time.Time, f *flow, idx uint32) uint32 {
	return idx<<idxShift | j.sum(slice(now), f, idx)
}

// check reads the acknowledgement number of a segment of f. ok reports
// whether it acknowledges a SYN-ACK minted for f in this time slice or the
// one before; then idx is its MSS index and acked counts how many of the
// responder's bytes after the SYN (response and FIN) the client has.
func (j *cookieJar) check(now time.Time, f *flow, ack uint32) (idx, acked uint32, ok bool) {
	v := ack - 1
	idx = v >> idxShift
	low := v & (1<<idxShift - 1)
	cur := slice(now)
	for _, s := range [2]uint64{cur, cur - 1} {
		if h := j.sum(s, f, idx); low >= h && low-h <= maxAcked {
			return idx, low - h, true
		}
	}
	return 0, 0, false
}
