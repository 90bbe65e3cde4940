package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lobby-fw/lobby/internal/admin"
	"github.com/lobby-fw/lobby/internal/uci"
)

// passwdWith runs lobby passwd with input on a pipe (not a terminal).
func passwdWith(t *testing.T, input string, args ...string) (int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() { w.WriteString(input); w.Close() }()
	defer r.Close()
	var out, errb bytes.Buffer
	code := passwd(args, r, &out, &errb)
	return code, out.String() + errb.String()
}

func TestPasswd(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lobby")
	orig := "# the venue's hotspot\nconfig lobby 'main'\n\toption interface 'br-lan' # LAN\n"
	os.WriteFile(path, []byte(orig), 0o600)

	code, out := passwdWith(t, "correct horse\n", "-c", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	if strings.Contains(out, "correct horse") || strings.Contains(out, "pbkdf2") {
		t.Errorf("output shows the password or its hash: %s", out)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), orig+"\nconfig admin 'admin'\n\toption password_hash '$pbkdf2-sha256$") {
		t.Fatalf("file:\n%s", data)
	}
	first := adminHash(t, path)
	if !admin.CheckPassword(first, "correct horse") {
		t.Fatal("the hash written does not match the password")
	}

	// A second run replaces the hash in place.
	if code, out := passwdWith(t, "battery staple\r\n", "-c", path); code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	second := adminHash(t, path)
	if !admin.CheckPassword(second, "battery staple") || admin.CheckPassword(second, "correct horse") {
		t.Fatal("the second password did not replace the first")
	}
	data2, _ := os.ReadFile(path)
	if string(data2) != strings.Replace(string(data), first, second, 1) {
		t.Errorf("the second run changed more than the hash:\n%s", data2)
	}

	for _, tc := range []struct {
		input string
		args  []string
		code  int
	}{
		{"short\n", []string{"-c", path}, 1},
		{"", []string{"-c", path}, 1},
		{"correct horse\n", []string{"-c", filepath.Join(dir, "missing")}, 1},
		{"correct horse\n", []string{"-x"}, 2},
		{"correct horse\n", []string{"-c", path, "extra"}, 2},
	} {
		if code, out := passwdWith(t, tc.input, tc.args...); code != tc.code {
			t.Errorf("passwd %v with %q: exit %d, want %d (%s)", tc.args, tc.input, code, tc.code, out)
		}
	}
	if data3, _ := os.ReadFile(path); !bytes.Equal(data3, data2) {
		t.Error("a failed run changed the file")
	}
}

// adminHash reads option password_hash of config admin.
func adminHash(t *testing.T, path string) string {
	t.Helper()
	f, err := uci.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range f.Sections {
		if s.Type == "admin" {
			return s.Option("password_hash").String()
		}
	}
	return ""
}
