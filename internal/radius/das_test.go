package radius

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// fakeSessions is a session table as the DAS sees it.
type fakeSessions struct {
	mu       sync.Mutex
	sessions []Session
	gone     []string          // disconnected, by ID
	changed  map[string]Limits // by ID
	fail     bool
}

func (f *fakeSessions) Find(m Match) []Session {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Session
	for _, s := range f.sessions {
		if m.Matches(s) {
			out = append(out, s)
		}
	}
	return out
}

func (f *fakeSessions) Disconnect(_ context.Context, s Session) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errors.New("table says no")
	}
	f.gone = append(f.gone, s.ID)
	return nil
}

func (f *fakeSessions) Change(_ context.Context, s Session, l Limits) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.changed == nil {
		f.changed = map[string]Limits{}
	}
	f.changed[s.ID] = l
	return nil
}

func (f *fakeSessions) disconnected() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.gone...)
}

var dasClient = netip.MustParseAddr("192.0.2.10")

func testDAS(clock Clock) (*DAS, *fakeSessions) {
	f := &fakeSessions{sessions: []Session{
		{ID: "S1", User: "nemo", MAC: guestMAC, IP: guestIP},
		{ID: "S2", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 0xc2}, IP: netip.MustParseAddr("10.77.0.101")},
	}}
	return NewDAS(DASConfig{Secret: testSecret, Clients: []netip.Addr{dasClient},
		NASIP: netip.MustParseAddr("10.77.0.1"), NASIdentifier: "lobby-test", Clock: clock}, f), f
}

func dasRequest(t testing.TB, code Code, attrs ...Attr) []byte {
	t.Helper()
	b, err := EncodeRequest(&Packet{Code: code, Identifier: 77, Attrs: attrs}, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDAS(t *testing.T) {
	clock := newFakeClock()
	now := Time(clock.Now())
	user := func(s string) Attr { return Attr{AttrUserName, []byte(s)} }
	csi := func(s string) Attr { return Attr{AttrCallingStationID, []byte(s)} }
	ip := func(s string) Attr { return Attr{AttrFramedIPAddress, netip.MustParseAddr(s).AsSlice()} }
	rate := Attr{AttrVendorSpecific, VSA(VendorWISPr, WISPrBandwidthMaxDown, Uint32(1_000_000))}
	tests := []struct {
		name    string
		code    Code
		attrs   []Attr
		answer  Code // 0: discarded
		cause   uint32
		gone    []string
		changed []string
	}{
		{"disconnect by user name", CodeDisconnectRequest, []Attr{user("nemo")}, CodeDisconnectACK, 0, []string{"S1"}, nil},
		{"disconnect by session id", CodeDisconnectRequest, []Attr{{AttrAcctSessionID, []byte("S2")}}, CodeDisconnectACK, 0, []string{"S2"}, nil},
		{"disconnect by MAC, any spelling", CodeDisconnectRequest, []Attr{csi("02:00:00:00:00:c2")}, CodeDisconnectACK, 0, []string{"S2"}, nil},
		{"disconnect by address", CodeDisconnectRequest, []Attr{ip("10.77.0.100")}, CodeDisconnectACK, 0, []string{"S1"}, nil},
		{"a session without a user is named by its MAC", CodeDisconnectRequest, []Attr{user("02-00-00-00-00-C2")}, CodeDisconnectACK, 0, []string{"S2"}, nil},
		{"all given must match", CodeDisconnectRequest, []Attr{user("nemo"), ip("10.77.0.101")}, CodeDisconnectNAK, ErrorSessionContextNotFound, nil, nil},
		{"all given match", CodeDisconnectRequest, []Attr{user("nemo"), ip("10.77.0.100"), csi("02-00-00-00-00-C1"), {AttrAcctSessionID, []byte("S1")}}, CodeDisconnectACK, 0, []string{"S1"}, nil},
		{"unknown session", CodeDisconnectRequest, []Attr{user("nobody")}, CodeDisconnectNAK, ErrorSessionContextNotFound, nil, nil},
		{"no session named", CodeDisconnectRequest, []Attr{{AttrReplyMessage, []byte("hi")}}, CodeDisconnectNAK, ErrorMissingAttribute, nil, nil},
		{"a timestamp within 300 s", CodeDisconnectRequest, []Attr{user("nemo"), {AttrEventTimestamp, Time(clock.Now().Add(-299 * time.Second))}}, CodeDisconnectACK, 0, []string{"S1"}, nil},
		{"a timestamp 301 s old", CodeDisconnectRequest, []Attr{user("nemo"), {AttrEventTimestamp, Time(clock.Now().Add(-301 * time.Second))}}, 0, 0, nil, nil},
		{"a timestamp 301 s ahead", CodeDisconnectRequest, []Attr{user("nemo"), {AttrEventTimestamp, Time(clock.Now().Add(301 * time.Second))}}, 0, 0, nil, nil},
		{"another NAS", CodeDisconnectRequest, []Attr{user("nemo"), {AttrNASIdentifier, []byte("other")}}, CodeDisconnectNAK, ErrorNASIdentification, nil, nil},
		{"this NAS", CodeDisconnectRequest, []Attr{user("nemo"), {AttrNASIdentifier, []byte("lobby-test")}, {AttrNASIPAddress, []byte{10, 77, 0, 1}}, {AttrEventTimestamp, now}}, CodeDisconnectACK, 0, []string{"S1"}, nil},
		{"a bad Calling-Station-Id", CodeDisconnectRequest, []Attr{csi("nemo")}, CodeDisconnectNAK, ErrorInvalidRequest, nil, nil},
		{"authorize-only", CodeCoARequest, []Attr{user("nemo"), {AttrServiceType, Uint32(17)}}, CodeCoANAK, ErrorUnsupportedService, nil, nil},
		{"coa changes limits", CodeCoARequest, []Attr{user("nemo"), rate, {AttrSessionTimeout, Uint32(60)}}, CodeCoAACK, 0, nil, []string{"S1"}},
		{"coa without a limit", CodeCoARequest, []Attr{user("nemo")}, CodeCoANAK, ErrorMissingAttribute, nil, nil},
		{"coa for nobody", CodeCoARequest, []Attr{user("nobody"), rate}, CodeCoANAK, ErrorSessionContextNotFound, nil, nil},
		{"with a Message-Authenticator", CodeDisconnectRequest, []Attr{user("nemo"), {AttrMessageAuthenticator, make([]byte, 16)}}, CodeDisconnectACK, 0, []string{"S1"}, nil},
		{"an Accounting-Request", CodeAccountingRequest, []Attr{user("nemo")}, 0, 0, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, f := testDAS(clock)
			raw := dasRequest(t, tt.code, tt.attrs...)
			reqAuth := [16]byte(raw[4:20])
			b, err := d.Handle(context.Background(), dasClient, raw)
			if tt.answer == 0 {
				if err == nil {
					t.Fatalf("answered: % x", b)
				}
			} else {
				if err != nil {
					t.Fatalf("discarded: %v", err)
				}
				reply, hasMA, err := VerifyReply(b, reqAuth, testSecret)
				if err != nil {
					t.Fatal(err)
				}
				_, askedMA := (&Packet{Attrs: tt.attrs}).Get(AttrMessageAuthenticator)
				if reply.Code != tt.answer || reply.Identifier != 77 || hasMA != askedMA {
					t.Errorf("answer %s id %d MA %v, want %s id 77 MA %v", reply.Code, reply.Identifier, hasMA, tt.answer, askedMA)
				}
				cause, _ := u32(reply, AttrErrorCause)
				if cause != tt.cause {
					t.Errorf("Error-Cause %d, want %d", cause, tt.cause)
				}
			}
			if len(f.gone) != len(tt.gone) || (len(f.gone) > 0 && f.gone[0] != tt.gone[0]) {
				t.Errorf("disconnected %v, want %v", f.gone, tt.gone)
			}
			if len(f.changed) != len(tt.changed) {
				t.Errorf("changed %v, want %v", f.changed, tt.changed)
			}
			for _, id := range tt.changed {
				if l := f.changed[id]; l.DownloadRate != 1_000_000 || l.SessionTimeout != time.Minute {
					t.Errorf("%s's new limits %+v", id, l)
				}
			}
		})
	}
}

// TestDASDiscards: a stranger's address, a wrong secret, a changed packet
// and a wrong Message-Authenticator get no answer at all (SPEC §7).
func TestDASDiscards(t *testing.T) {
	d, f := testDAS(newFakeClock())
	good := dasRequest(t, CodeDisconnectRequest, Attr{AttrUserName, []byte("nemo")})
	if _, err := d.Handle(context.Background(), netip.MustParseAddr("192.0.2.11"), good); err == nil {
		t.Error("a request from another address answered")
	}
	if _, err := d.Handle(context.Background(), netip.MustParseAddr("::ffff:192.0.2.10"), good); err != nil {
		t.Errorf("a das_client's request as a mapped IPv6 address: %v", err)
	}
	f.gone = nil
	other, _ := EncodeRequest(&Packet{Code: CodeDisconnectRequest, Attrs: []Attr{{AttrUserName, []byte("nemo")}}}, []byte("wrong"))
	changed := append([]byte(nil), good...)
	changed[len(changed)-1] ^= 1
	badMA := dasRequest(t, CodeDisconnectRequest, Attr{AttrUserName, []byte("nemo")}, Attr{AttrMessageAuthenticator, make([]byte, 16)})
	badMA[maOffset(badMA)] ^= 1
	copy(badMA[4:20], md5sum(badMA[:4], make([]byte, 16), badMA[20:], testSecret))
	for name, raw := range map[string][]byte{"wrong secret": other, "changed": changed, "wrong Message-Authenticator": badMA, "garbage": {1, 2, 3}} {
		if b, err := d.Handle(context.Background(), dasClient, raw); err == nil {
			t.Errorf("%s: answered % x", name, b)
		}
	}
	if len(f.gone) != 0 {
		t.Errorf("disconnected %v", f.gone)
	}
}

// TestDASTableError: a session the table cannot sign out is a NAK with
// Error-Cause 506 (Resources Unavailable).
func TestDASTableError(t *testing.T) {
	d, f := testDAS(newFakeClock())
	f.fail = true
	raw := dasRequest(t, CodeDisconnectRequest, Attr{AttrUserName, []byte("nemo")})
	b, err := d.Handle(context.Background(), dasClient, raw)
	if err != nil {
		t.Fatal(err)
	}
	reply, _, _ := VerifyReply(b, [16]byte(raw[4:20]), testSecret)
	if cause, _ := u32(reply, AttrErrorCause); reply.Code != CodeDisconnectNAK || cause != ErrorResourcesUnavailable {
		t.Errorf("%s, Error-Cause %d", reply.Code, cause)
	}
}

// TestDASServe: the UDP loop answers over the wire and stops with its
// context.
func TestDASServe(t *testing.T) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	d, f := testDAS(nil)
	d.cfg.Load().Clients = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Serve(ctx, conn) }()

	c, err := net.DialUDP("udp", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw := dasRequest(t, CodeDisconnectRequest, Attr{AttrUserName, []byte("nemo")}, Attr{AttrEventTimestamp, Time(time.Now())})
	c.Write(raw)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	reply, _, err := VerifyReply(buf[:n], [16]byte(raw[4:20]), testSecret)
	if err != nil || reply.Code != CodeDisconnectACK {
		t.Fatalf("reply %v, %v", reply, err)
	}
	if gone := f.disconnected(); len(gone) != 1 {
		t.Errorf("disconnected %v", gone)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not stop")
	}
}

// TestDASRetransmission: a request sent again (its answer was lost) gets
// the same answer, not a second action; after dupWindow it is a new
// request.
func TestDASRetransmission(t *testing.T) {
	clock := newFakeClock()
	d, f := testDAS(clock)
	raw := dasRequest(t, CodeDisconnectRequest, Attr{AttrUserName, []byte("nemo")})
	first, err := d.Handle(context.Background(), dasClient, raw)
	if err != nil {
		t.Fatal(err)
	}
	again, err := d.Handle(context.Background(), dasClient, raw)
	if err != nil || !bytes.Equal(first, again) {
		t.Errorf("the retransmission got % x, %v; want the first answer", again, err)
	}
	if gone := f.disconnected(); len(gone) != 1 {
		t.Errorf("disconnected %v, want S1 once", gone)
	}
	clock.Advance(dupWindow)
	later, err := d.Handle(context.Background(), dasClient, raw)
	if err != nil {
		t.Fatal(err)
	}
	if reply, _, _ := VerifyReply(later, [16]byte(raw[4:20]), testSecret); reply == nil || reply.Code != CodeDisconnectACK {
		t.Errorf("after the window: %v", reply)
	}
	if gone := f.disconnected(); len(gone) != 2 {
		t.Errorf("after the window, disconnected %v: want a second action", gone)
	}
}
