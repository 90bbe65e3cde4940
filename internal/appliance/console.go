package appliance

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
)

// Power is how the appliance ends: rebooting or powering off.
type Power int

// The two ways to stop PID 1; there is no "exit": the kernel panics when
// init exits.
const (
	Reboot Power = iota
	PowerOff
)

func (p Power) String() string {
	if p == PowerOff {
		return "poweroff"
	}
	return "reboot"
}

// consoleHelp lists the commands of the serial console.
const consoleHelp = `console commands:
  ctl VERB [ARG]   lobby ctl on the running daemon (ctl status, ctl clients, ctl auth MAC, …)
  mem              lobby's memory: resident (whole, anonymous, file) and the Go runtime's share
  reboot           stop the services, unmount the state and reboot
  poweroff         the same, then power off (halt does the same)
  help             this list
`

// console serves the appliance's serial console: an operator with the
// console (who owns the box anyway) can reach `lobby ctl` and reboot or
// power off, with no shell in the image. Lines come from in, answers go
// to out. ctl runs one `lobby ctl` command line; power asks PID 1 to stop.
// It returns when in ends or ctx is done.
type console struct {
	in    io.Reader
	out   io.Writer
	ctl   func(args []string, out io.Writer) int
	power func(Power)
	// mem writes one line about the process's memory (PID 1 is lobby,
	// daemon included): what make bench reads on boards under qemu.
	mem func(out io.Writer)
}

// maxConsoleLine bounds one command line; a longer one (line noise) is
// skipped whole.
const maxConsoleLine = 4096

func (c *console) serve(ctx context.Context) {
	r := bufio.NewReaderSize(c.in, maxConsoleLine)
	for ctx.Err() == nil {
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			for err == bufio.ErrBufferFull {
				_, err = r.ReadSlice('\n')
			}
			io.WriteString(c.out, "console: line too long; ignored\n")
			line = nil
		}
		if len(line) > 0 && ctx.Err() == nil {
			c.do(string(line))
		}
		if err != nil {
			return
		}
	}
}

// do runs one command line.
func (c *console) do(line string) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return
	}
	switch f[0] {
	case "help", "?":
		io.WriteString(c.out, consoleHelp)
	case "ctl":
		if c.ctl == nil {
			io.WriteString(c.out, "console: ctl is not available\n")
			return
		}
		if len(f) == 1 {
			f = append(f, "-h")
		}
		if rc := c.ctl(f[1:], c.out); rc != 0 {
			fmt.Fprintf(c.out, "console: ctl exited with status %d\n", rc)
		}
	case "mem":
		if c.mem == nil {
			io.WriteString(c.out, "console: mem is not available\n")
			return
		}
		c.mem(c.out)
	case "reboot":
		c.power(Reboot)
	case "poweroff", "halt":
		c.power(PowerOff)
	default:
		fmt.Fprintf(c.out, "console: unknown command %q; type help\n", f[0])
	}
}
