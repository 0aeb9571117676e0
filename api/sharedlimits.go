package api

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"time"

	"github.com/leadsvc/leadsvc/eventstore/ratelimits"
)

// LimitStore is where SharedLimiters meet (eventstore/ratelimits.Store).
type LimitStore interface {
	Sync(ctx context.Context, policy string, perUnit time.Duration, spends []ratelimits.Spend, since time.Time) (ratelimits.Synced, error)
}

// DefaultLimiterSync is how often a SharedLimiter syncs when its config
// does not say.
const DefaultLimiterSync = 500 * time.Millisecond

// SharedLimiterConfig wires a SharedLimiter.
type SharedLimiterConfig struct {
	Policy Policy
	Store  LimitStore
	// Interval between syncs; DefaultLimiterSync when 0. It bounds what
	// the replicas grant beyond the quota (docs/api.md#rate-limits).
	Interval time.Duration
	MaxKeys  int // DefaultLimiterKeys when 0
	Logger   *slog.Logger
}

// SharedLimiter is a Limiter whose budgets every process on one database
// shares, and which survive restarts. Take decides from this process's
// token buckets, never waiting for the database; Sync, every Interval
// (Run), adds what this process spent to the shared budgets in one
// statement and takes back what every process spent, so each process's
// buckets hold the others' spending one sync later. Keys are kept as
// their SHA-256, here and in the table.
type SharedLimiter struct {
	local    *memoryLimiter
	store    LimitStore
	interval time.Duration
	log      *slog.Logger
	since    time.Time // the database's clock at the last sync
	failing  bool
}

// NewSharedLimiter returns the limiter of cfg; it shares nothing until
// Sync or Run.
func NewSharedLimiter(cfg SharedLimiterConfig) *SharedLimiter {
	l := &SharedLimiter{local: newMemoryLimiter(cfg.Policy, cfg.MaxKeys, nil), store: cfg.Store,
		interval: cfg.Interval, log: cfg.Logger}
	l.local.pending = map[string]int{}
	if l.interval <= 0 {
		l.interval = DefaultLimiterSync
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	return l
}

// Policy is what every key is granted.
func (l *SharedLimiter) Policy() Policy { return l.local.policy }

// Take spends n units of key's budget from this process's view of it.
func (l *SharedLimiter) Take(key string, n int) Decision {
	h := sha256.Sum256([]byte(key))
	return l.local.Take(string(h[:]), n)
}

// Sync adds what this process spent since the last sync to the shared
// budgets and takes in where the budgets stand. On error the spending is
// kept for the next sync and the process goes on deciding alone. It must
// not run concurrently with itself.
func (l *SharedLimiter) Sync(ctx context.Context) error {
	m := l.local
	m.mu.Lock()
	spent := m.pending
	m.pending = map[string]int{}
	m.mu.Unlock()
	spends := make([]ratelimits.Spend, 0, len(spent))
	for k, n := range spent {
		spends = append(spends, ratelimits.Spend{Key: []byte(k), Units: n})
	}
	perUnit := m.policy.Window / time.Duration(m.policy.Quota)
	res, err := l.store.Sync(ctx, m.policy.Name, perUnit, spends, l.since)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		for k, n := range spent {
			m.pending[k] += n
		}
		return err
	}
	l.since = res.At
	now := m.now()
	for _, d := range res.Debts {
		k := string(d.Key)
		// What was spent here while the sync ran is not in the shared
		// budget yet.
		tokens := float64(m.policy.Quota) - float64(max(d.Full, 0))/float64(perUnit) - float64(m.pending[k])
		if b := m.buckets[k]; b != nil {
			b.tokens, b.at = tokens, now
			continue
		}
		if tokens >= float64(m.policy.Quota) {
			continue // a full bucket is the same as none
		}
		if len(m.buckets) >= m.maxKeys {
			m.shrink(now, perUnit)
		}
		m.buckets[k] = &bucket{tokens: tokens, at: now}
	}
	return nil
}

// Run syncs every interval until ctx ends, then once more, so that what
// this process spent outlives it. A failed sync is logged once until one
// succeeds again; requests go on being decided from this process's
// counts meanwhile.
func (l *SharedLimiter) Run(ctx context.Context) {
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			l.report(l.syncAlone())
			return
		case <-t.C:
			l.report(l.syncAlone())
		}
	}
}

// syncAlone syncs on a context of its own: a sync cancelled after its
// statement committed would count its units again at the next one.
func (l *SharedLimiter) syncAlone() error {
	ctx, cancel := context.WithTimeout(context.Background(), syncTimeout)
	defer cancel()
	return l.Sync(ctx)
}

// syncTimeout bounds one sync, so that a database that stopped answering
// does not stop shutdown.
const syncTimeout = 5 * time.Second

func (l *SharedLimiter) report(err error) {
	switch {
	case err != nil && !l.failing:
		l.failing = true
		l.log.Warn("rate limit sync failed; this process decides alone until it succeeds",
			"policy", l.local.policy.Name, "err", err)
	case err == nil && l.failing:
		l.failing = false
		l.log.Info("rate limit sync works again", "policy", l.local.policy.Name)
	}
}
