package radius

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhexString(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRFC2865Example checks the codec against the example exchange of
// RFC 2865 §7.1: the hidden User-Password of "arctangent" and the
// Access-Accept's Response Authenticator, with secret "xyzzy5461".
func TestRFC2865Example(t *testing.T) {
	secret := []byte("xyzzy5461")
	req := unhexString(t, `01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb
		98 f4 22 7a 01 06 6e 65 6d 6f 02 12 0d be 70 8d
		93 d4 13 ce 31 96 e4 3f 78 2a 0a ee 04 06 c0 a8
		01 10 05 06 00 00 00 03`)
	resp := unhexString(t, `02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf
		9b 55 e0 b2 06 06 00 00 00 01 0f 06 00 00 00 00
		0e 06 c0 a8 01 03`)
	p, err := Parse(req)
	if err != nil {
		t.Fatal(err)
	}
	hidden, err := HidePassword([]byte("arctangent"), secret, p.Authenticator)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := p.Get(AttrUserPassword); !bytes.Equal(hidden, want) {
		t.Errorf("hidden password %x, want %x (RFC 2865 §7.1)", hidden, want)
	}
	if pw, err := RevealPassword(hidden, secret, p.Authenticator); err != nil || string(pw) != "arctangent" {
		t.Errorf("revealed %q, %v", pw, err)
	}
	reply, hasMA, err := VerifyReply(resp, p.Authenticator, secret)
	if err != nil || hasMA {
		t.Fatalf("VerifyReply: %v (MA %v)", err, hasMA)
	}
	// Laid out again from its attributes, the reply is the same bytes.
	again, err := EncodeReply(&Packet{Code: reply.Code, Identifier: reply.Identifier, Attrs: reply.Attrs}, p.Authenticator, secret)
	if err != nil || !bytes.Equal(again, resp) {
		t.Errorf("EncodeReply: %x, %v; want %x", again, err, resp)
	}
	resp[len(resp)-1] ^= 1
	if _, _, err := VerifyReply(resp, p.Authenticator, secret); err == nil {
		t.Error("a changed reply passed")
	}
	if _, _, err := VerifyReply(resp, p.Authenticator, []byte("wrong")); err == nil {
		t.Error("a reply passed with the wrong secret")
	}
}

func TestParse(t *testing.T) {
	hdr := func(n int, attrs ...byte) []byte {
		b := append([]byte{2, 7, byte(n >> 8), byte(n)}, make([]byte, 16)...)
		return append(b, attrs...)
	}
	tests := []struct {
		name  string
		in    []byte
		err   error
		attrs int
	}{
		{"empty", nil, ErrShort, 0},
		{"header only", hdr(20), nil, 0},
		{"short header", hdr(20)[:19], ErrShort, 0},
		{"length below 20", hdr(19), ErrLength, 0},
		{"length above 4096", hdr(4097), ErrLength, 0},
		{"length past the data", hdr(30, 1, 3, 'a'), ErrShort, 0},
		{"padding after length ignored", hdr(23, 1, 3, 'a', 0xff, 0xff), nil, 1},
		{"two attributes", hdr(28, 1, 3, 'a', 18, 5, 'x', 'y', 'z'), nil, 2},
		{"empty value", hdr(22, 25, 2), nil, 1},
		{"attribute length 0", hdr(22, 1, 0), ErrAttribute, 0},
		{"attribute length 1", hdr(22, 1, 1), ErrAttribute, 0},
		{"attribute past the length", hdr(23, 1, 4, 'a', 'b'), ErrAttribute, 0},
		{"lone type octet", hdr(21, 1), ErrAttribute, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if err == nil && len(p.Attrs) != tt.attrs {
				t.Errorf("%d attributes, want %d", len(p.Attrs), tt.attrs)
			}
		})
	}
}

// TestEncodeBounds: a value over 253 octets, or a packet over 4096, is
// refused rather than laid out with a wrapped length (RFC 2865 §3, §5).
func TestEncodeBounds(t *testing.T) {
	p := &Packet{Code: CodeAccountingRequest}
	p.Add(AttrClass, make([]byte, 253))
	if _, err := EncodeRequest(p, testSecret); err != nil {
		t.Errorf("253 octets: %v", err)
	}
	p.Add(AttrClass, make([]byte, 254))
	if _, err := EncodeRequest(p, testSecret); err == nil {
		t.Error("254 octets laid out")
	}
	p = &Packet{Code: CodeAccountingRequest}
	for range 16 {
		p.Add(AttrClass, make([]byte, 253))
	}
	if _, err := EncodeRequest(p, testSecret); err == nil {
		t.Error("a packet of 4116 octets laid out")
	}
	if _, err := EncodeRequest(&Packet{Code: CodeAccessAccept}, testSecret); err == nil {
		t.Error("an Access-Accept laid out as a request")
	}
}

// TestRequestAuthenticator: an Accounting-, CoA- or Disconnect-Request
// carries MD5(Code+Identifier+Length+16 zeros+Attributes+secret) (RFC
// 2866 §3, RFC 5176 §2.3), computed here the long way.
func TestRequestAuthenticator(t *testing.T) {
	for _, code := range []Code{CodeAccountingRequest, CodeCoARequest, CodeDisconnectRequest} {
		p := &Packet{Code: code, Identifier: 9}
		p.Add(AttrUserName, []byte("nemo"))
		b, err := EncodeRequest(p, testSecret)
		if err != nil {
			t.Fatal(err)
		}
		want := md5sum(b[:4], make([]byte, 16), b[20:], testSecret)
		if !bytes.Equal(b[4:20], want) {
			t.Errorf("%s: authenticator %x, want %x", code, b[4:20], want)
		}
		if _, err := VerifyRequest(b, testSecret); err != nil {
			t.Errorf("%s: %v", code, err)
		}
		if _, err := VerifyRequest(b, []byte("other")); err == nil {
			t.Errorf("%s passed with another secret", code)
		}
	}
}

// TestMessageAuthenticator checks RFC 3579 §3.2 the long way: HMAC-MD5
// keyed with the secret over the packet with the attribute's 16 octets
// zeroed — with the Access-Request's own authenticator, with the request's
// in a reply, and with 16 zeros in a CoA-Request (RFC 5176 §3.4).
func TestMessageAuthenticator(t *testing.T) {
	long := func(b []byte, auth []byte) []byte {
		c := append([]byte(nil), b...)
		copy(c[4:20], auth)
		off := maOffset(c)
		clear(c[off : off+16])
		m := hmac.New(md5.New, testSecret)
		m.Write(c)
		return m.Sum(nil)
	}
	req := &Packet{Code: CodeAccessRequest, Identifier: 3}
	req.Add(AttrUserName, []byte("nemo"))
	b, err := EncodeRequest(req, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	off := maOffset(b)
	if off < 0 {
		t.Fatal("Access-Request without Message-Authenticator")
	}
	if want := long(b, b[4:20]); !bytes.Equal(b[off:off+16], want) {
		t.Errorf("Access-Request: %x, want %x", b[off:off+16], want)
	}

	reply := &Packet{Code: CodeAccessAccept, Identifier: 3}
	reply.Add(AttrMessageAuthenticator, make([]byte, 16))
	reply.Add(AttrSessionTimeout, Uint32(60))
	rb, err := EncodeReply(reply, req.Authenticator, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	off = maOffset(rb)
	if want := long(rb, req.Authenticator[:]); !bytes.Equal(rb[off:off+16], want) {
		t.Errorf("Access-Accept: %x, want %x", rb[off:off+16], want)
	}
	// The Response Authenticator covers the Message-Authenticator.
	if want := md5sum(rb[:4], req.Authenticator[:], rb[20:], testSecret); !bytes.Equal(rb[4:20], want) {
		t.Errorf("Response Authenticator %x, want %x", rb[4:20], want)
	}
	if _, has, err := VerifyReply(rb, req.Authenticator, testSecret); err != nil || !has {
		t.Errorf("VerifyReply: %v, %v", has, err)
	}
	// A wrong Message-Authenticator under a right Response
	// Authenticator (a server bug, or a BlastRADIUS forgery that got
	// the MD5 right) is refused.
	bad := append([]byte(nil), rb...)
	bad[off] ^= 1
	sum := md5sum(bad[:4], req.Authenticator[:], bad[20:], testSecret)
	copy(bad[4:20], sum)
	if _, _, err := VerifyReply(bad, req.Authenticator, testSecret); err == nil || !strings.Contains(err.Error(), "Message-Authenticator") {
		t.Errorf("a wrong Message-Authenticator: %v", err)
	}

	coa := &Packet{Code: CodeCoARequest, Identifier: 4}
	coa.Add(AttrUserName, []byte("nemo"))
	coa.Add(AttrMessageAuthenticator, make([]byte, 16))
	cb, err := EncodeRequest(coa, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	off = maOffset(cb)
	if want := long(cb, make([]byte, 16)); !bytes.Equal(cb[off:off+16], want) {
		t.Errorf("CoA-Request: %x, want %x", cb[off:off+16], want)
	}
	if _, err := VerifyRequest(cb, testSecret); err != nil {
		t.Error(err)
	}
}

// TestMessageAuthenticatorMalformed: two of them, or one that is not 16
// octets, fail the check (RFC 3579 §3.2).
func TestMessageAuthenticatorMalformed(t *testing.T) {
	for name, attrs := range map[string][]Attr{
		"two":       {{AttrMessageAuthenticator, make([]byte, 16)}, {AttrMessageAuthenticator, make([]byte, 16)}},
		"15 octets": {{AttrMessageAuthenticator, make([]byte, 15)}},
	} {
		p := &Packet{Code: CodeAccessAccept, Identifier: 1, Attrs: attrs}
		var reqAuth [16]byte
		b, err := EncodeReply(p, reqAuth, testSecret)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := VerifyReply(b, reqAuth, testSecret); err == nil {
			t.Errorf("%s: passed", name)
		}
	}
}

// TestHidePassword: the hidden form is the password padded to 16-octet
// blocks, chained per RFC 2865 §5.2, for lengths round the block size.
func TestHidePassword(t *testing.T) {
	var auth [16]byte
	copy(auth[:], "0123456789abcdef")
	for _, n := range []int{0, 1, 15, 16, 17, 32, 33, 128} {
		pw := bytes.Repeat([]byte{'p'}, n)
		h, err := HidePassword(pw, testSecret, auth)
		if err != nil {
			t.Fatal(err)
		}
		if want := max((n+15)/16*16, 16); len(h) != want {
			t.Errorf("%d octets hidden in %d, want %d", n, len(h), want)
		}
		// The long way: c1 = p1 xor MD5(S+RA), ci = pi xor MD5(S+ci-1).
		padded := make([]byte, len(h))
		copy(padded, pw)
		prev := auth[:]
		for i := 0; i < len(h); i += 16 {
			b := md5sum(testSecret, prev)
			for j := range 16 {
				if h[i+j] != padded[i+j]^b[j] {
					t.Fatalf("%d octets: block %d differs", n, i/16)
				}
			}
			prev = h[i : i+16]
		}
		if got, err := RevealPassword(h, testSecret, auth); err != nil || !bytes.Equal(got, pw) {
			t.Errorf("%d octets: revealed %q, %v", n, got, err)
		}
	}
	if _, err := HidePassword(make([]byte, 129), testSecret, auth); err == nil {
		t.Error("129 octets hidden")
	}
}
