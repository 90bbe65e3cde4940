//go:build !linux

package dhcp

import (
	"fmt"
	"net/netip"
	"runtime"

	"golang.org/x/net/ipv4"
)

// conn is not implemented outside Linux: the server needs SO_BINDTODEVICE
// and AF_PACKET.
type conn struct{}

func listen(iface string, server netip.Addr) (*conn, error) {
	return nil, fmt.Errorf("dhcp server: not implemented on %s", runtime.GOOS)
}

func (c *conn) readBatch(ms []ipv4.Message) (int, error)                { return 0, nil }
func (c *conn) send(rs []reply, src netip.Addr) (failed int, err error) { return 0, nil }

// Close does nothing.
func (c *conn) Close() error { return nil }
