//go:build e2e

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lobby-fw/lobby/internal/admin"
)

// TestAdminPages runs lobby with its admin listener on the router's WAN
// address (the operator's side in the lab) and checks that no client on
// the LAN reaches the admin port on any of the router's addresses, signed
// in or not, while from the lab's internet a wrong password is refused, the
// right one signs in, and a Prometheus scrape with Basic auth works.
func TestAdminPages(t *testing.T) {
	hash, err := admin.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	d := newDaemon(t)
	d.writeConfig(baseConfig(d.dir) + "\nconfig admin 'admin'\n\toption enabled '1'\n\toption listen '192.0.2.1:8080'\n\toption password_hash '" + hash + "'\n")
	d.start()
	waitLog(t, d, "admin: serving")

	// The listener is there, for the operator's side.
	jar := filepath.Join(t.TempDir(), "jar")
	curl := func(args ...string) (string, int) {
		t.Helper()
		out, err := inNS(t, inetNS, append([]string{"curl", "--noproxy", "*", "-s", "--max-time", "5", "-b", jar, "-c", jar, "-o", "/dev/stdout", "-w", "\n%{http_code}"}, args...)...)
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		i := strings.LastIndexByte(out, '\n')
		code := 0
		for _, c := range out[i+1:] {
			code = code*10 + int(c-'0')
		}
		return out[:i], code
	}
	page, code := curl("http://192.0.2.1:8080/login")
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	if code != 200 || m == nil {
		t.Fatalf("login page from the internet side: %d\n%s", code, page)
	}
	if _, code := curl("-d", "user=admin&password=wrong+horse&csrf="+m[1], "http://192.0.2.1:8080/login"); code != 403 {
		t.Fatalf("wrong password: %d", code)
	}
	if _, code := curl("-d", "user=admin&password=correct+horse&csrf="+m[1], "http://192.0.2.1:8080/login"); code != 303 {
		t.Fatalf("right password: %d", code)
	}
	if page, code := curl("http://192.0.2.1:8080/"); code != 200 || !strings.Contains(page, "Overview") || !strings.Contains(page, "nftables") {
		t.Fatalf("overview after login: %d\n%s", code, page)
	}

	// The guests: a LAN client, before and after sign-in, on every address
	// of the router. The connection must time out (dropped), not be
	// refused: where nothing listens, a refusal would mean the firewall
	// let the packet through.
	ptStatic(t, 1)
	mustNS(t, clientNS(1), "ip", "-6", "addr", "replace", "fd77::31/64", "dev", "eth0", "nodad")
	mustNS(t, clientNS(1), "ip", "-6", "route", "replace", "default", "via", "fd77::1", "dev", "eth0")
	t.Cleanup(func() { inNS(t, clientNS(1), "ip", "-6", "route", "del", "default") })
	for _, state := range []string{"preauth", "signed in"} {
		if state == "signed in" {
			if _, errOut, code := d.ctl("auth", clientMAC(1)); code != 0 {
				t.Fatalf("ctl auth: %s", errOut)
			}
		}
		for _, url := range []string{"http://192.0.2.1:8080/login", "http://10.77.0.1:8080/login", "http://[fd77::1]:8080/login", "http://[2001:db8:2::1]:8080/login"} {
			cmd := exec.Command("ip", "netns", "exec", clientNS(1), "curl", "--noproxy", "*", "-s", "--connect-timeout", "2", url)
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 28 {
				t.Errorf("%s client, %s: curl ended with %v; want a timeout (28): dropped", state, url, err)
			}
		}
	}

	// A scrape: without the password refused, with it the text format.
	if _, code := curl("http://192.0.2.1:8080/metrics"); code != 401 {
		t.Fatalf("scrape without a password: %d", code)
	}
	text, code := curl("-u", "admin:correct horse", "http://192.0.2.1:8080/metrics")
	if code != 200 || !strings.Contains(text, "# TYPE lobby_clients gauge\n") || !strings.Contains(text, `lobby_clients{state="authenticated"} 1`) ||
		!strings.Contains(text, "# TYPE lobby_dns_queries_total counter\n") {
		t.Fatalf("scrape: %d\n%s", code, text)
	}
	sample := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*\})? [-+0-9.eEInfa]+$`)
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if !strings.HasPrefix(line, "# HELP ") && !strings.HasPrefix(line, "# TYPE ") && !sample.MatchString(line) {
			t.Errorf("not the exposition format: %q", line)
		}
	}
	os.Remove(jar)
}
