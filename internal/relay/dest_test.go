package relay

import (
	"errors"
	"net"
	"net/netip"
	"testing"
)

func TestPermit(t *testing.T) {
	// The router of the lab: LAN 10.77.0.1/24, WAN 192.0.2.1/24, and a
	// public /29 on a second LAN (as a venue with its own addresses has).
	local := []netip.Prefix{
		netip.MustParsePrefix("10.77.0.1/24"),
		netip.MustParsePrefix("192.0.2.1/24"),
		netip.MustParsePrefix("203.0.113.9/29"),
		netip.MustParsePrefix("2001:db8:2::1/64"),
	}
	tests := []struct {
		dst  string
		port uint16
		ok   bool
	}{
		// Public unicast, on the listener's port: the only yes.
		{"198.51.100.10:80", 80, true},
		{"198.51.100.10:443", 443, true},
		{"8.8.8.8:443", 443, true},
		{"1.1.1.1:80", 80, true},
		{"203.0.113.20:80", 80, true}, // documentation range, not attached: the lab's internet
		{"[2606:4700::1]:443", 443, true},
		{"[64:ff9b::808:808]:80", 80, true},     // NAT64 of 8.8.8.8
		{"[2002:808:808::1]:80", 80, true},      // 6to4 of 8.8.8.8
		{"[::ffff:198.51.100.10]:80", 80, true}, // IPv4-mapped: the IPv4 address decides
		// Any other port, even of a public address.
		{"198.51.100.10:5000", 80, false},
		{"198.51.100.10:22", 443, false},
		{"198.51.100.10:443", 80, false},
		{"198.51.100.10:80", 443, false},
		// The router's own addresses and attached subnets.
		{"10.77.0.1:80", 80, false},
		{"10.77.0.99:80", 80, false},
		{"192.0.2.1:80", 80, false},
		{"192.0.2.254:443", 443, false},
		{"203.0.113.10:80", 80, false}, // in the attached public /29
		{"[2001:db8:2::99]:80", 80, false},
		{"[::ffff:192.0.2.1]:80", 80, false},
		// Private, shared, loopback, link-local and the rest.
		{"192.168.1.50:80", 80, false},
		{"10.1.2.3:443", 443, false},
		{"172.16.0.1:80", 80, false},
		{"172.31.255.255:80", 80, false},
		{"100.64.0.1:80", 80, false},
		{"100.127.255.254:80", 80, false},
		{"127.0.0.1:80", 80, false},
		{"127.1.2.3:80", 80, false},
		{"169.254.169.254:80", 80, false}, // a cloud's metadata service
		{"0.0.0.0:80", 80, false},
		{"0.1.2.3:80", 80, false},
		{"224.0.0.1:80", 80, false},
		{"239.255.255.250:80", 80, false},
		{"240.0.0.1:80", 80, false},
		{"255.255.255.255:80", 80, false},
		{"192.0.0.8:80", 80, false},
		{"192.88.99.1:80", 80, false},
		{"198.18.0.1:80", 80, false},
		{"198.19.255.255:80", 80, false},
		{"[::ffff:192.168.1.50]:80", 80, false},
		{"[::ffff:127.0.0.1]:80", 80, false},
		{"[::1]:80", 80, false},
		{"[::]:80", 80, false},
		{"[::192.168.1.50]:80", 80, false}, // IPv4-compatible (deprecated)
		{"[fe80::1]:80", 80, false},
		{"[fe80::1%eth0]:80", 80, false},
		{"[2001:db8::1%eth0]:80", 80, false}, // a zone: scoped, whatever the address
		{"[fd00::1]:80", 80, false},
		{"[fc00::1]:80", 80, false},
		{"[ff02::1]:80", 80, false},
		{"[100::1]:80", 80, false},             // discard-only
		{"[2001::1]:80", 80, false},            // Teredo
		{"[2001:2::1]:80", 80, false},          // benchmarking
		{"[64:ff9b::c0a8:132]:80", 80, false},  // NAT64 of 192.168.1.50
		{"[64:ff9b::a4d:1]:80", 80, false},     // NAT64 of the LAN's 10.77.0.1
		{"[64:ff9b:1::808:808]:80", 80, false}, // local-use NAT64
		{"[2002:c0a8:132::1]:80", 80, false},   // 6to4 of 192.168.1.50
		{"[2002:7f00:1::1]:80", 80, false},     // 6to4 of loopback
		{"[5f00::1]:80", 80, false},            // SRv6 SID
		{"[::ffff:169.254.169.254]:443", 443, false},
	}
	for _, tt := range tests {
		err := permit(netip.MustParseAddrPort(tt.dst), tt.port, local)
		if (err == nil) != tt.ok {
			t.Errorf("permit(%s, port %d) = %v, want ok=%v", tt.dst, tt.port, err, tt.ok)
		}
		if err != nil && !errors.Is(err, errRefused) {
			t.Errorf("permit(%s): %v does not wrap errRefused", tt.dst, err)
		}
	}
}

// The netlink dump agrees with the standard library's list of this
// machine's addresses: every one of them is refused.
func TestLocalPrefixes(t *testing.T) {
	got4, err := localPrefixes(false)
	if err != nil {
		t.Fatal(err)
	}
	got6, err := localPrefixes(true)
	if err != nil {
		t.Fatal(err)
	}
	got := append(got4, got6...)
	for _, p := range got4 {
		if !p.Addr().Is4() {
			t.Errorf("%v in the IPv4 dump", p)
		}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		n := a.(*net.IPNet)
		ip, _ := netip.AddrFromSlice(n.IP)
		ones, _ := n.Mask.Size()
		want := netip.PrefixFrom(ip.Unmap(), ones).Masked()
		found := false
		for _, p := range got {
			found = found || p == want
		}
		if !found {
			t.Errorf("%v missing from %v", want, got)
		}
		if ip.Unmap().Is4() {
			if err := destPermitted(netip.AddrPortFrom(ip.Unmap(), 80), 80); err == nil {
				t.Errorf("the machine's own %v is permitted", ip)
			}
		}
	}
}

// What the check costs per connection the relay opens: one netlink dump
// and the prefix tests.
func BenchmarkDestPermitted(b *testing.B) {
	dst := netip.MustParseAddrPort("198.51.100.10:443")
	for b.Loop() {
		destPermitted(dst, 443)
	}
}

func FuzzPermit(f *testing.F) {
	f.Add([]byte{192, 168, 1, 50}, uint16(80))
	f.Add([]byte{0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 10, 77, 0, 1}, uint16(443))
	local := []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
	f.Fuzz(func(t *testing.T, ip []byte, port uint16) {
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			return
		}
		err := permit(netip.AddrPortFrom(a, port), 443, local)
		if err != nil {
			return
		}
		// Whatever passes is public by every test the standard library
		// has, and none of ours.
		u := a.Unmap()
		if port != 443 || u.IsPrivate() || u.IsLoopback() || u.IsLinkLocalUnicast() || u.IsMulticast() ||
			u.IsUnspecified() || u.IsInterfaceLocalMulticast() || local[0].Contains(u) {
			t.Errorf("permitted %v port %d", a, port)
		}
	})
}
