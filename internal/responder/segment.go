package responder

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/lobby-fw/lobby/internal/session"
)

// verdict is what the responder made of one frame.
type verdict int

const (
	dropped  verdict = iota // not for the responder, or malformed
	passed                  // from a client that is not preauth: left to the firewall
	shed                    // a SYN beyond its MAC's share of a crowded batch
	stray                   // no connection of ours, a reset, or nothing to say
	synAcked                // a SYN answered with a cookie
	answered                // a request answered: ACK, response, FIN
	closed                  // a FIN acknowledged
)

// Stats counts what the responder did since it started.
type Stats struct {
	Frames     atomic.Uint64 // frames read
	Dropped    atomic.Uint64 // malformed, or not IPv4 TCP to an intercepted port
	Passed     atomic.Uint64 // from clients that are not preauth
	Strays     atomic.Uint64 // resets, bad cookies, segments needing no answer
	Shed       atomic.Uint64 // SYNs left unanswered while crowded (a flood)
	SYNs       atomic.Uint64 // SYN-ACKs sent
	Answers    atomic.Uint64 // requests answered (511 or 302)
	Redirects  atomic.Uint64 // of which 302
	Closes     atomic.Uint64 // FINs and late segments acknowledged
	SendErrors atomic.Uint64 // frames the socket refused
	QueueDrops atomic.Uint64 // frames the kernel dropped from the full socket queue (read once a second)
}

// handler turns one received frame into the frames that answer it. It
// reuses its buffers from frame to frame, so it belongs to one goroutine.
type handler struct {
	mac     net.HardwareAddr // the interface's: the source of every reply
	linkMSS uint16           // what the interface's MTU leaves for a segment
	ports   []uint16
	clients Clients
	// garden reports the walled-garden addresses that the firewall
	// forwards for preauth clients; nil: none.
	garden func(netip.Addr) bool
	jar    *cookieJar
	pages  *pages
	log    *slog.Logger
	stats  *Stats
	// send writes one Ethernet frame; the frame is not kept.
	send func(frame []byte) error

	in     segment // the frame being handled, decoded (frame.go)
	out    segment // the segment being sent
	buf    []byte  // the frame being sent: room for the largest
	resp   []byte
	sc     scratch
	warned time.Time // of the last send error logged

	// crowded is set while the socket hands over full batches, one after
	// another: more frames arrive than are answered (a burst of
	// connections fills one batch, a flood fills them all). Then each
	// MAC gets at most synShare SYN-ACKs per batch, so a flood from one
	// client cannot crowd out the others' SYNs, which the kernel would
	// otherwise drop from the full socket queue; a dropped SYN costs the
	// client a second (its retransmission timeout, RFC 6298 §2).
	crowded  bool
	lastFull bool      // the batch before was full
	synMACs  [][6]byte // MACs answered in this batch
	synN     []int     // and how many SYNs of each
}

// synShare is how many SYNs of one MAC a crowded batch answers: more than a
// browser opens at once, a small part of a batch.
const synShare = 8

// Clients is what the responder asks of the session table.
type Clients interface {
	StateAt(mac net.HardwareAddr, ip netip.Addr) session.State
}

func newHandler(mac net.HardwareAddr, mtu int, ports []uint16, clients Clients, jar *cookieJar, pg *pages, log *slog.Logger, stats *Stats, send func([]byte) error) *handler {
	linkMSS := uint16(min(max(mtu-40, int(mssTable[0])), 65535))
	h := &handler{
		mac: mac, ports: ports, clients: clients, jar: jar, pages: pg, log: log, stats: stats, send: send,
		linkMSS: linkMSS,
		buf:     make([]byte, 0, max(maxSegmentHeaders+int(linkMSS), minFrame)),
	}
	h.synMACs = make([][6]byte, 0, 64)
	h.synN = make([]int, 0, 64)
	h.out.srcMAC = mac
	return h
}

// beginBatch starts a batch of frames; full reports that the socket had at
// least a whole batch waiting.
func (h *handler) beginBatch(full bool) {
	h.crowded = full && h.lastFull
	h.lastFull = full
	h.synMACs, h.synN = h.synMACs[:0], h.synN[:0]
}

// overShare counts a SYN from mac in a crowded batch and reports whether
// its MAC has had its share.
func (h *handler) overShare(mac net.HardwareAddr) bool {
	if !h.crowded {
		return false
	}
	m := [6]byte(mac)
	for i := range h.synMACs {
		if h.synMACs[i] == m {
			h.synN[i]++
			return h.synN[i] > synShare
		}
	}
	h.synMACs = append(h.synMACs, m)
	h.synN = append(h.synN, 1)
	return false
}

// handle answers one frame received on the interface.
func (h *handler) handle(frame []byte, now time.Time) verdict {
	v := h.decide(frame, now)
	switch v {
	case dropped:
		h.stats.Dropped.Add(1)
	case passed:
		h.stats.Passed.Add(1)
	case shed:
		h.stats.Shed.Add(1)
	case stray:
		h.stats.Strays.Add(1)
	case synAcked:
		h.stats.SYNs.Add(1)
	case answered:
		h.stats.Answers.Add(1)
	case closed:
		h.stats.Closes.Add(1)
	}
	return v
}

func (h *handler) decide(frame []byte, now time.Time) verdict {
	in := &h.in
	if in.decode(frame) != nil {
		return dropped // not IPv4 TCP (fragments included), or cut short
	}
	// The BPF filter passes only frames sent to us; this also keeps out
	// anything the router itself sent, if it ever got here.
	if in.srcMAC[0]&1 != 0 || bytes.Equal(in.srcMAC, h.mac) {
		return dropped
	}
	if !h.intercepted(in.dstPort) {
		return dropped
	}
	f := flow{client: in.src, server: in.dst, clientPort: in.srcPort, serverPort: in.dstPort}
	if !unicast(f.client) || !unicast(f.server) {
		return dropped
	}
	// By MAC and address: a copy of a signed-in client's MAC from another
	// address is held at the portal like any client that has not signed in.
	if st := h.clients.StateAt(in.srcMAC, netip.AddrFrom4(f.client)); st != session.Preauth {
		// Signed in or trusted: the firewall forwards it. Blocked: the
		// firewall drops it. Either way not ours to answer.
		if in.has(flagSYN) && h.log.Enabled(context.Background(), slog.LevelDebug) {
			h.log.Debug("responder: passing", "mac", in.srcMAC.String(), "state", st.String(),
				"to", netip.AddrPortFrom(netip.AddrFrom4(f.server), f.serverPort).String())
		}
		return passed
	}
	// The walled garden: the firewall forwards it and the site answers;
	// a SYN-ACK or an answer of ours would race the site's. Asked for
	// every segment, not only SYNs: the firewall learns garden addresses
	// from DNS as clients look them up, so a connection we took before
	// its address joined the garden is left to the firewall from then on.
	if h.garden != nil && h.garden(netip.AddrFrom4(f.server)) {
		return passed
	}

	switch {
	case in.has(flagRST):
		// RFC 9293 §3.10.7.1: a reset is never answered.
		return stray
	case in.has(flagSYN):
		if in.has(flagACK) || in.has(flagFIN) {
			return stray
		}
		if h.overShare(in.srcMAC) {
			return shed
		}
		return h.synAck(now, &f)
	case !in.has(flagACK):
		// RFC 9293 §3.10.7.4: a segment without ACK is dropped.
		return stray
	}
	idx, acked, ok := h.jar.check(now, &f, in.ack)
	if !ok {
		return stray // not our SYN-ACK, or from more than two slices ago
	}
	n := len(in.payload)
	// Everything the segment carries is acknowledged: the request, and
	// the FIN, which counts as one (RFC 9293 §3.4).
	ack := in.seq + uint32(n)
	if in.has(flagFIN) {
		ack++
	}
	switch {
	case acked == 0 && n > 0:
		// Nothing of ours has arrived yet: this is the request, or its
		// retransmission, which gets the same bytes again.
		req, isHTTP := parseRequest(in.payload)
		if !isHTTP {
			// The rest of a request longer than one segment (its
			// start has the answer), or not HTTP: no answer. Once the
			// client has the response it sends it again with a larger
			// ACK, and that gets acknowledged below.
			return stray
		}
		return h.respond(&f, req, in.ack, ack, mssTable[idx])
	case acked == 0 && in.has(flagFIN):
		// Closed before asking anything: close our side too.
		h.emit(in.ack, ack, flagFIN, nil)
		return closed
	case n > 0 || in.has(flagFIN):
		// After the response: acknowledge the client's FIN and
		// anything it sent late, so that it does not retransmit. Our
		// next sequence number is what the client acknowledges.
		h.emit(in.ack, ack, 0, nil)
		return closed
	}
	return stray // a pure ACK: nothing to say
}

func (h *handler) intercepted(port uint16) bool {
	for _, p := range h.ports {
		if p == port {
			return true
		}
	}
	return false
}

// unicast reports whether a can be one end of a TCP connection (RFC 9293
// §3.9.1: SYNs to or from broadcast or multicast addresses are ignored).
func unicast(a [4]byte) bool {
	switch {
	case a[0] == 0, a[0] == 127, a[0] >= 224: // this-network, loopback, multicast and reserved
		return false
	}
	return true
}

// synAck answers a SYN with a SYN-ACK whose ISN is the cookie.
func (h *handler) synAck(now time.Time, f *flow) verdict {
	// RFC 9293 §3.7.1: without the MSS option a client takes 536.
	mss := uint16(536)
	if h.in.hasMSS {
		mss = h.in.mss
	}
	isn := h.jar.mint(now, f, mssIndex(mss)) // the link's MSS is applied when sending
	// Ours is the link's (RFC 9293 §3.7.1); any data on the SYN (TFO) is
	// not acknowledged.
	h.out.mss, h.out.hasMSS = h.linkMSS, true
	h.emit(isn, h.in.seq+1, flagSYN, nil)
	h.out.hasMSS = false
	return synAcked
}

// respond sends the answer to req: segments of at most mss bytes, each
// acknowledging the request, the last one with FIN (RFC 9293 §3.6: the
// responder closes first, so the client is left with no TIME-WAIT).
func (h *handler) respond(f *flow, req request, seq, ack uint32, mss uint16) verdict {
	server := netip.AddrPortFrom(netip.AddrFrom4(f.server), f.serverPort)
	var status int
	h.resp, status = h.pages.render(h.resp[:0], &h.sc, req, server)
	mss = min(mss, h.linkMSS)
	for data := h.resp; ; {
		chunk := data[:min(len(data), int(mss))]
		data = data[len(chunk):]
		last := len(data) == 0
		var flags uint8
		if last {
			flags = flagPSH | flagFIN
		}
		h.emit(seq, ack, flags, chunk)
		seq += uint32(len(chunk))
		if last {
			break
		}
	}
	if status == 302 {
		h.stats.Redirects.Add(1)
	}
	if h.log.Enabled(context.Background(), slog.LevelDebug) {
		h.log.Debug("responder: answered", "mac", h.in.srcMAC.String(), "client", netip.AddrFrom4(f.client).String(),
			"server", server.String(), "status", status, "url", string(h.sc.url))
	}
	return answered
}

// emit builds and sends one segment with ACK and flags back to the client
// of the frame being handled, from the address and port it sent to.
func (h *handler) emit(seq, ack uint32, flags uint8, data []byte) {
	o, in := &h.out, &h.in
	o.dstMAC = in.srcMAC
	o.src, o.dst = in.dst, in.src
	o.srcPort, o.dstPort = in.dstPort, in.srcPort
	o.seq, o.ack = seq, ack
	o.flags = flagACK | flags
	// No window scaling was offered, so this is the window as is; the
	// responder reads one segment per connection.
	o.window = 65535
	o.payload = data
	h.buf = o.appendFrame(h.buf[:0])
	if err := h.send(h.buf); err != nil {
		h.sendFailed(1, err)
	}
}

// sendFailed counts n frames that could not be sent.
func (h *handler) sendFailed(n int, err error) {
	h.stats.SendErrors.Add(uint64(n))
	// One line a minute is enough to tell; a flood must not fill the log.
	if now := time.Now(); now.Sub(h.warned) > time.Minute {
		h.warned = now
		h.log.Warn("responder: cannot send", "err", err, "errors", h.stats.SendErrors.Load())
	}
}
