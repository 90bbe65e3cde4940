package shaper

import (
	"encoding/binary"
	"testing"
)

// TestFQCodelOptions checks the encoding of a client's fq_codel against the
// kernel's ABI, include/uapi/linux/pkt_sched.h: TCA_OPTIONS (2) nests
// TCA_FQ_CODEL_LIMIT (2), TCA_FQ_CODEL_FLOWS (5) and
// TCA_FQ_CODEL_MEMORY_LIMIT (9), each a u32 (the kernel's fq_codel_policy
// refuses other sizes). This machine's kernel has no fq_codel to ask, so
// the numbers here are read from the header, not from tcnl.go.
func TestFQCodelOptions(t *testing.T) {
	b := fqCodelOptions().Serialize()
	if typ := binary.NativeEndian.Uint16(b[2:]); typ != 2 {
		t.Fatalf("outer attribute %d, want TCA_OPTIONS (2)", typ)
	}
	if n := binary.NativeEndian.Uint16(b[0:]); int(n) != len(b) {
		t.Fatalf("outer length %d of %d bytes", n, len(b))
	}
	got := map[uint16]uint32{}
	for rest := b[4:]; len(rest) > 0; {
		if len(rest) < 4 {
			t.Fatalf("%d bytes left over", len(rest))
		}
		n, typ := binary.NativeEndian.Uint16(rest[0:]), binary.NativeEndian.Uint16(rest[2:])
		if n != 8 {
			t.Fatalf("attribute %d is %d bytes; every fq_codel option is a u32 (8 with its header)", typ, n)
		}
		if _, dup := got[typ]; dup {
			t.Fatalf("attribute %d twice", typ)
		}
		got[typ] = binary.NativeEndian.Uint32(rest[4:])
		rest = rest[n:]
	}
	want := []struct {
		name string
		typ  uint16
		val  uint32
	}{
		{"TCA_FQ_CODEL_LIMIT", 2, 1000},
		{"TCA_FQ_CODEL_FLOWS", 5, 64},
		{"TCA_FQ_CODEL_MEMORY_LIMIT", 9, 4 << 20},
	}
	for _, w := range want {
		if v, ok := got[w.typ]; !ok || v != w.val {
			t.Errorf("%s (%d): %d (present %v), want %d", w.name, w.typ, v, ok, w.val)
		}
		delete(got, w.typ)
	}
	if len(got) > 0 {
		t.Errorf("attributes left that the leaf should not set: %v", got)
	}
}
