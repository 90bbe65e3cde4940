package hijack

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

func TestAppend(t *testing.T) {
	portal := netip.MustParseAddr("10.77.0.1")
	tests := []struct {
		qtype, qclass uint16
		wantA         bool
	}{
		{dns.TypeA, dns.ClassINET, true},
		{dns.TypeA, dns.ClassANY, true},
		{dns.TypeA, dns.ClassCHAOS, false},
		{dns.TypeAAAA, dns.ClassINET, false},
		// Types that carry data a tunnel could use, or addresses and hints
		// that lead round the portal.
		{dns.TypeTXT, dns.ClassINET, false},
		{dns.TypeNULL, dns.ClassINET, false},
		{dns.TypeMX, dns.ClassINET, false},
		{dns.TypeCNAME, dns.ClassINET, false},
		{dns.TypeHTTPS, dns.ClassINET, false},
		{dns.TypeSVCB, dns.ClassINET, false},
		{dns.TypeSRV, dns.ClassINET, false},
		{dns.TypeNS, dns.ClassINET, false},
		{dns.TypePTR, dns.ClassINET, false},
		{dns.TypeANY, dns.ClassINET, false},
		{dns.TypeKEY, dns.ClassINET, false},
		{65280, dns.ClassINET, false}, // private use
	}
	for _, tt := range tests {
		name := dns.Type(tt.qtype).String() + "/" + dns.Class(tt.qclass).String()
		req := new(dns.Msg)
		req.Question = []dns.Question{{Name: "Tunnel.Example.ORG.", Qtype: tt.qtype, Qclass: tt.qclass}}
		req.Response = true
		b, err := req.Pack()
		if err != nil {
			t.Fatal(err)
		}
		b, n := Append(b, tt.qtype, tt.qclass, portal, 7)
		binary.BigEndian.PutUint16(b[6:], n)
		m := new(dns.Msg)
		if err := m.Unpack(b); err != nil {
			t.Fatalf("%s: the reply does not parse: %v", name, err)
		}
		if m.Rcode != dns.RcodeSuccess || len(m.Ns) != 0 || len(m.Extra) != 0 {
			t.Errorf("%s: rcode %d, authority %v, additional %v; want NOERROR and nothing else", name, m.Rcode, m.Ns, m.Extra)
		}
		if !tt.wantA {
			if len(m.Answer) != 0 {
				t.Errorf("%s: answer %v; want none", name, m.Answer)
			}
			continue
		}
		if len(m.Answer) != 1 {
			t.Fatalf("%s: answer %v; want one A", name, m.Answer)
		}
		a, ok := m.Answer[0].(*dns.A)
		if !ok || a.A.String() != "10.77.0.1" || a.Hdr.Ttl != 7 || a.Hdr.Name != "Tunnel.Example.ORG." || a.Hdr.Class != dns.ClassINET {
			t.Errorf("%s: answer %v; want Tunnel.Example.ORG. 7 IN A 10.77.0.1", name, m.Answer[0])
		}
	}
	if _, n := Append(nil, dns.TypeA, dns.ClassINET, netip.MustParseAddr("2001:db8::1"), 0); n != 0 {
		t.Error("an IPv6 portal address made an A record")
	}
}
