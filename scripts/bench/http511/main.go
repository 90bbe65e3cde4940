// Command http511 is the benchmark's yardstick for lobby's raw-socket
// responder (scripts/bench/responder.sh): a plain net/http server on the
// kernel's TCP stack that answers every request with the same 511 page
// (or 302 for Android's probe) that lobby sends, then closes the
// connection. It is not part of the lobby binary.
package main

import (
	"flag"
	"html"
	"log"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

func main() {
	listen := flag.String("listen", ":80", "address to listen on")
	portal := flag.String("portal", "10.77.0.1:2050", "portal address and port")
	flag.Parse()
	base := "http://" + *portal + "/?redir="
	h := func(w http.ResponseWriter, r *http.Request) {
		orig := "http://" + r.Host + r.RequestURI
		if len(orig) > 1024 {
			orig = orig[:1024]
		}
		link := base + strings.ReplaceAll(url.QueryEscape(orig), "+", "%20")
		body := `<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="0; url=` + html.EscapeString(link) + `">
<title>Sign in to use this network</title></head>
<body><h1>Sign in to use this network</h1>
<p>This network needs you to <a href="` + html.EscapeString(link) + `">sign in</a> before you can use the internet.</p></body></html>
`
		hd := w.Header()
		hd["Date"] = nil // lobby sends none either
		hd.Set("Content-Type", "text/html; charset=utf-8")
		hd.Set("Cache-Control", "no-store")
		hd.Set("Connection", "close")
		hd.Set("Content-Length", strconv.Itoa(len(body)))
		status := http.StatusNetworkAuthenticationRequired
		if strings.HasSuffix(r.URL.Path, "/generate_204") && r.Host == "connectivitycheck.gstatic.com" {
			hd.Set("Location", link)
			status = http.StatusFound
		}
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			w.Write([]byte(body))
		}
	}
	srv := &http.Server{Addr: *listen, Handler: http.HandlerFunc(h)}
	srv.SetKeepAlivesEnabled(false)
	log.Fatal(srv.ListenAndServe())
}
