package domain_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
)

var (
	tokID    = uuid.MustParse("00000000-0000-0000-0000-0000000000d1")
	filterID = uuid.MustParse("00000000-0000-0000-0000-0000000000f1")
	otherAcc = uuid.MustParse("00000000-0000-0000-0000-0000000000ab")
)

func liveFilter(id, campaign, account uuid.UUID) *domain.Filter {
	f := domain.FoldFilter([]domain.Event{domain.FilterCreated{FilterID: id, CampaignID: campaign, AccountID: account, Name: "F",
		Conditions: []domain.Condition{}, At: t0}})
	return &f
}

func newToken(mutate func(*domain.NewToken)) domain.NewToken {
	n := domain.NewToken{ID: tokID, AccountID: acct, CampaignID: &campID, EveryLead: true, Name: "Partner ABC",
		Permissions: []domain.Permission{domain.PermWrite, domain.PermRead}, SecretPrefix: "lsk_AbCd", SecretLast4: "wxyz", DocsID: "docs-1"}
	if mutate != nil {
		mutate(&n)
	}
	return n
}

func tokenCreated(mutate func(*domain.TokenCreated)) domain.TokenCreated {
	e := domain.TokenCreated{TokenID: tokID, AccountID: acct, CampaignID: &campID, Name: "Partner ABC",
		Permissions: []domain.Permission{domain.PermRead, domain.PermWrite}, SecretPrefix: "lsk_AbCd", SecretLast4: "wxyz",
		DocsID: "docs-1", At: t0}
	if mutate != nil {
		mutate(&e)
	}
	return e
}

func TestCreateTokenDecisions(t *testing.T) {
	t.Parallel()
	past, now, future := t0.Add(-time.Second), t0, t0.Add(time.Hour)
	fid := filterID
	create := func(n domain.NewToken) func(domain.Token) ([]domain.Event, error) {
		return func(domain.Token) ([]domain.Event, error) { return domain.CreateToken(n, t0) }
	}
	deletedFilter := liveFilter(filterID, campID, acct).Evolve(domain.FilterDeleted{FilterID: filterID, At: t0})
	runDecisions(t, domain.FoldToken, []decision[domain.Token]{
		{name: "campaign token, permissions sorted", when: create(newToken(nil)), then: []domain.Event{tokenCreated(nil)}},
		{name: "duplicate permissions collapse",
			when: create(newToken(func(n *domain.NewToken) { n.Permissions = []domain.Permission{"read", "read", "read"} })),
			then: []domain.Event{tokenCreated(func(e *domain.TokenCreated) { e.Permissions = []domain.Permission{domain.PermRead} })}},
		{name: "with a filter of the campaign and an expiry",
			when: create(newToken(func(n *domain.NewToken) {
				n.Filter, n.EveryLead = liveFilter(filterID, campID, acct), false
				n.ExpiresAt = &future
			})),
			then: []domain.Event{tokenCreated(func(e *domain.TokenCreated) { e.FilterID = &fid; e.ExpiresAt = &future })}},
		{name: "account token with every permission",
			when: create(newToken(func(n *domain.NewToken) {
				n.CampaignID = nil
				n.Permissions = []domain.Permission{domain.PermWrite, domain.PermAudit, domain.PermRead, domain.PermAdmin}
			})),
			then: []domain.Event{tokenCreated(func(e *domain.TokenCreated) {
				e.CampaignID = nil
				e.Permissions = []domain.Permission{domain.PermAdmin, domain.PermAudit, domain.PermRead, domain.PermWrite}
			})}},
		{name: "campaign token with admin",
			when:    create(newToken(func(n *domain.NewToken) { n.Permissions = []domain.Permission{domain.PermRead, domain.PermAdmin} })),
			invalid: []fc{{"permissions", domain.CodeInvalidValue}}},
		{name: "campaign token with audit",
			when:    create(newToken(func(n *domain.NewToken) { n.Permissions = []domain.Permission{domain.PermAudit} })),
			invalid: []fc{{"permissions", domain.CodeInvalidValue}}},
		{name: "unknown permission",
			when:    create(newToken(func(n *domain.NewToken) { n.Permissions = []domain.Permission{"READ"} })),
			invalid: []fc{{"permissions", domain.CodeInvalidValue}}},
		{name: "no permissions",
			when:    create(newToken(func(n *domain.NewToken) { n.Permissions = []domain.Permission{} })),
			invalid: []fc{{"permissions", domain.CodeRequired}}},
		{name: "filter of another campaign",
			when:    create(newToken(func(n *domain.NewToken) { n.Filter, n.EveryLead = liveFilter(filterID, otherID, acct), false })),
			invalid: []fc{{"filter_id", domain.CodeInvalidValue}}},
		{name: "filter of another account",
			when:    create(newToken(func(n *domain.NewToken) { n.Filter, n.EveryLead = liveFilter(filterID, campID, otherAcc), false })),
			invalid: []fc{{"filter_id", domain.CodeInvalidValue}}},
		{name: "deleted filter",
			when:    create(newToken(func(n *domain.NewToken) { n.Filter, n.EveryLead = &deletedFilter, false })),
			invalid: []fc{{"filter_id", domain.CodeInvalidValue}}},
		{name: "missing filter",
			when:    create(newToken(func(n *domain.NewToken) { n.Filter, n.EveryLead = &domain.Filter{ID: filterID}, false })),
			invalid: []fc{{"filter_id", domain.CodeInvalidValue}}},
		{name: "filter on an account token",
			when: create(newToken(func(n *domain.NewToken) {
				n.CampaignID = nil
				n.Filter, n.EveryLead = liveFilter(filterID, campID, acct), false
			})),
			invalid: []fc{{"filter_id", domain.CodeInvalidValue}}},
		{name: "campaign token without a filter or every lead",
			when:    create(newToken(func(n *domain.NewToken) { n.EveryLead = false })),
			invalid: []fc{{"filter_id", domain.CodeRequired}}},
		{name: "campaign token with a filter and every lead",
			when:    create(newToken(func(n *domain.NewToken) { n.Filter = liveFilter(filterID, campID, acct) })),
			invalid: []fc{{"filter_id", domain.CodeInvalidValue}}},
		{name: "account token needs no filter",
			when: create(newToken(func(n *domain.NewToken) { n.CampaignID, n.EveryLead = nil, false })),
			then: []domain.Event{tokenCreated(func(e *domain.TokenCreated) { e.CampaignID = nil })}},
		{name: "expiry in the past",
			when:    create(newToken(func(n *domain.NewToken) { n.ExpiresAt = &past })),
			invalid: []fc{{"expires_at", domain.CodeInvalidValue}}},
		{name: "expiry now",
			when:    create(newToken(func(n *domain.NewToken) { n.ExpiresAt = &now })),
			invalid: []fc{{"expires_at", domain.CodeInvalidValue}}},
		{name: "every problem at once",
			when: create(newToken(func(n *domain.NewToken) {
				n.Name = " "
				n.Permissions = []domain.Permission{domain.PermAdmin}
				n.Filter, n.EveryLead = liveFilter(filterID, otherID, acct), false
				n.ExpiresAt = &past
			})),
			invalid: []fc{{"name", domain.CodeInvalidValue}, {"permissions", domain.CodeInvalidValue},
				{"filter_id", domain.CodeInvalidValue}, {"expires_at", domain.CodeInvalidValue}}},
	})
}

func TestTokenCommandDecisions(t *testing.T) {
	t.Parallel()
	future, later, past := t0.Add(48*time.Hour), t0.Add(72*time.Hour), t0.Add(-time.Hour)
	fid, fid2 := filterID, uuid.MustParse("00000000-0000-0000-0000-0000000000f2")
	created := []domain.Event{tokenCreated(nil)}
	withFilterAndExpiry := []domain.Event{tokenCreated(func(e *domain.TokenCreated) { e.FilterID = &fid; e.ExpiresAt = &future })}
	revoked := []domain.Event{tokenCreated(nil), domain.TokenRevoked{TokenID: tokID, At: t0}}
	update := func(c domain.TokenChanges) func(domain.Token) ([]domain.Event, error) {
		return func(tk domain.Token) ([]domain.Event, error) { return tk.Update(c, t1) }
	}
	rotate := func(grace time.Duration) func(domain.Token) ([]domain.Event, error) {
		return func(tk domain.Token) ([]domain.Event, error) { return tk.Rotate("lsk_NeWw", "9876", grace, t1) }
	}
	rotated := func(grace time.Duration) []domain.Event {
		return []domain.Event{domain.TokenRotated{TokenID: tokID, SecretPrefix: "lsk_NeWw", SecretLast4: "9876", PreviousValidUntil: t1.Add(grace), At: t1}}
	}
	reveal := func(tk domain.Token) ([]domain.Event, error) { return tk.Reveal(t1) }
	revoke := func(tk domain.Token) ([]domain.Event, error) { return tk.Revoke(t1) }
	t.Run("Update", func(t *testing.T) {
		runDecisions(t, domain.FoldToken, []decision[domain.Token]{
			{name: "nothing asked", given: created, when: update(domain.TokenChanges{}), then: nil},
			{name: "everything as it is", given: withFilterAndExpiry,
				when: update(domain.TokenChanges{Name: ptr("Partner ABC"), Permissions: []domain.Permission{domain.PermWrite, domain.PermRead, domain.PermRead},
					Filter: liveFilter(filterID, campID, acct), ExpiresAt: &future}),
				then: nil},
			{name: "clearing what is not there", given: created, when: update(domain.TokenChanges{ClearFilter: true, ClearExpiry: true}), then: nil},
			{name: "rename", given: created, when: update(domain.TokenChanges{Name: ptr("Partner XYZ")}),
				then: []domain.Event{domain.TokenUpdated{TokenID: tokID, Name: ptr("Partner XYZ"), At: t1}}},
			{name: "fewer permissions", given: created, when: update(domain.TokenChanges{Permissions: []domain.Permission{domain.PermRead}}),
				then: []domain.Event{domain.TokenUpdated{TokenID: tokID, Permissions: []domain.Permission{domain.PermRead}, At: t1}}},
			{name: "a filter", given: created, when: update(domain.TokenChanges{Filter: liveFilter(filterID, campID, acct)}),
				then: []domain.Event{domain.TokenUpdated{TokenID: tokID, FilterID: &fid, At: t1}}},
			{name: "another filter", given: withFilterAndExpiry, when: update(domain.TokenChanges{Filter: liveFilter(fid2, campID, acct)}),
				then: []domain.Event{domain.TokenUpdated{TokenID: tokID, FilterID: &fid2, At: t1}}},
			{name: "clear filter and expiry", given: withFilterAndExpiry, when: update(domain.TokenChanges{ClearFilter: true, ClearExpiry: true}),
				then: []domain.Event{domain.TokenUpdated{TokenID: tokID, ClearFilter: true, ClearExpiry: true, At: t1}}},
			{name: "later expiry", given: withFilterAndExpiry, when: update(domain.TokenChanges{ExpiresAt: &later}),
				then: []domain.Event{domain.TokenUpdated{TokenID: tokID, ExpiresAt: &later, At: t1}}},
			{name: "expiry in the past", given: created, when: update(domain.TokenChanges{ExpiresAt: &past}),
				invalid: []fc{{"expires_at", domain.CodeInvalidValue}}},
			{name: "admin on a campaign token", given: created, when: update(domain.TokenChanges{Permissions: []domain.Permission{domain.PermAdmin}}),
				invalid: []fc{{"permissions", domain.CodeInvalidValue}}},
			{name: "no permissions", given: created, when: update(domain.TokenChanges{Permissions: []domain.Permission{}}),
				invalid: []fc{{"permissions", domain.CodeRequired}}},
			{name: "blank name", given: created, when: update(domain.TokenChanges{Name: ptr("")}),
				invalid: []fc{{"name", domain.CodeInvalidValue}}},
			{name: "filter of another campaign", given: created, when: update(domain.TokenChanges{Filter: liveFilter(fid2, otherID, acct)}),
				invalid: []fc{{"filter_id", domain.CodeInvalidValue}}},
			{name: "filter on an account token", given: []domain.Event{tokenCreated(func(e *domain.TokenCreated) { e.CampaignID = nil })},
				when: update(domain.TokenChanges{Filter: liveFilter(fid, campID, acct)}), invalid: []fc{{"filter_id", domain.CodeInvalidValue}}},
			{name: "on a revoked token", given: revoked, when: update(domain.TokenChanges{Name: ptr("x")}), sentinel: domain.ErrTokenRevoked},
			{name: "on a missing token", when: update(domain.TokenChanges{Name: ptr("x")}), sentinel: domain.ErrTokenNotFound},
		})
	})
	t.Run("Rotate", func(t *testing.T) {
		runDecisions(t, domain.FoldToken, []decision[domain.Token]{
			{name: "zero grace ends the old secret at once", given: created, when: rotate(0), then: rotated(0)},
			{name: "short grace", given: created, when: rotate(time.Nanosecond), then: rotated(time.Nanosecond)},
			{name: "maximum grace", given: created, when: rotate(domain.MaxRotationGrace), then: rotated(domain.MaxRotationGrace)},
			{name: "over the maximum", given: created, when: rotate(domain.MaxRotationGrace + time.Nanosecond),
				invalid: []fc{{"grace_period", domain.CodeInvalidValue}}},
			{name: "negative", given: created, when: rotate(-time.Nanosecond), invalid: []fc{{"grace_period", domain.CodeInvalidValue}}},
			{name: "on a revoked token", given: revoked, when: rotate(0), sentinel: domain.ErrTokenRevoked},
			{name: "on a missing token", when: rotate(0), sentinel: domain.ErrTokenNotFound},
		})
	})
	t.Run("Reveal and Revoke", func(t *testing.T) {
		runDecisions(t, domain.FoldToken, []decision[domain.Token]{
			{name: "reveal", given: created, when: reveal, then: []domain.Event{domain.TokenRevealed{TokenID: tokID, At: t1}}},
			{name: "reveal a revoked token", given: revoked, when: reveal, sentinel: domain.ErrTokenRevoked},
			{name: "reveal a missing token", when: reveal, sentinel: domain.ErrTokenNotFound},
			{name: "revoke", given: created, when: revoke, then: []domain.Event{domain.TokenRevoked{TokenID: tokID, At: t1}}},
			{name: "revoke twice is a no-op", given: revoked, when: revoke, then: nil},
			{name: "revoke a missing token", when: revoke, sentinel: domain.ErrTokenNotFound},
		})
	})
}

func TestTokenEvolution(t *testing.T) {
	t.Parallel()
	fid := filterID
	future := t0.Add(48 * time.Hour)
	history := []domain.Event{
		tokenCreated(func(e *domain.TokenCreated) { e.ExpiresAt = &future }),
		domain.TokenUpdated{TokenID: tokID, Name: ptr("Renamed"), Permissions: []domain.Permission{domain.PermRead}, FilterID: &fid, At: t1},
		domain.TokenRevealed{TokenID: tokID, At: t1},
		domain.TokenRotated{TokenID: tokID, SecretPrefix: "lsk_NeWw", SecretLast4: "9876", PreviousValidUntil: t1.Add(time.Hour), At: t1},
	}
	tk := domain.FoldToken(history)
	want := domain.Token{ID: tokID, AccountID: acct, CampaignID: &campID, FilterID: &fid, Name: "Renamed",
		Permissions: []domain.Permission{domain.PermRead}, ExpiresAt: &future, SecretPrefix: "lsk_NeWw", SecretLast4: "9876",
		DocsID: "docs-1", PreviousValidUntil: t1.Add(time.Hour), Version: 4, CreatedAt: t0}
	if !reflect.DeepEqual(tk, want) {
		t.Fatalf("got  %+v\nwant %+v", tk, want)
	}
	t.Run("permissions", func(t *testing.T) {
		if !tk.Can(domain.PermRead) || tk.Can(domain.PermWrite) || tk.Can(domain.PermAdmin) {
			t.Fatalf("permissions %v", tk.Permissions)
		}
	})
	t.Run("active until expiry, exclusive", func(t *testing.T) {
		if !tk.Active(t0) || !tk.Active(future.Add(-time.Nanosecond)) || tk.Active(future) || tk.Active(future.Add(time.Hour)) {
			t.Fatal("Active does not follow the expiry")
		}
	})
	t.Run("clearing", func(t *testing.T) {
		cleared := tk.Evolve(domain.TokenUpdated{TokenID: tokID, ClearFilter: true, ClearExpiry: true, At: t1})
		if cleared.FilterID != nil || cleared.ExpiresAt != nil || !cleared.Active(future.Add(time.Hour)) || cleared.Version != 5 {
			t.Fatalf("cleared %+v", cleared)
		}
		if tk.FilterID == nil || tk.ExpiresAt == nil {
			t.Fatal("evolving changed the earlier state")
		}
	})
	t.Run("revoked", func(t *testing.T) {
		r := tk.Evolve(domain.TokenRevoked{TokenID: tokID, At: t1})
		if r.Active(t0) || !r.Revoked || !r.Exists() {
			t.Fatalf("revoked %+v", r)
		}
		if (domain.Token{}).Active(t0) || (domain.Token{}).Exists() {
			t.Fatal("the zero token is active")
		}
	})
}

func TestTokenSecrets(t *testing.T) {
	t.Parallel()
	seeds := map[string][32]byte{"zeros": {}, "ones": {}, "counting": {}, "max": {}}
	ones, counting, max := [32]byte{}, [32]byte{}, [32]byte{}
	for i := range 32 {
		ones[i], counting[i], max[i] = 1, byte(i), 0xff
	}
	seeds["ones"], seeds["counting"], seeds["max"] = ones, counting, max
	secrets := map[string]bool{}
	for name, seed := range seeds {
		t.Run(name, func(t *testing.T) {
			s := domain.FormatTokenSecret(seed)
			if !strings.HasPrefix(s, "lsk_") || len(s) != domain.TokenSecretLen || domain.TokenSecretLen != 4+43+6 {
				t.Fatalf("secret %q (%d bytes)", s, len(s))
			}
			if domain.FormatTokenSecret(seed) != s {
				t.Fatal("formatting is not deterministic")
			}
			if !domain.ValidTokenSecretFormat(s) {
				t.Fatalf("%q does not validate", s)
			}
			for i := len(domain.TokenSecretPrefix); i < len(s); i++ {
				for _, r := range []byte{'0', 'Z', 'z', s[i] ^ 1} {
					if r == s[i] {
						continue
					}
					b := []byte(s)
					b[i] = r
					if domain.ValidTokenSecretFormat(string(b)) {
						t.Fatalf("%q validates with position %d changed", b, i)
					}
				}
			}
			if got := domain.SecretDisplayPrefix(s); got != s[:8] || !strings.HasPrefix(got, "lsk_") {
				t.Errorf("display prefix %q", got)
			}
			if got := domain.SecretLast4(s); got != s[len(s)-4:] {
				t.Errorf("last four %q", got)
			}
			secrets[s] = true
		})
	}
	if len(secrets) != len(seeds) {
		t.Fatalf("%d distinct secrets from %d seeds", len(secrets), len(seeds))
	}
	t.Run("refused formats", func(t *testing.T) {
		good := domain.FormatTokenSecret(counting)
		for name, s := range map[string]string{
			"empty":            "",
			"prefix only":      "lsk_",
			"one short":        good[:len(good)-1],
			"one long":         good + "0",
			"other prefix":     "lsx_" + good[4:],
			"upper-case":       "LSK_" + good[4:],
			"bearer":           "Bearer " + good,
			"dash in the body": good[:20] + "-" + good[21:],
			"non-ASCII":        good[:len(good)-2] + "é",
			"checksums swapped": good[:len(good)-6] +
				domain.FormatTokenSecret(ones)[len(good)-6:],
		} {
			if domain.ValidTokenSecretFormat(s) {
				t.Errorf("%s: %q validates", name, s)
			}
		}
	})
	t.Run("display parts of short strings", func(t *testing.T) {
		for _, tc := range []struct{ in, prefix, last4 string }{
			{"", "", ""}, {"abc", "abc", "abc"}, {"lsk_abc", "lsk_abc", "_abc"}, {"lsk_abcd", "lsk_abcd", "abcd"},
			{"lsk_abcdef", "lsk_abcd", "cdef"},
		} {
			if p, l := domain.SecretDisplayPrefix(tc.in), domain.SecretLast4(tc.in); p != tc.prefix || l != tc.last4 {
				t.Errorf("%q: prefix %q last4 %q, want %q %q", tc.in, p, l, tc.prefix, tc.last4)
			}
		}
	})
}

func TestTokenAdministers(t *testing.T) {
	t.Parallel()
	admin := tokenCreated(func(e *domain.TokenCreated) {
		e.CampaignID, e.Permissions = nil, []domain.Permission{domain.PermAdmin, domain.PermRead}
	})
	expires := t1
	for _, tc := range []struct {
		name    string
		history []domain.Event
		want    bool
	}{
		{"a live account admin", []domain.Event{admin}, true},
		{"a campaign token", []domain.Event{tokenCreated(nil)}, false},
		{"an account token without admin", []domain.Event{tokenCreated(func(e *domain.TokenCreated) { e.CampaignID = nil })}, false},
		{"a revoked admin", []domain.Event{admin, domain.TokenRevoked{TokenID: tokID, At: t0}}, false},
		{"an expired admin", []domain.Event{admin, domain.TokenUpdated{TokenID: tokID, ExpiresAt: &expires, At: t0}}, false},
		{"a demoted admin", []domain.Event{admin, domain.TokenUpdated{TokenID: tokID, Permissions: []domain.Permission{domain.PermRead}, At: t0}}, false},
	} {
		if got := domain.FoldToken(tc.history).Administers(t1); got != tc.want {
			t.Errorf("%s: Administers = %v, want %v", tc.name, got, tc.want)
		}
	}
}
