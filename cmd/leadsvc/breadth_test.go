package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// filterOut is a filter as the API answers it.
type filterOut struct {
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	Match      string           `json:"match"`
	Conditions []map[string]any `json:"conditions"`
	Explain    []string         `json:"explain"`
}

// TestFilterWithoutConditionNeedsMatchAll: a filter that lets every lead
// of the campaign through is made only on purpose ("match": "all"); an
// empty or missing conditions list is refused, naming conditions, and
// writes nothing.
func TestFilterWithoutConditionNeedsMatchAll(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	s := mustSetup(t, m)
	filters := "/v1/campaigns/" + s.campaignID + "/filters"
	source := []map[string]any{{"field": "source", "op": "eq", "value": "website"}}

	mustWriteNothing(t, m, "filters that match every lead by accident", func() {
		for name, body := range map[string]map[string]any{
			"empty conditions":         {"name": "Everyone", "conditions": []any{}},
			"no conditions member":     {"name": "Everyone"},
			"match conditions, none":   {"name": "Everyone", "match": "conditions", "conditions": []any{}},
			"empty conditions, any []": {"name": "Everyone", "conditions": []any{}, "any": []any{}},
		} {
			p := s.admin.do(http.MethodPost, filters, body).problem(http.StatusUnprocessableEntity)
			if !p.hasError("conditions", "required") || !strings.Contains(p.Detail, `"match": "all"`) {
				t.Errorf("%s: %+v; want 422 naming conditions and saying how to match every lead", name, p)
			}
		}
		if p := s.admin.do(http.MethodPost, filters, map[string]any{"name": "Both", "match": "all", "conditions": source}).
			problem(http.StatusUnprocessableEntity); !p.hasError("match", "invalid_value") {
			t.Errorf("match all with a condition: %+v", p)
		}
		if p := s.admin.do(http.MethodPost, filters, map[string]any{"name": "Odd", "match": "some", "conditions": source}).
			problem(http.StatusUnprocessableEntity); !p.hasError("match", "invalid_value") || !strings.Contains(p.Detail, "all, conditions") {
			t.Errorf("an unknown match: %+v", p)
		}
		// An existing filter cannot lose its last condition by accident either.
		if p := s.admin.do(http.MethodPatch, "/v1/filters/"+s.abc.filterID, map[string]any{"conditions": []any{}}).
			problem(http.StatusUnprocessableEntity); !p.hasError("conditions", "required") {
			t.Errorf("PATCH conditions []: %+v", p)
		}
	})

	// On purpose: match all, shown as such wherever the filter is read.
	var all filterOut
	s.admin.do(http.MethodPost, filters, map[string]any{"name": "Everyone", "match": "all"}).want(http.StatusCreated).into(&all)
	if all.Match != "all" || len(all.Conditions) != 0 || !slices.Equal(all.Explain, []string{"every lead of the campaign"}) {
		t.Fatalf("the every-lead filter: %+v", all)
	}
	var got filterOut
	s.admin.do(http.MethodGet, "/v1/filters/"+all.ID, nil).want(http.StatusOK).into(&got)
	if got.Match != "all" {
		t.Fatalf("GET the every-lead filter: %+v", got)
	}
	s.admin.do(http.MethodGet, "/v1/filters/"+s.abc.filterID, nil).want(http.StatusOK).into(&got)
	if got.Match != "conditions" || len(got.Explain) != 1 || got.Explain[0] != "source = PARTNER-ABC (partner-abc)" {
		t.Fatalf("GET a filter with a condition: %+v", got)
	}
	var list struct{ Data []filterOut }
	s.admin.do(http.MethodGet, filters, nil).want(http.StatusOK).into(&list)
	matches := map[string]string{}
	for _, f := range list.Data {
		matches[f.Name] = f.Match
	}
	if matches["Everyone"] != "all" || matches["partner-abc"] != "conditions" {
		t.Fatalf("the list's matches: %v", matches)
	}

	// PATCH: a rename keeps an every-lead filter; conditions make it a
	// filter of conditions; match all takes them away on purpose.
	s.admin.do(http.MethodPatch, "/v1/filters/"+all.ID, map[string]any{"name": "All of them"}).want(http.StatusOK).into(&got)
	if got.Match != "all" || got.Name != "All of them" {
		t.Fatalf("renamed: %+v", got)
	}
	s.admin.do(http.MethodPatch, "/v1/filters/"+all.ID, map[string]any{"conditions": source}).want(http.StatusOK).into(&got)
	if got.Match != "conditions" || len(got.Conditions) != 1 {
		t.Fatalf("given a condition: %+v", got)
	}
	s.admin.do(http.MethodPatch, "/v1/filters/"+all.ID, map[string]any{"match": "all"}).want(http.StatusOK).into(&got)
	if got.Match != "all" || len(got.Conditions) != 0 {
		t.Fatalf("match all again: %+v", got)
	}
}

// TestConsoleFilterWithoutConditionIsChosen: in the console, a filter
// with no condition is saved only when "Every lead of the campaign" is
// chosen, and is marked as such wherever a filter is listed or offered.
func TestConsoleFilterWithoutConditionIsChosen(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	admin := mustAccount(t, m, "Acme")
	campaign := mustConsoleCampaign(t, admin, "Home energy")
	s := mustSignIn(t, m, admin.token)
	s.get("/campaigns/" + campaign + "/filters/new").want(http.StatusOK)

	mustWriteNothing(t, m, "an every-lead filter nobody chose", func() {
		p := s.post("/campaigns/"+campaign+"/filters", url.Values{"rows": {"1"}, "name": {"Everyone"}}).
			want(http.StatusUnprocessableEntity)
		if !p.contains(`id="f-match" name="match" aria-invalid="true"`) || !p.contains(`href="#f-match"`) ||
			!p.contains("Add a condition, or choose “Every lead of the campaign”") {
			t.Fatalf("a filter without condition is not refused at the every-lead choice:\n%s", p.Body)
		}
		p = s.post("/campaigns/"+campaign+"/filters", url.Values{"rows": {"1"}, "name": {"Both"}, "match": {"all"},
			"conditions[0].field": {"source"}, "conditions[0].op": {"eq"}, "conditions[0].choice": {"website"}}).
			want(http.StatusUnprocessableEntity)
		if !p.contains(`id="f-match-err"`) || !p.contains("takes no condition") {
			t.Fatalf("every lead with a condition is not refused at the choice:\n%s", p.Body)
		}
	})
	s.post("/campaigns/"+campaign+"/filters", url.Values{"rows": {"1"}, "name": {"Everyone"}, "match": {"all"}}).
		wantRedirect("/console/campaigns/" + campaign + "/filters?notice=filter_created")
	s.post("/campaigns/"+campaign+"/filters", url.Values{"rows": {"1"}, "name": {"Web"},
		"conditions[0].field": {"source"}, "conditions[0].op": {"eq"}, "conditions[0].choice": {"website"}}).
		wantRedirect("/console/campaigns/" + campaign + "/filters?notice=filter_created")

	if p := s.get("/campaigns/" + campaign + "/filters"); !regexp.MustCompile(`Everyone <span class="badge every-lead">every lead</span></th>\s*<td data-label="Lets through"><div>every lead of the campaign</div>`).MatchString(p.Body) ||
		strings.Count(p.Body, "badge every-lead") != 1 {
		t.Fatalf("the filter list does not mark the every-lead filter, and only it:\n%s", p.Body)
	}
	var list struct{ Data []filterOut }
	admin.do(http.MethodGet, "/v1/campaigns/"+campaign+"/filters", nil).want(http.StatusOK).into(&list)
	var everyone string
	for _, f := range list.Data {
		if f.Name == "Everyone" {
			everyone = f.ID
		}
	}
	if p := s.get("/filters/" + everyone); !p.contains(`value="all" checked`) {
		t.Fatalf("the editor of the every-lead filter does not show the choice:\n%s", p.Body)
	}
	for _, page := range []string{"/campaigns/" + campaign + "/tokens/new", "/campaigns/" + campaign + "/webhooks/new"} {
		if p := s.get(page); !p.contains(`>Everyone (every lead)</option>`) || !p.contains(`>Web</option>`) {
			t.Errorf("%s does not offer the every-lead filter as such:\n%s", page, p.Body)
		}
	}
}

// TestCampaignTokenNamesItsFilter: a campaign token is made only with a
// filter_id member, a filter's id or null for every lead of the campaign
// on purpose; without it the request is refused and writes nothing.
// Account-level tokens have no filter to name.
func TestCampaignTokenNamesItsFilter(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	s := mustSetup(t, m)
	mustWriteNothing(t, m, "campaign tokens without filter_id", func() {
		for name, body := range map[string]map[string]any{
			"read":       {"name": "Partner", "campaign_id": s.campaignID, "permissions": []string{"read"}},
			"read+write": {"name": "Partner", "campaign_id": s.campaignID, "permissions": []string{"read", "write"}},
		} {
			p := s.admin.do(http.MethodPost, "/v1/tokens", body, "Idempotency-Key", "no-filter-"+name).problem(http.StatusUnprocessableEntity)
			if !p.hasError("filter_id", "required") || !strings.Contains(p.Detail, "null for every lead of the campaign") {
				t.Errorf("%s: %+v; want 422 naming filter_id and saying null means every lead", name, p)
			}
		}
	})

	var every struct {
		ID       string  `json:"id"`
		FilterID *string `json:"filter_id"`
		Secret   string  `json:"secret"`
	}
	s.admin.do(http.MethodPost, "/v1/tokens", map[string]any{"name": "Everything", "campaign_id": s.campaignID,
		"filter_id": nil, "permissions": []string{"read"}}).want(http.StatusCreated).into(&every)
	if every.FilterID != nil {
		t.Fatalf("filter_id null made a token with filter %s", *every.FilterID)
	}
	// It sees every lead of the campaign: both partners' leads. (A lead's
	// position waits for that lead's view only.)
	everything := s.admin.as(every.Secret)
	for _, partner := range []*client{s.abc.rw, s.xyz.rw} {
		l, pos := partner.mustCreateLead(map[string]any{"fields": map[string]any{"name": "Lead"}})
		everything.do(http.MethodGet, "/v1/leads/"+l.ID, nil, "Leadsvc-Min-Position", pos).want(http.StatusOK)
	}
	if got := len(everything.listAll("", "")); got != 2 {
		t.Fatalf("the every-lead token lists %d leads, want both partners' 2", got)
	}
	// With a filter, as before; an account-level token needs no filter_id.
	s.admin.do(http.MethodPost, "/v1/tokens", map[string]any{"name": "ABC", "campaign_id": s.campaignID,
		"filter_id": s.abc.filterID, "permissions": []string{"read"}}).want(http.StatusCreated)
	s.admin.do(http.MethodPost, "/v1/tokens", map[string]any{"name": "CRM", "permissions": []string{"read"}}).want(http.StatusCreated)
}

// TestConsoleTokenFormPreselectsNoFilter: the campaign token form offers
// the filters and "Every lead of the campaign" with none of them chosen;
// a token sent without a choice is refused at the input.
func TestConsoleTokenFormPreselectsNoFilter(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	admin := mustAccount(t, m, "Acme")
	campaign := mustConsoleCampaign(t, admin, "Home energy")
	web := str(admin.do(http.MethodPost, "/v1/campaigns/"+campaign+"/filters", map[string]any{"name": "Web",
		"conditions": []map[string]any{{"field": "source", "op": "eq", "value": "website"}}}).want(http.StatusCreated).obj(), "id")
	s := mustSignIn(t, m, admin.token)

	p := s.get("/campaigns/" + campaign + "/tokens/new").want(http.StatusOK)
	form := regexp.MustCompile(`(?s)<select id="f-filter-id" name="filter_id" required>(.*?)</select>`).FindStringSubmatch(p.Body)
	if form == nil || strings.Count(form[1], " selected") != 1 || !strings.Contains(form[1], `<option value="" selected disabled>`) ||
		!strings.Contains(form[1], `<option value="`+web+`">Web</option>`) ||
		!strings.Contains(form[1], `<option value="all">Every lead of the campaign (no filter)</option>`) {
		t.Fatalf("the token form's filter choice: %q", form)
	}
	mustWriteNothing(t, m, "a campaign token without a chosen filter", func() {
		p = s.post("/campaigns/"+campaign+"/tokens", url.Values{"name": {"Partner"}, "access": {"read"}}).
			want(http.StatusUnprocessableEntity)
		if !p.contains(`id="f-filter-id" name="filter_id" aria-invalid="true"`) || !p.contains(`href="#f-filter-id"`) ||
			!p.contains("choose a filter, or “Every lead of the campaign”") {
			t.Fatalf("a token without a filter choice is not refused at the input:\n%s", p.Body)
		}
	})
	s.post("/campaigns/"+campaign+"/tokens", url.Values{"name": {"Everything"}, "access": {"read"}, "filter_id": {"all"}}).
		wantRedirect("/console/campaigns/" + campaign + "/tokens?notice=token_created")
	s.post("/campaigns/"+campaign+"/tokens", url.Values{"name": {"Web"}, "access": {"read"}, "filter_id": {web}}).
		wantRedirect("/console/campaigns/" + campaign + "/tokens?notice=token_created")
	var tokens struct {
		Data []struct {
			Name     string  `json:"name"`
			FilterID *string `json:"filter_id"`
		}
	}
	admin.do(http.MethodGet, "/v1/tokens?campaign_id="+campaign, nil).want(http.StatusOK).into(&tokens)
	got := map[string]string{}
	for _, tk := range tokens.Data {
		got[tk.Name] = "every lead"
		if tk.FilterID != nil {
			got[tk.Name] = *tk.FilterID
		}
	}
	if len(got) != 2 || got["Everything"] != "every lead" || got["Web"] != web {
		t.Fatalf("the console made %v", got)
	}
}

// TestRotationEndsTheOldSecretAtOnce: the usual reason to rotate is a
// leak, so the old secret stops at once unless a grace period is asked
// for; 0 is immediate too, and more than 7 days is refused.
func TestRotationEndsTheOldSecretAtOnce(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	s := mustSetup(t, m)
	type rotated struct {
		Secret     string  `json:"secret"`
		GraceUntil *string `json:"previous_secret_valid_until"`
	}
	rotate := func(body any) rotated {
		t.Helper()
		var r rotated
		s.admin.do(http.MethodPost, "/v1/tokens/"+s.abc.roID+"/rotate", body).want(http.StatusOK).into(&r)
		return r
	}
	old := s.abc.ro
	for _, body := range []any{nil, map[string]any{}, map[string]any{"grace_period": 0}, map[string]any{"grace_period": "0s"},
		map[string]any{"grace_period": nil}} {
		r := rotate(body)
		if r.GraceUntil != nil {
			t.Errorf("rotate %v: previous_secret_valid_until %s, want null", body, *r.GraceUntil)
		}
		if p := old.do(http.MethodGet, "/v1/schema", nil).problem(http.StatusUnauthorized); p.Type != "urn:leadsvc:problem:unauthenticated" {
			t.Errorf("rotate %v: the old secret answers %+v, want 401 at once", body, p)
		}
		old = s.admin.as(r.Secret)
		old.do(http.MethodGet, "/v1/schema", nil).want(http.StatusOK)
	}

	// A grace period asked for keeps the old secret that long.
	r := rotate(map[string]any{"grace_period": "1h"})
	if r.GraceUntil == nil {
		t.Fatal("a rotation with a grace period answers no previous_secret_valid_until")
	}
	old.do(http.MethodGet, "/v1/schema", nil).want(http.StatusOK)
	s.admin.as(r.Secret).do(http.MethodGet, "/v1/schema", nil).want(http.StatusOK)
	// Rotating again at once ends that grace too.
	next := rotate(nil)
	old.do(http.MethodGet, "/v1/schema", nil).problem(http.StatusUnauthorized)
	s.admin.as(r.Secret).do(http.MethodGet, "/v1/schema", nil).problem(http.StatusUnauthorized)
	s.admin.as(next.Secret).do(http.MethodGet, "/v1/schema", nil).want(http.StatusOK)

	rotate(map[string]any{"grace_period": 604800})
	mustWriteNothing(t, m, "rotations with too long a grace", func() {
		for _, g := range []any{604801, "169h", "-1s", -1} {
			if p := s.admin.do(http.MethodPost, "/v1/tokens/"+s.abc.roID+"/rotate", map[string]any{"grace_period": g}).
				problem(http.StatusUnprocessableEntity); len(p.Errors) != 1 || p.Errors[0].Field != "grace_period" {
				t.Errorf("grace_period %v: %+v", g, p)
			}
		}
	})
}

// TestWebhookSecretRotationEndsTheOldSecretAtOnce: a rotated signing
// secret stops signing at once unless a grace period is asked for.
func TestWebhookSecretRotationEndsTheOldSecretAtOnce(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, "LEADSVC_WEBHOOKS_ALLOW_PRIVATE", "true")
	s := mustSetup(t, m)
	rcv := newHookReceiver(t)
	hook := s.admin.do(http.MethodPost, "/v1/webhooks", map[string]any{"url": rcv.srv.URL + "/hooks", "campaign_id": s.campaignID,
		"event_types": []string{"lead.created"}}).want(http.StatusCreated).obj()
	id, first := str(hook, "id"), str(hook, "secret")
	signatures := func(n int, secrets ...string) {
		t.Helper()
		s.admin.do(http.MethodPost, "/v1/webhooks/"+id+"/test", nil).want(http.StatusAccepted)
		body, h := rcv.wait(t, n)
		if got := len(strings.Fields(h.Get("webhook-signature"))); got != len(secrets) {
			t.Fatalf("test event %d carries %d signatures, want %d: %q", n, got, len(secrets), h.Get("webhook-signature"))
		}
		for _, sec := range secrets {
			if !signedBy(sec, h, str(body, "raw")) {
				t.Fatalf("test event %d is not signed by %s…", n, sec[:10])
			}
		}
	}
	immediate := s.admin.do(http.MethodPost, "/v1/webhooks/"+id+"/rotate-secret", nil).want(http.StatusOK).obj()
	second := str(immediate, "secret")
	if second == first || immediate["previous_secret_valid_until"] != nil {
		t.Fatalf("an immediate rotation: %v", immediate)
	}
	signatures(1, second)
	graced := s.admin.do(http.MethodPost, "/v1/webhooks/"+id+"/rotate-secret", map[string]any{"grace_period": "1h"}).
		want(http.StatusOK).obj()
	if graced["previous_secret_valid_until"] == nil {
		t.Fatalf("a rotation with a grace period: %v", graced)
	}
	signatures(2, str(graced, "secret"), second)
	if p := s.admin.do(http.MethodPost, "/v1/webhooks/"+id+"/rotate-secret", map[string]any{"grace_period": "8d"}).
		problem(http.StatusUnprocessableEntity); !p.hasError("grace_period", "invalid_format") && !p.hasError("grace_period", "invalid_value") {
		t.Fatalf("a grace of 8 days: %+v", p)
	}
}

// TestConsoleRotationStopsTheOldSecretNow: the console's rotations, of a
// token and of a webhook's signing secret, offer "now" first and chosen,
// and end the old secret at once with it.
func TestConsoleRotationStopsTheOldSecretNow(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, "LEADSVC_WEBHOOKS_ALLOW_PRIVATE", "true")
	admin := mustAccount(t, m, "Acme")
	campaign := mustConsoleCampaign(t, admin, "Home energy")
	id, secret := mustToken(t, admin, map[string]any{"name": "CRM sync", "permissions": []string{"read"}})
	s := mustSignIn(t, m, admin.token)

	now := regexp.MustCompile(`<legend>Keep the old secret working\?</legend>\s*<label class="choice"><input type="radio" name="grace" value="0s" checked> No: it stops now</label>`)
	if p := s.get("/tokens/" + id + "/rotate"); !now.MatchString(p.Body) || strings.Count(p.Body, " checked") != 1 {
		t.Fatalf("the token's rotation does not offer \"now\" first and chosen:\n%s", p.Body)
	}
	p := s.post("/tokens/"+id+"/rotate", url.Values{"grace": {"0s"}}).want(http.StatusOK)
	if p.contains("keeps working until") || !p.contains("The old one no longer works.") {
		t.Fatalf("an immediate rotation does not say the old secret ended:\n%s", p.Body)
	}
	admin.as(secret).do(http.MethodGet, "/v1/leads", nil).problem(http.StatusUnauthorized)
	fresh := regexp.MustCompile(`id="token-secret" value="(lsk_\w+)"`).FindStringSubmatch(p.Body)[1]
	admin.as(fresh).do(http.MethodGet, "/v1/leads", nil).want(http.StatusOK)

	hook := str(admin.do(http.MethodPost, "/v1/webhooks", map[string]any{"url": "http://127.0.0.1:9/hooks", "campaign_id": campaign}).
		want(http.StatusCreated).obj(), "id")
	if p := s.get("/webhooks/" + hook); !p.contains(`href="/console/webhooks/` + hook + `/rotate-secret"`) {
		t.Fatalf("the webhook page does not ask before rotating:\n%s", p.Body)
	}
	if p := s.get("/webhooks/" + hook + "/rotate-secret"); !now.MatchString(p.Body) || strings.Count(p.Body, " checked") != 1 {
		t.Fatalf("the webhook's rotation does not offer \"now\" first and chosen:\n%s", p.Body)
	}
	s.post("/webhooks/"+hook+"/rotate-secret", url.Values{"grace": {"0s"}}).want(http.StatusOK)
	if got := admin.do(http.MethodGet, "/v1/webhooks/"+hook, nil).want(http.StatusOK).obj(); got["previous_secret_valid_until"] != nil {
		t.Fatalf("the webhook after an immediate rotation: %v", got)
	}
	s.post("/webhooks/"+hook+"/rotate-secret", url.Values{"grace": {"24h"}}).want(http.StatusOK)
	if got := admin.do(http.MethodGet, "/v1/webhooks/"+hook, nil).want(http.StatusOK).obj(); got["previous_secret_valid_until"] == nil {
		t.Fatalf("the webhook after a rotation with a grace: %v", got)
	}
}

// ownerToken is the id and account of the token a client holds.
func ownerToken(t *testing.T, m *Main, c *client) (tokenID, accountID string) {
	t.Helper()
	if err := m.Pool.QueryRow(context.Background(), `SELECT id::text, account_id::text FROM tokens
		WHERE secret_hash = sha256(convert_to($1, 'UTF8'))`, c.token).Scan(&tokenID, &accountID); err != nil {
		t.Fatal(err)
	}
	return tokenID, accountID
}

// liveAdmins counts the account's tokens that can administer it now.
func liveAdmins(t *testing.T, m *Main, accountID string) int {
	t.Helper()
	var n int
	if err := m.Pool.QueryRow(context.Background(), `SELECT count(*) FROM tokens WHERE account_id = $1 AND campaign_id IS NULL
		AND revoked_at IS NULL AND 'admin' = ANY(permissions) AND (expires_at IS NULL OR expires_at > now())`, accountID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// wantLastAdmin checks the refusal to end an account's last admin token.
func wantLastAdmin(t *testing.T, r reply, accountID string) {
	t.Helper()
	p := r.problem(http.StatusConflict)
	if p.Type != "urn:leadsvc:problem:last-admin-token" || !strings.Contains(p.Detail, "last admin token") ||
		!strings.Contains(p.Detail, "leadsvc token create --account "+accountID+" --name NAME --permissions read,write,admin") {
		t.Fatalf("%s: %+v; want the last-admin-token problem with the way back", r.req, p)
	}
}

// TestLastAdminTokenIsKept: the account's last live admin token can be
// neither revoked nor demoted; the refusal says why and how an operator
// makes another. Expired and revoked admin tokens do not count.
func TestLastAdminTokenIsKept(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	owner := mustAccount(t, m, "Acme")
	ownerID, account := ownerToken(t, m, owner)
	readerID, _ := mustToken(t, owner, map[string]any{"name": "Reporting", "permissions": []string{"read", "audit"}})
	shortID, short := mustToken(t, owner, map[string]any{"name": "Short admin", "permissions": []string{"admin"},
		"expires_at": time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)})
	goneID, _ := mustToken(t, owner, map[string]any{"name": "Gone admin", "permissions": []string{"admin"}})
	owner.do(http.MethodDelete, "/v1/tokens/"+goneID, nil).want(http.StatusOK)
	testenv.CheckFor(t, 10*time.Second, func() error {
		if r := owner.as(short).do(http.MethodGet, "/v1/campaigns", nil); r.Status != http.StatusUnauthorized {
			return fmt.Errorf("the short admin token answers %d, want 401 once expired", r.Status)
		}
		return nil
	})

	mustWriteNothing(t, m, "ending the last admin token", func() {
		wantLastAdmin(t, owner.do(http.MethodDelete, "/v1/tokens/"+ownerID, nil), account)
		wantLastAdmin(t, owner.do(http.MethodPatch, "/v1/tokens/"+ownerID, map[string]any{"permissions": []string{"read", "write", "audit"}}), account)
	})
	owner.do(http.MethodGet, "/v1/campaigns", nil).want(http.StatusOK)
	// What keeps admin, and what is not an admin, changes as before.
	owner.do(http.MethodPatch, "/v1/tokens/"+ownerID, map[string]any{"name": "Owner", "permissions": []string{"admin", "read"}}).want(http.StatusOK)
	owner.do(http.MethodDelete, "/v1/tokens/"+readerID, nil).want(http.StatusOK)
	owner.do(http.MethodDelete, "/v1/tokens/"+shortID, nil).want(http.StatusOK)

	// With a second admin, the first may go; then the second is the last.
	secondID, second := mustToken(t, owner, map[string]any{"name": "Second admin", "permissions": []string{"admin"}})
	owner.do(http.MethodDelete, "/v1/tokens/"+ownerID, nil).want(http.StatusOK)
	admin := owner.as(second)
	wantLastAdmin(t, admin.do(http.MethodDelete, "/v1/tokens/"+secondID, nil), account)
	wantLastAdmin(t, admin.do(http.MethodPatch, "/v1/tokens/"+secondID, map[string]any{"permissions": []string{"read"}}), account)
	if n := liveAdmins(t, m, account); n != 1 {
		t.Fatalf("%d live admin tokens, want 1", n)
	}
}

// TestLastTwoAdminTokensRevokedAtOnce: two admins revoking each other at
// the same moment, through the API and straight through the commands,
// never both succeed.
func TestLastTwoAdminTokensRevokedAtOnce(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	for round := range 5 {
		owner := mustAccount(t, m, fmt.Sprint("Acme ", round))
		ownerID, account := ownerToken(t, m, owner)
		aID, a := mustToken(t, owner, map[string]any{"name": "A", "permissions": []string{"admin"}})
		bID, b := mustToken(t, owner, map[string]any{"name": "B", "permissions": []string{"admin", "read"}})
		owner.do(http.MethodDelete, "/v1/tokens/"+ownerID, nil).want(http.StatusOK)
		// Each authenticates once first, so that both requests reach
		// their commands.
		owner.as(a).do(http.MethodGet, "/v1/tokens/"+bID, nil).want(http.StatusOK)
		owner.as(b).do(http.MethodGet, "/v1/tokens/"+aID, nil).want(http.StatusOK)
		var wg sync.WaitGroup
		start := make(chan struct{})
		status := make([]int, 2)
		for i, pair := range [][2]string{{a, bID}, {b, aID}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				status[i] = owner.as(pair[0]).do(http.MethodDelete, "/v1/tokens/"+pair[1], nil).Status
			}()
		}
		close(start)
		wg.Wait()
		if status[0] == http.StatusOK && status[1] == http.StatusOK {
			t.Fatalf("round %d: both last admin tokens were revoked", round)
		}
		if n := liveAdmins(t, m, account); n != 1 {
			t.Fatalf("round %d: answers %v left %d live admin tokens, want 1", round, status, n)
		}
	}

	// Straight through the commands, with no request in between.
	for round := range 10 {
		res, err := m.Commands.CreateAccount.Handle(context.Background(), commands.CreateAccount{Name: fmt.Sprint("Globex ", round)})
		if err != nil {
			t.Fatal(err)
		}
		acct := res.Account.ID
		second, err := m.Commands.CreateToken.Handle(context.Background(), commands.CreateToken{AccountID: acct, Name: "Second",
			Permissions: []domain.Permission{domain.PermAdmin}})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, 2)
		for i, id := range []uuid.UUID{res.Token.ID, second.Token.ID} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = m.Commands.RevokeToken.Handle(context.Background(), commands.RevokeToken{AccountID: acct, TokenID: id})
			}()
		}
		close(start)
		wg.Wait()
		var last *commands.LastAdminError
		if (errs[0] == nil) == (errs[1] == nil) || !(errors.As(errs[0], &last) || errors.As(errs[1], &last)) {
			t.Fatalf("round %d: concurrent revocations of the last two admin tokens: %v; want one revoked, one refused", round, errs)
		}
		if n := liveAdmins(t, m, acct.String()); n != 1 {
			t.Fatalf("round %d: %d live admin tokens, want 1", round, n)
		}
	}
}

// TestConsoleRefusesToRevokeTheLastAdminToken: revoking the account's
// last admin token from the console is refused with the reason, and
// changes nothing.
func TestConsoleRefusesToRevokeTheLastAdminToken(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	owner := mustAccount(t, m, "Acme")
	ownerID, _ := ownerToken(t, m, owner)
	s := mustSignIn(t, m, owner.token)
	s.get("/tokens/" + ownerID + "/revoke").want(http.StatusOK)
	mustWriteNothing(t, m, "revoking the last admin token in the console", func() {
		p := s.post("/tokens/"+ownerID+"/revoke", nil).want(http.StatusConflict)
		if !p.contains("last admin token, so it was not revoked") || !p.contains("Make another account token with the admin permission first") {
			t.Fatalf("the refusal does not say why:\n%s", p.Body)
		}
	})
	s.get("/tokens").want(http.StatusOK)
	owner.do(http.MethodGet, "/v1/campaigns", nil).want(http.StatusOK)

	// With another admin, it goes, and its session with it.
	mustToken(t, owner, map[string]any{"name": "Second admin", "permissions": []string{"admin"}})
	s.get("/tokens/" + ownerID + "/revoke").want(http.StatusOK)
	s.post("/tokens/"+ownerID+"/revoke", nil).wantRedirect("/console/tokens?notice=token_revoked")
	owner.do(http.MethodGet, "/v1/campaigns", nil).problem(http.StatusUnauthorized)
	s.get("/tokens").wantRedirect("/console/login")
}
