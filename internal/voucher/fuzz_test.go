package voucher

import (
	"strings"
	"testing"
	"unicode"
)

// FuzzParse feeds Parse what a guest (or anything posting to the portal)
// may type. Parse must not panic; a code it accepts must be the input's
// symbols, upper-cased, with spaces and dashes gone, and must come back
// unchanged from its shown and stored forms.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"ABCDE-FGHJK", "abcdefghjk", " ab cd-ef\u2013gh jk ", "ABCDE-FGHJO", "", "-----",
		"ZZZZZZZZZZ", "2222222222", "\xff\xfe", strings.Repeat("A", 64), "ABCDE\u00a0FGHJK",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c, err := Parse(in)
		if err != nil {
			return
		}
		var norm strings.Builder
		for _, r := range in {
			if isDash(r) || unicode.IsSpace(r) {
				continue
			}
			norm.WriteRune(unicode.ToUpper(r))
		}
		if norm.String() != c.Key() {
			t.Fatalf("Parse(%q) = %s, but the input's symbols are %q", in, c, norm.String())
		}
		for _, form := range []string{c.String(), c.Key(), strings.ToLower(c.String())} {
			back, err := Parse(form)
			if err != nil || back != c {
				t.Fatalf("Parse(%q) = %v, %v; want %s", form, back, err, c)
			}
		}
		if c>>codeBits != 0 {
			t.Fatalf("Parse(%q) = %#x: more than %d bits", in, uint64(c), codeBits)
		}
	})
}
