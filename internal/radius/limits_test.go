package radius

import (
	"reflect"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/session"
)

// TestParseLimits: an Access-Accept's attributes → the session's limits
// (SPEC §7).
func TestParseLimits(t *testing.T) {
	vsa := func(vendor uint32, typ uint8, v uint32) Attr {
		return Attr{AttrVendorSpecific, VSA(vendor, typ, Uint32(v))}
	}
	tests := []struct {
		name  string
		attrs []Attr
		want  Limits
	}{
		{"nothing", nil, Limits{}},
		{"timeouts", []Attr{{AttrSessionTimeout, Uint32(3600)}, {AttrIdleTimeout, Uint32(600)}},
			Limits{Limits: session.Limits{SessionTimeout: time.Hour, IdleTimeout: 10 * time.Minute, Given: session.GivenSessionTimeout | session.GivenIdleTimeout}}},
		{"a zero timeout is given: none", []Attr{{AttrSessionTimeout, Uint32(0)}},
			Limits{Limits: session.Limits{Given: session.GivenSessionTimeout}}},
		{"WISPr rates in bit/s", []Attr{vsa(VendorWISPr, WISPrBandwidthMaxDown, 2_000_000), vsa(VendorWISPr, WISPrBandwidthMaxUp, 512_000)},
			Limits{Limits: session.Limits{DownloadRate: 2_000_000, UploadRate: 512_000, Given: session.GivenDownloadRate | session.GivenUploadRate}}},
		{"ChilliSpot rates in kbit/s", []Attr{vsa(VendorChilliSpot, ChilliSpotBandwidthMaxDown, 2000), vsa(VendorChilliSpot, ChilliSpotBandwidthMaxUp, 512)},
			Limits{Limits: session.Limits{DownloadRate: 2_000_000, UploadRate: 512_000, Given: session.GivenDownloadRate | session.GivenUploadRate}}},
		{"WISPr wins over ChilliSpot", []Attr{vsa(VendorChilliSpot, ChilliSpotBandwidthMaxDown, 1000), vsa(VendorWISPr, WISPrBandwidthMaxDown, 3_000_000)},
			Limits{Limits: session.Limits{DownloadRate: 3_000_000, Given: session.GivenDownloadRate}}},
		{"quota in octets", []Attr{vsa(VendorChilliSpot, ChilliSpotMaxTotalOctets, 300_000_000)},
			Limits{Limits: session.Limits{Quota: 300_000_000, Given: session.GivenQuota}}},
		{"quota past 4 GiB", []Attr{vsa(VendorChilliSpot, ChilliSpotMaxTotalOctets, 705_032_704), vsa(VendorChilliSpot, ChilliSpotMaxTotalGigawords, 2)},
			Limits{Limits: session.Limits{Quota: 9_294_967_296, Given: session.GivenQuota}}},
		{"gigawords alone", []Attr{vsa(VendorChilliSpot, ChilliSpotMaxTotalGigawords, 1)},
			Limits{Limits: session.Limits{Quota: 1 << 32, Given: session.GivenQuota}}},
		{"interim interval", []Attr{{AttrAcctInterimInterval, Uint32(300)}},
			Limits{InterimInterval: 5 * time.Minute}},
		{"interim interval at least 60 s", []Attr{{AttrAcctInterimInterval, Uint32(5)}},
			Limits{InterimInterval: time.Minute}},
		{"classes kept in order", []Attr{{AttrClass, []byte("a")}, {AttrClass, []byte("b")}},
			Limits{Class: [][]byte{[]byte("a"), []byte("b")}}},
		{"wrong lengths ignored", []Attr{{AttrSessionTimeout, []byte{1, 2}}, {AttrVendorSpecific, VSA(VendorWISPr, WISPrBandwidthMaxDown, []byte{1})}},
			Limits{}},
		{"other vendors ignored", []Attr{vsa(9, 8, 1000)}, Limits{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseLimits(&Packet{Code: CodeAccessAccept, Attrs: tt.attrs})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
