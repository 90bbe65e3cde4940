package admin

import (
	"bytes"
	"image/png"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"rsc.io/qr"
)

// svgModules reads back the dark modules qrSVG drew: the set of (x, y),
// without the quiet zone, and the side of the code.
func svgModules(t *testing.T, svg string) (map[[2]int]bool, int) {
	t.Helper()
	m := regexp.MustCompile(`^<svg [^>]*viewBox="0 0 (\d+) (\d+)"[^>]*><rect width="(\d+)" height="(\d+)" fill="#fff"/><path fill="#000" d="([^"]*)"/></svg>$`).FindStringSubmatch(svg)
	if m == nil || m[1] != m[2] || m[1] != m[3] || m[1] != m[4] {
		t.Fatalf("not the SVG qrSVG draws: %.200s", svg)
	}
	side, _ := strconv.Atoi(m[1])
	dark := map[[2]int]bool{}
	runs := regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`)
	if rest := runs.ReplaceAllString(m[5], ""); rest != "" {
		t.Fatalf("path has more than runs: %q", rest)
	}
	for _, r := range runs.FindAllStringSubmatch(m[5], -1) {
		x, _ := strconv.Atoi(r[1])
		y, _ := strconv.Atoi(r[2])
		w, _ := strconv.Atoi(r[3])
		if r[3] != r[4] || w < 1 {
			t.Fatalf("run %q does not close", r[0])
		}
		for i := range w {
			if x+i < qrQuiet || y < qrQuiet || x+i >= side-qrQuiet || y >= side-qrQuiet {
				t.Fatalf("run %q is in the quiet zone", r[0])
			}
			dark[[2]int{x + i - qrQuiet, y - qrQuiet}] = true
		}
	}
	return dark, side - 2*qrQuiet
}

// TestQRMatchesLibraryPNG draws codes of portal links and checks each
// module against the PNG that rsc.io/qr's own Encode makes of the same
// text (its byte mode and mask 0, as qrCode uses): the SVG must be the
// same matrix, module for module, with the same quiet zone.
func TestQRMatchesLibraryPNG(t *testing.T) {
	for _, text := range []string{
		"http://10.77.0.1/?voucher=ABCDE-FGHJK",
		"https://portal.lobby:8443/?voucher=23456-789AB",
		"http://[fd77::1]:8000/?voucher=ZZZZZ-ZZZZZ",
		"x",
	} {
		svg, err := qrSVG(text)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		dark, size := svgModules(t, svg)
		lib, err := qr.Encode(text, qr.M)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(lib.PNG()))
		if err != nil {
			t.Fatal(err)
		}
		// The library's PNG: Scale pixels per module, a 4-module border.
		if want := (size + 2*qrQuiet) * lib.Scale; img.Bounds().Dx() != want || lib.Size != size {
			t.Fatalf("%q: library's code is %d modules (%d px), ours %d", text, lib.Size, img.Bounds().Dx(), size)
		}
		diff := 0
		for y := range size {
			for x := range size {
				px := img.At((x+qrQuiet)*lib.Scale+lib.Scale/2, (y+qrQuiet)*lib.Scale+lib.Scale/2)
				r, _, _, _ := px.RGBA()
				if (r < 0x8000) != dark[[2]int{x, y}] {
					diff++
				}
			}
		}
		if diff > 0 {
			t.Errorf("%q: %d of %d modules differ from the library's PNG", text, diff, size*size)
		}
	}
}

// TestQRVersions: the smallest version (side 17 + 4×version) that holds
// the text in byte mode at level M (ISO/IEC 18004 table 7: 14, 26, 42, 62
// bytes for versions 1 to 4).
func TestQRVersions(t *testing.T) {
	for _, tc := range []struct{ len, side int }{
		{1, 21}, {14, 21}, {15, 25}, {26, 25}, {27, 29}, {42, 29}, {43, 33}, {62, 33}, {63, 37},
	} {
		c, err := qrCode(strings.Repeat("a", tc.len))
		if err != nil || c.Size != tc.side {
			t.Errorf("%d bytes: side %d, %v; want %d", tc.len, c.Size, err, tc.side)
		}
	}
	if _, err := qrCode(strings.Repeat("a", 2332)); err == nil {
		t.Error("2332 bytes encoded; version 40 at M holds 2331")
	}
}
