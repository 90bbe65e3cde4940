package voucher

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	tests := []struct {
		name    string
		entropy []byte
		want    string
	}{
		{"all zero bits", []byte{0, 0, 0, 0, 0, 0, 0, 0}, "22222-22222"},
		{"all one bits", bytes.Repeat([]byte{0xff}, 8), "ZZZZZ-ZZZZZ"},
		// Symbols 0..9, 5 bits each from the top: 00000 00001 00010 …
		{"ascending", []byte{0x00, 0x44, 0x32, 0x14, 0xc7, 0x42, 0x40, 0x00}, "23456-789AB"},
		// The low 14 bits are not used.
		{"low bits ignored", []byte{0x00, 0x44, 0x32, 0x14, 0xc7, 0x42, 0x7f, 0xff}, "23456-789AB"},
		{"descending from 31", []byte{0xff, 0xbb, 0xcd, 0xeb, 0x38, 0xbd, 0x80, 0x00}, "ZYXWV-UTSRQ"},
		// The first symbol is the top 5 bits of the first byte.
		{"first symbol 1", []byte{0x08, 0, 0, 0, 0, 0, 0, 0}, "32222-22222"},
		{"first symbol 30", []byte{0xf0, 0, 0, 0, 0, 0, 0, 0}, "Y2222-22222"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bytes.NewReader(append(tt.entropy, 0xaa)) // one byte more than needed
			c, err := Generate(r)
			if err != nil {
				t.Fatal(err)
			}
			if c.String() != tt.want {
				t.Errorf("Generate(% x) = %s, want %s", tt.entropy, c, tt.want)
			}
			if r.Len() != 1 {
				t.Errorf("Generate read %d bytes, want 8", 9-r.Len())
			}
		})
	}
}

// TestGenerateEverySymbol checks that each of the 32 values of every
// position's 5 bits gives its own symbol: the mapping is a bijection, so a
// uniform source gives uniform symbols.
func TestGenerateEverySymbol(t *testing.T) {
	for pos := range Length {
		seen := map[byte]bool{}
		for k := range uint64(32) {
			var b [8]byte
			v := k << (64 - 5*(pos+1))
			for i := range b {
				b[i] = byte(v >> (56 - 8*i))
			}
			c, err := Generate(bytes.NewReader(b[:]))
			if err != nil {
				t.Fatal(err)
			}
			key := c.Key()
			if key[pos] != Alphabet[k] {
				t.Fatalf("position %d value %d: symbol %q, want %q", pos, k, key[pos], Alphabet[k])
			}
			if strings.Count(key, "2") != Length-1 && k != 0 {
				t.Fatalf("position %d value %d: other symbols changed: %s", pos, k, key)
			}
			seen[key[pos]] = true
		}
		if len(seen) != 32 {
			t.Fatalf("position %d: %d distinct symbols, want 32", pos, len(seen))
		}
	}
}

func TestGenerateShortRead(t *testing.T) {
	if _, err := Generate(bytes.NewReader([]byte{1, 2, 3})); err == nil {
		t.Fatal("Generate with 3 bytes of entropy succeeded")
	}
}

func TestAlphabet(t *testing.T) {
	if len(Alphabet) != 1<<bitsPerSymbol {
		t.Fatalf("alphabet has %d symbols, want %d", len(Alphabet), 1<<bitsPerSymbol)
	}
	for _, r := range "01IO" {
		if strings.ContainsRune(Alphabet, r) {
			t.Errorf("alphabet contains look-alike %q", r)
		}
	}
	seen := map[rune]bool{}
	for _, r := range Alphabet {
		if seen[r] {
			t.Errorf("symbol %q twice", r)
		}
		seen[r] = true
	}
}

func TestParse(t *testing.T) {
	const want = "ABCDE-FGHJK"
	good := []string{
		"ABCDE-FGHJK",
		"ABCDEFGHJK",
		"abcde-fghjk",
		"aBcDe fGhJk",
		"  abcde  fghjk \n",
		"AB-CD-EF-GH-JK",
		"ABCDE\u2013FGHJK", // en dash, as iOS "smart punctuation" types it
		"ABCDE\u2014FGHJK", // em dash
		"ABCDE\u00a0FGHJK", // no-break space
		"ABCDE\tFGHJK",
		"A B C D E F G H J K",
	}
	for _, in := range good {
		c, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if c.String() != want {
			t.Errorf("Parse(%q) = %s, want %s", in, c, want)
		}
	}

	bad := []struct {
		in, msg string
	}{
		{"", "this has 0"},
		{"ABCDE-FGHJ", "this has 9"},
		{"ABCDE-FGHJKL", "this has 11"},
		{"ABCDE-FGHJO", "never contain O, 0, I or 1"},
		{"ABCDE-FGHJ0", "never contain O, 0, I or 1"},
		{"abcde-fghji", "never contain O, 0, I or 1"},
		{"1BCDE-FGHJK", "never contain O, 0, I or 1"},
		{"ABCDE_FGHJK", "neither"},
		{"ABCDE.FGHJK", "neither"},
		{"ÄBCDE-FGHJK", "neither"},
		{"ABCDE-FGHJ\xff", "only letters and digits"},
		{strings.Repeat("A", 65), "far longer"},
	}
	for _, tt := range bad {
		_, err := Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q) succeeded", tt.in)
			continue
		}
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, not ErrSyntax", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Parse(%q) = %q, want it to say %q", tt.in, err, tt.msg)
		}
	}
}

func TestCodeText(t *testing.T) {
	c, err := Parse("zyxwv-23456")
	if err != nil {
		t.Fatal(err)
	}
	if c.Key() != "ZYXWV23456" {
		t.Errorf("Key = %s", c.Key())
	}
	b, err := json.Marshal(map[string]Code{"code": c})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"code":"ZYXWV-23456"}` {
		t.Errorf("JSON = %s", b)
	}
	var back map[string]Code
	if err := json.Unmarshal(b, &back); err != nil || back["code"] != c {
		t.Errorf("JSON round trip: %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"code":"ZYXWV-2345O"}`), &back); err == nil {
		t.Error("JSON with a look-alike accepted")
	}
}
