package firewall

import (
	"strings"
	"testing"
)

// FuzzRuleCounter feeds ruleCounter lines like `iptables -v -S` prints:
// it must never panic, and what it returns must come from the line.
func FuzzRuleCounter(f *testing.F) {
	f.Add("-A LOBBY_DOWN -d 10.77.0.11/32 -c 12 3456 -j RETURN", "-d")
	f.Add("-A LOBBY_MAC -m mac --mac-source 02:00:00:00:01:01 -c 7 890 -j MARK --set-xmark 0x1000000/0x3000000", "--mac-source")
	f.Add("-c", "-c")
	f.Add("-A X -c 1 18446744073709551616", "-A")
	f.Fuzz(func(t *testing.T, line, opt string) {
		value, _, ok := ruleCounter(line, opt)
		if ok && !strings.Contains(line, value) {
			t.Errorf("ruleCounter(%q, %q) = %q, not in the line", line, opt, value)
		}
	})
}
