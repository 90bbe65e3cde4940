package radius

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/lobby-fw/lobby/internal/session"
)

func TestStationID(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 0xc1}
	if got := StationID(mac); got != "02-00-00-00-00-C1" {
		t.Errorf("StationID = %q, want 02-00-00-00-00-C1 (RFC 3580 §3.21)", got)
	}
	for _, s := range []string{"02-00-00-00-00-C1", "02-00-00-00-00-c1", "02:00:00:00:00:c1", "020000.0000c1", "0200000000C1"} {
		if got, ok := ParseStationID(s); !ok || !bytes.Equal(got, mac) {
			t.Errorf("ParseStationID(%q) = %v, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "02-00-00-00-00", "02-00-00-00-00-C1-00", "02-00-00-00-00-G1", "nemo"} {
		if got, ok := ParseStationID(s); ok {
			t.Errorf("ParseStationID(%q) = %v, want none", s, got)
		}
	}
}

// TestOctets: past 4 GiB the count wraps into Gigawords (RFC 2869 §5.1).
func TestOctets(t *testing.T) {
	tests := []struct {
		n          uint64
		octets, gw uint32
	}{
		{0, 0, 0},
		{1<<32 - 1, 1<<32 - 1, 0},
		{1 << 32, 0, 1},
		{5<<32 + 1234, 1234, 5},
		{10_000_000_000, 1_410_065_408, 2},
	}
	for _, tt := range tests {
		o, g := Octets(tt.n)
		if o != tt.octets || g != tt.gw {
			t.Errorf("Octets(%d) = %d, %d; want %d, %d", tt.n, o, g, tt.octets, tt.gw)
		}
		if uint64(g)<<32|uint64(o) != tt.n {
			t.Errorf("Octets(%d) does not add up", tt.n)
		}
	}
}

// TestTerminateCause is SPEC §7's table, over every reason the session
// table has.
func TestTerminateCause(t *testing.T) {
	want := map[string]uint32{
		"logout": 1, "idle": 4, "timeout": 5, "quota": 5,
		"admin": 6, "revoked": 6, "blocked": 6, "radius": 6,
	}
	n := 0
	for r := session.Reason(1); !strings.HasPrefix(r.String(), "Reason("); r++ {
		cause, ok := want[r.String()]
		if !ok {
			t.Errorf("reason %s is not in SPEC §7's table", r)
			continue
		}
		n++
		if got := TerminateCause(r); got != cause {
			t.Errorf("TerminateCause(%s) = %d, want %d", r, got, cause)
		}
	}
	if n != len(want) {
		t.Errorf("%d of SPEC §7's %d reasons are session.Reasons", n, len(want))
	}
}

// TestVSA: the layout of RFC 2865 §5.26 — vendor id, vendor type, vendor
// length counting itself and the type — and reading several vendor
// attributes from one Vendor-Specific, and skipping a broken one.
func TestVSA(t *testing.T) {
	got := VSA(VendorWISPr, WISPrBandwidthMaxDown, Uint32(2_000_000))
	want := []byte{0, 0, 0x37, 0x2a, 8, 6, 0, 0x1e, 0x84, 0x80}
	if !bytes.Equal(got, want) {
		t.Errorf("VSA = % x, want % x", got, want)
	}
	p := &Packet{}
	two := append(VSA(VendorChilliSpot, ChilliSpotBandwidthMaxUp, Uint32(512)), ChilliSpotBandwidthMaxDown, 6, 0, 0, 8, 0)
	p.Add(AttrVendorSpecific, two)
	p.Add(AttrVendorSpecific, []byte{0, 0, 0x38, 0xdf, 3, 7, 0, 0}) // vendor length past its end
	p.Add(AttrVendorSpecific, []byte{0, 0, 0x38})                   // shorter than a vendor id
	var seen []uint8
	vendorAttrs(p, func(vendor uint32, typ uint8, v []byte) {
		if vendor != VendorChilliSpot || len(v) != 4 {
			t.Errorf("vendor %d type %d value % x", vendor, typ, v)
		}
		seen = append(seen, typ)
	})
	if !bytes.Equal(seen, []byte{ChilliSpotBandwidthMaxUp, ChilliSpotBandwidthMaxDown}) {
		t.Errorf("vendor attributes read: %v", seen)
	}
}
