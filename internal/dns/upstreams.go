package dns

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// resolvFiles are read in order for the upstreams when the config lists
// none; the first that names a usable nameserver wins. On OpenWrt
// /etc/resolv.conf names 127.0.0.1 (the local dnsmasq) and netifd writes
// the real upstreams to the other two.
func resolvFiles() []string {
	return []string{"/etc/resolv.conf", "/tmp/resolv.conf.d/resolv.conf.auto", "/tmp/resolv.conf.auto"}
}

// upstreams returns the nameservers to forward to and where they came from:
// configured (`list upstream`) when set, else the first of files with a usable
// nameserver. Loopback nameservers and the portal address itself are not
// usable: they would be ourselves, or a local resolver we cannot tell from
// ourselves.
func upstreams(configured []netip.AddrPort, portal netip.Addr, files []string) ([]netip.AddrPort, string) {
	if len(configured) > 0 {
		return configured, "config"
	}
	for _, f := range files {
		addrs, err := readResolvConf(f)
		if err != nil {
			continue
		}
		var ups []netip.AddrPort
		for _, a := range addrs {
			if a.IsLoopback() || a.IsUnspecified() || a == portal {
				continue
			}
			ups = append(ups, netip.AddrPortFrom(a, 53))
		}
		if len(ups) > 0 {
			return ups, f
		}
	}
	return nil, strings.Join(files, ", ")
}

// readResolvConf returns the nameserver addresses of a resolv.conf(5)
// file, skipping lines it cannot read as the C library does.
func readResolvConf(path string) ([]netip.Addr, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var addrs []netip.Addr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue
		}
		if a, err := netip.ParseAddr(fields[1]); err == nil {
			addrs = append(addrs, a.Unmap())
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return addrs, nil
}

// filesStamp identifies the current contents of files by size and
// modification time, so a change can be noticed without reading them.
func filesStamp(files []string) string {
	var b strings.Builder
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			fmt.Fprintf(&b, "%s:%d:%d;", f, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return b.String()
}
