// Package portal is Lobby's sign-in web server (SPEC §3, Portal): the page
// a captive client is sent to, the form that signs it in, its status page and
// the RFC 8908 captive-portal API. It serves plain HTTP on ADDRESS:PORT and,
// with a certificate, the same pages over HTTPS on TLS_PORT.
//
// The portal keeps no client state of its own: it finds the requesting
// client's MAC from its source address through the session table, and signs
// it in or out there; the table tells the firewall. The only secret it holds
// is a per-boot key for the CSRF tokens of its forms.
package portal

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/netutil"

	"github.com/lobby-fw/lobby/internal/connlimit"
	"github.com/lobby-fw/lobby/internal/session"
	"github.com/lobby-fw/lobby/internal/signin"
)

// Table is what the portal needs of the session table.
type Table interface {
	LookupIP(ip netip.Addr) (session.Client, bool)
	Deauth(ctx context.Context, mac net.HardwareAddr, r session.Reason) (session.Client, error)
}

// SignIn is what the portal needs of the sign-in methods (internal/signin):
// which are offered, and signing a device in with one.
type SignIn interface {
	Methods() []session.Method
	SignIn(ctx context.Context, r signin.Request) (session.Client, error)
	// QuotaLeft is what c's session may still use (a voucher's devices
	// share its code's); ok is false without a quota.
	QuotaLeft(c session.Client) (left uint64, ok bool)
}

// Config is what the portal serves and where. A reload may change all of
// it but Address and Port (the listener), and Table and Log.
type Config struct {
	Address  netip.Addr // the portal's IPv4 address on the LAN
	Port     uint16     // plain HTTP
	Hostname string     // the name that always resolves to Address
	URLs     URLs       // NewURLs of the fields above

	// TLSCert and TLSKey are PEM files; with both set the portal also
	// serves HTTPS on TLSPort, and that is the URI it advertises.
	TLSCert, TLSKey string
	TLSPort         uint16

	VenueName string
	Terms     string // paragraphs separated by blank lines
	// TemplateDir holds the operator's own templates (and a static/
	// folder); each file there replaces the built-in one of that name.
	TemplateDir string

	// VenueURL is RFC 8908's venue-info-url (option venue_url); "": none.
	VenueURL string

	Table  Table
	SignIn SignIn
	Log    *slog.Logger
}

// TLS reports whether the portal serves HTTPS.
func (c *Config) TLS() bool { return c.TLSCert != "" && c.TLSKey != "" }

// Server limits. A router has little memory and every preauth client can
// reach the portal, so each request is bounded in time and size.
const (
	maxConns = 256 // open connections; more wait in the kernel's backlog
	// maxClientConns bounds one client's open connections on each of the
	// HTTP and HTTPS ports, so that one device's keep-alive connections
	// cannot fill maxConns and lock everyone else out of signing in. A
	// browser opens at most 6 to a host (HTTP/1.1 per-host pool, as
	// Chrome, Firefox and Safari have it), the operating system's
	// captive-portal window and its API checks another few: 16 leaves
	// room for both. Over the bound a connection is closed at once.
	maxClientConns = 16

	maxHeaderBytes    = 8 << 10 // request line and headers
	maxFormBytes      = 4 << 10 // a POST body: the forms carry two short fields
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	idleTimeout       = 60 * time.Second
	shutdownTimeout   = 3 * time.Second
	// authTimeout bounds a sign-in or sign-out, which waits for the disk
	// and, for a RADIUS sign-in, for the servers: up to 20 s in all
	// (config radius refuses more, config.MaxRADIUSWait). The answer must
	// still be written after it, within writeTimeout of the request.
	authTimeout  = 22 * time.Second
	writeTimeout = authTimeout + 5*time.Second
)

// Server is the portal. Build it with New, run it with Run; Reload applies
// a new Config.
type Server struct {
	table  Table
	log    *slog.Logger
	secret []byte           // per boot: tokens do not survive a restart
	now    func() time.Time // the clock, for tests

	cfg   atomic.Pointer[Config]          // replaced whole by a reload
	pages atomic.Pointer[pages]           // templates and static files
	cert  atomic.Pointer[tls.Certificate] // nil without TLS
	// retls tells Run that a reload turned HTTPS on or off or moved it.
	retls chan struct{}

	handler http.Handler
}

// New checks the templates and the certificate and prepares the server. A
// broken template or certificate is an error naming the file.
func New(cfg Config) (*Server, error) {
	if !cfg.Address.Is4() {
		return nil, fmt.Errorf("portal: address %v is not an IPv4 address", cfg.Address)
	}
	if cfg.Table == nil || cfg.SignIn == nil {
		return nil, errors.New("portal: no session table or sign-in methods")
	}
	if cfg.URLs.HTTP == "" {
		return nil, errors.New("portal: no URLs (NewURLs makes them)")
	}
	s := &Server{table: cfg.Table, log: cfg.Log, now: time.Now, secret: make([]byte, 32), retls: make(chan struct{}, 1)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if _, err := rand.Read(s.secret); err != nil {
		return nil, fmt.Errorf("portal: random key: %w", err)
	}
	p, cert, err := s.prepare(&cfg)
	if err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	s.pages.Store(p)
	s.cert.Store(cert)
	s.cfg.Store(&cfg)
	s.handler = s.routes()
	return s, nil
}

// prepare reads the pages and the certificate that cfg names.
func (s *Server) prepare(cfg *Config) (*pages, *tls.Certificate, error) {
	p, err := loadPages(cfg.TemplateDir)
	if err != nil {
		return nil, nil, err
	}
	var cert *tls.Certificate
	if cfg.TLS() {
		if cert, err = s.loadCert(cfg); err != nil {
			return nil, nil, err
		}
	}
	return p, cert, nil
}

// conf is the running Config.
func (s *Server) conf() *Config { return s.cfg.Load() }

func (s *Server) tls() bool { return s.conf().TLS() }

// Handler is the portal's HTTP handler, the same for HTTP and HTTPS.
func (s *Server) Handler() http.Handler { return s.handler }

// URL is the portal's address as clients are sent to it: the https URI
// with TLS (RFC 8908 §2 wants it; option 114 and user-portal-url carry
// it), else http://ADDRESS:PORT/.
func (s *Server) URL() string { return s.conf().URLs.User }

// APIURL is the URI of the captive-portal API (RFC 8908).
func (s *Server) APIURL() string { return s.conf().URLs.API }

// Run serves until ctx ends.
func (s *Server) Run(ctx context.Context, ready func()) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// A client that hangs up mid-request is not worth a log line.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	plain, err := s.listen(s.conf().Port, "port")
	if err != nil {
		return err
	}
	type result struct {
		l   net.Listener
		err error
	}
	served := make(chan result, 2)
	serve := func(l net.Listener) { served <- result{l, srv.Serve(l)} }
	go serve(plain)
	// The HTTPS listener follows the config: a reload may open, move or
	// close it. One it closed is retired, not a failure.
	var secure net.Listener
	retired := map[net.Listener]bool{}
	openTLS := func() error {
		if secure != nil {
			retired[secure] = true
			secure.Close()
			secure = nil
		}
		c := s.conf()
		if !c.TLS() {
			return nil
		}
		l, err := s.listen(c.TLSPort, "tls_port")
		if err != nil {
			return err
		}
		secure = tls.NewListener(l, &tls.Config{
			MinVersion: tls.VersionTLS12,
			// The certificate is looked up per handshake, so a reload
			// takes effect without dropping connections.
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.cert.Load(), nil },
		})
		go serve(secure)
		return nil
	}
	if err := openTLS(); err != nil {
		plain.Close()
		return err
	}
	s.log.Info("portal: serving", "url", "http://"+plain.Addr().String()+"/", "advertised", s.URL())
	ready()

	for {
		select {
		case r := <-served:
			if retired[r.l] {
				delete(retired, r.l)
				continue
			}
			srv.Close()
			return fmt.Errorf("serving: %w", r.err)
		case <-s.retls:
			if err := openTLS(); err != nil {
				s.log.Error("portal: reload: no HTTPS portal", "err", err)
			} else if s.tls() {
				s.log.Info("portal: serving HTTPS", "port", s.conf().TLSPort)
			}
		case <-ctx.Done():
			// Let requests in flight (a sign-in waiting for the disk)
			// finish, then cut the rest.
			sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				srv.Close()
			}
			return nil
		}
	}
}

// listen opens the kernel TCP listener on the portal address, with an error
// that names the option to change.
func (s *Server) listen(port uint16, option string) (net.Listener, error) {
	addr := netip.AddrPortFrom(s.conf().Address, port).String()
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		fix := "is lobby running already? (ss -ltnp shows who listens)"
		switch {
		case errors.Is(err, syscall.EADDRINUSE):
			fix = fmt.Sprintf("another program serves port %d (ss -ltnp names it): stop it or set option %s", port, option)
		case errors.Is(err, syscall.EACCES):
			fix = fmt.Sprintf("run lobby as root or set option %s above 1023", option)
		case errors.Is(err, syscall.EADDRNOTAVAIL):
			fix = fmt.Sprintf("%s is not an address of this machine: fix option address", s.conf().Address)
		}
		return nil, fmt.Errorf("listen tcp %s: %w — %s", addr, err, fix)
	}
	return netutil.LimitListener(connlimit.New(maxClientConns).Listener(l), maxConns), nil
}

// Reload applies cfg (but its Address and Port, which take a restart) and
// re-reads the page files and the certificate, even when their names did
// not change. A broken page or certificate is an error, and the running
// config, pages and certificate stay.
func (s *Server) Reload(cfg Config) error {
	old := s.conf()
	cfg.Address, cfg.Port, cfg.Table, cfg.SignIn, cfg.Log = old.Address, old.Port, old.Table, old.SignIn, old.Log
	p, cert, err := s.prepare(&cfg)
	if err != nil {
		return fmt.Errorf("portal: %w", err)
	}
	s.pages.Store(p)
	s.cert.Store(cert)
	s.cfg.Store(&cfg)
	if old.TLS() != cfg.TLS() || cfg.TLS() && old.TLSPort != cfg.TLSPort {
		select {
		case s.retls <- struct{}{}:
		default:
		}
	}
	return nil
}

// loadCert reads the key pair and checks that it is usable now.
func (s *Server) loadCert(cfg *Config) (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("tls_cert %s / tls_key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
	}
	if leaf := c.Leaf; leaf != nil {
		if s.now().After(leaf.NotAfter) {
			s.log.Warn("portal: the certificate has expired; clients will refuse the HTTPS portal and the captive API", "cert", cfg.TLSCert, "not_after", leaf.NotAfter)
		}
		if err := leaf.VerifyHostname(cfg.Hostname); err != nil {
			s.log.Warn("portal: the certificate does not name option hostname; clients will refuse the HTTPS portal", "cert", cfg.TLSCert, "hostname", cfg.Hostname, "err", err)
		}
	}
	return &c, nil
}
