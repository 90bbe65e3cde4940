//go:build !appliance

package main

// pid1 does nothing in builds without the appliance (see appliance.go):
// lobby as a container's PID 1 runs as it would anywhere else.
func pid1() {}
