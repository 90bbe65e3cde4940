//go:build e2e

package main

// The sign-in latency of scripts/bench/radius.sh (issue 18): POST
// /api/login from a lab client through the real daemon, click against
// radius, with FreeRADIUS (the configuration that ships, docs/radius/raddb)
// in the lab's internet. Not part of make e2e: it runs only when given
// -signin.cycles, as the bench area does:
//
//	go test -tags e2e -run '^TestSignInLatency$' ./firmware -args -signin.cycles 200 -signin.runs 5 -signin.tsv FILE
//
// RADIUS's part is the time between the Access-Request leaving the
// router's WAN interface and the Access-Accept arriving there, by the
// kernel's timestamps of a packet socket in the router's namespace: the
// server's work and the lab link both ways. Lobby's own part of a radius
// sign-in is its whole time less that.

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/radius/radiustest"
)

var (
	sinCycles = flag.Int("signin.cycles", 0, "TestSignInLatency: sign-in/sign-out cycles per method and run (0: skip the measurement)")
	sinRuns   = flag.Int("signin.runs", 1, "TestSignInLatency: runs")
	sinTSV    = flag.String("signin.tsv", "", "TestSignInLatency: the bench area's TSV to append the figures to (scripts/bench/run.sh)")
	sinBound  = flag.Duration("signin.bound", 10*time.Minute, "TestSignInLatency: stop and fail after this long")
)

// sinPacket is a RADIUS authentication packet seen on the router's WAN
// side: its code, identifier and the kernel's time for it.
type sinPacket struct {
	code, id byte
	at       time.Time
}

// sinCapture reads RADIUS authentication packets (port 1812 either way)
// in the router's namespace, in and out, with the kernel's timestamps.
func sinCapture(t *testing.T) <-chan sinPacket {
	t.Helper()
	const ethPAll = 0x0300 // htons(ETH_P_ALL): outgoing packets too
	var fd int
	err := fwInNS(routerNS, func() error {
		var err error
		fd, err = syscall.Socket(syscall.AF_PACKET, syscall.SOCK_DGRAM, ethPAll)
		return err
	})
	if err != nil {
		t.Fatalf("packet socket: %v", err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1); err != nil {
		t.Fatal(err)
	}
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &syscall.Timeval{Usec: 100000}); err != nil {
		t.Fatal(err)
	}
	ch := make(chan sinPacket, 256)
	done, stopped := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(done); <-stopped; syscall.Close(fd) })
	go func() {
		defer close(stopped)
		buf, oob := make([]byte, 4096), make([]byte, 256)
		for {
			select {
			case <-done:
				return
			default:
			}
			n, oobn, _, from, err := syscall.Recvmsg(fd, buf, oob, 0)
			if err != nil {
				continue // the read timeout
			}
			if ll, ok := from.(*syscall.SockaddrLinklayer); !ok || ll.Protocol != 0x0008 { // htons(ETH_P_IP)
				continue
			}
			p := buf[:n]
			if len(p) < 20 || p[0]>>4 != 4 || p[9] != syscall.IPPROTO_UDP || len(p) < int(p[0]&15)*4+10 {
				continue
			}
			udp := p[int(p[0]&15)*4:]
			if binary.BigEndian.Uint16(udp[0:2]) != 1812 && binary.BigEndian.Uint16(udp[2:4]) != 1812 {
				continue
			}
			at, ok := sinStamp(oob[:oobn])
			if !ok {
				continue // counted as missing by the reader
			}
			select {
			case ch <- sinPacket{code: udp[8], id: udp[9], at: at}:
			default: // the reader fell behind: it sees a gap and fails
			}
		}
	}()
	return ch
}

// sinStamp is the SO_TIMESTAMPNS time in a packet's control messages.
func sinStamp(oob []byte) (time.Time, bool) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SO_TIMESTAMPNS && len(m.Data) >= 16 {
			return time.Unix(int64(binary.NativeEndian.Uint64(m.Data)), int64(binary.NativeEndian.Uint64(m.Data[8:]))), true
		}
	}
	return time.Time{}, false
}

// sinServer waits up to 2 s for one Access-Request and its answer (code
// 2, an Access-Accept) and returns the time between them. A copy of a
// packet seen again (on a bridge) keeps the first one's time.
func sinServer(ch <-chan sinPacket) (time.Duration, error) {
	var req *sinPacket
	timeout := time.After(2 * time.Second)
	for {
		select {
		case p := <-ch:
			switch {
			case p.code == 1 && req == nil:
				req = &p
			case p.code == 1 && p.id != req.id:
				return 0, fmt.Errorf("a second Access-Request (id %d after %d)", p.id, req.id)
			case p.code == 2 && req != nil && p.id == req.id:
				return p.at.Sub(req.at), nil
			case p.code != 1:
				return 0, fmt.Errorf("answer code %d id %d to request id %v", p.code, p.id, req)
			}
		case <-timeout:
			return 0, fmt.Errorf("no Access-Request and Access-Accept seen within 2 s (request %v)", req)
		}
	}
}

// sinLogin posts body to /api/login from lab client k on a connection
// opened beforehand (so that the namespace switch is not timed) and
// returns the time from the request's first byte written to the answer's
// last byte read.
func sinLogin(t *testing.T, k int, body string) time.Duration {
	t.Helper()
	var conn net.Conn
	if err := fwInNS(clientNS(k), func() error {
		var err error
		conn, err = net.DialTimeout("tcp", "10.77.0.1:2050", 5*time.Second)
		return err
	}); err != nil {
		t.Fatalf("connect from client %d: %v", k, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	req, _ := http.NewRequest("POST", ptPortal+"/api/login", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Close = true
	br := bufio.NewReader(conn)
	start := time.Now()
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil || resp.StatusCode != 200 || !strings.Contains(string(out), `"captive":false`) {
		t.Fatalf("sign-in %s: %d %v\n%s", body, resp.StatusCode, err, out)
	}
	return took
}

// sinQuantile is the q-quantile of sorted ds (nearest rank).
func sinQuantile(ds []time.Duration, q float64) time.Duration {
	return ds[max(0, int(math.Ceil(q*float64(len(ds))))-1)]
}

func TestSignInLatency(t *testing.T) {
	if *sinCycles <= 0 {
		t.Skip("a measurement, not a test: scripts/bench/radius.sh runs it with -signin.cycles")
	}
	deadline := time.Now().Add(*sinBound)
	srv := radiustest.Start(t, radiustest.Options{
		Netns: inetNS, Listen: netip.MustParseAddr(radListen), Walk: true,
		Users:   radiustest.Users + "plain\tCleartext-Password := \"pw\"\n",
		Clients: []netip.Prefix{netip.MustParsePrefix(radWANPrefix)},
	})
	d := newRADIUSDaemon(t, srv, []string{"list auth 'radius'", "list auth 'click'"}, nil)
	d.start()
	radWaitRecord(t, srv, "Accounting-On", "", 10*time.Second)
	ptStatic(t, 1)
	ptStatic(t, 2)
	capture := sinCapture(t)

	// click; radius as plain, whose Accept has no limits; radius as
	// nemo, whose Accept has every limit Lobby reads: rates, quota,
	// timeouts. Rates make the shaper's classes: the first shaped client
	// of the LAN also has the shaper's tree put in (and the last one
	// out takes it away), so nemo signs in both as the only shaped client
	// and while client 2 is signed in as nemo too.
	const nemo = `{"method":"radius","username":"nemo","password":"arctangent"}`
	kinds := []struct {
		name, body string
		shaped     bool // client 2 signed in with rates meanwhile
	}{
		{"by click", `{"method":"click"}`, false},
		{"by radius, no limits", `{"method":"radius","username":"plain","password":"pw"}`, false},
		{"by radius with rates, the LAN's first shaped client", nemo, false},
		{"by radius with rates, beside a shaped client", nemo, true},
	}
	signOut := func(k int) {
		if _, errOut, code := d.ctl("deauth", clientMAC(k)); code != 0 {
			t.Fatalf("ctl deauth: %s", errOut)
		}
	}
	// signIn signs client 1 in as kind k and out again; it returns the
	// sign-in's time and, through RADIUS, the server's part of it.
	signIn := func(k int) (total, server time.Duration) {
		if kinds[k].shaped {
			sinLogin(t, 2, nemo)
			defer signOut(2)
			if _, err := sinServer(capture); err != nil { // client 2's
				t.Fatal(err)
			}
		}
		// Nothing but this sign-in sends to port 1812 now: drop what came
		// before.
		for len(capture) > 0 {
			<-capture
		}
		total = sinLogin(t, 1, kinds[k].body)
		if k > 0 {
			var err error
			if server, err = sinServer(capture); err != nil {
				t.Fatal(err)
			}
			if server <= 0 || server >= total {
				t.Fatalf("RADIUS's part %v of a sign-in of %v", server, total)
			}
		}
		signOut(1)
		return total, server
	}
	// One of each first, not counted: lobby's first RADIUS request opens
	// its socket, the server's first SQL insert opens its database.
	for k := range kinds {
		signIn(k)
	}

	var rows strings.Builder
	row := func(metric string, run int, v time.Duration) {
		fmt.Fprintf(&rows, "radius\tdaemon sign-in %s\tµs\tlower\t-\t-\tlobby\t%d\t%.1f\n", metric, run, float64(v)/float64(time.Microsecond))
	}
	for run := 1; run <= *sinRuns; run++ {
		totals, servers := make([][]time.Duration, len(kinds)), make([][]time.Duration, len(kinds))
		owns := make([][]time.Duration, len(kinds))
		// The kinds take turns, so that the machine's load weighs on
		// each alike.
		for range *sinCycles {
			if time.Now().After(deadline) {
				t.Fatalf("over the bound of %v", *sinBound)
			}
			for k := range kinds {
				total, server := signIn(k)
				totals[k], servers[k], owns[k] = append(totals[k], total), append(servers[k], server), append(owns[k], total-server)
			}
		}
		for k, kind := range kinds {
			for _, s := range [][]time.Duration{totals[k], servers[k], owns[k]} {
				slices.Sort(s)
			}
			for _, q := range []struct {
				name string
				q    float64
			}{{"median", 0.5}, {"p90", 0.9}} {
				row(kind.name+", "+q.name, run, sinQuantile(totals[k], q.q))
				if k > 0 {
					row(kind.name+": the server's part, "+q.name, run, sinQuantile(servers[k], q.q))
					row(kind.name+": lobby's part, "+q.name, run, sinQuantile(owns[k], q.q))
				}
			}
			t.Logf("run %d, %s: median %v (server %v), p90 %v", run, kind.name,
				sinQuantile(totals[k], 0.5), sinQuantile(servers[k], 0.5), sinQuantile(totals[k], 0.9))
		}
	}
	if *sinTSV == "" {
		t.Logf("figures:\n%s", rows.String())
		return
	}
	f, err := os.OpenFile(*sinTSV, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(rows.String()); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
