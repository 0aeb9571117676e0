package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
)

const demoFile = "demo.json"

// demoSetup is what `leadsvc demo` made, kept in the data directory
// (mode 0600: it holds token secrets) so that running it again prints the
// same account instead of making another.
type demoSetup struct {
	AccountID  uuid.UUID   `json:"account_id"`
	CampaignID uuid.UUID   `json:"campaign_id"`
	FilterID   uuid.UUID   `json:"filter_id"`
	Tokens     []demoToken `json:"tokens"`
}

type demoToken struct {
	ID     uuid.UUID `json:"id"`
	Name   string    `json:"name"`
	Scope  string    `json:"scope"`
	Secret string    `json:"secret"`
	DocsID string    `json:"docs_id,omitempty"`
}

// demoSchema is the campaign of the product's own setup guide: a Source
// select with a partner option, and the usual lead statuses.
func demoSchema() domain.Schema {
	return domain.Schema{
		Fields: []domain.Field{
			{Key: "name", Label: "Name", Type: domain.TypeText, Required: true},
			{Key: "email", Label: "Email", Type: domain.TypeEmail},
			{Key: "phone", Label: "Phone", Type: domain.TypePhone},
			{Key: "company", Label: "Company", Type: domain.TypeText},
			{Key: "budget", Label: "Budget", Type: domain.TypeNumber},
			{Key: "source", Label: "Source", Type: domain.TypeSelect, Select: "source", Required: true},
			{Key: "interests", Label: "Interests", Type: domain.TypeMultiselect, Select: "interests"},
			{Key: "callback_on", Label: "Call back on", Type: domain.TypeDate},
			{Key: "notes", Label: "Notes", Type: domain.TypeTextarea},
		},
		Selects: []domain.Select{
			{Key: "source", Label: "Source", Options: []domain.Option{
				{Value: "website", Label: "Website"}, {Value: "partner-abc", Label: "Partner ABC"},
				{Value: "partner-xyz", Label: "Partner XYZ"}}},
			{Key: "interests", Label: "Interests", Options: []domain.Option{
				{Value: "solar", Label: "Solar"}, {Value: "heat-pump", Label: "Heat pump"}, {Value: "battery", Label: "Battery"}}},
		},
		Statuses: []domain.Status{{Slug: "new", Label: "New"}, {Slug: "contacted", Label: "Contacted"},
			{Slug: "qualified", Label: "Qualified"}, {Slug: "won", Label: "Won"}, {Slug: "lost", Label: "Lost"}},
	}
}

// demo creates, once, a demo account with the partner-access setup done
// and prints how to use it. With reset it revokes the kept demo's partner
// tokens and makes a fresh account: the log is append-only, so starting over
// means a new account rather than deleting the old one.
func demo(ctx context.Context, cfg Config, logger *slog.Logger, stdout io.Writer, reset bool) error {
	ws, err := openWriteSide(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer ws.Close()
	dir, err := cfg.dataDir()
	if err != nil {
		return err
	}
	path := filepath.Join(dir, demoFile)
	setup, err := loadDemo(ctx, ws.commands, path)
	if err != nil {
		return err
	}
	if reset && setup != nil {
		if err := revokeDemo(ctx, ws.commands, setup); err != nil {
			return err
		}
		logger.Info("demo tokens revoked", "account_id", setup.AccountID)
		setup = nil
	}
	if setup == nil {
		if setup, err = makeDemo(ctx, ws.commands); err != nil {
			return err
		}
		b, err := json.MarshalIndent(setup, "", "  ")
		if err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return fmt.Errorf("keep demo setup: %w", err)
		}
		logger.Info("demo account created", "account_id", setup.AccountID, "file", path)
	}
	return printDemo(stdout, cfg, setup)
}

// loadDemo returns the kept setup if its tokens still authenticate against
// this database, nil when there is none (or the database was reset).
func loadDemo(ctx context.Context, c *commands.Commands, path string) (*demoSetup, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s demoSetup
	if err := json.Unmarshal(b, &s); err != nil || len(s.Tokens) == 0 {
		// A damaged file is replaced by a fresh demo.
		return nil, nil
	}
	for _, t := range s.Tokens {
		if _, err := c.Auth.Authenticate(ctx, t.Secret); err != nil {
			// Tokens of another (or a reset) database: make a fresh demo.
			return nil, nil
		}
	}
	return &s, nil
}

// revokeDemo revokes the kept demo's partner tokens. The admin token
// stays: an account keeps its last admin token, and it reaches nothing
// outside the old demo account.
func revokeDemo(ctx context.Context, c *commands.Commands, s *demoSetup) error {
	for _, t := range s.Tokens {
		if t.DocsID == "" {
			continue
		}
		if _, err := c.RevokeToken.Handle(ctx, commands.RevokeToken{AccountID: s.AccountID, TokenID: t.ID, Meta: operatorMeta}); err != nil {
			return fmt.Errorf("revoke the demo token %q: %w", t.Name, err)
		}
	}
	return nil
}

func makeDemo(ctx context.Context, c *commands.Commands) (*demoSetup, error) {
	acct, err := c.CreateAccount.Handle(ctx, commands.CreateAccount{Name: "Demo Co", TokenName: "Demo admin", Meta: operatorMeta})
	if err != nil {
		return nil, err
	}
	s := &demoSetup{AccountID: acct.Account.ID}
	s.Tokens = append(s.Tokens, demoToken{ID: acct.Token.ID, Name: acct.Token.Name, Scope: "account: admin, read, write, audit", Secret: acct.Secret})
	camp, err := c.CreateCampaign.Handle(ctx, commands.CreateCampaign{AccountID: acct.Account.ID, Name: "Home energy leads",
		Schema: demoSchema(), Meta: operatorMeta})
	if err != nil {
		return nil, err
	}
	s.CampaignID = camp.Campaign.ID
	f, err := c.CreateFilter.Handle(ctx, commands.CreateFilter{AccountID: acct.Account.ID, CampaignID: camp.Campaign.ID,
		Name: "Partner ABC", Conditions: []domain.Condition{{Field: "source", Op: domain.OpEq, Value: "partner-abc"}}, Meta: operatorMeta})
	if err != nil {
		return nil, err
	}
	s.FilterID = f.Filter.ID
	for _, t := range []struct {
		name  string
		perms []domain.Permission
		scope string
	}{
		{"Partner ABC – read only", []domain.Permission{domain.PermRead}, "campaign, filter source = Partner ABC: read"},
		{demoPartnerWriter, []domain.Permission{domain.PermRead, domain.PermWrite}, "campaign, filter source = Partner ABC: read, write"},
	} {
		tok, err := c.CreateToken.Handle(ctx, commands.CreateToken{AccountID: acct.Account.ID, CampaignID: &camp.Campaign.ID,
			FilterID: &f.Filter.ID, Name: t.name, Permissions: t.perms, Meta: operatorMeta})
		if err != nil {
			return nil, err
		}
		s.Tokens = append(s.Tokens, demoToken{ID: tok.Token.ID, Name: t.name, Scope: t.scope, Secret: tok.Secret, DocsID: tok.Token.DocsID})
	}
	// A few leads, one of them outside the partner's slice.
	for _, l := range []map[string]any{
		{"name": "Ada Lovelace", "email": "ada@example.com", "source": "partner-abc", "budget": 12000, "interests": []any{"solar"}},
		{"name": "Grace Hopper", "phone": "+1 202 555 0143", "source": "partner-abc", "interests": []any{"battery", "solar"}},
		{"name": "Alan Turing", "email": "alan@example.org", "source": "website"},
	} {
		if _, err := c.CreateLead.Handle(ctx, commands.CreateLead{AccountID: acct.Account.ID, CampaignID: camp.Campaign.ID,
			Fields: l, Meta: operatorMeta}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func printDemo(w io.Writer, cfg Config, s *demoSetup) error {
	fmt.Fprintf(w, "\nleadsvc demo — account %s, campaign %s (\"Home energy leads\")\n\n", s.AccountID, s.CampaignID)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOKEN\tSCOPE\tSECRET")
	for _, t := range s.Tokens {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Name, t.Scope, t.Secret)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, t := range s.Tokens {
		if t.DocsID != "" {
			fmt.Fprintf(w, "API docs for %q: %s/docs/%s\n", t.Name, cfg.PublicURL, t.DocsID)
		}
	}
	fmt.Fprintf(w, "\nConsole: %s/console (sign in with the Demo admin token)\n", cfg.PublicURL)
	fmt.Fprintf(w, "Service: %s (readiness: %s/readyz)\n", cfg.PublicURL, cfg.PublicURL)
	if t, ok := s.token(demoPartnerWriter); ok {
		fmt.Fprintf(w, "\nTry the partner's API with the %q token (it sees only source = Partner ABC):\n\n", t.Name)
		fmt.Fprintf(w, "  export TOKEN=%s\n", t.Secret)
		fmt.Fprintf(w, "  curl -s -H \"Authorization: Bearer $TOKEN\" %s/v1/schema\n", cfg.PublicURL)
		fmt.Fprintf(w, "  curl -s -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' \\\n"+
			"       -d '{\"fields\": {\"name\": \"Mary Somerville\", \"source\": \"partner-abc\"}}' %s/v1/leads\n", cfg.PublicURL)
		fmt.Fprintf(w, "  curl -s -H \"Authorization: Bearer $TOKEN\" %s/v1/leads\n", cfg.PublicURL)
	}
	_, err := fmt.Fprintf(w, "\nStop the service with Ctrl-C. Start over with `make demo-reset` (or `leadsvc demo --reset`):\n"+
		"it revokes these partner tokens and makes a fresh demo account.\n\n")
	return err
}

// demoPartnerWriter names the demo token the printed examples use: a
// partner's, so that they need no campaign id.
const demoPartnerWriter = "Partner ABC – read + write"

func (s *demoSetup) token(name string) (demoToken, bool) {
	for _, t := range s.Tokens {
		if t.Name == name {
			return t, true
		}
	}
	return demoToken{}, false
}
