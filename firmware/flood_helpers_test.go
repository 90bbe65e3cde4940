//go:build e2e

package main

// Helpers of the abuse tests: frames from made-up MACs, written from a
// lab client's namespace with an AF_PACKET socket (ARP requests, DHCP
// DISCOVERs and REQUESTs), and lobby's resident memory.

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"

	"github.com/lobby-fw/lobby/internal/checksum"
)

// floodConn opens an AF_PACKET socket of ethertype proto on eth0 of ns;
// it is closed when the test ends.
func floodConn(t *testing.T, ns string, proto uint16) *packet.Conn {
	t.Helper()
	var c *packet.Conn
	err := fwInNS(ns, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		c, err = packet.Listen(ifi, packet.Raw, int(proto), nil)
		return err
	})
	if err != nil {
		t.Fatalf("packet socket in %s: %v", ns, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// randomMAC is a made-up unicast, locally administered MAC.
func randomMAC(rng *rand.Rand) net.HardwareAddr {
	m := make(net.HardwareAddr, 6)
	for i := range m {
		m[i] = byte(rng.Uint32())
	}
	m[0] = m[0]&0xfc | 0x02
	return m
}

var ethBroadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// arpFlood sends n ARP requests for the router's address, each from a new
// made-up MAC with a sender address among 10.77.0.50-99 (below the DHCP
// pool, apart from the lab's fixed client addresses in use), paced at
// about rate a second. The kernel records every sender in its neighbour
// table, and reports each new MAC to lobby.
func arpFlood(t *testing.T, ns string, n, rate int) {
	t.Helper()
	c := floodConn(t, ns, unix.ETH_P_ARP)
	t.Cleanup(func() {
		// The router's neighbour table and bridge would otherwise keep
		// the made-up MACs for the tests that come next.
		exec.Command("ip", "-n", routerNS, "neigh", "flush", "dev", lanIface).Run()
		exec.Command("ip", "-n", routerNS, "link", "set", lanIface, "type", "bridge", "fdb_flush").Run()
	})
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	frame := make([]byte, 42)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	perTick := max(rate/100, 1)
	for sent := 0; sent < n; {
		for i := 0; i < perTick && sent < n; i, sent = i+1, sent+1 {
			m := randomMAC(rng)
			copy(frame[0:], ethBroadcast)
			copy(frame[6:], m)
			binary.BigEndian.PutUint16(frame[12:], unix.ETH_P_ARP)
			a := frame[14:]
			binary.BigEndian.PutUint16(a[0:], 1)      // Ethernet
			binary.BigEndian.PutUint16(a[2:], 0x0800) // IPv4
			a[4], a[5] = 6, 4
			binary.BigEndian.PutUint16(a[6:], 1) // request
			copy(a[8:], m)
			copy(a[14:], []byte{10, 77, 0, byte(50 + sent%50)})
			copy(a[18:], make([]byte, 6))
			copy(a[24:], []byte{10, 77, 0, 1})
			if _, err := c.WriteTo(frame, &packet.Addr{HardwareAddr: ethBroadcast}); err != nil {
				t.Fatalf("sending ARP: %v", err)
			}
		}
		<-tick.C
	}
}

// dhcpFrame wraps a DHCP message from a client without an address in
// Ethernet, IPv4 and UDP headers: 0.0.0.0:68 to 255.255.255.255:67.
func dhcpFrame(m *dhcpv4.DHCPv4) []byte {
	payload := m.ToBytes()
	b := make([]byte, 14+20+8+len(payload))
	copy(b[0:], ethBroadcast)
	copy(b[6:], m.ClientHWAddr)
	binary.BigEndian.PutUint16(b[12:], unix.ETH_P_IP)
	ip := b[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	ip[8], ip[9] = 64, 17
	copy(ip[16:], []byte{255, 255, 255, 255})
	binary.BigEndian.PutUint16(ip[10:], ^checksum.Fold(checksum.Sum(0, ip)))
	u := b[34:]
	binary.BigEndian.PutUint16(u[0:], 68)
	binary.BigEndian.PutUint16(u[2:], 67)
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(payload))) // checksum 0: none (RFC 768)
	copy(u[8:], payload)
	return b
}

// floodResult counts what lobby answered a DHCP flood.
type floodResult struct{ offers, acks int }

// dhcpFlood sends DISCOVERs from n made-up MACs (broadcast flag set, so
// that every answer reaches eth0), paced at about rate a second; with
// dora set it answers every OFFER with a REQUEST, as a client that takes
// the lease would. It waits up to settle after the last DISCOVER for the
// answers.
func dhcpFlood(t *testing.T, ns string, n, rate int, dora bool, settle time.Duration) floodResult {
	t.Helper()
	c := floodConn(t, ns, unix.ETH_P_IP)
	ours := map[string]bool{}
	var mu sync.Mutex
	var res floodResult
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for ctx.Err() == nil {
			c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			k, _, err := c.ReadFrom(buf)
			if err != nil {
				continue
			}
			f := buf[:k]
			if len(f) < 14+20+8 || binary.BigEndian.Uint16(f[12:]) != unix.ETH_P_IP || f[23] != 17 {
				continue
			}
			ihl := int(f[14]&0x0f) * 4
			u := f[14+ihl:]
			if len(u) < 8 || binary.BigEndian.Uint16(u[2:]) != 68 {
				continue
			}
			resp, err := dhcpv4.FromBytes(u[8:])
			if err != nil {
				continue
			}
			mu.Lock()
			mine := ours[string(resp.ClientHWAddr)]
			mu.Unlock()
			if !mine {
				continue
			}
			switch resp.MessageType() {
			case dhcpv4.MessageTypeOffer:
				mu.Lock()
				res.offers++
				mu.Unlock()
				if dora {
					req, err := dhcpv4.NewRequestFromOffer(resp, dhcpv4.WithBroadcast(true))
					if err == nil {
						c.WriteTo(dhcpFrame(req), &packet.Addr{HardwareAddr: ethBroadcast})
					}
				}
			case dhcpv4.MessageTypeAck:
				mu.Lock()
				res.acks++
				mu.Unlock()
			}
		}
	}()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	tick := time.NewTicker(10 * time.Millisecond)
	perTick := max(rate/100, 1)
	for sent := 0; sent < n; {
		for i := 0; i < perTick && sent < n; i, sent = i+1, sent+1 {
			m := randomMAC(rng)
			mu.Lock()
			ours[string(m)] = true
			mu.Unlock()
			d, err := dhcpv4.NewDiscovery(m, dhcpv4.WithBroadcast(true))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.WriteTo(dhcpFrame(d), &packet.Addr{HardwareAddr: ethBroadcast}); err != nil {
				t.Fatalf("sending DISCOVER: %v", err)
			}
		}
		<-tick.C
	}
	tick.Stop()
	time.Sleep(settle)
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	return res
}

// rssKiB is the resident memory of process pid (VmRSS), in KiB.
func rssKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := strings.CutPrefix(string(line), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(rest)[0])
			return n
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// tableSize is the number of clients lobby's table holds (ctl status).
func tableSize(d *lobbyProc) int {
	var st struct {
		Clients map[string]int `json:"clients"`
	}
	d.ctlJSON(&st, "status")
	n := 0
	for _, k := range st.Clients {
		n += k
	}
	return n
}
