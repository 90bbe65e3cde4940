package responder

import (
	"testing"
	"time"
)

// The reference vectors of SipHash-2-4 (the paper's Appendix A and its
// reference code): key 00 01 … 0f, message 00 01 … n-1.
func TestSipHashVectors(t *testing.T) {
	k0, k1 := uint64(0x0706050403020100), uint64(0x0f0e0d0c0b0a0908)
	msg := make([]byte, 16)
	for i := range msg {
		msg[i] = byte(i)
	}
	for _, tt := range []struct {
		n    int
		want uint64
	}{
		{0, 0x726fdb47dd0e0e31},
		{1, 0x74f839c593dc67fd},
		{2, 0x0d6c8009d9a94f5a},
		{3, 0x85676696d7fb7e2d},
		{4, 0xcf2794e0277187b7},
		{8, 0x93f5f5799a932462},
		{15, 0xa129ca6149be45e5},
		{16, 0x3f2acc7f57c29bdb},
	} {
		if got := sipHash24(k0, k1, msg[:tt.n]); got != tt.want {
			t.Errorf("SipHash-2-4 of %d bytes: %#x, want %#x", tt.n, got, tt.want)
		}
	}
}

func TestMSSIndex(t *testing.T) {
	for _, tt := range []struct{ mss, want uint16 }{
		{0, 88}, {87, 88}, {88, 88}, {535, 88}, {536, 536}, {1219, 536}, {1220, 1220},
		{1400, 1400}, {1451, 1400}, {1452, 1452}, {1460, 1460}, {65535, 1460},
	} {
		if got := mssTable[mssIndex(tt.mss)]; got != tt.want {
			t.Errorf("MSS %d: %d, want %d", tt.mss, got, tt.want)
		}
	}
}

func TestCookie(t *testing.T) {
	j := &cookieJar{k0: 0x1234, k1: 0x5678}
	f := flow{client: [4]byte{10, 77, 0, 50}, server: [4]byte{198, 51, 100, 10}, clientPort: 40000, serverPort: 80}
	now := time.Unix(1_800_000_000, 0)
	c := j.mint(now, &f, 7)
	if c>>idxShift != 7 || c&(1<<macBits) != 0 {
		t.Fatalf("cookie %#x: want MSS index 7 and bit 28 clear", c)
	}
	other := func(mod func(*flow)) *flow { g := f; mod(&g); return &g }
	tests := []struct {
		name      string
		at        time.Time
		f         *flow
		ack       uint32
		ok        bool
		wantAcked uint32
	}{
		{"at once", now, &f, c + 1, true, 0},
		{"same slice", now.Add(sliceLen - time.Second), &f, c + 1, true, 0},
		{"next slice", now.Add(sliceLen), &f, c + 1, true, 0},
		{"two slices later", now.Add(2 * sliceLen), &f, c + 1, false, 0},
		{"from the future", now.Add(-sliceLen), &f, c + 1, false, 0},
		{"response acknowledged", now, &f, c + 1 + 700, true, 700},
		{"response and FIN acknowledged", now, &f, c + 1 + maxResponse + 1, true, maxAcked},
		{"past the largest response", now, &f, c + 1 + maxAcked + 1, false, 0},
		{"before the cookie", now, &f, c, false, 0},
		{"MAC bit flipped", now, &f, (c + 1) ^ 1<<20, false, 0},
		{"MSS index changed", now, &f, (c + 1) ^ 1<<idxShift, false, 0},
		{"other client port", now, other(func(g *flow) { g.clientPort++ }), c + 1, false, 0},
		{"other server port", now, other(func(g *flow) { g.serverPort = 8080 }), c + 1, false, 0},
		{"other client", now, other(func(g *flow) { g.client[3]++ }), c + 1, false, 0},
		{"other server", now, other(func(g *flow) { g.server[0]++ }), c + 1, false, 0},
	}
	for _, tt := range tests {
		idx, acked, ok := j.check(tt.at, tt.f, tt.ack)
		if ok != tt.ok {
			t.Errorf("%s: ok %v, want %v", tt.name, ok, tt.ok)
			continue
		}
		if ok && (idx != 7 || acked != tt.wantAcked) {
			t.Errorf("%s: idx %d acked %d, want 7 %d", tt.name, idx, acked, tt.wantAcked)
		}
	}
	// Another key (a restart) knows none of the old cookies.
	if _, _, ok := newCookieJar().check(now, &f, c+1); ok {
		t.Error("a fresh key accepted an old cookie")
	}
}

// A forged acknowledgement is accepted about maxAcked in 2^28 times: count
// over many random values that it is rare, not that it is impossible.
func TestCookieForgery(t *testing.T) {
	j := newCookieJar()
	f := flow{client: [4]byte{10, 77, 0, 50}, server: [4]byte{198, 51, 100, 10}, clientPort: 40000, serverPort: 80}
	now := time.Unix(1_800_000_000, 0)
	hits := 0
	for i := uint32(0); i < 1<<18; i++ {
		if _, _, ok := j.check(now, &f, i*16411+7); ok {
			hits++
		}
	}
	// Expected: 2^18 · 2 slices · (maxAcked+1)/2^29 ≈ 16.
	if hits > 64 {
		t.Errorf("%d of 2^18 arbitrary acknowledgements accepted", hits)
	}
}
