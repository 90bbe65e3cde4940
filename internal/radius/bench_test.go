package radius

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/store/storetest"
)

// BenchmarkCodec is lobby's own share of a sign-in through RADIUS: the
// Access-Request laid out and signed (password hidden, Message-
// Authenticator), and the Access-Accept checked and read into limits. The
// server's share is measured apart (in the lab, against FreeRADIUS).
func BenchmarkCodec(b *testing.B) {
	accept := &Packet{Code: CodeAccessAccept, Attrs: []Attr{
		{AttrSessionTimeout, Uint32(3600)}, {AttrClass, []byte("plan-gold")},
		{AttrVendorSpecific, VSA(VendorWISPr, WISPrBandwidthMaxDown, Uint32(2_000_000))},
		{AttrMessageAuthenticator, make([]byte, 16)},
	}}
	b.ReportAllocs()
	for b.Loop() {
		p := &Packet{Code: CodeAccessRequest, Identifier: 1}
		p.Add(AttrUserName, []byte("nemo"))
		p.Add(AttrCallingStationID, []byte(StationID(guestMAC)))
		randRead(p.Authenticator[:])
		h, _ := HidePassword([]byte("arctangent"), testSecret, p.Authenticator)
		p.Add(AttrUserPassword, h)
		if _, err := EncodeRequest(p, testSecret); err != nil {
			b.Fatal(err)
		}
		raw, err := EncodeReply(accept, p.Authenticator, testSecret)
		if err != nil {
			b.Fatal(err)
		}
		reply, _, err := VerifyReply(raw, p.Authenticator, testSecret)
		if err != nil {
			b.Fatal(err)
		}
		ParseLimits(reply)
	}
}

// BenchmarkAccountingBacklog delivers a backlog of 1,000 Interim-Updates
// of as many sessions to a fake server on loopback that answers at once:
// records/s is how fast a backlog drains after a server comes back.
func BenchmarkAccountingBacklog(b *testing.B) {
	const n = 1000
	srv := newFakeServer(b, func(*Packet) *Packet { return &Packet{Code: CodeAccountingResponse} })
	ctx := context.Background()
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		c := testClient(srv.addr())
		c.conf().AcctPort = srv.addr().Port()
		a := NewAccounting(c, &storetest.Mem{}, AcctConfig{})
		for i := range n {
			s := testSession(fmt.Sprintf("S%d", i))
			if err := a.Interim(ctx, s, Usage{Up: 1 << 33, Down: 1 << 34}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		start := time.Now()
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); a.Run(rctx) }()
		dctx, dcancel := context.WithTimeout(ctx, time.Minute)
		if err := a.Drain(dctx); err != nil {
			b.Fatal(err)
		}
		dcancel()
		total += time.Since(start)
		cancel()
		<-done
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "records/s")
}
