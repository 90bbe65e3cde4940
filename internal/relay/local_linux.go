package relay

import (
	"fmt"
	"net/netip"
	"syscall"
)

// localPrefixes lists the router's own addresses of one family as they are
// now, each with its prefix length: the attached subnet, which holds the address itself.
// It is one RTM_GETADDR dump over netlink (rtnetlink(7)), read again for
// every connection the relay opens, so that an address or network added
// after start — a new VLAN, a WAN address from DHCP — is refused at once.
// A point-to-point link's peer (IFA_ADDRESS differing from IFA_LOCAL) is
// listed too.
func localPrefixes(ipv6 bool) ([]netip.Prefix, error) {
	family := syscall.AF_INET
	if ipv6 {
		family = syscall.AF_INET6
	}
	rib, err := syscall.NetlinkRIB(syscall.RTM_GETADDR, family)
	if err != nil {
		return nil, fmt.Errorf("listing the router's addresses: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(rib)
	if err != nil {
		return nil, fmt.Errorf("listing the router's addresses: %w", err)
	}
	var out []netip.Prefix
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Type != syscall.RTM_NEWADDR || len(m.Data) < syscall.SizeofIfAddrmsg {
			continue
		}
		bits := int(m.Data[1]) // struct ifaddrmsg: family, prefixlen, flags, scope, index
		attrs, err := syscall.ParseNetlinkRouteAttr(m)
		if err != nil {
			return nil, fmt.Errorf("listing the router's addresses: %w", err)
		}
		for _, a := range attrs {
			if a.Attr.Type != syscall.IFA_ADDRESS && a.Attr.Type != syscall.IFA_LOCAL {
				continue
			}
			ip, ok := netip.AddrFromSlice(a.Value)
			if !ok {
				continue
			}
			p, err := ip.Prefix(bits)
			if err == nil && (len(out) == 0 || out[len(out)-1] != p) { // IPv4 has both, mostly equal
				out = append(out, p)
			}
		}
	}
	return out, nil
}
