//go:build !linux

package responder

import (
	"fmt"
	"net"
	"runtime"
)

// socket is the responder's AF_PACKET socket, which only Linux has.
type socket struct{}

func listen(ifi *net.Interface, ports []uint16) (*socket, error) {
	return nil, fmt.Errorf("responder: raw sockets are not implemented on %s", runtime.GOOS)
}

// batch is how many frames one read returns at most.
const batch = 1

func (s *socket) read() ([][]byte, error)        { return nil, fmt.Errorf("responder: not implemented") }
func (s *socket) queue([]byte) error             { return fmt.Errorf("responder: not implemented") }
func (s *socket) flush() (failed int, err error) { return 0, nil }
func (s *socket) drops() uint64                  { return 0 }
func (s *socket) close() error                   { return nil }
