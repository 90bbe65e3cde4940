package nas

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lobby-fw/lobby/internal/radius"
)

// syncLog is a log the test reads while the listener writes it.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freePort is a UDP port nothing listens on now.
func freePort(t *testing.T) uint16 {
	c, err := net.ListenUDP("udp", &net.UDPAddr{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Port()
}

// listening reports whether port is taken (by the listener).
func listening(port uint16) bool {
	c, err := net.ListenUDP("udp", &net.UDPAddr{Port: int(port)})
	if err == nil {
		c.Close()
	}
	return err != nil
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5 s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The listener moves with a reload, closes on port 0, and survives a
// reload to a port that is taken; a taken port at start is an error.
func TestListenerMoves(t *testing.T) {
	das := radius.NewDAS(radius.DASConfig{}, Sessions{})
	logs := &syncLog{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	a, b := freePort(t), freePort(t)
	l := NewListener(das, a, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() { done <- l.Run(ctx, func() { close(ready) }) }()
	<-ready
	// Where it listens is read from its log: a probe that binds the port
	// itself could take it just before the listener does.
	on := func(port uint16) int {
		return strings.Count(logs.String(), fmt.Sprintf("radius das: listening\" port=%d\n", port))
	}
	if on(a) != 1 || !listening(a) {
		t.Fatalf("not on %d:\n%s", a, logs)
	}
	l.Reload(b)
	waitFor(t, fmt.Sprintf("moved from %d to %d", a, b), func() bool { return on(b) == 1 })
	if listening(a) {
		t.Errorf("still on %d", a)
	}
	l.Reload(0)
	waitFor(t, "closed", func() bool { return !listening(b) })

	taken, err := net.ListenUDP("udp", &net.UDPAddr{Port: int(a)})
	if err != nil {
		t.Fatal(err)
	}
	l.Reload(a)
	waitFor(t, "the taken port logged", func() bool { return strings.Contains(logs.String(), "cannot listen") })
	taken.Close()
	l.Reload(b)
	waitFor(t, "on the next port", func() bool { return on(b) == 2 })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}

	// Taken at start: an error.
	taken, err = net.ListenUDP("udp", &net.UDPAddr{Port: int(a)})
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	if err := NewListener(das, a, log).Run(context.Background(), func() {}); err == nil || !strings.Contains(err.Error(), "das_port") {
		t.Errorf("a taken port at start: %v", err)
	}
}
