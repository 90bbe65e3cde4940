package appliance

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/lobby-fw/lobby/internal/config"
)

// Link is one network interface the appliance sets up, made from a
// `config interface` section (SPEC §6).
type Link struct {
	Section string   // the section's name: lan, wan, …
	Name    string   // the interface: the device itself, or br-SECTION
	Ports   []string // bridge ports when there are several devices
	Proto   string   // static or dhcp
	Prefix  netip.Prefix
	Gateway netip.Addr
	DNS     []netip.Addr
	// LAN is the interface clients live on: the one `option interface`
	// of `config lobby` names.
	LAN bool
	// Uplink is an interface towards the internet: one with a DHCP
	// client or a gateway. LAN traffic leaving it is masqueraded.
	Uplink bool
}

// ifNameMax is IFNAMSIZ less the terminating NUL.
const ifNameMax = 15

// PlanLinks turns the `config interface` sections into the links to set
// up. Several devices in one section are bridged as br-NAME (br-lan for
// `config interface 'lan'`); one device is used as it is. Every problem is
// reported, joined.
func PlanLinks(c *config.Config) ([]Link, error) {
	var (
		links []Link
		errs  []error
		owner = map[string]string{} // device or bridge → section
	)
	claim := func(dev, section string) {
		if prev, ok := owner[dev]; ok {
			errs = append(errs, fmt.Errorf("interface %q: device %s is already used by interface %q", section, dev, prev))
			return
		}
		owner[dev] = section
	}
	for _, in := range c.Interfaces {
		l := Link{Section: in.Name, Proto: in.Proto, Gateway: in.Gateway, DNS: in.DNS}
		switch len(in.Device) {
		case 0:
			errs = append(errs, fmt.Errorf("interface %q: no option device", in.Name))
			continue
		case 1:
			l.Name = in.Device[0]
		default:
			if in.Name == "" {
				errs = append(errs, errors.New("an unnamed 'config interface' section lists several devices: name it (config interface 'lan') so its bridge can be br-NAME"))
				continue
			}
			l.Name = "br-" + in.Name
			l.Ports = in.Device
			for _, p := range in.Device {
				claim(p, in.Name)
			}
		}
		claim(l.Name, in.Name)
		for _, n := range append([]string{l.Name}, l.Ports...) {
			if len(n) > ifNameMax || strings.ContainsAny(n, "/: \t") {
				errs = append(errs, fmt.Errorf("interface %q: %q is not a valid interface name (at most %d characters, no '/', ':' or blanks)", in.Name, n, ifNameMax))
			}
		}
		if in.Proto == "static" && in.IPAddr.IsValid() && in.Netmask.IsValid() {
			bits, ok := maskBits(in.Netmask)
			if !ok {
				errs = append(errs, fmt.Errorf("interface %q: netmask %s is not a contiguous mask like 255.255.255.0", in.Name, in.Netmask))
				continue
			}
			l.Prefix = netip.PrefixFrom(in.IPAddr, bits)
			if in.Gateway.IsValid() && !l.Prefix.Contains(in.Gateway) {
				errs = append(errs, fmt.Errorf("interface %q: gateway %s is not inside %s", in.Name, in.Gateway, l.Prefix.Masked()))
			}
		}
		l.LAN = l.Name == c.Main.Interface
		l.Uplink = !l.LAN && (in.Proto == "dhcp" || in.Gateway.IsValid())
		if l.LAN && in.Proto != "static" {
			errs = append(errs, fmt.Errorf("interface %q: it is the LAN (option interface %s), so it needs proto static with ipaddr and netmask: the portal's address must not change", in.Name, c.Main.Interface))
		}
		links = append(links, l)
	}
	lan := false
	for _, l := range links {
		lan = lan || l.LAN
	}
	if !lan && len(c.Interfaces) > 0 {
		var made []string
		for _, l := range links {
			made = append(made, l.Name)
		}
		errs = append(errs, fmt.Errorf("option interface %s is made by no 'config interface' section (they make %s): set option interface to the LAN one", c.Main.Interface, strings.Join(made, ", ")))
	}
	return links, errors.Join(errs...)
}

// maskBits is the prefix length of a contiguous IPv4 netmask.
func maskBits(m netip.Addr) (int, bool) {
	if !m.Is4() {
		return 0, false
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n := 0
	for v&0x80000000 != 0 {
		n++
		v <<= 1
	}
	return n, v == 0
}
