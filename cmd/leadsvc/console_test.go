package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadsvc/leadsvc/api/console"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// mustConsoleCampaign creates, through the API, a campaign with a required
// name and a Source select that has one option, "website".
func mustConsoleCampaign(t *testing.T, admin *client, name string) string {
	t.Helper()
	var c struct {
		ID string `json:"id"`
	}
	admin.do(http.MethodPost, "/v1/campaigns", map[string]any{
		"name": name,
		"fields": []map[string]any{
			{"key": "name", "label": "Name", "type": "text", "required": true},
			{"key": "source", "label": "Source", "type": "select", "select": "source", "required": true},
			{"key": "budget", "label": "Budget", "type": "number"},
		},
		"selects":  []map[string]any{{"key": "source", "label": "Source", "options": []map[string]string{{"value": "website", "label": "Website"}}}},
		"statuses": []map[string]string{{"slug": "new", "label": "New"}, {"slug": "won", "label": "Won"}},
	}).want(http.StatusCreated).into(&c)
	return c.ID
}

// mustLead creates a lead through the API and waits until the lead views
// show it.
func mustLead(t *testing.T, c *client, campaignID string, fields map[string]any) string {
	t.Helper()
	body := map[string]any{"fields": fields}
	if campaignID != "" {
		body["campaign_id"] = campaignID
	}
	r := c.do(http.MethodPost, "/v1/leads", body).want(http.StatusCreated)
	id := str(r.obj(), "id")
	c.do(http.MethodGet, "/v1/leads/"+id, nil, "Leadsvc-Min-Position", r.Header.Get("Leadsvc-Position")).want(http.StatusOK)
	return id
}

// mustToken creates a token through the API and returns its id and secret.
func mustToken(t *testing.T, admin *client, body map[string]any) (id, secret string) {
	t.Helper()
	o := admin.do(http.MethodPost, "/v1/tokens", body).want(http.StatusCreated).obj()
	return str(o, "id"), str(o, "secret")
}

func TestConsoleRefusesFormsWithoutTheSessionsCSRFToken(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	admin := mustAccount(t, m, "Acme")
	campaign := mustConsoleCampaign(t, admin, "Home energy")
	s := mustSignIn(t, m, admin.token)
	other := mustSignIn(t, m, admin.token)
	s.get("/campaigns/" + campaign).want(http.StatusOK)
	other.get("/campaigns").want(http.StatusOK)
	if s.csrf == "" || s.csrf == other.csrf {
		t.Fatalf("CSRF tokens %q and %q: want one per session", s.csrf, other.csrf)
	}
	option := func(csrf ...string) url.Values {
		v := url.Values{"option.label": {"Partner ABC"}, "option.value": {"partner-abc"}}
		if len(csrf) > 0 {
			v.Set("csrf", csrf[0])
		}
		return v
	}
	before := countEvents(t, m)
	for name, form := range map[string]url.Values{
		"no token":          option(""),
		"another session's": option(other.csrf),
		// Its first character changed, whatever it was.
		"a token of no session": option(string("xy"[strings.Count(s.csrf[:1], "x")]) + s.csrf[1:]),
	} {
		p := s.post("/campaigns/"+campaign+"/selects/source/options", form).want(http.StatusForbidden)
		if !p.contains("nothing was changed") {
			t.Errorf("%s: the refusal does not say nothing changed:\n%s", name, p.Body)
		}
	}
	// A form posted from another site is refused even with the token.
	req, _ := http.NewRequest(http.MethodPost, s.base+console.Prefix+"/campaigns/"+campaign+"/selects/source/options",
		strings.NewReader(option(s.csrf).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	s.do(req).want(http.StatusForbidden)
	// Sign-out and sign-in are forms too.
	s.post("/logout", url.Values{"csrf": {""}}).want(http.StatusForbidden)
	fresh := newConsoleSession(t, m)
	fresh.post("/login", url.Values{"token": {admin.token}}).want(http.StatusForbidden)
	if got := countEvents(t, m); got != before {
		t.Fatalf("events %d → %d: a refused form changed something", before, got)
	}

	s.post("/campaigns/"+campaign+"/selects/source/options", option()).wantRedirect("/console/campaigns/" + campaign)
	if got := countEvents(t, m); got != before+1 {
		t.Fatalf("events %d → %d after one accepted form, want one more", before, got)
	}
	if p := s.get("/campaigns/" + campaign); !p.contains("Partner ABC <code>partner-abc</code>") {
		t.Fatalf("the new option is not on the campaign page:\n%s", p.Body)
	}
}

func TestConsoleShowsLeadDataEscaped(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	admin := mustAccount(t, m, "Acme")
	campaign := mustConsoleCampaign(t, admin, "Home energy")
	const evil = `<script>alert("x")</script><img src=x onerror=alert(1)>`
	lead := mustLead(t, admin, campaign, map[string]any{"name": evil, "source": "website"})
	up := admin.upload("/v1/leads/"+lead+"/files", "file", "a/b>.html", "text/html", []byte(evil)).want(http.StatusCreated)
	admin.do(http.MethodGet, "/v1/leads/"+lead, nil, "Leadsvc-Min-Position", up.Header.Get("Leadsvc-Position")).want(http.StatusOK)
	file := str(up.obj(), "id")
	s := mustSignIn(t, m, admin.token)
	// A file is an attachment that runs nothing, whatever its type.
	dl := s.get("/leads/" + lead + "/files/" + file).want(http.StatusOK)
	if dl.Body != evil || !strings.HasPrefix(dl.Header.Get("Content-Disposition"), "attachment") ||
		!strings.Contains(dl.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("the download: %q, headers %v", dl.Body, dl.Header)
	}
	if p := s.get("/leads/" + lead); !p.contains(">b&gt;.html</a>") {
		t.Fatalf("the lead page does not show the file's name escaped:\n%s", p.Body)
	}
	for _, path := range []string{"/leads/" + lead, "/campaigns/" + campaign + "/leads"} {
		p := s.get(path).want(http.StatusOK)
		if strings.Contains(p.Body, "<script>alert") || strings.Contains(p.Body, "<img src=x") {
			t.Fatalf("%s holds the lead's markup unescaped", path)
		}
		if !p.contains("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;") {
			t.Fatalf("%s does not show the escaped value:\n%s", path, p.Body)
		}
	}
	if csp := s.get("/leads/" + lead).Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("Content-Security-Policy %q: want scripts from the console only", csp)
	}
}

func TestConsoleSignInTakesOnlyAccountAdminTokens(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	admin := mustAccount(t, m, "Acme")
	campaign := mustConsoleCampaign(t, admin, "Home energy")
	_, partner := mustToken(t, admin, map[string]any{"name": "Partner ABC", "campaign_id": campaign, "filter_id": nil, "permissions": []string{"read", "write"}})
	_, reader := mustToken(t, admin, map[string]any{"name": "Reporting", "permissions": []string{"read", "audit"}})
	revokedID, revoked := mustToken(t, admin, map[string]any{"name": "Old admin", "permissions": []string{"admin"}})
	admin.do(http.MethodDelete, "/v1/tokens/"+revokedID, nil).want(http.StatusOK)
	for _, tc := range []struct {
		name   string
		token  string
		status int
		says   string
	}{
		{"a partner's campaign token", partner, http.StatusForbidden, "campaign token"},
		{"an account token without admin", reader, http.StatusForbidden, "lacks the admin permission"},
		{"a revoked admin token", revoked, http.StatusUnauthorized, "not valid"},
		{"no token", "", http.StatusUnprocessableEntity, "Paste"},
		{"not a token", "hunter2", http.StatusUnauthorized, "not valid"},
	} {
		s := newConsoleSession(t, m)
		p := s.signIn(tc.token).want(tc.status)
		if !p.contains(tc.says) || !p.contains(`aria-invalid="true"`) {
			t.Errorf("%s: the sign-in page does not say why next to the input:\n%s", tc.name, p.Body)
		}
		for _, c := range s.http.Jar.Cookies(&url.URL{Scheme: "http", Host: m.Addr(), Path: console.Prefix + "/"}) {
			if c.Name == console.SessionCookie {
				t.Errorf("%s: a session cookie was set", tc.name)
			}
		}
		s.get("/campaigns").wantRedirect("/console/login")
	}
}

func TestConsoleSessionCookieAndExpiry(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, "LEADSVC_PUBLIC_URL", "https://leads.example.com")
	admin := mustAccount(t, m, "Acme")
	s := newConsoleSession(t, m)
	p := s.signIn(admin.token).wantRedirect("/console/campaigns")
	var cookie string
	for _, c := range p.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, console.SessionCookie+"=") {
			cookie = c
		}
	}
	for _, attr := range []string{"Path=/console", "HttpOnly", "Secure", "SameSite=Strict", "Max-Age=86400"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("session cookie %q lacks %s", cookie, attr)
		}
	}
	id := strings.TrimPrefix(strings.SplitN(cookie, ";", 2)[0], console.SessionCookie+"=")
	var stored int
	if err := m.Pool.QueryRow(context.Background(), `SELECT count(*) FROM console_sessions
		WHERE id_hash = sha256(convert_to($1, 'UTF8'))`, id).Scan(&stored); err != nil || stored != 1 {
		t.Fatalf("sessions stored under the id's hash: %d, %v; want 1", stored, err)
	}
	var clear int
	if err := m.Pool.QueryRow(context.Background(), `SELECT count(*) FROM console_sessions
		WHERE position(convert_to($1, 'UTF8') in id_hash) > 0`, id).Scan(&clear); err != nil || clear != 0 {
		t.Fatalf("the session id is stored in clear: %d, %v", clear, err)
	}
}

func TestConsoleSessionEndsWithItsTokenAndOnSignOut(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	admin := mustAccount(t, m, "Acme")
	secondID, second := mustToken(t, admin, map[string]any{"name": "Second admin", "permissions": []string{"admin", "read"}})
	thirdID, third := mustToken(t, admin, map[string]any{"name": "Third admin", "permissions": []string{"admin"}})

	s := mustSignIn(t, m, second)
	s.get("/campaigns").want(http.StatusOK)
	admin.do(http.MethodDelete, "/v1/tokens/"+secondID, nil).want(http.StatusOK)
	s.get("/campaigns").wantRedirect("/console/login?next=%2Fconsole%2Fcampaigns&reason=ended")
	before := countEvents(t, m)
	s.post("/tokens", url.Values{"name": {"sneaky"}, "permissions": {"admin"}}).wantRedirect("/console/login")
	if got := countEvents(t, m); got != before {
		t.Fatalf("a revoked token's session wrote %d events", got-before)
	}

	// Taking admin away ends the session too.
	s3 := mustSignIn(t, m, third)
	admin.do(http.MethodPatch, "/v1/tokens/"+thirdID, map[string]any{"permissions": []string{"read"}}).want(http.StatusOK)
	s3.get("/campaigns").wantRedirect("/console/login?next=%2Fconsole%2Fcampaigns&reason=ended")

	owner := mustSignIn(t, m, admin.token)
	owner.get("/campaigns").want(http.StatusOK)
	owner.post("/logout", nil).wantRedirect("/console/login?reason=signedout")
	owner.get("/campaigns").wantRedirect("/console/login")
	if p := newConsoleSession(t, m).get("/login?reason=signedout"); !p.contains("You are signed out") {
		t.Fatalf("the sign-in page after signing out:\n%s", p.Body)
	}
}

func TestConsoleSessionNeverSeesAnotherAccount(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	acme, globex := mustAccount(t, m, "Acme"), mustAccount(t, m, "Globex")
	theirCampaign := mustConsoleCampaign(t, globex, "Globex secret campaign")
	theirLead := mustLead(t, globex, theirCampaign, map[string]any{"name": "Globex customer", "source": "website"})
	theirFilter := str(globex.do(http.MethodPost, "/v1/campaigns/"+theirCampaign+"/filters",
		map[string]any{"name": "Web", "conditions": []map[string]any{{"field": "source", "op": "eq", "value": "website"}}}).
		want(http.StatusCreated).obj(), "id")
	theirToken, _ := mustToken(t, globex, map[string]any{"name": "Globex partner", "campaign_id": theirCampaign, "filter_id": nil, "permissions": []string{"read"}})
	mustConsoleCampaign(t, acme, "Acme campaign")

	s := mustSignIn(t, m, acme.token)
	for _, path := range []string{"/campaigns", "/tokens"} {
		if p := s.get(path).want(http.StatusOK); p.contains("Globex") {
			t.Errorf("%s shows another account's data", path)
		}
	}
	for _, path := range []string{"/campaigns/" + theirCampaign, "/campaigns/" + theirCampaign + "/filters",
		"/campaigns/" + theirCampaign + "/filters/new", "/campaigns/" + theirCampaign + "/tokens",
		"/campaigns/" + theirCampaign + "/webhooks", "/campaigns/" + theirCampaign + "/leads", "/filters/" + theirFilter,
		"/leads/" + theirLead, "/tokens/" + theirToken + "/preview", "/tokens/" + theirToken + "/revoke"} {
		if p := s.get(path).want(http.StatusNotFound); p.contains("Globex") {
			t.Errorf("%s: the 404 names the other account's data", path)
		}
	}
	s.get("/campaigns").want(http.StatusOK)
	mustWriteNothing(t, m, "posts to another account's ids", func() {
		for _, path := range []string{"/tokens/" + theirToken + "/reveal", "/tokens/" + theirToken + "/revoke",
			"/tokens/" + theirToken + "/rotate", "/filters/" + theirFilter + "/delete", "/campaigns/" + theirCampaign + "/rename"} {
			if p := s.post(path, url.Values{"name": {"mine now"}}).want(http.StatusNotFound); strings.Contains(p.Body, "lsk_") {
				t.Errorf("POST %s leaked a secret", path)
			}
		}
	})
}

// TestConsoleSetUpAPartnerWithoutJavaScript runs the partner setup with
// plain form posts: the server alone validates, shows errors at their
// inputs and makes the same changes as the API; the preview lists exactly
// what the partner's GET /v1/leads does.
func TestConsoleSetUpAPartnerWithoutJavaScript(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	admin := mustAccount(t, m, "Acme")
	campaign := mustConsoleCampaign(t, admin, "Home energy")
	s := mustSignIn(t, m, admin.token)

	// An option with a bad value: the error is at its input, nothing written.
	p := s.post("/campaigns/"+campaign+"/selects/source/options", url.Values{"option.label": {"Partner ABC"}, "option.value": {"website"}}).
		want(http.StatusUnprocessableEntity)
	if !p.contains(`id="f-opt-source-value-err"`) || !p.contains(`href="#f-opt-source-value"`) || !p.contains("“Website” is already an option of Source.") {
		t.Fatalf("the duplicate option's error is not at its input:\n%s", p.Body)
	}
	s.post("/campaigns/"+campaign+"/selects/source/options", url.Values{"option.label": {"Partner ABC"}}).
		wantRedirect("/console/campaigns/" + campaign)

	// The editor offers the campaign's fields, the operators of each type
	// and the select's options.
	p = s.get("/campaigns/" + campaign + "/filters/new").want(http.StatusOK)
	for _, want := range []string{`<option value="source">Source (source)</option>`, `<option value="status">Status</option>`,
		`"partner-abc"`, `"Partner ABC"`} {
		if !p.contains(want) {
			t.Errorf("the filter editor lacks %s", want)
		}
	}
	// Picking a field shows its choices (the "Update choices" button,
	// which the script replaces by doing it at once).
	p = s.post("/campaigns/"+campaign+"/filters", url.Values{"rows": {"1"}, "action": {"refresh"}, "name": {"Partner ABC"},
		"conditions[0].field": {"source"}}).want(http.StatusOK)
	if !p.contains(`<option value="partner-abc">Partner ABC</option>`) || !regexp.MustCompile(`<option value="gt" hidden disabled>`).MatchString(p.Body) {
		t.Fatalf("after picking source, the editor does not offer its options and hide gt:\n%s", p.Body)
	}
	before := countEvents(t, m)
	p = s.post("/campaigns/"+campaign+"/filters", url.Values{"rows": {"2"}, "name": {"Partner ABC"},
		"conditions[0].field": {"source"}, "conditions[0].op": {"eq"}, "conditions[0].choice": {"partner-abc"},
		"conditions[1].field": {"budget"}, "conditions[1].op": {"gte"}, "conditions[1].value": {"lots"}}).
		want(http.StatusUnprocessableEntity)
	if !p.contains(`id="f-conditions-1-value" name="conditions[1].value" aria-invalid="true"`) || !p.contains(`&#34;lots&#34; is not a number`) {
		t.Fatalf("the bad number's error is not at its input:\n%s", p.Body)
	}
	p = s.post("/campaigns/"+campaign+"/filters", url.Values{"rows": {"2"}, "name": {"Partner ABC"},
		"conditions[0].field": {"source"}, "conditions[0].op": {"contains"}, "conditions[0].choice": {"partner-abc"}}).
		want(http.StatusUnprocessableEntity)
	if !p.contains(`id="f-conditions-0-op-err"`) {
		t.Fatalf("an operator that does not fit is not refused at its input:\n%s", p.Body)
	}
	if got := countEvents(t, m); got != before {
		t.Fatalf("refused filters wrote %d events", got-before)
	}
	p = s.post("/campaigns/"+campaign+"/filters", url.Values{"rows": {"2"}, "name": {"Partner ABC"}, "idem": {"0123456789abcdef0123"},
		"conditions[0].field": {"source"}, "conditions[0].op": {"eq"}, "conditions[0].choice": {"partner-abc"}}).
		wantRedirect("/console/campaigns/" + campaign + "/filters")
	var filters struct {
		Data []struct {
			ID      string   `json:"id"`
			Explain []string `json:"explain"`
		} `json:"data"`
	}
	admin.do(http.MethodGet, "/v1/campaigns/"+campaign+"/filters", nil).want(http.StatusOK).into(&filters)
	if len(filters.Data) != 1 || !slices.Equal(filters.Data[0].Explain, []string{"source = Partner ABC (partner-abc)"}) {
		t.Fatalf("filters through the API: %+v", filters.Data)
	}
	// The same form sent again (a double click) makes no second filter.
	s.post("/campaigns/"+campaign+"/filters", url.Values{"rows": {"2"}, "name": {"Partner ABC"}, "idem": {"0123456789abcdef0123"},
		"conditions[0].field": {"source"}, "conditions[0].op": {"eq"}, "conditions[0].choice": {"partner-abc"}}).
		wantRedirect("/console/campaigns/" + campaign + "/filters")
	admin.do(http.MethodGet, "/v1/campaigns/"+campaign+"/filters", nil).want(http.StatusOK).into(&filters)
	if len(filters.Data) != 1 {
		t.Fatalf("a resent form made %d filters", len(filters.Data))
	}
	filter := filters.Data[0].ID

	p = s.post("/campaigns/"+campaign+"/tokens", url.Values{"name": {""}, "access": {"read"}, "filter_id": {filter},
		"expires_at": {"2001-01-01T00:00"}}).want(http.StatusUnprocessableEntity)
	if !p.contains(`id="f-name-err"`) || !p.contains(`id="f-expires-at-err"`) {
		t.Fatalf("the token form's errors are not at their inputs:\n%s", p.Body)
	}
	p = s.post("/campaigns/"+campaign+"/tokens", url.Values{"name": {"Partner ABC – read only"}, "access": {"read"},
		"filter_id": {filter}}).wantRedirect("/console/campaigns/" + campaign + "/tokens?notice=token_created&new=")
	tokenID := regexp.MustCompile(`new=([0-9a-f-]{36})`).FindStringSubmatch(p.Location)[1]
	p = s.get("/campaigns/" + campaign + "/tokens").want(http.StatusOK)
	if !p.contains("Partner ABC – read only") || !p.contains("source = Partner ABC (partner-abc)") || !p.contains(">Read<") {
		t.Fatalf("the token list lacks the token, its access or its filter:\n%s", p.Body)
	}
	docs := regexp.MustCompile(`data-docs-url="([^"]+)"`).FindStringSubmatch(p.Body)
	if docs == nil {
		t.Fatal("no documentation link on the token's row")
	}
	p = s.post("/tokens/"+tokenID+"/reveal", nil).want(http.StatusOK)
	secret := regexp.MustCompile(`id="token-secret" value="(lsk_[0-9A-Za-z]+)"`).FindStringSubmatch(p.Body)
	if secret == nil {
		t.Fatalf("Show did not show the secret:\n%s", p.Body)
	}
	partner := admin.as(secret[1])

	mustLead(t, admin, campaign, map[string]any{"name": "Web visitor", "source": "website"})
	mustLead(t, admin, campaign, map[string]any{"name": "Ada", "source": "partner-abc"})
	mustLead(t, admin, campaign, map[string]any{"name": "Grace", "source": "partner-abc"})
	var api struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	partner.do(http.MethodGet, "/v1/leads", nil).want(http.StatusOK).into(&api)
	var want []string
	for _, l := range api.Data {
		want = append(want, l.ID)
	}
	p = s.get("/tokens/" + tokenID + "/preview").want(http.StatusOK)
	var got []string
	for _, m := range regexp.MustCompile(`data-lead-id="([0-9a-f-]{36})"`).FindAllStringSubmatch(p.Body, -1) {
		got = append(got, m[1])
	}
	if len(want) != 2 || !slices.Equal(got, want) {
		t.Fatalf("the preview lists %v, the partner's GET /v1/leads %v (want the same two)", got, want)
	}
	if p.contains("Web visitor") {
		t.Fatal("the preview shows a lead outside the filter")
	}
	resp, err := http.Get("http://" + m.Addr() + urlPath(t, docs[1]))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the docs link answers %d", resp.StatusCode)
	}

	// Events of the console name the signed-in token as their actor.
	var actor string
	if err := m.Pool.QueryRow(context.Background(), `SELECT metadata->>'actor_token_id' FROM events
		WHERE event_type = 'token.revealed' ORDER BY position DESC LIMIT 1`).Scan(&actor); err != nil {
		t.Fatal(err)
	}
	var ownerID string
	if err := m.Pool.QueryRow(context.Background(), `SELECT id::text FROM tokens WHERE name = 'Owner'
		AND account_id = (SELECT account_id FROM tokens WHERE id = $1)`, tokenID).Scan(&ownerID); err != nil {
		t.Fatal(err)
	}
	if actor != ownerID {
		t.Fatalf("token.revealed's actor %q, want the signed-in token %s", actor, ownerID)
	}

	// Revoke asks first, then ends the token.
	if p := s.get("/tokens/" + tokenID + "/revoke").want(http.StatusOK); !p.contains("cannot be undone") {
		t.Fatalf("no confirmation before revoking:\n%s", p.Body)
	}
	s.post("/tokens/"+tokenID+"/revoke", nil).wantRedirect("/console/campaigns/" + campaign + "/tokens?notice=token_revoked")
	partner.do(http.MethodGet, "/v1/leads", nil).want(http.StatusUnauthorized)
	if p := s.get("/tokens/" + tokenID + "/preview"); !p.contains("401 Unauthorized") {
		t.Fatalf("the preview of a revoked token:\n%s", p.Body)
	}
}

func TestConsoleWebhookPages(t *testing.T) {
	t.Parallel()
	var received atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)
	m := mustRunMain(t, "LEADSVC_WEBHOOKS_ALLOW_PRIVATE", "true")
	admin := mustAccount(t, m, "Acme")
	campaign := mustConsoleCampaign(t, admin, "Home energy")
	s := mustSignIn(t, m, admin.token)

	s.get("/campaigns/" + campaign + "/webhooks/new").want(http.StatusOK)
	p := s.post("/campaigns/"+campaign+"/webhooks", url.Values{"url": {"ftp://nope"}}).want(http.StatusUnprocessableEntity)
	if !p.contains(`id="f-url-err"`) {
		t.Fatalf("the bad URL's error is not at its input:\n%s", p.Body)
	}
	p = s.post("/campaigns/"+campaign+"/webhooks", url.Values{"url": {recv.URL + "/hook"}, "event_types": {"lead.created"}}).
		want(http.StatusCreated)
	if !regexp.MustCompile(`id="webhook-secret" value="whsec_`).MatchString(p.Body) {
		t.Fatalf("the signing secret is not shown once:\n%s", p.Body)
	}
	var hooks struct {
		Data []struct {
			ID         string   `json:"id"`
			EventTypes []string `json:"event_types"`
		} `json:"data"`
	}
	admin.do(http.MethodGet, "/v1/webhooks", nil).want(http.StatusOK).into(&hooks)
	if len(hooks.Data) != 1 || !slices.Equal(hooks.Data[0].EventTypes, []string{"lead.created"}) {
		t.Fatalf("webhooks through the API: %+v", hooks.Data)
	}
	hook := hooks.Data[0].ID
	if p := s.get("/campaigns/" + campaign + "/webhooks"); !p.contains(recv.URL + "/hook") {
		t.Fatalf("the list lacks the webhook:\n%s", p.Body)
	}
	s.get("/webhooks/" + hook).want(http.StatusOK)
	s.post("/webhooks/"+hook+"/test", nil).wantRedirect("/console/webhooks/" + hook + "?notice=webhook_test")
	testenv.CheckFor(t, 15*time.Second, func() error {
		if p := s.get("/webhooks/" + hook); !p.contains("<code>webhook.test</code>") || !p.contains("delivered") {
			return errNotYet("the test delivery")
		}
		return nil
	})
	id := regexp.MustCompile(`name="delivery_id" value="(\d+)"`).FindStringSubmatch(s.get("/webhooks/" + hook).Body)
	if id == nil {
		t.Fatal("no Redeliver button on the delivery")
	}
	s.post("/webhooks/"+hook+"/redeliver", url.Values{"delivery_id": {id[1]}}).wantRedirect("/console/webhooks/" + hook + "?notice=redelivered")
	testenv.CheckFor(t, 15*time.Second, func() error {
		if received.Load() < 2 {
			return errNotYet("the redelivery")
		}
		return nil
	})
	s.post("/webhooks/"+hook+"/enabled", url.Values{"enabled": {"false"}}).wantRedirect("/console/webhooks/" + hook)
	if p := s.get("/webhooks/" + hook); !p.contains("disabled") || p.contains("Send a test event") {
		t.Fatalf("a disabled webhook's page:\n%s", p.Body)
	}
	s.post("/webhooks/"+hook+"/delete", nil).wantRedirect("/console/campaigns/" + campaign + "/webhooks?notice=webhook_deleted")
	admin.do(http.MethodGet, "/v1/webhooks/"+hook, nil).want(http.StatusNotFound)
}

type errNotYet string

func (e errNotYet) Error() string { return string(e) + " has not happened yet" }

// TestDemoPrintsTheConsole: `leadsvc demo` tells a newcomer where the
// console is and which token signs in.
func TestDemoPrintsTheConsole(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	code, out, errOut := runCLI(t, env, "demo")
	if code != 0 {
		t.Fatalf("demo: exit %d: %s", code, errOut)
	}
	if !regexp.MustCompile(`Console: http://\S+/console \(sign in with the Demo admin token\)`).MatchString(out) {
		t.Fatalf("demo does not print the console:\n%s", out)
	}
}

// TestConsoleCampaignsFiltersAndTokensEndToEnd covers the other forms: a
// new campaign (errors of its rows at their inputs), each schema change,
// a filter edited (a stale edit is refused) and deleted after a
// confirmation, an account token, and a rotation.
func TestConsoleCampaignsFiltersAndTokensEndToEnd(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	admin := mustAccount(t, m, "Acme")
	s := mustSignIn(t, m, admin.token)
	s.get("/campaigns/new").want(http.StatusOK)

	form := url.Values{"name": {"Solar"}, "nfields": {"3"},
		"fields[0].label": {"Name"}, "fields[0].type": {"text"}, "fields[0].required": {"true"},
		// fields[1] is left blank: the error below is about fields[2].
		"fields[2].key": {"Bad Key"}, "fields[2].label": {"Source"}, "fields[2].type": {"select"}, "fields[2].options": {"Website\nPartner ABC"},
		"statuses": {"New\nWon"}}
	p := s.post("/campaigns", form).want(http.StatusUnprocessableEntity)
	if !p.contains(`id="f-fields-2-key" name="fields[2].key" aria-invalid="true"`) || !p.contains(`href="#f-fields-2-key"`) {
		t.Fatalf("the bad key's error is not at the input of its row:\n%s", p.Body)
	}
	form.Set("action", "add_field")
	if p := s.post("/campaigns", form).want(http.StatusOK); !p.contains(`name="fields[3].key"`) || !p.contains(`value="Bad Key"`) {
		t.Fatalf("Add another field did not keep the form and add a row:\n%s", p.Body)
	}
	form.Del("action")
	form.Del("fields[2].key") // made from the label: source
	p = s.post("/campaigns", form).wantRedirect("/console/campaigns/")
	campaign := regexp.MustCompile(`/console/campaigns/([0-9a-f-]{36})`).FindStringSubmatch(p.Location)[1]
	var camp struct {
		Name    string                 `json:"name"`
		Fields  []struct{ Key string } `json:"fields"`
		Selects []struct {
			Options []struct{ Value, Label string } `json:"options"`
		} `json:"selects"`
		Statuses []struct{ Slug string } `json:"statuses"`
	}
	admin.do(http.MethodGet, "/v1/campaigns/"+campaign, nil).want(http.StatusOK).into(&camp)
	if len(camp.Fields) != 2 || camp.Fields[1].Key != "source" || len(camp.Statuses) != 2 || camp.Statuses[1].Slug != "won" ||
		len(camp.Selects) != 1 || camp.Selects[0].Options[1].Value != "partner-abc" {
		t.Fatalf("the campaign through the API: %+v", camp)
	}

	s.get("/campaigns/" + campaign).want(http.StatusOK)
	s.post("/campaigns/"+campaign+"/fields", url.Values{"index": {"2"}, "fields[2].key": {"budget"}, "fields[2].label": {"Budget"},
		"fields[2].type": {"number"}}).wantRedirect("/console/campaigns/" + campaign + "?notice=field_added")
	p = s.post("/campaigns/"+campaign+"/fields", url.Values{"index": {"3"}, "fields[3].key": {"budget"}, "fields[3].label": {"Again"},
		"fields[3].type": {"number"}}).want(http.StatusUnprocessableEntity)
	if !p.contains(`id="f-fields-3-key-err"`) || !p.contains("Another field already has the key “budget”.") {
		t.Fatalf("a second field budget is not refused at its input:\n%s", p.Body)
	}
	s.post("/campaigns/"+campaign+"/selects", url.Values{"index": {"1"}, "selects[1].key": {"interest"}, "selects[1].label": {"Interest"},
		"selects[1].options": {"Solar\nHeat pump"}}).wantRedirect("/console/campaigns/" + campaign + "?notice=select_added")
	s.post("/campaigns/"+campaign+"/statuses", url.Values{"index": {"2"}, "statuses[2].label": {"Call back"}}).
		wantRedirect("/console/campaigns/" + campaign + "?notice=status_added")
	s.post("/campaigns/"+campaign+"/rename", url.Values{"name": {"Solar 2027"}}).wantRedirect("/console/campaigns/" + campaign)
	admin.do(http.MethodGet, "/v1/campaigns/"+campaign, nil).want(http.StatusOK).into(&camp)
	if camp.Name != "Solar 2027" || len(camp.Fields) != 3 || len(camp.Selects) != 2 || camp.Statuses[2].Slug != "call_back" {
		t.Fatalf("the campaign after the changes: %+v", camp)
	}

	s.post("/campaigns/"+campaign+"/filters", url.Values{"rows": {"1"}, "name": {"Big"},
		"conditions[0].field": {"budget"}, "conditions[0].op": {"between"}, "conditions[0].value": {"1000"}, "conditions[0].value2": {"5000"}}).
		wantRedirect("/console/campaigns/" + campaign + "/filters")
	var filters struct {
		Data []struct {
			ID      string   `json:"id"`
			Explain []string `json:"explain"`
			Version int      `json:"version"`
		} `json:"data"`
	}
	admin.do(http.MethodGet, "/v1/campaigns/"+campaign+"/filters", nil).want(http.StatusOK).into(&filters)
	if len(filters.Data) != 1 || filters.Data[0].Explain[0] != "budget is between 1000 and 5000" {
		t.Fatalf("filters: %+v", filters.Data)
	}
	filter := filters.Data[0].ID
	if p := s.get("/filters/" + filter); !p.contains(`value="1000"`) || !p.contains(`value="5000"`) || !p.contains(`<option value="between" selected>`) {
		t.Fatalf("the editor does not show the saved condition:\n%s", p.Body)
	}
	stale := url.Values{"rows": {"1"}, "name": {"Big"}, "version": {"1"}, "conditions[0].field": {"status"},
		"conditions[0].op": {"in"}, "conditions[0].choice": {"new", "won"}}
	s.post("/filters/"+filter, stale).wantRedirect("/console/campaigns/" + campaign + "/filters?notice=filter_saved")
	if p := s.post("/filters/"+filter, stale).want(http.StatusConflict); !p.contains("changed this at the same time") {
		t.Fatalf("a stale edit:\n%s", p.Body)
	}
	admin.do(http.MethodGet, "/v1/filters/"+filter, nil).want(http.StatusOK)
	if p := s.get("/filters/" + filter + "/delete"); !p.contains("Delete the filter “Big”?") {
		t.Fatalf("no confirmation before deleting:\n%s", p.Body)
	}
	s.post("/filters/"+filter+"/delete", nil).wantRedirect("/console/campaigns/" + campaign + "/filters?notice=filter_deleted")
	admin.do(http.MethodGet, "/v1/filters/"+filter, nil).want(http.StatusNotFound)

	// An account token, then its rotation with a grace period asked for:
	// the old secret keeps working through it.
	s.get("/tokens/new").want(http.StatusOK)
	p = s.post("/tokens", url.Values{"name": {"CRM sync"}, "permissions": {"read", "audit"}}).wantRedirect("/console/tokens?notice=token_created")
	id := regexp.MustCompile(`new=([0-9a-f-]{36})`).FindStringSubmatch(p.Location)[1]
	if p := s.get("/tokens"); !p.contains("CRM sync") || !p.contains("Audit, Read") || !p.contains("every campaign of the account") {
		t.Fatalf("the account tokens:\n%s", p.Body)
	}
	old := regexp.MustCompile(`id="token-secret" value="(lsk_\w+)"`).FindStringSubmatch(s.post("/tokens/"+id+"/reveal", nil).Body)[1]
	if p := s.get("/tokens/" + id + "/rotate"); !regexp.MustCompile(`<legend>Keep the old secret working\?</legend>\s*<label class="choice"><input type="radio" name="grace" value="0s" checked> No: it stops now</label>`).MatchString(p.Body) ||
		strings.Count(p.Body, " checked") != 1 {
		t.Fatalf("the rotation's confirmation does not offer \"now\" first and chosen:\n%s", p.Body)
	}
	p = s.post("/tokens/"+id+"/rotate", url.Values{"grace": {"1h"}}).want(http.StatusOK)
	fresh := regexp.MustCompile(`id="token-secret" value="(lsk_\w+)"`).FindStringSubmatch(p.Body)
	if fresh == nil || fresh[1] == old || !p.contains("The old one keeps working until") {
		t.Fatalf("the rotation's answer:\n%s", p.Body)
	}
	admin.as(old).do(http.MethodGet, "/v1/leads", nil).want(http.StatusOK)
	admin.as(fresh[1]).do(http.MethodGet, "/v1/leads", nil).want(http.StatusOK)
}
