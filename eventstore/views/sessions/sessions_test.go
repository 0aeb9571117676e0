package sessions_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/views/sessions"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newStore(t *testing.T) (*sessions.Store, *clock) {
	t.Helper()
	url := testenv.Schema(t)
	if err := eventstore.Migrate(context.Background(), url, nil); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	return sessions.New(sessions.Config{Pool: testenv.Pool(t, url), IdleTimeout: time.Hour, MaxAge: 3 * time.Hour, Clock: c.now}), c
}

func TestSessionsExpireWhenIdleAndAtTheirAge(t *testing.T) {
	t.Parallel()
	s, c := newStore(t)
	ctx := context.Background()
	tok, acct := uuid.New(), uuid.New()
	id, _, err := s.Create(ctx, tok, acct)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Lookup(ctx, id)
	if err != nil || got.TokenID != tok || got.AccountID != acct {
		t.Fatalf("Lookup = %+v, %v; want token %s of account %s", got, err, tok, acct)
	}
	// Used every 50 minutes, it outlives the idle limit but not its age.
	for range 3 {
		c.add(50 * time.Minute)
		if _, err := s.Lookup(ctx, id); err != nil {
			t.Fatalf("after %v: %v", c.now().Sub(got.CreatedAt), err)
		}
	}
	c.add(40 * time.Minute)
	if _, err := s.Lookup(ctx, id); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("past its age: %v, want ErrNotFound", err)
	}

	idle, _, err := s.Create(ctx, tok, acct)
	if err != nil {
		t.Fatal(err)
	}
	c.add(time.Hour)
	if _, err := s.Lookup(ctx, idle); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("idle an hour: %v, want ErrNotFound", err)
	}
}

func TestSessionsEndOnDeleteAndRefuseForgedIDs(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := context.Background()
	tok := uuid.New()
	a, _, err := s.Create(ctx, tok, uuid.New())
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := s.Create(ctx, tok, uuid.New())
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := s.Create(ctx, uuid.New(), uuid.New())
	if err != nil {
		t.Fatal(err)
	}
	if a == b || len(a) != 43 {
		t.Fatalf("session ids %q and %q: want two distinct 43-character ids", a, b)
	}
	for _, forged := range []string{"", "x", a[:42], a + "A", "'; DROP TABLE console_sessions; --"} {
		if _, err := s.Lookup(ctx, forged); !errors.Is(err, sessions.ErrNotFound) {
			t.Errorf("Lookup(%q) = %v, want ErrNotFound", forged, err)
		}
	}
	if err := s.Delete(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(ctx, a); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("after Delete: %v", err)
	}
	if err := s.DeleteToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(ctx, b); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("after DeleteToken: %v", err)
	}
	if _, err := s.Lookup(ctx, other); err != nil {
		t.Fatalf("another token's session: %v", err)
	}
}
