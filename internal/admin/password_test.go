package admin

import (
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$pbkdf2-sha256$i=20000$") || strings.Contains(h, "correct") {
		t.Fatalf("hash %q", h)
	}
	h2, _ := HashPassword("correct horse")
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	if !CheckPassword(h, "correct horse") {
		t.Error("the password does not match its hash")
	}
	for _, wrong := range []string{"", "correct hors", "correct horse ", "Correct horse"} {
		if CheckPassword(h, wrong) {
			t.Errorf("%q matches", wrong)
		}
	}
	if _, err := HashPassword("short"); err == nil {
		t.Error("a 5-character password was hashed")
	}
}

func TestParseHash(t *testing.T) {
	good := "$pbkdf2-sha256$i=1000$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 43)
	if err := CheckHash(good); err != nil {
		t.Fatalf("%q: %v", good, err)
	}
	for _, bad := range []string{
		"", "secret", "$pbkdf2-sha256$", "$pbkdf2-sha1$i=1000$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 43),
		"$pbkdf2-sha256$i=0$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 43),
		"$pbkdf2-sha256$i=99999999999$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 43),
		"$pbkdf2-sha256$i=1000$c2FsdHNhbHRzYWx0$!!!",
		"$pbkdf2-sha256$i=1000$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 43) + "$x",
	} {
		if CheckHash(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
		if CheckPassword(bad, "") {
			t.Errorf("%q matches the empty password", bad)
		}
	}
}

// BenchmarkCheckPassword is one login's hash: run it under qemu-user
// (go test -c, then qemu-mips-static ./admin.test -test.bench .) to see a
// board's cost.
func BenchmarkCheckPassword(b *testing.B) {
	h, _ := HashPassword("correct horse")
	for b.Loop() {
		CheckPassword(h, "correct horse")
	}
}
