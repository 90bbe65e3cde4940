package appliance

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// NIC is a network device with hardware behind it, as sysfs shows it.
type NIC struct {
	Name   string // the kernel's name: eth0, eth1, … in probe order
	MAC    string
	Driver string // the module that drives it: e1000e, r8169, virtio_net, …
	Bus    string // pci, usb, virtio, platform, …
}

func (n NIC) String() string {
	return fmt.Sprintf("%s (%s, %s, %s)", n.Name, n.Driver, n.Bus, n.MAC)
}

// listNICs reads the NICs from sysClassNet (/sys/class/net): the entries
// with a device link, which lo, bridges and other virtual links lack.
// Sorted by name.
func listNICs(sysClassNet string) ([]NIC, error) {
	ents, err := os.ReadDir(sysClassNet)
	if err != nil {
		return nil, fmt.Errorf("list NICs: %w", err)
	}
	var out []NIC
	for _, e := range ents {
		dir := filepath.Join(sysClassNet, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "device")); err != nil {
			continue
		}
		n := NIC{Name: e.Name(), Driver: "-", Bus: "-"}
		if b, err := os.ReadFile(filepath.Join(dir, "address")); err == nil {
			n.MAC = strings.TrimSpace(string(b))
		}
		if l, err := os.Readlink(filepath.Join(dir, "device", "driver")); err == nil {
			n.Driver = filepath.Base(l)
		}
		if l, err := os.Readlink(filepath.Join(dir, "device", "subsystem")); err == nil {
			n.Bus = filepath.Base(l)
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return lessIfName(out[i].Name, out[j].Name) })
	return out, nil
}

// lessIfName orders interface names as people count them: eth2 before
// eth10.
func lessIfName(a, b string) bool {
	pa, na := splitIfName(a)
	pb, nb := splitIfName(b)
	if pa != pb {
		return pa < pb
	}
	if na != nb {
		return na < nb
	}
	return a < b
}

func splitIfName(s string) (string, int) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	n := -1
	if i < len(s) && len(s)-i < 9 {
		n = 0
		for _, c := range s[i:] {
			n = n*10 + int(c-'0')
		}
	}
	return s[:i], n
}

// nicSummary is the console's one line about the NICs: which exist, which
// the config uses, which it leaves alone.
func nicSummary(nics []NIC, used map[string]bool) (have, unused string) {
	var h, u []string
	for _, n := range nics {
		h = append(h, n.String())
		if !used[n.Name] {
			u = append(u, n.Name)
		}
	}
	if len(h) == 0 {
		return "none", "-"
	}
	if len(u) == 0 {
		return strings.Join(h, ", "), "-"
	}
	return strings.Join(h, ", "), strings.Join(u, ",")
}
