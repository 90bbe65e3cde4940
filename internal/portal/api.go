package portal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/signin"
)

// captiveState is the RFC 8908 §5 API state.
type captiveState struct {
	// Captive is true while the client may not reach the internet
	// (REQUIRED, §5).
	Captive bool `json:"captive"`
	// UserPortalURL is where a user signs in (§5: to be reached over TLS;
	// without TLS we give the http URL as SPEC §3 says).
	UserPortalURL string `json:"user-portal-url"`
	// VenueInfoURL is option venue_url, when set (§5).
	VenueInfoURL string `json:"venue-info-url,omitempty"`
	// SecondsRemaining is sent when the client is not captive and its
	// session is time-limited, omitted otherwise (§5).
	SecondsRemaining *int64 `json:"seconds-remaining,omitempty"`
	// BytesRemaining is sent when the client is not captive and its
	// session has a quota (§5).
	BytesRemaining *uint64 `json:"bytes-remaining,omitempty"`
	// CanExtendSession is false: visiting the portal again does not
	// extend a session (a voucher's ends with its code, a click's with
	// config click's limit), so no client should suggest it (§5).
	CanExtendSession bool `json:"can-extend-session"`
}

// captive is the API state of the client c (known: the table knows it).
func (s *Server) captive(c session.Client, known bool) captiveState {
	cfg := s.conf()
	st := captiveState{Captive: true, UserPortalURL: s.URL(), VenueInfoURL: cfg.VenueURL}
	if !known {
		return st
	}
	switch c.State {
	case session.Trusted:
		st.Captive = false
	case session.Authenticated:
		st.Captive = false
		if !c.Expires.IsZero() {
			left := max(0, int64(math.Ceil(c.Expires.Sub(s.now()).Seconds())))
			st.SecondsRemaining = &left
		}
		if left, ok := cfg.SignIn.QuotaLeft(c); ok {
			st.BytesRemaining = &left
		}
	}
	return st
}

// captiveAPI serves the captive-portal API of RFC 8908 to the requesting
// client, identified by its source address as §4 allows.
func (s *Server) captiveAPI(w http.ResponseWriter, r *http.Request) {
	v := s.visitor(r)
	s.writeCaptive(w, http.StatusOK, s.captive(v.client, v.known))
}

func (s *Server) writeCaptive(w http.ResponseWriter, status int, st captiveState) {
	body, err := json.Marshal(st)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	// RFC 8908 §5: the media type is application/captive+json; the state
	// is the client's own, so no shared cache may keep it.
	w.Header().Set("Content-Type", "application/captive+json")
	w.Header().Set("Cache-Control", "private, no-store")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// apiLoginRequest is the body of POST /api/login (SPEC §3).
type apiLoginRequest struct {
	Method   string `json:"method"`
	Code     string `json:"code"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// parseAPILogin reads the JSON body of POST /api/login: one object with a
// method, and no field that is not the API's, so that a typo ("cod") is an
// error that names it instead of a refusal that does not.
func parseAPILogin(body []byte) (signin.Request, error) {
	var in apiLoginRequest
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(&in); err != nil {
		return signin.Request{}, fmt.Errorf("the body is not the JSON object of the sign-in API: %v", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return signin.Request{}, errors.New("the body has more than one JSON value")
	}
	switch m := session.Method(in.Method); m {
	case session.MethodClick, session.MethodVoucher, session.MethodRADIUS:
	case "":
		return signin.Request{}, errors.New(`"method" is missing: want "click", "voucher" or "radius"`)
	default:
		return signin.Request{}, fmt.Errorf(`"method" %q: want "click", "voucher" or "radius"`, in.Method)
	}
	for _, f := range []string{in.Code, in.Username, in.Password} {
		if !utf8.ValidString(f) {
			return signin.Request{}, errors.New("a field is not UTF-8 text")
		}
	}
	return signin.Request{Method: session.Method(in.Method), Code: in.Code, Username: in.Username, Password: in.Password}, nil
}

// apiError is the body of every answer of POST /api/login but 200.
type apiError struct {
	Error string `json:"error"`
}

func writeAPIError(w http.ResponseWriter, status int, msg string) {
	body, _ := json.Marshal(apiError{Error: msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// apiLogin is POST /api/login, the sign-in for programs (SPEC §3): a JSON
// body in, the /api/captive document out (200), or {"error": "…"} with 401
// (refused), 429 and Retry-After (wait), 415 (not JSON).
//
// It needs no CSRF token: a page of another site can send a cross-origin
// POST only as a "simple" request (RFC 9110 methods, a form's
// Content-Type); application/json makes the browser ask first (a CORS
// preflight, Fetch standard §4.8), and no answer here ever carries an
// Access-Control-Allow-Origin, so the browser never sends it. An Origin
// other than the portal's is refused all the same, for browsers that would
// not ask.
func (s *Server) apiLogin(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); origin != "" {
		if ok, seen := s.sameOrigin(origin, ""); !ok {
			s.log.Debug("portal: api login from a foreign origin", "origin", seen)
			writeAPIError(w, http.StatusForbidden, "this request came from another site ("+seen+"); nothing was done")
			return
		}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		w.Header().Set("Accept-Post", "application/json") // RFC 9110 §15.5.16
		writeAPIError(w, http.StatusUnsupportedMediaType, "send the sign-in as Content-Type: application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
	if err != nil {
		status := http.StatusBadRequest
		if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
			status = http.StatusRequestEntityTooLarge
		}
		writeAPIError(w, status, "the body could not be read")
		return
	}
	req, err := parseAPILogin(body)
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, err.Error())
		return
	}
	v := s.visitor(r)
	switch {
	case !v.known:
		writeAPIError(w, http.StatusUnauthorized, "this device is not recognised (no hardware address for "+v.ip.String()+"); make sure it is connected to this network")
		return
	case v.client.State == session.Blocked:
		writeAPIError(w, http.StatusUnauthorized, "this device may not use this network")
		return
	case v.client.State == session.Preauth:
		req.MAC, req.IP = v.client.MAC, v.ip
		ctx, cancel := s.authContext(r)
		defer cancel()
		c, err := s.conf().SignIn.SignIn(ctx, req)
		if ref, ok := errors.AsType[*signin.Refusal](err); ok {
			s.refused(v, req, ref)
			writeAPIError(w, refusalStatus(w, ref, http.StatusUnauthorized), ref.Message)
			return
		}
		if err != nil {
			s.log.Error("portal: api sign-in failed", "mac", v.client.MAC.String(), "ip", v.ip, "method", req.Method, "err", err)
			writeAPIError(w, http.StatusInternalServerError, "something went wrong on our side; nothing was done, try again in a moment")
			return
		}
		v.client = c
	}
	// Signed in now, or already (then nothing changed).
	s.writeCaptive(w, http.StatusOK, s.captive(v.client, true))
}

// refusalStatus is the status of a refused sign-in: 429 with Retry-After
// (RFC 6585 §4, in whole seconds, rounded up) when the device must wait,
// 503 when the sign-in service did not answer (RFC 9110 §15.6.4: the
// server cannot handle it now, not the guest's fault), else refused.
func refusalStatus(w http.ResponseWriter, ref *signin.Refusal, refused int) int {
	if ref.Unavailable {
		return http.StatusServiceUnavailable
	}
	if ref.Wait <= 0 {
		return refused
	}
	w.Header().Set("Retry-After", strconv.FormatInt(int64((ref.Wait+time.Second-1)/time.Second), 10))
	return http.StatusTooManyRequests
}

// refused logs a refused sign-in: an operator asked why a guest's code
// did not work finds it here.
func (s *Server) refused(v visitor, req signin.Request, ref *signin.Refusal) {
	s.log.Info("portal: sign-in refused", "mac", v.client.MAC.String(), "ip", v.ip, "method", string(req.Method),
		"user", firstOf(req.Code, req.Username), "why", ref.Message)
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// codeField is a code as the code field may show it again: what the guest
// typed (or the link carried), cut to the field's length, printable.
func codeField(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 40 || !utf8.ValidString(s) {
		return ""
	}
	return s
}
