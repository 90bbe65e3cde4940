package checksum

import (
	"bytes"
	"testing"
)

// naive is RFC 1071's reference loop, one 16-bit word at a time.
func naive(b []byte) uint16 {
	var acc uint32
	for i := 0; i+1 < len(b); i += 2 {
		acc += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		acc += uint32(b[len(b)-1]) << 8
	}
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}

func TestSum(t *testing.T) {
	b := make([]byte, 70)
	for i := range b {
		b[i] = byte(i*37 + 11)
	}
	ones := bytes.Repeat([]byte{0xff}, 70)
	for n := range len(b) + 1 {
		for _, d := range [][]byte{b[:n], b[70-n:], ones[:n]} {
			if got, want := Fold(Sum(0, d)), naive(d); got != want {
				t.Errorf("%d bytes %x: sum %#04x, want %#04x", n, d, got, want)
			}
		}
	}
	// RFC 1071 §3's example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
	if got := Fold(Sum(0, []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7})); got != 0xddf2 {
		t.Errorf("RFC 1071 example: %#04x, want 0xddf2", got)
	}
	// Summing in pieces of even length equals summing at once.
	if Fold(Sum(Sum(0, b[:20]), b[20:])) != Fold(Sum(0, b)) {
		t.Error("piecewise sum differs")
	}
}
