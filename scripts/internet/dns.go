package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"strings"

	"github.com/miekg/dns"
)

// defaultOverrides are the -a entries in force before the command line's.
var defaultOverrides = []string{
	"garden.test=198.51.100.20",
	"*.garden.test=198.51.100.20",
	"other.test=198.51.100.11",
}

const (
	// ednsSize is the UDP payload size this server advertises and the
	// largest UDP answer it sends (the DNS flag day 2020 value).
	ednsSize = 1232
	// negTTL is the negative-caching TTL in the SOA of NXDOMAIN and NODATA
	// answers.
	negTTL = 60
	// bigEnd ends the TXT text of the big name, so a test can tell the
	// whole answer arrived.
	bigEnd = "BIG-TXT-END"
)

type zoneConfig struct {
	defaultA, defaultAAAA string
	ttl                   uint32
	nxZone, bigName       string
	ipZone                string
	bigSize               int
	overrides             []string
}

// zone answers for every name in "the internet".
type zone struct {
	ttl           uint32
	defA, defAAAA net.IP
	// exact names and wildcard suffixes ("garden.test." for *.garden.test),
	// both lowercase and fully qualified.
	a, aaaa         map[string][]net.IP
	wildA, wildAAAA map[string][]net.IP
	nxZone          string
	// ipZone names answer with the IPv4 address they spell, as nip.io's
	// do: 192-168-1-50.ip.test is 192.168.1.50.
	ipZone  string
	bigName string
	bigTXT  []string
}

func newZone(cfg zoneConfig) (*zone, error) {
	z := &zone{
		ttl:      cfg.ttl,
		a:        map[string][]net.IP{},
		aaaa:     map[string][]net.IP{},
		wildA:    map[string][]net.IP{},
		wildAAAA: map[string][]net.IP{},
		nxZone:   canon(cfg.nxZone),
		ipZone:   canon(cfg.ipZone),
		bigName:  canon(cfg.bigName),
	}
	if z.defA = net.ParseIP(cfg.defaultA).To4(); z.defA == nil {
		return nil, fmt.Errorf("-default-a %q is not an IPv4 address", cfg.defaultA)
	}
	if z.defAAAA = net.ParseIP(cfg.defaultAAAA); z.defAAAA == nil || z.defAAAA.To4() != nil {
		return nil, fmt.Errorf("-default-aaaa %q is not an IPv6 address", cfg.defaultAAAA)
	}
	// A later entry for a name replaces an earlier one of the same family.
	for _, o := range cfg.overrides {
		name, list, ok := strings.Cut(o, "=")
		key := canon(name)
		if !ok || key == "." {
			return nil, fmt.Errorf("-a %q: want name=ip[,ip...]", o)
		}
		mapA, mapAAAA := z.a, z.aaaa
		if rest, isWild := strings.CutPrefix(key, "*."); isWild {
			key = rest
			mapA, mapAAAA = z.wildA, z.wildAAAA
		}
		var v4, v6 []net.IP
		for _, s := range splitList(list) {
			ip := net.ParseIP(s)
			switch {
			case ip == nil:
				return nil, fmt.Errorf("-a %q: %q is not an IP address", o, s)
			case ip.To4() != nil:
				v4 = append(v4, ip.To4())
			default:
				v6 = append(v6, ip)
			}
		}
		if v4 == nil && v6 == nil {
			return nil, fmt.Errorf("-a %q: no address", o)
		}
		if v4 != nil {
			mapA[key] = v4
		}
		if v6 != nil {
			mapAAAA[key] = v6
		}
	}
	if cfg.bigSize <= 512 {
		return nil, fmt.Errorf("-big-size %d: must be over 512", cfg.bigSize)
	}
	z.bigTXT = bigText(cfg.bigSize)
	return z, nil
}

// canon makes a name lowercase and fully qualified.
func canon(name string) string {
	return dns.Fqdn(strings.ToLower(strings.TrimSpace(name)))
}

// bigText makes TXT strings (at most 255 bytes each) adding up to size
// bytes, ending with bigEnd.
func bigText(size int) []string {
	var b strings.Builder
	for i := 0; b.Len() < size-len(bigEnd); i++ {
		fmt.Fprintf(&b, "lobby-lab-big-txt-%04d.", i)
	}
	s := b.String()[:size-len(bigEnd)] + bigEnd
	var out []string
	for len(s) > 255 {
		out = append(out, s[:255])
		s = s[255:]
	}
	return append(out, s)
}

// lookup finds the override for name: the exact name first, then the most
// specific wildcard.
func lookup(exact, wild map[string][]net.IP, name string) []net.IP {
	if ips, ok := exact[name]; ok {
		return ips
	}
	for rest := name; ; {
		_, after, ok := strings.Cut(rest, ".")
		if !ok || after == "" {
			return nil
		}
		if ips, ok := wild[after]; ok {
			return ips
		}
		rest = after
	}
}

// spelled is the IPv4 address an ipZone name spells in its first label
// (dashes for dots), or nil.
func (z *zone) spelled(name string) net.IP {
	label, rest, _ := strings.Cut(name, ".")
	if rest != z.ipZone {
		return nil
	}
	return net.ParseIP(strings.ReplaceAll(label, "-", ".")).To4()
}

func (z *zone) hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: z.ttl}
}

// soa is the SOA record for the zone apex of name: its last label (the
// "TLD"), or the nx zone for names under it.
func (z *zone) soa(name string) dns.RR {
	apex := "."
	if dns.IsSubDomain(z.nxZone, name) {
		apex = z.nxZone
	} else if labels := dns.SplitDomainName(name); len(labels) > 0 {
		apex = labels[len(labels)-1] + "."
	}
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: apex, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: negTTL},
		Ns:      "ns1.lab.test.",
		Mbox:    "hostmaster.lab.test.",
		Serial:  1,
		Refresh: 3600,
		Retry:   600,
		Expire:  86400,
		Minttl:  negTTL,
	}
}

// answer fills m (already a reply to the question) and returns it.
func (z *zone) answer(m *dns.Msg, q dns.Question) {
	name := strings.ToLower(q.Name)
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		m.Rcode = dns.RcodeRefused
		return
	}
	if dns.IsSubDomain(z.nxZone, name) {
		m.Rcode = dns.RcodeNameError
		m.Ns = append(m.Ns, z.soa(name))
		return
	}
	// Answers carry the name as asked (case preserved).
	owner := q.Name
	switch q.Qtype {
	case dns.TypeA:
		ips := lookup(z.a, z.wildA, name)
		if ip := z.spelled(name); ip != nil {
			ips = []net.IP{ip}
		}
		if ips == nil {
			ips = []net.IP{z.defA}
		}
		for _, ip := range ips {
			m.Answer = append(m.Answer, &dns.A{Hdr: z.hdr(owner, dns.TypeA), A: ip})
		}
	case dns.TypeAAAA:
		ips := lookup(z.aaaa, z.wildAAAA, name)
		if ips == nil {
			ips = []net.IP{z.defAAAA}
		}
		for _, ip := range ips {
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: z.hdr(owner, dns.TypeAAAA), AAAA: ip})
		}
	case dns.TypeMX:
		m.Answer = append(m.Answer, &dns.MX{Hdr: z.hdr(owner, dns.TypeMX), Preference: 10, Mx: "mail." + strings.TrimPrefix(name, ".")})
	case dns.TypeTXT:
		if name == z.bigName {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: z.hdr(owner, dns.TypeTXT), Txt: z.bigTXT})
		} else {
			m.Answer = append(m.Answer,
				&dns.TXT{Hdr: z.hdr(owner, dns.TypeTXT), Txt: []string{"v=spf1 -all"}},
				&dns.TXT{Hdr: z.hdr(owner, dns.TypeTXT), Txt: []string{"lobby-lab origin=" + strings.TrimSuffix(name, ".")}})
		}
	case dns.TypeNS:
		m.Answer = append(m.Answer,
			&dns.NS{Hdr: z.hdr(owner, dns.TypeNS), Ns: "ns1.lab.test."},
			&dns.NS{Hdr: z.hdr(owner, dns.TypeNS), Ns: "ns2.lab.test."})
	case dns.TypeSOA:
		m.Answer = append(m.Answer, z.soa(name))
	case dns.TypeANY:
		// RFC 8482: a minimal answer instead of everything.
		m.Answer = append(m.Answer, &dns.HINFO{Hdr: z.hdr(owner, dns.TypeHINFO), Cpu: "RFC8482"})
	default:
		// NODATA.
		m.Ns = append(m.Ns, z.soa(name))
	}
}

// ServeDNS answers one query and logs it.
func (z *zone) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	proto := w.LocalAddr().Network()
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true

	qdesc := "-"
	switch {
	case req.Opcode != dns.OpcodeQuery:
		m.Rcode = dns.RcodeNotImplemented
	case len(req.Question) != 1:
		m.Rcode = dns.RcodeFormatError
	default:
		q := req.Question[0]
		qdesc = q.Name + " " + dns.Type(q.Qtype).String()
		z.answer(m, q)
	}

	// Size limit: 512 bytes over UDP without EDNS, the smaller of the
	// client's and our buffer size with it, 64 KiB over TCP.
	limit := dns.MinMsgSize
	edns := "noedns"
	if opt := req.IsEdns0(); opt != nil {
		edns = fmt.Sprintf("edns=%d", opt.UDPSize())
		limit = min(max(int(opt.UDPSize()), dns.MinMsgSize), ednsSize)
		m.SetEdns0(ednsSize, false)
	}
	if proto == "tcp" {
		limit = dns.MaxMsgSize
	}
	m.Truncate(limit)

	var size int
	if packed, err := m.Pack(); err == nil {
		size = len(packed)
	}
	tc := ""
	if m.Truncated {
		tc = " TC"
	}
	if err := w.WriteMsg(m); err != nil {
		log.Printf("dns %s %s -> %s: write: %v", proto, w.RemoteAddr(), w.LocalAddr(), err)
		return
	}
	log.Printf("dns %s %s -> %s %s %s: %s answers=%d bytes=%d%s",
		proto, w.RemoteAddr(), w.LocalAddr(), qdesc, edns, dns.RcodeToString[m.Rcode], len(m.Answer), size, tc)
}

type dnsService struct {
	label  string
	srv    *dns.Server
	closer func()
}

// listenDNS opens addr over UDP and TCP.
func listenDNS(addr string, h dns.Handler) ([]service, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	udp := &dnsService{
		label:  "dns/udp on " + pc.LocalAddr().String(),
		srv:    &dns.Server{PacketConn: pc, Handler: h, UDPSize: 4096},
		closer: func() { _ = pc.Close() },
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return []service{udp}, err
	}
	tcp := &dnsService{
		label:  "dns/tcp on " + ln.Addr().String(),
		srv:    &dns.Server{Listener: ln, Handler: h},
		closer: func() { _ = ln.Close() },
	}
	return []service{udp, tcp}, nil
}

func (s *dnsService) name() string { return s.label }

func (s *dnsService) serve() error {
	if err := s.srv.ActivateAndServe(); !isClosed(err) {
		return err
	}
	return nil
}

func (s *dnsService) shutdown(ctx context.Context) error {
	if err := s.srv.ShutdownContext(ctx); err != nil && ctx.Err() == nil {
		// Not started (yet): just close the socket.
		s.closer()
	}
	return nil
}

func (s *dnsService) close() { s.closer() }
