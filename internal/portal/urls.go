package portal

import (
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// URLs are the portal's addresses as clients and programs are sent to them.
// NewURLs is the one place they are made: firmware calls it once per config
// and hands the result to the portal, the 511 responder, DHCP option 114 and
// `lobby check`, so that a changed hostname or port reaches all of them at
// once.
type URLs struct {
	HTTP  string // http://ADDRESS:PORT/
	HTTPS string // https://HOSTNAME:TLS_PORT/; "" without TLS
	// User is where a user signs in and what user-portal-url carries:
	// HTTPS with TLS (RFC 8908 §2 wants it), else HTTP.
	User string
	// API is the RFC 8908 API, User + "api/captive": DHCP option 114
	// (RFC 8910) with TLS.
	API string
	// Redirect is HTTP + "?redir=": the link of the 511 and of the 302
	// for probes, to which the original URL is appended, escaped
	// (SPEC §3, HTTP 511).
	Redirect string
	// Origins are the portal's own origins (RFC 6454 §6.1): its address
	// and its hostname on each scheme it serves. A sign-in must come from
	// one of them.
	Origins []string
}

// NewURLs makes the portal's URLs: HTTP on address and port, and with tls
// HTTPS on hostname and tlsPort (the name the certificate carries).
func NewURLs(address netip.Addr, port uint16, hostname string, tlsPort uint16, tls bool) URLs {
	hostname = strings.ToLower(hostname)
	u := URLs{HTTP: "http://" + hostPort(address.String(), port, 80) + "/"}
	u.User = u.HTTP
	if tls {
		u.HTTPS = "https://" + hostPort(hostname, tlsPort, 443) + "/"
		u.User = u.HTTPS
	}
	u.API = u.User + "api/captive"
	u.Redirect = u.HTTP + "?redir="
	for _, h := range []string{address.String(), hostname} {
		if h == "" {
			continue
		}
		u.Origins = append(u.Origins, "http://"+hostPort(h, port, 80))
		if tls {
			u.Origins = append(u.Origins, "https://"+hostPort(h, tlsPort, 443))
		}
	}
	return u
}

func hostPort(host string, port, dflt uint16) string {
	if port == dflt {
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

// Voucher is the portal page with code filled in (GET /?voucher=CODE): the
// link a voucher card's QR code carries.
func (u URLs) Voucher(code string) string {
	return u.User + "?voucher=" + url.QueryEscape(code)
}
