package appliance

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
)

// setupLinks brings up lo and every planned link: bridges made and their
// ports enslaved, static addresses and gateways set. It waits up to wait
// for devices whose drivers are still probing. A link that fails is
// reported, prefixed with its section, and the others still come up.
func setupLinks(links []Link, wait time.Duration, log *slog.Logger) error {
	var errs []error
	if lo, err := netlink.LinkByName("lo"); err != nil {
		errs = append(errs, fmt.Errorf("lo: %w", err))
	} else if err := netlink.LinkSetUp(lo); err != nil {
		errs = append(errs, fmt.Errorf("lo: up: %w", err))
	}
	deadline := time.Now().Add(wait)
	used := map[string]bool{}
	for _, l := range links {
		used[l.Name] = true
		for _, p := range l.Ports {
			used[p] = true
		}
		if err := setupLink(l, deadline, log); err != nil {
			errs = append(errs, fmt.Errorf("interface %s (%s): %w", l.Section, l.Name, err))
		}
	}
	// What the kernel found, once every configured device had its chance
	// to appear: the line to read when a box's ports are not where the
	// config expects them (the kernel names NICs eth0, eth1, … as their
	// drivers probe them; docs/appliance.md, Hardware).
	if nics, err := listNICs(sysClassNet); err != nil {
		errs = append(errs, err)
	} else {
		have, unused := nicSummary(nics, used)
		log.Info("net: NICs", "found", have, "not in the config", unused)
	}
	return errors.Join(errs...)
}

// sysClassNet is where the kernel lists network devices.
const sysClassNet = "/sys/class/net"

func setupLink(l Link, deadline time.Time, log *slog.Logger) error {
	devices := l.Ports
	if len(devices) == 0 {
		devices = []string{l.Name}
	}
	ports := make([]netlink.Link, len(devices))
	for i, d := range devices {
		link, err := waitLink(d, deadline)
		if err != nil {
			return err
		}
		ports[i] = link
	}
	link := ports[0]
	if len(l.Ports) > 0 {
		br, err := ensureBridge(l.Name)
		if err != nil {
			return err
		}
		for _, p := range ports {
			if err := netlink.LinkSetMaster(p, br); err != nil {
				return fmt.Errorf("add %s to bridge %s: %w", p.Attrs().Name, l.Name, err)
			}
			if err := netlink.LinkSetUp(p); err != nil {
				return fmt.Errorf("up %s: %w", p.Attrs().Name, err)
			}
		}
		link = br
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	if l.Prefix.IsValid() {
		if err := netlink.AddrReplace(link, &netlink.Addr{IPNet: ipNet(l.Prefix)}); err != nil {
			return fmt.Errorf("address %s: %w", l.Prefix, err)
		}
	}
	if l.Gateway.IsValid() {
		if err := setDefaultRoute(link, l.Gateway); err != nil {
			return err
		}
	}
	log.Info("net: up", "interface", l.Section, "device", l.Name, "ports", strings.Join(l.Ports, ","),
		"mac", link.Attrs().HardwareAddr.String(), "proto", l.Proto, "address", prefixOrNone(l.Prefix))
	return nil
}

func prefixOrNone(p netip.Prefix) string {
	if !p.IsValid() {
		return "-"
	}
	return p.String()
}

// waitLink returns the named link once it exists: a driver module
// inserted a moment ago may still be probing its device.
func waitLink(name string, deadline time.Time) (netlink.Link, error) {
	for {
		l, err := netlink.LinkByName(name)
		if err == nil {
			return l, nil
		}
		if time.Now().After(deadline) {
			have := "none"
			if nics, lerr := listNICs(sysClassNet); lerr == nil {
				have, _ = nicSummary(nics, nil)
			}
			return nil, fmt.Errorf("device %s not found (the kernel's NICs: %s): check option device, and that the image carries the NIC's driver (docs/appliance.md, Hardware)", name, have)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ensureBridge returns the bridge name, creating it when missing. STP stays
// off (the kernel's default), so ports forward at once.
func ensureBridge(name string) (netlink.Link, error) {
	if l, err := netlink.LinkByName(name); err == nil {
		if l.Type() != "bridge" {
			return nil, fmt.Errorf("%s exists and is a %s, not a bridge", name, l.Type())
		}
		return l, nil
	}
	if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
		return nil, fmt.Errorf("create bridge %s: %w (is the bridge module loaded?)", name, err)
	}
	return netlink.LinkByName(name)
}

func setDefaultRoute(link netlink.Link, gw netip.Addr) error {
	r := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: net.IP(gw.AsSlice()), Dst: nil}
	if err := netlink.RouteReplace(r); err != nil {
		return fmt.Errorf("default route via %s: %w", gw, err)
	}
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// sysctl writes one value under /proc/sys, e.g. ("net/ipv4/ip_forward", "1").
func sysctl(key, value string) error {
	if err := os.WriteFile(filepath.Join("/proc/sys", key), []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", strings.ReplaceAll(key, "/", "."), value, err)
	}
	return nil
}

// resolvConf keeps /etc/resolv.conf listing the nameservers every uplink
// brought: the static `list dns` ones and those of DHCP leases. Lobby's
// resolver forwards to them when the config lists no upstream (SPEC §2),
// and it notices when the file changes.
type resolvConf struct {
	path string
	mu   sync.Mutex
	by   map[string][]netip.Addr // section → servers
}

func newResolvConf(path string) *resolvConf {
	return &resolvConf{path: path, by: map[string][]netip.Addr{}}
}

// set records the servers of one section and rewrites the file atomically.
func (r *resolvConf) set(section string, servers []netip.Addr) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(servers) == 0 {
		delete(r.by, section)
	} else {
		r.by[section] = servers
	}
	var sections []string
	for s := range r.by {
		sections = append(sections, s)
	}
	sort.Strings(sections)
	var b strings.Builder
	b.WriteString("# written by lobby (appliance): the nameservers of the uplinks\n")
	seen := map[netip.Addr]bool{}
	for _, s := range sections {
		for _, a := range r.by[s] {
			if !seen[a] {
				seen[a] = true
				fmt.Fprintf(&b, "nameserver %s # %s\n", a, s)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(r.path), 0o755); err != nil {
		return fmt.Errorf("resolv.conf: %w", err)
	}
	tmp := r.path + ".new"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("resolv.conf: %w", err)
	}
	if err := os.Rename(tmp, r.path); err != nil {
		return fmt.Errorf("resolv.conf: %w", err)
	}
	return nil
}
