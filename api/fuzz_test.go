package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/api"
	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/audit"
	"github.com/leadsvc/leadsvc/eventstore/views"
	"github.com/leadsvc/leadsvc/internal/eventlog"
	"github.com/leadsvc/leadsvc/internal/testenv"
	"github.com/leadsvc/leadsvc/projections/leads"
	"github.com/leadsvc/leadsvc/queries"
)

// fixture is an account with a campaign, a partner filter and tokens,
// served in process (no listener, no NATS: the API needs neither).
type fixture struct {
	h       http.Handler
	secrets []string // partner read+write, partner read, admin
	ids     map[string]string

	c         commands.Commands
	q         *queries.Queries
	store     *eventstore.Store
	accountID uuid.UUID
	campaign  uuid.UUID
	partner   domain.Filter      // source = abc
	ro        commands.TokenInfo // the partner's read token, with the partner filter
}

// newStore migrates a fresh schema and returns the commands over it and
// the event store (to count events).
func newStore(tb testing.TB) (commands.Commands, *eventstore.Store) {
	tb.Helper()
	dbURL := testenv.Schema(tb)
	if err := eventstore.Migrate(context.Background(), dbURL, nil); err != nil {
		tb.Fatal(err)
	}
	pool := testenv.Pool(tb, dbURL)
	store := eventstore.New(pool, domain.NewRegistry())
	tb.Cleanup(store.Close)
	c, err := commands.New(commands.Config{Store: store, SecretKey: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		tb.Fatal(err)
	}
	return c, store
}

// newFixture builds the fixture once per process: fuzz inputs share it.
func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	ctx := context.Background()
	c, store := newStore(tb)
	pool := store.Pool()
	acct, err := c.CreateAccount.Handle(ctx, commands.CreateAccount{Name: "Fuzz"})
	if err != nil {
		tb.Fatal(err)
	}
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	aid := acct.Account.ID
	camp, err := c.CreateCampaign.Handle(ctx, commands.CreateCampaign{AccountID: aid, Name: "C", Schema: domain.Schema{
		Fields: []domain.Field{{Key: "name", Label: "Name", Type: domain.TypeText, Required: true},
			{Key: "budget", Label: "Budget", Type: domain.TypeNumber},
			{Key: "source", Label: "Source", Type: domain.TypeSelect, Select: "source"},
			{Key: "tags", Label: "Tags", Type: domain.TypeMultiselect, Select: "source"}},
		Selects:  []domain.Select{{Key: "source", Label: "Source", Options: []domain.Option{{Value: "abc", Label: "ABC"}, {Value: "web", Label: "Web"}}}},
		Statuses: []domain.Status{{Slug: "new", Label: "New"}, {Slug: "won", Label: "Won"}}}})
	must(err)
	cid := camp.Campaign.ID
	filter := func(name string) domain.Filter {
		f, err := c.CreateFilter.Handle(ctx, commands.CreateFilter{AccountID: aid, CampaignID: cid, Name: name,
			Conditions: []domain.Condition{{Field: "source", Op: domain.OpEq, Value: "abc"}}})
		must(err)
		return f.Filter
	}
	pf, victimFilter := filter("partner"), filter("victim")
	token := func(perms ...domain.Permission) commands.TokenSecretResult {
		t, err := c.CreateToken.Handle(ctx, commands.CreateToken{AccountID: aid, CampaignID: &cid, FilterID: &pf.ID, Name: "t", Permissions: perms})
		must(err)
		return t
	}
	rw, ro, victim := token(domain.PermRead, domain.PermWrite), token(domain.PermRead), token(domain.PermRead)
	l, err := c.CreateLead.Handle(ctx, commands.CreateLead{AccountID: aid, CampaignID: cid, Fields: map[string]any{"name": "A", "source": "abc"}})
	must(err)
	file, err := c.AttachFile.Handle(ctx, commands.AttachFile{AccountID: aid, LeadID: l.Lead.ID, Name: "a.txt", ContentType: "text/plain", Content: commands.BytesContent([]byte("a"))})
	must(err)
	q := queries.New(queries.Config{Views: views.Of(store)})
	r := chi.NewRouter()
	api.New(api.Config{Commands: api.CommandsOf(c), Auth: c.Auth, Queries: q, Reader: leads.NewReader(pool, eventlog.New(store)), PublicURL: "http://leadsvc.test",
		// The chain check is the store's concern: here every chain holds.
		Audit: audit.New(audit.Config{Store: store,
			Verify: func(context.Context, string) (*eventstore.ChainBreak, error) { return nil, nil }}),
		SecretKey: bytes.Repeat([]byte{9}, 32), RateLimit: 1 << 30}).Mount(r)
	return &fixture{h: r, secrets: []string{rw.Secret, ro.Secret, acct.Secret, ""},
		ids: map[string]string{"{campaign}": cid.String(), "{lead}": l.Lead.ID.String(), "{file}": file.File.ID.String(),
			"{filter}": victimFilter.ID.String(), "{token}": victim.Token.ID.String(), "{webhook}": uuid.NewString()},
		c: c, q: q, store: store, accountID: aid, campaign: cid, partner: pf, ro: ro.Token}
}

// fuzzRoutes are the templates inputs pick from; ids are the fixture's
// (the victim filter and token may be deleted or rotated by an input).
var fuzzRoutes = []string{"/v1/leads", "/v1/leads/{lead}", "/v1/leads/{lead}/files", "/v1/leads/{lead}/files/{file}",
	"/v1/schema", "/v1/campaigns", "/v1/campaigns/{campaign}", "/v1/campaigns/{campaign}/filters",
	"/v1/campaigns/{campaign}/selects/source/options", "/v1/filters/{filter}", "/v1/tokens", "/v1/tokens/{token}",
	"/v1/tokens/{token}/rotate", "/v1/tokens/{token}/reveal", "/v1/", "/", "/v1/leads/batch",
	"/v1/webhooks", "/v1/webhooks/{webhook}", "/v1/webhooks/{webhook}/deliveries", "/v1/webhooks/{webhook}/redeliver",
	"/v1/audit/events", "/v1/audit/tokens/{token}/events", "/v1/audit/leads/{lead}", "/v1/audit/tokens/{token}/visible-leads"}

var (
	fuzzMethods = []string{"GET", "POST", "PATCH", "DELETE", "PUT"}
	fuzzTypes   = []string{"application/json", "multipart/form-data; boundary=B", "text/plain", ""}
)

// FuzzPartnerRequests throws arbitrary bodies, query strings, headers and
// path tails at the partner, admin, webhook and audit routes: no input
// may produce a 5xx, every 4xx is a problem+json body that states its
// status, and a refused request writes no event. The seeds under
// testdata/fuzz hold the hostile inputs (NUL, invalid UTF-8, case
// variants and duplicates of members, limits out of range).
func FuzzPartnerRequests(f *testing.F) {
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, who, method, route uint8, tail, query string, body []byte, ctype uint8, key, ifMatch string) {
		path := fuzzRoutes[int(route)%len(fuzzRoutes)]
		for k, v := range fx.ids {
			path = strings.ReplaceAll(path, k, v)
		}
		req := httptest.NewRequest("GET", "/", bytes.NewReader(body))
		req.Method = fuzzMethods[int(method)%len(fuzzMethods)]
		req.URL.Path, req.URL.RawQuery = path+tail, query
		if ct := fuzzTypes[int(ctype)%len(fuzzTypes)]; ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if s := fx.secrets[int(who)%len(fx.secrets)]; s != "" {
			req.Header.Set("Authorization", "Bearer "+s)
		}
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		before := fx.events(t)
		rec := httptest.NewRecorder()
		fx.h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s?%s: %d %s", req.Method, req.URL.Path, query, rec.Code, rec.Body)
		}
		if rec.Code < 400 {
			return
		}
		if after := fx.events(t); after != before {
			t.Fatalf("%s %s?%s: %d, and %d events written: %s", req.Method, req.URL.Path, query, rec.Code, after-before, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("%s %s: %d with Content-Type %q", req.Method, req.URL.Path, rec.Code, ct)
		}
		var p api.Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code || p.Type == "" || p.Errors == nil {
			t.Fatalf("%s %s: %d problem %s (%v)", req.Method, req.URL.Path, rec.Code, rec.Body, err)
		}
	})
}

// events counts the log.
func (fx *fixture) events(t *testing.T) int64 {
	t.Helper()
	n, err := fx.store.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFixtureServesAPartner checks the fuzz fixture works, so a fuzz run
// that sees only 4xx cannot pass for the wrong reason.
func TestFixtureServesAPartner(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	for i, want := range []int{200, 200, 403, 401} {
		req := httptest.NewRequest("GET", "/v1/schema", nil)
		if fx.secrets[i] != "" {
			req.Header.Set("Authorization", "Bearer "+fx.secrets[i])
		}
		if i == 2 {
			req = httptest.NewRequest("GET", "/v1/campaigns/"+uuid.NewString(), nil)
			req.Header.Set("Authorization", "Bearer "+fx.secrets[1])
		}
		rec := httptest.NewRecorder()
		fx.h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("token %d: %d, want %d: %s", i, rec.Code, want, rec.Body)
		}
	}
}
