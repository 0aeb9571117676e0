package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/api"
	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
)

// These tests serve the real router over in-memory fakes (fakes_test.go):
// they check what the handlers themselves do (decoding, headers, problem
// answers, scoping the list), fast and without Postgres or NATS. What the
// commands and views do is the end-to-end tests' part.

const fakePublicURL = "http://leadsvc.test"

// fakeAPI is the API's router over s.
func fakeAPI(t *testing.T, s *fakeService) http.Handler {
	t.Helper()
	r := chi.NewRouter()
	api.New(api.Config{Commands: s.commands(), Auth: s, Queries: s, Reader: fakeReader{s}, PublicURL: fakePublicURL,
		SecretKey: []byte("fake secret key"), Clock: func() time.Time { return s.now }}).Mount(r)
	return r
}

// serve answers one request; headers come as name, value pairs.
func serve(t *testing.T, h http.Handler, method, path, secret, body string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// mustAnswer checks the status and content type of w and decodes its body
// into dst.
func mustAnswer(t *testing.T, w *httptest.ResponseRecorder, status int, contentType string, dst any) {
	t.Helper()
	if got := w.Code; got != status {
		t.Fatalf("Status = %d, want %d; body %s", got, status, w.Body)
	}
	if got := w.Header().Get("Content-Type"); got != contentType {
		t.Fatalf("Content-Type = %q, want %q", got, contentType)
	}
	if err := json.Unmarshal(w.Body.Bytes(), dst); err != nil {
		t.Fatalf("decode %s: %v", w.Body, err)
	}
}

// mustProblem checks that w is the problem of status and slug, and
// returns it.
func mustProblem(t *testing.T, w *httptest.ResponseRecorder, status int, slug string) api.Problem {
	t.Helper()
	var p api.Problem
	mustAnswer(t, w, status, "application/problem+json", &p)
	if got, want := p.Type, api.ProblemTypePrefix+slug; got != want {
		t.Fatalf("type = %q, want %q", got, want)
	}
	if got := p.Status; got != status {
		t.Fatalf("status member = %d, want %d", got, status)
	}
	if got, want := p.RequestID, w.Header().Get("X-Request-Id"); got == "" || got != want {
		t.Fatalf("request_id = %q, want the X-Request-Id %q", got, want)
	}
	return p
}

// campaignToken is a fake service holding one campaign and a token bound
// to it with perms; it returns the campaign and the token's secret.
func campaignToken(perms ...domain.Permission) (*fakeService, domain.Campaign, string) {
	s := newFakeService()
	c := s.addCampaign(uuid.New())
	return s, c, s.addToken(c.AccountID, &c.ID, perms...)
}

type leadOut struct {
	ID         uuid.UUID      `json:"id"`
	CampaignID uuid.UUID      `json:"campaign_id"`
	Status     string         `json:"status"`
	Fields     map[string]any `json:"fields"`
	Files      []any          `json:"files"`
	Version    int64          `json:"version"`
}

func TestCreateLeadAnswersTheCreatedLead(t *testing.T) {
	t.Parallel()
	s, c, secret := campaignToken(domain.PermWrite)
	h := fakeAPI(t, s)

	w := serve(t, h, http.MethodPost, "/v1/leads", secret, `{"fields":{"name":"Ada"}}`)
	var got leadOut
	mustAnswer(t, w, http.StatusCreated, "application/json", &got)
	if got.CampaignID != c.ID || got.Status != "new" || got.Fields["name"] != "Ada" || got.Version != 1 ||
		got.Files == nil || len(got.Files) != 0 {
		t.Fatalf("lead = %+v, want version 1 of a new lead of campaign %s with name Ada and files []", got, c.ID)
	}
	for name, want := range map[string]string{
		"Location":            fakePublicURL + "/v1/leads/" + got.ID.String(),
		"ETag":                `"1"`,
		api.HeaderPosition:    "1",
		"Cache-Control":       "no-store",
		"Idempotent-Replayed": "",
	} {
		if got := w.Header().Get(name); got != want {
			t.Fatalf("%s = %q, want %q", name, got, want)
		}
	}
	if got := len(s.created); got != 1 {
		t.Fatalf("CreateLead calls = %d, want 1", got)
	}
	cmd := s.created[0]
	if cmd.AccountID != c.AccountID || cmd.CampaignID != c.ID || cmd.Scope == nil || cmd.Idem != nil {
		t.Fatalf("command = %+v, want the token's account and campaign, its scope and no idempotency", cmd)
	}
	if got, want := cmd.Meta.RequestID, w.Header().Get("X-Request-Id"); got != want {
		t.Fatalf("Meta.RequestID = %q, want %q", got, want)
	}
}

func TestCreateLeadRefusesInvalidFields(t *testing.T) {
	t.Parallel()
	s, c, campaignSecret := campaignToken(domain.PermWrite)
	accountSecret := s.addToken(c.AccountID, nil, domain.PermWrite)
	h := fakeAPI(t, s)

	tests := []struct {
		name, secret, body string
		want               []domain.FieldError
	}{{
		name:   "account-level token names no campaign",
		secret: accountSecret, body: `{"fields":{}}`,
		want: []domain.FieldError{{Field: "campaign_id", Code: domain.CodeRequired,
			Message: "campaign_id: an account-level token names the campaign of the lead"}},
	}, {
		name:   "campaign_id is no uuid",
		secret: accountSecret, body: `{"campaign_id":"nope"}`,
		want: []domain.FieldError{{Field: "campaign_id", Code: domain.CodeInvalidFormat}},
	}, {
		name:   "the command refuses the status",
		secret: campaignSecret, body: `{"status":"won"}`,
		want: []domain.FieldError{{Field: "status", Code: domain.CodeInvalidValue, Message: "status: unknown status"}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustProblem(t, serve(t, h, http.MethodPost, "/v1/leads", tt.secret, tt.body),
				http.StatusUnprocessableEntity, "validation")
			if len(p.Errors) != len(tt.want) {
				t.Fatalf("errors = %+v, want %+v", p.Errors, tt.want)
			}
			for i, want := range tt.want {
				got := p.Errors[i]
				if got.Field != want.Field || got.Code != want.Code || (want.Message != "" && got.Message != want.Message) {
					t.Fatalf("errors[%d] = %+v, want %+v", i, got, want)
				}
			}
		})
	}
}

func TestCreateLeadReplaysAnIdempotentRequest(t *testing.T) {
	t.Parallel()
	s, _, secret := campaignToken(domain.PermWrite)
	h := fakeAPI(t, s)

	const body = `{"fields":{"name":"Ada"}}`
	first := serve(t, h, http.MethodPost, "/v1/leads", secret, body, "Idempotency-Key", `"k-1"`)
	second := serve(t, h, http.MethodPost, "/v1/leads", secret, body, "Idempotency-Key", "k-1")
	var a, b leadOut
	mustAnswer(t, first, http.StatusCreated, "application/json", &a)
	mustAnswer(t, second, http.StatusCreated, "application/json", &b)
	if got, want := second.Body.String(), first.Body.String(); got != want {
		t.Fatalf("replayed body = %s, want %s", got, want)
	}
	if got := first.Header().Get("Idempotent-Replayed"); got != "" {
		t.Fatalf("first Idempotent-Replayed = %q, want none", got)
	}
	if got := second.Header().Get("Idempotent-Replayed"); got != "true" {
		t.Fatalf("replay Idempotent-Replayed = %q, want %q", got, "true")
	}
	if got, want := second.Header().Get("Location"), first.Header().Get("Location"); got != want {
		t.Fatalf("replay Location = %q, want %q", got, want)
	}
	// The quoted and the bare key are one key, with one fingerprint.
	i1, i2 := s.created[0].Idem, s.created[1].Idem
	if i1 == nil || i2 == nil || i1.Key != "k-1" || i2.Key != i1.Key || i2.TokenID != i1.TokenID ||
		!bytes.Equal(i2.Fingerprint, i1.Fingerprint) {
		t.Fatalf("idempotency = %+v then %+v, want key k-1 twice, same fingerprint", i1, i2)
	}
	serve(t, h, http.MethodPost, "/v1/leads", secret, `{"fields":{"name":"Bob"}}`, "Idempotency-Key", "k-1")
	if got, want := s.created[2].Idem.Fingerprint, i1.Fingerprint; bytes.Equal(got, want) {
		t.Fatalf("a different body has fingerprint %x, the same as the first", got)
	}
}

func TestReadingAnotherAccountsLeadIsNotFound(t *testing.T) {
	t.Parallel()
	s, c, secret := campaignToken(domain.PermRead)
	other := s.addLead(s.addCampaign(uuid.New()), domain.Fields{"name": "Eve"})
	mine := s.addLead(c, domain.Fields{"name": "Ada"})
	h := fakeAPI(t, s)

	for _, id := range []uuid.UUID{other.ID, uuid.New()} {
		p := mustProblem(t, serve(t, h, http.MethodGet, "/v1/leads/"+id.String(), secret, ""), http.StatusNotFound, "not-found")
		if got, want := p.Instance, "/v1/leads/"+id.String(); got != want {
			t.Fatalf("instance = %q, want %q", got, want)
		}
	}
	w := serve(t, h, http.MethodGet, "/v1/leads/"+mine.ID.String(), secret, "")
	var got leadOut
	mustAnswer(t, w, http.StatusOK, "application/json", &got)
	if got.ID != mine.ID || w.Header().Get("ETag") != `"1"` {
		t.Fatalf("lead = %+v, ETag %q; want %s with ETag \"1\"", got, w.Header().Get("ETag"), mine.ID)
	}
}

func TestUpdateLeadPassesIfMatchOn(t *testing.T) {
	t.Parallel()
	s, c, secret := campaignToken(domain.PermWrite)
	l := s.addLead(c, domain.Fields{"name": "Ada"})
	h := fakeAPI(t, s)

	mustProblem(t, serve(t, h, http.MethodPatch, "/v1/leads/"+l.ID.String(), secret, `{"status":"new"}`, "If-Match", `"3"`),
		http.StatusPreconditionFailed, "precondition-failed")
	if got := s.updated[0].IfVersion; got != 3 {
		t.Fatalf("IfVersion = %d, want 3", got)
	}
	p := mustProblem(t, serve(t, h, http.MethodPatch, "/v1/leads/"+l.ID.String(), secret, `{}`, "If-Match", "three"),
		http.StatusBadRequest, "bad-request")
	if len(p.Errors) != 1 || p.Errors[0].Field != "If-Match" {
		t.Fatalf("errors = %+v, want one on If-Match", p.Errors)
	}
	if got := len(s.updated); got != 1 {
		t.Fatalf("UpdateLead calls = %d, want 1: an unreadable If-Match reaches no command", got)
	}
}

func TestListLeadsPagesThroughTheTokensCampaign(t *testing.T) {
	t.Parallel()
	s, c, secret := campaignToken(domain.PermRead)
	elsewhere := s.addCampaign(c.AccountID)
	var want []uuid.UUID
	for _, name := range []string{"Ada", "Bob", "Cy"} {
		want = append(want, s.addLead(c, domain.Fields{"name": name}).ID)
		s.addLead(elsewhere, domain.Fields{"name": name})
	}
	s.addLead(s.addCampaign(uuid.New()), domain.Fields{"name": "Eve"})
	h := fakeAPI(t, s)

	var got []uuid.UUID
	path, pages := "/v1/leads?limit=2", 0
	for ; path != ""; pages++ {
		if pages == 3 {
			t.Fatalf("more than 2 pages; got %v", got)
		}
		w := serve(t, h, http.MethodGet, path, secret, "")
		var page struct {
			Data       []leadOut `json:"data"`
			NextCursor *string   `json:"next_cursor"`
		}
		mustAnswer(t, w, http.StatusOK, "application/json", &page)
		for _, l := range page.Data {
			got = append(got, l.ID)
		}
		path = ""
		if page.NextCursor != nil {
			link := w.Header().Get("Link")
			prefix := "<" + fakePublicURL
			if !strings.HasPrefix(link, prefix) || !strings.HasSuffix(link, `>; rel="next"`) {
				t.Fatalf("Link = %q, want <%s…>; rel=\"next\"", link, fakePublicURL)
			}
			path = strings.TrimSuffix(strings.TrimPrefix(link, prefix), `>; rel="next"`)
		}
	}
	if pages != 2 || len(got) != len(want) {
		t.Fatalf("leads = %v in %d pages, want %v in 2", got, pages, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("leads = %v, want %v", got, want)
		}
	}

	// The campaign token reads its campaign only, whatever it asks.
	p := mustProblem(t, serve(t, h, http.MethodGet, "/v1/leads?campaign_id="+elsewhere.ID.String(), secret, ""),
		http.StatusBadRequest, "bad-request")
	if len(p.Errors) != 1 || p.Errors[0].Field != "campaign_id" {
		t.Fatalf("errors = %+v, want one on campaign_id", p.Errors)
	}
}

func TestUnauthenticatedRequestsAre401(t *testing.T) {
	t.Parallel()
	s, _, _ := campaignToken(domain.PermRead)
	h := fakeAPI(t, s)

	tests := []struct {
		name, authorization, challenge string
	}{
		{"no credentials", "", `Bearer realm="leadsvc"`},
		{"unknown secret", "Bearer lsk_unknown", `Bearer realm="leadsvc", error="invalid_token", error_description="Unauthenticated"`},
		{"another scheme", "Basic YTpi", `Bearer realm="leadsvc", error="invalid_token", error_description="Unauthenticated"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(t, h, http.MethodGet, "/v1/leads", "", "", "Authorization", tt.authorization)
			mustProblem(t, w, http.StatusUnauthorized, "unauthenticated")
			if got := w.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Fatalf("WWW-Authenticate = %q, want %q", got, tt.challenge)
			}
		})
	}
}

func TestACachedAuthenticationIsCheckedWithTheWrite(t *testing.T) {
	t.Parallel()
	s, _, secret := campaignToken(domain.PermWrite)
	s.cache(secret)
	h := fakeAPI(t, s)
	const body = `{"fields":{"name":"Ada"}}`

	mustAnswer(t, serve(t, h, http.MethodPost, "/v1/leads", secret, body), http.StatusCreated, "application/json", &leadOut{})
	if got := s.created[0].Guard; len(got) != 1 {
		t.Fatalf("Guard = %v, want the cached authentication's", got)
	}

	// The token lost its write permission after it was cached: the write
	// is refused by its guard, and the fresh authentication by require.
	s.changeToken(secret, func(t *commands.TokenInfo) { t.Permissions = []domain.Permission{domain.PermRead} })
	mustProblem(t, serve(t, h, http.MethodPost, "/v1/leads", secret, body), http.StatusForbidden, "forbidden")

	s.changeToken(secret, nil)
	mustProblem(t, serve(t, h, http.MethodPost, "/v1/leads", secret, body), http.StatusUnauthorized, "unauthenticated")
	if got := len(s.leads); got != 1 {
		t.Fatalf("leads = %d, want 1: the stale authentications wrote nothing", got)
	}
}
