// Package checksum is the Internet checksum (RFC 1071) that Lobby's
// hand-built IPv4, UDP and TCP headers carry: the DHCP server's layer-2
// replies and the raw 511 responder's segments.
package checksum

import "encoding/binary"

// Sum adds b to acc as a sequence of 16-bit big-endian words, the last byte
// padded with zero (RFC 1071 §1). acc carries the sum of earlier words,
// unfolded, so a pseudo-header and a segment can be summed in turn; it
// cannot overflow for any packet.
func Sum(acc uint64, b []byte) uint64 {
	for len(b) >= 8 {
		w := binary.BigEndian.Uint64(b)
		acc += w>>48 + w>>32&0xffff + w>>16&0xffff + w&0xffff
		b = b[8:]
	}
	for len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return acc
}

// Fold reduces a sum of 16-bit words to their one's complement sum, adding
// the carries back in (RFC 1071 §1); the checksum field holds its
// complement, ^Fold(…).
func Fold(acc uint64) uint16 {
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}
