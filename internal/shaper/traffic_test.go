package shaper

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// lan is a router namespace (the test's) whose bridge lan0 has two clients,
// each in a namespace of its own behind a veth.
type lan struct {
	router  netns.NsHandle
	clients []netns.NsHandle
	macs    []net.HardwareAddr
}

func newLAN(t *testing.T, n int) *lan {
	t.Helper()
	ns := inNetNS(t)
	l := &lan{router: netns.NsHandle(ns)}
	br := &netlink.Bridge{LinkAttrs: netlink.NewLinkAttrs()}
	br.Name = "lan0"
	must(t, netlink.LinkAdd(br))
	must(t, netlink.AddrAdd(br, mustAddr(t, "10.9.0.1/24")))
	must(t, netlink.AddrAdd(br, mustAddr(t, "fd00:9::1/64")))
	must(t, netlink.LinkSetUp(br))
	for i := range n {
		c, err := netns.New() // switches the thread to it
		if err != nil {
			t.Fatal(err)
		}
		must(t, netns.Set(l.router))
		t.Cleanup(func() { c.Close() })
		attrs := netlink.NewLinkAttrs()
		attrs.Name = "vr" + string(rune('1'+i))
		peer := "c" + string(rune('1'+i))
		must(t, netlink.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: peer}))
		vr, err := netlink.LinkByName(attrs.Name)
		must(t, err)
		must(t, netlink.LinkSetMaster(vr, br))
		must(t, netlink.LinkSetUp(vr))
		cl, err := netlink.LinkByName(peer)
		must(t, err)
		l.macs = append(l.macs, cl.Attrs().HardwareAddr)
		must(t, netlink.LinkSetNsFd(cl, int(c)))
		h, err := netlink.NewHandleAt(c)
		must(t, err)
		cl, err = h.LinkByName(peer)
		must(t, err)
		must(t, h.AddrAdd(cl, mustAddr(t, "10.9.0."+string(rune('2'+i))+"/24")))
		must(t, h.AddrAdd(cl, mustAddr(t, "fd00:9::"+string(rune('2'+i))+"/64")))
		must(t, h.LinkSetUp(cl))
		h.Close()
		l.clients = append(l.clients, c)
	}
	return l
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		skipWithoutNetlink(t, err)
		t.Fatal(err)
	}
}

// mustAddr parses an address; IPv6 ones skip duplicate address detection,
// which would hold them back for a second or more.
func mustAddr(t testing.TB, s string) *netlink.Addr {
	a, err := netlink.ParseAddr(s)
	must(t, err)
	if a.IP.To4() == nil {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

// Timing of a measurement: transfers run for span; what arrives after
// warmup counts (TCP's slow start and HTB's first burst are over by then).
const (
	span   = 2500 * time.Millisecond
	warmup = 500 * time.Millisecond
)

// rate is a measured flow: bits per second over [warmup, span].
type rate struct {
	mu    sync.Mutex
	bytes int64
}

func (r *rate) bps() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return float64(r.bytes) * 8 / (span - warmup).Seconds()
}

// sink reads c until span has passed since start, counting into r.
func sink(c net.Conn, start time.Time, r *rate) {
	defer c.Close()
	c.SetReadDeadline(start.Add(span))
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if time.Since(start) >= warmup {
			r.mu.Lock()
			r.bytes += int64(n)
			r.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// source writes to c until span has passed since start.
func source(c net.Conn, start time.Time) {
	defer c.Close()
	c.SetWriteDeadline(start.Add(span))
	buf := make([]byte, 64<<10)
	for {
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}

// TestTraffic: client 1 is limited to 8 Mbit/s down, client 2 to 4 Mbit/s
// up, client 3 not at all; each transfers over IPv4 and IPv6 at once, over
// TCP for 2.5 s. The limited clients' totals of payload hold (90-105 %:
// the MAC is the key, so both families share the rate) while client 3
// goes many times faster.
func TestTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("transfers for 2.5 s")
	}
	l := newLAN(t, 3)
	s := newShaper(Config{Interface: "lan0"}, quietLog(), options{netns: int(l.router)})
	const limDown, limUp = 8_000_000, 4_000_000
	must(t, s.Set(l.macs[0], limDown, 0))
	must(t, s.Set(l.macs[1], 0, limUp))
	running(t, s)

	type flow struct {
		client int
		down   bool
		addr   string // the router's
	}
	var flows []flow
	for _, f := range []flow{{client: 0, down: true}, {client: 1}, {client: 2, down: true}, {client: 2}} {
		for _, a := range []string{"10.9.0.1", "[fd00:9::1]"} {
			f.addr = a
			flows = append(flows, f)
		}
	}
	// The router listens on both families (in its namespace); each flow is
	// a connection from the client, paired with the router's end by port.
	var conns, srv []net.Conn
	var connFlow []flow // the flow of each of conns
	for _, a := range []string{"10.9.0.1", "[fd00:9::1]"} {
		ln, err := net.Listen("tcp", a+":5201")
		must(t, err)
		defer ln.Close()
		for _, f := range flows {
			if f.addr != a {
				continue
			}
			must(t, netns.Set(l.clients[f.client]))
			c, err := net.DialTimeout("tcp", a+":5201", 5*time.Second)
			must(t, netns.Set(l.router))
			must(t, err)
			conns = append(conns, c)
			connFlow = append(connFlow, f)
			sc, err := ln.Accept()
			must(t, err)
			srv = append(srv, sc)
		}
	}
	peer := map[string]net.Conn{}
	for _, c := range srv {
		peer[c.RemoteAddr().String()] = c
	}
	type total struct {
		client int
		down   bool
	}
	rates := map[total]*rate{}
	start := time.Now()
	var wg sync.WaitGroup
	for i, c := range conns {
		f := connFlow[i]
		sc := peer[c.LocalAddr().String()]
		if sc == nil {
			t.Fatalf("no router end for %v", c.LocalAddr())
		}
		from, to := c, sc
		if f.down {
			from, to = sc, c
		}
		r := rates[total{f.client, f.down}]
		if r == nil {
			r = &rate{}
			rates[total{f.client, f.down}] = r
		}
		wg.Add(2)
		go func() { defer wg.Done(); source(from, start) }()
		go func() { defer wg.Done(); sink(to, start, r) }()
	}
	wg.Wait()

	limits := map[total]float64{{0, true}: limDown, {1, false}: limUp}
	for tot, r := range rates {
		got := r.bps()
		t.Logf("client %d %s (IPv4 + IPv6): %.2f Mbit/s", tot.client+1, map[bool]string{true: "down", false: "up"}[tot.down], got/1e6)
		switch lim := limits[tot]; {
		case lim == 0 && got < 4*limDown:
			t.Errorf("client %d (not limited) got only %.2f Mbit/s", tot.client+1, got/1e6)
		case lim > 0 && (got < 0.90*lim || got > 1.05*lim):
			t.Errorf("client %d (limited to %.0f Mbit/s) got %.2f Mbit/s", tot.client+1, lim/1e6, got/1e6)
		}
	}
}
