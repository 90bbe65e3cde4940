// Command internet is the fake internet of the Lobby test lab.
//
// scripts/lab.sh builds it and runs it inside the lobby-inet network
// namespace. It serves:
//
//   - HTTP (default :80) and HTTPS (default :443): every path answers 200 with
//     an HTML page carrying the marker LOBBY-ORIGIN-OK together with the Host
//     header, the path and the local and remote addresses of the connection,
//     so a test can see which origin it reached and from where. The usual
//     captive-portal probe URLs (/generate_204, /hotspot-detect.html, ...)
//     answer the way the real ones do when the network is open. HTTPS uses a
//     certificate authority generated at start; each SNI name (or the local
//     IP when there is no SNI) gets a leaf certificate signed by it.
//     /bytes/N answers N zero bytes (at most maxBytes), for measuring a
//     download's rate.
//   - DNS (default 198.51.100.53:53, UDP and TCP): a stand-in for the whole
//     DNS tree; see dns.go.
//
// Every request and query is logged on one line. SIGTERM or SIGINT stops it
// gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, " ") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// splitList splits a comma-separated flag value, dropping empty elements.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func main() {
	var (
		httpAddrs  = flag.String("http", ":80", "comma-separated HTTP listen addresses (empty: no HTTP)")
		httpsAddrs = flag.String("https", ":443", "comma-separated HTTPS listen addresses (empty: no HTTPS)")
		dnsAddrs   = flag.String("dns", "198.51.100.53:53", "comma-separated DNS listen addresses, each served over UDP and TCP (empty: no DNS)")
		caOut      = flag.String("ca-out", "", "write the generated HTTPS CA certificate (PEM) to this file")
		defA       = flag.String("default-a", "198.51.100.10", "A answer for names without an -a entry")
		defAAAA    = flag.String("default-aaaa", "2001:db8:100::10", "AAAA answer for names without an -a entry")
		ttl        = flag.Uint("ttl", 300, "TTL of every answer")
		nxZone     = flag.String("nx", "nx.test", "this name and every name under it are NXDOMAIN")
		bigName    = flag.String("big", "big.test", "name whose TXT answer is larger than 512 bytes")
		ipZone     = flag.String("ip", "ip.test", "A-B-C-D.ZONE answers A.B.C.D (as nip.io does), for names that resolve anywhere")
		bigSize    = flag.Int("big-size", 900, "bytes of TXT text for the -big name (keep under ~1100 to fit a 1232-byte EDNS answer)")
		overrides  listFlag
	)
	flag.Var(&overrides, "a", "`name=ip[,ip...]` answer override, repeatable; '*.zone' matches every name under zone; "+
		"IPv4 addresses override A, IPv6 ones AAAA; added to (and replacing same-name) defaults: "+strings.Join(defaultOverrides, " "))
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [flags]\n\nFake internet for the Lobby test lab: HTTP/HTTPS origin and DNS.\n\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}

	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("internet: ")

	zone, err := newZone(zoneConfig{
		defaultA:    *defA,
		defaultAAAA: *defAAAA,
		ttl:         uint32(*ttl),
		nxZone:      *nxZone,
		bigName:     *bigName,
		ipZone:      *ipZone,
		bigSize:     *bigSize,
		overrides:   append(append([]string(nil), defaultOverrides...), overrides...),
	})
	if err != nil {
		log.Fatalf("dns config: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// Open every socket before serving anything, so that a bad address or a
	// port in use fails the start at once and clearly.
	var services []service
	fail := func(format string, args ...any) {
		for _, s := range services {
			s.close()
		}
		log.Fatalf(format, args...)
	}
	for _, addr := range splitList(*httpAddrs) {
		s, err := listenHTTP(addr, nil)
		if err != nil {
			fail("http: %v", err)
		}
		services = append(services, s)
	}
	if https := splitList(*httpsAddrs); len(https) > 0 {
		certs, err := newCertMaker()
		if err != nil {
			fail("https: %v", err)
		}
		if *caOut != "" {
			if err := certs.writeCA(*caOut); err != nil {
				fail("https: %v", err)
			}
		}
		for _, addr := range https {
			s, err := listenHTTP(addr, certs)
			if err != nil {
				fail("https: %v", err)
			}
			services = append(services, s)
		}
	}
	for _, addr := range splitList(*dnsAddrs) {
		ss, err := listenDNS(addr, zone)
		services = append(services, ss...)
		if err != nil {
			fail("dns: %v", err)
		}
	}
	if len(services) == 0 {
		log.Fatal("nothing to serve: -http, -https and -dns are all empty")
	}

	errc := make(chan error, len(services))
	for _, s := range services {
		go func(s service) {
			if err := s.serve(); err != nil {
				errc <- fmt.Errorf("%s: %w", s.name(), err)
			}
		}(s)
		log.Printf("serving %s", s.name())
	}
	log.Printf("ready (pid %d)", os.Getpid())

	exit := 0
	select {
	case <-ctx.Done():
		log.Printf("signal received, shutting down")
	case err := <-errc:
		log.Printf("fatal: %v", err)
		exit = 1
	}
	stop()

	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for _, s := range services {
		if err := s.shutdown(sctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Printf("shutdown %s: %v", s.name(), err)
		}
	}
	log.Printf("stopped")
	os.Exit(exit)
}

// service is one listening socket with the server on it.
type service interface {
	name() string
	serve() error
	shutdown(context.Context) error
	close()
}

// isClosed reports whether err only says the listener was closed on purpose.
func isClosed(err error) bool {
	return err == nil || errors.Is(err, net.ErrClosed)
}
