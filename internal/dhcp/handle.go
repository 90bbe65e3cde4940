package dhcp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// outcome is what one request led to.
type outcome struct {
	req  *dhcpv4.DHCPv4
	resp *dhcpv4.DHCPv4 // nil: no reply
	// bind is set on a DHCPACK that granted or renewed a lease: the lease
	// must be on disk, and the client table told, before the ACK goes out.
	bind *binding
	// forget lists the clients whose lease ended while handling the
	// request; the client table forgets them.
	forget []net.HardwareAddr
}

// checkRequest rejects what is not a DHCP request from an Ethernet client.
func checkRequest(req *dhcpv4.DHCPv4) error {
	if req.OpCode != dhcpv4.OpcodeBootRequest {
		return fmt.Errorf("op %v, not BOOTREQUEST", req.OpCode)
	}
	// Clients are known to the rest of Lobby by their Ethernet MAC.
	if req.HWType != iana.HWTypeEthernet || len(req.ClientHWAddr) != 6 {
		return fmt.Errorf("hardware type %v with %d-byte address; only Ethernet is served", req.HWType, len(req.ClientHWAddr))
	}
	if req.ClientHWAddr[0]&1 != 0 || [6]byte(req.ClientHWAddr) == [6]byte{} {
		return fmt.Errorf("chaddr %s is not a unicast MAC", req.ClientHWAddr)
	}
	if req.MessageType() == dhcpv4.MessageTypeNone {
		return errors.New("no DHCP message type: BOOTP is not served")
	}
	return nil
}

// ip4 turns a header field or option into an address; the zero Addr
// stands for absent or 0.0.0.0.
func ip4(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip.To4())
	if !ok || a.IsUnspecified() {
		return netip.Addr{}
	}
	return a
}

// hostname is option 12 made safe to show and log: the characters of a
// host name only, at most one label's length.
func hostname(req *dhcpv4.DHCPv4) string {
	raw := req.Options.Get(dhcpv4.OptionHostName)
	b := make([]byte, 0, min(len(raw), 63))
	for _, c := range raw {
		if len(b) == 63 {
			break
		}
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			b = append(b, c)
		}
	}
	return string(b)
}

// handle answers one request (RFC 2131 §4.3).
func (s *Server) handle(req *dhcpv4.DHCPv4) (out outcome) {
	out.req = req
	typ := req.MessageType()
	mac := req.ClientHWAddr
	if s.debug() {
		s.log.Debug("dhcp: request", "type", typ.String(), "mac", mac.String(), "xid", req.TransactionID.String(),
			"ciaddr", req.ClientIPAddr.String(), "requested", req.RequestedIPAddress().String(), "hostname", hostname(req))
	}

	// A relay agent's requests are served only when the relay sits on
	// our own subnet: the pool is that subnet's, and an address from it
	// would be useless on another one.
	if g := ip4(req.GatewayIPAddr); g.IsValid() && !s.params.Load().subnet.Contains(g) {
		s.ignore(req, "relayed from another subnet")
		return out
	}
	now := s.now()

	s.mu.Lock()
	defer func() {
		out.forget = s.pool.takeEnded()
		s.mu.Unlock()
	}()
	key, clientID := s.pool.identify(req.Options.Get(dhcpv4.OptionClientIdentifier), mac, now)
	switch typ {
	case dhcpv4.MessageTypeDiscover:
		// §4.3.1: offer the client's address, the one it asks for, or a
		// free one; an exhausted pool means no offer at all.
		ip, ok := s.pool.offer(key, mac, clientID, ip4(req.RequestedIPAddress()), now)
		if !ok {
			s.exhausted(mac, now)
			return out
		}
		out.resp = s.reply(req, dhcpv4.MessageTypeOffer, ip, s.leaseFor(mac))
		s.stats.offers.Add(1)

	case dhcpv4.MessageTypeRequest:
		s.request(req, key, clientID, now, &out)

	case dhcpv4.MessageTypeDecline:
		// §4.3.3: the client found the address in use (it ARPed for it);
		// it is marked unavailable. No reply.
		ip := ip4(req.RequestedIPAddress())
		if !s.ours(req) || !s.pool.decline(key, ip, now) {
			s.ignore(req, "DECLINE of an address the client does not hold")
			return out
		}
		s.stats.declines.Add(1)
		s.log.Warn("dhcp: a client declined its address: some other device uses it; kept out of the pool for a while",
			"address", ip.String(), "mac", mac.String(), "quarantine", quarantine)

	case dhcpv4.MessageTypeRelease:
		// §4.3.4: the lease ends now; the address stays the client's
		// previous one, should it come back. No reply.
		ip := ip4(req.ClientIPAddr)
		if !s.ours(req) || !s.pool.release(key, ip, now) {
			s.ignore(req, "RELEASE of an address the client does not hold")
			return out
		}
		s.stats.releases.Add(1)
		s.log.Debug("dhcp: released", "address", ip.String(), "mac", mac.String())

	case dhcpv4.MessageTypeInform:
		// §4.3.5: the client has an address already and wants only the
		// other parameters: no lease, no yiaddr, no lease time.
		if ci := ip4(req.ClientIPAddr); !ci.IsValid() || !s.params.Load().subnet.Contains(ci) {
			s.ignore(req, "INFORM without a ciaddr on our subnet")
			return out
		}
		out.resp = s.reply(req, dhcpv4.MessageTypeAck, netip.Addr{}, 0)
		s.stats.informs.Add(1)

	default:
		// OFFER, ACK, NAK and the lease-query types are a server's or a
		// relay's to send, not ours to answer.
		s.ignore(req, "not a client message")
	}
	return out
}

// request handles a DHCPREQUEST in each of the client states of §4.3.2.
// The caller holds s.mu.
func (s *Server) request(req *dhcpv4.DHCPv4, key string, clientID []byte, now time.Time, out *outcome) {
	sid := ip4(req.ServerIdentifier())
	requested := ip4(req.RequestedIPAddress())
	ciaddr := ip4(req.ClientIPAddr)
	var ip netip.Addr
	switch {
	case sid.IsValid() && sid != s.params.Load().server:
		// SELECTING, and the client chose another server's offer: ours
		// is free again. Silence.
		s.pool.abandon(key, now)
		s.ignore(req, "REQUEST for another server's offer")
		return
	case sid.IsValid():
		// SELECTING our offer: "'requested IP address' MUST be filled in".
		// Some clients put it in ciaddr instead; take that too.
		ip = cmpOr(requested, ciaddr)
	case requested.IsValid() && !ciaddr.IsValid():
		// INIT-REBOOT: the client checks a remembered address. RFC 2131
		// has a server without a record of the client stay silent; Lobby
		// is the only server of its LAN, so it answers authoritatively
		// (as OpenWrt's dnsmasq does) and the client learns at once.
		ip = requested
	case ciaddr.IsValid():
		// RENEWING (unicast) or REBINDING (broadcast): ciaddr is the
		// address to extend.
		ip = ciaddr
	default:
		n := s.stats.malformed.Add(1)
		s.log.Debug("dhcp: dropping a REQUEST with neither requested address nor ciaddr", "mac", req.ClientHWAddr.String(), "malformed", n)
		return
	}
	lt := s.leaseFor(req.ClientHWAddr)
	l, renewed := s.pool.ack(key, req.ClientHWAddr, clientID, hostname(req), ip, now, lt)
	if l == nil {
		// §4.3.2: "If the client's requested address is incorrect or is
		// on the wrong network, the server SHOULD respond with DHCPNAK";
		// the client starts over with a DISCOVER.
		s.log.Debug("dhcp: NAK", "mac", req.ClientHWAddr.String(), "address", ip.String())
		out.resp = s.nak(req)
		s.stats.naks.Add(1)
		return
	}
	out.resp = s.reply(req, dhcpv4.MessageTypeAck, ip, lt)
	out.bind = l.binding()
	s.stats.acks.Add(1)
	if !renewed {
		s.log.Info("dhcp: lease", "mac", req.ClientHWAddr.String(), "address", ip.String(), "hostname", l.hostname, "time", lt)
	}
}

func cmpOr(a, b netip.Addr) netip.Addr {
	if a.IsValid() {
		return a
	}
	return b
}

// ours reports whether a message that names a server (option 54) names us;
// one that names none is taken as ours.
func (s *Server) ours(req *dhcpv4.DHCPv4) bool {
	sid := ip4(req.ServerIdentifier())
	return !sid.IsValid() || sid == s.params.Load().server
}

func (s *Server) ignore(req *dhcpv4.DHCPv4, why string) {
	n := s.stats.ignored.Add(1)
	s.log.Debug("dhcp: ignoring", "type", req.MessageType().String(), "mac", req.ClientHWAddr.String(), "why", why, "ignored", n)
}

// exhausted notes a DISCOVER left without an offer; the caller holds s.mu.
func (s *Server) exhausted(mac net.HardwareAddr, now time.Time) {
	s.stats.exhausted.Add(1)
	if now.Sub(s.lastExhausted) < exhaustedLogEvery {
		return
	}
	s.lastExhausted = now
	first, last := s.pool.bounds()
	s.log.Warn("dhcp: pool exhausted: no address to offer; raise limit in config dhcp or shorten leasetime",
		"pool", first.String()+"-"+last.String(), "mac", mac.String(), "unanswered", s.stats.exhausted.Load())
}

// reply builds an OFFER or ACK with the fields of RFC 2131 Table 3 and
// the options of SPEC §3, for a lease of lt. yiaddr is zero for the ACK
// to an INFORM, which also gets no lease times (§4.3.5).
func (s *Server) reply(req *dhcpv4.DHCPv4, typ dhcpv4.MessageType, yiaddr netip.Addr, lt time.Duration) *dhcpv4.DHCPv4 {
	resp := s.header(req, typ)
	if typ == dhcpv4.MessageTypeAck {
		resp.ClientIPAddr = req.ClientIPAddr // Table 3: "'ciaddr' from DHCPREQUEST or 0"
	}
	server := net.IP(s.params.Load().server.AsSlice())
	o := resp.Options
	o.Update(dhcpv4.OptSubnetMask(s.params.Load().mask)) // 1
	o.Update(dhcpv4.OptRouter(server))                   // 3
	o.Update(dhcpv4.OptDNS(server))                      // 6
	if s.params.Load().domain != "" {
		o.Update(dhcpv4.OptDomainName(s.params.Load().domain)) // 15
	}
	if yiaddr.IsValid() {
		resp.YourIPAddr = net.IP(yiaddr.AsSlice())
		// RFC 2131 §4.4.5: T1 defaults to half the lease, T2 to 7/8.
		o.Update(dhcpv4.OptIPAddressLeaseTime(lt))         // 51
		o.Update(dhcpv4.OptRenewTimeValue(lt / 2))         // 58
		o.Update(dhcpv4.OptRebindingTimeValue(lt * 7 / 8)) // 59
	}
	if s.params.Load().captive != "" {
		o.Update(dhcpv4.OptGeneric(dhcpv4.OptionURL, []byte(s.params.Load().captive))) // 114, RFC 8910 §2.1
	}
	return resp
}

// nak builds a DHCPNAK (Table 3: no addresses, no parameters).
func (s *Server) nak(req *dhcpv4.DHCPv4) *dhcpv4.DHCPv4 {
	resp := s.header(req, dhcpv4.MessageTypeNak)
	if ip4(req.GatewayIPAddr).IsValid() {
		// §4.3.2: "the server MUST set the broadcast bit in the DHCPNAK,
		// so that the relay agent will broadcast the DHCPNAK to the
		// client, because the client may not have a correct network
		// address or subnet mask".
		resp.SetBroadcast()
	}
	return resp
}

// header is the part every reply shares (RFC 2131 Table 3).
func (s *Server) header(req *dhcpv4.DHCPv4, typ dhcpv4.MessageType) *dhcpv4.DHCPv4 {
	resp := &dhcpv4.DHCPv4{
		OpCode:        dhcpv4.OpcodeBootReply,
		HWType:        req.HWType,
		TransactionID: req.TransactionID,
		Flags:         req.Flags,
		ClientIPAddr:  net.IPv4zero,
		YourIPAddr:    net.IPv4zero,
		ServerIPAddr:  net.IPv4zero,
		GatewayIPAddr: req.GatewayIPAddr,
		ClientHWAddr:  req.ClientHWAddr,
		Options:       dhcpv4.Options{},
	}
	resp.Options.Update(dhcpv4.OptMessageType(typ))                                           // 53
	resp.Options.Update(dhcpv4.OptServerIdentifier(net.IP(s.params.Load().server.AsSlice()))) // 54
	if id := req.Options.Get(dhcpv4.OptionClientIdentifier); id != nil {
		// RFC 6842 §3: a server MUST return the client identifier.
		resp.Options.Update(dhcpv4.OptGeneric(dhcpv4.OptionClientIdentifier, id))
	}
	if ri := req.Options.Get(dhcpv4.OptionRelayAgentInformation); ri != nil && ip4(req.GatewayIPAddr).IsValid() {
		// RFC 3046 §2.2: the relay agent information goes back to the
		// relay, which strips it.
		resp.Options.Update(dhcpv4.OptGeneric(dhcpv4.OptionRelayAgentInformation, ri))
	}
	return resp
}
