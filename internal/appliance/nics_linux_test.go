package appliance

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// fakeSysNet builds a /sys/class/net with the links sysfs has for a NIC
// (device, device/driver, device/subsystem) and a virtual link without.
func fakeSysNet(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	net := filepath.Join(root, "class", "net")
	nic := func(name, mac, driver, bus string) {
		dev := filepath.Join(root, "devices", name)
		for _, d := range []string{dev, filepath.Join(root, "bus", bus), filepath.Join(root, "drivers", driver), filepath.Join(net, name)} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		must(t, os.Symlink(filepath.Join(root, "drivers", driver), filepath.Join(dev, "driver")))
		must(t, os.Symlink(filepath.Join(root, "bus", bus), filepath.Join(dev, "subsystem")))
		must(t, os.Symlink(dev, filepath.Join(net, name, "device")))
		must(t, os.WriteFile(filepath.Join(net, name, "address"), []byte(mac+"\n"), 0o644))
	}
	nic("eth10", "00:0d:b9:00:00:0a", "r8152", "usb")
	nic("eth0", "00:0d:b9:00:00:00", "igb", "pci")
	nic("eth2", "00:0d:b9:00:00:02", "igb", "pci")
	for _, v := range []string{"lo", "br-lan"} {
		must(t, os.MkdirAll(filepath.Join(net, v), 0o755))
		must(t, os.WriteFile(filepath.Join(net, v, "address"), []byte("00:00:00:00:00:00\n"), 0o644))
	}
	return net
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestListNICs(t *testing.T) {
	got, err := listNICs(fakeSysNet(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []NIC{
		{Name: "eth0", MAC: "00:0d:b9:00:00:00", Driver: "igb", Bus: "pci"},
		{Name: "eth2", MAC: "00:0d:b9:00:00:02", Driver: "igb", Bus: "pci"},
		{Name: "eth10", MAC: "00:0d:b9:00:00:0a", Driver: "r8152", Bus: "usb"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("listNICs:\n got %v\nwant %v", got, want)
	}
	if _, err := listNICs(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("listNICs of a missing directory: no error")
	}
}

func TestNICSummary(t *testing.T) {
	nics := []NIC{
		{Name: "eth0", MAC: "m0", Driver: "igb", Bus: "pci"},
		{Name: "eth1", MAC: "m1", Driver: "igb", Bus: "pci"},
		{Name: "eth2", MAC: "m2", Driver: "r8152", Bus: "usb"},
	}
	for _, tc := range []struct {
		name         string
		nics         []NIC
		used         map[string]bool
		have, unused string
	}{
		{"none found", nil, map[string]bool{"eth0": true}, "none", "-"},
		{"all used", nics[:2], map[string]bool{"eth0": true, "eth1": true}, "eth0 (igb, pci, m0), eth1 (igb, pci, m1)", "-"},
		{"one left", nics, map[string]bool{"eth0": true, "eth1": true, "br-lan": true}, "eth0 (igb, pci, m0), eth1 (igb, pci, m1), eth2 (r8152, usb, m2)", "eth2"},
		{"nothing configured", nics[:2], nil, "eth0 (igb, pci, m0), eth1 (igb, pci, m1)", "eth0,eth1"},
	} {
		have, unused := nicSummary(tc.nics, tc.used)
		if have != tc.have || unused != tc.unused {
			t.Errorf("%s: nicSummary = %q, %q; want %q, %q", tc.name, have, unused, tc.have, tc.unused)
		}
	}
}

func TestLessIfName(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"eth2", "eth10", true},
		{"eth10", "eth2", false},
		{"eth0", "usb0", true},
		{"eth", "eth0", true},
		{"eth0", "eth0", false},
	} {
		if got := lessIfName(tc.a, tc.b); got != tc.want {
			t.Errorf("lessIfName(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
