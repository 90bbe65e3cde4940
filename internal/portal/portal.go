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
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/netutil"

	"github.com/lobby-fw/lobby/internal/connlimit"
	"github.com/lobby-fw/lobby/internal/session"
)

// Table is what the portal needs of the session table.
type Table interface {
	LookupIP(ip netip.Addr) (session.Client, bool)
	Auth(ctx context.Context, mac net.HardwareAddr, d time.Duration, reason string) (session.Client, error)
	Deauth(ctx context.Context, mac net.HardwareAddr, reason string) (session.Client, error)
}

// Config is what the portal serves and where.
type Config struct {
	Address  netip.Addr // the portal's IPv4 address on the LAN
	Port     uint16     // plain HTTP
	Hostname string     // the name that always resolves to Address

	// TLSCert and TLSKey are PEM files; with both set the portal also
	// serves HTTPS on TLSPort, and that is the URI it advertises.
	TLSCert, TLSKey string
	TLSPort         uint16

	VenueName string
	Terms     string // paragraphs separated by blank lines
	// TemplateDir holds the operator's own templates (and a static/
	// folder); each file there replaces the built-in one of that name.
	TemplateDir string

	Table Table
	Log   *slog.Logger
}

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
	writeTimeout      = 10 * time.Second
	idleTimeout       = 60 * time.Second
	shutdownTimeout   = 3 * time.Second
	// authTimeout bounds a sign-in or sign-out, which waits for the disk.
	authTimeout = 10 * time.Second
)

// Server is the portal. Build it with New, run it with Run.
type Server struct {
	cfg    Config
	log    *slog.Logger
	secret []byte           // per boot: tokens do not survive a restart
	now    func() time.Time // the clock, for tests

	pages atomic.Pointer[pages]           // templates and static files
	cert  atomic.Pointer[tls.Certificate] // nil without TLS

	handler http.Handler
}

// New checks the templates and the certificate and prepares the server. A
// broken template or certificate is an error naming the file.
func New(cfg Config) (*Server, error) {
	if !cfg.Address.Is4() {
		return nil, fmt.Errorf("portal: address %v is not an IPv4 address", cfg.Address)
	}
	if cfg.Table == nil {
		return nil, errors.New("portal: no session table")
	}
	s := &Server{cfg: cfg, log: cfg.Log, now: time.Now, secret: make([]byte, 32)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if _, err := rand.Read(s.secret); err != nil {
		return nil, fmt.Errorf("portal: random key: %w", err)
	}
	p, err := loadPages(cfg.TemplateDir)
	if err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	s.pages.Store(p)
	if s.tls() {
		if err := s.loadCert(); err != nil {
			return nil, fmt.Errorf("portal: %w", err)
		}
	}
	s.handler = s.routes()
	return s, nil
}

func (s *Server) tls() bool { return s.cfg.TLSCert != "" && s.cfg.TLSKey != "" }

// Handler is the portal's HTTP handler, the same for HTTP and HTTPS.
func (s *Server) Handler() http.Handler { return s.handler }

// URL is the portal's address as clients are sent to it: the https URI
// with TLS (RFC 8908 §2 wants it; option 114 and user-portal-url carry
// it), else http://ADDRESS:PORT/.
func (s *Server) URL() string {
	if s.tls() {
		return "https://" + hostPort(s.cfg.Hostname, s.cfg.TLSPort, 443) + "/"
	}
	return "http://" + hostPort(s.cfg.Address.String(), s.cfg.Port, 80) + "/"
}

// APIURL is the URI of the captive-portal API (RFC 8908), for DHCP option
// 114 (RFC 8910): it is meaningful only with TLS, which clients require.
func (s *Server) APIURL() string { return s.URL() + "api/captive" }

func hostPort(host string, port, dflt uint16) string {
	if port == dflt {
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

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
	plain, err := s.listen(s.cfg.Port, "port")
	if err != nil {
		return err
	}
	listeners := []net.Listener{plain}
	if s.tls() {
		l, err := s.listen(s.cfg.TLSPort, "tls_port")
		if err != nil {
			plain.Close()
			return err
		}
		listeners = append(listeners, tls.NewListener(l, &tls.Config{
			MinVersion: tls.VersionTLS12,
			// The certificate is looked up per handshake, so a reload
			// takes effect without dropping connections.
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.cert.Load(), nil },
		}))
	}
	served := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() { served <- srv.Serve(l) }()
	}
	s.log.Info("portal: serving", "url", "http://"+plain.Addr().String()+"/", "advertised", s.URL())
	ready()

	for {
		select {
		case err := <-served:
			srv.Close()
			return fmt.Errorf("portal: serving: %w", err)
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
	addr := netip.AddrPortFrom(s.cfg.Address, port).String()
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		fix := "is lobby running already? (ss -ltnp shows who listens)"
		switch {
		case errors.Is(err, syscall.EADDRINUSE):
			fix = fmt.Sprintf("another program serves port %d (ss -ltnp names it): stop it or set option %s", port, option)
		case errors.Is(err, syscall.EACCES):
			fix = fmt.Sprintf("run lobby as root or set option %s above 1023", option)
		case errors.Is(err, syscall.EADDRNOTAVAIL):
			fix = fmt.Sprintf("%s is not an address of this machine: fix option address", s.cfg.Address)
		}
		return nil, fmt.Errorf("portal: listen tcp %s: %w — %s", addr, err, fix)
	}
	return netutil.LimitListener(connlimit.New(maxClientConns).Listener(l), maxConns), nil
}

// Reload re-reads the certificate and the operator's page files (on
// SIGHUP); a broken new page keeps the running one.
func (s *Server) Reload() {
	if s.cfg.TemplateDir != "" {
		if p, err := loadPages(s.cfg.TemplateDir); err != nil {
			s.log.Error("portal: reload: keeping the running templates", "err", err)
		} else {
			s.pages.Store(p)
			s.log.Info("portal: templates reloaded", "dir", s.cfg.TemplateDir)
		}
	}
	if s.tls() {
		if err := s.loadCert(); err != nil {
			s.log.Error("portal: reload: keeping the running certificate", "err", err)
		} else {
			s.log.Info("portal: certificate reloaded", "cert", s.cfg.TLSCert)
		}
	}
}

// loadCert reads the key pair and checks that it is usable now.
func (s *Server) loadCert() error {
	c, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
	if err != nil {
		return fmt.Errorf("tls_cert %s / tls_key %s: %w", s.cfg.TLSCert, s.cfg.TLSKey, err)
	}
	if leaf := c.Leaf; leaf != nil {
		if s.now().After(leaf.NotAfter) {
			s.log.Warn("portal: the certificate has expired; clients will refuse the HTTPS portal and the captive API", "cert", s.cfg.TLSCert, "not_after", leaf.NotAfter)
		}
		if err := leaf.VerifyHostname(s.cfg.Hostname); err != nil {
			s.log.Warn("portal: the certificate does not name option hostname; clients will refuse the HTTPS portal", "cert", s.cfg.TLSCert, "hostname", s.cfg.Hostname, "err", err)
		}
	}
	s.cert.Store(&c)
	return nil
}
