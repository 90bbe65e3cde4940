package appliance

import (
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// inNetns runs fn on a thread in a fresh network namespace, so that the
// real kernel is the fixture and nothing shows outside the test (the
// habit of google/nftables' nftest). The thread dies with the goroutine.
// fn may return a reason to skip the test (it runs off the test's
// goroutine, where t.Skip cannot be called).
func inNetns(t *testing.T, fn func(t *testing.T) (skip string)) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	done := make(chan struct{})
	var skip string
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the namespace dies with the thread
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			skip = "no network namespace: " + err.Error()
			return
		}
		if _, err := netlink.LinkByName("lo"); err != nil {
			skip = "no route netlink here (qemu-user?): " + err.Error()
			return
		}
		skip = fn(t)
	}()
	<-done
	if skip != "" {
		t.Skip(skip)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestSetupLinks(t *testing.T) {
	inNetns(t, func(t *testing.T) string {
		for _, n := range []string{"eth0", "eth1", "eth2"} {
			// veths, which every kernel with namespaces has (dummy
			// is a module not all hosts carry).
			if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: n}, PeerName: "peer-" + n}); err != nil {
				t.Errorf("veth %s: %v", n, err)
				return ""
			}
		}
		links := []Link{
			{Section: "lan", Name: "br-lan", Ports: []string{"eth0", "eth1"}, Proto: "static", Prefix: netip.MustParsePrefix("10.77.0.1/24"), LAN: true},
			{Section: "wan", Name: "eth2", Proto: "static", Prefix: netip.MustParsePrefix("192.0.2.2/24"), Gateway: netip.MustParseAddr("192.0.2.254"), Uplink: true},
		}
		// Twice: a second boot step (or a restart) finds everything in place.
		for i := 0; i < 2; i++ {
			if err := setupLinks(links, time.Second, quietLog()); err != nil {
				t.Errorf("setupLinks #%d: %v", i+1, err)
				return ""
			}
		}
		br, err := netlink.LinkByName("br-lan")
		if err != nil || br.Type() != "bridge" {
			t.Errorf("br-lan: %v, %v", br, err)
			return ""
		}
		for _, p := range []string{"eth0", "eth1"} {
			l, _ := netlink.LinkByName(p)
			if l.Attrs().MasterIndex != br.Attrs().Index || l.Attrs().Flags&unix.IFF_UP == 0 {
				t.Errorf("%s: master %d (want br-lan %d), flags %v", p, l.Attrs().MasterIndex, br.Attrs().Index, l.Attrs().Flags)
			}
		}
		addrs, _ := netlink.AddrList(br, unix.AF_INET)
		if len(addrs) != 1 || addrs[0].IPNet.String() != "10.77.0.1/24" {
			t.Errorf("br-lan addresses %v", addrs)
		}
		routes, _ := netlink.RouteList(nil, unix.AF_INET)
		var def []string
		for _, r := range routes {
			if r.Dst == nil || r.Dst.IP.IsUnspecified() {
				def = append(def, r.Gw.String())
			}
		}
		if len(def) != 1 || def[0] != "192.0.2.254" {
			t.Errorf("default routes via %v, want one via 192.0.2.254", def)
		}
		lo, _ := netlink.LinkByName("lo")
		if lo.Attrs().Flags&unix.IFF_UP == 0 {
			t.Error("lo is down")
		}
		return ""
	})
}

func TestSetupLinksMissingDevice(t *testing.T) {
	inNetns(t, func(t *testing.T) string {
		err := setupLinks([]Link{{Section: "lan", Name: "eth7", Proto: "static", Prefix: netip.MustParsePrefix("10.0.0.1/24")}}, 100*time.Millisecond, quietLog())
		if err == nil || !strings.Contains(err.Error(), "device eth7 not found (the kernel's NICs: ") {
			t.Errorf("err = %v", err)
		}
		return ""
	})
}

func TestSetupNAT(t *testing.T) {
	inNetns(t, func(t *testing.T) string {
		for i := 0; i < 2; i++ { // replaced whole, not doubled
			if err := setupNAT([]string{"eth1", "wwan0"}, nil); err != nil {
				if strings.Contains(err.Error(), "not supported") || strings.Contains(err.Error(), "no such file") {
					return "no nf_tables NAT in this kernel: " + err.Error()
				}
				t.Errorf("setupNAT: %v", err)
				return ""
			}
		}
		c, err := nftables.New()
		if err != nil {
			t.Error(err)
			return ""
		}
		tbl := &nftables.Table{Family: nftables.TableFamilyINet, Name: natTable}
		rules, err := c.GetRules(tbl, &nftables.Chain{Name: "postrouting", Table: tbl})
		if err != nil {
			t.Errorf("rules: %v", err)
			return ""
		}
		var outs []string
		for _, r := range rules {
			var name string
			masq := false
			for _, e := range r.Exprs {
				switch e := e.(type) {
				case *expr.Cmp:
					if len(e.Data) == unix.IFNAMSIZ {
						name = strings.TrimRight(string(e.Data), "\x00")
					}
				case *expr.Masq:
					masq = true
				}
			}
			if !masq {
				t.Errorf("rule without masquerade: %v", r.Exprs)
			}
			outs = append(outs, name)
		}
		if strings.Join(outs, ",") != "eth1,wwan0" {
			t.Errorf("masquerade out of %v, want eth1,wwan0", outs)
		}
		if b, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); strings.TrimSpace(string(b)) != "1" {
			t.Errorf("ip_forward = %q", b)
		}
		if err := removeNAT(); err != nil {
			t.Error(err)
		}
		if _, err := c.ListTableOfFamily(natTable, nftables.TableFamilyINet); err == nil {
			t.Error("table still there after removeNAT")
		}
		return ""
	})
}

func TestResolvConf(t *testing.T) {
	p := filepath.Join(t.TempDir(), "etc", "resolv.conf")
	r := newResolvConf(p)
	a := netip.MustParseAddr
	if err := r.set("wan", []netip.Addr{a("198.51.100.53"), a("198.51.100.54")}); err != nil {
		t.Fatal(err)
	}
	if err := r.set("lte", []netip.Addr{a("203.0.113.53"), a("198.51.100.53")}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	want := "nameserver 203.0.113.53 # lte\nnameserver 198.51.100.53 # lte\nnameserver 198.51.100.54 # wan\n"
	if !strings.HasSuffix(string(b), want) {
		t.Fatalf("resolv.conf:\n%s\nwant it to end with\n%s", b, want)
	}
	r.set("lte", nil)
	b, _ = os.ReadFile(p)
	if strings.Contains(string(b), "203.0.113.53") || !strings.Contains(string(b), "198.51.100.54") {
		t.Fatalf("after dropping lte:\n%s", b)
	}
}
