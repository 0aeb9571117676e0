package queries_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/views"
	"github.com/leadsvc/leadsvc/internal/testenv"
	"github.com/leadsvc/leadsvc/queries"
)

// TestQueriesReadWhatCommandsWrote writes through the commands and reads
// back through the queries: each row is found in its account and not
// found, exactly like a missing one, from another.
func TestQueriesReadWhatCommandsWrote(t *testing.T) {
	t.Parallel()
	testenv.Integration(t)
	url := testenv.Schema(t)
	ctx := context.Background()
	if err := eventstore.Migrate(ctx, url, nil); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	store := eventstore.New(testenv.Pool(t, url), domain.NewRegistry())
	t.Cleanup(store.Close)
	v := views.Of(store)
	c, err := commands.New(commands.Config{Store: store, Views: v, SecretKey: bytes.Repeat([]byte{7}, 32),
		Webhooks: commands.WebhookTargets{AllowPrivate: true}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	q := queries.New(queries.Config{Views: v, Clock: func() time.Time { return now }})

	acct, err := c.CreateAccount.Handle(ctx, commands.CreateAccount{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := c.CreateAccount.Handle(ctx, commands.CreateAccount{Name: "Other"})
	if err != nil {
		t.Fatal(err)
	}
	a := acct.Account.ID
	camp, err := c.CreateCampaign.Handle(ctx, commands.CreateCampaign{AccountID: a, Name: "Solar", Schema: domain.Schema{
		Fields:   []domain.Field{{Key: "name", Label: "Name", Type: domain.TypeText}},
		Statuses: []domain.Status{{Slug: "new", Label: "New"}}}})
	if err != nil {
		t.Fatal(err)
	}
	cid := camp.Campaign.ID
	f, err := c.CreateFilter.Handle(ctx, commands.CreateFilter{AccountID: a, CampaignID: cid, Name: "all", Match: domain.MatchAll})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.CreateToken.Handle(ctx, commands.CreateToken{AccountID: a, CampaignID: &cid, FilterID: &f.Filter.ID, Name: "p",
		Permissions: []domain.Permission{domain.PermRead}})
	if err != nil {
		t.Fatal(err)
	}
	hook, err := c.CreateWebhook.Handle(ctx, commands.CreateWebhook{AccountID: a, CampaignID: cid, URL: "https://127.0.0.1/hook"})
	if err != nil {
		t.Fatal(err)
	}
	lead, err := c.CreateLead.Handle(ctx, commands.CreateLead{AccountID: a, CampaignID: cid, Fields: map[string]any{"name": "A"}})
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("hello")
	file, err := c.AttachFile.Handle(ctx, commands.AttachFile{AccountID: a, LeadID: lead.Lead.ID, Name: "a.txt",
		ContentType: "text/plain", Content: commands.BytesContent(content)})
	if err != nil {
		t.Fatal(err)
	}

	if got, err := q.Account(ctx, a); err != nil || got.Name != "Acme" {
		t.Fatalf("Account = %+v, %v; want Acme", got, err)
	}
	if got, err := q.ListCampaigns(ctx, a); err != nil || len(got) != 1 || got[0].ID != cid {
		t.Fatalf("ListCampaigns = %v, %v; want the one campaign", got, err)
	}
	if got, err := q.ListFilters(ctx, a, cid); err != nil || len(got) != 1 || got[0].ID != f.Filter.ID {
		t.Fatalf("ListFilters = %v, %v; want the one filter", got, err)
	}
	if got, err := q.ListTokens(ctx, a, &cid); err != nil || len(got) != 1 || got[0].ID != tok.Token.ID {
		t.Fatalf("ListTokens = %v, %v; want the campaign's token", got, err)
	}
	if got, err := q.ListWebhooks(ctx, a, nil); err != nil || len(got) != 1 || got[0].ID != hook.Webhook.ID {
		t.Fatalf("ListWebhooks = %v, %v; want the one webhook", got, err)
	}
	if got, err := q.TokenByDocsID(ctx, tok.Token.DocsID); err != nil || got.ID != tok.Token.ID {
		t.Fatalf("TokenByDocsID = %+v, %v; want the token", got, err)
	}
	got, err := q.File(ctx, a, lead.Lead.ID, file.File.ID)
	if err != nil {
		t.Fatalf("File: %v", err)
	}
	var buf bytes.Buffer
	if err := q.WriteFile(ctx, &buf, got); err != nil || !bytes.Equal(buf.Bytes(), content) {
		t.Fatalf("WriteFile = %q, %v; want %q", buf.Bytes(), err, content)
	}
	if n, err := q.FileBytes(ctx, a); err != nil || n != int64(len(content)) {
		t.Fatalf("FileBytes = %d, %v; want %d", n, err, len(content))
	}
	if _, err := q.WebhookDeliveries(ctx, a, hook.Webhook.ID, queries.DeliveryQuery{Limit: 10}); err != nil {
		t.Fatalf("WebhookDeliveries: %v", err)
	}

	o := other.Account.ID
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"Campaign", second(q.Campaign(ctx, o, cid)), domain.ErrCampaignNotFound},
		{"Filter", second(q.Filter(ctx, o, f.Filter.ID)), domain.ErrFilterNotFound},
		{"Token", second(q.Token(ctx, o, tok.Token.ID)), domain.ErrTokenNotFound},
		{"Webhook", second(q.Webhook(ctx, o, hook.Webhook.ID)), domain.ErrWebhookNotFound},
		{"WebhookDeliveries", second(q.WebhookDeliveries(ctx, o, hook.Webhook.ID, queries.DeliveryQuery{Limit: 10})), domain.ErrWebhookNotFound},
		{"File", second(q.File(ctx, o, lead.Lead.ID, file.File.ID)), domain.ErrFileNotFound},
		{"Account", second(q.Account(ctx, uuid.New())), domain.ErrAccountNotFound},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s of another account: %v, want %v", tc.name, tc.err, tc.want)
		}
	}

	if _, err := c.RevokeToken.Handle(ctx, commands.RevokeToken{AccountID: a, TokenID: tok.Token.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.TokenByDocsID(ctx, tok.Token.DocsID); !errors.Is(err, domain.ErrTokenNotFound) {
		t.Fatalf("TokenByDocsID of a revoked token: %v, want %v", err, domain.ErrTokenNotFound)
	}
}

func second[T any](_ T, err error) error { return err }
