package radius

import (
	"time"

	"github.com/lobby-fw/lobby/internal/session"
)

// Limits are what an Access-Accept or a CoA-Request gives a session
// (SPEC §7): the session's limits as the table takes them — those the
// reply leaves out are not Given and fall back to config lobby's
// (session.Limits.Over) — and what RADIUS adds to a grant.
type Limits struct {
	session.Limits
	// InterimInterval is the Acct-Interim-Interval (0: not given; at
	// least 60 s, RFC 2869 §5.16 and SPEC §7).
	InterimInterval time.Duration
	// Class holds the Class attributes, in order, sent back in every
	// accounting record of the session (RFC 2865 §5.25).
	Class [][]byte
}

// MinInterimInterval is the shortest Acct-Interim-Interval Lobby uses:
// RFC 2869 §5.16 says it SHOULD NOT be below 60 s, and a server asking for
// less would flood itself.
const MinInterimInterval = 60 * time.Second

// ParseLimits reads the limits of p, an Access-Accept or CoA-Request.
// Rates: WISPr-Bandwidth-Max-* (bit/s) win over ChilliSpot-Bandwidth-Max-*
// (kbit/s, × 1000) when a reply has both, being the finer. Quota:
// ChilliSpot-Max-Total-Octets plus ChilliSpot-Max-Total-Gigawords × 2^32.
// An attribute of the wrong length is ignored (RFC 2865 §5: an invalid
// attribute is treated as absent, never the packet refused for it).
func ParseLimits(p *Packet) Limits {
	var l Limits
	var chilliDown, chilliUp, octets, giga uint32
	var hasChilliDown, hasChilliUp, hasOctets, hasGiga bool
	for _, a := range p.Attrs {
		v, ok := asUint32(a.Value)
		switch a.Type {
		case AttrSessionTimeout:
			if ok {
				l.SessionTimeout = time.Duration(v) * time.Second
				l.Given |= session.GivenSessionTimeout
			}
		case AttrIdleTimeout:
			if ok {
				l.IdleTimeout = time.Duration(v) * time.Second
				l.Given |= session.GivenIdleTimeout
			}
		case AttrAcctInterimInterval:
			if ok && v > 0 {
				l.InterimInterval = max(time.Duration(v)*time.Second, MinInterimInterval)
			}
		case AttrClass:
			l.Class = append(l.Class, append([]byte(nil), a.Value...))
		}
	}
	vendorAttrs(p, func(vendor uint32, typ uint8, v []byte) {
		n, ok := asUint32(v)
		if !ok {
			return
		}
		switch {
		case vendor == VendorWISPr && typ == WISPrBandwidthMaxDown:
			l.DownloadRate, l.Given = uint64(n), l.Given|session.GivenDownloadRate
		case vendor == VendorWISPr && typ == WISPrBandwidthMaxUp:
			l.UploadRate, l.Given = uint64(n), l.Given|session.GivenUploadRate
		case vendor == VendorChilliSpot && typ == ChilliSpotBandwidthMaxDown:
			chilliDown, hasChilliDown = n, true
		case vendor == VendorChilliSpot && typ == ChilliSpotBandwidthMaxUp:
			chilliUp, hasChilliUp = n, true
		case vendor == VendorChilliSpot && typ == ChilliSpotMaxTotalOctets:
			octets, hasOctets = n, true
		case vendor == VendorChilliSpot && typ == ChilliSpotMaxTotalGigawords:
			giga, hasGiga = n, true
		}
	})
	if hasChilliDown && l.Given&session.GivenDownloadRate == 0 {
		l.DownloadRate, l.Given = uint64(chilliDown)*1000, l.Given|session.GivenDownloadRate
	}
	if hasChilliUp && l.Given&session.GivenUploadRate == 0 {
		l.UploadRate, l.Given = uint64(chilliUp)*1000, l.Given|session.GivenUploadRate
	}
	if hasOctets || hasGiga {
		l.Quota, l.Given = uint64(giga)<<32|uint64(octets), l.Given|session.GivenQuota
	}
	return l
}
