//go:build !linux

package relay

import (
	"fmt"
	"net/netip"
	"runtime"
)

// localPrefixes cannot list the router's addresses off Linux; the relay
// then refuses every destination rather than guess.
func localPrefixes(bool) ([]netip.Prefix, error) {
	return nil, fmt.Errorf("listing the router's addresses: not implemented on %s", runtime.GOOS)
}
