package firewall

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// elemMsg encodes the attributes of an NFT_MSG_NEWSETELEM message as the
// kernel does: one list of elements, each with a key and its expressions.
type testElem struct {
	key   []byte
	exprs []string // expression names; "counter" ones carry bytes
	bytes uint64
	many  bool // NFTA_SET_ELEM_EXPRESSIONS instead of NFTA_SET_ELEM_EXPR
	short bool // a counter whose bytes take 4 bytes, not 8
}

func encodeExpr(ae *netlink.AttributeEncoder, name string, e testElem) {
	ae.String(unix.NFTA_EXPR_NAME, name)
	ae.Nested(unix.NFTA_EXPR_DATA, func(ae *netlink.AttributeEncoder) error {
		switch {
		case name == "counter" && e.short:
			ae.Uint32(unix.NFTA_COUNTER_BYTES, uint32(e.bytes))
		case name == "counter":
			ae.Bytes(unix.NFTA_COUNTER_BYTES, binary.BigEndian.AppendUint64(nil, e.bytes))
			ae.Bytes(unix.NFTA_COUNTER_PACKETS, binary.BigEndian.AppendUint64(nil, 1))
		}
		return nil
	})
}

func elemMsg(t testing.TB, elems []testElem) []byte {
	t.Helper()
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.NFTA_SET_ELEM_LIST_TABLE, "lobby")
	ae.String(unix.NFTA_SET_ELEM_LIST_SET, "auth")
	ae.Nested(unix.NFTA_SET_ELEM_LIST_ELEMENTS, func(ae *netlink.AttributeEncoder) error {
		for _, e := range elems {
			ae.Nested(unix.NFTA_LIST_ELEM, func(ae *netlink.AttributeEncoder) error {
				ae.Nested(unix.NFTA_SET_ELEM_KEY, func(ae *netlink.AttributeEncoder) error {
					ae.Bytes(unix.NFTA_DATA_VALUE, e.key)
					return nil
				})
				switch {
				case e.many:
					ae.Nested(nftSetElemExpressions, func(ae *netlink.AttributeEncoder) error {
						for _, x := range e.exprs {
							ae.Nested(unix.NFTA_LIST_ELEM, func(ae *netlink.AttributeEncoder) error {
								encodeExpr(ae, x, e)
								return nil
							})
						}
						return nil
					})
				case len(e.exprs) == 1:
					ae.Nested(unix.NFTA_SET_ELEM_EXPR, func(ae *netlink.AttributeEncoder) error {
						encodeExpr(ae, e.exprs[0], e)
						return nil
					})
				}
				return nil
			})
		}
		return nil
	})
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parsed(b []byte) (string, error) {
	var out []string
	err := parseSetElems(b, func(key []byte, n uint64) {
		out = append(out, fmt.Sprintf("%x=%d", key, n))
	})
	return strings.Join(out, " "), err
}

func TestParseSetElems(t *testing.T) {
	mac := []byte{2, 0, 0, 0, 1, 1, 0, 0} // ether_addr keys are padded to 8
	tests := []struct {
		name  string
		elems []testElem
		want  string
	}{
		{"none", nil, ""},
		{"one counter", []testElem{{key: mac, exprs: []string{"counter"}, bytes: 1500}}, "0200000001010000=1500"},
		{"no counter", []testElem{{key: mac}}, ""},
		{"other expression", []testElem{{key: mac, exprs: []string{"quota"}, bytes: 9}}, ""},
		{"expressions list", []testElem{{key: []byte{10, 77, 0, 11}, exprs: []string{"quota", "counter"}, bytes: 1<<64 - 1, many: true}}, "0a4d000b=18446744073709551615"},
		{"several", []testElem{
			{key: mac, exprs: []string{"counter"}, bytes: 1},
			{key: []byte{10, 77, 0, 12}},
			{key: []byte{10, 77, 0, 13}, exprs: []string{"counter"}, bytes: 2},
		}, "0200000001010000=1 0a4d000d=2"},
	}
	for _, tt := range tests {
		got, err := parsed(elemMsg(t, tt.elems))
		if err != nil || got != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestParseSetElemsBroken(t *testing.T) {
	whole := elemMsg(t, []testElem{{key: []byte{10, 77, 0, 11}, exprs: []string{"counter"}, bytes: 5}})
	// Cut anywhere inside the attribute that holds the elements: an error,
	// and no element with a counter read from a half.
	start := len(elemMsg(t, nil)) // table and set names, the empty list
	for n := start; n < len(whole); n++ {
		got, err := parsed(whole[:n])
		if err == nil && got != "" {
			t.Errorf("cut at %d of %d: %q without an error", n, len(whole), got)
		}
	}
	// A counter whose bytes are not 8 bytes long.
	short := elemMsg(t, []testElem{{key: []byte{10, 77, 0, 11}, exprs: []string{"counter"}, bytes: 5, short: true}})
	if got, err := parsed(short); err == nil {
		t.Errorf("a 4-byte counter: %q without an error", got)
	}
}

// FuzzParseSetElems: any message decodes without a panic, and every key
// reported lies inside the message.
func FuzzParseSetElems(f *testing.F) {
	f.Add(elemMsg(f, []testElem{{key: []byte{2, 0, 0, 0, 1, 1, 0, 0}, exprs: []string{"counter"}, bytes: 1500}}))
	f.Add(elemMsg(f, []testElem{{key: []byte{10, 77, 0, 11}, exprs: []string{"quota", "counter"}, bytes: 7, many: true}}))
	f.Add([]byte{4, 0, 3, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = parseSetElems(b, func(key []byte, _ uint64) {
			if !bytes.Contains(b, key) {
				t.Errorf("key %x is not in the message", key)
			}
		})
	})
}
