package api

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limiter keeps one budget per key: Policy().Quota units, refilled evenly
// over Policy().Window. The tokens' budgets and the client addresses'
// are both Limiters: a SharedLimiter in `leadsvc serve`, so that every
// replica counts against one budget, or a memory one, this process's
// alone.
type Limiter interface {
	// Take spends n units of key's budget, all or none. n = 0 spends
	// nothing and asks whether a unit is left.
	Take(key string, n int) Decision
	Policy() Policy
}

// Policy is what every key of a Limiter is granted; Name is the policy's
// name in the RateLimit-Policy and RateLimit header fields.
type Policy struct {
	Name   string
	Quota  int
	Window time.Duration
}

// Decision is a Limiter's answer.
type Decision struct {
	OK        bool          // the units were spent (for n = 0: one is left)
	Remaining int           // units left
	Reset     time.Duration // until the budget is full again
	Retry     time.Duration // when refused: until the units asked for (at least one) are back
}

// setRateHeaders tells the client where it stands (IETF RateLimit header
// fields draft), and when refused, when to come back.
func setRateHeaders(h http.Header, p Policy, d Decision) {
	h.Set("RateLimit-Policy", fmt.Sprintf(`"%s";q=%d;w=%d`, p.Name, p.Quota, int(p.Window.Seconds())))
	h.Set("RateLimit", fmt.Sprintf(`"%s";r=%d;t=%d`, p.Name, d.Remaining, ceilSeconds(d.Reset)))
	if !d.OK {
		h.Set("Retry-After", strconv.Itoa(max(1, ceilSeconds(d.Retry))))
	}
}

func ceilSeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

// memoryLimiter is a token bucket per key, in the process. It holds at
// most maxKeys buckets: past that, the buckets that have refilled go
// first (they are the same as new ones), then any. A forgotten key starts
// full again, which helps only a client that spreads itself over more
// than maxKeys keys, one that no per-key limit holds anyway.
type memoryLimiter struct {
	policy  Policy
	maxKeys int
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*bucket
	// pending is what each key spent since the last sync, when a
	// SharedLimiter shares the buckets; nil otherwise.
	pending map[string]int
}

type bucket struct {
	tokens float64
	at     time.Time
}

// DefaultLimiterKeys bounds a memory limiter's keys when none is given.
const DefaultLimiterKeys = 65536

// NewMemoryLimiter returns the in-process Limiter of policy, holding at
// most maxKeys keys (DefaultLimiterKeys when 0); now is its clock
// (time.Now when nil).
func NewMemoryLimiter(policy Policy, maxKeys int, now func() time.Time) Limiter {
	return newMemoryLimiter(policy, maxKeys, now)
}

func newMemoryLimiter(policy Policy, maxKeys int, now func() time.Time) *memoryLimiter {
	if maxKeys <= 0 {
		maxKeys = DefaultLimiterKeys
	}
	if now == nil {
		now = time.Now
	}
	return &memoryLimiter{policy: policy, maxKeys: maxKeys, now: now, buckets: map[string]*bucket{}}
}

func (l *memoryLimiter) Policy() Policy { return l.policy }

func (l *memoryLimiter) Take(key string, n int) Decision {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	quota := float64(l.policy.Quota)
	perUnit := l.policy.Window / time.Duration(l.policy.Quota)
	b := l.buckets[key]
	if b == nil {
		if n == 0 {
			return Decision{OK: true, Remaining: l.policy.Quota}
		}
		if len(l.buckets) >= l.maxKeys {
			l.shrink(now, perUnit)
		}
		b = &bucket{tokens: quota, at: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(quota, b.tokens+float64(now.Sub(b.at))/float64(perUnit))
	b.at = now
	var d Decision
	need := float64(max(n, 1))
	switch {
	case b.tokens >= need:
		b.tokens -= float64(n)
		d.OK = true
		if l.pending != nil && n > 0 && (l.pending[key] > 0 || len(l.pending) < l.maxKeys) {
			l.pending[key] += n
		}
	default:
		d.Retry = time.Duration((need - b.tokens) * float64(perUnit))
	}
	// Below zero: the replicas together spent more than the budget
	// before they saw each other's spending, and the key pays it back.
	d.Remaining = max(0, int(b.tokens))
	d.Reset = time.Duration((quota - b.tokens) * float64(perUnit))
	return d
}

// shrink makes room for a quarter of maxKeys: the refilled buckets go,
// and if that is not enough, any.
func (l *memoryLimiter) shrink(now time.Time, perUnit time.Duration) {
	for k, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.at))/float64(perUnit) >= float64(l.policy.Quota) {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) <= l.maxKeys*3/4 {
			break
		}
		delete(l.buckets, k)
	}
}

// refusedSecrets remembers, by the secret's SHA-256, the tokens lately
// refused for their budget: the next request with the same secret is
// weighed against its token's budget before anything is read, even when
// the authentication cache does not hold it (a token whose filter is
// gone is read again on every request).
type refusedSecrets struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]string // → token id
}

// refusedSecretsMax bounds the set; past it, it is cleared: forgetting
// costs one authentication per secret, nothing more.
const refusedSecretsMax = 4096

func (s *refusedSecrets) get(h [sha256.Size]byte) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.m[h]
	return id, ok
}

func (s *refusedSecrets) add(h [sha256.Size]byte, tokenID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil || len(s.m) >= refusedSecretsMax {
		s.m = map[[sha256.Size]byte]string{}
	}
	s.m[h] = tokenID
}

func (s *refusedSecrets) drop(h [sha256.Size]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, h)
}

// ClientAddresses says which address a request comes from: the
// connection's peer, or, when the peer is one of Trusted, the address the
// proxies forwarded in Header. Header is X-Forwarded-For (the default)
// or Forwarded (RFC 7239); only the one the proxies set may be read, since
// a client can send the other itself.
type ClientAddresses struct {
	Trusted []netip.Prefix
	Header  string
}

// ParseTrustedProxies reads a comma-separated list of addresses and CIDR
// prefixes (LEADSVC_TRUSTED_PROXIES); empty items are skipped.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if !strings.Contains(item, "/") {
			a, err := netip.ParseAddr(item)
			if err != nil {
				errs = append(errs, fmt.Errorf("%q is not an IP address or CIDR prefix", item))
				continue
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			errs = append(errs, fmt.Errorf("%q is not an IP address or CIDR prefix", item))
			continue
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, errors.Join(errs...)
}

// The headers ClientAddresses can read.
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded"
)

func (c ClientAddresses) trusted(a netip.Addr) bool {
	for _, p := range c.Trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Of is r's client address: the rightmost forwarded address that is not
// a trusted proxy. A hop that cannot be read (unknown, an obfuscated
// name) stops the walk at the last proxy known: the request is counted
// against that proxy, never against an address a client could choose.
func (c ClientAddresses) Of(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := ap.Addr().Unmap()
	if len(c.Trusted) == 0 || !c.trusted(addr) {
		return addr
	}
	hops := c.forwarded(r)
	for i := len(hops) - 1; i >= 0; i-- {
		if !hops[i].IsValid() {
			return addr
		}
		addr = hops[i]
		if !c.trusted(addr) {
			return addr
		}
	}
	return addr
}

// forwarded lists the addresses of the configured header, left to right;
// an invalid Addr stands for a hop that cannot be read.
func (c ClientAddresses) forwarded(r *http.Request) []netip.Addr {
	var out []netip.Addr
	if c.Header == HeaderForwarded {
		for _, line := range r.Header.Values(HeaderForwarded) {
			for elem := range strings.SplitSeq(line, ",") {
				var a netip.Addr
				for pair := range strings.SplitSeq(elem, ";") {
					k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
					if strings.EqualFold(k, "for") {
						a = parseHop(strings.Trim(v, `"`))
					}
				}
				out = append(out, a)
			}
		}
		return out
	}
	for _, line := range r.Header.Values(HeaderXForwardedFor) {
		for hop := range strings.SplitSeq(line, ",") {
			out = append(out, parseHop(strings.TrimSpace(hop)))
		}
	}
	return out
}

// parseHop reads one forwarded address: 192.0.2.1, 192.0.2.1:443,
// 2001:db8::1, [2001:db8::1]:443.
func parseHop(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil && a.Zone() == "" {
		return a.Unmap()
	}
	return netip.Addr{}
}

// addressKey is the budget an address spends: its own for IPv4, its /64
// for IPv6, where one client commonly holds a whole /64.
func addressKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// DefaultAddressRateLimit is each client address's budget per minute of
// unauthenticated and failed requests.
const DefaultAddressRateLimit = 60

// AddressLimits is the budget each client address has for requests that
// cost a database look-up without an authenticated token: failed
// authentications (401), unknown docs ids, console sign-ins. An address
// with no unit left is answered 429 with Retry-After before any such
// look-up. One AddressLimits serves the API, the docs and the console of
// a process, so that an address cannot spend its budget three times.
type AddressLimits struct {
	limiter Limiter
	clients ClientAddresses
}

// NewAddressLimits returns the limits of limiter (NewMemoryLimiter of
// DefaultAddressRateLimit a minute when nil) for the addresses clients
// resolves.
func NewAddressLimits(limiter Limiter, clients ClientAddresses) *AddressLimits {
	if limiter == nil {
		limiter = NewMemoryLimiter(Policy{Name: "address", Quota: DefaultAddressRateLimit, Window: time.Minute}, 0, nil)
	}
	return &AddressLimits{limiter: limiter, clients: clients}
}

// take spends n units (0: asks whether one is left) of r's address; when
// refused, it sets the 429 headers on w and returns errAddressLimited.
// A nil AddressLimits limits nothing.
func (l *AddressLimits) take(w http.ResponseWriter, r *http.Request, n int) error {
	if l == nil {
		return nil
	}
	d := l.limiter.Take(addressKey(l.clients.Of(r)), n)
	if d.OK {
		return nil
	}
	setRateHeaders(w.Header(), l.limiter.Policy(), d)
	return errAddressLimited
}

// Attempt spends one unit of r's address for an attempt that costs a
// look-up (a console sign-in). When none is left it sets Retry-After and
// the RateLimit fields on w and returns false with the wait.
func (l *AddressLimits) Attempt(w http.ResponseWriter, r *http.Request) (ok bool, retry time.Duration) {
	if err := l.take(w, r, 1); err != nil {
		secs, _ := strconv.Atoi(w.Header().Get("Retry-After"))
		return false, time.Duration(secs) * time.Second
	}
	return true, 0
}
