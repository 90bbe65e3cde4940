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

// The Settings' methods and limits: list auth rewritten in place, limits
// set, added and removed in their sections, config reading each (a value
// or a method it refuses changes nothing), applied as a reload.
func TestSaveSettingsMethodsAndLimits(t *testing.T) {
	const orig = "config lobby 'main'\n\toption interface 'lo'\n\tlist auth 'click' # first\n\tlist auth 'voucher'\n\toption session_timeout '2h'\n\nconfig click\n\toption quota '100MB'\n"
	all := func(set map[string]string) map[string]string {
		m := map[string]string{}
		for _, l := range admin.LimitOptions {
			m[l.Key()] = set[l.Key()]
		}
		return m
	}
	for _, tt := range []struct {
		name   string
		st     admin.Settings
		want   string // the file; "": refused, unchanged
		errHas string
	}{
		{"methods and limits", admin.Settings{Auth: []string{"voucher", "click"}, Limits: all(map[string]string{"lobby.idle_timeout": "10m", "click.quota": "300MB", "voucher.devices": "3"})},
			"config lobby 'main'\n\toption interface 'lo'\n\tlist auth 'voucher'\n\tlist auth 'click'\n\t# first\n\toption venue_name 'Lab'\n\toption terms 'Be kind.'\n\toption idle_timeout '10m'\n\nconfig click\n\toption quota '300MB'\n\nconfig voucher 'voucher'\n\toption devices '3'\n", ""},
		{"texts only keep the rest", admin.Settings{}, strings.Replace(orig, "'2h'\n", "'2h'\n\toption venue_name 'Lab'\n\toption terms 'Be kind.'\n", 1), ""},
		{"a limit config refuses", admin.Settings{Limits: map[string]string{"lobby.quota": "lots"}}, "", "quota"},
		{"radius without config radius", admin.Settings{Auth: []string{"radius"}}, "", "config radius"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "lobby")
			os.WriteFile(path, []byte(orig), 0o600)
			var applied []given
			rl := &reloader{path: path, log: slog.New(slog.NewTextHandler(io.Discard, nil)), apply: func(g given) error {
				applied = append(applied, g)
				return nil
			}, stop: func() { t.Error("stopped") }}
			if rl.running, _ = load(path, rl.log); rl.running == nil {
				t.Fatal("the base config does not load")
			}
			tt.st.VenueName, tt.st.Terms = "Lab", "Be kind."
			err := rl.saveSettings(tt.st)
			got, _ := os.ReadFile(path)
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) || string(got) != orig || len(applied) != 0 {
					t.Errorf("err %v, applied %d; file:\n%s", err, len(applied), got)
				}
				return
			}
			if err != nil || string(got) != tt.want || len(applied) != 1 {
				t.Fatalf("err %v, applied %d; file:\n%s\nwant:\n%s", err, len(applied), got, tt.want)
			}
			read := rl.settings()
			if tt.st.Auth != nil && strings.Join(read.Auth, " ") != strings.Join(tt.st.Auth, " ") {
				t.Errorf("methods read back %v", read.Auth)
			}
			for k, v := range tt.st.Limits {
				if read.Limits[k] != v {
					t.Errorf("%s read back %q, want %q", k, read.Limits[k], v)
				}
			}
		})
	}
}
