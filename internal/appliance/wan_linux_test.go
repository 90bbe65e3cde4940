package appliance

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The WAN side reaches neither the router's services nor the LAN, while a
// LAN host's own connection out, and its answers, pass (SPEC §6). The
// router is this test's namespace, with a LAN host and a WAN host in
// namespaces of their own, each behind a veth; the WAN host routes the LAN
// subnet through the router, as a neighbour on the WAN segment can.
func TestWANClosed(t *testing.T) {
	inNetns(t, func(t *testing.T) string {
		router, err := netns.Get()
		if err != nil {
			return "netns: " + err.Error()
		}
		defer router.Close()
		peer := func(name, routerAddr, peerAddr, route string) netns.NsHandle {
			ns, err := netns.New() // the thread is now in ns
			if err != nil {
				t.Fatalf("netns: %v", err)
			}
			if err := netns.Set(router); err != nil {
				t.Fatal(err)
			}
			if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: "p", PeerNamespace: netlink.NsFd(ns)}); err != nil {
				t.Fatalf("veth %s: %v", name, err)
			}
			link, _ := netlink.LinkByName(name)
			addr, _ := netlink.ParseAddr(routerAddr)
			netlink.AddrAdd(link, addr)
			netlink.LinkSetUp(link)
			h, err := netlink.NewHandleAt(ns)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			p, _ := h.LinkByName("p")
			pa, _ := netlink.ParseAddr(peerAddr)
			h.AddrAdd(p, pa)
			h.LinkSetUp(p)
			lo, _ := h.LinkByName("lo")
			h.LinkSetUp(lo)
			_, dst, _ := net.ParseCIDR(route)
			gw, _, _ := net.ParseCIDR(routerAddr)
			if err := h.RouteAdd(&netlink.Route{LinkIndex: p.Attrs().Index, Dst: dst, Gw: gw}); err != nil {
				t.Fatalf("route in %s: %v", name, err)
			}
			return ns
		}
		lan := peer("lan0", "10.77.0.1/24", "10.77.0.10/24", "0.0.0.0/0")
		defer lan.Close()
		wan := peer("wan0", "192.0.2.1/24", "192.0.2.2/24", "10.77.0.0/24")
		defer wan.Close()
		lo, _ := netlink.LinkByName("lo")
		netlink.LinkSetUp(lo)

		// in runs fn with the thread in ns: sockets it opens live there.
		in := func(ns netns.NsHandle, fn func()) {
			if err := netns.Set(ns); err != nil {
				t.Fatal(err)
			}
			defer netns.Set(router)
			fn()
		}
		serve := func(addr string) net.Listener {
			ln, err := net.Listen("tcp4", addr)
			if err != nil {
				t.Fatalf("listen %s: %v", addr, err)
			}
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					fmt.Fprintf(c, "hello from %s\n", ln.Addr())
					c.Close()
				}
			}()
			return ln
		}
		// reach tries three times (a busy machine may lose the first ARP
		// exchange): a refusal is three seconds of silence.
		reach := func(ns netns.NsHandle, addr string) (ok bool) {
			in(ns, func() {
				for range 3 {
					c, err := net.DialTimeout("tcp4", addr, time.Second)
					if err != nil {
						continue
					}
					c.SetDeadline(time.Now().Add(2 * time.Second))
					b, _ := io.ReadAll(c)
					c.Close()
					if ok = strings.HasPrefix(string(b), "hello"); ok {
						return
					}
				}
			})
			return ok
		}
		// A router service on every address (the portal, DNS, the relay
		// listen on the LAN address), a LAN host's service, a WAN server.
		defer serve("0.0.0.0:2050").Close()
		defer serve("0.0.0.0:8081").Close() // the admin pages, opened on the WAN address
		var lanLn, wanLn net.Listener
		in(lan, func() { lanLn = serve("10.77.0.10:8080") })
		defer lanLn.Close()
		in(wan, func() { wanLn = serve("192.0.2.2:9000") })
		defer wanLn.Close()

		admin := wanOpening{proto: unix.IPPROTO_TCP, port: 8081, to: netip.MustParseAddr("192.0.2.1")}
		if err := setupNAT([]string{"wan0"}, []wanOpening{admin}); err != nil {
			if strings.Contains(err.Error(), "not supported") || strings.Contains(err.Error(), "no such file") {
				return "no nf_tables NAT in this kernel: " + err.Error()
			}
			t.Fatalf("setupNAT: %v", err)
		}
		// The LAN host's connection out passes, and so do its answers.
		if !reach(lan, "192.0.2.2:9000") {
			t.Errorf("the LAN host's connection to the WAN server failed")
		}
		for _, tc := range []struct {
			from netns.NsHandle
			who  string
			addr string
			want bool
		}{
			{lan, "the LAN host", "10.77.0.1:2050", true}, // the positive control of the next two
			{wan, "the WAN host", "10.77.0.1:2050", false},
			{wan, "the WAN host", "192.0.2.1:2050", false},
			{wan, "the WAN host", "10.77.0.10:8080", false},
			{wan, "the WAN host", "192.0.2.1:8081", true},  // opened: to that address
			{wan, "the WAN host", "10.77.0.1:8081", false}, // and no other
		} {
			if got := reach(tc.from, tc.addr); got != tc.want {
				t.Errorf("%s reaches %s: %v, want %v", tc.who, tc.addr, got, tc.want)
			}
		}
		// Ping of the router's WAN address is answered (one answer a
		// request); of the LAN host, not.
		if _, err := exec.LookPath("ping"); err == nil {
			pingFrom := func(dst string) (err error) {
				in(wan, func() { err = exec.Command("ping", "-c", "1", "-W", "1", dst).Run() })
				return err
			}
			if err := pingFrom("192.0.2.1"); err != nil {
				t.Errorf("ping of the router's WAN address: %v", err)
			}
			if err := pingFrom("10.77.0.10"); err == nil {
				t.Errorf("the WAN host pinged the LAN host")
			}
		}
		if err := removeNAT(); err != nil {
			t.Errorf("removeNAT: %v", err)
		}
		if b, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); strings.TrimSpace(string(b)) != "0" {
			t.Errorf("after removeNAT ip_forward = %q, want 0", b)
		}
		// Without the table (forwarding on) the WAN host does reach
		// them: the test can tell.
		if err := sysctl("net/ipv4/ip_forward", "1"); err != nil {
			t.Fatal(err)
		}
		if !reach(wan, "10.77.0.1:2050") || !reach(wan, "10.77.0.10:8080") {
			t.Errorf("without the table the WAN host still does not reach the LAN address: the checks above prove nothing")
		}
		return ""
	})
}
