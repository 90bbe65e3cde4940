package radius

import (
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/lobby-fw/lobby/internal/metrics"
)

// Type is a kind of RADIUS request, as /metrics counts them.
type Type uint8

// The types: the client's two, the DAS's two.
const (
	TypeAccess Type = iota
	TypeAccounting
	TypeCoA
	TypeDisconnect
	numTypes
)

// Types are every Type, in order.
var Types = [...]Type{TypeAccess, TypeAccounting, TypeCoA, TypeDisconnect}

func (t Type) String() string {
	return [...]string{"access", "accounting", "coa", "disconnect"}[t]
}

// requestType is the Type of a request of code c.
func requestType(c Code) Type {
	switch c {
	case CodeAccountingRequest:
		return TypeAccounting
	case CodeCoARequest:
		return TypeCoA
	case CodeDisconnectRequest:
		return TypeDisconnect
	}
	return TypeAccess
}

// Outcome is how a request ended.
type Outcome uint8

// The outcomes. The client's requests end in accept or reject (access),
// ack (accounting) or no_answer; the DAS answers ack or nak. Discarded
// counts packets that failed their checks: replies to the client (a
// wrong secret, a forgery, no Message-Authenticator where one is due)
// and requests to the DAS, which go unanswered.
const (
	OutcomeAccept Outcome = iota
	OutcomeReject
	OutcomeAck
	OutcomeNak
	OutcomeNoAnswer
	OutcomeDiscarded
	numOutcomes
)

func (o Outcome) String() string {
	return [...]string{"accept", "reject", "ack", "nak", "no_answer", "discarded"}[o]
}

// Outcomes are the outcomes a request of type t can have.
func (t Type) Outcomes() []Outcome {
	switch t {
	case TypeAccess:
		return []Outcome{OutcomeAccept, OutcomeReject, OutcomeNoAnswer, OutcomeDiscarded}
	case TypeAccounting:
		return []Outcome{OutcomeAck, OutcomeNoAnswer, OutcomeDiscarded}
	}
	return []Outcome{OutcomeAck, OutcomeNak, OutcomeDiscarded}
}

// Stats counts requests by type and outcome and keeps their latency: for
// the client from the request to its answer (every try and server it
// took), for the DAS the time to act on a request. Counting takes no lock
// and allocates nothing.
type Stats struct {
	counts  [numTypes][numOutcomes]atomic.Uint64
	latency [numTypes]metrics.Latency
}

// Count is how many requests of type t ended in o.
func (s *Stats) Count(t Type, o Outcome) uint64 { return s.counts[t][o].Load() }

// Latency is the histogram of type t's answered requests.
func (s *Stats) Latency(t Type) *metrics.Latency { return &s.latency[t] }

func (s *Stats) add(t Type, o Outcome) { s.counts[t][o].Add(1) }

// answered counts a request of type t answered o after d.
func (s *Stats) answered(t Type, o Outcome, d time.Duration) {
	s.add(t, o)
	s.latency[t].Observe(d)
}

// Server is how a RADIUS server has answered the client lately: it is up
// when its last answer came after its last failure (a try that got no
// answer in time).
type Server struct {
	Addr        netip.AddrPort // its authentication address
	LastAnswer  time.Time      // zero: none since lobby started
	LastFailure time.Time
}

// Up reports whether the server answered its last request.
func (s Server) Up() bool { return !s.LastAnswer.IsZero() && s.LastAnswer.After(s.LastFailure) }
