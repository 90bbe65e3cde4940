package radius

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// Code is a packet's type (RFC 2865 §3, RFC 2866 §4, RFC 5176 §2.3).
type Code uint8

// The codes Lobby sends or answers.
const (
	CodeAccessRequest      Code = 1
	CodeAccessAccept       Code = 2
	CodeAccessReject       Code = 3
	CodeAccountingRequest  Code = 4
	CodeAccountingResponse Code = 5
	CodeAccessChallenge    Code = 11
	CodeDisconnectRequest  Code = 40
	CodeDisconnectACK      Code = 41
	CodeDisconnectNAK      Code = 42
	CodeCoARequest         Code = 43
	CodeCoAACK             Code = 44
	CodeCoANAK             Code = 45
)

func (c Code) String() string {
	switch c {
	case CodeAccessRequest:
		return "Access-Request"
	case CodeAccessAccept:
		return "Access-Accept"
	case CodeAccessReject:
		return "Access-Reject"
	case CodeAccountingRequest:
		return "Accounting-Request"
	case CodeAccountingResponse:
		return "Accounting-Response"
	case CodeAccessChallenge:
		return "Access-Challenge"
	case CodeDisconnectRequest:
		return "Disconnect-Request"
	case CodeDisconnectACK:
		return "Disconnect-ACK"
	case CodeDisconnectNAK:
		return "Disconnect-NAK"
	case CodeCoARequest:
		return "CoA-Request"
	case CodeCoAACK:
		return "CoA-ACK"
	case CodeCoANAK:
		return "CoA-NAK"
	}
	return fmt.Sprintf("Code(%d)", uint8(c))
}

// Sizes of RFC 2865 §3: a packet is 20 to 4096 octets; an attribute's
// length octet counts its type and length octets, so a value holds at most
// 253.
const (
	headerLen    = 20
	maxPacketLen = 4096
	maxValueLen  = 253
)

// Attr is one attribute (RFC 2865 §5): a type and up to 253 octets of
// value. A Vendor-Specific attribute (type 26) keeps its whole value here;
// VSA reads it.
type Attr struct {
	Type  uint8
	Value []byte
}

// Packet is a RADIUS packet. Attributes keep their order: RFC 2865 §5
// requires it for attributes of one type (Class, Reply-Message).
type Packet struct {
	Code          Code
	Identifier    uint8
	Authenticator [16]byte
	Attrs         []Attr
}

// Errors of Parse, for the callers' logs and the fuzz tests' checks.
var (
	ErrShort     = errors.New("shorter than its header or Length field")
	ErrLength    = errors.New("Length field outside 20..4096")
	ErrAttribute = errors.New("attribute with a length below 2 or past the packet's end")
)

// Parse decodes b. Octets after Length are padding and ignored (RFC 2865
// §3); a Length larger than b, or an attribute that runs past Length, is
// an error. The attributes' values alias b.
func Parse(b []byte) (*Packet, error) {
	if len(b) < headerLen {
		return nil, fmt.Errorf("radius: parse: %w", ErrShort)
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < headerLen || n > maxPacketLen {
		return nil, fmt.Errorf("radius: parse: %w (%d)", ErrLength, n)
	}
	if n > len(b) {
		return nil, fmt.Errorf("radius: parse: %w (%d of %d octets)", ErrShort, len(b), n)
	}
	p := &Packet{Code: Code(b[0]), Identifier: b[1]}
	copy(p.Authenticator[:], b[4:20])
	for rest := b[headerLen:n]; len(rest) > 0; {
		if len(rest) < 2 || rest[1] < 2 || int(rest[1]) > len(rest) {
			return nil, fmt.Errorf("radius: parse %s: %w", p.Code, ErrAttribute)
		}
		p.Attrs = append(p.Attrs, Attr{Type: rest[0], Value: rest[2:rest[1]:rest[1]]})
		rest = rest[rest[1]:]
	}
	return p, nil
}

// encode lays p out as it goes on the wire, authenticator as it is.
func (p *Packet) encode() ([]byte, error) {
	n := headerLen
	for _, a := range p.Attrs {
		if len(a.Value) > maxValueLen {
			return nil, fmt.Errorf("radius: encode %s: attribute %d has %d octets, more than 253", p.Code, a.Type, len(a.Value))
		}
		n += 2 + len(a.Value)
	}
	if n > maxPacketLen {
		return nil, fmt.Errorf("radius: encode %s: %d octets, more than 4096", p.Code, n)
	}
	b := make([]byte, headerLen, n)
	b[0], b[1] = byte(p.Code), p.Identifier
	binary.BigEndian.PutUint16(b[2:4], uint16(n))
	copy(b[4:20], p.Authenticator[:])
	for _, a := range p.Attrs {
		b = append(b, a.Type, byte(2+len(a.Value)))
		b = append(b, a.Value...)
	}
	return b, nil
}

// Get returns the value of p's first attribute of type t.
func (p *Packet) Get(t uint8) ([]byte, bool) {
	for _, a := range p.Attrs {
		if a.Type == t {
			return a.Value, true
		}
	}
	return nil, false
}

// Add appends an attribute.
func (p *Packet) Add(t uint8, v []byte) { p.Attrs = append(p.Attrs, Attr{t, v}) }

// Set replaces every attribute of type t by one with value v.
func (p *Packet) Set(t uint8, v []byte) {
	p.Del(t)
	p.Add(t, v)
}

// Del removes every attribute of type t.
func (p *Packet) Del(t uint8) {
	out := p.Attrs[:0]
	for _, a := range p.Attrs {
		if a.Type != t {
			out = append(out, a)
		}
	}
	p.Attrs = out
}

// Authenticators. A request is one of two kinds (RFC 2865 §3, RFC 2866 §3,
// RFC 5176 §2.3): an Access-Request carries 16 random octets, which the
// User-Password hiding and the reply's authenticators build on; the other
// requests carry MD5(Code+Identifier+Length+16 zero octets+Attributes+
// secret), which proves the secret. A reply carries MD5(Code+Identifier+
// Length+the request's authenticator+Attributes+secret).

// EncodeRequest lays out a request to send with secret. For an
// Access-Request it fills in a random Request Authenticator when p's is
// zero, and a Message-Authenticator (RFC 3579 §3.2) always. For the other
// requests it computes the Request Authenticator, after the
// Message-Authenticator when p has one.
func EncodeRequest(p *Packet, secret []byte) ([]byte, error) {
	switch p.Code {
	case CodeAccessRequest:
		if p.Authenticator == ([16]byte{}) {
			randRead(p.Authenticator[:])
		}
		p.Set(AttrMessageAuthenticator, make([]byte, 16))
		b, err := p.encode()
		if err != nil {
			return nil, err
		}
		signMessageAuthenticator(b, secret)
		return b, nil
	case CodeAccountingRequest, CodeDisconnectRequest, CodeCoARequest:
		p.Authenticator = [16]byte{}
		b, err := p.encode()
		if err != nil {
			return nil, err
		}
		signMessageAuthenticator(b, secret) // zero authenticator, RFC 5176 §3.4
		sum := hashWith(b, nil, secret)
		copy(b[4:20], sum[:])
		copy(p.Authenticator[:], sum[:])
		return b, nil
	}
	return nil, fmt.Errorf("radius: encode: %s is not a request", p.Code)
}

// EncodeReply lays out p, a reply to a request whose authenticator is
// reqAuth: Message-Authenticator first when p has one (RFC 3579 §3.2: over
// the packet with the request's authenticator in place), then the Response
// Authenticator over the result.
func EncodeReply(p *Packet, reqAuth [16]byte, secret []byte) ([]byte, error) {
	p.Authenticator = reqAuth
	b, err := p.encode()
	if err != nil {
		return nil, err
	}
	signMessageAuthenticator(b, secret)
	sum := hashWith(b, &reqAuth, secret)
	copy(b[4:20], sum[:])
	copy(p.Authenticator[:], sum[:])
	return b, nil
}

// hashWith is MD5 of b with auth (nil: 16 zero octets) in the
// authenticator field, then secret.
func hashWith(b []byte, auth *[16]byte, secret []byte) [16]byte {
	h := md5.New()
	h.Write(b[:4])
	if auth != nil {
		h.Write(auth[:])
	} else {
		h.Write(make([]byte, 16))
	}
	h.Write(b[20:])
	h.Write(secret)
	var sum [16]byte
	h.Sum(sum[:0])
	return sum
}

// VerifyReply checks raw, a reply to a request with authenticator reqAuth,
// by its Response Authenticator, and by its Message-Authenticator when it
// has one. hasMA says whether it had one, for require_message_authenticator.
func VerifyReply(raw []byte, reqAuth [16]byte, secret []byte) (p *Packet, hasMA bool, err error) {
	p, err = Parse(raw)
	if err != nil {
		return nil, false, err
	}
	n := binary.BigEndian.Uint16(raw[2:4])
	raw = raw[:n]
	want := hashWith(raw, &reqAuth, secret)
	if subtle.ConstantTimeCompare(want[:], raw[4:20]) != 1 {
		return nil, false, fmt.Errorf("radius: %s: wrong Response Authenticator", p.Code)
	}
	hasMA, err = checkMessageAuthenticator(p, raw, &reqAuth, secret)
	return p, hasMA, err
}

// VerifyRequest checks raw, an Accounting-, CoA- or Disconnect-Request, by
// its Request Authenticator (RFC 2866 §3, RFC 5176 §2.3) and its
// Message-Authenticator when it has one (RFC 5176 §3.4: computed with the
// authenticator field zeroed).
func VerifyRequest(raw []byte, secret []byte) (*Packet, error) {
	p, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	switch p.Code {
	case CodeAccountingRequest, CodeDisconnectRequest, CodeCoARequest:
	default:
		return nil, fmt.Errorf("radius: %s is not an Accounting, CoA or Disconnect request", p.Code)
	}
	raw = raw[:binary.BigEndian.Uint16(raw[2:4])]
	want := hashWith(raw, nil, secret)
	if subtle.ConstantTimeCompare(want[:], raw[4:20]) != 1 {
		return nil, fmt.Errorf("radius: %s: wrong Request Authenticator", p.Code)
	}
	var zero [16]byte
	if _, err := checkMessageAuthenticator(p, raw, &zero, secret); err != nil {
		return nil, err
	}
	return p, nil
}

// signMessageAuthenticator fills in the Message-Authenticator of b, when b
// has one, per RFC 3579 §3.2: HMAC-MD5 keyed with the secret over the
// whole packet with the attribute's value zeroed, as b's authenticator
// field holds it now.
func signMessageAuthenticator(b, secret []byte) {
	off := maOffset(b)
	if off < 0 {
		return
	}
	clear(b[off : off+16])
	m := hmac.New(md5.New, secret)
	m.Write(b)
	m.Sum(b[off:off])
}

// checkMessageAuthenticator verifies the Message-Authenticator of p, whose
// wire form is raw, computed with auth in the authenticator field. A
// packet without one passes (the caller decides whether it must have
// one); one with a wrong value, a value that is not 16 octets or two of
// them does not (RFC 3579 §3.2).
func checkMessageAuthenticator(p *Packet, raw []byte, auth *[16]byte, secret []byte) (bool, error) {
	n := 0
	for _, a := range p.Attrs {
		if a.Type == AttrMessageAuthenticator {
			n++
			if len(a.Value) != 16 {
				return true, fmt.Errorf("radius: %s: Message-Authenticator of %d octets", p.Code, len(a.Value))
			}
		}
	}
	switch {
	case n == 0:
		return false, nil
	case n > 1:
		return true, fmt.Errorf("radius: %s: %d Message-Authenticators", p.Code, n)
	}
	off := maOffset(raw)
	b := make([]byte, len(raw))
	copy(b, raw)
	copy(b[4:20], auth[:])
	clear(b[off : off+16])
	m := hmac.New(md5.New, secret)
	m.Write(b)
	if !hmac.Equal(m.Sum(nil), raw[off:off+16]) {
		return true, fmt.Errorf("radius: %s: wrong Message-Authenticator", p.Code)
	}
	return true, nil
}

// maOffset is the offset of the value of b's first Message-Authenticator
// of 16 octets, or -1. b is a packet that encode made or Parse accepted.
func maOffset(b []byte) int {
	for i := headerLen; i+2 <= len(b) && b[i+1] >= 2; i += int(b[i+1]) {
		if b[i] == AttrMessageAuthenticator && b[i+1] == 18 && i+18 <= len(b) {
			return i + 2
		}
	}
	return -1
}

// HidePassword hides a User-Password per RFC 2865 §5.2: padded with zeros
// to a multiple of 16 octets, each 16 XORed with MD5(secret + the previous
// 16 of the result), the first with MD5(secret + Request Authenticator).
// Passwords longer than 128 octets are refused, as the RFC bounds them.
func HidePassword(pw, secret []byte, reqAuth [16]byte) ([]byte, error) {
	if len(pw) > 128 {
		return nil, errors.New("radius: User-Password longer than 128 octets")
	}
	n := (len(pw) + 15) / 16 * 16
	if n == 0 {
		n = 16
	}
	out := make([]byte, n)
	copy(out, pw)
	prev := reqAuth[:]
	for i := 0; i < n; i += 16 {
		h := md5.New()
		h.Write(secret)
		h.Write(prev)
		sum := h.Sum(nil)
		for j := range 16 {
			out[i+j] ^= sum[j]
		}
		prev = out[i : i+16]
	}
	return out, nil
}
