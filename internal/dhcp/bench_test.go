package dhcp

import (
	"net"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// BenchmarkDORA measures the handler alone (parse, decide, build the
// reply) for a DISCOVER and a REQUEST of 200 clients in turn; the sockets
// and the disk are scripts/bench/dhcp.sh's to measure.
func BenchmarkDORA(b *testing.B) {
	st := newMemStore()
	s, err := newServer(testConfig(b, "config dhcp 'dhcp'\n\toption start '10'\n\toption limit '240'\n"), sessionTable(st), st, quietLog())
	if err != nil {
		b.Fatal(err)
	}
	var disc, req [200][]byte
	for i := range disc {
		m := net.HardwareAddr{2, 0, 0, 0, byte(i >> 8), byte(i)}
		disc[i] = discover(m, dhcpv4.WithGatewayIP(net.ParseIP("10.77.0.2"))).ToBytes()
		off := s.process(disc[i]).resp
		req[i] = request(m, dhcpv4.WithGatewayIP(net.ParseIP("10.77.0.2")), withServerID("10.77.0.1"),
			withRequested(off.YourIPAddr.String())).ToBytes()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		k := i % 200
		for _, p := range [][]byte{disc[k], req[k]} {
			out := s.process(p)
			if out.resp == nil {
				b.Fatal("no reply")
			}
			_ = out.resp.ToBytes()
		}
	}
}
