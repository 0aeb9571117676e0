package commands_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/views"
	"github.com/leadsvc/leadsvc/internal/testenv"
	"github.com/leadsvc/leadsvc/queries"
)

// clock is a settable test clock.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

type env struct {
	t     *testing.T
	ctx   context.Context
	c     commands.Commands
	q     *queries.Queries
	store *eventstore.Store
	pool  *pgxpool.Pool
	clock *clock

	account domain.Account
	admin   string // the owner token's secret
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

// newEnv migrates a fresh schema and creates one account.
func newEnv(t *testing.T) *env {
	t.Helper()
	testenv.Integration(t)
	url := testenv.Schema(t)
	ctx := context.Background()
	if err := eventstore.Migrate(ctx, url, nil); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	pool := testenv.Pool(t, url)
	// As serve runs it: concurrent appends without inline views share
	// a group commit.
	store := eventstore.New(pool, domain.NewRegistry(), eventstore.WithGroupCommit(64, 0))
	t.Cleanup(store.Close)
	clk := &clock{}
	clk.ns.Store(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	c, err := commands.New(commands.Config{Store: store, SecretKey: testKey, Clock: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, c: c, q: queries.New(queries.Config{Views: views.Of(store), Clock: clk.now}), store: store,
		pool: pool, clock: clk}
	res, err := c.CreateAccount.Handle(ctx, commands.CreateAccount{Name: "Acme"})
	if err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	e.account, e.admin = res.Account, res.Secret
	return e
}

func (e *env) count() int64 {
	e.t.Helper()
	n, err := e.store.Count(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// unchanged fails the test if fn changes the number of events.
func (e *env) unchanged(fn func()) {
	e.t.Helper()
	before := e.count()
	fn()
	if after := e.count(); after != before {
		e.t.Fatalf("the event count changed from %d to %d", before, after)
	}
}

func partnerSchema() domain.Schema {
	return domain.Schema{
		Fields: []domain.Field{
			{Key: "name", Label: "Name", Type: domain.TypeText, Required: true},
			{Key: "email", Label: "Email", Type: domain.TypeEmail},
			{Key: "source", Label: "Source", Type: domain.TypeSelect, Select: "source"},
			{Key: "budget", Label: "Budget", Type: domain.TypeNumber},
		},
		Selects: []domain.Select{{Key: "source", Label: "Source", Options: []domain.Option{
			{Value: "website", Label: "Website"}, {Value: "partner-abc", Label: "Partner ABC"}}}},
		Statuses: []domain.Status{{Slug: "new", Label: "New"}, {Slug: "won", Label: "Won"}, {Slug: "lost", Label: "Lost"}},
	}
}

// partnerSetup is the product's setup flow: a campaign, a filter
// source = partner-abc and a read+write token scoped to both.
type partnerSetup struct {
	campaign domain.Campaign
	filter   domain.Filter
	token    commands.TokenInfo
	secret   string
}

func (e *env) partner() partnerSetup {
	e.t.Helper()
	camp, err := e.c.CreateCampaign.Handle(e.ctx, commands.CreateCampaign{AccountID: e.account.ID, Name: "Solar", Schema: partnerSchema()})
	if err != nil {
		e.t.Fatalf("CreateCampaign: %v", err)
	}
	f, err := e.c.CreateFilter.Handle(e.ctx, commands.CreateFilter{AccountID: e.account.ID, CampaignID: camp.Campaign.ID, Name: "Partner ABC",
		Conditions: []domain.Condition{{Field: "source", Op: domain.OpEq, Value: "partner-abc"}}})
	if err != nil {
		e.t.Fatalf("CreateFilter: %v", err)
	}
	tok, err := e.c.CreateToken.Handle(e.ctx, commands.CreateToken{AccountID: e.account.ID, CampaignID: &camp.Campaign.ID,
		FilterID: &f.Filter.ID, Name: "Partner ABC", Permissions: []domain.Permission{domain.PermRead, domain.PermWrite}})
	if err != nil {
		e.t.Fatalf("CreateToken: %v", err)
	}
	return partnerSetup{campaign: camp.Campaign, filter: f.Filter, token: tok.Token, secret: tok.Secret}
}

func (p partnerSetup) scope() *commands.Scope { return commands.ScopeOf(p.token) }

func (e *env) lead(campaignID uuid.UUID, fields map[string]any) domain.Lead {
	e.t.Helper()
	res, err := e.c.CreateLead.Handle(e.ctx, commands.CreateLead{AccountID: e.account.ID, CampaignID: campaignID, Fields: fields})
	if err != nil {
		e.t.Fatalf("CreateLead: %v", err)
	}
	return res.Lead
}

func wantValidation(t *testing.T, err error, field, code string) {
	t.Helper()
	var v *domain.ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("want a validation error on %s (%s), got %v", field, code, err)
	}
	for _, fe := range v.Errors {
		if fe.Field == field && fe.Code == code {
			return
		}
	}
	t.Fatalf("want %s on %s, got %+v", code, field, v.Errors)
}

func TestCreateAccountGivesAnOwnerTokenThatAuthenticates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok, err := e.c.Auth.Authenticate(e.ctx, e.admin)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if tok.AccountID != e.account.ID || tok.CampaignID != nil {
		t.Fatalf("token %+v is not account-level for %s", tok, e.account.ID)
	}
	for _, p := range commands.AllPermissions {
		if !tok.Can(p) {
			t.Errorf("owner token lacks %s", p)
		}
	}
	if !strings.HasPrefix(e.admin, "lsk_") || len(e.admin) != domain.TokenSecretLen {
		t.Errorf("secret %q has not the lsk_ format", e.admin[:8])
	}
	other := domain.FormatTokenSecret([32]byte{1, 2, 3})
	for _, bad := range []string{"", "lsk_", "Bearer " + e.admin, e.admin[:len(e.admin)-1] + "x", other} {
		if _, err := e.c.Auth.Authenticate(e.ctx, bad); !errors.Is(err, commands.ErrUnauthenticated) {
			t.Errorf("Authenticate(%.10q…) = %v, want ErrUnauthenticated", bad, err)
		}
	}
	if _, err := e.q.Account(e.ctx, e.account.ID); err != nil {
		t.Errorf("Account: %v", err)
	}
	if _, err := e.c.CreateAccount.Handle(e.ctx, commands.CreateAccount{Name: " "}); err == nil {
		t.Error("an account with a blank name was created")
	}
}

func TestTokenSecretsAreNeverStoredInPlainText(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.partner()
	rot, err := e.c.RotateToken.Handle(e.ctx, commands.RotateToken{AccountID: e.account.ID, TokenID: p.token.ID,
		Idem: &commands.Idempotency{TokenID: "t", Key: "rotate-1", Fingerprint: []byte("x")}})
	if err != nil {
		t.Fatalf("RotateToken: %v", err)
	}
	secrets := []string{e.admin, p.secret, rot.Secret}
	for _, q := range []string{
		`SELECT coalesce(string_agg(data::text || metadata::text, ' '), '') FROM events`,
		`SELECT coalesce(string_agg(row_to_json(t)::text, ' '), '') FROM tokens t`,
		`SELECT coalesce(string_agg(row_to_json(k)::text, ' '), '') FROM idempotency_keys k`,
		`SELECT coalesce(string_agg(encode(secret_sealed, 'escape'), ' '), '') FROM tokens`,
	} {
		var dump string
		if err := e.pool.QueryRow(e.ctx, q).Scan(&dump); err != nil {
			t.Fatal(err)
		}
		if dump == "" {
			t.Fatalf("%s: nothing to check", q)
		}
		for _, s := range secrets {
			body := strings.TrimPrefix(s, "lsk_")
			if strings.Contains(dump, body) || strings.Contains(dump, body[:20]) {
				t.Errorf("%s holds a token secret", q)
			}
		}
	}
	var hashes int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM tokens WHERE secret_hash = sha256(convert_to($1, 'UTF8'))`, rot.Secret).Scan(&hashes); err != nil {
		t.Fatal(err)
	}
	if hashes != 1 {
		t.Errorf("the token row holds no SHA-256 of its secret")
	}
}

func TestRevealRotateAndRevoke(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.partner()

	shown, err := e.c.RevealToken.Handle(e.ctx, commands.RevealToken{AccountID: e.account.ID, TokenID: p.token.ID})
	if err != nil || shown.Secret != p.secret {
		t.Fatalf("RevealToken = %q, %v; want the created secret", shown.Secret, err)
	}
	recs, _ := e.store.ReadStream(e.ctx, domain.TokenStream(p.token.ID), eventstore.ReadOptions{})
	if last := recs[len(recs)-1].Type; last != "token.revealed" {
		t.Errorf("reveal recorded %s, want token.revealed", last)
	}

	rot, err := e.c.RotateToken.Handle(e.ctx, commands.RotateToken{AccountID: e.account.ID, TokenID: p.token.ID, Grace: time.Hour})
	if err != nil {
		t.Fatalf("RotateToken: %v", err)
	}
	if rot.Secret == p.secret || rot.Token.SecretLast4 != domain.SecretLast4(rot.Secret) {
		t.Fatalf("rotation gave %q (last4 %q)", rot.Secret[:8], rot.Token.SecretLast4)
	}
	for _, s := range []string{p.secret, rot.Secret} {
		if _, err := e.c.Auth.Authenticate(e.ctx, s); err != nil {
			t.Errorf("within the grace period: %v", err)
		}
	}
	if shown, _ := e.c.RevealToken.Handle(e.ctx, commands.RevealToken{AccountID: e.account.ID, TokenID: p.token.ID}); shown.Secret != rot.Secret {
		t.Errorf("Show after rotation gave the old secret")
	}
	e.clock.advance(time.Hour + time.Second)
	if _, err := e.c.Auth.Authenticate(e.ctx, p.secret); !errors.Is(err, commands.ErrUnauthenticated) {
		t.Errorf("old secret after the grace period: %v", err)
	}
	if _, err := e.c.Auth.Authenticate(e.ctx, rot.Secret); err != nil {
		t.Errorf("new secret: %v", err)
	}
	e.unchanged(func() {
		_, err := e.c.RotateToken.Handle(e.ctx, commands.RotateToken{AccountID: e.account.ID, TokenID: p.token.ID, Grace: 8 * 24 * time.Hour})
		wantValidation(t, err, "grace_period", domain.CodeInvalidValue)
	})

	rev, err := e.c.RevokeToken.Handle(e.ctx, commands.RevokeToken{AccountID: e.account.ID, TokenID: p.token.ID})
	if err != nil || rev.Token.RevokedAt == nil {
		t.Fatalf("RevokeToken = %+v, %v", rev.Token, err)
	}
	if _, err := e.c.Auth.Authenticate(e.ctx, rot.Secret); !errors.Is(err, commands.ErrUnauthenticated) {
		t.Errorf("revoked token authenticates: %v", err)
	}
	var sealed, hash []byte
	if err := e.pool.QueryRow(e.ctx, `SELECT secret_sealed, secret_hash FROM tokens WHERE id = $1`, p.token.ID).Scan(&sealed, &hash); err != nil {
		t.Fatal(err)
	}
	if sealed != nil || hash != nil {
		t.Errorf("revoking kept the secret: sealed %d bytes, hash %d bytes", len(sealed), len(hash))
	}
	if _, err := e.c.RevealToken.Handle(e.ctx, commands.RevealToken{AccountID: e.account.ID, TokenID: p.token.ID}); !errors.Is(err, domain.ErrTokenRevoked) {
		t.Errorf("Show of a revoked token: %v", err)
	}
	e.unchanged(func() {
		if _, err := e.c.RevokeToken.Handle(e.ctx, commands.RevokeToken{AccountID: e.account.ID, TokenID: p.token.ID}); err != nil {
			t.Errorf("revoking twice: %v", err)
		}
		if _, err := e.c.RotateToken.Handle(e.ctx, commands.RotateToken{AccountID: e.account.ID, TokenID: p.token.ID}); !errors.Is(err, domain.ErrTokenRevoked) {
			t.Errorf("rotating a revoked token: %v", err)
		}
	})
}

func TestTokenExpiryAndUpdates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.partner()
	exp := e.clock.now().Add(time.Hour)
	tok, err := e.c.CreateToken.Handle(e.ctx, commands.CreateToken{AccountID: e.account.ID, Name: "Reporting", ExpiresAt: &exp,
		Permissions: []domain.Permission{domain.PermRead}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Auth.Authenticate(e.ctx, tok.Secret); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	e.clock.advance(2 * time.Hour)
	if _, err := e.c.Auth.Authenticate(e.ctx, tok.Secret); !errors.Is(err, commands.ErrTokenExpired) {
		t.Fatalf("after expiry: %v, want ErrTokenExpired", err)
	}

	readOnly := []domain.Permission{domain.PermRead}
	up, err := e.c.UpdateToken.Handle(e.ctx, commands.UpdateToken{AccountID: e.account.ID, TokenID: p.token.ID, Permissions: readOnly})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := e.c.Auth.Authenticate(e.ctx, p.secret)
	if err != nil || auth.Can(domain.PermWrite) || !auth.Can(domain.PermRead) || up.Token.Version != auth.Version {
		t.Fatalf("after dropping write: %+v, %v", auth.Permissions, err)
	}
	e.unchanged(func() {
		if _, err := e.c.UpdateToken.Handle(e.ctx, commands.UpdateToken{AccountID: e.account.ID, TokenID: p.token.ID, Permissions: readOnly}); err != nil {
			t.Errorf("a no-op update: %v", err)
		}
		_, err := e.c.UpdateToken.Handle(e.ctx, commands.UpdateToken{AccountID: e.account.ID, TokenID: p.token.ID,
			Permissions: []domain.Permission{domain.PermAdmin}})
		wantValidation(t, err, "permissions", domain.CodeInvalidValue)
		_, err = e.c.CreateToken.Handle(e.ctx, commands.CreateToken{AccountID: e.account.ID, Name: "No filter campaign",
			FilterID: &p.filter.ID, Permissions: readOnly})
		wantValidation(t, err, "filter_id", domain.CodeInvalidValue)
		_, err = e.c.UpdateToken.Handle(e.ctx, commands.UpdateToken{AccountID: e.account.ID, TokenID: p.token.ID, IfVersion: 1, Name: ptr("x")})
		if !errors.Is(err, commands.ErrPreconditionFailed) {
			t.Errorf("stale If-Match: %v", err)
		}
	})
	// Another account sees none of this.
	other := newEnv(t)
	if _, err := other.q.Token(e.ctx, other.account.ID, p.token.ID); !errors.Is(err, domain.ErrTokenNotFound) {
		t.Errorf("another account read the token: %v", err)
	}
	if _, err := e.c.UpdateToken.Handle(e.ctx, commands.UpdateToken{AccountID: uuid.New(), TokenID: p.token.ID, Name: ptr("x")}); !errors.Is(err, domain.ErrTokenNotFound) {
		t.Errorf("another account updated the token: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestCampaignSchemaChangesAreVisibleAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.partner()
	_, err := e.c.ChangeCampaign.Handle(e.ctx, commands.ChangeCampaign{AccountID: e.account.ID, CampaignID: p.campaign.ID,
		AddOption: &commands.SelectOption{Select: "source", Option: domain.Option{Value: "partner-xyz", Label: "Partner XYZ"}}})
	if err != nil {
		t.Fatal(err)
	}
	camp, err := e.q.Campaign(e.ctx, e.account.ID, p.campaign.ID)
	if err != nil || !camp.Schema.HasOption("source", "partner-xyz") {
		t.Fatalf("the schema view lacks the new option: %v", err)
	}
	e.unchanged(func() {
		_, err := e.c.ChangeCampaign.Handle(e.ctx, commands.ChangeCampaign{AccountID: e.account.ID, CampaignID: p.campaign.ID,
			AddOption: &commands.SelectOption{Select: "source", Option: domain.Option{Value: "partner-xyz", Label: "Again"}}})
		var v *domain.ValidationError
		if !errors.As(err, &v) {
			t.Errorf("a duplicate option: %v", err)
		}
		_, err = e.c.ChangeCampaign.Handle(e.ctx, commands.ChangeCampaign{AccountID: uuid.New(), CampaignID: p.campaign.ID, Rename: ptr("Stolen")})
		if !errors.Is(err, domain.ErrCampaignNotFound) {
			t.Errorf("another account renamed the campaign: %v", err)
		}
	})
	for _, change := range []commands.ChangeCampaign{
		{AddField: &domain.Field{Key: "partner_ref", Label: "Partner ref", Type: domain.TypeText}},
		{AddStatus: &domain.Status{Slug: "callback", Label: "Call back"}},
		{AddSelect: &domain.Select{Key: "product", Label: "Product", Options: []domain.Option{{Value: "pv", Label: "PV"}}}},
		{Rename: ptr("Solar 2026")},
	} {
		change.AccountID, change.CampaignID = e.account.ID, p.campaign.ID
		if _, err := e.c.ChangeCampaign.Handle(e.ctx, change); err != nil {
			t.Fatalf("%+v: %v", change, err)
		}
	}
	camp, _ = e.q.Campaign(e.ctx, e.account.ID, p.campaign.ID)
	if _, ok := camp.Schema.Field("partner_ref"); !ok || !camp.Schema.HasStatus("callback") || camp.Name != "Solar 2026" || len(camp.Schema.Selects) != 2 {
		t.Fatalf("schema view after changes: %+v", camp)
	}
	lead, err := e.c.CreateLead.Handle(e.ctx, commands.CreateLead{AccountID: e.account.ID, CampaignID: p.campaign.ID, Status: "callback",
		Fields: map[string]any{"name": "Zed", "partner_ref": "Z-1", "source": "partner-xyz"}})
	if err != nil || lead.Lead.Status != "callback" {
		t.Fatalf("a lead using the new schema: %v", err)
	}
}

// TestCampaignChangesWithOneIfMatchHaveOneWinner: N writers naming the
// same campaign version, exactly one lands; the others are
// ErrPreconditionFailed, also those that read the campaign before the
// winner appended.
func TestCampaignChangesWithOneIfMatchHaveOneWinner(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.partner()
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = e.c.ChangeCampaign.Handle(e.ctx, commands.ChangeCampaign{AccountID: e.account.ID, CampaignID: p.campaign.ID,
				IfMatch: p.campaign.Version, Rename: ptr(fmt.Sprintf("Writer %d", i))})
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, commands.ErrPreconditionFailed):
			t.Fatalf("a losing writer: %v, want ErrPreconditionFailed", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d writers won, want 1", won)
	}
	camp, err := e.q.Campaign(e.ctx, e.account.ID, p.campaign.ID)
	if err != nil || camp.Version != p.campaign.Version+1 {
		t.Fatalf("campaign version %d, want %d: %v", camp.Version, p.campaign.Version+1, err)
	}
	// A missing campaign is not found whatever If-Match says.
	_, err = e.c.ChangeCampaign.Handle(e.ctx, commands.ChangeCampaign{AccountID: e.account.ID, CampaignID: uuid.New(), IfMatch: 1, Rename: ptr("x")})
	if !errors.Is(err, domain.ErrCampaignNotFound) {
		t.Fatalf("a missing campaign with If-Match: %v", err)
	}
}

func TestFilterLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.partner()
	e.unchanged(func() {
		_, err := e.c.CreateFilter.Handle(e.ctx, commands.CreateFilter{AccountID: e.account.ID, CampaignID: p.campaign.ID, Name: "Bad",
			Conditions: []domain.Condition{{Field: "colour", Op: domain.OpEq, Value: "red"}}})
		var v *domain.ValidationError
		if !errors.As(err, &v) {
			t.Errorf("a condition on an unknown field: %v", err)
		}
		_, err = e.c.CreateFilter.Handle(e.ctx, commands.CreateFilter{AccountID: e.account.ID, CampaignID: p.campaign.ID, Name: "Bad",
			Conditions: []domain.Condition{{Field: "source", Op: domain.OpEq, Value: "partner-nope"}}})
		if !errors.As(err, &v) {
			t.Errorf("a condition on an unknown option: %v", err)
		}
		_, err = e.c.CreateFilter.Handle(e.ctx, commands.CreateFilter{AccountID: uuid.New(), CampaignID: p.campaign.ID, Name: "X"})
		if !errors.Is(err, domain.ErrCampaignNotFound) {
			t.Errorf("a filter on another account's campaign: %v", err)
		}
	})
	up, err := e.c.UpdateFilter.Handle(e.ctx, commands.UpdateFilter{AccountID: e.account.ID, FilterID: p.filter.ID, Name: "Partner ABC, won",
		Conditions: []domain.Condition{{Field: "source", Op: domain.OpEq, Value: "partner-abc"}, {Field: "status", Op: domain.OpEq, Value: "won"}}})
	if err != nil || len(up.Filter.Conditions) != 2 || up.Filter.Version != 2 {
		t.Fatalf("UpdateFilter = %+v, %v", up.Filter, err)
	}
	view, err := e.q.Filter(e.ctx, e.account.ID, p.filter.ID)
	if err != nil || len(view.Conditions) != 2 {
		t.Fatalf("the filters view after update: %+v, %v", view, err)
	}
	e.unchanged(func() {
		_, err := e.c.UpdateFilter.Handle(e.ctx, commands.UpdateFilter{AccountID: e.account.ID, FilterID: p.filter.ID, IfVersion: 1, Name: "x",
			Conditions: view.Conditions})
		if !errors.Is(err, commands.ErrPreconditionFailed) {
			t.Errorf("stale If-Match: %v", err)
		}
	})
	if _, err := e.c.UpdateFilter.Handle(e.ctx, commands.UpdateFilter{AccountID: e.account.ID, FilterID: p.filter.ID, Delete: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.q.Filter(e.ctx, e.account.ID, p.filter.ID); !errors.Is(err, domain.ErrFilterNotFound) {
		t.Errorf("a deleted filter is still served: %v", err)
	}
	e.unchanged(func() {
		_, err := e.c.CreateToken.Handle(e.ctx, commands.CreateToken{AccountID: e.account.ID, CampaignID: &p.campaign.ID, FilterID: &p.filter.ID,
			Name: "Late", Permissions: []domain.Permission{domain.PermRead}})
		wantValidation(t, err, "filter_id", domain.CodeInvalidValue)
		// The token whose filter was deleted writes nothing.
		_, err = e.c.CreateLead.Handle(e.ctx, commands.CreateLead{AccountID: e.account.ID, CampaignID: p.campaign.ID, Scope: p.scope(),
			Fields: map[string]any{"name": "Orphan", "source": "partner-abc"}})
		var se *domain.ScopeError
		if !errors.As(err, &se) {
			t.Errorf("a write through a deleted filter: %v", err)
		}
	})
	// A filter of another campaign cannot scope a token.
	other, err := e.c.CreateCampaign.Handle(e.ctx, commands.CreateCampaign{AccountID: e.account.ID, Name: "Wind", Schema: partnerSchema()})
	if err != nil {
		t.Fatal(err)
	}
	f2, err := e.c.CreateFilter.Handle(e.ctx, commands.CreateFilter{AccountID: e.account.ID, CampaignID: other.Campaign.ID, Name: "Web",
		Conditions: []domain.Condition{{Field: "source", Op: domain.OpEq, Value: "website"}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.c.CreateToken.Handle(e.ctx, commands.CreateToken{AccountID: e.account.ID, CampaignID: &p.campaign.ID, FilterID: &f2.Filter.ID,
		Name: "Crossed", Permissions: []domain.Permission{domain.PermRead}})
	wantValidation(t, err, "filter_id", domain.CodeInvalidValue)
}

// TestAuthenticateScopedReadsTheScopeAhead checks that the scope read
// with the token is the filter and campaign as they are now: a changed
// filter on the very next authentication, a deleted one as "sees
// nothing", and writes through it judged exactly as through ScopeOf.
func TestAuthenticateScopedReadsTheScopeAhead(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.partner()
	auth := func() (commands.TokenInfo, *commands.Scope) {
		t.Helper()
		tok, sc, err := e.c.Auth.AuthenticateScoped(e.ctx, p.secret)
		if err != nil {
			t.Fatalf("AuthenticateScoped: %v", err)
		}
		return tok, sc
	}
	tok, sc := auth()
	f, camp, ok := sc.Prefetched()
	if tok.ID != p.token.ID || !ok || f == nil || f.ID != p.filter.ID || camp == nil || camp.ID != p.campaign.ID {
		t.Fatalf("AuthenticateScoped = %s, filter %+v, campaign %+v, %v; want the partner's token, filter and campaign", tok.ID, f, camp, ok)
	}
	if _, err := e.c.CreateLead.Handle(e.ctx, commands.CreateLead{AccountID: e.account.ID, CampaignID: p.campaign.ID, Scope: sc,
		Fields: map[string]any{"name": "Ann"}}); err != nil {
		t.Fatalf("a create through the read-ahead scope: %v", err)
	}

	if _, err := e.c.UpdateFilter.Handle(e.ctx, commands.UpdateFilter{AccountID: e.account.ID, FilterID: p.filter.ID, Name: "won only",
		Conditions: []domain.Condition{{Field: "source", Op: domain.OpEq, Value: "partner-abc"}, {Field: "status", Op: domain.OpEq, Value: "won"}}}); err != nil {
		t.Fatal(err)
	}
	_, sc = auth()
	if f, _, _ := sc.Prefetched(); f == nil || len(f.Conditions) != 2 {
		t.Fatalf("filter read after an update = %+v, want its two conditions", f)
	}
	e.unchanged(func() {
		// A status outside the updated filter is one the token cannot name.
		_, err := e.c.CreateLead.Handle(e.ctx, commands.CreateLead{AccountID: e.account.ID, CampaignID: p.campaign.ID, Scope: sc,
			Status: "new", Fields: map[string]any{"name": "Bob"}})
		wantValidation(t, err, "status", domain.CodeUnknownStatus)
	})

	if _, err := e.c.UpdateFilter.Handle(e.ctx, commands.UpdateFilter{AccountID: e.account.ID, FilterID: p.filter.ID, Delete: true}); err != nil {
		t.Fatal(err)
	}
	_, sc = auth()
	if f, c, ok := sc.Prefetched(); !ok || f != nil || c == nil {
		t.Fatalf("after the filter's deletion: filter %+v, campaign %+v, %v; want no filter, the campaign, read ahead", f, c, ok)
	}
	e.unchanged(func() {
		_, err := e.c.CreateLead.Handle(e.ctx, commands.CreateLead{AccountID: e.account.ID, CampaignID: p.campaign.ID, Scope: sc,
			Fields: map[string]any{"name": "Orphan", "source": "partner-abc"}})
		var se *domain.ScopeError
		if !errors.As(err, &se) {
			t.Errorf("a write through a deleted filter: %v", err)
		}
	})

	if _, err := e.c.RevokeToken.Handle(e.ctx, commands.RevokeToken{AccountID: e.account.ID, TokenID: p.token.ID}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.c.Auth.AuthenticateScoped(e.ctx, p.secret); !errors.Is(err, commands.ErrUnauthenticated) {
		t.Fatalf("AuthenticateScoped after revocation: %v, want ErrUnauthenticated", err)
	}
	admin, sc, err := e.c.Auth.AuthenticateScoped(e.ctx, e.admin)
	if err != nil || sc != nil || admin.CampaignID != nil {
		t.Fatalf("AuthenticateScoped with the account token = %+v, scope %+v, %v; want no scope", admin, sc, err)
	}
}

// TestAuthenticationSeesSchemaChangesAtOnce: the decoded schema a token's
// scope carries is kept between requests, yet a new select option is in
// the very next authentication's campaign, and the schema handed out
// before the change stays as it was.
func TestAuthenticationSeesSchemaChangesAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.partner()
	campaign := func() domain.Campaign {
		t.Helper()
		_, sc, err := e.c.Auth.AuthenticateScoped(e.ctx, p.secret)
		if err != nil {
			t.Fatalf("AuthenticateScoped: %v", err)
		}
		_, camp, ok := sc.Prefetched()
		if !ok || camp == nil {
			t.Fatal("no campaign read with the token")
		}
		return *camp
	}
	first, second := campaign(), campaign()
	if first.Version != second.Version || len(first.Schema.Selects) != len(second.Schema.Selects) {
		t.Fatalf("two authentications of an unchanged campaign differ: %+v, %+v", first, second)
	}
	if first.Schema.HasOption("source", "partner-xyz") {
		t.Fatal("the option is there before it was added")
	}
	if _, err := e.c.ChangeCampaign.Handle(e.ctx, commands.ChangeCampaign{AccountID: e.account.ID, CampaignID: p.campaign.ID,
		AddOption: &commands.SelectOption{Select: "source", Option: domain.Option{Value: "partner-xyz", Label: "Partner XYZ"}}}); err != nil {
		t.Fatal(err)
	}
	after := campaign()
	if !after.Schema.HasOption("source", "partner-xyz") || after.Version != first.Version+1 {
		t.Fatalf("the next authentication's campaign (version %d) lacks the option added after version %d", after.Version, first.Version)
	}
	if first.Schema.HasOption("source", "partner-xyz") {
		t.Fatal("the schema handed out before the change changed with it")
	}
}

func TestScopedLeadWritesStayInsideTheFilter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.partner()
	scope := p.scope()

	created, err := e.c.CreateLead.Handle(e.ctx, commands.CreateLead{AccountID: e.account.ID, CampaignID: p.campaign.ID, Scope: scope,
		Fields: map[string]any{"name": "Ada"}})
	if err != nil {
		t.Fatalf("a partner's lead without source: %v", err)
	}
	if created.Lead.Fields["source"] != "partner-abc" || len(created.Defaulted) != 1 || created.Lead.Status != "new" {
		t.Fatalf("filter defaults not applied: %+v %v", created.Lead.Fields, created.Defaulted)
	}
	website := e.lead(p.campaign.ID, map[string]any{"name": "Web", "source": "website"})

	e.unchanged(func() {
		// A value outside the filter is refused as unknown, naming only
		// the options inside it.
		_, err := e.c.CreateLead.Handle(e.ctx, commands.CreateLead{AccountID: e.account.ID, CampaignID: p.campaign.ID, Scope: scope,
			Fields: map[string]any{"name": "Sneaky", "source": "website"}})
		wantValidation(t, err, "fields.source", domain.CodeUnknownOption)
		if msg := err.Error(); !strings.HasSuffix(msg, `(partner-abc)`) {
			t.Errorf("the refusal names options outside the filter: %s", msg)
		}
		_, err = e.c.UpdateLead.Handle(e.ctx, commands.UpdateLead{AccountID: e.account.ID, LeadID: created.Lead.ID, Scope: scope,
			Fields: map[string]any{"source": "website"}})
		wantValidation(t, err, "fields.source", domain.CodeUnknownOption)
		// A lead the filter would not let through names the condition.
		_, err = e.c.CreateLead.Handle(e.ctx, commands.CreateLead{AccountID: e.account.ID, CampaignID: p.campaign.ID, Scope: scope,
			Fields: map[string]any{"name": "Sneaky", "source": nil}})
		var se *domain.ScopeError
		if !errors.As(err, &se) || se.Condition.Field != "source" || !strings.Contains(se.Error(), "Partner ABC") {
			t.Errorf("a lead outside the filter: %v", err)
		}
		_, err = e.c.UpdateLead.Handle(e.ctx, commands.UpdateLead{AccountID: e.account.ID, LeadID: created.Lead.ID, Scope: scope,
			Fields: map[string]any{"source": nil}})
		if !errors.As(err, &se) {
			t.Errorf("moving a lead out of the filter: %v", err)
		}
		// Out of scope is not found, before any If-Match check.
		_, err = e.c.UpdateLead.Handle(e.ctx, commands.UpdateLead{AccountID: e.account.ID, LeadID: website.ID, Scope: scope, IfVersion: 9,
			Fields: map[string]any{"budget": 1}})
		if !errors.Is(err, domain.ErrLeadNotFound) {
			t.Errorf("updating a lead outside the filter: %v", err)
		}
		_, err = e.c.UpdateLead.Handle(e.ctx, commands.UpdateLead{AccountID: e.account.ID, LeadID: created.Lead.ID, Scope: scope, IfVersion: 9,
			Fields: map[string]any{"budget": 1}})
		if !errors.Is(err, commands.ErrPreconditionFailed) {
			t.Errorf("a stale If-Match: %v", err)
		}
		_, err = e.c.UpdateLead.Handle(e.ctx, commands.UpdateLead{AccountID: e.account.ID, LeadID: created.Lead.ID, Scope: scope,
			Fields: map[string]any{"budget": "lots", "colour": "red"}, Status: "gone"})
		wantValidation(t, err, "fields.budget", domain.CodeWrongType)
		wantValidation(t, err, "fields.colour", domain.CodeUnknownField)
		wantValidation(t, err, "status", domain.CodeUnknownStatus)
		_, err = e.c.CreateLead.Handle(e.ctx, commands.CreateLead{AccountID: e.account.ID, CampaignID: uuid.New(), Scope: scope,
			Fields: map[string]any{"name": "Elsewhere"}})
		wantValidation(t, err, "campaign_id", domain.CodeInvalidValue)
	})
	if _, err := commands.GetLead(e.ctx, e.c, e.account.ID, website.ID, scope); !errors.Is(err, domain.ErrLeadNotFound) {
		t.Errorf("the partner read a lead outside its filter: %v", err)
	}
	if _, err := commands.GetLead(e.ctx, e.c, uuid.New(), created.Lead.ID, nil); !errors.Is(err, domain.ErrLeadNotFound) {
		t.Errorf("another account read the lead: %v", err)
	}
	if l, err := commands.GetLead(e.ctx, e.c, e.account.ID, website.ID, nil); err != nil || l.ID != website.ID {
		t.Errorf("the account-level read: %v", err)
	}
	up, err := e.c.UpdateLead.Handle(e.ctx, commands.UpdateLead{AccountID: e.account.ID, LeadID: created.Lead.ID, Scope: scope, IfVersion: 1,
		Status: "won", Fields: map[string]any{"budget": 12000, "email": "ADA@Example.com"}})
	if err != nil {
		t.Fatalf("an in-scope update: %v", err)
	}
	if up.Lead.Version != 2 || up.Lead.Status != "won" || up.Lead.Fields["budget"] == nil {
		t.Fatalf("after update: %+v", up.Lead)
	}
	got, err := commands.GetLead(e.ctx, e.c, e.account.ID, created.Lead.ID, scope)
	if err != nil || got.Version != 2 || got.Status != "won" {
		t.Fatalf("GetLead after update: %+v, %v", got, err)
	}
	// An admin (account-level) may move the lead out; then the partner loses it.
	if _, err := e.c.UpdateLead.Handle(e.ctx, commands.UpdateLead{AccountID: e.account.ID, LeadID: created.Lead.ID,
		Fields: map[string]any{"source": "website"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := commands.GetLead(e.ctx, e.c, e.account.ID, created.Lead.ID, scope); !errors.Is(err, domain.ErrLeadNotFound) {
		t.Errorf("the partner still sees a lead moved out of its filter: %v", err)
	}
}

// TestScopedErrorsNameNoOptionOutsideTheFilter: an unknown option sent
// through a filtered token is refused with the options its leads can
// hold, never the campaign's others (DESIGN: errors a scoped token can
// cause never name values outside its scope); an account-level token
// still reads them all.
func TestScopedErrorsNameNoOptionOutsideTheFilter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.partner()
	created := e.lead(p.campaign.ID, map[string]any{"name": "Ada", "source": "partner-abc"})
	message := func(err error) string {
		t.Helper()
		wantValidation(t, err, "fields.source", domain.CodeUnknownOption)
		var v *domain.ValidationError
		errors.As(err, &v)
		return v.Errors[0].Message
	}
	e.unchanged(func() {
		_, err := e.c.CreateLead.Handle(e.ctx, commands.CreateLead{AccountID: e.account.ID, CampaignID: p.campaign.ID, Scope: p.scope(),
			Fields: map[string]any{"name": "Bob", "source": "nope"}})
		onCreate := message(err)
		_, err = e.c.UpdateLead.Handle(e.ctx, commands.UpdateLead{AccountID: e.account.ID, LeadID: created.ID, Scope: p.scope(),
			Fields: map[string]any{"source": "nope"}})
		onUpdate := message(err)
		for _, msg := range []string{onCreate, onUpdate} {
			if strings.Contains(msg, "website") || !strings.Contains(msg, "(partner-abc)") {
				t.Errorf("a partner's error %q names options outside its filter, or not its own", msg)
			}
		}
		_, err = e.c.CreateLead.Handle(e.ctx, commands.CreateLead{AccountID: e.account.ID, CampaignID: p.campaign.ID,
			Fields: map[string]any{"name": "Bob", "source": "nope"}})
		if msg := message(err); !strings.Contains(msg, "website, partner-abc") {
			t.Errorf("the account-level error %q does not list the campaign's options", msg)
		}
	})
}

func TestConcurrentLeadUpdatesAllLand(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.partner()
	l := e.lead(p.campaign.ID, map[string]any{"name": "Busy", "source": "partner-abc"})
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.c.UpdateLead.Handle(e.ctx, commands.UpdateLead{AccountID: e.account.ID, LeadID: l.ID, Scope: p.scope(),
				Fields: map[string]any{"budget": i + 1}})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	var conflicts int
	for err := range errs {
		if errors.Is(err, commands.ErrConflict) {
			conflicts++ // allowed after the bounded retries
		} else if err != nil {
			t.Fatal(err)
		}
	}
	got, _ := commands.GetLead(e.ctx, e.c, e.account.ID, l.ID, nil)
	if got.Version < 2 || int(got.Version) > 1+writers-conflicts {
		t.Fatalf("version %d after %d writers (%d gave up)", got.Version, writers, conflicts)
	}
	if conflicts > writers/2 {
		t.Errorf("%d of %d concurrent updates gave up; retries are not working", conflicts, writers)
	}
}

func TestIdempotencyKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.partner()
	key := func(k, body string) *commands.Idempotency {
		return &commands.Idempotency{TokenID: p.token.ID.String(), Key: k, Fingerprint: commands.Fingerprint([]byte("POST /v1/leads"), []byte(body))}
	}
	create := func(idem *commands.Idempotency, name string) (commands.LeadResult, error) {
		return e.c.CreateLead.Handle(e.ctx, commands.CreateLead{AccountID: e.account.ID, CampaignID: p.campaign.ID, Scope: p.scope(),
			Fields: map[string]any{"name": name}, Idem: idem})
	}

	t.Run("same key, same request: same result, one write", func(t *testing.T) {
		first, err := create(key("k1", "Ada"), "Ada")
		if err != nil {
			t.Fatal(err)
		}
		before := e.count()
		again, err := create(key("k1", "Ada"), "Ada")
		if err != nil || again.Lead.ID != first.Lead.ID || again.Position != first.Position {
			t.Fatalf("replay = %v (%v), want lead %v", again.Lead.ID, err, first.Lead.ID)
		}
		if e.count() != before {
			t.Fatal("the replay wrote events")
		}
	})
	t.Run("same key, different request: refused", func(t *testing.T) {
		e.unchanged(func() {
			if _, err := create(key("k1", "Bob"), "Bob"); !errors.Is(err, commands.ErrIdempotencyKeyReused) {
				t.Fatalf("got %v, want ErrIdempotencyKeyReused", err)
			}
		})
	})
	t.Run("keys are per token", func(t *testing.T) {
		other := key("k1", "Ada")
		other.TokenID = "another-token"
		res, err := create(other, "Ada")
		if err != nil {
			t.Fatal(err)
		}
		if first, _ := create(key("k1", "Ada"), "Ada"); first.Lead.ID == res.Lead.ID {
			t.Fatal("two tokens share a key")
		}
	})
	t.Run("a failed request is not kept", func(t *testing.T) {
		e.unchanged(func() {
			_, err := e.c.CreateLead.Handle(e.ctx, commands.CreateLead{AccountID: e.account.ID, CampaignID: p.campaign.ID, Scope: p.scope(),
				Fields: map[string]any{"name": 42}, Idem: key("k2", "bad")})
			wantValidation(t, err, "fields.name", domain.CodeWrongType)
		})
		if _, err := create(key("k2", "fixed"), "Fixed"); err != nil {
			t.Fatalf("the fixed retry under the same key: %v", err)
		}
	})
	t.Run("concurrent requests with one key write once", func(t *testing.T) {
		before := e.count()
		const n = 12
		ids := make(chan uuid.UUID, n)
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := create(key("k3", "Eve"), "Eve")
				switch {
				case err == nil:
					ids <- res.Lead.ID
				case !errors.Is(err, commands.ErrIdempotencyInProgress):
					t.Errorf("concurrent request: %v", err)
				}
			}()
		}
		wg.Wait()
		close(ids)
		var first uuid.UUID
		for id := range ids {
			if first == uuid.Nil {
				first = id
			} else if id != first {
				t.Fatalf("two leads %v and %v for one key", first, id)
			}
		}
		if first == uuid.Nil {
			t.Fatal("no request succeeded")
		}
		if got := e.count() - before; got != 1 {
			t.Fatalf("%d events for one key, want 1", got)
		}
	})
	t.Run("a token create replays its secret", func(t *testing.T) {
		idem := &commands.Idempotency{TokenID: "admin", Key: "tok", Fingerprint: []byte("same")}
		cmd := commands.CreateToken{AccountID: e.account.ID, Name: "Idem", Permissions: []domain.Permission{domain.PermRead}, Idem: idem}
		a, err := e.c.CreateToken.Handle(e.ctx, cmd)
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.c.CreateToken.Handle(e.ctx, cmd)
		if err != nil || b.Secret != a.Secret || b.Token.ID != a.Token.ID {
			t.Fatalf("replayed token %v (%v), want %v with the same secret", b.Token.ID, err, a.Token.ID)
		}
	})
}

func TestFilesAndRelations(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.partner()
	l := e.lead(p.campaign.ID, map[string]any{"name": "Files", "source": "partner-abc"})
	content := []byte("%PDF-1.7 quote")
	att, err := e.c.AttachFile.Handle(e.ctx, commands.AttachFile{AccountID: e.account.ID, LeadID: l.ID, Scope: p.scope(),
		Name: "quote.pdf", ContentType: "application/pdf", Content: commands.BytesContent(content)})
	if err != nil {
		t.Fatal(err)
	}
	if att.File.Size != int64(len(content)) || len(att.File.SHA256) != 64 || len(att.Lead.Files) != 1 {
		t.Fatalf("AttachFile = %+v", att)
	}
	f, err := e.q.File(e.ctx, e.account.ID, l.ID, att.File.ID)
	if err != nil || f.Meta.ContentType != "application/pdf" {
		t.Fatalf("File = %+v, %v", f.Meta, err)
	}
	var got bytes.Buffer
	if err := e.q.WriteFile(e.ctx, &got, f); err != nil || got.String() != string(content) {
		t.Fatalf("WriteFile = %q, %v", got.String(), err)
	}
	if _, err := e.q.File(e.ctx, uuid.New(), l.ID, att.File.ID); !errors.Is(err, domain.ErrFileNotFound) {
		t.Errorf("another account read the file: %v", err)
	}
	var inLog int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM events WHERE data::text LIKE '%PDF-1.7%'`).Scan(&inLog); err != nil || inLog != 0 {
		t.Errorf("file bytes in the log (%d, %v)", inLog, err)
	}
	website := e.lead(p.campaign.ID, map[string]any{"name": "Web", "source": "website"})
	e.unchanged(func() {
		_, err := e.c.AttachFile.Handle(e.ctx, commands.AttachFile{AccountID: e.account.ID, LeadID: website.ID, Scope: p.scope(),
			Name: "x.txt", ContentType: "text/plain", Content: commands.BytesContent([]byte("x"))})
		if !errors.Is(err, domain.ErrLeadNotFound) {
			t.Errorf("a file on a lead outside the filter: %v", err)
		}
		if _, err := e.c.RemoveFile.Handle(e.ctx, commands.RemoveFile{AccountID: e.account.ID, LeadID: l.ID, FileID: uuid.New()}); !errors.Is(err, domain.ErrFileNotFound) {
			t.Errorf("removing a missing file: %v", err)
		}
	})
	rm, err := e.c.RemoveFile.Handle(e.ctx, commands.RemoveFile{AccountID: e.account.ID, LeadID: l.ID, FileID: att.File.ID, Scope: p.scope()})
	if err != nil || len(rm.Lead.Files) != 0 {
		t.Fatalf("RemoveFile = %+v, %v", rm.Lead.Files, err)
	}
	if _, err := e.q.File(e.ctx, e.account.ID, l.ID, att.File.ID); !errors.Is(err, domain.ErrFileNotFound) {
		t.Errorf("the bytes survived removal: %v", err)
	}

	// Relations: a field of the campaign pointing at its own leads.
	if _, err := e.c.ChangeCampaign.Handle(e.ctx, commands.ChangeCampaign{AccountID: e.account.ID, CampaignID: p.campaign.ID,
		AddField: &domain.Field{Key: "referred_by", Label: "Referred by", Type: domain.TypeRelation, Campaign: &p.campaign.ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.UpdateLead.Handle(e.ctx, commands.UpdateLead{AccountID: e.account.ID, LeadID: l.ID, Scope: p.scope(),
		Fields: map[string]any{"referred_by": l.ID.String()}}); err != nil {
		t.Errorf("a relation to a visible lead: %v", err)
	}
	e.unchanged(func() {
		for _, target := range []uuid.UUID{website.ID, uuid.New()} {
			_, err := e.c.UpdateLead.Handle(e.ctx, commands.UpdateLead{AccountID: e.account.ID, LeadID: l.ID, Scope: p.scope(),
				Fields: map[string]any{"referred_by": target.String()}})
			wantValidation(t, err, "fields.referred_by", domain.CodeInvalidValue)
		}
		_, err := e.c.ChangeCampaign.Handle(e.ctx, commands.ChangeCampaign{AccountID: e.account.ID, CampaignID: p.campaign.ID,
			AddField: &domain.Field{Key: "elsewhere", Label: "Elsewhere", Type: domain.TypeRelation, Campaign: ptr(uuid.New())}})
		var v *domain.ValidationError
		if !errors.As(err, &v) {
			t.Errorf("a relation to a campaign of no account: %v", err)
		}
	})
	// The account-level caller may relate any lead of the campaign.
	if _, err := e.c.UpdateLead.Handle(e.ctx, commands.UpdateLead{AccountID: e.account.ID, LeadID: website.ID,
		Fields: map[string]any{"referred_by": l.ID.String()}}); err != nil {
		t.Errorf("an admin relation: %v", err)
	}
}

// TestCreateLeadsWritesAllOrNothing: a partner's batch is decided item by
// item as single creates are (filter defaults, validation, the filter's
// write guard), written in one transaction, and any refused item refuses
// the whole batch, naming every refused item by its index.
func TestCreateLeadsWritesAllOrNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.partner()
	item := func(fields map[string]any) commands.NewLead {
		return commands.NewLead{CampaignID: p.campaign.ID, Fields: fields}
	}
	batch := func(s *commands.Scope, idem *commands.Idempotency, leads ...commands.NewLead) (commands.LeadsResult, error) {
		return e.c.CreateLeads.Handle(e.ctx, commands.CreateLeads{AccountID: e.account.ID, Scope: s, Leads: leads, Idem: idem})
	}

	before := e.count()
	res, err := batch(p.scope(), nil, item(map[string]any{"name": "Ada"}), item(map[string]any{"name": "Bob", "budget": 10}),
		commands.NewLead{CampaignID: p.campaign.ID, Status: "won", Fields: map[string]any{"name": "Cy", "source": "partner-abc"}})
	if err != nil {
		t.Fatalf("CreateLeads: %v", err)
	}
	if got := e.count() - before; got != 3 || len(res.Leads) != 3 {
		t.Fatalf("%d events and %d leads for a batch of 3", got, len(res.Leads))
	}
	var tx uint64
	for i, want := range []struct {
		name, status string
		defaulted    int
	}{{"Ada", "new", 1}, {"Bob", "new", 1}, {"Cy", "won", 0}} {
		l := res.Leads[i]
		if l.Lead.Fields["name"] != want.name || l.Lead.Status != want.status || l.Lead.Fields["source"] != "partner-abc" || len(l.Defaulted) != want.defaulted {
			t.Fatalf("lead %d = %+v, defaulted %v; want %s, %s, source filled in from the filter", i, l.Lead, l.Defaulted, want.name, want.status)
		}
		recs, err := e.store.ReadStream(e.ctx, domain.LeadStream(l.Lead.ID), eventstore.ReadOptions{})
		if err != nil || len(recs) != 1 || recs[0].Position > res.Position {
			t.Fatalf("lead %d's stream: %d records, %v; want one at or below the batch's position %d", i, len(recs), err, res.Position)
		}
		if i > 0 && recs[0].TxID != tx {
			t.Fatalf("lead %d written in transaction %d, lead 0 in %d: want one", i, recs[0].TxID, tx)
		}
		tx = recs[0].TxID
		if got, err := commands.GetLead(e.ctx, e.c, e.account.ID, l.Lead.ID, p.scope()); err != nil || got.ID != l.Lead.ID {
			t.Fatalf("the partner reads lead %d: %v", i, err)
		}
	}

	e.unchanged(func() {
		_, err := batch(p.scope(), nil, item(map[string]any{"name": "Ok"}), item(map[string]any{"name": "Bad", "budget": "lots"}),
			item(map[string]any{"name": "Out", "source": nil}), item(map[string]any{"name": "Ok too"}),
			commands.NewLead{CampaignID: uuid.New(), Fields: map[string]any{"name": "Elsewhere"}})
		var be *commands.BatchError
		if !errors.As(err, &be) || len(be.Items) != 3 {
			t.Fatalf("a batch with three bad items: %v", err)
		}
		if be.Items[0].Index != 1 || be.Items[1].Index != 2 || be.Items[2].Index != 4 {
			t.Fatalf("refused items %+v, want 1, 2 and 4", be.Items)
		}
		wantValidation(t, be.Items[0].Err, "fields.budget", domain.CodeWrongType)
		var se *domain.ScopeError
		if !errors.As(be.Items[1].Err, &se) || se.Condition.Field != "source" {
			t.Fatalf("item 2: %v, want the filter's source condition", be.Items[1].Err)
		}
		wantValidation(t, be.Items[2].Err, "campaign_id", domain.CodeInvalidValue)
		for _, n := range []int{0, commands.MaxBatchLeads + 1} {
			leads := make([]commands.NewLead, n)
			for i := range leads {
				leads[i] = item(map[string]any{"name": "x"})
			}
			_, err := batch(p.scope(), nil, leads...)
			wantValidation(t, err, "leads", domain.CodeInvalidValue)
		}
	})

	// An account-level token names each lead's campaign, and may name
	// several; a partner's token writes only to its own.
	other, err := e.c.CreateCampaign.Handle(e.ctx, commands.CreateCampaign{AccountID: e.account.ID, Name: "Wind", Schema: partnerSchema()})
	if err != nil {
		t.Fatal(err)
	}
	res, err = batch(nil, nil, item(map[string]any{"name": "Here", "source": "website"}),
		commands.NewLead{CampaignID: other.Campaign.ID, Fields: map[string]any{"name": "There"}})
	if err != nil || res.Leads[0].Lead.CampaignID != p.campaign.ID || res.Leads[1].Lead.CampaignID != other.Campaign.ID {
		t.Fatalf("an account-level batch over two campaigns: %+v, %v", res.Leads, err)
	}
	e.unchanged(func() {
		_, err := batch(p.scope(), nil, item(map[string]any{"name": "Mine"}),
			commands.NewLead{CampaignID: other.Campaign.ID, Fields: map[string]any{"name": "Not mine"}})
		var be *commands.BatchError
		if !errors.As(err, &be) || len(be.Items) != 1 || be.Items[0].Index != 1 {
			t.Fatalf("a partner's batch into another campaign: %v", err)
		}
		wantValidation(t, be.Items[0].Err, "campaign_id", domain.CodeInvalidValue)
	})

	// One key covers the whole batch: the replay is the stored result.
	key := &commands.Idempotency{TokenID: p.token.ID.String(), Key: "batch-1", Fingerprint: commands.Fingerprint([]byte("batch-1"))}
	first, err := batch(p.scope(), key, item(map[string]any{"name": "Dee"}), item(map[string]any{"name": "Eve"}))
	if err != nil {
		t.Fatal(err)
	}
	e.unchanged(func() {
		again, err := batch(p.scope(), key, item(map[string]any{"name": "Dee"}), item(map[string]any{"name": "Eve"}))
		if err != nil || !again.Replayed || again.Position != first.Position || len(again.Leads) != 2 ||
			again.Leads[0].Lead.ID != first.Leads[0].Lead.ID || again.Leads[1].Lead.ID != first.Leads[1].Lead.ID {
			t.Fatalf("replay = %+v, %v; want the first batch's leads", again, err)
		}
	})
}
