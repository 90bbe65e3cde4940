package voucher

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"
)

// Alphabet is the 32 symbols of a code (SPEC §3): digits and capital
// letters without 0, 1, I and O, which read too much like each other.
const Alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

// Length is the number of symbols in a code: 10 × 5 bits = 50 bits, about
// 10^15 codes, so that guessing one of even 100,000 issued codes takes some
// 10^10 tries on average.
const Length = 10

const (
	bitsPerSymbol = 5 // log2(len(Alphabet))
	codeBits      = Length * bitsPerSymbol
	symbolMask    = 1<<bitsPerSymbol - 1

	// maxInput bounds what Parse reads: a code with a space or a dash
	// between every symbol is well inside it, and a client cannot make
	// the portal walk a megabyte.
	maxInput = 64
)

// symbolValue maps an upper-case ASCII byte to its index in Alphabet, or -1.
var symbolValue = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(Alphabet); i++ {
		t[Alphabet[i]] = int8(i)
	}
	return t
}()

// Code is a voucher code: 10 symbols of Alphabet, 5 bits each, the first
// symbol in the highest bits (49-45). Packed in an integer, 100,000 codes
// cost 8 bytes of key each instead of a string's 26.
type Code uint64

// String is the code as it is shown and printed: ABCDE-FGHJK.
func (c Code) String() string {
	var b [Length + 1]byte
	c.appendTo(b[:0], true)
	return string(b[:])
}

// Key is the code without its dash, as the store files it: ABCDEFGHJK.
func (c Code) Key() string {
	var b [Length]byte
	c.appendTo(b[:0], false)
	return string(b[:])
}

func (c Code) appendTo(dst []byte, dash bool) []byte {
	for i := range Length {
		if dash && i == Length/2 {
			dst = append(dst, '-')
		}
		shift := bitsPerSymbol * (Length - 1 - i)
		dst = append(dst, Alphabet[(uint64(c)>>shift)&symbolMask])
	}
	return dst
}

// MarshalText writes the code as String does, so that JSON shows
// "ABCDE-FGHJK" rather than a number.
func (c Code) MarshalText() ([]byte, error) {
	return c.appendTo(make([]byte, 0, Length+1), true), nil
}

// UnmarshalText reads a code as Parse does.
func (c *Code) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Generate draws a code from r, which must be a cryptographic random source
// (crypto/rand.Reader; tests inject their own). It reads 8 bytes and keeps
// the top 50 bits, 5 per symbol: 32 symbols are exactly 5 bits, so every
// symbol is equally likely, with none of the bias that taking a random
// number modulo the alphabet's size would have.
func Generate(r io.Reader) (Code, error) {
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, fmt.Errorf("voucher: read random source: %w", err)
	}
	return Code(binary.BigEndian.Uint64(b[:]) >> (64 - codeBits)), nil
}

// ErrSyntax is wrapped by every error of Parse, so that a caller can tell
// "not a code at all" from other failures.
var ErrSyntax = errors.New("not a voucher code")

// syntaxError is what Parse returns: a sentence a guest can act on.
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }
func (e *syntaxError) Unwrap() error { return ErrSyntax }

// Parse reads a code as a guest types it: case, spaces and dashes do not
// matter ("abcde fghjk", "ABCDE-FGHJK" and "abcdefghjk" are one code).
// Besides the ASCII hyphen, the other Unicode dashes count as dashes, since
// phone keyboards "smart"-replace hyphens, and any Unicode space as a
// space.
//
// Look-alikes are refused, not mapped. Alphabet has none of O, 0, I and 1,
// so a guest who types one of them misread some other symbol, and which one
// (D or Q for O? L, J or 7 for 1?) cannot be known: mapping would turn a
// typo into a wrong code, which counts against the device's guessing limit,
// whereas refusing lets the page say exactly what to check. Neither choice
// helps a guesser.
func Parse(s string) (Code, error) {
	if len(s) > maxInput {
		return 0, &syntaxError{fmt.Sprintf("a code has %d characters, like ABCDE-FGHJK; this is far longer", Length)}
	}
	var c Code
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == utf8.RuneError && size == 1 {
			return 0, &syntaxError{"a code has only letters and digits, like ABCDE-FGHJK"}
		}
		if isDash(r) || unicode.IsSpace(r) {
			continue
		}
		if r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		if r >= utf8.RuneSelf || symbolValue[r] < 0 {
			switch r {
			case 'O', '0', 'I', '1':
				return 0, &syntaxError{fmt.Sprintf("codes never contain O, 0, I or 1; check the character %q (symbol %d)", r, n+1)}
			}
			return 0, &syntaxError{fmt.Sprintf("a code has only letters and digits, like ABCDE-FGHJK; %q is neither", r)}
		}
		n++
		if n > Length {
			continue // counted for the message below
		}
		c = c<<bitsPerSymbol | Code(symbolValue[r])
	}
	if n != Length {
		return 0, &syntaxError{fmt.Sprintf("a code has %d letters and digits, like ABCDE-FGHJK; this has %d", Length, n)}
	}
	return c, nil
}

// isDash reports whether r is a hyphen or dash: ASCII '-', U+2010-U+2015
// (hyphen to horizontal bar), the minus sign, and the small and full-width
// hyphen-minus.
func isDash(r rune) bool {
	switch {
	case r == '-', r >= 0x2010 && r <= 0x2015, r == 0x2212, r == 0xFE63, r == 0xFF0D:
		return true
	}
	return false
}
