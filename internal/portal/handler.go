package portal

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/signin"
)

// contentSecurityPolicy allows the page's own files and nothing else. It
// has no form-action: Chrome applies form-action to the redirects that
// follow a submission, and the sign-in form's 303 goes to the guest's
// original site. frame-ancestors and X-Frame-Options DENY do not hinder
// captive sheets, which show the portal as a top-level page.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.index)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("GET /login", s.backTo("/"))
	mux.HandleFunc("GET /status", s.status)
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("GET /logout", s.backTo("/status"))
	mux.HandleFunc("GET /api/captive", s.captiveAPI)
	mux.HandleFunc("POST /api/login", s.apiLogin)
	mux.HandleFunc("GET /static/", s.serveStatic)
	mux.HandleFunc("/", s.notFound)
	return s.headers(mux)
}

// headers sets what every response carries and sends a browser that came
// with a foreign Host to the portal's own name.
//
// Foreign Host: a client that reached this port through a hijacked name
// (http://example.com:2050/) would post its form to that name, whose
// Origin the sign-in check rejects. Sending it to the portal's own origin
// first keeps Origin checks exact, which also defeats DNS rebinding: a page
// of a rebound foreign name can read the portal but never post to it. The
// captive API answers under any name, as clients use the URI given them.
func (s *Server) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		// same-origin, not no-referrer: see sameOrigin.
		h.Set("Referrer-Policy", "same-origin")
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && !s.ownHost(r.Host) && r.URL.Path != "/api/captive" {
			base := s.conf().URLs.HTTP
			if r.TLS != nil && s.conf().URLs.HTTPS != "" {
				base = s.conf().URLs.HTTPS
			}
			http.Redirect(w, r, strings.TrimSuffix(base, "/")+r.URL.RequestURI(), http.StatusFound)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ownHost reports whether a Host header names the portal (any port).
func (s *Server) ownHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	c := s.conf()
	return host == c.Address.String() || (host != "" && host == strings.ToLower(c.Hostname))
}

// visitor is the client behind a request.
type visitor struct {
	ip     netip.Addr
	client session.Client
	known  bool // the table (or the neighbour table) knows its MAC
}

func (s *Server) visitor(r *http.Request) visitor {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return visitor{}
	}
	v := visitor{ip: ap.Addr().Unmap()}
	v.client, v.known = s.table.LookupIP(v.ip)
	return v
}

// ids are the identities a token may be bound to, the issuing one first:
// the MAC, and the address for a token issued before the MAC was known.
func (v visitor) ids() []string {
	if v.known {
		return []string{"mac:" + v.client.MAC.String(), "ip:" + v.ip.String()}
	}
	return []string{"ip:" + v.ip.String()}
}

func (v visitor) state() string {
	if !v.known {
		return "unknown"
	}
	return v.client.State.String()
}

// page is the data every template gets, filled in for this visitor.
func (s *Server) page(v visitor) *Page {
	c := s.conf()
	p := &Page{
		VenueName: c.VenueName, Terms: paragraphs(c.Terms), PortalURL: s.URL(),
		State: v.state(), IP: v.ip.String(),
	}
	for _, m := range c.SignIn.Methods() {
		p.Methods = append(p.Methods, string(m))
	}
	if v.known {
		p.MAC = v.client.MAC.String()
		p.SignedIn = v.client.State == session.Authenticated || v.client.State == session.Trusted
		if v.client.State == session.Authenticated {
			if !v.client.Expires.IsZero() {
				p.Expires = v.client.Expires
				p.TimeLeft = timeLeft(v.client.Expires.Sub(s.now()))
			}
			if left, ok := c.SignIn.QuotaLeft(v.client); ok {
				p.DataLeft = dataLeft(left)
			}
			p.Method, p.User = string(v.client.Grant.Method), v.client.Grant.User
		}
		if v.client.State == session.Preauth && v.client.Ended == session.ReasonQuota {
			p.Notice = "Your data allowance is used up, so you were signed out."
		}
	}
	return p
}

func (p *Page) setRedir(redir string) {
	p.Redir = redir
	if u, err := url.Parse(redir); err == nil && redir != "" {
		p.RedirHost = u.Hostname()
	}
	p.Back = "/"
	if redir != "" {
		p.Back = "/?redir=" + url.QueryEscape(redir)
	}
}

// index is the sign-in page; a client that is signed in already gets its
// status, with a link on to where it was going.
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	v := s.visitor(r)
	p := s.page(v)
	p.setRedir(sanitizeRedir(r.URL.Query().Get("redir")))
	p.Code = codeField(r.URL.Query().Get("voucher"))
	switch {
	case v.known && v.client.State == session.Blocked:
		s.blocked(w, p)
	case p.SignedIn:
		p.Token = s.token(purposeLogout, v.ids()[0])
		s.render(w, http.StatusOK, pageStatus, p)
	default:
		p.Token = s.token(purposeLogin, v.ids()[0])
		s.render(w, http.StatusOK, pageLogin, p)
	}
}

// login signs the requesting client in (SPEC §3: POST /login) and sends it
// on with 303 See Other, which turns the POST into a GET (RFC 9110 §15.4.4).
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	v, p, ok := s.checkPost(w, r, purposeLogin)
	if !ok {
		return
	}
	switch v.client.State {
	case session.Blocked:
		s.blocked(w, p)
		return
	case session.Preauth:
		req := signin.Request{
			MAC: v.client.MAC, IP: v.ip, Method: session.Method(r.PostForm.Get("method")),
			Code: r.PostForm.Get("code"), Username: r.PostForm.Get("username"), Password: r.PostForm.Get("password"),
		}
		if req.Method == "" {
			// A form of an operator's login.html from before the
			// methods: it was the click-through button.
			req.Method = session.MethodClick
		}
		ctx, cancel := s.authContext(r)
		defer cancel()
		if _, err := s.conf().SignIn.SignIn(ctx, req); err != nil {
			if ref, ok := errors.AsType[*signin.Refusal](err); ok {
				s.refused(v, req, ref)
				p.Notice, p.Code = ref.Message, codeField(req.Code)
				p.Token = s.token(purposeLogin, v.ids()[0])
				s.render(w, refusalStatus(w, ref, http.StatusForbidden), pageLogin, p)
				return
			}
			s.log.Error("portal: sign-in failed", "mac", v.client.MAC.String(), "ip", v.ip, "method", req.Method, "err", err)
			p.Title, p.Message = "Sign-in failed", "Something went wrong on our side, so you are not signed in yet. Please try again in a moment."
			s.render(w, http.StatusInternalServerError, pageError, p)
			return
		}
	}
	// Authenticated or trusted already: nothing to do but send it on.
	target := p.Redir
	if target == "" {
		target = "/status"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// logout signs the requesting client out and shows the sign-in page again.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	v, _, ok := s.checkPost(w, r, purposeLogout)
	if !ok {
		return
	}
	target := "/"
	switch v.client.State {
	case session.Authenticated:
		ctx, cancel := s.authContext(r)
		defer cancel()
		if _, err := s.table.Deauth(ctx, v.client.MAC, session.ReasonLogout); err != nil && !errors.Is(err, session.ErrUnknownClient) && !errors.Is(err, session.ErrNotSignedIn) {
			s.log.Error("portal: sign-out failed", "mac", v.client.MAC.String(), "ip", v.ip, "err", err)
		}
	case session.Trusted:
		target = "/status" // a trusted device cannot sign out; its status says so
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// authContext is the context of a sign-in or sign-out. It outlives the
// request's own: a guest who closes the page right after pressing the
// button must not leave a half-done change behind.
func (s *Server) authContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), authTimeout)
}

// checkPost does what every form POST needs before it may act: a bounded
// body, the portal's own origin, a client with a MAC, and a valid token for
// purpose. On failure it has answered, and no one was signed in or out.
func (s *Server) checkPost(w http.ResponseWriter, r *http.Request, purpose string) (visitor, *Page, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	v := s.visitor(r)
	p := s.page(v)
	if err := r.ParseForm(); err != nil {
		status := http.StatusBadRequest
		if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
			status = http.StatusRequestEntityTooLarge
		}
		p.Title, p.Message = "Not signed in", "The form could not be read. Please start again from the sign-in page."
		s.render(w, status, pageError, p)
		return v, p, false
	}
	p.setRedir(sanitizeRedir(r.PostForm.Get("redir")))
	if ok, origin := s.sameOrigin(r.Header.Get("Origin"), r.Header.Get("Referer")); !ok {
		s.log.Debug("portal: foreign origin", "ip", v.ip, "origin", origin, "path", r.URL.Path)
		p.Title = "Not signed in"
		p.Message = "This request came from another site (" + origin + "), so nothing was done. Please use the button on the sign-in page."
		s.render(w, http.StatusForbidden, pageError, p)
		return v, p, false
	}
	if !v.known {
		s.log.Debug("portal: no MAC for client", "ip", v.ip)
		p.Title = "Device not recognised"
		p.Message = "We could not tell which device this is (no hardware address for " + v.ip.String() +
			"). Make sure you are connected to this network's Wi-Fi, wait a moment and try again."
		s.render(w, http.StatusForbidden, pageError, p)
		return v, p, false
	}
	if !s.validToken(r.PostForm.Get("token"), purpose, v.ids()...) {
		s.log.Debug("portal: bad or expired token", "mac", v.client.MAC.String(), "ip", v.ip, "path", r.URL.Path)
		p.Notice = "This page had expired, so nothing was done yet. Please press the button again."
		if purpose == purposeLogin && !p.SignedIn {
			p.Token = s.token(purposeLogin, v.ids()[0])
			s.render(w, http.StatusForbidden, pageLogin, p)
		} else {
			p.Token = s.token(purposeLogout, v.ids()[0])
			s.render(w, http.StatusForbidden, pageStatus, p)
		}
		return v, p, false
	}
	return v, p, true
}

func (s *Server) blocked(w http.ResponseWriter, p *Page) {
	p.Title, p.Message = "Not available", "This device may not use this network. If you think this is a mistake, please ask the staff."
	p.Back = ""
	s.render(w, http.StatusForbidden, pageError, p)
}

// status shows the client's state and time left, with a sign-out button.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	v := s.visitor(r)
	p := s.page(v)
	if v.known && v.client.State == session.Blocked {
		s.blocked(w, p)
		return
	}
	p.setRedir(sanitizeRedir(r.URL.Query().Get("redir")))
	p.Token = s.token(purposeLogout, v.ids()[0])
	s.render(w, http.StatusOK, pageStatus, p)
}

// backTo answers a GET of a form's target (a reload, a bookmark) with the
// page that has the form.
func (s *Server) backTo(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, path, http.StatusSeeOther)
	}
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := s.page(s.visitor(r))
	p.Title, p.Message, p.Back = "Page not found", "There is nothing here.", "/"
	s.render(w, http.StatusNotFound, pageError, p)
}
