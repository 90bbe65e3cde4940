// Package admin serves the operator's pages and /metrics (SPEC §8) on a
// listener of the operator's side, never on the guests' interface: a login
// with the admin password (hashed by lobby passwd), a session cookie, CSRF
// tokens on every form and a limit on wrong passwords per address.
//
// The pages: Overview (clients, sign-ins and data of the last 24 hours,
// the router, RADIUS reachability and the accounting backlog), Clients
// (sign out, block, trust, limits), Vouchers (batches, their print sheet
// of cards with QR codes, revoke, each code's use) and Settings (venue
// name, terms, sign-in methods and the limits of config lobby, click and
// voucher, saved into the config file and applied as a reload). Limits and batches are read by ctl's own parsers and go the
// way `ctl limit` and `ctl voucher create` go.
// They are written in the portal's template language (portal.ParseTemplate),
// script-free, with nothing fetched from elsewhere.
package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lobby-fw/lobby/internal/config"
	"github.com/lobby-fw/lobby/internal/ctl"
	"github.com/lobby-fw/lobby/internal/metrics"
	"github.com/lobby-fw/lobby/internal/portal"
	"github.com/lobby-fw/lobby/internal/session"
)

// Config is what the admin server is given; firmware derives it from
// config admin.
type Config struct {
	Enabled      bool
	Listen       netip.AddrPort
	PasswordHash string // "": every login refused
	Metrics      bool
	MetricsOpen  bool
	// Portal are the portal's URLs: a voucher card's QR code carries
	// Portal.Voucher(code).
	Portal portal.URLs
}

// Clients is what the pages need of the client table.
type Clients interface {
	Clients() []session.Client
	Counts() map[session.State]int
	Deauth(ctx context.Context, mac net.HardwareAddr, r session.Reason) (session.Client, error)
	// by names the caller for the log; a block signs out with reason
	// blocked.
	SetBlocked(ctx context.Context, mac net.HardwareAddr, on bool, by string) (session.Client, error)
	SetTrusted(ctx context.Context, mac net.HardwareAddr, on bool, by string) (session.Client, error)
	// Limit changes a signed-in client's grant (ctl limit).
	Limit(ctx context.Context, mac net.HardwareAddr, fn func(g *session.Grant, now time.Time)) (session.Client, error)
}

// Activity is what sessions did lately (metrics.Activity).
type Activity interface {
	Last24h() []metrics.Hour
	Started() time.Time
}

// Status is what the Overview shows besides the clients.
type Status struct {
	Started     time.Time
	Backend     string // firewall backend
	Leases      int    // running DHCP leases
	Pool        int    // DHCP pool size; 0: DHCP off
	DHCPEnabled bool
	RADIUS      *RADIUS // nil: config radius not in use
}

// RADIUS is the servers' reachability as lobby's client has seen it, and
// the accounting backlog.
type RADIUS struct {
	Servers []RADIUSServer
	Waiting int       // accounting records waiting for an answer
	Oldest  time.Time // the oldest one's event; zero: none
}

// RADIUSServer is one server of config radius, in its order.
type RADIUSServer struct {
	Addr                    string
	LastAnswer, LastFailure time.Time // zero: none since lobby started
	Up                      bool
}

// Settings are what the Settings page edits (SPEC §8).
type Settings struct {
	VenueName, Terms string
	// Auth are the sign-in methods in the page's order (list auth); nil:
	// not changed.
	Auth []string
	// RADIUS is set when the file has config radius: only then is the
	// radius method offered.
	RADIUS bool
	// Limits are LimitOptions' values as the file writes them (2h,
	// 8mbit), by LimitOption.Key; "": not set (the default, or for config
	// click config lobby's). nil: not changed.
	Limits map[string]string
}

// LimitOption is a limit the Settings page edits: an option of a section
// type (the one section of it).
type LimitOption struct{ Type, Option string }

// Key names the option in Settings.Limits and in the form.
func (l LimitOption) Key() string { return l.Type + "." + l.Option }

// LimitOptions are the limits of config lobby, click and voucher (SPEC §2),
// in the page's order. The config package reads them; the page only
// passes their text on.
var LimitOptions = []LimitOption{
	{"lobby", "session_timeout"}, {"lobby", "idle_timeout"}, {"lobby", "download_rate"}, {"lobby", "upload_rate"}, {"lobby", "quota"},
	{"click", "session_timeout"}, {"click", "idle_timeout"}, {"click", "download_rate"}, {"click", "upload_rate"}, {"click", "quota"},
	{"voucher", "duration"}, {"voucher", "devices"}, {"voucher", "download_rate"}, {"voucher", "upload_rate"}, {"voucher", "quota"}, {"voucher", "valid"},
}

// authMethods are the sign-in methods the page offers (config.Auth*).
var authMethods = []string{config.AuthClick, config.AuthVoucher, config.AuthRADIUS}

// Deps are the admin server's ties to the rest of lobby.
type Deps struct {
	Table  Clients
	Status func() Status
	// Vouchers are the codes, as ctl has them; nil: no Vouchers page.
	Vouchers ctl.Vouchers
	// Activity feeds the Overview's last 24 hours; nil: not shown.
	Activity Activity
	// Collect emits every metric (firmware/metrics.go).
	Collect func(metrics.Emit)
	// Settings returns the running texts; Save writes new ones into the
	// config file and applies it as a SIGHUP would.
	Settings func() Settings
	Save     func(Settings) error
	Log      *slog.Logger
	Now      func() time.Time // nil: time.Now
}

// Server is the admin listener.
type Server struct {
	d      Deps
	conf   atomic.Pointer[Config]
	auth   *auth
	pages  *pages
	rebind chan struct{}
	once   sync.Once
}

// New returns a server for cfg; Run serves it.
func New(cfg Config, d Deps) (*Server, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	pg, err := loadPages()
	if err != nil {
		return nil, err
	}
	s := &Server{d: d, auth: newAuth(d.Now), pages: pg, rebind: make(chan struct{}, 1)}
	s.conf.Store(&cfg)
	s.warnHash(cfg)
	return s, nil
}

func (s *Server) warnHash(cfg Config) {
	switch {
	case !cfg.Enabled:
	case cfg.PasswordHash == "":
		s.d.Log.Warn("admin: no password_hash in config admin: every login is refused; set one with lobby passwd")
	case CheckHash(cfg.PasswordHash) != nil:
		s.d.Log.Warn("admin: option password_hash is not a hash lobby passwd wrote: every login is refused", "err", CheckHash(cfg.PasswordHash))
	}
}

// Reload applies a new config: a new password ends every login and the
// remembered Basic credential; a new listen address (or enabled) moves the
// listener.
func (s *Server) Reload(cfg Config) {
	old := s.conf.Swap(&cfg)
	if old.PasswordHash != cfg.PasswordHash {
		s.auth.reset()
	}
	s.warnHash(cfg)
	if old.Enabled != cfg.Enabled || old.Listen != cfg.Listen {
		select {
		case s.rebind <- struct{}{}:
		default:
		}
	}
}

// Run serves until ctx ends. A listen address that cannot be bound stops
// lobby at start; on a reload it is logged and the running listener kept.
func (s *Server) Run(ctx context.Context, ready func()) error {
	var srv *http.Server
	var at netip.AddrPort
	stop := func() {
		if srv != nil {
			srv.Close()
			srv = nil
		}
	}
	defer stop()
	first := true
	for {
		cfg := s.conf.Load()
		want := netip.AddrPort{}
		if cfg.Enabled {
			want = cfg.Listen
		}
		if want != at || first {
			var next *http.Server
			if want.IsValid() {
				ln, err := listen(ctx, want)
				if err != nil {
					if first {
						return fmt.Errorf("admin: %w (option listen of config admin)", err)
					}
					s.d.Log.Error("admin: keeping the running listener", "err", err)
				} else {
					next = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
						WriteTimeout: 20 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10,
						ErrorLog: slog.NewLogLogger(s.d.Log.Handler(), slog.LevelDebug)}
					go next.Serve(ln)
					s.d.Log.Info("admin: serving", "listen", want.String(), "metrics", cfg.Metrics)
				}
			}
			if next != nil || !want.IsValid() {
				stop()
				srv, at = next, want
			}
		}
		if first {
			ready()
			first = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.rebind:
		}
	}
}

// listen binds addr with IP_FREEBIND: the operator's address may come up
// after lobby (netifd brings the LAN up in its own time).
func listen(ctx context.Context, addr netip.AddrPort) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_FREEBIND, 1)
		})
		return errors.Join(err, serr)
	}}
	return lc.Listen(ctx, "tcp", addr.String())
}

// remote is the client's address.
func remote(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// Cookie names.
const (
	sessionCookie = "lobby_admin"
	loginCookie   = "lobby_admin_login" // the login form's CSRF token (double submit)
)

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'")
	if r.URL.Path == "/metrics" {
		s.serveMetrics(w, r)
		return
	}
	switch r.URL.Path {
	case "/login":
		s.serveLogin(w, r)
		return
	}
	id := ""
	if c, err := r.Cookie(sessionCookie); err == nil {
		id = c.Value
	}
	csrf, ok := s.auth.session(id)
	if !ok {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	v := &view{CSRF: csrf, LoggedIn: true}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 128<<10)
		if err := r.ParseForm(); err != nil || !validCSRF(csrf, r.PostForm.Get("csrf")) {
			s.render(w, http.StatusForbidden, "Refused", s.pages.message, &view{CSRF: csrf, LoggedIn: true, Error: "The form was stale or not from these pages; nothing changed. Reload the page and try again."})
			return
		}
	} else if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case "/":
		s.overview(w, v)
	case "/clients":
		if r.Method == http.MethodPost {
			s.clientAction(r, v)
		}
		s.clients(w, v)
	case "/vouchers":
		s.vouchers(w, r, v)
	case "/vouchers/print":
		s.printSheet(w, r, v)
	case "/settings":
		s.settings(w, r, v)
	case "/logout":
		if r.Method != http.MethodPost {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		s.auth.logout(id)
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) serveLogin(w http.ResponseWriter, r *http.Request) {
	addr := remote(r)
	token := ""
	if c, err := r.Cookie(loginCookie); err == nil && len(c.Value) == 32 {
		token = c.Value
	} else {
		token = randomID()
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: token, Path: "/login", MaxAge: 3600, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	v := &view{CSRF: token}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.render(w, http.StatusOK, "Sign in", s.pages.login, v)
		return
	case http.MethodPost:
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if wait, ok := s.auth.waiting(addr); ok {
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		v.Error = fmt.Sprintf("Too many wrong passwords: wait %d seconds.", int(wait.Seconds())+1)
		s.render(w, http.StatusTooManyRequests, "Sign in", s.pages.login, v)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil || !validCSRF(token, r.PostForm.Get("csrf")) {
		v.Error = "The form was stale; try again."
		s.render(w, http.StatusForbidden, "Sign in", s.pages.login, v)
		return
	}
	hash := s.conf.Load().PasswordHash
	if r.PostForm.Get("user") != "admin" || !CheckPassword(hash, r.PostForm.Get("password")) {
		s.auth.failed(addr)
		s.d.Log.Warn("admin: wrong user or password", "from", addr.String())
		v.Error = "Wrong user or password."
		if hash == "" {
			v.Error = "No admin password is set: run lobby passwd on the router, then reload."
		}
		s.render(w, http.StatusForbidden, "Sign in", s.pages.login, v)
		return
	}
	id := s.auth.start()
	s.d.Log.Info("admin: signed in", "from", addr.String())
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", MaxAge: int(SessionLifetime / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	cfg := s.conf.Load()
	if !cfg.Metrics || s.d.Collect == nil {
		http.NotFound(w, r)
		return
	}
	if !cfg.MetricsOpen {
		addr := remote(r)
		if wait, ok := s.auth.waiting(addr); ok {
			w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
			http.Error(w, "too many wrong passwords", http.StatusTooManyRequests)
			return
		}
		user, pw, ok := r.BasicAuth()
		if !ok || !s.auth.basicOK(cfg.PasswordHash, user, pw) {
			if ok {
				s.auth.failed(addr)
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="lobby", charset="UTF-8"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	var b bytes.Buffer
	metrics.Write(&b, s.d.Collect)
	w.Header().Set("Content-Type", metrics.ContentType)
	w.Write(b.Bytes())
}

func (s *Server) clientAction(r *http.Request, v *view) {
	mac, err := config.ParseMAC(r.PostForm.Get("mac"))
	if err != nil {
		v.Error = "Not a client's MAC address."
		return
	}
	ctx := r.Context()
	action := r.PostForm.Get("action")
	switch action {
	case "signout":
		_, err = s.d.Table.Deauth(ctx, mac, session.ReasonAdmin)
	case "block":
		_, err = s.d.Table.SetBlocked(ctx, mac, true, "admin")
	case "unblock":
		_, err = s.d.Table.SetBlocked(ctx, mac, false, "admin")
	case "trust":
		_, err = s.d.Table.SetTrusted(ctx, mac, true, "admin")
	case "untrust":
		_, err = s.d.Table.SetTrusted(ctx, mac, false, "admin")
	case "limit":
		err = s.limit(r, mac)
	default:
		v.Error = "Unknown action."
		return
	}
	if err != nil {
		v.Error = "Could not " + action + " " + mac.String() + ": " + err.Error()
		return
	}
	s.d.Log.Info("admin: "+action, "mac", mac.String(), "from", remote(r).String())
	v.Message = "Done: " + action + " " + mac.String() + "."
}

// limitKeys are the limits form's fields, named as `ctl limit`'s keys: the
// form is read by ctl.ParseLimits, so a limit set here is set as ctl sets
// it. An empty field is left as it is.
var limitKeys = []string{"download", "upload", "quota", "expires"}

func (s *Server) limit(r *http.Request, mac net.HardwareAddr) error {
	var args []string
	for _, k := range limitKeys {
		if val := strings.TrimSpace(r.PostForm.Get(k)); val != "" {
			args = append(args, k+"="+val)
		}
	}
	if len(args) == 0 {
		return errors.New("no limit given")
	}
	set, err := ctl.ParseLimits(args)
	if err != nil {
		return err
	}
	_, err = s.d.Table.Limit(r.Context(), mac, set)
	return err
}

func (s *Server) settings(w http.ResponseWriter, r *http.Request, v *view) {
	cur := s.d.Settings()
	status := http.StatusOK
	if r.Method == http.MethodPost {
		next := Settings{VenueName: strings.TrimSpace(r.PostForm.Get("venue_name")), Terms: strings.ReplaceAll(strings.TrimSpace(r.PostForm.Get("terms")), "\r\n", "\n"),
			Auth: []string{}, RADIUS: cur.RADIUS, Limits: map[string]string{}}
		for _, m := range r.PostForm["auth"] {
			if m != "" {
				next.Auth = append(next.Auth, m)
			}
		}
		for _, l := range LimitOptions {
			next.Limits[l.Key()] = strings.TrimSpace(r.PostForm.Get(l.Key()))
		}
		cur = next // the form shows what was sent, saved or not
		switch {
		case next.VenueName == "" || next.Terms == "":
			v.Error, status = "The venue name and the terms cannot be empty.", http.StatusBadRequest
		case len(next.Auth) == 0:
			v.Error, status = "Choose at least one sign-in method.", http.StatusBadRequest
		case s.d.Save == nil:
			v.Error, status = "Saving is not possible here.", http.StatusInternalServerError
		default:
			if err := s.d.Save(next); err != nil {
				v.Error, status = "Not saved: "+err.Error(), http.StatusBadRequest
			} else {
				s.d.Log.Info("admin: settings saved", "from", remote(r).String())
				v.Message = "Saved and applied."
			}
		}
	}
	s.settingsForm(v, cur)
	s.render(w, status, "Settings", s.pages.settings, v)
}

// settingsForm fills the Settings form with st: a choice of method for
// each place in the page's order, and each limit's text.
func (s *Server) settingsForm(v *view, st Settings) {
	v.VenueName, v.Terms = st.VenueName, st.Terms
	var methods, limits bytes.Buffer
	for i := range authMethods {
		m := ""
		if i < len(st.Auth) {
			m = st.Auth[i]
		}
		s.pages.method.Render(&methods, &view{Count: fmt.Sprint(i + 1),
			Click: m == config.AuthClick, Voucher: m == config.AuthVoucher, RADIUSMethod: m == config.AuthRADIUS, RADIUSOffered: st.RADIUS || m == config.AuthRADIUS})
	}
	for _, l := range LimitOptions {
		s.pages.limit.Render(&limits, &view{Field: l.Key(), Label: l.Type + " " + strings.ReplaceAll(l.Option, "_", " "), Value: st.Limits[l.Key()]})
	}
	v.Methods, v.Limits = methods.String(), limits.String()
}

func (s *Server) overview(w http.ResponseWriter, v *view) {
	n := s.d.Table.Counts()
	v.Preauth, v.Authenticated = fmt.Sprint(n[session.Preauth]), fmt.Sprint(n[session.Authenticated])
	v.Trusted, v.Blocked = fmt.Sprint(n[session.Trusted]), fmt.Sprint(n[session.Blocked])
	st := s.d.Status()
	v.DHCP = "off"
	if st.DHCPEnabled {
		v.DHCP = fmt.Sprintf("%d of %d addresses leased", st.Leases, st.Pool)
	}
	v.Uptime = config.FormatDuration(s.d.Now().Sub(st.Started).Truncate(time.Second))
	v.Backend = st.Backend
	if s.d.Activity != nil {
		s.lastDay(v)
	}
	if st.RADIUS != nil {
		s.radius(v, st.RADIUS)
	}
	s.render(w, http.StatusOK, "Overview", s.pages.overview, v)
}

// radius fills the Overview's RADIUS box: each server as lobby's client
// saw it, the accounting records waiting and the oldest one's age.
func (s *Server) radius(v *view, st *RADIUS) {
	now := s.d.Now()
	ago := func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return config.FormatDuration(max(now.Sub(t), 0).Truncate(time.Second)) + " ago"
	}
	var rows bytes.Buffer
	for _, sv := range st.Servers {
		reach := "down"
		switch {
		case sv.Up:
			reach = "up"
		case sv.LastAnswer.IsZero() && sv.LastFailure.IsZero():
			reach = "not asked yet"
		}
		s.pages.server.Render(&rows, &view{Server: sv.Addr, Reach: reach, LastAnswer: ago(sv.LastAnswer), LastFailure: ago(sv.LastFailure)})
	}
	v.RADIUS = rows.String()
	v.Waiting = fmt.Sprint(st.Waiting)
	if !st.Oldest.IsZero() {
		v.Oldest = config.FormatDuration(max(now.Sub(st.Oldest), 0).Truncate(time.Second))
	}
}

func (s *Server) clients(w http.ResponseWriter, v *view) {
	var rows bytes.Buffer
	for _, c := range s.d.Table.Clients() {
		g := c.Grant
		row := &view{CSRF: v.CSRF, MAC: c.MAC.String(), State: c.State.String(),
			Hostname: c.Hostname, Since: stamp(c.Since), Expires: stamp(c.Expires),
			Up: bytesText(c.BytesUp), Down: bytesText(c.BytesDown),
			Method: string(g.Method), User: g.User, Download: rate(g.DownloadRate), Upload: rate(g.UploadRate), Quota: size(g.Quota),
			SignedIn: c.State == session.Authenticated, IsBlocked: c.State == session.Blocked, IsTrusted: c.State == session.Trusted}
		if c.IP.IsValid() {
			row.IP = c.IP.String()
		}
		s.pages.row.Render(&rows, row)
	}
	v.Rows = rows.String()
	v.Empty = rows.Len() == 0
	s.render(w, http.StatusOK, "Clients", s.pages.clients, v)
}

// rate and size write a limit as ctl limit reads it; "" for none, so
// that the form shows its placeholder.
func rate(n uint64) string {
	if n == 0 {
		return ""
	}
	return config.FormatRate(n)
}

func size(n uint64) string {
	if n == 0 {
		return ""
	}
	return config.FormatSize(n)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func bytesText(n uint64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// render writes a page: the body's template inside the layout.
func (s *Server) render(w http.ResponseWriter, status int, title string, body *tmpl, v *view) {
	var b bytes.Buffer
	body.Render(&b, v)
	v.Title, v.Body = title, b.String()
	var page bytes.Buffer
	s.pages.layout.Render(&page, v)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(page.Bytes())
}

// lastDay fills the Overview's last 24 hours: a bar per hour for sign-ins
// and one for data, scaled to the busiest hour, and the totals.
func (s *Server) lastDay(v *view) {
	hours := s.d.Activity.Last24h()
	var most, mostData, signIns, up, down uint64
	for _, h := range hours {
		most, mostData = max(most, h.SignIns), max(mostData, h.Up+h.Down)
		signIns, up, down = signIns+h.SignIns, up+h.Up, down+h.Down
	}
	var a, b bytes.Buffer
	for _, h := range hours {
		at := h.Start.Local().Format("15:04")
		s.pages.bar.Render(&a, &view{Title: fmt.Sprintf("%s: %d sign-ins", at, h.SignIns), Percent: percent(h.SignIns, most)})
		s.pages.bar.Render(&b, &view{Title: fmt.Sprintf("%s: %s down, %s up", at, bytesText(h.Down), bytesText(h.Up)), Percent: percent(h.Up+h.Down, mostData)})
	}
	v.SignInBars, v.DataBars = a.String(), b.String()
	v.SignIns24 = fmt.Sprint(signIns)
	v.Data24 = bytesText(down) + " down, " + bytesText(up) + " up"
	v.From, v.To = hours[0].Start.Local().Format("15:04")+" yesterday", hours[len(hours)-1].Start.Local().Format("15:04")+" now"
	if started := s.d.Activity.Started(); s.d.Now().Sub(started) < 24*time.Hour {
		v.CountedSince = stamp(started)
	}
}

// percent is n of most as a whole percentage, for a bar's height; a bar of
// anything at all is at least 2% high, so it shows.
func percent(n, most uint64) string {
	if n == 0 || most == 0 {
		return "0"
	}
	return fmt.Sprint(max(2, n*100/most))
}
