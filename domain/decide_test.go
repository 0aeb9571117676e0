package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
)

// Given a history, when a command is decided, then events or an error.

func created(t *testing.T) domain.Campaign {
	t.Helper()
	events, err := domain.CreateCampaign(campID, acct, "Solar", fullSchema(), t0)
	if err != nil {
		t.Fatalf("CreateCampaign: %v", err)
	}
	return domain.FoldCampaign(events)
}

func TestCreateCampaign(t *testing.T) {
	t.Parallel()
	bad := func(mutate func(*domain.Schema)) domain.Schema {
		s := fullSchema()
		mutate(&s)
		return s
	}
	for _, tc := range []struct {
		name         string
		campaignName string
		schema       domain.Schema
		field, code  string
	}{
		{"blank name", "  ", fullSchema(), "name", domain.CodeInvalidValue},
		{"duplicate field", "x", bad(func(s *domain.Schema) { s.Fields = append(s.Fields, s.Fields[0]) }), "fields[12].key", domain.CodeInvalidValue},
		{"reserved key", "x", bad(func(s *domain.Schema) { s.Fields[0].Key = "status" }), "fields[0].key", domain.CodeInvalidValue},
		{"bad key", "x", bad(func(s *domain.Schema) { s.Fields[0].Key = "Name!" }), "fields[0].key", domain.CodeInvalidFormat},
		{"unknown select", "x", bad(func(s *domain.Schema) { s.Fields[9].Select = "nope" }), "fields[9].select", domain.CodeInvalidValue},
		{"relation without campaign", "x", bad(func(s *domain.Schema) { s.Fields[11].Campaign = nil }), "fields[11].campaign", domain.CodeRequired},
		{"unknown type", "x", bad(func(s *domain.Schema) { s.Fields[1].Type = "colour" }), "fields[1].type", domain.CodeInvalidValue},
		{"no statuses", "x", bad(func(s *domain.Schema) { s.Statuses = nil }), "statuses", domain.CodeRequired},
		{"duplicate status", "x", bad(func(s *domain.Schema) { s.Statuses = append(s.Statuses, s.Statuses[0]) }), "statuses[3].slug", domain.CodeInvalidValue},
		{"duplicate option", "x", bad(func(s *domain.Schema) {
			s.Selects[0].Options = append(s.Selects[0].Options, s.Selects[0].Options[0])
		}), "selects[0].options[2].value", domain.CodeInvalidValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := domain.CreateCampaign(campID, acct, tc.campaignName, tc.schema, t0)
			wantCode(t, err, tc.field, tc.code)
		})
	}
	t.Run("valid", func(t *testing.T) {
		c := created(t)
		if !c.Exists() || c.Name != "Solar" || c.AccountID != acct || len(c.Schema.Fields) != 12 || c.Version != 1 {
			t.Fatalf("campaign %+v", c)
		}
		if c.Schema.DefaultStatus() != "new" {
			t.Errorf("default status %q, want the first", c.Schema.DefaultStatus())
		}
	})
}

func TestCampaignChanges(t *testing.T) {
	t.Parallel()
	c := created(t)
	t.Run("add select option", func(t *testing.T) {
		events, err := c.AddSelectOption("source", domain.Option{Value: "partner-xyz", Label: "Partner XYZ"}, t0)
		if err != nil || len(events) != 1 {
			t.Fatalf("%v %v", events, err)
		}
		next := domain.Fold(c, events)
		if !next.Schema.HasOption("source", "partner-xyz") || next.Version != 2 {
			t.Fatalf("option not applied: %+v", next.Schema.Selects[0])
		}
		_, err = c.AddSelectOption("source", domain.Option{Value: "website", Label: "Again"}, t0)
		wantCode(t, err, "option.value", domain.CodeInvalidValue)
		_, err = c.AddSelectOption("nope", domain.Option{Value: "a", Label: "A"}, t0)
		wantCode(t, err, "select", domain.CodeInvalidValue)
	})
	t.Run("add field", func(t *testing.T) {
		events, err := c.AddField(domain.Field{Key: "ref", Label: "Ref", Type: domain.TypeText}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := domain.Fold(c, events).Schema.Field("ref"); !ok {
			t.Fatal("field not applied")
		}
		if _, err := c.AddField(domain.Field{Key: "name", Label: "Again", Type: domain.TypeText}, t0); err == nil {
			t.Fatal("a duplicate field was added")
		}
	})
	t.Run("add status and select, rename", func(t *testing.T) {
		events, err := c.AddStatus(domain.Status{Slug: "callback", Label: "Call back"}, t0)
		if err != nil || !domain.Fold(c, events).Schema.HasStatus("callback") {
			t.Fatalf("status: %v", err)
		}
		if _, err := c.AddStatus(domain.Status{Slug: "won", Label: "Won"}, t0); err == nil {
			t.Fatal("a duplicate status was added")
		}
		events, err = c.AddSelect(domain.Select{Key: "product", Label: "Product", Options: []domain.Option{{Value: "pv", Label: "PV"}}}, t0)
		if err != nil || len(domain.Fold(c, events).Schema.Selects) != 3 {
			t.Fatalf("select: %v", err)
		}
		events, err = c.Rename("Solar 2026", t0)
		if err != nil || domain.Fold(c, events).Name != "Solar 2026" {
			t.Fatalf("rename: %v", err)
		}
		if events, err := c.Rename("Solar", t0); err != nil || len(events) != 0 {
			t.Errorf("renaming to the same name: %v %v", events, err)
		}
	})
	t.Run("on a missing campaign", func(t *testing.T) {
		if _, err := (domain.Campaign{}).Rename("x", t0); !errors.Is(err, domain.ErrCampaignNotFound) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestTokenDecisions(t *testing.T) {
	t.Parallel()
	filter := domain.FoldFilter(mustEvents(t)(domain.CreateFilter(uuid.New(), campID, acct, "ABC", "",
		[]domain.Condition{{Field: "source", Op: domain.OpEq, Value: "partner-abc"}}, nil, fullSchema(), t0)))
	otherFilter := filter
	otherFilter.CampaignID = otherID
	newTok := func(mut func(*domain.NewToken)) domain.NewToken {
		n := domain.NewToken{ID: uuid.New(), AccountID: acct, CampaignID: &campID, Filter: &filter, Name: "Partner",
			Permissions: []domain.Permission{domain.PermRead, domain.PermWrite}, SecretPrefix: "lsk_abcd", SecretLast4: "wxyz", DocsID: "d"}
		if mut != nil {
			mut(&n)
		}
		return n
	}
	past := t0.Add(-time.Hour)
	for _, tc := range []struct {
		name        string
		tok         domain.NewToken
		field, code string
	}{
		{"campaign token with admin", newTok(func(n *domain.NewToken) { n.Permissions = []domain.Permission{domain.PermAdmin} }), "permissions", domain.CodeInvalidValue},
		{"no permissions", newTok(func(n *domain.NewToken) { n.Permissions = nil }), "permissions", domain.CodeRequired},
		{"unknown permission", newTok(func(n *domain.NewToken) { n.Permissions = []domain.Permission{"delete"} }), "permissions", domain.CodeInvalidValue},
		{"filter of another campaign", newTok(func(n *domain.NewToken) { n.Filter = &otherFilter }), "filter_id", domain.CodeInvalidValue},
		{"filter on an account token", newTok(func(n *domain.NewToken) { n.CampaignID = nil }), "filter_id", domain.CodeInvalidValue},
		{"expiry in the past", newTok(func(n *domain.NewToken) { n.ExpiresAt = &past }), "expires_at", domain.CodeInvalidValue},
		{"blank name", newTok(func(n *domain.NewToken) { n.Name = "" }), "name", domain.CodeInvalidValue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := domain.CreateToken(tc.tok, t0)
			wantCode(t, err, tc.field, tc.code)
		})
	}
	events, err := domain.CreateToken(newTok(nil), t0)
	if err != nil {
		t.Fatal(err)
	}
	tok := domain.FoldToken(events)
	if !tok.Active(t0) || !tok.Can(domain.PermWrite) || tok.Can(domain.PermAdmin) || *tok.FilterID != filter.ID {
		t.Fatalf("token %+v", tok)
	}
	t.Run("account token may hold every permission", func(t *testing.T) {
		_, err := domain.CreateToken(domain.NewToken{ID: uuid.New(), AccountID: acct, Name: "Owner",
			Permissions: []domain.Permission{domain.PermAudit, domain.PermAdmin, domain.PermRead, domain.PermWrite}}, t0)
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("update", func(t *testing.T) {
		if events, err := tok.Update(domain.TokenChanges{Name: &tok.Name}, t0); err != nil || len(events) != 0 {
			t.Fatalf("a no-op update decided %v, %v", events, err)
		}
		events, err := tok.Update(domain.TokenChanges{Permissions: []domain.Permission{domain.PermRead}, ClearFilter: true}, t0)
		if err != nil {
			t.Fatal(err)
		}
		next := domain.Fold(tok, events)
		if next.Can(domain.PermWrite) || next.FilterID != nil {
			t.Fatalf("after update %+v", next)
		}
	})
	t.Run("rotate", func(t *testing.T) {
		events, err := tok.Rotate("lsk_new1", "abcd", 0, t0)
		if err != nil || !events[0].(domain.TokenRotated).PreviousValidUntil.Equal(t0) {
			t.Fatalf("no grace: %v %v; want the old secret to end at the rotation", events, err)
		}
		for _, g := range []time.Duration{-time.Second, domain.MaxRotationGrace + time.Second} {
			_, err := tok.Rotate("lsk_new1", "abcd", g, t0)
			wantCode(t, err, "grace_period", domain.CodeInvalidValue)
		}
	})
	t.Run("revoke", func(t *testing.T) {
		events, err := tok.Revoke(t0)
		if err != nil || len(events) != 1 {
			t.Fatal(err)
		}
		revoked := domain.Fold(tok, events)
		if revoked.Active(t0) {
			t.Fatal("a revoked token is active")
		}
		if again, err := revoked.Revoke(t0); err != nil || len(again) != 0 {
			t.Errorf("revoking twice: %v %v", again, err)
		}
		for name, decide := range map[string]func() ([]domain.Event, error){
			"rotate": func() ([]domain.Event, error) { return revoked.Rotate("p", "l", 0, t0) },
			"reveal": func() ([]domain.Event, error) { return revoked.Reveal(t0) },
			"update": func() ([]domain.Event, error) { return revoked.Update(domain.TokenChanges{Name: ptr("x")}, t0) },
		} {
			if _, err := decide(); !errors.Is(err, domain.ErrTokenRevoked) {
				t.Errorf("%s on a revoked token: %v", name, err)
			}
		}
	})
	t.Run("expiry", func(t *testing.T) {
		exp := t0.Add(time.Hour)
		events, err := domain.CreateToken(newTok(func(n *domain.NewToken) { n.ExpiresAt = &exp }), t0)
		if err != nil {
			t.Fatal(err)
		}
		tk := domain.FoldToken(events)
		if !tk.Active(exp.Add(-time.Nanosecond)) || tk.Active(exp) {
			t.Fatal("expiry is not exclusive at expires_at")
		}
	})
}

func ptr[T any](v T) *T { return &v }

func mustEvents(t *testing.T) func([]domain.Event, error) []domain.Event {
	return func(events []domain.Event, err error) []domain.Event {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return events
	}
}

func TestTokenSecretFormat(t *testing.T) {
	t.Parallel()
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(i * 7)
	}
	s := domain.FormatTokenSecret(seed)
	if len(s) != domain.TokenSecretLen || s[:4] != "lsk_" || !domain.ValidTokenSecretFormat(s) {
		t.Fatalf("secret %q", s)
	}
	if domain.FormatTokenSecret([32]byte{}) == s {
		t.Fatal("different randomness, same secret")
	}
	for i := 4; i < len(s); i++ {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		if domain.ValidTokenSecretFormat(string(b)) {
			t.Fatalf("one changed character at %d still validates", i)
		}
	}
	for _, bad := range []string{"", "lsk_", s[:len(s)-1], s + "0", "lsx_" + s[4:], s[:10] + "-" + s[11:]} {
		if domain.ValidTokenSecretFormat(bad) {
			t.Errorf("%q validates", bad)
		}
	}
	if p := domain.SecretDisplayPrefix(s); p != s[:8] {
		t.Errorf("display prefix %q", p)
	}
	if l := domain.SecretLast4(s); l != s[len(s)-4:] {
		t.Errorf("last4 %q", l)
	}
}

func TestLeadDecisions(t *testing.T) {
	t.Parallel()
	s := fullSchema()
	id := uuid.New()
	events, err := domain.CreateLead(id, campID, acct, "", map[string]any{"name": "Ada", "budget": 10, "interests": []any{"solar", "solar"}}, s, t0)
	if err != nil {
		t.Fatal(err)
	}
	l := domain.FoldLead(events)
	if l.Status != "new" || l.Version != 1 || l.Fields["budget"] != 10.0 || len(l.Fields["interests"].([]string)) != 1 {
		t.Fatalf("lead %+v", l)
	}
	t.Run("create refusals", func(t *testing.T) {
		_, err := domain.CreateLead(id, campID, acct, "gone", map[string]any{}, s, t0)
		wantCode(t, err, "status", domain.CodeUnknownStatus)
		wantCode(t, err, "fields.name", domain.CodeRequired)
	})
	t.Run("update holds only what changes", func(t *testing.T) {
		events, err := l.Update(map[string]any{"name": "Ada", "budget": 12, "email": nil}, "won", s, t0.Add(time.Minute))
		if err != nil || len(events) != 1 {
			t.Fatalf("%v %v", events, err)
		}
		u := events[0].(domain.LeadUpdated)
		if len(u.Fields) != 1 || u.Fields["budget"] != 12.0 || u.StatusFrom != "new" || u.StatusTo != "won" {
			t.Fatalf("update event %+v", u)
		}
		next := l.Preview(events)
		if next.Version != 2 || next.Status != "won" || !next.UpdatedAt.After(next.CreatedAt) {
			t.Fatalf("after update %+v", next)
		}
		cleared := next.Preview(mustEvents(t)(next.Update(map[string]any{"budget": nil}, "", s, t0)))
		if _, has := cleared.Fields["budget"]; has {
			t.Fatal("null did not clear the field")
		}
	})
	t.Run("no change, no event", func(t *testing.T) {
		if events, err := l.Update(map[string]any{"name": "Ada"}, "new", s, t0); err != nil || len(events) != 0 {
			t.Fatalf("%v %v", events, err)
		}
	})
	t.Run("required field cannot be cleared", func(t *testing.T) {
		_, err := l.Update(map[string]any{"name": nil}, "", s, t0)
		wantCode(t, err, "fields.name", domain.CodeRequired)
	})
	t.Run("files", func(t *testing.T) {
		f := domain.FileMeta{ID: uuid.New(), Name: "quote.pdf", ContentType: "application/pdf", Size: 3, SHA256: "abc"}
		with := l.Preview(mustEvents(t)(l.AttachFile(f, t0)))
		if len(with.Files) != 1 || len(l.Files) != 0 {
			t.Fatalf("attach changed the original or did not apply: %v %v", with.Files, l.Files)
		}
		if _, err := l.AttachFile(domain.FileMeta{ID: uuid.New()}, t0); err == nil {
			t.Fatal("a file without name and type was attached")
		}
		if _, err := with.RemoveFile(uuid.New(), t0); !errors.Is(err, domain.ErrFileNotFound) {
			t.Fatalf("removing an unknown file: %v", err)
		}
		without := with.Preview(mustEvents(t)(with.RemoveFile(f.ID, t0)))
		if len(without.Files) != 0 {
			t.Fatal("file not removed")
		}
	})
	t.Run("on a missing lead", func(t *testing.T) {
		if _, err := (domain.Lead{}).Update(nil, "won", s, t0); !errors.Is(err, domain.ErrLeadNotFound) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestFilterDecisions(t *testing.T) {
	t.Parallel()
	s := fullSchema()
	conds := []domain.Condition{{Field: "source", Op: domain.OpEq, Value: "partner-abc"}}
	f := domain.FoldFilter(mustEvents(t)(domain.CreateFilter(uuid.New(), campID, acct, "ABC", "", conds, nil, s, t0)))
	if !f.Exists() || f.Version != 1 {
		t.Fatalf("filter %+v", f)
	}
	if events, err := f.Update("ABC", "", conds, nil, s, t0); err != nil || len(events) != 0 {
		t.Fatalf("an identical update decided %v %v", events, err)
	}
	narrowed := append([]domain.Condition{}, conds...)
	narrowed = append(narrowed, domain.Condition{Field: "status", Op: domain.OpEq, Value: "won"})
	next := domain.Fold(f, mustEvents(t)(f.Update("ABC won", "", narrowed, nil, s, t0)))
	if len(next.Conditions) != 2 || next.Name != "ABC won" {
		t.Fatalf("after update %+v", next)
	}
	deleted := domain.Fold(next, mustEvents(t)(next.Delete(t0)))
	if deleted.Exists() {
		t.Fatal("a deleted filter exists")
	}
	if events, err := deleted.Delete(t0); err != nil || len(events) != 0 {
		t.Errorf("deleting twice: %v %v", events, err)
	}
	if _, err := deleted.Update("x", "", conds, nil, s, t0); !errors.Is(err, domain.ErrFilterDeleted) {
		t.Errorf("updating a deleted filter: %v", err)
	}
	if _, err := (domain.Filter{}).Delete(t0); !errors.Is(err, domain.ErrFilterNotFound) {
		t.Errorf("deleting a missing filter: %v", err)
	}
}

func TestAccountDecisions(t *testing.T) {
	t.Parallel()
	events, err := domain.CreateAccount(acct, "Acme", t0)
	if err != nil {
		t.Fatal(err)
	}
	a := domain.Fold(domain.Account{}, events)
	if a.ID != acct || a.Name != "Acme" || a.Version != 1 {
		t.Fatalf("account %+v", a)
	}
	_, err = domain.CreateAccount(acct, "", t0)
	wantCode(t, err, "name", domain.CodeInvalidValue)
}
