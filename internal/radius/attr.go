package radius

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/lobby-fw/lobby/internal/session"
)

// Attribute types (RFC 2865 §5, RFC 2866 §5, RFC 2869 §5, RFC 3579 §3,
// RFC 5176 §3), as FreeRADIUS's dictionary.rfc* number them.
const (
	AttrUserName             uint8 = 1
	AttrUserPassword         uint8 = 2
	AttrNASIPAddress         uint8 = 4
	AttrServiceType          uint8 = 6
	AttrFramedIPAddress      uint8 = 8
	AttrReplyMessage         uint8 = 18
	AttrState                uint8 = 24
	AttrClass                uint8 = 25
	AttrVendorSpecific       uint8 = 26
	AttrSessionTimeout       uint8 = 27
	AttrIdleTimeout          uint8 = 28
	AttrCalledStationID      uint8 = 30
	AttrCallingStationID     uint8 = 31
	AttrNASIdentifier        uint8 = 32
	AttrAcctStatusType       uint8 = 40
	AttrAcctDelayTime        uint8 = 41
	AttrAcctInputOctets      uint8 = 42
	AttrAcctOutputOctets     uint8 = 43
	AttrAcctSessionID        uint8 = 44
	AttrAcctSessionTime      uint8 = 46
	AttrAcctTerminateCause   uint8 = 49
	AttrAcctInputGigawords   uint8 = 52
	AttrAcctOutputGigawords  uint8 = 53
	AttrEventTimestamp       uint8 = 55
	AttrNASPortType          uint8 = 61
	AttrMessageAuthenticator uint8 = 80
	AttrAcctInterimInterval  uint8 = 85
	AttrErrorCause           uint8 = 101
)

// Values of Service-Type (RFC 2865 §5.6) and NAS-Port-Type (§5.41).
const (
	ServiceLoginUser    = 1
	ServiceCallCheck    = 10
	NASPortTypeWireless = 19 // Wireless - IEEE 802.11
)

// Vendors and their attributes, from FreeRADIUS's dictionary.wispr and
// dictionary.chillispot. ChilliSpot-Max-Total-Gigawords is not in the
// dictionary FreeRADIUS 3.2 ships; 23 is its number in CoovaChilli's, the
// NAS that defined it (docs/radius.md says how to add it to FreeRADIUS).
const (
	VendorWISPr      = 14122
	VendorChilliSpot = 14559

	WISPrBandwidthMaxUp   = 7 // bit/s
	WISPrBandwidthMaxDown = 8 // bit/s

	ChilliSpotMaxTotalOctets    = 3
	ChilliSpotBandwidthMaxUp    = 4 // kbit/s
	ChilliSpotBandwidthMaxDown  = 5 // kbit/s
	ChilliSpotMaxTotalGigawords = 23
)

// Acct-Status-Type values (RFC 2866 §5.1).
type StatusType uint32

// The accounting records Lobby sends.
const (
	StatusStart   StatusType = 1
	StatusStop    StatusType = 2
	StatusInterim StatusType = 3
	StatusOn      StatusType = 7
	StatusOff     StatusType = 8
)

func (s StatusType) String() string {
	switch s {
	case StatusStart:
		return "Start"
	case StatusStop:
		return "Stop"
	case StatusInterim:
		return "Interim-Update"
	case StatusOn:
		return "Accounting-On"
	case StatusOff:
		return "Accounting-Off"
	}
	return fmt.Sprintf("StatusType(%d)", uint32(s))
}

// Acct-Terminate-Cause values (RFC 2866 §5.10) that Lobby sends.
const (
	CauseUserRequest    = 1
	CauseIdleTimeout    = 4
	CauseSessionTimeout = 5
	CauseAdminReset     = 6
	CauseNASReboot      = 11
)

// TerminateCause is the Acct-Terminate-Cause of a sign-out for reason r:
// SPEC §7's table. A quota used up is a Session-Timeout, as CoovaChilli
// reports it (RFC 2866 has no cause for it).
func TerminateCause(r session.Reason) uint32 {
	switch r {
	case session.ReasonLogout:
		return CauseUserRequest
	case session.ReasonIdle:
		return CauseIdleTimeout
	case session.ReasonTimeout, session.ReasonQuota:
		return CauseSessionTimeout
	}
	return CauseAdminReset // admin, revoked, blocked, radius
}

// Error-Cause values (RFC 5176 §3.5) of Lobby's NAKs.
const (
	ErrorUnsupportedAttribute   = 401
	ErrorMissingAttribute       = 402
	ErrorNASIdentification      = 403
	ErrorInvalidRequest         = 404
	ErrorUnsupportedService     = 405
	ErrorSessionContextNotFound = 503
	ErrorResourcesUnavailable   = 506
)

// Uint32 is the 4-octet big-endian value of an integer attribute.
func Uint32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// Time is the value of a date attribute (Event-Timestamp): seconds since
// 1970 UTC (RFC 2869 §5.3).
func Time(t time.Time) []byte { return Uint32(uint32(t.Unix())) }

// IPv4 is the value of an address attribute; the zero Addr or an IPv6
// address gives nil (no attribute).
func IPv4(a netip.Addr) []byte {
	if !a.Unmap().Is4() {
		return nil
	}
	b := a.Unmap().As4()
	return b[:]
}

// asUint32 reads an integer attribute; ok is false unless v is 4 octets.
func asUint32(v []byte) (uint32, bool) {
	if len(v) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(v), true
}

// StationID formats a MAC address as RFC 3580 §3.21 and §3.20 write
// Calling- and Called-Station-Id: six pairs of upper-case hex digits
// joined by dashes, 02-00-00-00-00-C1.
func StationID(mac net.HardwareAddr) string {
	var b strings.Builder
	for i, x := range mac {
		if i > 0 {
			b.WriteByte('-')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}

// ParseStationID reads a MAC address as a Calling-Station-Id may carry it:
// the RFC 3580 form, or with colons, dots or nothing between the digits,
// in either case (servers and radclient users write all of them).
func ParseStationID(s string) (net.HardwareAddr, bool) {
	hex := strings.Map(func(r rune) rune {
		switch r {
		case '-', ':', '.':
			return -1
		}
		return r
	}, s)
	if len(hex) != 12 {
		return nil, false
	}
	mac := make(net.HardwareAddr, 6)
	for i := range mac {
		hi, ok1 := unhex(hex[2*i])
		lo, ok2 := unhex(hex[2*i+1])
		if !ok1 || !ok2 {
			return nil, false
		}
		mac[i] = hi<<4 | lo
	}
	return mac, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Octets splits a byte count into the low 32 bits (Acct-Input-Octets) and
// the number of times it wrapped past 2^32 (Acct-Input-Gigawords, RFC 2869
// §5.1), so counts past 4 GiB are kept.
func Octets(n uint64) (octets, gigawords uint32) { return uint32(n), uint32(n >> 32) }

// VSA is the value of a Vendor-Specific attribute holding one
// vendor attribute, in the layout RFC 2865 §5.26 recommends: vendor id
// (4 octets), vendor type, vendor length (counting itself and the type),
// value.
func VSA(vendor uint32, typ uint8, v []byte) []byte {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 6+len(v)), vendor)
	b = append(b, typ, byte(2+len(v)))
	return append(b, v...)
}

// vendorAttrs calls f with each vendor attribute in p's Vendor-Specific
// attributes. One Vendor-Specific may hold several (RFC 2865 §5.26 allows
// it and FreeRADIUS packs them so); one that does not follow the
// recommended layout is skipped whole.
func vendorAttrs(p *Packet, f func(vendor uint32, typ uint8, v []byte)) {
	for _, a := range p.Attrs {
		if a.Type != AttrVendorSpecific || len(a.Value) < 4 {
			continue
		}
		vendor := binary.BigEndian.Uint32(a.Value)
		rest := a.Value[4:]
		ok := len(rest) > 0
		for r := rest; len(r) > 0; r = r[r[1]:] {
			if len(r) < 2 || r[1] < 2 || int(r[1]) > len(r) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		for len(rest) > 0 {
			f(vendor, rest[0], rest[2:rest[1]])
			rest = rest[rest[1]:]
		}
	}
}

// randRead fills b from the system's cryptographic source: the Request
// Authenticator of an Access-Request must be unpredictable (RFC 2865 §3).
func randRead(b []byte) { rand.Read(b) } // never fails (crypto/rand, Go 1.24)
