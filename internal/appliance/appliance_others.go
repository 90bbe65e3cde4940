//go:build !linux

package appliance

import (
	"fmt"
	"runtime"
)

// Run is only for Linux; elsewhere it reports that and stops.
func Run(c Config) {
	c.Log.Error(fmt.Sprintf("appliance: not implemented on %s", runtime.GOOS))
	select {}
}
