package dhcp

import (
	"context"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/lobby-fw/lobby/internal/session"
)

// A client that has not signed in gets a lease of at most 10 minutes; at
// its first renewal after sign-in (or once trusted) the full leasetime
// (SPEC §4). The OFFER says what the ACK will give.
func TestLeaseTimeFollowsSignIn(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		leasetime string
		before    func(ts *testServer) // before the first DORA
		after     func(ts *testServer) // before the renewal
		first     time.Duration
		renewed   time.Duration
	}{
		{"preauth, then signed in", "12h", nil, func(ts *testServer) { ts.signIn(1) }, preauthLease, 12 * time.Hour},
		{"preauth stays preauth", "12h", nil, nil, preauthLease, preauthLease},
		{"signed in from the start", "1h", func(ts *testServer) { ts.signIn(1) }, nil, time.Hour, time.Hour},
		{"leasetime below the cap", "5m", nil, func(ts *testServer) { ts.signIn(1) }, 5 * time.Minute, 5 * time.Minute},
		{"trusted", "12h", func(ts *testServer) { ts.table.SetTrusted(ctx, mac(1), true, "t") }, nil, 12 * time.Hour, 12 * time.Hour},
		{"blocked", "12h", func(ts *testServer) { ts.table.SetBlocked(ctx, mac(1), true, "t") }, nil, preauthLease, preauthLease},
		{"signed out", "12h", func(ts *testServer) { ts.signIn(1) }, func(ts *testServer) { ts.table.Deauth(ctx, mac(1), session.ReasonAdmin) }, 12 * time.Hour, preauthLease},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, "config dhcp 'dhcp'\n\toption limit '4'\n\toption leasetime '"+tt.leasetime+"'\n")
			if tt.before != nil {
				tt.before(ts)
			}
			offer := ts.do(discover(mac(1)))
			if got := offer.IPAddressLeaseTime(0); got != tt.first {
				t.Errorf("OFFER: lease %v, want %v", got, tt.first)
			}
			ack := ts.do(request(mac(1), withServerID("10.77.0.1"), withRequested(offer.YourIPAddr.String())))
			checkLease(t, ts, "ACK", ack, tt.first)

			ts.clock.advance(tt.first / 2) // T1
			if tt.after != nil {
				tt.after(ts)
			}
			renew := ts.do(request(mac(1), dhcpv4.WithClientIP(ack.YourIPAddr)))
			checkLease(t, ts, "renewal", renew, tt.renewed)
		})
	}
}

// checkLease checks an ACK's lease time, T1 and T2 (RFC 2131 §4.4.5), and
// the stored expiry.
func checkLease(t *testing.T, ts *testServer, what string, ack *dhcpv4.DHCPv4, want time.Duration) {
	t.Helper()
	if ack == nil || ack.MessageType() != dhcpv4.MessageTypeAck {
		t.Fatalf("%s: %v, want an ACK", what, ack)
	}
	if got := ack.IPAddressLeaseTime(0); got != want {
		t.Errorf("%s: lease %v, want %v", what, got, want)
	}
	// The options carry whole seconds; the stored expiry is rounded up to one.
	if t1, t2 := ack.IPAddressRenewalTime(0), ack.IPAddressRebindingTime(0); t1 != (want/2).Truncate(time.Second) || t2 != (want*7/8).Truncate(time.Second) {
		t.Errorf("%s: T1 %v, T2 %v, want %v and %v", what, t1, t2, want/2, want*7/8)
	}
	r, _ := storedLease(t, ts.store, ack.YourIPAddr.String())
	exp := ts.clock.t.Add(want)
	if s := exp.Truncate(time.Second); s.Before(exp) {
		exp = s.Add(time.Second)
	}
	if !r.Expires.Equal(exp) {
		t.Errorf("%s: stored expiry %v, want %v", what, r.Expires, exp)
	}
}

// In a pool with no free or expired address, a new client gets the
// address of a client that has not signed in and does not answer on the
// link — the one whose lease ends first — else the oldest unanswered
// offer; never a signed-in, trusted or answering client's.
func TestReclaimWhenExhausted(t *testing.T) {
	ctx := context.Background()
	type holder struct {
		k     byte
		state string // "", "auth", "trusted", "onlink", "offer" (DISCOVER only)
	}
	tests := []struct {
		name    string
		holders []holder // in this order, a minute apart; the pool has 4 addresses
		want    byte     // whose address the newcomer gets; 0: none
	}{
		{"absent preauth, the one ending first", []holder{{1, "auth"}, {2, ""}, {3, ""}, {4, "onlink"}}, 2},
		{"absent preauth before an unanswered offer", []holder{{1, "offer"}, {2, "auth"}, {3, ""}, {4, "trusted"}}, 3},
		{"the oldest unanswered offer", []holder{{1, "auth"}, {2, "offer"}, {3, "offer"}, {4, "onlink"}}, 2},
		{"never signed-in, trusted or on the link", []holder{{1, "auth"}, {2, "trusted"}, {3, "onlink"}, {4, "onlink"}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, "config dhcp 'dhcp'\n\toption limit '4'\n\toption leasetime '1h'\n")
			addrOf := map[byte]string{}
			for _, h := range tt.holders {
				switch h.state {
				case "auth":
					ts.signIn(h.k)
				case "trusted":
					ts.table.SetTrusted(ctx, mac(h.k), true, "t")
				}
				if h.state == "offer" {
					addrOf[h.k] = ts.do(discover(mac(h.k))).YourIPAddr.String()
				} else {
					ip := ts.lease(mac(h.k))
					addrOf[h.k] = ip.String()
					if h.state == "onlink" {
						ts.table.Seen(mac(h.k), ip, "") // the neighbour table has it
					}
				}
				ts.clock.advance(time.Second)
			}
			offer := ts.do(discover(mac(9)))
			if tt.want == 0 {
				if offer != nil {
					t.Fatalf("offered %s", offer.YourIPAddr)
				}
				return
			}
			if offer == nil {
				t.Fatalf("no offer; want %s's %s", mac(tt.want), addrOf[tt.want])
			}
			if got := offer.YourIPAddr.String(); got != addrOf[tt.want] {
				t.Fatalf("offered %s, want %s's %s", got, mac(tt.want), addrOf[tt.want])
			}
			if _, ok := ts.table.Lookup(mac(tt.want)); ok {
				t.Errorf("the table still knows %s, whose address was taken", mac(tt.want))
			}
			if _, stored := storedLease(t, ts.store, addrOf[tt.want]); stored {
				t.Errorf("the old holder's lease of %s is still stored: a restart would give it back", addrOf[tt.want])
			}
			ack := ts.do(request(mac(9), withServerID("10.77.0.1"), withRequested(addrOf[tt.want])))
			checkLease(t, ts, "newcomer's ACK", ack, preauthLease)
		})
	}
}

// A flood of DISCOVERs, then of whole DORAs, from made-up MACs, keeps no
// real client from an address: its DISCOVER gets an offer and its REQUEST
// an ACK, even when the flood took its offer over in between.
func TestStarvation(t *testing.T) {
	for _, dora := range []bool{false, true} {
		name := map[bool]string{false: "DISCOVER flood", true: "DORA flood"}[dora]
		t.Run(name, func(t *testing.T) {
			ts := newTestServer(t, "config dhcp 'dhcp'\n\toption limit '150'\n\toption leasetime '12h'\n")
			rng := rand.New(rand.NewPCG(1, 2))
			flood := func(n int) {
				for range n {
					m := net.HardwareAddr{0x06, byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())}
					offer := ts.do(discover(m))
					if dora && offer != nil {
						ts.do(request(m, withServerID("10.77.0.1"), withRequested(offer.YourIPAddr.String())))
					}
					ts.clock.advance(time.Millisecond)
				}
			}
			flood(1000)
			guest := mac(1)
			offer := ts.do(discover(guest))
			if offer == nil {
				t.Fatal("the guest got no offer after the flood")
			}
			flood(300) // the flood goes on between OFFER and REQUEST
			ack := ts.do(request(guest, withServerID("10.77.0.1"), withRequested(offer.YourIPAddr.String())))
			checkLease(t, ts, "guest's ACK", ack, preauthLease)
			if c, _ := ts.table.Lookup(guest); c.IP != ip4(ack.YourIPAddr) {
				t.Errorf("the table has the guest at %v, want %s", c.IP, ack.YourIPAddr)
			}
		})
	}
}
