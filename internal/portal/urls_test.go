package portal

import (
	"net/netip"
	"testing"
)

func TestVoucherURL(t *testing.T) {
	addr := netip.MustParseAddr("10.77.0.1")
	for _, tc := range []struct {
		name string
		u    URLs
		code string
		want string
	}{
		{"http", NewURLs(addr, 80, "portal.lobby", 443, false), "ABCDE-FGHJK", "http://10.77.0.1/?voucher=ABCDE-FGHJK"},
		{"http port", NewURLs(addr, 8000, "portal.lobby", 443, false), "ABCDE-FGHJK", "http://10.77.0.1:8000/?voucher=ABCDE-FGHJK"},
		{"tls", NewURLs(addr, 80, "Portal.Lobby", 8443, true), "ABCDE-FGHJK", "https://portal.lobby:8443/?voucher=ABCDE-FGHJK"},
		{"escaped", NewURLs(addr, 80, "", 443, false), "a b&c", "http://10.77.0.1/?voucher=a+b%26c"},
	} {
		if got := tc.u.Voucher(tc.code); got != tc.want {
			t.Errorf("%s: Voucher(%q) = %q, want %q", tc.name, tc.code, got, tc.want)
		}
	}
}
