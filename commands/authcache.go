package commands

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
)

// Guard is what a cached authentication was decided from: the token's,
// its campaign's and its filter's rows at the versions read. The request
// that uses it checks it in its first round trip (Append.Guard for a
// write, Guard.QueueCheck ahead of a read); ErrScopeChanged when any of
// them has moved, and then nothing was written or read.
type Guard = eventstore.Guard

// ErrScopeChanged: the rows a cached authentication was decided from have
// changed since (a revocation, a rotation, a filter or schema change).
// Nothing was written; authenticate again and retry.
var ErrScopeChanged = eventstore.ErrGuardFailed

// authCache keeps the process's recent authentications by the secret's
// hash, so that a request need not read the token, its filter and its
// campaign again: the guard of each entry makes the request's own round
// trip refuse it once any of those rows has changed, in this process or
// any other. What changes with time alone (expiry, the end of a rotation's
// grace) is checked against the clock on every use.
type authCache struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]authEntry
}

// authCacheMax bounds the cache; when full, a quarter of it is dropped.
const authCacheMax = 4096

type authEntry struct {
	tok   TokenInfo
	scope *Scope // nil for an account-level token
	guard Guard
	// graceEnd is when the secret stops authenticating, when it is the
	// token's previous one (rotated with a grace period).
	graceEnd *time.Time
}

func (c *authCache) get(h [sha256.Size]byte) (authEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[h]
	return e, ok
}

func (c *authCache) put(h [sha256.Size]byte, e authEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[[sha256.Size]byte]authEntry{}
	}
	if len(c.m) >= authCacheMax {
		n := 0
		for k := range c.m {
			delete(c.m, k)
			if n++; n >= authCacheMax/4 {
				break
			}
		}
	}
	c.m[h] = e
}

func (c *authCache) drop(h [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, h)
}

// AuthenticateCached is AuthenticateScoped from the process's cache when
// it holds the secret: no round trip. The guard it returns, nil when the
// database was read now, must be checked by the request's first statement
// (pass it to the command or the read); on ErrScopeChanged, call
// AuthenticateScoped, which reads the database and refreshes the cache.
func (c Auth) AuthenticateCached(ctx context.Context, secret string) (TokenInfo, *Scope, Guard, error) {
	if !domain.ValidTokenSecretFormat(secret) {
		return TokenInfo{}, nil, nil, ErrUnauthenticated
	}
	h := sha256.Sum256([]byte(secret))
	if tok, sc, g, ok := c.cached(h); ok {
		return tok, sc, g, nil
	}
	tok, sc, err := c.authenticateHash(ctx, h[:])
	return tok, sc, nil, err
}

// CachedAuthentication is AuthenticateCached without the database: ok is
// false when the cache does not hold the secret (or holds it past an
// expiry or a grace it knew of), and then only AuthenticateScoped can
// tell.
func (c Auth) CachedAuthentication(secret string) (TokenInfo, *Scope, Guard, bool) {
	if !domain.ValidTokenSecretFormat(secret) {
		return TokenInfo{}, nil, nil, false
	}
	return c.cached(sha256.Sum256([]byte(secret)))
}

func (c *deps) cached(h [sha256.Size]byte) (TokenInfo, *Scope, Guard, bool) {
	e, ok := c.auths.get(h)
	if !ok {
		return TokenInfo{}, nil, nil, false
	}
	now := c.at()
	if e.graceEnd != nil && !now.Before(*e.graceEnd) || e.tok.ExpiresAt != nil && !now.Before(*e.tok.ExpiresAt) {
		// Past what the cache knew: the database says what holds now
		// (an expiry may have been moved since).
		c.auths.drop(h)
		return TokenInfo{}, nil, nil, false
	}
	var sc *Scope
	if e.scope != nil {
		cp := *e.scope
		sc = &cp
	}
	return e.tok, sc, e.guard, true
}

// remember caches a fresh authentication, by its secret's hash, when everything it was decided
// from is a row a guard can check: a token whose campaign or filter is
// gone is read again on every request.
func (c *deps) remember(hash []byte, tok TokenInfo, sc *Scope, current bool) {
	g := Guard{{Table: eventstore.GuardTokens, ID: tok.ID, Version: tok.Version}}
	var scope *Scope
	if sc != nil {
		f, camp, ok := sc.Prefetched()
		if !ok || camp == nil || (sc.FilterID != nil && f == nil) {
			return
		}
		g = append(g, eventstore.GuardedRow{Table: eventstore.GuardCampaigns, ID: camp.ID, Version: camp.Version})
		if f != nil {
			g = append(g, eventstore.GuardedRow{Table: eventstore.GuardFilters, ID: f.ID, Version: f.Version})
		}
		cp := *sc
		scope = &cp
	}
	e := authEntry{tok: tok, scope: scope, guard: g}
	if !current {
		e.graceEnd = tok.PreviousValidUntil
	}
	c.auths.put([sha256.Size]byte(hash), e)
}

// CheckGuard checks a cached authentication's guard on its own, for a
// request whose first round trip cannot carry it: ErrScopeChanged when a
// row has moved.
func (c Auth) CheckGuard(ctx context.Context, g Guard) error {
	return c.views.CheckGuard(ctx, g)
}
