package responder

import (
	"bytes"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// FuzzHandle feeds arbitrary frames to the handler: it must never panic,
// and whatever it sends must be a well-formed segment with correct
// checksums, back to the sender, as the address it sent to.
func FuzzHandle(f *testing.F) {
	r := newRig(f, states{}, 1500)
	synFrame := seg{src: client, dst: inet, seq: isn, syn: true, mss: 1460}.frame(f)
	r.h.handle(synFrame, t0)
	cookie := decode(f, r.take()[0]).tcp.Seq
	f.Add(synFrame)
	f.Add(seg{src: client, dst: inet, seq: isn + 1, ack: cookie + 1, ack_: true, data: req}.frame(f))
	f.Add(seg{src: client, dst: inet, seq: isn + 1, ack: cookie + 1, ack_: true, fin: true}.frame(f))
	f.Add(seg{src: client, dst: inet, seq: isn + 60, ack: cookie + 900, ack_: true, fin: true}.frame(f))
	f.Add(seg{src: client, dst: inet, seq: isn + 1, ack: cookie + 1, ack_: true, data: "HEAD http://x/ HTTP/1.0\r\n\r\n"}.frame(f))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, frame []byte) {
		r.take()
		in := append([]byte(nil), frame...)
		v := r.h.handle(frame, t0)
		if !bytes.Equal(in, frame) {
			t.Fatal("the handler changed the frame it read")
		}
		sent := r.take()
		if (v == synAcked || v == answered || v == closed) != (len(sent) > 0) {
			t.Fatalf("verdict %v with %d frames sent", v, len(sent))
		}
		if len(sent) > maxResponse/int(mssTable[0])+1 {
			t.Fatalf("%d frames sent for one", len(sent))
		}
		for _, b := range sent {
			out := decode(t, b)
			// The input decoded (something was sent), so its
			// addresses are at fixed places.
			if !bytes.Equal(out.eth.DstMAC, frame[6:12]) || !bytes.Equal(out.eth.SrcMAC, routerMAC) {
				t.Fatalf("sent from %v to %v", out.eth.SrcMAC, out.eth.DstMAC)
			}
			ihl := int(frame[14]&0x0f) * 4
			if !bytes.Equal(out.ip.SrcIP.To4(), frame[30:34]) || !bytes.Equal(out.ip.DstIP.To4(), frame[26:30]) ||
				!bytes.Equal(b[34:36], frame[14+ihl+2:14+ihl+4]) {
				t.Fatalf("answer does not come from where the frame went")
			}
		}
	})
}

// FuzzRequest renders the answer to arbitrary request bytes: a valid HTTP
// response whose Content-Length is right and whose link gives back the
// original URL, capped.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		req,
		"GET /generate_204 HTTP/1.1\r\nHost: connectivitycheck.gstatic.com\r\n\r\n",
		"HEAD / HTTP/1.0\r\n\r\n",
		"GET http://a.example/%zz HTTP/1.1\r\nHost: b\r\n\r\n",
		"POST /x?<script> HTTP/1.1\nHost: [::1]:80\n\n",
		"OPTIONS * HTTP/1.1\r\n",
	} {
		f.Add(s)
	}
	p := newPages("http://10.77.0.1:2050/?redir=", []string{"detect.example.net/check"})
	server := netip.MustParseAddrPort("198.51.100.10:80")
	var s scratch
	f.Fuzz(func(t *testing.T, in string) {
		req, ok := parseRequest([]byte(in))
		if !ok {
			return
		}
		resp, status := p.render(nil, &s, req, server)
		if len(resp) > maxResponse {
			t.Fatalf("%d bytes, over maxResponse", len(resp))
		}
		st, fields, body := parseResponse(t, resp)
		if st != "HTTP/1.1 "+strconv.Itoa(status)+map[int]string{302: " Found", 511: " Network Authentication Required"}[status] {
			t.Fatalf("status line %q", st)
		}
		n, err := strconv.Atoi(fields["Content-Length"])
		if err != nil || (!req.head && n != len(body)) || (req.head && body != "") {
			t.Fatalf("Content-Length %q, body %d bytes, head %v", fields["Content-Length"], len(body), req.head)
		}
		if fields["Cache-Control"] != "no-store" || fields["Connection"] != "close" {
			t.Fatalf("fields %v", fields)
		}
		if len(s.url) > maxURL {
			t.Fatalf("URL of %d bytes", len(s.url))
		}
		link := string(s.link)
		if status == 302 && fields["Location"] != link {
			t.Fatalf("Location %q, want %q", fields["Location"], link)
		}
		if !req.head && !strings.Contains(body, `<a href="`+link+`">`) {
			t.Fatalf("body lacks the link %q", link)
		}
		u, err := url.Parse(link)
		if err != nil || u.Query().Get("redir") != string(s.url) {
			t.Fatalf("link %q: %v; redir %q, want %q", link, err, u.Query().Get("redir"), s.url)
		}
	})
}
