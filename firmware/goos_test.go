package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOtherGOOSRefused: a build for a system other than Linux stops with
// one line that says lobby is Linux-only (README, Platforms). go test puts
// its own go first on PATH.
func TestOtherGOOSRefused(t *testing.T) {
	for _, goos := range []string{"darwin", "freebsd", "windows"} {
		cmd := exec.Command("go", "build", "-o", "/dev/null", "./...")
		cmd.Dir = ".."
		cmd.Env = append(cmd.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if err == nil || len(lines) != 1 || !strings.Contains(lines[0], "lobby_is_linux_only_build_it_with_GOOS_linux") {
			t.Errorf("GOOS=%s go build ./...: %v\n%s", goos, err, out)
		}
	}
}
