package config

import (
	"strings"
	"testing"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		err  string
	}{
		{"0", 0, ""},
		{"0kbit", 0, ""},
		{"2mbit", 2e6, ""},
		{"512kbit", 512e3, ""},
		{"512KBit", 512e3, ""},
		{"1gbit", 1e9, ""},
		{"1.5mbit", 1.5e6, ""},
		{".5mbit", 5e5, ""},
		{"100bit", 100, ""},
		{"1.25kbit", 1250, ""},
		{"1.2345kbit", 0, "not a whole number"},
		{"1.2300kbit", 1230, ""},
		{"2000", 0, "no unit"},
		{"2mb", 0, `unknown unit "mb"`},
		{"", 0, "no number"},
		{"mbit", 0, "no number"},
		{"1..2mbit", 0, "not a number"},
		{".mbit", 0, "not a number"},
		{"-1mbit", 0, "no number"},
		{"99999999999999999999bit", 0, "too large"},
		{"18446744073709551615bit", 1<<64 - 1, ""},
		{"18446744073709552gbit", 0, "too large"},
		{"18446744073.709551616gbit", 0, "too large"},
	}
	for _, tt := range tests {
		got, err := ParseRate(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseRate(%q) = %d, %v; want an error with %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		err  string
	}{
		{"0", 0, ""},
		{"300MB", 300e6, ""},
		{"300mb", 300e6, ""},
		{"2GB", 2e9, ""},
		{"1.5GB", 1.5e9, ""},
		{"500KB", 500e3, ""},
		{"1TB", 1e12, ""},
		{"123", 123, ""},
		{"123B", 123, ""},
		{"1.5B", 0, "not a whole number"},
		{"2GiB", 0, `unknown unit "gib"`},
		{"GB", 0, "no number"},
		{"", 0, "no number"},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseSize(%q) = %d, %v; want an error with %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatUnits(t *testing.T) {
	rates := map[uint64]string{0: "0", 2e6: "2mbit", 512e3: "512kbit", 1.5e6: "1500kbit", 1e9: "1gbit", 1234: "1234bit"}
	for n, want := range rates {
		if got := FormatRate(n); got != want {
			t.Errorf("FormatRate(%d) = %q, want %q", n, got, want)
		}
	}
	sizes := map[uint64]string{0: "0", 300e6: "300MB", 2e9: "2GB", 1.5e9: "1500MB", 123: "123", 1e12: "1TB"}
	for n, want := range sizes {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// FuzzUnits: whatever ctl or a config file gives, parsing never panics,
// and what parses comes back the same through its format.
func FuzzUnits(f *testing.F) {
	for _, s := range []string{"2mbit", "512kbit", "1.5gbit", "0", "300MB", "2GB", "123", ".5mb", "1..2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := ParseRate(s); err == nil {
			if back, err := ParseRate(FormatRate(n)); err != nil || back != n {
				t.Errorf("rate %q = %d, formatted %q, read back %d, %v", s, n, FormatRate(n), back, err)
			}
		}
		if n, err := ParseSize(s); err == nil {
			if back, err := ParseSize(FormatSize(n)); err != nil || back != n {
				t.Errorf("size %q = %d, formatted %q, read back %d, %v", s, n, FormatSize(n), back, err)
			}
		}
	})
}

// config lobby's limits: defaults of none, values in their units, and a
// wrong one named with its line.
func TestLimitOptions(t *testing.T) {
	c, ps := parse(t, "config lobby 'main'\n\toption interface 'br-lan'\n")
	if len(ps) != 0 || c.Main.DownloadRate != 0 || c.Main.UploadRate != 0 || c.Main.Quota != 0 {
		t.Errorf("defaults: %v %+v", ps, c.Main)
	}
	c, ps = parse(t, "config lobby 'main'\n\toption interface 'br-lan'\n\toption download_rate '2mbit'\n\toption upload_rate '512kbit'\n\toption quota '1.5GB'\n")
	if len(ps) != 0 || c.Main.DownloadRate != 2e6 || c.Main.UploadRate != 512e3 || c.Main.Quota != 1.5e9 {
		t.Errorf("set: %v %+v", ps, c.Main)
	}
	_, ps = parse(t, "config lobby 'main'\n\toption interface 'br-lan'\n\toption download_rate '2000'\n\toption quota 'lots'\n")
	if len(ps) != 2 || !strings.HasPrefix(ps[0].Error(), ps[0].Pos.String()) ||
		!strings.Contains(ps[0].Error(), ":3: option download_rate: bad rate") || !strings.Contains(ps[1].Error(), ":4: option quota: bad size") {
		t.Errorf("problems %v", ps)
	}
}
