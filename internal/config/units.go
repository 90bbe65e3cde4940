package config

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// A unit is a suffix and what one of it is worth.
type unit struct {
	suffix string
	n      uint64
}

// Rate units (SPEC §2: rates in kbit, mbit, gbit), decimal as tc's are,
// largest first for FormatRate.
var rateUnits = []unit{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}}

// Size units (SPEC §2: 500MB, 2GB, decimal), largest first for FormatSize.
var sizeUnits = []unit{{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}

// ParseRate reads a rate in bit/s: "2mbit", "512kbit", "1.5gbit", "0"
// (none). A number needs a unit — tc reads a bare number as bytes, a
// reader might as bits — except 0, which is the same in every unit.
func ParseRate(s string) (uint64, error) {
	n, err := parseUnits(s, rateUnits, false)
	if err != nil {
		return 0, fmt.Errorf("bad rate %q: %v (want a number with kbit, mbit or gbit, like 2mbit, or 0 for none)", s, err)
	}
	return n, nil
}

// ParseSize reads a size in bytes: "300MB", "2GB", "1.5GB", "500000"
// (bytes), "0" (none). KB, MB, GB and TB are decimal, as disk and data
// plans count.
func ParseSize(s string) (uint64, error) {
	n, err := parseUnits(s, sizeUnits, true)
	if err != nil {
		return 0, fmt.Errorf("bad size %q: %v (want bytes or a number with KB, MB, GB or TB, like 300MB, or 0 for none)", s, err)
	}
	return n, nil
}

// FormatRate writes bit/s the way ParseRate reads them, in the largest unit
// that keeps the number whole: 2000000 is "2mbit", 1500000 "1500kbit".
func FormatRate(n uint64) string { return formatUnits(n, rateUnits, "") }

// FormatSize writes bytes the way ParseSize reads them: "300MB", "1500MB",
// "123".
func FormatSize(n uint64) string { return formatUnits(n, sizeUnits, "B") }

// parseUnits reads a decimal number (with a fraction, if the result is
// whole) followed by one of units, without regard to case; a bare number
// is the last unit's when bare is set.
func parseUnits(s string, units []unit, bare bool) (uint64, error) {
	lower := strings.ToLower(strings.TrimSpace(s))
	i := strings.IndexFunc(lower, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, suffix := lower, ""
	if i >= 0 {
		num, suffix = lower[:i], lower[i:]
	}
	if num == "" {
		return 0, fmt.Errorf("no number")
	}
	var per uint64
	switch {
	case suffix == "" && (bare || strings.Trim(num, "0.") == ""):
		per = units[len(units)-1].n
	case suffix == "":
		return 0, fmt.Errorf("no unit")
	default:
		for _, u := range units {
			if suffix == strings.ToLower(u.suffix) {
				per = u.n
			}
		}
		if per == 0 {
			return 0, fmt.Errorf("unknown unit %q", suffix)
		}
	}
	whole, frac, _ := strings.Cut(num, ".")
	if whole == "" && frac == "" || strings.Contains(frac, ".") {
		return 0, fmt.Errorf("not a number")
	}
	w := uint64(0)
	if whole != "" {
		var err error
		if w, err = strconv.ParseUint(whole, 10, 64); err != nil {
			return 0, fmt.Errorf("number too large")
		}
	}
	hi, total := bits.Mul64(w, per)
	if hi != 0 {
		return 0, fmt.Errorf("number too large")
	}
	// The fraction, digit by digit: each is worth a tenth of the last.
	place := per
	for _, d := range frac {
		if place%10 != 0 {
			if d != '0' {
				return 0, fmt.Errorf("not a whole number of %s", units[len(units)-1].suffix)
			}
			continue
		}
		place /= 10
		var carry uint64
		total, carry = bits.Add64(total, uint64(d-'0')*place, 0)
		if carry != 0 {
			return 0, fmt.Errorf("number too large")
		}
	}
	return total, nil
}

// formatUnits writes n in the largest of units that divides it; a unit
// named noSuffix is written without its suffix.
func formatUnits(n uint64, units []unit, noSuffix string) string {
	if n == 0 {
		return "0"
	}
	for _, u := range units {
		if n%u.n == 0 {
			s := strconv.FormatUint(n/u.n, 10)
			if u.suffix != noSuffix {
				s += u.suffix
			}
			return s
		}
	}
	return strconv.FormatUint(n, 10)
}

// rate reads option name as a rate (ParseRate).
func (d *decoder) rate(name string, dst *uint64) {
	if v, ok := d.one(name); ok {
		n, err := ParseRate(v.Text)
		if err != nil {
			d.errorf(v.Pos, "option %s: %v", name, err)
			return
		}
		*dst = n
	}
}

// size reads option name as a size in bytes (ParseSize).
func (d *decoder) size(name string, dst *uint64) {
	if v, ok := d.one(name); ok {
		n, err := ParseSize(v.Text)
		if err != nil {
			d.errorf(v.Pos, "option %s: %v", name, err)
			return
		}
		*dst = n
	}
}
