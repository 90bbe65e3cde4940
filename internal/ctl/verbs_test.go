package ctl

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/lobby-fw/lobby/internal/session"
)

// TestVerbTable: every verb of SPEC §5 built so far has one entry, with a
// handler, and usage lists each.
func TestVerbTable(t *testing.T) {
	spec := []string{"status", "clients", "auth", "deauth", "limit", "block", "unblock", "trust", "untrust", "voucher create", "voucher list", "voucher show", "voucher revoke"}
	var names []string
	for _, v := range verbs {
		if slices.Contains(names, v.name) {
			t.Errorf("verb %q twice", v.name)
		}
		names = append(names, v.name)
		if v.do == nil {
			t.Errorf("verb %q has no handler", v.name)
		}
		if v.min > v.max {
			t.Errorf("verb %q takes %d to %d arguments", v.name, v.min, v.max)
		}
	}
	for _, name := range spec {
		if !slices.Contains(names, name) {
			t.Errorf("SPEC verb %q missing", name)
		}
	}
	_, errOut, _ := run(t, "/nonexistent", "frob")
	for _, v := range verbs {
		if !strings.Contains(errOut, "\n  "+v.usage()+"\n") {
			t.Errorf("usage lacks %q:\n%s", v.usage(), errOut)
		}
	}
}

// TestFindVerb: a verb is found by its name's words, a two-word verb
// ("voucher create") included, and an unknown one is not.
func TestFindVerb(t *testing.T) {
	vs := []verb{{name: "limit"}, {name: "voucher"}, {name: "voucher create"}, {name: "voucher list"}}
	tests := []struct {
		args []string
		name string // "": not found
		rest []string
	}{
		{[]string{"limit", "02:00:00:00:01:01", "quota=1G"}, "limit", []string{"02:00:00:00:01:01", "quota=1G"}},
		{[]string{"voucher", "create", "5", "duration=2h"}, "voucher create", []string{"5", "duration=2h"}},
		{[]string{"voucher", "list"}, "voucher list", []string{}},
		{[]string{"voucher"}, "voucher", []string{}},
		{[]string{"voucher", "burn"}, "voucher", []string{"burn"}},
		{[]string{"vouchers"}, "", nil},
		{[]string{"untrust"}, "", nil},
	}
	for _, tt := range tests {
		v, rest, ok := findVerb(vs, tt.args)
		if ok != (tt.name != "") || v.name != tt.name || !slices.Equal(rest, tt.rest) {
			t.Errorf("findVerb(%q) = %q %q %v; want %q %q", tt.args, v.name, rest, ok, tt.name, tt.rest)
		}
		if tt.name != "" {
			if _, ok := lookupVerb(vs, tt.name); !ok {
				t.Errorf("lookupVerb(%q) found nothing", tt.name)
			}
		}
	}
}

// TestVerbsDoWhatTheySay: each verb that changes a client does its own
// change, and a verb the table does not have changes nothing.
func TestVerbsDoWhatTheySay(t *testing.T) {
	sock, table := serve(t)
	const m = "02:00:00:00:01:07"
	mac, _ := net.ParseMAC(m)
	steps := []struct {
		verb string
		want session.State
	}{
		{"trust", session.Trusted},
		{"untrust", session.Preauth},
		{"block", session.Blocked},
		{"unblock", session.Preauth},
		{"auth", session.Authenticated},
		{"deauth", session.Preauth},
	}
	for _, st := range steps {
		if out, errOut, code := run(t, sock, st.verb, m); code != ExitOK {
			t.Fatalf("%s: exit %d\n%s%s", st.verb, code, out, errOut)
		}
		if got := table.StateOf(mac); got != st.want {
			t.Errorf("after %s: %v, want %v", st.verb, got, st.want)
		}
	}
	table.SetTrusted(context.Background(), mac, true, "test")
	if _, err := Call(sock, Request{Verb: "frob", Args: []string{m}}); err == nil || !strings.Contains(err.Error(), "unknown verb") {
		t.Errorf("unknown verb: %v", err)
	}
	if _, err := Call(sock, Request{Verb: "untrust", Args: []string{m, "extra"}}); err == nil || !strings.Contains(err.Error(), "usage: untrust MAC") {
		t.Errorf("untrust with two arguments: %v", err)
	}
	if got := table.StateOf(mac); got != session.Trusted {
		t.Errorf("refused requests changed the client to %v", got)
	}
}
