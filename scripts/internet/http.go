package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"html"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// OriginMarker is on every origin page; tests grep for it.
const OriginMarker = "LOBBY-ORIGIN-OK"

// appleSuccess is what Apple's captive-portal probe expects when the network
// is open.
const appleSuccess = "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"

// probes answers the common operating-system connectivity checks the way
// their real servers do on an open network, whatever the Host header.
var probes = map[string]func(http.ResponseWriter) int{
	// Android, ChromeOS, Chrome.
	"/generate_204": noContent,
	"/gen_204":      noContent,
	// Apple (captive.apple.com and www.apple.com).
	"/hotspot-detect.html":       text("text/html", appleSuccess),
	"/library/test/success.html": text("text/html", appleSuccess),
	// Windows (NCSI).
	"/connecttest.txt": text("text/plain", "Microsoft Connect Test"),
	"/ncsi.txt":        text("text/plain", "Microsoft NCSI"),
	// Firefox.
	"/success.txt": text("text/plain", "success\n"),
}

func noContent(w http.ResponseWriter) int {
	w.WriteHeader(http.StatusNoContent)
	return http.StatusNoContent
}

func text(ctype, body string) func(http.ResponseWriter) int {
	return func(w http.ResponseWriter) int {
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(body))
		return http.StatusOK
	}
}

func localAddr(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return a.String()
	}
	return "unknown"
}

// originHandler serves the probe answers and, for every other path, the
// origin page.
func originHandler(w http.ResponseWriter, r *http.Request) {
	local := localAddr(r)
	scheme, sni := "http", ""
	if r.TLS != nil {
		scheme, sni = "https", r.TLS.ServerName
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Lobby-Origin", local)

	var status int
	if probe, ok := probes[r.URL.Path]; ok {
		status = probe(w)
	} else if n, ok := strings.CutPrefix(r.URL.Path, "/bytes/"); ok {
		status = serveBytes(w, n)
	} else {
		status = http.StatusOK
		e := html.EscapeString
		var b strings.Builder
		b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Lobby lab origin</title></head>\n<body>\n")
		fmt.Fprintf(&b, "<h1>%s</h1>\n<pre>\n", OriginMarker)
		fmt.Fprintf(&b, "host: %s\n", e(r.Host))
		fmt.Fprintf(&b, "path: %s\n", e(r.URL.Path))
		fmt.Fprintf(&b, "query: %s\n", e(r.URL.RawQuery))
		fmt.Fprintf(&b, "method: %s\n", e(r.Method))
		fmt.Fprintf(&b, "scheme: %s\n", scheme)
		fmt.Fprintf(&b, "sni: %s\n", e(sni))
		fmt.Fprintf(&b, "local: %s\n", e(local))
		fmt.Fprintf(&b, "remote: %s\n", e(r.RemoteAddr))
		b.WriteString("</pre>\n</body></html>\n")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(b.String()))
	}
	log.Printf("%s %s -> %s %s host=%q path=%q sni=%q status=%d",
		scheme, r.RemoteAddr, local, r.Method, r.Host, r.URL.Path, sni, status)
}

// maxBytes bounds what /bytes/N serves.
const maxBytes = 100 << 20

// serveBytes answers /bytes/N: N zero bytes (at most maxBytes), for a test
// that measures a download's rate.
func serveBytes(w http.ResponseWriter, arg string) int {
	n, err := strconv.Atoi(arg)
	if err != nil || n < 0 || n > maxBytes {
		http.Error(w, fmt.Sprintf("/bytes/N: N from 0 to %d", maxBytes), http.StatusBadRequest)
		return http.StatusBadRequest
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(n))
	w.WriteHeader(http.StatusOK)
	chunk := make([]byte, 32<<10)
	for n > 0 {
		k, err := w.Write(chunk[:min(n, len(chunk))])
		if err != nil {
			break
		}
		n -= k
	}
	return http.StatusOK
}

type httpService struct {
	label string
	srv   *http.Server
	ln    net.Listener
	tls   bool
}

// listenHTTP opens addr; with certs it serves HTTPS.
func listenHTTP(addr string, certs *certMaker) (*httpService, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &httpService{
		label: "http on " + ln.Addr().String(),
		ln:    ln,
		srv: &http.Server{
			Handler:           http.HandlerFunc(originHandler),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       30 * time.Second,
			ErrorLog:          log.New(log.Writer(), log.Prefix()+"http: ", log.Flags()),
		},
	}
	if certs != nil {
		s.label = "https on " + ln.Addr().String()
		s.tls = true
		s.srv.TLSConfig = &tls.Config{
			GetCertificate: certs.getCertificate,
			MinVersion:     tls.VersionTLS12,
		}
	}
	return s, nil
}

func (s *httpService) name() string { return s.label }

func (s *httpService) serve() error {
	var err error
	if s.tls {
		err = s.srv.ServeTLS(s.ln, "", "")
	} else {
		err = s.srv.Serve(s.ln)
	}
	if err == http.ErrServerClosed || isClosed(err) {
		return nil
	}
	return err
}

func (s *httpService) shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

func (s *httpService) close() { _ = s.ln.Close() }
