package appliance

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestConsole(t *testing.T) {
	var (
		out     strings.Builder
		ctlArgs [][]string
		powers  []Power
	)
	c := &console{
		in:  strings.NewReader("help\n\nctl status\nctl --json clients\nctl\nmem\nbogus thing\nreboot\npoweroff\nhalt\n"),
		out: &out,
		ctl: func(args []string, w io.Writer) int {
			ctlArgs = append(ctlArgs, args)
			fmt.Fprintln(w, "ctl says hi")
			if args[0] == "-h" {
				return 2
			}
			return 0
		},
		power: func(p Power) { powers = append(powers, p) },
		mem:   func(w io.Writer) { fmt.Fprintln(w, "mem: VmRSS=1 kB") },
	}
	c.serve(context.Background())
	if want := [][]string{{"status"}, {"--json", "clients"}, {"-h"}}; !reflect.DeepEqual(ctlArgs, want) {
		t.Errorf("ctl got %v, want %v", ctlArgs, want)
	}
	if want := []Power{Reboot, PowerOff, PowerOff}; !reflect.DeepEqual(powers, want) {
		t.Errorf("power requests %v, want %v", powers, want)
	}
	for _, s := range []string{"console commands:", "ctl says hi", "ctl exited with status 2", "mem: VmRSS=1 kB", `unknown command "bogus"`} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("console output lacks %q:\n%s", s, out.String())
		}
	}
}

func TestConsoleStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := 0
	c := &console{in: strings.NewReader("reboot\nreboot\n"), out: io.Discard, power: func(Power) { n++ }}
	c.serve(ctx)
	if n != 0 {
		t.Fatalf("%d commands run after the context ended", n)
	}
}

func TestConsoleLongLine(t *testing.T) {
	n := 0
	// An overlong line is skipped; one that just fits the buffer runs.
	fits := "reboot" + strings.Repeat(" ", maxConsoleLine-len("reboot\n")) + "\n"
	c := &console{in: strings.NewReader(strings.Repeat("x", 2*maxConsoleLine) + "\n" + fits), out: io.Discard, power: func(Power) { n++ }}
	c.serve(context.Background())
	if n != 1 {
		t.Fatal("the command after an overlong line did not run")
	}
}

// FuzzConsole types anything on the console (line noise, a cat on the
// keyboard): it must never panic, and must stop or reboot only on a line
// that says so.
func FuzzConsole(f *testing.F) {
	f.Add("help\nctl clients\nreboot\n")
	f.Add("\x00\xff\r\n  poweroff  \r\nctl\n")
	f.Add("x\nhalt")
	f.Fuzz(func(t *testing.T, in string) {
		want := 0
		for _, line := range strings.SplitAfter(in, "\n") {
			if len(line) > maxConsoleLine || len(line) == maxConsoleLine && !strings.HasSuffix(line, "\n") {
				continue // longer than the reader's buffer: skipped whole
			}
			if f := strings.Fields(line); len(f) > 0 && (f[0] == "reboot" || f[0] == "poweroff" || f[0] == "halt") {
				want++
			}
		}
		got := 0
		c := &console{in: strings.NewReader(in), out: io.Discard,
			ctl:   func([]string, io.Writer) int { return 0 },
			power: func(Power) { got++ }}
		c.serve(context.Background())
		if got != want {
			t.Fatalf("%d stop requests, want %d", got, want)
		}
	})
}
