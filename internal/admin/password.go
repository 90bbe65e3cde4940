package admin

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Iterations is the PBKDF2 work factor of a new hash. One check of 10,000
// took 55-91 ms for the ath79 (mips) and 58-79 ms for the ramips (mipsle)
// build under qemu-user on this 2-core x86-64 host, against 1.8 ms natively;
// 20,000 thus costs a MIPS board about 110-180 ms (235-480 ms measured with
// the host under three times the load), which a login pays once and an
// attacker who has read the config pays per guess. It is written into every
// hash, so it can grow later without invalidating older hashes. (OWASP's
// 600,000 for PBKDF2-SHA256 would take several seconds on a MIPS board.)
const Iterations = 20000

// hashPrefix names the scheme in the stored string:
//
//	$pbkdf2-sha256$i=ITERATIONS$SALT$KEY
//
// SALT (16 bytes) and KEY (32 bytes, PBKDF2-HMAC-SHA256 of the password,
// RFC 8018 §5.2) in unpadded standard base64, as passlib writes its
// pbkdf2_sha256 hashes (but with the standard alphabet).
const hashPrefix = "$pbkdf2-sha256$"

// maxIterations bounds what a hash may ask for: a hand-edited hash must not
// make every login cost minutes.
const maxIterations = 10_000_000

// MinPasswordLength is the shortest password lobby passwd accepts.
const MinPasswordLength = 8

// HashPassword returns the stored form of password with a fresh salt.
func HashPassword(password string) (string, error) {
	if len(password) < MinPasswordLength {
		return "", fmt.Errorf("the password must be at least %d characters long", MinPasswordLength)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, Iterations, 32)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	b64 := base64.RawStdEncoding
	return hashPrefix + "i=" + strconv.Itoa(Iterations) + "$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key), nil
}

// parsedHash is a stored hash taken apart.
type parsedHash struct {
	iter      int
	salt, key []byte
}

// parseHash reads the stored form; config uses it to refuse a mangled
// password_hash at start instead of at the first login.
func parseHash(s string) (parsedHash, error) {
	rest, ok := strings.CutPrefix(s, hashPrefix)
	if !ok {
		return parsedHash{}, errors.New("not a hash written by lobby passwd ($pbkdf2-sha256$…)")
	}
	parts := strings.Split(rest, "$")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "i=") {
		return parsedHash{}, errors.New("want $pbkdf2-sha256$i=N$SALT$KEY")
	}
	iter, err := strconv.Atoi(parts[0][2:])
	if err != nil || iter < 1 || iter > maxIterations {
		return parsedHash{}, fmt.Errorf("iterations %q: want 1 to %d", parts[0][2:], maxIterations)
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[1])
	key, err2 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 {
		return parsedHash{}, errors.New("salt or key is not base64 of the right length")
	}
	return parsedHash{iter: iter, salt: salt, key: key}, nil
}

// CheckHash reports whether s is a well-formed stored hash.
func CheckHash(s string) error {
	_, err := parseHash(s)
	return err
}

// CheckPassword reports whether password matches the stored hash, comparing
// in constant time. An empty or malformed hash matches nothing.
func CheckPassword(stored, password string) bool {
	h, err := parseHash(stored)
	if err != nil {
		return false
	}
	key, err := pbkdf2.Key(sha256.New, password, h.salt, h.iter, len(h.key))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(key, h.key) == 1
}
