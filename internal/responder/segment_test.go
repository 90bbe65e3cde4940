package responder

import (
	"bytes"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/session"
)

const (
	client = "10.77.0.50:40000"
	inet   = "198.51.100.10:80"
	isn    = 1000
	req    = "GET /news?a=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n"
)

// handshake sends a SYN and returns the SYN-ACK's decoded form.
func handshake(t *testing.T, r *rig, mss uint16) reply {
	t.Helper()
	if v := r.h.handle(seg{src: client, dst: inet, seq: isn, syn: true, mss: mss}.frame(t), t0); v != synAcked {
		t.Fatalf("SYN: verdict %v, want synAcked", v)
	}
	sent := r.take()
	if len(sent) != 1 {
		t.Fatalf("SYN: %d frames sent, want 1", len(sent))
	}
	return decode(t, sent[0])
}

func TestSynAck(t *testing.T) {
	r := newRig(t, states{}, 1500)
	sa := handshake(t, r, 1460)
	if !sa.tcp.SYN || !sa.tcp.ACK || sa.tcp.FIN || sa.tcp.RST {
		t.Errorf("flags: %+v", sa.tcp)
	}
	if sa.tcp.Ack != isn+1 {
		t.Errorf("ack %d, want %d", sa.tcp.Ack, isn+1)
	}
	// It answers as the address and port the client asked for, from the
	// router's MAC to the client's.
	if sa.ip.SrcIP.String() != "198.51.100.10" || sa.ip.DstIP.String() != "10.77.0.50" ||
		sa.tcp.SrcPort != 80 || sa.tcp.DstPort != 40000 {
		t.Errorf("addresses %v:%d -> %v:%d", sa.ip.SrcIP, sa.tcp.SrcPort, sa.ip.DstIP, sa.tcp.DstPort)
	}
	if !bytes.Equal(sa.eth.SrcMAC, routerMAC) || !bytes.Equal(sa.eth.DstMAC, clientMAC) {
		t.Errorf("MACs %v -> %v", sa.eth.SrcMAC, sa.eth.DstMAC)
	}
	if len(sa.tcp.Options) != 1 || sa.tcp.Options[0].OptionType != 2 || string(sa.tcp.Options[0].OptionData) != "\x05\xb4" {
		t.Errorf("options %v, want MSS 1460", sa.tcp.Options)
	}
	// A retransmitted SYN gets the same ISN.
	if again := handshake(t, r, 1460); again.tcp.Seq != sa.tcp.Seq {
		t.Errorf("retransmitted SYN: ISN %d, first %d", again.tcp.Seq, sa.tcp.Seq)
	}
}

// exchange runs a connection up to the request and returns the response
// segments.
func exchange(t *testing.T, r *rig, mss uint16, request string) (syn reply, segs []reply) {
	t.Helper()
	syn = handshake(t, r, mss)
	cookie := syn.tcp.Seq
	if v := r.h.handle(seg{src: client, dst: inet, seq: isn + 1, ack: cookie + 1, ack_: true}.frame(t), t0); v != stray {
		t.Fatalf("handshake ACK: verdict %v, want stray (no answer)", v)
	}
	if n := len(r.take()); n != 0 {
		t.Fatalf("handshake ACK got %d frames", n)
	}
	v := r.h.handle(seg{src: client, dst: inet, seq: isn + 1, ack: cookie + 1, ack_: true, data: request}.frame(t), t0.Add(time.Second))
	if v != answered {
		t.Fatalf("request: verdict %v, want answered", v)
	}
	for _, b := range r.take() {
		segs = append(segs, decode(t, b))
	}
	return syn, segs
}

func TestRequestAnswered(t *testing.T) {
	r := newRig(t, states{}, 1500)
	syn, segs := exchange(t, r, 1460, req)
	if len(segs) != 1 {
		t.Fatalf("%d segments, want 1", len(segs))
	}
	s := segs[0]
	if s.tcp.Seq != syn.tcp.Seq+1 || s.tcp.Ack != isn+1+uint32(len(req)) {
		t.Errorf("seq %d ack %d, want %d %d", s.tcp.Seq, s.tcp.Ack, syn.tcp.Seq+1, isn+1+len(req))
	}
	if !s.tcp.ACK || !s.tcp.FIN || !s.tcp.PSH || s.tcp.SYN {
		t.Errorf("flags %+v, want ACK PSH FIN", s.tcp)
	}
	resp := string(s.data)
	if !strings.HasPrefix(resp, "HTTP/1.1 511 Network Authentication Required\r\n") {
		t.Errorf("response:\n%s", resp)
	}
	link := "http://10.77.0.1:2050/?redir=http%3A%2F%2Fexample.com%2Fnews%3Fa%3D1"
	if !strings.Contains(resp, `<a href="`+link+`">`) {
		t.Errorf("no link to %s in\n%s", link, resp)
	}

	// A retransmitted request gets the same bytes again.
	v := r.h.handle(seg{src: client, dst: inet, seq: isn + 1, ack: syn.tcp.Seq + 1, ack_: true, data: req}.frame(t), t0.Add(2*time.Second))
	again := r.take()
	if v != answered || len(again) != 1 || !bytes.Equal(decode(t, again[0]).data, s.data) || decode(t, again[0]).tcp.Seq != s.tcp.Seq {
		t.Errorf("retransmission: verdict %v, %d frames, different answer", v, len(again))
	}

	// The client acknowledges the response and its FIN, then closes:
	// that FIN gets an ACK from the sequence number after ours.
	end := syn.tcp.Seq + 1 + uint32(len(s.data)) + 1
	reqEnd := isn + 1 + uint32(len(req))
	if v := r.h.handle(seg{src: client, dst: inet, seq: reqEnd, ack: end, ack_: true}.frame(t), t0); v != stray || len(r.take()) != 0 {
		t.Errorf("ACK of the response: verdict %v, want no answer", v)
	}
	if v := r.h.handle(seg{src: client, dst: inet, seq: reqEnd, ack: end, ack_: true, fin: true}.frame(t), t0); v != closed {
		t.Fatalf("client FIN: verdict %v, want closed", v)
	}
	fin := r.take()
	if len(fin) != 1 {
		t.Fatalf("client FIN: %d frames", len(fin))
	}
	f := decode(t, fin[0])
	if !f.tcp.ACK || f.tcp.FIN || f.tcp.Seq != end || f.tcp.Ack != reqEnd+1 || len(f.data) != 0 {
		t.Errorf("FIN answer: seq %d ack %d %+v; want seq %d ack %d, ACK only", f.tcp.Seq, f.tcp.Ack, f.tcp, end, reqEnd+1)
	}
}

// The response is cut to the client's MSS (as the cookie carries it), or
// the link's when that is smaller.
func TestMSSSplitting(t *testing.T) {
	tests := []struct {
		clientMSS uint16
		mtu       int
		want      int // largest segment
	}{
		{1460, 1500, 1460},
		{0, 1500, 536}, // no option: RFC 9293's default
		{536, 1500, 536},
		{1400, 1500, 1400},
		{1439, 1500, 1400}, // rounded down to the table
		{9000, 1500, 1460},
		{1460, 1280, 1240}, // the link's MTU wins
		{100, 1500, 88},
	}
	for _, tt := range tests {
		r := newRig(t, states{}, tt.mtu)
		// A long URL makes a response of several segments.
		request := "GET /" + strings.Repeat("x", 900) + " HTTP/1.1\r\nHost: example.com\r\n\r\n"
		syn, segs := exchange(t, r, tt.clientMSS, request)
		var all []byte
		largest := 0
		next := syn.tcp.Seq + 1
		for i, s := range segs {
			largest = max(largest, len(s.data))
			if s.tcp.Seq != next {
				t.Errorf("mss %d: segment %d at seq %d, want %d", tt.clientMSS, i, s.tcp.Seq, next)
			}
			next += uint32(len(s.data))
			last := i == len(segs)-1
			if s.tcp.FIN != last || s.tcp.PSH != last || !s.tcp.ACK {
				t.Errorf("mss %d: segment %d flags %+v", tt.clientMSS, i, s.tcp)
			}
			all = append(all, s.data...)
		}
		if largest != tt.want {
			t.Errorf("mss %d, mtu %d: largest segment %d, want %d", tt.clientMSS, tt.mtu, largest, tt.want)
		}
		head, body, _ := strings.Cut(string(all), "\r\n\r\n")
		if !strings.Contains(head+"\r\n", "Content-Length: "+strconv.Itoa(len(body))+"\r\n") {
			t.Errorf("mss %d: reassembled response is wrong:\n%s", tt.clientMSS, head)
		}
	}
}

func TestSegmentsNotAnswered(t *testing.T) {
	r := newRig(t, states{}, 1500)
	cookie := handshake(t, r, 1460).tcp.Seq
	tests := []struct {
		name string
		s    seg
		want verdict
	}{
		{"reset", seg{src: client, dst: inet, seq: isn + 1, ack: cookie + 1, ack_: true, rst: true}, stray},
		{"bad cookie", seg{src: client, dst: inet, seq: isn + 1, ack: (cookie + 1) ^ 0x1000000, ack_: true, data: req}, stray},
		{"cookie for another port", seg{src: "10.77.0.50:40001", dst: inet, seq: isn + 1, ack: cookie + 1, ack_: true, data: req}, stray},
		{"cookie for another address", seg{src: client, dst: "198.51.100.11:80", seq: isn + 1, ack: cookie + 1, ack_: true, data: req}, stray},
		{"no ACK flag", seg{src: client, dst: inet, seq: isn + 1, data: req}, stray},
		{"SYN-ACK", seg{src: client, dst: inet, seq: isn, ack: 5, syn: true, ack_: true}, stray},
		{"rest of a long request", seg{src: client, dst: inet, seq: isn + 1400, ack: cookie + 1, ack_: true, data: "Cookie: abc\r\n\r\n"}, stray},
		{"not HTTP", seg{src: client, dst: inet, seq: isn + 1, ack: cookie + 1, ack_: true, data: "\x16\x03\x01\x02\x00"}, stray},
		{"other port", seg{src: client, dst: "198.51.100.10:443", seq: isn, syn: true}, dropped},
		{"from our own MAC", seg{src: client, dst: inet, seq: isn, syn: true, mac: routerMAC}, dropped},
		{"multicast source MAC", seg{src: client, dst: inet, seq: isn, syn: true, mac: net.HardwareAddr{1, 0, 0x5e, 0, 0, 1}}, dropped},
		{"to a multicast address", seg{src: client, dst: "224.0.0.1:80", seq: isn, syn: true}, dropped},
		{"from 0.0.0.0", seg{src: "0.0.0.0:1", dst: inet, seq: isn, syn: true}, dropped},
	}
	for _, tt := range tests {
		if v := r.h.handle(tt.s.frame(t), t0); v != tt.want {
			t.Errorf("%s: verdict %v, want %v", tt.name, v, tt.want)
		}
		if sent := r.take(); len(sent) != 0 {
			t.Errorf("%s: %d frames sent, want none", tt.name, len(sent))
		}
	}
	for _, b := range [][]byte{nil, {1, 2, 3}, make([]byte, 60)} {
		if v := r.h.handle(b, t0); v != dropped {
			t.Errorf("junk frame %x: verdict %v", b, v)
		}
	}
}

// A FIN before any request closes both sides; a late segment after the
// response is acknowledged.
func TestCloseBeforeRequest(t *testing.T) {
	r := newRig(t, states{}, 1500)
	cookie := handshake(t, r, 1460).tcp.Seq
	if v := r.h.handle(seg{src: client, dst: inet, seq: isn + 1, ack: cookie + 1, ack_: true, fin: true}.frame(t), t0); v != closed {
		t.Fatalf("verdict %v", v)
	}
	sent := r.take()
	if len(sent) != 1 {
		t.Fatalf("%d frames", len(sent))
	}
	f := decode(t, sent[0])
	if !f.tcp.FIN || !f.tcp.ACK || f.tcp.Seq != cookie+1 || f.tcp.Ack != isn+2 {
		t.Errorf("answer %+v seq %d ack %d", f.tcp, f.tcp.Seq, f.tcp.Ack)
	}
}

func TestLateSegmentAcknowledged(t *testing.T) {
	r := newRig(t, states{}, 1500)
	syn, segs := exchange(t, r, 1460, req)
	end := syn.tcp.Seq + 1 + uint32(len(segs[0].data)) + 1
	// The second half of a request too long for one segment, sent again
	// once the client had the response.
	if v := r.h.handle(seg{src: client, dst: inet, seq: isn + 1 + uint32(len(req)), ack: end, ack_: true, data: "X-Rest: 1\r\n\r\n"}.frame(t), t0); v != closed {
		t.Fatalf("verdict %v", v)
	}
	f := decode(t, r.take()[0])
	if f.tcp.FIN || f.tcp.Seq != end || f.tcp.Ack != isn+1+uint32(len(req))+13 {
		t.Errorf("answer seq %d ack %d %+v", f.tcp.Seq, f.tcp.Ack, f.tcp)
	}
}

// Only preauth clients are answered; the others are not even sent a SYN-ACK.
func TestOnlyPreauth(t *testing.T) {
	for _, st := range []session.State{session.Authenticated, session.Trusted, session.Blocked} {
		r := newRig(t, states{clientMAC.String(): st}, 1500)
		if v := r.h.handle(seg{src: client, dst: inet, seq: isn, syn: true, mss: 1460}.frame(t), t0); v != passed {
			t.Errorf("%v: verdict %v, want passed", st, v)
		}
		if n := len(r.take()); n != 0 {
			t.Errorf("%v: %d frames sent", st, n)
		}
	}
	// Signing in between the SYN and the request: the request is left alone.
	tbl := states{}
	r := newRig(t, tbl, 1500)
	cookie := handshake(t, r, 1460).tcp.Seq
	tbl[clientMAC.String()] = session.Authenticated
	if v := r.h.handle(seg{src: client, dst: inet, seq: isn + 1, ack: cookie + 1, ack_: true, data: req}.frame(t), t0); v != passed || len(r.take()) != 0 {
		t.Errorf("after sign-in: verdict %v", v)
	}
}

// The walled garden is forwarded by the firewall: the site answers, not
// the responder. The garden is asked about every segment's destination,
// so an address that joins it (the firewall learns them from DNS) is left
// alone from the next segment on, even in a connection the responder took.
func TestGardenPassed(t *testing.T) {
	r := newRig(t, states{}, 1500)
	garden := map[netip.Addr]bool{netip.MustParseAddr("198.51.100.10"): true}
	var asked []netip.Addr
	r.h.garden = func(a netip.Addr) bool { asked = append(asked, a); return garden[a] }
	if v := r.h.handle(seg{src: client, dst: inet, seq: isn, syn: true}.frame(t), t0); v != passed || len(r.take()) != 0 {
		t.Errorf("SYN to the garden: verdict %v", v)
	}
	const outside = "198.51.100.11:80"
	syn := seg{src: client, dst: outside, seq: isn, syn: true}
	if v := r.h.handle(syn.frame(t), t0); v != synAcked {
		t.Fatalf("SYN outside the garden: verdict %v", v)
	}
	cookie := decode(t, r.take()[0]).tcp.Seq
	request := seg{src: client, dst: outside, seq: isn + 1, ack: cookie + 1, ack_: true, data: req}
	fin := seg{src: client, dst: outside, seq: isn + 1, ack: cookie + 1, ack_: true, fin: true}
	if v := r.h.handle(request.frame(t), t0); v != answered || len(r.take()) == 0 {
		t.Errorf("request outside the garden: verdict %v", v)
	}
	if want := []netip.Addr{netip.MustParseAddr("198.51.100.10"), netip.MustParseAddr("198.51.100.11"),
		netip.MustParseAddr("198.51.100.11")}; !slices.Equal(asked, want) {
		t.Errorf("garden asked about %v, want %v", asked, want)
	}

	garden[netip.MustParseAddr("198.51.100.11")] = true
	for name, s := range map[string]seg{"SYN": syn, "request": request, "FIN": fin} {
		if v := r.h.handle(s.frame(t), t0); v != passed {
			t.Errorf("%s after the address joined the garden: verdict %v, want passed", name, v)
		}
		if n := len(r.take()); n != 0 {
			t.Errorf("%s after the address joined the garden: %d frames sent", name, n)
		}
	}
	// No garden (nil) is an empty one.
	r.h.garden = nil
	if v := r.h.handle(request.frame(t), t0); v != answered {
		t.Errorf("no garden: verdict %v", v)
	}
}

// In a crowded batch (a flood), a MAC gets synShare SYN-ACKs and no more;
// other MACs still get theirs.
func TestSynShare(t *testing.T) {
	r := newRig(t, states{}, 1500)
	other := net.HardwareAddr{0x02, 0, 0, 0, 0x01, 0x02}
	for _, crowded := range []bool{false, true} {
		// Crowded: a full batch after a full batch.
		r.h.beginBatch(crowded)
		r.h.beginBatch(crowded)
		answered := 0
		for i := range 20 {
			s := seg{src: "10.77.0.50:" + strconv.Itoa(30000+i), dst: inet, seq: isn, syn: true}
			if r.h.handle(s.frame(t), t0) == synAcked {
				answered++
			}
		}
		if want := map[bool]int{false: 20, true: synShare}[crowded]; answered != want {
			t.Errorf("crowded %v: %d of 20 SYNs answered, want %d", crowded, answered, want)
		}
		if v := r.h.handle(seg{src: "10.77.0.60:1234", dst: inet, seq: isn, syn: true, mac: other}.frame(t), t0); v != synAcked {
			t.Errorf("crowded %v: another client's SYN: verdict %v", crowded, v)
		}
		r.take()
	}
	// The next batch starts afresh.
	r.h.beginBatch(true)
	if v := r.h.handle(seg{src: client, dst: inet, seq: isn, syn: true}.frame(t), t0); v != synAcked {
		t.Errorf("new batch: verdict %v", v)
	}
	// One full batch alone (a burst) is not crowded.
	r.h.beginBatch(false)
	r.h.beginBatch(true)
	for i := range 20 {
		if v := r.h.handle(seg{src: "10.77.0.50:" + strconv.Itoa(30000+i), dst: inet, seq: isn, syn: true}.frame(t), t0); v != synAcked {
			t.Errorf("burst: SYN %d: verdict %v", i, v)
		}
	}
}

// Handling a SYN or a request allocates nothing: a flood costs no memory.
func TestNoAllocations(t *testing.T) {
	r := newRig(t, states{}, 1500)
	r.h.send = func([]byte) error { return nil }
	syn := seg{src: client, dst: inet, seq: isn, syn: true, mss: 1460}.frame(t)
	r.h.handle(syn, t0) // warm the buffers
	if n := testing.AllocsPerRun(100, func() { r.h.handle(syn, t0) }); n != 0 {
		t.Errorf("SYN: %v allocations", n)
	}
	// A Linux client's SYN with Multipath TCP on: MSS, SACK permitted,
	// timestamps, window scale, MP_CAPABLE (RFC 8684 §3.1).
	mptcp := rawFrame(t, seg{src: client, dst: inet, seq: isn, syn: true},
		[]byte{2, 4, 5, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7, 30, 4, 0x01, 0x81}, nil)
	if v := r.h.handle(mptcp, t0); v != synAcked {
		t.Fatalf("MPTCP SYN: verdict %v", v)
	}
	if n := testing.AllocsPerRun(100, func() { r.h.handle(mptcp, t0) }); n != 0 {
		t.Errorf("MPTCP SYN: %v allocations", n)
	}
	var cookie uint32
	r.h.send = func(b []byte) error { cookie = decode(t, b).tcp.Seq; return nil }
	r.h.handle(syn, t0)
	r.h.send = func([]byte) error { return nil }
	data := seg{src: client, dst: inet, seq: isn + 1, ack: cookie + 1, ack_: true, data: req}.frame(t)
	if v := r.h.handle(data, t0); v != answered {
		t.Fatalf("verdict %v", v)
	}
	if n := testing.AllocsPerRun(100, func() { r.h.handle(data, t0) }); n != 0 {
		t.Errorf("request: %v allocations", n)
	}
	// What a flood brings besides SYNs: resets, segments with bad
	// cookies, FINs, SYNs over their share, and frames of signed-in
	// clients.
	r.h.beginBatch(true)
	r.h.beginBatch(true)
	other := net.HardwareAddr{0x02, 0, 0, 0, 0x01, 0x09}
	for name, f := range map[string][]byte{
		"reset":      seg{src: client, dst: inet, seq: isn + 1, rst: true}.frame(t),
		"bad cookie": seg{src: client, dst: inet, seq: isn + 1, ack: cookie ^ 0x1000000, ack_: true, data: req}.frame(t),
		"FIN":        seg{src: client, dst: inet, seq: isn + 1, ack: cookie + 1, ack_: true, fin: true}.frame(t),
		"shed SYN":   syn,
		"signed in":  seg{src: client, dst: inet, seq: isn, syn: true, mac: other}.frame(t),
	} {
		r.h.clients = states{other.String(): session.Authenticated}
		if n := testing.AllocsPerRun(100, func() { r.h.handle(f, t0) }); n != 0 {
			t.Errorf("%s: %v allocations", name, n)
		}
	}
}

func BenchmarkSYN(b *testing.B) {
	r := newRig(b, states{}, 1500)
	r.h.send = func([]byte) error { return nil }
	syn := seg{src: client, dst: inet, seq: isn, syn: true, mss: 1460}.frame(b)
	b.ReportAllocs()
	for b.Loop() {
		r.h.handle(syn, t0)
	}
}

func BenchmarkRequest(b *testing.B) {
	r := newRig(b, states{}, 1500)
	var cookie uint32
	r.h.send = func(f []byte) error { cookie = decode(b, f).tcp.Seq; return nil }
	r.h.handle(seg{src: client, dst: inet, seq: isn, syn: true, mss: 1460}.frame(b), t0)
	r.h.send = func([]byte) error { return nil }
	data := seg{src: client, dst: inet, seq: isn + 1, ack: cookie + 1, ack_: true, data: req}.frame(b)
	b.ReportAllocs()
	for b.Loop() {
		r.h.handle(data, t0)
	}
}
