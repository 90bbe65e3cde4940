package config

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ParseDuration reads a UCI duration: a bare number of seconds ("90"), or one
// or more number-unit pairs with the units s, m, h and d ("90s", "12h",
// "1d12h"). OpenWrt configs write durations this way; Go's time.ParseDuration
// knows no days and needs a unit, so it is not used.
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("empty duration")
	}
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	var total time.Duration
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) {
			return 0, fmt.Errorf("bad duration %q: want a number with s, m, h or d (like 90s or 12h)", s)
		}
		n, err := strconv.ParseUint(rest[:i], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("bad duration %q: number too large", s)
		}
		var unit time.Duration
		switch rest[i] {
		case 's':
			unit = time.Second
		case 'm':
			unit = time.Minute
		case 'h':
			unit = time.Hour
		case 'd':
			unit = 24 * time.Hour
		default:
			return 0, fmt.Errorf("bad duration %q: unit %q is not one of s, m, h, d", s, rest[i])
		}
		total += time.Duration(n) * unit
		if total > 3650*24*time.Hour {
			return 0, fmt.Errorf("bad duration %q: longer than ten years", s)
		}
		rest = rest[i+1:]
	}
	return total, nil
}

// FormatDuration writes d the way ParseDuration reads it, largest units first.
func FormatDuration(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	d = d.Round(time.Second)
	var b []byte
	for _, u := range []struct {
		d time.Duration
		c byte
	}{{24 * time.Hour, 'd'}, {time.Hour, 'h'}, {time.Minute, 'm'}, {time.Second, 's'}} {
		if n := d / u.d; n > 0 {
			b = strconv.AppendInt(b, int64(n), 10)
			b = append(b, u.c)
			d -= n * u.d
		}
	}
	return string(b)
}
