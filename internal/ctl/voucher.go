package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lobby-fw/lobby/internal/config"
	"github.com/lobby-fw/lobby/internal/voucher"
)

// Vouchers is what ctl needs of the voucher codes (internal/signin's
// voucher method, which signs a revoked code's devices out).
type Vouchers interface {
	Defaults() voucher.Defaults
	Create(ctx context.Context, b voucher.Batch) ([]voucher.View, error)
	List() []voucher.View
	Show(c voucher.Code) (voucher.View, error)
	Revoke(ctx context.Context, c voucher.Code) (voucher.View, error)
}

// voucherCreateArgs is the synopsis of `voucher create`.
const voucherCreateArgs = "[COUNT] [duration=D] [devices=N] [download=RATE] [upload=RATE] [quota=BYTES] [valid=D] [note=TEXT]"

// ParseBatch reads the arguments of `voucher create` over the defaults d
// (config voucher): a count first, then KEY=VALUE in any order. The admin
// pages' batch form comes through it too.
func ParseBatch(d voucher.Defaults, args []string) (voucher.Batch, error) {
	b := d.Batch(1)
	if len(args) > 0 && !strings.Contains(args[0], "=") {
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 1 || n > voucher.MaxCount {
			return b, fmt.Errorf("count %q: want a number from 1 to %d", args[0], voucher.MaxCount)
		}
		b.Count = n
		args = args[1:]
	}
	seen := map[string]bool{}
	for _, a := range args {
		key, val, ok := strings.Cut(a, "=")
		if !ok {
			return b, fmt.Errorf("%q: want KEY=VALUE (duration, devices, download, upload, quota, valid, note)", a)
		}
		if seen[key] {
			return b, fmt.Errorf("%s= given twice", key)
		}
		seen[key] = true
		var err error
		l := &b.Limits
		switch key {
		case "duration":
			l.Duration, err = config.ParseDuration(val)
		case "valid":
			l.Valid, err = config.ParseDuration(val)
		case "devices":
			l.Devices, err = strconv.Atoi(val)
			if err == nil && (l.Devices < 1 || l.Devices > voucher.MaxDevices) {
				err = fmt.Errorf("want 1 to %d", voucher.MaxDevices)
			}
		case "download":
			l.DownloadRate, err = config.ParseRate(val)
		case "upload":
			l.UploadRate, err = config.ParseRate(val)
		case "quota":
			l.Quota, err = config.ParseSize(val)
		case "note":
			b.Note = val
		default:
			return b, fmt.Errorf("unknown key %q: want duration, devices, download, upload, quota, valid or note", key)
		}
		if err != nil {
			return b, fmt.Errorf("%s=%s: %v", key, val, err)
		}
	}
	return b, nil
}

func (s *Server) vouchers() (Vouchers, error) {
	if s.Vouchers == nil {
		return nil, fmt.Errorf("vouchers are not available")
	}
	return s.Vouchers, nil
}

func (s *Server) voucherCreate(ctx context.Context, args []string) (any, error) {
	vs, err := s.vouchers()
	if err != nil {
		return nil, err
	}
	b, err := ParseBatch(vs.Defaults(), args)
	if err != nil {
		return nil, err
	}
	return vs.Create(ctx, b)
}

func (s *Server) voucherList(context.Context, []string) (any, error) {
	vs, err := s.vouchers()
	if err != nil {
		return nil, err
	}
	return vs.List(), nil
}

func (s *Server) voucherShow(_ context.Context, args []string) (any, error) {
	vs, c, err := s.voucherCode(args[0])
	if err != nil {
		return nil, err
	}
	return vs.Show(c)
}

func (s *Server) voucherRevoke(ctx context.Context, args []string) (any, error) {
	vs, c, err := s.voucherCode(args[0])
	if err != nil {
		return nil, err
	}
	return vs.Revoke(ctx, c)
}

// voucherCode is the voucher book and the code arg names.
func (s *Server) voucherCode(arg string) (Vouchers, voucher.Code, error) {
	vs, err := s.vouchers()
	if err != nil {
		return nil, 0, err
	}
	c, err := voucher.Parse(arg)
	if err != nil {
		return nil, 0, fmt.Errorf("%q: %v", arg, err)
	}
	return vs, c, nil
}

func printCodes(w io.Writer, res json.RawMessage) error {
	var cs []voucher.JSON
	if err := json.Unmarshal(res, &cs); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CODE\tSTATE\tDEVICES\tTIME LEFT\tDATA LEFT\tNOTE")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\t%s\n", c.Code, c.State, len(c.Devices), c.MaxDevices,
			secondsLeft(c.SecondsLeft), bytesLeft(c.BytesLeft), dash(c.Note))
	}
	return tw.Flush()
}

func printCode(w io.Writer, res json.RawMessage) error {
	var c voucher.JSON
	if err := json.Unmarshal(res, &c); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "code\t%s\n", c.Code)
	fmt.Fprintf(tw, "state\t%s\n", c.State)
	fmt.Fprintf(tw, "gives\t%s\n", Gives(voucher.Limits{Duration: time.Duration(c.Duration) * time.Second, Devices: c.MaxDevices,
		DownloadRate: c.DownloadRate, UploadRate: c.UploadRate, Quota: c.Quota}))
	fmt.Fprintf(tw, "valid until\t%s\n", timeOrDash(c.ValidUntil))
	fmt.Fprintf(tw, "first used\t%s\n", timeOrDash(c.FirstUsed))
	fmt.Fprintf(tw, "ends\t%s\n", timeOrDash(c.Ends))
	fmt.Fprintf(tw, "time left\t%s\n", secondsLeft(c.SecondsLeft))
	fmt.Fprintf(tw, "data used\t%s\n", config.FormatSize(c.BytesUsed))
	fmt.Fprintf(tw, "data left\t%s\n", bytesLeft(c.BytesLeft))
	fmt.Fprintf(tw, "devices\t%d of %d: %s\n", len(c.Devices), c.MaxDevices, dash(strings.Join(c.Devices, " ")))
	fmt.Fprintf(tw, "note\t%s\n", dash(c.Note))
	return tw.Flush()
}

// Gives is what a code with limits l gives, in the words of its options:
// `voucher show` and the admin pages' cards say it so.
func Gives(l voucher.Limits) string {
	d := "no time limit"
	if l.Duration > 0 {
		d = config.FormatDuration(l.Duration) + " from first use"
	}
	parts := []string{d, fmt.Sprintf("%d device(s) at once", l.Devices)}
	if l.DownloadRate > 0 {
		parts = append(parts, "download "+config.FormatRate(l.DownloadRate))
	}
	if l.UploadRate > 0 {
		parts = append(parts, "upload "+config.FormatRate(l.UploadRate))
	}
	if l.Quota > 0 {
		parts = append(parts, "quota "+config.FormatSize(l.Quota))
	}
	return strings.Join(parts, ", ")
}

func secondsLeft(s *int64) string {
	if s == nil {
		return "no limit"
	}
	return config.FormatDuration(time.Duration(*s) * time.Second)
}

func bytesLeft(b *int64) string {
	if b == nil {
		return "no limit"
	}
	return config.FormatSize(uint64(*b))
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}
