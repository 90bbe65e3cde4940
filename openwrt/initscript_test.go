package openwrt_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lobby-fw/lobby/internal/config"
)

// initRun runs /etc/init.d/lobby ACTION under the stand-in rc.common and
// returns the procd calls it made. With ujail, a stand-in /sbin/ujail
// exists. root is IPKG_INSTROOT (for enable/disable).
type initRun struct {
	tr    *uciTree
	ujail bool
	root  string
}

func (r initRun) run(t *testing.T, action string) (calls []string, stderr string) {
	t.Helper()
	dir := t.TempDir()
	script, err := os.ReadFile(filepath.Join(files(t), "lobby.init"))
	if err != nil {
		t.Fatal(err)
	}
	// The script's absolute paths, moved into the scratch directory where
	// a test must control them.
	ujail := filepath.Join(dir, "sbin", "ujail")
	if r.ujail {
		os.MkdirAll(filepath.Dir(ujail), 0o755)
		os.WriteFile(ujail, []byte("#!/bin/sh\n"), 0o755)
	}
	text := strings.ReplaceAll(string(script), "/sbin/ujail", ujail)
	initd := filepath.Join(dir, "etc", "init.d")
	os.MkdirAll(initd, 0o755)
	path := filepath.Join(initd, "lobby")
	if err := os.WriteFile(path, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "procd.log")
	sh := shell(t)
	cmd := exec.Command(sh[0], append(sh[1:], filepath.Join("testdata", "rc.common"), path, action)...)
	cmd.Env = r.tr.env("PROCD_LOG="+log, "IPKG_INSTROOT="+r.root)
	var errb strings.Builder
	cmd.Stderr = &errb
	if out, err := cmd.Output(); err != nil {
		t.Fatalf("rc.common %s %s: %v\n%s%s", path, action, err, out, errb.String())
	}
	b, _ := os.ReadFile(log)
	text = strings.ReplaceAll(strings.TrimSpace(string(b)), path, "/etc/init.d/lobby")
	if text == "" {
		return nil, errb.String()
	}
	return strings.Split(text, "\n"), errb.String()
}

func TestInitStart(t *testing.T) {
	tr := newUCITree(t, "network", "lobby")
	tr.write("network", mustRead(t, "testdata/uci/network")+"\nconfig interface 'guest'\n\toption proto 'static'\n\toption device 'br-guest'\n")
	instance := []string{
		"procd_open_service lobby /etc/init.d/lobby",
		"procd_open_instance",
		"procd_set_param command /usr/sbin/lobby run -c /etc/config/lobby",
		"procd_set_param respawn 3600 5 5",
		"procd_set_param stdout 1",
		"procd_set_param stderr 1",
		"procd_set_param file /etc/config/lobby",
		"procd_set_param reload_signal HUP",
		"procd_set_param limits memlock=unlimited",
	}
	jail := []string{
		"procd_add_jail lobby",
		"procd_set_param capabilities /etc/capabilities/lobby.json",
		"procd_set_param no_new_privs 1",
	}
	triggers := []string{
		"procd_close_instance",
		"procd_open_trigger",
		"procd_add_reload_trigger lobby",
		"procd_add_interface_trigger interface.*.up guest /etc/init.d/lobby restart",
		"procd_close_trigger",
		"procd_close_service set",
	}
	for _, tc := range []struct {
		name  string
		ujail bool
		want  []string
	}{
		{"with ujail", true, concat(instance, jail, triggers)},
		{"without ujail", false, concat(instance, triggers)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, action := range []string{"start", "boot"} {
				got, _ := initRun{tr: tr, ujail: tc.ujail}.run(t, action)
				if !reflect.DeepEqual(got, tc.want) {
					t.Errorf("%s: procd calls\n%s\nwant\n%s", action, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
				}
			}
		})
	}
}

func TestInitDisabled(t *testing.T) {
	// enabled 0: no instance, so procd starts nothing (and stops a running
	// one on reload), but the triggers stay so that enabling it again with
	// uci commit + reload_config starts it.
	tr := newUCITree(t, "network", "lobby")
	for _, off := range []string{"0", "off", "false", "no", "disabled"} {
		tr.write("lobby", strings.Replace(mustRead(t, filepath.Join(files(t), "lobby.config")), "option enabled '1'", "option enabled '"+off+"'", 1))
		for _, action := range []string{"start", "reload"} {
			got, stderr := initRun{tr: tr, ujail: true}.run(t, action)
			for _, c := range got {
				if strings.HasPrefix(c, "procd_open_instance") || strings.HasPrefix(c, "procd_set_param command") {
					t.Errorf("enabled %q: %s made an instance: %s", off, action, c)
				}
			}
			if !contains(got, "procd_add_reload_trigger lobby") {
				t.Errorf("enabled %q: %s dropped the reload trigger: %v", off, action, got)
			}
			if !strings.Contains(stderr, "not started: option enabled is '"+off+"'") {
				t.Errorf("enabled %q: no word of why: %q", off, stderr)
			}
		}
	}
	// No enabled option at all means enabled (the config's default).
	tr.write("lobby", "config lobby 'main'\n\toption interface 'br-lan'\n")
	got, _ := initRun{tr: tr}.run(t, "start")
	if !contains(got, "procd_set_param command /usr/sbin/lobby run -c /etc/config/lobby") {
		t.Errorf("no enabled option: not started: %v", got)
	}
}

func TestInitTriggers(t *testing.T) {
	// The interface trigger names the network whose device lobby serves.
	for _, tc := range []struct {
		name, network, iface, want string
	}{
		{"lan by device", "", "br-lan", "procd_add_interface_trigger interface.*.up lan /etc/init.d/lobby restart"},
		{"plain device", "", "wan", "procd_add_interface_trigger interface.*.up wan /etc/init.d/lobby restart"},
		{"old-style bridge", "\nconfig interface 'hotspot'\n\toption type 'bridge'\n\toption ifname 'eth0.3'\n", "br-hotspot",
			"procd_add_interface_trigger interface.*.up hotspot /etc/init.d/lobby restart"},
		{"unknown device", "", "eth9", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newUCITree(t, "network")
			tr.write("network", mustRead(t, "testdata/uci/network")+tc.network)
			tr.write("lobby", "config lobby 'main'\n\toption interface '"+tc.iface+"'\n")
			got, _ := initRun{tr: tr}.run(t, "start")
			var trig []string
			for _, c := range got {
				if strings.HasPrefix(c, "procd_add_interface_trigger") {
					trig = append(trig, c)
				}
			}
			if strings.Join(trig, "\n") != tc.want {
				t.Errorf("interface triggers %q, want %q", trig, tc.want)
			}
		})
	}
}

func TestInitReloadStopEnable(t *testing.T) {
	tr := newUCITree(t, "network", "lobby")
	// reload re-sends the service: procd sees the config file's new
	// checksum and, with reload_signal, sends SIGHUP instead of restarting.
	got, _ := initRun{tr: tr}.run(t, "reload")
	if !contains(got, "procd_set_param reload_signal HUP") || !contains(got, "procd_set_param file /etc/config/lobby") || !contains(got, "procd_close_service set") {
		t.Errorf("reload: %v", got)
	}
	got, _ = initRun{tr: tr}.run(t, "stop")
	if !reflect.DeepEqual(got, []string{"procd_kill lobby ''"}) {
		t.Errorf("stop: %v", got)
	}
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc", "rc.d"), 0o755)
	initRun{tr: tr, root: root}.run(t, "enable")
	for link, want := range map[string]string{"S60lobby": "../init.d/lobby", "K10lobby": "../init.d/lobby"} {
		if got, err := os.Readlink(filepath.Join(root, "etc", "rc.d", link)); err != nil || got != want {
			t.Errorf("enable: /etc/rc.d/%s -> %q (%v), want %s", link, got, err, want)
		}
	}
	initRun{tr: tr, root: root}.run(t, "disable")
	if entries, _ := os.ReadDir(filepath.Join(root, "etc", "rc.d")); len(entries) != 0 {
		t.Errorf("disable left %v", entries)
	}
}

func TestCapabilities(t *testing.T) {
	// Only what lobby needs: nftables/iptables, netlink (links, neighbours,
	// conntrack, tc) → NET_ADMIN; raw and packet sockets (511 responder,
	// DHCP) → NET_RAW; ports 53 and 67 → NET_BIND_SERVICE; the shaper's
	// BPF map and classifier programs → BPF (Linux 5.8+). All five sets,
	// so that an iptables lobby runs inherits them too.
	var caps map[string][]string
	if err := json.Unmarshal([]byte(mustRead(t, filepath.Join(files(t), "lobby.json"))), &caps); err != nil {
		t.Fatal(err)
	}
	want := []string{"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_NET_BIND_SERVICE", "CAP_BPF"}
	for _, set := range []string{"bounding", "effective", "permitted", "inheritable", "ambient"} {
		if !reflect.DeepEqual(caps[set], want) {
			t.Errorf("%s = %v, want %v", set, caps[set], want)
		}
	}
	if len(caps) != 5 {
		t.Errorf("capability sets %v", caps)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestShippedConfig: the /etc/config/lobby the package installs is one
// that lobby check accepts, enabled, serving the guest bridge.
func TestShippedConfig(t *testing.T) {
	c, ps, err := config.Load(filepath.Join(files(t), "lobby.config"))
	if err != nil || len(ps) != 0 {
		t.Fatalf("lobby check would reject it: %v %v", err, ps)
	}
	if !c.Main.Enabled || c.Main.Interface != "br-guest" {
		t.Errorf("enabled %v, interface %q", c.Main.Enabled, c.Main.Interface)
	}
}
