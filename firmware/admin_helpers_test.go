//go:build e2e

package main

import (
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/lobby-fw/lobby/internal/admin"
)

// adminPage is the admin pages' address in the lab: the router's WAN
// address, the operator's side.
const adminPage = "http://192.0.2.1:8080"

// adminSection is a config admin section on adminPage with password pw.
func adminSection(t *testing.T, pw string) string {
	t.Helper()
	hash, err := admin.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	return "\nconfig admin 'admin'\n\toption enabled '1'\n\toption listen '192.0.2.1:8080'\n\toption password_hash '" + hash + "'\n"
}

// adminCurl returns a curl from the lab's internet with a cookie jar of
// its own: it returns the body and the status.
func adminCurl(t *testing.T) func(args ...string) (string, int) {
	jar := filepath.Join(t.TempDir(), "jar")
	return func(args ...string) (string, int) {
		t.Helper()
		out, err := inNS(t, inetNS, append([]string{"curl", "--noproxy", "*", "-s", "--max-time", "5", "-b", jar, "-c", jar, "-o", "/dev/stdout", "-w", "\n%{http_code}"}, args...)...)
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		i := strings.LastIndexByte(out, '\n')
		code, _ := strconv.Atoi(out[i+1:])
		return out[:i], code
	}
}

// adminCSRF is the CSRF token of a page's form.
func adminCSRF(t *testing.T, page string) string {
	t.Helper()
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return m[1]
}

// adminLogin signs curl in as admin with pw.
func adminLogin(t *testing.T, curl func(args ...string) (string, int), pw string) {
	t.Helper()
	page, code := curl(adminPage + "/login")
	if code != 200 {
		t.Fatalf("login page: %d\n%s", code, page)
	}
	form := "user=admin&password=" + url.QueryEscape(pw) + "&csrf=" + adminCSRF(t, page)
	if _, code := curl("-d", form, adminPage+"/login"); code != 303 {
		t.Fatalf("login: %d", code)
	}
}
