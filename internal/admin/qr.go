package admin

import (
	"errors"
	"strconv"
	"strings"

	"rsc.io/qr/coding"
)

// qrLevel is the error correction of the cards' QR codes: M (15% of the
// code may be lost), the usual choice for print that may get creased.
const qrLevel = coding.M

// qrCode encodes text (in byte mode: a URL has lower case, which the
// alphanumeric mode lacks) in the smallest version that holds it. It uses
// rsc.io/qr's coding package directly: the package qr above it would link
// image/png and its compressor (~30 KB of flash) for nothing here.
func qrCode(text string) (*coding.Code, error) {
	enc := coding.String(text)
	for v := coding.Version(coding.MinVersion); v <= coding.MaxVersion; v++ {
		if enc.Bits(v) > v.DataBytes(qrLevel)*8 {
			continue
		}
		p, err := coding.NewPlan(v, qrLevel, 0)
		if err != nil {
			return nil, err
		}
		return p.Encode(enc)
	}
	return nil, errors.New("qr: text too long")
}

// qrQuiet is the quiet zone around a code, in modules (ISO/IEC 18004 §6.3.8
// asks for 4).
const qrQuiet = 4

// qrSVG draws text's QR code as inline SVG: one path, a rectangle per run
// of dark modules in a row, one unit per module, on a white square with
// the quiet zone. It scales to whatever size the page gives it.
func qrSVG(text string) (string, error) {
	c, err := qrCode(text)
	if err != nil {
		return "", err
	}
	n := strconv.Itoa(c.Size + 2*qrQuiet)
	var b strings.Builder
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ` + n + ` ` + n + `" shape-rendering="crispEdges" role="img" aria-label="QR code">`)
	b.WriteString(`<rect width="` + n + `" height="` + n + `" fill="#fff"/><path fill="#000" d="`)
	for y := range c.Size {
		for x := 0; x < c.Size; {
			if !c.Black(x, y) {
				x++
				continue
			}
			run := 1
			for x+run < c.Size && c.Black(x+run, y) {
				run++
			}
			b.WriteString("M" + strconv.Itoa(x+qrQuiet) + " " + strconv.Itoa(y+qrQuiet) + "h" + strconv.Itoa(run) + "v1h-" + strconv.Itoa(run) + "z")
			x += run
		}
	}
	b.WriteString(`"/></svg>`)
	return b.String(), nil
}
