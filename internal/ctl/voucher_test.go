package ctl

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/signin"
	"github.com/lobby-fw/lobby/internal/store/storetest"
	"github.com/lobby-fw/lobby/internal/voucher"
)

func TestParseBatch(t *testing.T) {
	d := voucher.Defaults{Duration: 24 * time.Hour, Devices: 1, Quota: 5e8, Valid: 365 * 24 * time.Hour}
	got, err := ParseBatch(d, []string{"20", "devices=2", "download=8mbit", "upload=1.5mbit", "duration=1d12h", "note=Room 12", "valid=30d"})
	want := voucher.Batch{Count: 20, Note: "Room 12", Limits: voucher.Limits{
		Duration: 36 * time.Hour, Devices: 2, DownloadRate: 8e6, UploadRate: 1.5e6, Quota: 5e8, Valid: 30 * 24 * time.Hour,
	}}
	if err != nil || got != want {
		t.Errorf("parseBatch = %+v, %v; want %+v", got, err, want)
	}
	if got, err := ParseBatch(d, nil); err != nil || got != d.Batch(1) {
		t.Errorf("no arguments: %+v, %v; want config voucher's one code", got, err)
	}
	for _, bad := range [][]string{
		{"0"}, {"10001"}, {"many"}, {"devices=0"}, {"devices=1001"}, {"download=8"}, {"quota=lots"},
		{"duration=soon"}, {"colour=red"}, {"note"}, {"devices=2", "devices=3"}, {"5", "6"},
	} {
		if _, err := ParseBatch(d, bad); err == nil {
			t.Errorf("parseBatch(%q) accepted", bad)
		}
	}
}

// TestVoucherVerbs: create, list, show and revoke through the socket, in
// JSON and for a person; revoke signs the code's device out.
func TestVoucherVerbs(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st := new(storetest.Mem)
	table := session.New(session.Config{SessionTimeout: time.Hour}, st, log)
	def := voucher.SpecDefaults()
	def.Devices = 3
	si, err := signin.New(signin.Config{Methods: []session.Method{session.MethodVoucher}, Voucher: def},
		signin.Options{Table: table, Store: st, Book: voucher.New(st, voucher.Config{})})
	if err != nil {
		t.Fatal(err)
	}
	table.Watch(si.Watch)
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	s := &Server{Table: table, Vouchers: si.Voucher(), Version: "test", Started: time.Now(), Backend: func() string { return "none" }, Log: log}
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Serve(ctx, l)

	out, errOut, code := run(t, sock, "--json", "voucher", "create", "2", "quota=1GB", "note=desk")
	var made []map[string]any
	if code != ExitOK || json.Unmarshal([]byte(out), &made) != nil || len(made) != 2 {
		t.Fatalf("create: %d\n%s%s", code, out, errOut)
	}
	for _, k := range []string{"code", "state", "first_used", "ends", "bytes_used", "devices", "max_devices", "quota", "download_rate", "upload_rate", "duration"} {
		if _, ok := made[0][k]; !ok {
			t.Errorf("create --json lacks %q: %v", k, made[0])
		}
	}
	if made[0]["max_devices"] != float64(3) || made[0]["quota"] != float64(1e9) || made[0]["note"] != "desk" || made[0]["state"] != "unused" {
		t.Errorf("config voucher's devices and the given quota: %v", made[0])
	}
	code1 := made[0]["code"].(string)
	c, _ := voucher.Parse(code1)
	mac := []byte{2, 0, 0, 0, 1, 9}
	if _, err := si.SignIn(ctx, signin.Request{MAC: mac, Method: session.MethodVoucher, Code: code1}); err != nil {
		t.Fatal(err)
	}

	out, _, code = run(t, sock, "voucher", "list")
	if code != ExitOK || !strings.Contains(out, "CODE") || !strings.Contains(out, code1) || !strings.Contains(out, "active") || !strings.Contains(out, "1/3") {
		t.Errorf("list:\n%s", out)
	}
	out, _, code = run(t, sock, "voucher", "show", strings.ToLower(c.Key()))
	if code != ExitOK || !strings.Contains(out, "02:00:00:00:01:09") || !strings.Contains(out, "quota 1GB") {
		t.Errorf("show:\n%s", out)
	}
	out, _, code = run(t, sock, "--json", "voucher", "revoke", code1)
	var rev map[string]any
	if code != ExitOK || json.Unmarshal([]byte(out), &rev) != nil || rev["state"] != "revoked" || len(rev["devices"].([]any)) != 0 {
		t.Errorf("revoke: %d %s", code, out)
	}
	if table.StateOf(mac) != session.Preauth {
		t.Error("revoke left the device signed in")
	}
	if _, errOut, code := run(t, sock, "voucher", "show", "ABCDE-FGHJK"); code != ExitDaemon || !strings.Contains(errOut, "no such voucher code") {
		t.Errorf("unknown code: %d %s", code, errOut)
	}
	if _, _, code := run(t, sock, "voucher", "create", "devices=0"); code != ExitDaemon {
		t.Errorf("devices=0: %d", code)
	}
}
