package radius

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/netip"
	"testing"
)

// fuzzSeeds are packets of the kinds lobby parses.
func fuzzSeeds(f *testing.F) [][]byte {
	var reqAuth [16]byte
	reply := func(code Code, attrs ...Attr) []byte {
		b, err := EncodeReply(&Packet{Code: code, Identifier: 1, Attrs: attrs}, reqAuth, testSecret)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	return [][]byte{
		reply(CodeAccessAccept, Attr{AttrSessionTimeout, Uint32(3600)}, Attr{AttrIdleTimeout, Uint32(600)},
			Attr{AttrAcctInterimInterval, Uint32(30)}, Attr{AttrClass, []byte("gold")},
			Attr{AttrVendorSpecific, VSA(VendorWISPr, WISPrBandwidthMaxDown, Uint32(2_000_000))},
			Attr{AttrVendorSpecific, append(VSA(VendorChilliSpot, ChilliSpotMaxTotalOctets, Uint32(5)), ChilliSpotMaxTotalGigawords, 6, 0, 0, 0, 1)},
			Attr{AttrMessageAuthenticator, make([]byte, 16)}),
		reply(CodeAccessReject, Attr{AttrReplyMessage, []byte("no")}),
		reply(CodeAccountingResponse),
		dasRequest(f, CodeDisconnectRequest, Attr{AttrUserName, []byte("nemo")}, Attr{AttrEventTimestamp, Uint32(0)}),
		dasRequest(f, CodeCoARequest, Attr{AttrCallingStationID, []byte("02-00-00-00-00-C1")}, Attr{AttrFramedIPAddress, []byte{10, 77, 0, 100}},
			Attr{AttrVendorSpecific, VSA(VendorChilliSpot, ChilliSpotBandwidthMaxUp, Uint32(512))}, Attr{AttrMessageAuthenticator, make([]byte, 16)}),
	}
}

// FuzzParse: Parse never panics, and what it accepts lays out again as
// the same octets (up to Length).
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		b, err := p.encode()
		if err != nil {
			t.Fatalf("a parsed packet does not lay out again: %v", err)
		}
		if n := binary.BigEndian.Uint16(data[2:4]); !bytes.Equal(b, data[:n]) {
			t.Fatalf("laid out again as % x, was % x", b, data[:n])
		}
		ParseLimits(p)
	})
}

// FuzzReply: a datagram that comes back to an Access-Request. Taken as it
// comes, it is discarded unless it verifies (the fuzzer cannot forge MD5:
// only the seeds do); signed with the
// secret, as a server would, it is taken unless its Message-Authenticator
// is malformed, and its limits are read without a panic.
func FuzzReply(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	c := testClient(netip.MustParseAddrPort("127.0.0.1:1812"))
	addr := netip.MustParseAddrPort("127.0.0.1:1812")
	f.Fuzz(func(t *testing.T, data []byte) {
		req := &Packet{Code: CodeAccessRequest, Identifier: 1}
		if _, err := c.check(addr, data, req); err == nil {
			if _, _, err := VerifyReply(data, req.Authenticator, testSecret); err != nil {
				t.Fatalf("a datagram that does not verify was taken: %v", err)
			}
		}
		p, err := Parse(data)
		if err != nil {
			return
		}
		p.Identifier = 1
		raw, err := EncodeReply(p, req.Authenticator, testSecret)
		if err != nil {
			return
		}
		reply, err := c.check(addr, raw, req)
		if err != nil {
			return
		}
		if !answers(CodeAccessRequest, reply.Code) {
			t.Fatalf("%s taken as an answer", reply.Code)
		}
		ParseLimits(reply)
	})
}

// FuzzDAS: a datagram to the DAS port. As it comes it is discarded unless
// it verifies; with
// a valid Request Authenticator (and Message-Authenticator) it is answered
// with an ACK or a NAK of its own kind, signed, a NAK with an Error-Cause.
func FuzzDAS(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, _ := testDAS(newFakeClock())
		ctx := context.Background()
		if _, err := d.Handle(ctx, dasClient, data); err == nil {
			if _, err := VerifyRequest(data, testSecret); err != nil {
				t.Fatalf("a datagram that does not verify was answered: %v", err)
			}
		}
		p, err := Parse(data)
		if err != nil {
			return
		}
		raw, err := EncodeRequest(p, testSecret)
		if err != nil {
			return
		}
		b, err := d.Handle(ctx, dasClient, raw)
		if err != nil {
			return
		}
		reply, _, err := VerifyReply(b, p.Authenticator, testSecret)
		if err != nil {
			t.Fatalf("the answer does not verify: %v", err)
		}
		_, hasCause := reply.Get(AttrErrorCause)
		switch {
		case p.Code == CodeDisconnectRequest && reply.Code == CodeDisconnectACK && !hasCause,
			p.Code == CodeDisconnectRequest && reply.Code == CodeDisconnectNAK && hasCause,
			p.Code == CodeCoARequest && reply.Code == CodeCoAACK && !hasCause,
			p.Code == CodeCoARequest && reply.Code == CodeCoANAK && hasCause:
		default:
			t.Fatalf("%s answered with %s (Error-Cause %v)", p.Code, reply.Code, hasCause)
		}
	})
}
