package commands_test

import (
	"errors"
	"testing"
	"time"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
)

// TestCachedAuthenticationCarriesAGuard authenticates a partner twice:
// the first read the database (no guard), the second comes from the cache
// with a guard over the token, campaign and filter rows. Once the filter
// changes, the guard fails a create (nothing written) and a check; an
// expiry the cache holds as passed is asked of the database again, so
// moving it later takes effect.
func TestCachedAuthenticationCarriesAGuard(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.partner()
	auth := func() (*commands.Scope, commands.Guard) {
		t.Helper()
		_, sc, g, err := e.c.Auth.AuthenticateCached(e.ctx, p.secret)
		if err != nil {
			t.Fatalf("AuthenticateCached: %v", err)
		}
		return sc, g
	}
	if _, g := auth(); g != nil {
		t.Fatalf("the first authentication has a guard %v, want none: it read the database", g)
	}
	sc, g := auth()
	if len(g) != 3 {
		t.Fatalf("a cached authentication's guard = %v, want the token, campaign and filter rows", g)
	}
	if err := e.c.Auth.CheckGuard(e.ctx, g); err != nil {
		t.Fatalf("CheckGuard of a current guard: %v", err)
	}
	create := commands.CreateLead{AccountID: e.account.ID, CampaignID: p.campaign.ID, Scope: sc,
		Fields: map[string]any{"name": "Ann"}, Guard: g}
	if _, err := e.c.CreateLead.Handle(e.ctx, create); err != nil {
		t.Fatalf("a create with a current guard: %v", err)
	}
	if _, err := e.c.UpdateFilter.Handle(e.ctx, commands.UpdateFilter{AccountID: e.account.ID, FilterID: p.filter.ID, Name: "won only",
		Conditions: []domain.Condition{{Field: "source", Op: domain.OpEq, Value: "partner-abc"}, {Field: "status", Op: domain.OpEq, Value: "won"}}}); err != nil {
		t.Fatal(err)
	}
	e.unchanged(func() {
		if _, err := e.c.CreateLead.Handle(e.ctx, create); !errors.Is(err, commands.ErrScopeChanged) {
			t.Fatalf("a create with the guard of the old filter = %v, want ErrScopeChanged", err)
		}
	})
	if err := e.c.Auth.CheckGuard(e.ctx, g); !errors.Is(err, commands.ErrScopeChanged) {
		t.Fatalf("CheckGuard of the old filter = %v, want ErrScopeChanged", err)
	}
	// AuthenticateScoped refreshes the cache: the next cached one is the new filter.
	if _, _, err := e.c.Auth.AuthenticateScoped(e.ctx, p.secret); err != nil {
		t.Fatal(err)
	}
	if sc, g := auth(); g == nil || func() bool { f, _, _ := sc.Prefetched(); return len(f.Conditions) != 2 }() {
		t.Fatalf("the cache after a fresh authentication holds the old filter")
	}

	exp := e.clock.now().Add(time.Hour)
	tok, err := e.c.CreateToken.Handle(e.ctx, commands.CreateToken{AccountID: e.account.ID, Name: "Reporting", ExpiresAt: &exp,
		Permissions: []domain.Permission{domain.PermRead}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, _, _, err := e.c.Auth.AuthenticateCached(e.ctx, tok.Secret); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
	}
	e.clock.advance(2 * time.Hour)
	if _, _, _, err := e.c.Auth.AuthenticateCached(e.ctx, tok.Secret); !errors.Is(err, commands.ErrTokenExpired) {
		t.Fatalf("after expiry: %v, want ErrTokenExpired", err)
	}
	later := e.clock.now().Add(time.Hour)
	if _, err := e.c.UpdateToken.Handle(e.ctx, commands.UpdateToken{AccountID: e.account.ID, TokenID: tok.Token.ID, ExpiresAt: &later}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := e.c.Auth.AuthenticateCached(e.ctx, tok.Secret); err != nil {
		t.Fatalf("after the expiry was moved later: %v", err)
	}
}
