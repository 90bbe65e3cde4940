// Package forward asks the upstream nameservers: one query at a time per
// question however many clients ask it at once, the upstream that answered
// last tried first, the next one tried when it fails, and TCP when a UDP
// answer comes back truncated. It is one step of Lobby's resolver and knows
// nothing of clients or caching.
package forward

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// UDPSize is the EDNS0 payload size advertised upstream: the DNS flag day
// 2020 value, which avoids IP fragmentation on ordinary paths.
const UDPSize = 1232

// Defaults of Config.
const (
	DefaultAttemptTimeout = 1500 * time.Millisecond
	DefaultTimeout        = 4 * time.Second
)

// ErrNoUpstream means there is nobody to ask.
var ErrNoUpstream = errors.New("no upstream nameserver: set list upstream in config dns, or nameserver lines in /etc/resolv.conf")

// Config sets the timeouts; zero values take the defaults.
type Config struct {
	// AttemptTimeout bounds one upstream's answer (UDP and a TCP retry
	// each).
	AttemptTimeout time.Duration
	// Timeout bounds a whole Exchange, all upstreams included; stub
	// resolvers give up after about 5 s, so more is wasted.
	Timeout time.Duration
}

// Forwarder sends questions upstream. Its methods are safe for concurrent
// use.
type Forwarder struct {
	cfg Config

	mu        sync.Mutex
	upstreams []netip.AddrPort
	first     int // index of the upstream that answered last
	calls     map[key]*call
}

type key struct {
	name         string
	qtype, class uint16
	do, cd       bool
}

// call is one upstream exchange that several clients may be waiting for.
type call struct {
	done chan struct{}
	msg  *dns.Msg
	err  error
}

// New returns a Forwarder that asks upstreams in order.
func New(cfg Config, upstreams []netip.AddrPort) *Forwarder {
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = DefaultAttemptTimeout
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Forwarder{cfg: cfg, upstreams: slices.Clone(upstreams), calls: map[key]*call{}}
}

// SetUpstreams replaces the upstreams (a reload). Exchanges under way
// finish with the old ones.
func (f *Forwarder) SetUpstreams(upstreams []netip.AddrPort) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.Equal(f.upstreams, upstreams) {
		f.upstreams = slices.Clone(upstreams)
		f.first = 0
	}
}

// Upstreams returns the upstreams in use.
func (f *Forwarder) Upstreams() []netip.AddrPort {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.upstreams)
}

// Exchange asks the upstreams question q with the DO and CD bits given and
// returns the first usable answer. An answer of SERVFAIL, REFUSED, NOTIMP or
// FORMERR makes it ask the next upstream; if every one fails that way, the last
// such answer is returned. Concurrent calls for the same question share one
// exchange and its answer, which the callers must not change.
func (f *Forwarder) Exchange(ctx context.Context, q dns.Question, do, cd bool) (*dns.Msg, error) {
	k := key{strings.ToLower(q.Name), q.Qtype, q.Qclass, do, cd}
	f.mu.Lock()
	if c := f.calls[k]; c != nil {
		f.mu.Unlock()
		select {
		case <-c.done:
			return c.msg, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c := &call{done: make(chan struct{})}
	f.calls[k] = c
	ups, first := f.upstreams, f.first
	f.mu.Unlock()

	c.msg, c.err = f.exchange(ctx, q, do, cd, ups, first)

	f.mu.Lock()
	delete(f.calls, k)
	f.mu.Unlock()
	close(c.done)
	return c.msg, c.err
}

func (f *Forwarder) exchange(ctx context.Context, q dns.Question, do, cd bool, ups []netip.AddrPort, first int) (*dns.Msg, error) {
	if len(ups) == 0 {
		return nil, ErrNoUpstream
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	var (
		failed *dns.Msg
		errs   []error
	)
	for i := range ups {
		n := (first + i) % len(ups)
		m, err := f.ask(ctx, ups[n], q, do, cd)
		if err != nil {
			errs = append(errs, fmt.Errorf("upstream %s: %w", ups[n], err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		switch m.Rcode {
		case dns.RcodeServerFailure, dns.RcodeRefused, dns.RcodeNotImplemented, dns.RcodeFormatError:
			failed = m
			continue
		}
		f.mu.Lock()
		if slices.Equal(f.upstreams, ups) {
			f.first = n
		}
		f.mu.Unlock()
		return m, nil
	}
	if failed != nil {
		return failed, nil
	}
	return nil, errors.Join(errs...)
}

// ask sends q to one upstream: over UDP with EDNS0, again without EDNS0 if
// the upstream does not understand it (RFC 6891 §7), and over TCP if the
// UDP answer is truncated (RFC 1035 §4.2.1, RFC 7766 §5).
func (f *Forwarder) ask(ctx context.Context, up netip.AddrPort, q dns.Question, do, cd bool) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.AttemptTimeout)
	defer cancel()
	m := new(dns.Msg)
	m.Id = dns.Id()
	m.RecursionDesired = true
	// RFC 6840 §5.7: AD in a query asks for the AD bit in the answer.
	m.AuthenticatedData = true
	m.CheckingDisabled = cd
	m.Question = []dns.Question{q}
	m.SetEdns0(UDPSize, do)

	addr := up.String()
	udp := &dns.Client{Net: "udp", UDPSize: UDPSize}
	r, _, err := udp.ExchangeContext(ctx, m, addr)
	if err == nil && r.Rcode == dns.RcodeFormatError && r.IsEdns0() == nil {
		m.Extra = nil
		r, _, err = udp.ExchangeContext(ctx, m, addr)
	}
	if err == nil && r.Truncated {
		r, _, err = (&dns.Client{Net: "tcp"}).ExchangeContext(ctx, m, addr)
	}
	if err != nil {
		return nil, err
	}
	return r, check(m, r)
}

// check rejects an answer that is not one to the question asked (RFC 5452
// §9.1: ID, question name, type and class must all match).
func check(q, r *dns.Msg) error {
	if !r.Response || r.Opcode != dns.OpcodeQuery {
		return errors.New("not an answer")
	}
	if r.Rcode == dns.RcodeFormatError && len(r.Question) == 0 {
		return nil // some servers drop the question from FORMERR
	}
	if len(r.Question) != 1 {
		return fmt.Errorf("answer has %d questions", len(r.Question))
	}
	a, b := q.Question[0], r.Question[0]
	if !strings.EqualFold(a.Name, b.Name) || a.Qtype != b.Qtype || a.Qclass != b.Qclass {
		return fmt.Errorf("answer is for %s %s, not %s %s", b.Name, dns.Type(b.Qtype), a.Name, dns.Type(a.Qtype))
	}
	return nil
}
