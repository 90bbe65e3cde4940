package connlimit

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestAcquireRelease(t *testing.T) {
	l := New(2)
	a := netip.MustParseAddr("10.77.0.10")
	b := netip.MustParseAddr("10.77.0.11")
	steps := []struct {
		op   string // "+" Acquire, "-" Release
		src  string
		want bool // for "+"
	}{
		{"+", "10.77.0.10", true},
		{"+", "::ffff:10.77.0.10", true}, // the same client, IPv4-mapped
		{"+", "10.77.0.10", false},       // at the bound
		{"+", "10.77.0.11", true},        // another client is not held up
		{"-", "10.77.0.10", false},
		{"+", "10.77.0.10", true}, // a slot given back is free again
		{"+", "2001:db8:1:2::1", true},
		{"+", "2001:db8:1:2:aaaa::99", true},      // the same /64
		{"+", "2001:db8:1:2:ffff::1%eth0", false}, // ... with a zone
		{"+", "2001:db8:1:3::1", true},            // another /64
	}
	for i, s := range steps {
		src := netip.MustParseAddr(s.src)
		if s.op == "-" {
			l.Release(src)
			continue
		}
		if got := l.Acquire(src); got != s.want {
			t.Fatalf("step %d: Acquire(%s) = %v, want %v", i, s.src, got, s.want)
		}
	}
	if l.Open(a) != 2 || l.Open(b) != 1 {
		t.Errorf("open: %d, %d", l.Open(a), l.Open(b))
	}
	for range 2 {
		l.Release(a)
	}
	l.Release(b)
	for range 2 {
		l.Release(netip.MustParseAddr("2001:db8:1:2::1"))
	}
	l.Release(netip.MustParseAddr("2001:db8:1:3::1"))
	if len(l.open) != 0 {
		t.Errorf("clients with nothing open are still counted: %v", l.open)
	}
}

// dialFrom opens a TCP connection to addr from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// served reports whether the server behind c answers: it echoes one byte.
func served(c net.Conn) bool {
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte{'x'}); err != nil {
		return false
	}
	var b [1]byte
	_, err := io.ReadFull(c, b[:])
	return err == nil
}

// One client holding its bound on a real listener: its next connection is
// closed at once, another client is still served, and a closed connection
// frees its slot.
func TestListener(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback: %v", err)
	}
	defer ln.Close()
	const bound = 4
	limited := New(bound).Listener(ln)
	go func() {
		for {
			c, err := limited.Accept()
			if err != nil {
				return
			}
			go func() { // echo until the client hangs up
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	addr := ln.Addr().String()

	var held []net.Conn
	for range bound {
		c := dialFrom(t, "127.0.0.1", addr)
		if !served(c) {
			t.Fatal("a connection within the bound was not served")
		}
		held = append(held, c)
	}
	if served(dialFrom(t, "127.0.0.1", addr)) {
		t.Error("a connection over the client's bound was served")
	}
	if !served(dialFrom(t, "127.0.0.2", addr)) {
		t.Error("another client was not served while the first held its bound")
	}
	held[0].Close()
	deadline := time.Now().Add(2 * time.Second)
	for !served(dialFrom(t, "127.0.0.1", addr)) {
		if time.Now().After(deadline) {
			t.Fatal("a closed connection's slot never came back")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func BenchmarkAcquireRelease(b *testing.B) {
	l := New(16)
	src := netip.MustParseAddr("10.77.0.10")
	for b.Loop() {
		l.Acquire(src)
		l.Release(src)
	}
}
