package portal

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/url"
	"strings"
	"time"
)

// A form's CSRF token is an HMAC, under the per-boot secret, of what the
// form does, who it was made for and the time slice it was made in. The
// server keeps nothing: any token it can recompute is valid. It is tied to
// the client (its MAC, or its IP address while the MAC is not known), so a
// token scraped by one device signs in no other; and it expires, so an old
// page cannot be replayed forever.
const (
	tokenSlice  = 10 * time.Minute
	tokenSlices = 3 // the current slice and the two before: valid 20-30 minutes
	tokenBytes  = 16
)

// Purposes of tokens: a sign-in token cannot sign out, and back.
const (
	purposeLogin  = "login"
	purposeLogout = "logout"
)

func (s *Server) tokenAt(purpose, client string, slice int64) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(client))
	m.Write([]byte{0})
	m.Write(binary.BigEndian.AppendUint64(nil, uint64(slice)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:tokenBytes])
}

func (s *Server) slice() int64 { return s.now().Unix() / int64(tokenSlice/time.Second) }

// token is a fresh token for purpose, made for client.
func (s *Server) token(purpose, client string) string {
	return s.tokenAt(purpose, client, s.slice())
}

// validToken reports whether tok was made for purpose and one of clients
// within the last tokenSlices slices.
func (s *Server) validToken(tok, purpose string, clients ...string) bool {
	if len(tok) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return false
	}
	now := s.slice()
	for _, c := range clients {
		for i := int64(0); i < tokenSlices; i++ {
			if hmac.Equal([]byte(tok), []byte(s.tokenAt(purpose, c, now-i))) {
				return true
			}
		}
	}
	return false
}

// sameOrigin reports whether a form POST comes from one of the portal's own
// pages, by its Origin header, or by its Referer where a browser sends no
// Origin. A request with neither (curl, some old embedded browsers) is
// left to the token: a foreign page cannot read the token, so it cannot
// forge it. Origin "null" (sandboxed frames, some redirects) is foreign.
//
// The pages send "Referrer-Policy: same-origin", not no-referrer: with
// no-referrer a browser sends "Origin: null" on a POST (Fetch standard,
// "serializing a request origin"), which would look foreign here.
func (s *Server) sameOrigin(origin, referer string) (ok bool, seen string) {
	if origin == "" {
		if referer == "" {
			return true, ""
		}
		u, err := url.Parse(referer)
		if err != nil || u.Host == "" {
			return false, referer
		}
		origin = strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
	}
	origin = strings.ToLower(origin)
	for _, o := range s.origins() {
		if origin == o {
			return true, origin
		}
	}
	return false, origin
}

// origins are the serializations (RFC 6454 §6.1) of the portal's own
// origins.
func (s *Server) origins() []string { return s.conf().URLs.Origins }
