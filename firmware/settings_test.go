package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lobby-fw/lobby/internal/admin"
)

// The admin pages' Settings: written into config lobby of the file with
// every other byte kept, then applied as a reload; a text the config
// refuses changes nothing.
func TestSaveSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lobby")
	orig := "# venue\nconfig lobby 'main'\n\toption interface 'lo' # loopback here\n\toption venue_name \"Old\"\n\nconfig dns 'dns'\n\tlist upstream '192.0.2.53'\n"
	os.WriteFile(path, []byte(orig), 0o640)
	var applied []given
	rl := &reloader{path: path, log: slog.New(slog.NewTextHandler(io.Discard, nil)), apply: func(g given) error {
		applied = append(applied, g)
		return nil
	}, stop: func() { t.Error("stopped") }}
	rl.running, _ = load(path, rl.log)
	if rl.running == nil {
		t.Fatal("the base config does not load")
	}
	if err := rl.saveSettings(admin.Settings{VenueName: "Café \"Central\"", Terms: "Line one.\n\nIt's line two."}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := strings.Replace(orig, "\"Old\"\n", "\"Café \\\"Central\\\"\"\n\toption terms 'Line one.\n\nIt'\\''s line two.'\n", 1)
	if string(got) != want {
		t.Fatalf("file:\n%s\nwant:\n%s", got, want)
	}
	if len(applied) != 1 || applied[0].Portal.VenueName != "Café \"Central\"" || applied[0].Portal.Terms != "Line one.\n\nIt's line two." {
		t.Fatalf("applied %d times: %+v", len(applied), applied)
	}
	if s := rl.settings(); s.VenueName != "Café \"Central\"" {
		t.Errorf("settings read back %+v", s)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	if err := rl.saveSettings(admin.Settings{VenueName: strings.Repeat("x", 81), Terms: "t"}); err == nil || !strings.Contains(err.Error(), "80") {
		t.Errorf("81 characters: %v", err)
	}
	if again, _ := os.ReadFile(path); string(again) != want || len(applied) != 1 {
		t.Error("a refused text changed the file or reloaded")
	}
}
