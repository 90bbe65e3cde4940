package appliance

import "strings"

// kernelParams returns the lobby.* parameters of a kernel command line
// (/proc/cmdline), such as lobby.state=/dev/vda2. The kernel keeps
// parameters with a dot away from init's arguments and environment, so
// /proc/cmdline is where they are read. Double quotes group a value with
// blanks, as the kernel's own parser allows.
func kernelParams(cmdline string) map[string]string {
	out := map[string]string{}
	for _, w := range splitCmdline(cmdline) {
		k, v, _ := strings.Cut(w, "=")
		if strings.HasPrefix(k, "lobby.") {
			out[k] = v
		}
	}
	return out
}

// splitCmdline splits at blanks outside double quotes and drops the quotes.
func splitCmdline(s string) []string {
	var (
		out    []string
		cur    strings.Builder
		quoted bool
		inWord bool
	)
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
			inWord = true
		case !quoted && (r == ' ' || r == '\t' || r == '\n'):
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}
