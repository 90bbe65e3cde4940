package dhcp

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/lobby-fw/lobby/internal/config"
	"github.com/lobby-fw/lobby/internal/store/storetest"
	"github.com/lobby-fw/lobby/internal/uci"
)

// BenchmarkDORA measures the handler alone (parse, decide, build the
// reply) for a DISCOVER and a REQUEST of 200 clients in turn; the sockets
// and the disk are scripts/bench/dhcp.sh's to measure.
func BenchmarkDORA(b *testing.B) {
	st := new(storetest.Mem)
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

// BenchmarkExhaustedDORA is a DORA flood from new MACs against a pool of
// 10,000 addresses (a /16) that is full of preauth leases: every DISCOVER makes
// the pool reclaim one (a scan of the pool, done only when it is
// exhausted).
func BenchmarkExhaustedDORA(b *testing.B) {
	st := new(storetest.Mem)
	table := sessionTable(st)
	f, err := uci.Parse("bench.conf", strings.NewReader("config lobby 'main'\n\toption interface 'br-lan'\nconfig dhcp 'dhcp'\n\toption start '10'\n\toption limit '10000'\n"))
	if err != nil {
		b.Fatal(err)
	}
	cfg, _ := config.Parse(f)
	if err := cfg.Bind([]netip.Prefix{netip.MustParsePrefix("10.77.0.1/16")}); err != nil {
		b.Fatal(err)
	}
	s, err := newServer(serverConfig(cfg), table, st, quietLog())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := range 10000 + b.N {
		if i == 10000 {
			b.ResetTimer()
		}
		m := net.HardwareAddr{6, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
		off := s.process(discover(m).ToBytes()).resp
		if off == nil {
			b.Fatal("no offer")
		}
		out := s.process(request(m, withServerID("10.77.0.1"), withRequested(off.YourIPAddr.String())).ToBytes())
		if out.bind == nil {
			b.Fatal("no ACK")
		}
		table.Leased(out.bind.mac, out.bind.ip, "")
	}
}
