package radius

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

var (
	guestMAC = net.HardwareAddr{2, 0, 0, 0, 0, 0xc1}
	guestIP  = netip.MustParseAddr("10.77.0.100")
)

func accept(attrs ...Attr) func(*Packet) *Packet {
	return func(req *Packet) *Packet { return &Packet{Code: CodeAccessAccept, Attrs: attrs} }
}

// TestAccessRequest: the request carries SPEC §7's attributes, its
// password hidden, its Message-Authenticator valid (the fake server
// checks it), and the Accept's attributes come back as limits.
func TestAccessRequest(t *testing.T) {
	srv := newFakeServer(t, accept(Attr{AttrSessionTimeout, Uint32(3600)},
		Attr{AttrVendorSpecific, VSA(VendorWISPr, WISPrBandwidthMaxDown, Uint32(2_000_000))}, Attr{AttrClass, []byte("c1")}))
	c := testClient(srv.addr())
	l, err := c.Authenticate(context.Background(), Request{User: "nemo", Password: "arctangent", MAC: guestMAC, IP: guestIP, SessionID: "ABCD"})
	if err != nil {
		t.Fatal(err)
	}
	if l.SessionTimeout != time.Hour || l.DownloadRate != 2_000_000 || len(l.Class) != 1 {
		t.Errorf("limits %+v", l)
	}
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	str := func(typ uint8) string { v, _ := r.Get(typ); return string(v) }
	for typ, want := range map[uint8]string{
		AttrUserName: "nemo", AttrCallingStationID: "02-00-00-00-00-C1", AttrCalledStationID: "02-00-00-00-00-01",
		AttrNASIdentifier: "lobby-test", AttrAcctSessionID: "ABCD",
		AttrFramedIPAddress: string(guestIP.AsSlice()), AttrNASIPAddress: string([]byte{10, 77, 0, 1}),
	} {
		if got := str(typ); got != want {
			t.Errorf("attribute %d = %q, want %q", typ, got, want)
		}
	}
	if v, _ := u32(r, AttrServiceType); v != ServiceLoginUser {
		t.Errorf("Service-Type %d, want Login-User", v)
	}
	if v, _ := u32(r, AttrNASPortType); v != NASPortTypeWireless {
		t.Errorf("NAS-Port-Type %d, want Wireless-802.11", v)
	}
	hidden, _ := r.Get(AttrUserPassword)
	if pw, err := RevealPassword(hidden, testSecret, r.Authenticator); err != nil || string(pw) != "arctangent" {
		t.Errorf("User-Password reveals %q, %v", pw, err)
	}
}

// TestMACAuthRequest: User-Name and User-Password are the MAC, Service-Type
// Call-Check (SPEC §7, MAC authentication).
func TestMACAuthRequest(t *testing.T) {
	srv := newFakeServer(t, accept())
	c := testClient(srv.addr())
	if _, err := c.Authenticate(context.Background(), Request{MACAuth: true, MAC: guestMAC, IP: guestIP}); err != nil {
		t.Fatal(err)
	}
	r := srv.requests()[0]
	if v, _ := r.Get(AttrUserName); string(v) != "02-00-00-00-00-C1" {
		t.Errorf("User-Name %q", v)
	}
	hidden, _ := r.Get(AttrUserPassword)
	if pw, _ := RevealPassword(hidden, testSecret, r.Authenticator); string(pw) != "02-00-00-00-00-C1" {
		t.Errorf("User-Password %q", pw)
	}
	if v, _ := u32(r, AttrServiceType); v != ServiceCallCheck {
		t.Errorf("Service-Type %d, want Call-Check", v)
	}
}

// TestReject: the Reply-Message (split over several attributes, RFC 2865
// §5.18) is what the page says.
func TestReject(t *testing.T) {
	srv := newFakeServer(t, func(*Packet) *Packet {
		return &Packet{Code: CodeAccessReject, Attrs: []Attr{{AttrReplyMessage, []byte("Your account ")}, {AttrReplyMessage, []byte("has expired.")}}}
	})
	_, err := testClient(srv.addr()).Authenticate(context.Background(), Request{User: "u", Password: "p", MAC: guestMAC})
	var rej *RejectError
	if !errors.As(err, &rej) || rej.Message != "Your account has expired." {
		t.Errorf("err %v, want a reject saying \"Your account has expired.\"", err)
	}
}

// TestFailover: a silent server is tried Retries+1 times, Timeout apart,
// then the next; none answering is ErrNoAnswer after timeout × (retries+1)
// each.
func TestFailover(t *testing.T) {
	silent := newFakeServer(t, func(*Packet) *Packet { return nil })
	good := newFakeServer(t, accept())
	c := testClient(silent.addr(), good.addr()) // 50 ms, 1 retry
	start := time.Now()
	if _, err := c.Authenticate(context.Background(), Request{User: "u", Password: "p", MAC: guestMAC}); err != nil {
		t.Fatal(err)
	}
	if n := len(silent.requests()); n != 2 {
		t.Errorf("the silent server got %d tries, want retries+1 = 2", n)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("failed over after %s, before timeout × (retries+1) = 100ms", d)
	}
	if n := len(good.requests()); n != 1 {
		t.Errorf("the second server got %d requests, want 1", n)
	}

	silent2 := newFakeServer(t, func(*Packet) *Packet { return nil })
	start = time.Now()
	_, err := testClient(silent.addr(), silent2.addr()).Authenticate(context.Background(), Request{User: "u", Password: "p", MAC: guestMAC})
	if !errors.Is(err, ErrNoAnswer) {
		t.Errorf("err %v, want ErrNoAnswer", err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("gave up after %s, before 2 servers × 100ms", d)
	}

	// A port nobody listens on (ICMP port unreachable) fails over too.
	c = testClient(closedPort(t), good.addr())
	if _, err := c.Authenticate(context.Background(), Request{User: "u", Password: "p", MAC: guestMAC}); err != nil {
		t.Errorf("after a closed port: %v", err)
	}
}

func closedPort(t *testing.T) netip.AddrPort {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	a := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	conn.Close()
	return a
}

// TestForgedRepliesDiscarded: a reply with a wrong Response
// Authenticator, a wrong Message-Authenticator or another Identifier is
// discarded and the client goes on waiting for the real one.
func TestForgedRepliesDiscarded(t *testing.T) {
	for name, forge := range map[string]func(b []byte, reqAuth [16]byte){
		"response authenticator": func(b []byte, _ [16]byte) { b[4] ^= 1 },
		"identifier":             func(b []byte, _ [16]byte) { b[1]++ },
		"message authenticator": func(b []byte, reqAuth [16]byte) {
			// A wrong one under a right Response Authenticator.
			b[maOffset(b)] ^= 1
			copy(b[4:20], md5sum(b[:4], reqAuth[:], b[20:], testSecret))
		},
	} {
		t.Run(name, func(t *testing.T) {
			conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			go func() {
				buf := make([]byte, 4096)
				n, from, err := conn.ReadFromUDP(buf)
				if err != nil {
					return
				}
				req, _ := Parse(buf[:n])
				// The forged reply gives 1 s, the real one 2 s.
				reply := func(secs uint32) []byte {
					p := &Packet{Code: CodeAccessAccept, Identifier: req.Identifier, Attrs: []Attr{{AttrSessionTimeout, Uint32(secs)}, {AttrMessageAuthenticator, make([]byte, 16)}}}
					b, _ := EncodeReply(p, req.Authenticator, testSecret)
					return b
				}
				good, bad := reply(2), reply(1)
				forge(bad, req.Authenticator)
				conn.WriteToUDP(bad, from)
				conn.WriteToUDP(good, from)
			}()
			c := testClient(conn.LocalAddr().(*net.UDPAddr).AddrPort())
			l, err := c.Authenticate(context.Background(), Request{User: "u", Password: "p", MAC: guestMAC})
			if err != nil {
				t.Fatalf("the good reply after the forged one: %v", err)
			}
			if l.SessionTimeout != 2*time.Second {
				t.Errorf("the forged reply was taken")
			}
		})
	}
}

// TestRequireMessageAuthenticator: SPEC §7's three settings.
func TestRequireMessageAuthenticator(t *testing.T) {
	signed := accept(Attr{AttrMessageAuthenticator, make([]byte, 16)})
	unsigned := accept()
	tests := []struct {
		name    string
		require Require
		replies []func(*Packet) *Packet
		ok      []bool
	}{
		{"1: unsigned discarded", RequireAlways, []func(*Packet) *Packet{unsigned, signed}, []bool{false, true}},
		{"0: unsigned taken", RequireNever, []func(*Packet) *Packet{signed, unsigned}, []bool{true, true}},
		{"auto: unsigned taken until the server signs", RequireAuto, []func(*Packet) *Packet{unsigned, signed, unsigned}, []bool{true, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFakeServer(t, nil)
			c := testClient(srv.addr())
			c.conf().Require = tt.require
			c.conf().Retries = 0
			for i, h := range tt.replies {
				srv.setHandler(h)
				_, err := c.Authenticate(context.Background(), Request{User: "u", Password: "p", MAC: guestMAC})
				if ok := err == nil; ok != tt.ok[i] {
					t.Errorf("reply %d: err %v, want ok %v", i, err, tt.ok[i])
				}
				if err != nil && !errors.Is(err, ErrNoAnswer) {
					t.Errorf("reply %d: err %v, want ErrNoAnswer (discarded)", i, err)
				}
			}
		})
	}
}

// TestAuthenticateCancelled: a cancelled context ends the wait at once.
func TestAuthenticateCancelled(t *testing.T) {
	c := testClient(silentAddr(t))
	c.conf().Timeout = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Authenticate(ctx, Request{User: "u", Password: "p", MAC: guestMAC})
	if !errors.Is(err, context.Canceled) || time.Since(start) > 10*time.Second {
		t.Errorf("err %v after %s", err, time.Since(start))
	}
}
