package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/internal/testenv"
)

// campaignBody is the campaign of these tests: a Source select that names
// the partners, as in the product's setup guide.
var campaignBody = map[string]any{
	"name": "Home energy",
	"fields": []map[string]any{
		{"key": "name", "label": "Name", "type": "text", "required": true},
		{"key": "email", "label": "Email", "type": "email"},
		{"key": "budget", "label": "Budget", "type": "number"},
		{"key": "source", "label": "Source", "type": "select", "select": "source", "required": true},
	},
	"selects":  []map[string]any{{"key": "source", "label": "Source", "options": []map[string]any{{"value": "website", "label": "Website"}}}},
	"statuses": []map[string]any{{"slug": "new", "label": "New"}, {"slug": "contacted", "label": "Contacted"}, {"slug": "won", "label": "Won"}},
}

// partner is one partner's access, set up by the admin through the API.
type partner struct {
	source   string
	filterID string
	ro, rw   *client
	roID     string
	rwID     string
	docsURL  string // the read-only token's
	rwDocs   string // the read+write token's
}

// setup is an account with the test campaign and two partners.
type setup struct {
	m          *Main
	admin      *client
	campaignID string
	abc, xyz   partner
}

// mustSetup runs the admin's whole setup flow through HTTP: add a source
// option per partner, a filter on it, a read-only and a read+write token.
func mustSetup(t *testing.T, m *Main) *setup {
	t.Helper()
	s := &setup{m: m, admin: contractChecked(t, m, mustAccount(t, m, "Acme"))}
	s.campaignID = str(s.admin.do("POST", "/v1/campaigns", campaignBody).want(201).obj(), "id")
	for _, p := range []*partner{&s.abc, &s.xyz} {
		if p == &s.abc {
			p.source = "partner-abc"
		} else {
			p.source = "partner-xyz"
		}
		s.admin.do("POST", "/v1/campaigns/"+s.campaignID+"/selects/source/options",
			map[string]any{"value": p.source, "label": strings.ToUpper(p.source)}).want(201)
		p.filterID = str(s.admin.do("POST", "/v1/campaigns/"+s.campaignID+"/filters", map[string]any{
			"name": p.source, "conditions": []map[string]any{{"field": "source", "op": "eq", "value": p.source}},
		}).want(201).obj(), "id")
		ro := s.admin.do("POST", "/v1/tokens", map[string]any{"name": p.source + " read", "campaign_id": s.campaignID,
			"filter_id": p.filterID, "permissions": []string{"read"}}).want(201).obj()
		rw := s.admin.do("POST", "/v1/tokens", map[string]any{"name": p.source + " write", "campaign_id": s.campaignID,
			"filter_id": p.filterID, "permissions": []string{"read", "write"}}).want(201).obj()
		p.ro, p.rw, p.roID, p.rwID, p.docsURL = s.admin.as(str(ro, "secret")), s.admin.as(str(rw, "secret")), str(ro, "id"), str(rw, "id"), str(ro, "docs_url")
		p.rwDocs = str(rw, "docs_url")
	}
	return s
}

// lead is a lead as the API answers it.
type lead struct {
	ID         string         `json:"id"`
	CampaignID string         `json:"campaign_id"`
	Status     string         `json:"status"`
	Fields     map[string]any `json:"fields"`
	Files      []any          `json:"files"`
	Version    int64          `json:"version"`
	Defaulted  []string       `json:"defaulted"`
}

type leadPage struct {
	Data       []lead  `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// mustCreateLead creates a lead and returns it with the write's position.
func (c *client) mustCreateLead(body map[string]any) (lead, string) {
	c.t.Helper()
	var l lead
	r := c.do("POST", "/v1/leads", body).want(201).into(&l)
	pos := r.Header.Get("Leadsvc-Position")
	if pos == "" || r.Header.Get("Location") == "" || r.Header.Get("ETag") != `"1"` {
		c.t.Fatalf("create: headers %v", r.Header)
	}
	return l, pos
}

// listAll pages through a list with limit 1, following next_cursor.
func (c *client) listAll(query, minPos string) []lead {
	c.t.Helper()
	var all []lead
	cursor := ""
	for range 100 {
		q := "/v1/leads?limit=1" + query
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		var p leadPage
		r := c.do("GET", q, nil, "Leadsvc-Min-Position", minPos).want(200).into(&p)
		all = append(all, p.Data...)
		if p.NextCursor == nil {
			if r.Header.Get("Link") != "" {
				c.t.Fatalf("last page has a Link header")
			}
			return all
		}
		if !strings.Contains(r.Header.Get("Link"), `rel="next"`) {
			c.t.Fatalf("page with next_cursor has Link %q", r.Header.Get("Link"))
		}
		cursor = *p.NextCursor
	}
	c.t.Fatal("list did not end")
	return nil
}

func ids(ls []lead) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.ID)
	}
	slices.Sort(out)
	return out
}

func TestPartnersReadAndWriteOnlyTheirOwnLeads(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	s := mustSetup(t, m)

	// An admin's lead from the website belongs to no partner.
	website, _ := s.admin.mustCreateLead(map[string]any{"campaign_id": s.campaignID, "fields": map[string]any{"name": "Web", "source": "website"}})

	mine := map[*partner][]lead{}
	var lastPos string
	for _, p := range []*partner{&s.abc, &s.xyz} {
		for i := range 3 {
			l, pos := p.rw.mustCreateLead(map[string]any{"fields": map[string]any{"name": fmt.Sprintf("%s %d", p.source, i)}})
			if l.Fields["source"] != p.source || !slices.Equal(l.Defaulted, []string{"source"}) || l.Status != "new" {
				t.Fatalf("created %+v: want source %s filled in from the filter", l, p.source)
			}
			// Read-your-writes: the read-only token sees it by id at once.
			var got lead
			r := p.ro.do("GET", "/v1/leads/"+l.ID, nil, "Leadsvc-Min-Position", pos).want(200).into(&got)
			if got.ID != l.ID || r.Header.Get("ETag") != `"1"` || r.Header.Get("Leadsvc-Stale") != "" {
				t.Fatalf("read back %+v, headers %v", got, r.Header)
			}
			upd := p.rw.do("PATCH", "/v1/leads/"+l.ID, map[string]any{"status": "contacted", "fields": map[string]any{"budget": 1000 + i}},
				"If-Match", `"1"`).want(200).into(&got)
			if got.Status != "contacted" || got.Version != 2 || upd.Header.Get("ETag") != `"2"` {
				t.Fatalf("updated %+v, ETag %q", got, upd.Header.Get("ETag"))
			}
			lastPos = upd.Header.Get("Leadsvc-Position")
			mine[p] = append(mine[p], got)
		}
	}

	for _, p := range []*partner{&s.abc, &s.xyz} {
		other := &s.xyz
		if p == other {
			other = &s.abc
		}
		for _, c := range []*client{p.ro, p.rw} {
			got := c.listAll("", lastPos)
			if !slices.Equal(ids(got), ids(mine[p])) {
				t.Fatalf("%s lists %v, want exactly its own %v", p.source, ids(got), ids(mine[p]))
			}
			for _, l := range got {
				if l.Status != "contacted" || l.Version != 2 {
					t.Fatalf("%s lists a stale lead %+v", p.source, l)
				}
			}
			if got := c.listAll("&status=new", lastPos); len(got) != 0 {
				t.Fatalf("status=new lists %v", ids(got))
			}
			// By id, another partner's lead and the website's lead answer
			// exactly like a lead that does not exist.
			missing := c.do("GET", "/v1/leads/"+uuid.NewString(), nil).problem(404)
			for _, id := range []string{mine[other][0].ID, website.ID} {
				got := c.do("GET", "/v1/leads/"+id, nil, "Leadsvc-Min-Position", lastPos).problem(404)
				if got.Type != missing.Type || got.Title != missing.Title || got.Detail != missing.Detail || len(got.Errors) != 0 {
					t.Fatalf("out of scope %+v differs from missing %+v", got, missing)
				}
			}
		}
		// Writes to another partner's lead are not found either, and
		// change nothing.
		before := countEvents(t, m)
		p.rw.do("PATCH", "/v1/leads/"+mine[other][0].ID, map[string]any{"fields": map[string]any{"name": "x"}}).problem(404)
		p.rw.do("PATCH", "/v1/leads/"+website.ID, map[string]any{"fields": map[string]any{"name": "x"}}).problem(404)
		if after := countEvents(t, m); after != before {
			t.Fatalf("refused writes added %d events", after-before)
		}
		p.ro.do("POST", "/v1/leads", map[string]any{"fields": map[string]any{"name": "ro"}}).problem(403)
	}

	// The account-level token sees every lead of the account.
	if got := s.admin.listAll("", lastPos); len(got) != 7 {
		t.Fatalf("admin lists %d leads, want 7", len(got))
	}

	// A cursor is bound to the token and the query that made it.
	var first leadPage
	s.abc.ro.do("GET", "/v1/leads?limit=1", nil).want(200).into(&first)
	if first.NextCursor == nil {
		t.Fatal("no next_cursor on a first page of 1 out of 3")
	}
	cur := url.QueryEscape(*first.NextCursor)
	for name, r := range map[string]reply{
		"other partner":   s.xyz.ro.do("GET", "/v1/leads?limit=1&cursor="+cur, nil),
		"same partner rw": s.abc.rw.do("GET", "/v1/leads?limit=1&cursor="+cur, nil),
		"other query":     s.abc.ro.do("GET", "/v1/leads?limit=1&status=new&cursor="+cur, nil),
		"tampered":        s.abc.ro.do("GET", "/v1/leads?limit=1&cursor="+url.QueryEscape(tamper(*first.NextCursor)), nil),
	} {
		if p := r.problem(400); !p.hasError("cursor", "invalid_cursor") {
			t.Errorf("%s: %+v", name, p)
		}
	}
	s.abc.ro.do("GET", "/v1/leads?limit=5&cursor="+cur, nil).want(200)

	// Files: the other partner cannot reach them by URL, not even through
	// its own lead.
	content := []byte("%PDF-1.4 offer")
	var f struct {
		ID, URL, SHA256 string
	}
	up := s.abc.rw.upload("/v1/leads/"+mine[&s.abc][0].ID+"/files", "file", "offer.pdf", "application/pdf", content).want(201).into(&f)
	pos := up.Header.Get("Leadsvc-Position")
	path := urlPath(t, f.URL)
	dl := s.abc.ro.do("GET", path, nil, "Leadsvc-Min-Position", pos).want(200)
	sum := sha256.Sum256(content)
	if string(dl.Body) != string(content) || dl.Header.Get("Content-Type") != "application/pdf" ||
		dl.Header.Get("Repr-Digest") != "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":" ||
		dl.Header.Get("ETag") != `"`+hex.EncodeToString(sum[:])+`"` || !strings.HasPrefix(dl.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download: %q %v", dl.Body, dl.Header)
	}
	s.xyz.ro.do("GET", path, nil, "Leadsvc-Min-Position", pos).problem(404)
	s.xyz.ro.do("GET", "/v1/leads/"+mine[&s.xyz][0].ID+"/files/"+f.ID, nil).problem(404)
	s.xyz.ro.do("GET", "/v1/leads/"+mine[&s.abc][0].ID+"/files", nil).problem(404)
	s.xyz.rw.do("DELETE", path, nil).problem(404)
	s.abc.ro.do("DELETE", path, nil).problem(403)
	s.abc.rw.do("DELETE", path, nil).want(204)
	s.abc.ro.do("GET", path, nil).problem(404)
}

// tamper flips one bit in the middle of a cursor.
func tamper(c string) string {
	b, _ := base64.RawURLEncoding.DecodeString(c)
	b[5] ^= 1
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestScopeEdges(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	s := mustSetup(t, m)
	l, pos := s.abc.rw.mustCreateLead(map[string]any{"fields": map[string]any{"name": "Ada"}})

	// A write that would move the lead out of the filter is refused,
	// naming only the values inside it, and the lead is unchanged.
	before := countEvents(t, m)
	p := s.abc.rw.do("PATCH", "/v1/leads/"+l.ID, map[string]any{"fields": map[string]any{"source": "partner-xyz"}}).problem(422)
	if !p.hasError("fields.source", "unknown_option") || !strings.HasSuffix(p.Detail, "(partner-abc)") {
		t.Fatalf("refusal %+v does not name the token's own option", p)
	}
	s.abc.rw.do("POST", "/v1/leads", map[string]any{"fields": map[string]any{"name": "B", "source": "website"}}).problem(422)
	if after := countEvents(t, m); after != before {
		t.Fatalf("refused writes added %d events", after-before)
	}
	var got lead
	s.abc.ro.do("GET", "/v1/leads/"+l.ID, nil, "Leadsvc-Min-Position", pos).want(200).into(&got)
	if got.Version != 1 || got.Fields["source"] != "partner-abc" {
		t.Fatalf("lead changed: %+v", got)
	}

	// A token of another campaign of the account, and of another account.
	other := str(s.admin.do("POST", "/v1/campaigns", campaignBody).want(201).obj(), "id")
	otherCampaign := s.admin.as(str(s.admin.do("POST", "/v1/tokens", map[string]any{"name": "other campaign",
		"campaign_id": other, "filter_id": nil, "permissions": []string{"read", "write"}}).want(201).obj(), "secret"))
	otherAccount := contractChecked(t, m, mustAccount(t, m, "Globex"))
	var f struct{ URL string }
	up := s.abc.rw.upload("/v1/leads/"+l.ID+"/files", "file", "a.txt", "text/plain", []byte("hi")).want(201).into(&f)
	filePath := urlPath(t, f.URL)
	var first leadPage
	s.abc.rw.mustCreateLead(map[string]any{"fields": map[string]any{"name": "Bob"}})
	s.abc.ro.do("GET", "/v1/leads?limit=1", nil, "Leadsvc-Min-Position", up.Header.Get("Leadsvc-Position")).want(200).into(&first)
	for name, c := range map[string]*client{"other campaign": otherCampaign, "other account": otherAccount} {
		c.do("GET", "/v1/leads/"+l.ID, nil).problem(404)
		c.do("GET", filePath, nil).problem(404)
		c.do("PATCH", "/v1/leads/"+l.ID, map[string]any{"status": "won"}).problem(404)
		if r := c.do("GET", "/v1/leads?cursor="+url.QueryEscape(*first.NextCursor), nil); r.Status != 400 {
			t.Errorf("%s with a foreign cursor: %d", name, r.Status)
		}
		var pg leadPage
		c.do("GET", "/v1/leads", nil).want(200).into(&pg)
		if len(pg.Data) != 0 {
			t.Errorf("%s lists %d leads", name, len(pg.Data))
		}
	}
	otherAccount.do("GET", "/v1/campaigns/"+s.campaignID, nil).problem(404)
	otherAccount.do("GET", "/v1/tokens/"+s.abc.roID, nil).problem(404)
	otherCampaign.do("POST", "/v1/leads", map[string]any{"campaign_id": s.campaignID, "fields": map[string]any{"name": "x", "source": "website"}}).problem(422)

	// Deleting the token's filter hides everything at once, views or not.
	s.admin.do("DELETE", "/v1/filters/"+s.abc.filterID, nil).want(204)
	s.abc.ro.do("GET", "/v1/leads/"+l.ID, nil).problem(404)
	var pg leadPage
	s.abc.ro.do("GET", "/v1/leads", nil).want(200).into(&pg)
	if len(pg.Data) != 0 {
		t.Fatalf("a token whose filter was deleted lists %d leads", len(pg.Data))
	}
	// And writes nothing, on the very next request too.
	mustWriteNothing(t, m, "writes through a deleted filter", func() {
		s.abc.rw.do("POST", "/v1/leads", map[string]any{"fields": map[string]any{"name": "Orphan"}}).problem(422)
		s.abc.rw.do("PATCH", "/v1/leads/"+l.ID, map[string]any{"status": "won"}).problem(404)
	})
}

func TestTokenLifecycle(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	s := mustSetup(t, m)

	// Lists show prefix and last four only.
	var tokens struct{ Data []map[string]any }
	s.admin.do("GET", "/v1/tokens?campaign_id="+s.campaignID, nil).want(200).into(&tokens)
	if len(tokens.Data) != 4 {
		t.Fatalf("%d campaign tokens, want 4", len(tokens.Data))
	}
	for _, tk := range tokens.Data {
		if _, has := tk["secret"]; has || str(tk, "secret_prefix") == "" || len(str(tk, "secret_last4")) != 4 ||
			!strings.Contains(str(tk, "docs_url"), "/docs/") {
			t.Fatalf("listed token %v", tk)
		}
	}
	// Using a token records its last use.
	s.abc.ro.do("GET", "/v1/schema", nil).want(200)
	tk := s.admin.do("GET", "/v1/tokens/"+s.abc.roID, nil).want(200).obj()
	if tk["last_used_at"] == nil {
		t.Fatalf("last_used_at not recorded: %v", tk)
	}

	// Show gives the same secret and is recorded.
	before := countEvents(t, m)
	shown := s.admin.do("POST", "/v1/tokens/"+s.abc.roID+"/reveal", nil).want(200).obj()
	if str(shown, "secret") != s.abc.ro.token || countEvents(t, m) != before+1 {
		t.Fatalf("reveal: %v", shown)
	}

	// Rotation: the new secret works, the old one during the grace period.
	rot := s.admin.do("POST", "/v1/tokens/"+s.abc.roID+"/rotate", map[string]any{"grace_period": "1h"}).want(200).obj()
	rotated := s.admin.as(str(rot, "secret"))
	rotated.do("GET", "/v1/schema", nil).want(200)
	s.abc.ro.do("GET", "/v1/schema", nil).want(200)
	s.admin.do("POST", "/v1/tokens/"+s.abc.roID+"/rotate", map[string]any{"grace_period": "8d"}).problem(422)
	s.admin.do("POST", "/v1/tokens/"+s.abc.roID+"/rotate", map[string]any{"grace_period": true}).problem(422)

	// PATCH: rename and drop the filter's ETag guard.
	upd := s.admin.do("PATCH", "/v1/tokens/"+s.abc.roID, map[string]any{"name": "renamed"}, "If-Match", `"1"`)
	upd.problem(412)
	etag := s.admin.do("GET", "/v1/tokens/"+s.abc.roID, nil).want(200).Header.Get("ETag")
	if got := s.admin.do("PATCH", "/v1/tokens/"+s.abc.roID, map[string]any{"name": "renamed"}, "If-Match", etag).want(200).obj(); str(got, "name") != "renamed" {
		t.Fatalf("rename: %v", got)
	}
	// A filter of another campaign is refused.
	other := str(s.admin.do("POST", "/v1/campaigns", campaignBody).want(201).obj(), "id")
	otherFilter := str(s.admin.do("POST", "/v1/campaigns/"+other+"/filters", map[string]any{"name": "all",
		"match": "all"}).want(201).obj(), "id")
	if p := s.admin.do("PATCH", "/v1/tokens/"+s.abc.roID, map[string]any{"filter_id": otherFilter}).problem(422); !p.hasError("filter_id", "invalid_value") {
		t.Fatalf("foreign filter: %+v", p)
	}
	if p := s.admin.do("POST", "/v1/tokens", map[string]any{"name": "x", "campaign_id": s.campaignID, "filter_id": otherFilter,
		"permissions": []string{"read"}}).problem(422); !p.hasError("filter_id", "invalid_value") {
		t.Fatalf("foreign filter on create: %+v", p)
	}
	if p := s.admin.do("POST", "/v1/tokens", map[string]any{"name": "x", "campaign_id": s.campaignID,
		"filter_id": nil, "permissions": []string{"admin"}}).problem(422); !p.hasError("permissions", "invalid_value") {
		t.Fatalf("admin on a campaign token: %+v", p)
	}

	// Revocation is immediate: the very next request fails.
	s.admin.do("DELETE", "/v1/tokens/"+s.abc.roID, nil).want(200)
	p := rotated.do("GET", "/v1/schema", nil).problem(401)
	if p.Type != "urn:leadsvc:problem:unauthenticated" {
		t.Fatalf("revoked: %+v", p)
	}
	s.abc.ro.do("GET", "/v1/leads", nil).problem(401)
	s.admin.do("POST", "/v1/tokens/"+s.abc.roID+"/reveal", nil).problem(409)

	// An expired token is told so.
	exp := s.admin.do("POST", "/v1/tokens", map[string]any{"name": "short", "campaign_id": s.campaignID,
		"filter_id": nil, "permissions": []string{"read"}, "expires_at": time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)}).want(201).obj()
	short := s.admin.as(str(exp, "secret"))
	short.do("GET", "/v1/schema", nil).want(200)
	testenv.CheckFor(t, 5*time.Second, func() error {
		r := short.do("GET", "/v1/schema", nil)
		if r.Status != 401 {
			return fmt.Errorf("status %d", r.Status)
		}
		if p := r.problem(401); p.Type != "urn:leadsvc:problem:token-expired" || !strings.Contains(r.Header.Get("WWW-Authenticate"), "Bearer") {
			return fmt.Errorf("problem %+v", p)
		}
		return nil
	})

	// No token, a malformed one: 401 with a Bearer challenge.
	anon := s.admin.as("")
	if r := anon.do("GET", "/v1/leads", nil); r.problem(401).Type == "" || r.Header.Get("WWW-Authenticate") != `Bearer realm="leadsvc"` {
		t.Fatalf("anonymous: %v", r.Header)
	}
	s.admin.as("lsk_nonsense").do("GET", "/v1/leads", nil).problem(401)
	// A partner token is not an admin.
	s.xyz.rw.do("GET", "/v1/campaigns", nil).problem(403)
	s.xyz.rw.do("POST", "/v1/tokens", map[string]any{"name": "x", "permissions": []string{"read"}}).problem(403)
}

func TestAdminCampaignsAndFilters(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	s := mustSetup(t, m)
	c := s.admin.do("GET", "/v1/campaigns/"+s.campaignID, nil).want(200)
	if c.Header.Get("ETag") != `"3"` {
		t.Fatalf("campaign ETag %q after two options", c.Header.Get("ETag"))
	}
	var list struct{ Data []map[string]any }
	s.admin.do("GET", "/v1/campaigns", nil).want(200).into(&list)
	if len(list.Data) != 1 {
		t.Fatalf("%d campaigns", len(list.Data))
	}
	// One change per PATCH; an invalid one names the member sent.
	s.admin.do("PATCH", "/v1/campaigns/"+s.campaignID, map[string]any{"add_field": map[string]any{"key": "notes", "label": "Notes", "type": "textarea"}},
		"If-Match", `"3"`).want(200)
	s.admin.do("PATCH", "/v1/campaigns/"+s.campaignID, map[string]any{"name": "Renamed"}, "If-Match", `"3"`).problem(412)
	if p := s.admin.do("PATCH", "/v1/campaigns/"+s.campaignID, map[string]any{"add_field": map[string]any{"key": "notes", "label": "Notes", "type": "text"}}).problem(422); !p.hasError("add_field.key", "invalid_value") {
		t.Fatalf("duplicate field: %+v", p)
	}
	s.admin.do("PATCH", "/v1/campaigns/"+s.campaignID, map[string]any{"name": "A", "add_status": map[string]any{"slug": "lost", "label": "Lost"}}).problem(422)
	got := s.admin.do("PATCH", "/v1/campaigns/"+s.campaignID, map[string]any{"add_status": map[string]any{"slug": "lost", "label": "Lost"}}).want(200).obj()
	if sts, _ := got["statuses"].([]any); len(sts) != 4 {
		t.Fatalf("statuses %v", got["statuses"])
	}
	s.admin.do("POST", "/v1/campaigns/"+s.campaignID+"/selects/source/options", map[string]any{"value": "partner-abc", "label": "Again"}).problem(422)
	s.admin.do("POST", "/v1/campaigns/"+s.campaignID+"/selects/nosuch/options", map[string]any{"value": "a", "label": "A"}).problem(422)

	// Filters: list, get with its explanation, If-Match on change.
	var filters struct{ Data []map[string]any }
	s.admin.do("GET", "/v1/campaigns/"+s.campaignID+"/filters", nil).want(200).into(&filters)
	if len(filters.Data) != 2 {
		t.Fatalf("%d filters", len(filters.Data))
	}
	f := s.admin.do("GET", "/v1/filters/"+s.abc.filterID, nil).want(200)
	if ex := f.obj()["explain"].([]any); len(ex) != 1 || !strings.Contains(ex[0].(string), "PARTNER-ABC (partner-abc)") {
		t.Fatalf("explain %v", ex)
	}
	s.admin.do("PATCH", "/v1/filters/"+s.abc.filterID, map[string]any{"name": "ABC"}, "If-Match", `"7"`).problem(412)
	upd := s.admin.do("PATCH", "/v1/filters/"+s.abc.filterID, map[string]any{"name": "ABC"}, "If-Match", f.Header.Get("ETag")).want(200).obj()
	if str(upd, "name") != "ABC" || len(upd["conditions"].([]any)) != 1 {
		t.Fatalf("merged filter %v", upd)
	}
	if p := s.admin.do("PATCH", "/v1/filters/"+s.abc.filterID, map[string]any{"conditions": []map[string]any{{"field": "nope", "op": "eq", "value": 1}}}).problem(422); !p.hasError("conditions[0].field", "unknown_field") {
		t.Fatalf("bad condition: %+v", p)
	}
	s.admin.do("DELETE", "/v1/filters/"+s.abc.filterID, nil, "If-Match", `"1"`).problem(412)
	s.admin.do("DELETE", "/v1/filters/"+s.abc.filterID, nil).want(204)
	s.admin.do("GET", "/v1/filters/"+s.abc.filterID, nil).problem(404)

	// The schema a partner sees explains its filter and its defaults.
	sc := s.xyz.ro.do("GET", "/v1/schema", nil).want(200).obj()
	if d, _ := sc["defaults"].(map[string]any); d["source"] != "partner-xyz" || sc["filter"] == nil {
		t.Fatalf("schema %v", sc)
	}
	// It lists only its own source option: never the other partners'.
	for _, sel := range sc["campaign"].(map[string]any)["selects"].([]any) {
		sel := sel.(map[string]any)
		if sel["key"] != "source" {
			continue
		}
		if opts := fmt.Sprint(sel["options"]); !strings.Contains(opts, "partner-xyz") ||
			strings.Contains(opts, "partner-abc") || strings.Contains(opts, "website") {
			t.Fatalf("partner xyz's schema lists source options %s", opts)
		}
	}
	s.admin.do("GET", "/v1/schema", nil).problem(400)
	s.admin.do("GET", "/v1/schema?campaign_id="+s.campaignID, nil).want(200)
}

func TestIdempotencyConcurrencyAndRateLimitOverHTTP(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, "LEADSVC_RATE_LIMIT", "40")
	s := mustSetup(t, m)
	body := map[string]any{"fields": map[string]any{"name": "Once"}}
	before := countEvents(t, m)
	first := s.abc.rw.do("POST", "/v1/leads", body, "Idempotency-Key", "create-1").want(201)
	again := s.abc.rw.do("POST", "/v1/leads", body, "Idempotency-Key", "create-1").want(201)
	if string(first.Body) != string(again.Body) || first.Header.Get("Location") != again.Header.Get("Location") ||
		first.Header.Get("ETag") != again.Header.Get("ETag") || first.Header.Get("Leadsvc-Position") != again.Header.Get("Leadsvc-Position") {
		t.Fatalf("replay differs:\n%s %v\n%s %v", first.Body, first.Header, again.Body, again.Header)
	}
	if got := countEvents(t, m); got != before+1 {
		t.Fatalf("%d events for one idempotent create", got-before)
	}
	if first.Header.Get("Idempotent-Replayed") != "" || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("Idempotent-Replayed = %q then %q, want none then true",
			first.Header.Get("Idempotent-Replayed"), again.Header.Get("Idempotent-Replayed"))
	}
	if p := s.abc.rw.do("POST", "/v1/leads", map[string]any{"fields": map[string]any{"name": "Other"}}, "Idempotency-Key", "create-1").problem(422); !p.hasError("Idempotency-Key", "idempotency_key_reused") {
		t.Fatalf("reused key: %+v", p)
	}
	// Keys are per token: the same key from another token is a new request.
	s.xyz.rw.do("POST", "/v1/leads", body, "Idempotency-Key", "create-1").want(201)
	// Token creation replays the same secret.
	tb := map[string]any{"name": "idem", "campaign_id": s.campaignID, "filter_id": nil, "permissions": []string{"read"}}
	t1 := s.admin.do("POST", "/v1/tokens", tb, "Idempotency-Key", "tok").want(201)
	t2 := s.admin.do("POST", "/v1/tokens", tb, "Idempotency-Key", "tok").want(201)
	if string(t1.Body) != string(t2.Body) {
		t.Fatalf("token replay differs:\n%s\n%s", t1.Body, t2.Body)
	}

	// If-Match: stale is 412 and writes nothing.
	var l lead
	first.into(&l)
	s.abc.rw.do("PATCH", "/v1/leads/"+l.ID, map[string]any{"status": "won"}, "If-Match", `"1"`).want(200)
	before = countEvents(t, m)
	if p := s.abc.rw.do("PATCH", "/v1/leads/"+l.ID, map[string]any{"status": "contacted"}, "If-Match", `"1"`).problem(412); !strings.Contains(p.Detail, "version 2") {
		t.Fatalf("412 detail %q", p.Detail)
	}
	s.abc.rw.do("PATCH", "/v1/leads/"+l.ID, map[string]any{"status": "contacted"}).want(200)
	if got := countEvents(t, m); got != before+1 {
		t.Fatalf("%d events", got-before)
	}

	// Rate limit: every answer says where the token stands; past the
	// quota, 429 with Retry-After.
	r := s.xyz.ro.do("GET", "/v1/schema", nil).want(200)
	if r.Header.Get("RateLimit-Policy") != `"default";q=40;w=60` || !strings.HasPrefix(r.Header.Get("RateLimit"), `"default";r=`) {
		t.Fatalf("rate limit headers %v", r.Header)
	}
	var limited reply
	for range 45 {
		if limited = s.xyz.ro.do("GET", "/v1/schema", nil); limited.Status == 429 {
			break
		}
	}
	limited.problem(429)
	if limited.Header.Get("Retry-After") == "" || !strings.HasPrefix(limited.Header.Get("RateLimit"), `"default";r=0;t=`) {
		t.Fatalf("429 headers %v", limited.Header)
	}
	// Another token has its own budget.
	s.xyz.rw.do("GET", "/v1/schema", nil).want(200)
}

func TestBadInputGetsAProblemAndChangesNothing(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, "LEADSVC_MAX_UPLOAD_BYTES", "1024")
	s := mustSetup(t, m)
	l, pos := s.abc.rw.mustCreateLead(map[string]any{"fields": map[string]any{"name": "Ada"}})
	s.abc.ro.do("GET", "/v1/leads/"+l.ID, nil, "Leadsvc-Min-Position", pos).want(200)
	leadPath := "/v1/leads/" + l.ID
	big := `{"fields": {"name": "` + strings.Repeat("x", 1<<20) + `"}}`
	for _, tc := range []struct {
		name         string
		c            *client
		method, path string
		body         any
		headers      []string
		status       int
		field, code  string
	}{
		{"unknown field", s.abc.rw, "POST", "/v1/leads", `{"fields": {"name": "A", "nope": 1}}`, nil, 422, "fields.nope", "unknown_field"},
		{"unknown member", s.abc.rw, "POST", "/v1/leads", `{"fields": {"name": "A"}, "colour": 1}`, nil, 400, "colour", "unknown_field"},
		{"wrong type", s.abc.rw, "POST", "/v1/leads", `{"fields": {"name": "A", "budget": "lots"}}`, nil, 422, "fields.budget", "wrong_type"},
		{"wrong member type", s.abc.rw, "POST", "/v1/leads", `{"fields": {"name": "A"}, "status": 3}`, nil, 422, "status", "wrong_type"},
		{"fields not an object", s.abc.rw, "POST", "/v1/leads", `{"fields": [1]}`, nil, 422, "fields", "wrong_type"},
		{"unknown option", s.abc.rw, "PATCH", leadPath, `{"fields": {"source": "nope"}}`, nil, 422, "fields.source", "unknown_option"},
		{"unknown status", s.abc.rw, "PATCH", leadPath, `{"status": "gone"}`, nil, 422, "status", "unknown_status"},
		{"missing required", s.abc.rw, "POST", "/v1/leads", `{"fields": {}}`, nil, 422, "fields.name", "required"},
		{"clear required", s.abc.rw, "PATCH", leadPath, `{"fields": {"name": null}}`, nil, 422, "fields.name", "required"},
		{"bad email", s.abc.rw, "PATCH", leadPath, `{"fields": {"email": "not-an-email"}}`, nil, 422, "fields.email", "invalid_format"},
		{"malformed JSON", s.abc.rw, "POST", "/v1/leads", `{"fields": {"name": "A"`, nil, 400, "body", "malformed"},
		{"syntax error", s.abc.rw, "PATCH", leadPath, `{"status": new}`, nil, 400, "body", "malformed"},
		{"two values", s.abc.rw, "PATCH", leadPath, `{} {}`, nil, 400, "body", "malformed"},
		{"not an object", s.abc.rw, "POST", "/v1/leads", `[]`, nil, 400, "body", "malformed"},
		{"empty body", s.abc.rw, "POST", "/v1/leads", "", []string{"Content-Type", "application/json"}, 400, "body", "malformed"},
		{"body too large", s.abc.rw, "POST", "/v1/leads", big, nil, 413, "", ""},
		{"upload too large", s.abc.rw, "UPLOAD", leadPath + "/files", strings.Repeat("x", 2048), nil, 413, "", ""},
		{"wrong content type", s.abc.rw, "POST", "/v1/leads", `{"fields": {"name": "A"}}`, []string{"Content-Type", "text/plain"}, 415, "Content-Type", "unsupported_media_type"},
		{"JSON upload", s.abc.rw, "POST", leadPath + "/files", `{}`, nil, 415, "Content-Type", "unsupported_media_type"},
		{"upload without file part", s.abc.rw, "UPLOAD-OTHER", leadPath + "/files", "x", nil, 422, "attachment", "unknown_field"},
		{"bad cursor", s.abc.ro, "GET", "/v1/leads?cursor=abc", nil, nil, 400, "cursor", "invalid_cursor"},
		{"bad limit", s.abc.ro, "GET", "/v1/leads?limit=ten", nil, nil, 400, "limit", "invalid_value"},
		{"limit out of range", s.abc.ro, "GET", "/v1/leads?limit=0", nil, nil, 400, "limit", "invalid_value"},
		{"bad updated_since", s.abc.ro, "GET", "/v1/leads?updated_since=yesterday", nil, nil, 400, "updated_since", "invalid_format"},
		{"unknown parameter", s.abc.ro, "GET", "/v1/leads?colour=red", nil, nil, 400, "colour", "unknown_parameter"},
		{"repeated parameter", s.abc.ro, "GET", "/v1/leads?limit=1&limit=2", nil, nil, 400, "limit", "malformed"},
		{"bad min position", s.abc.ro, "GET", leadPath, nil, []string{"Leadsvc-Min-Position", "soon"}, 400, "Leadsvc-Min-Position", "invalid_format"},
		{"bad If-Match", s.abc.rw, "PATCH", leadPath, `{"status": "won"}`, []string{"If-Match", `W/"x"`}, 400, "If-Match", "invalid_format"},
		{"empty Idempotency-Key", s.abc.rw, "PATCH", leadPath, `{"status": "won"}`, []string{"Idempotency-Key", `""`}, 400, "Idempotency-Key", "invalid_idempotency_key"},
		{"long Idempotency-Key", s.abc.rw, "PATCH", leadPath, `{"status": "won"}`, []string{"Idempotency-Key", strings.Repeat("k", 256)}, 400, "Idempotency-Key", "invalid_idempotency_key"},
		{"non-ASCII Idempotency-Key", s.abc.rw, "PATCH", leadPath, `{"status": "won"}`, []string{"Idempotency-Key", "clé"}, 400, "Idempotency-Key", "invalid_idempotency_key"},
		{"bad campaign id", s.admin, "POST", "/v1/leads", `{"campaign_id": "nope", "fields": {"name": "A"}}`, nil, 422, "campaign_id", "invalid_format"},
		{"no campaign id", s.admin, "POST", "/v1/leads", `{"fields": {"name": "A"}}`, nil, 422, "campaign_id", "required"},
		{"bad field type in schema", s.admin, "POST", "/v1/campaigns", `{"name": "C", "fields": [{"key": "a", "label": "A", "type": "colour"}], "statuses": [{"slug": "new", "label": "New"}]}`, nil, 422, "fields[0].type", "invalid_value"},
		{"bad expires_at", s.admin, "POST", "/v1/tokens", `{"name": "t", "permissions": ["read"], "expires_at": "tomorrow"}`, nil, 422, "expires_at", "invalid_format"},
		{"unknown permission", s.admin, "POST", "/v1/tokens", `{"name": "t", "permissions": ["root"]}`, nil, 422, "permissions", "invalid_value"},
		{"bad filter op", s.admin, "POST", "/v1/campaigns/" + s.campaignID + "/filters", `{"name": "f", "conditions": [{"field": "budget", "op": "near", "value": 1}]}`, nil, 422, "conditions[0].op", "invalid_value"},
		{"unknown route", s.abc.ro, "GET", "/v1/nothing", nil, nil, 404, "", ""},
		{"method not allowed", s.abc.rw, "PUT", leadPath, `{}`, nil, 405, "", ""},
		{"malformed id", s.abc.ro, "GET", "/v1/leads/not-a-uuid", nil, nil, 404, "", ""},
	} {
		before := countEvents(t, m)
		var r reply
		switch tc.method {
		case "UPLOAD":
			r = tc.c.upload(tc.path, "file", "big.bin", "", []byte(tc.body.(string)))
		case "UPLOAD-OTHER":
			r = tc.c.upload(tc.path, "attachment", "a.txt", "text/plain", []byte(tc.body.(string)))
		default:
			r = tc.c.do(tc.method, tc.path, tc.body, tc.headers...)
		}
		p := r.problem(tc.status)
		if tc.field != "" && !p.hasError(tc.field, tc.code) {
			t.Errorf("%s: errors %+v, want %s/%s", tc.name, p.Errors, tc.field, tc.code)
		}
		if after := countEvents(t, m); after != before {
			t.Errorf("%s: %d events written", tc.name, after-before)
		}
	}
}

func TestEdgeMiddleware(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	admin := contractChecked(t, m, mustAccount(t, m, "Acme"))
	r := admin.do("GET", "/v1/campaigns", nil, "X-Request-Id", "trace-123.abc").want(200)
	if r.Header.Get("X-Request-Id") != "trace-123.abc" {
		t.Fatalf("request id not echoed: %v", r.Header)
	}
	r = admin.do("GET", "/v1/campaigns", nil, "X-Request-Id", "bad id\twith spaces")
	if id := r.Header.Get("X-Request-Id"); id == "" || strings.Contains(id, " ") {
		t.Fatalf("unsafe request id kept: %q", id)
	}
	if p := admin.do("GET", "/nowhere", nil).problem(404); p.Instance != "/nowhere" {
		t.Fatalf("unknown route: %+v", p)
	}
	admin.do("DELETE", "/v1/campaigns", nil).problem(405)
	admin.do("GET", "/v1/campaigns/"+uuid.NewString(), nil).problem(404)

	// Events carry the request id and the acting token.
	admin.do("POST", "/v1/campaigns", campaignBody, "X-Request-Id", "req-meta-1").want(201)
	var actor, reqID string
	if err := m.Pool.QueryRow(t.Context(), `SELECT metadata->>'actor_token_id', metadata->>'request_id' FROM events
		WHERE event_type = 'campaign.created'`).Scan(&actor, &reqID); err != nil {
		t.Fatal(err)
	}
	if reqID != "req-meta-1" || actor == "" {
		t.Fatalf("event metadata actor %q request %q", actor, reqID)
	}

	resp, err := http.Get("http://" + m.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = fmt.Fprint(&b, readAll(t, resp))
	for _, want := range []string{`leadsvc_http_requests_total{method="GET",route="/v1/campaigns",status="200"} 2`,
		`leadsvc_http_requests_total{method="GET",route="/v1/campaigns/{id}",status="404"} 1`,
		`leadsvc_http_request_duration_seconds_bucket{method="POST",route="/v1/campaigns"`,
		`route="unmatched"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestUploadAndUpdateReplayOverHTTP(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	s := mustSetup(t, m)
	l, _ := s.abc.rw.mustCreateLead(map[string]any{"fields": map[string]any{"name": "Ada"}})
	before := countEvents(t, m)
	// A retried upload has a new multipart boundary; it is still the same
	// request.
	u1 := s.abc.rw.upload("/v1/leads/"+l.ID+"/files", "file", "cv.txt", "text/plain", []byte("cv"), "Idempotency-Key", "up").want(201)
	u2 := s.abc.rw.upload("/v1/leads/"+l.ID+"/files", "file", "cv.txt", "text/plain", []byte("cv"), "Idempotency-Key", "up").want(201)
	p1 := s.abc.rw.do("PATCH", "/v1/leads/"+l.ID, map[string]any{"status": "won"}, "Idempotency-Key", "p").want(200)
	p2 := s.abc.rw.do("PATCH", "/v1/leads/"+l.ID, map[string]any{"status": "won"}, "Idempotency-Key", "p").want(200)
	if string(u1.Body) != string(u2.Body) || string(p1.Body) != string(p2.Body) || p1.Header.Get("ETag") != p2.Header.Get("ETag") {
		t.Fatalf("replays differ:\n%s\n%s\n%s\n%s", u1.Body, u2.Body, p1.Body, p2.Body)
	}
	if got := countEvents(t, m); got != before+2 {
		t.Fatalf("%d events, want 2", got-before)
	}
	s.abc.rw.upload("/v1/leads/"+l.ID+"/files", "file", "cv.txt", "text/plain", []byte("other"), "Idempotency-Key", "up").problem(422)
}

func TestAccessLogHoldsNoSecrets(t *testing.T) {
	t.Parallel()
	m, logs := mustRunMainLogging(t, testEnv(t))
	s := mustSetup(t, m)
	s.abc.rw.do("POST", "/v1/leads", map[string]any{"fields": map[string]any{"name": "Secret Person", "email": "secret@example.com"}}).want(201)
	s.abc.ro.do("GET", "/v1/leads?status=new&updated_since=2026-01-01T00:00:00Z", nil).want(200)
	s.admin.as("lsk_guess").do("GET", "/v1/leads?cursor=xyz", nil).problem(401)
	testenv.CheckFor(t, 2*time.Second, func() error {
		if !strings.Contains(logs.String(), `"status":401`) {
			return fmt.Errorf("no access log line for the 401 yet")
		}
		return nil
	})
	out := logs.String()
	for _, secret := range []string{s.abc.rw.token, s.abc.ro.token, s.admin.token, "lsk_guess", "Secret Person", "secret@example.com", "updated_since", "cursor=xyz"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
	if !strings.Contains(out, `"route":"/v1/leads","status":201`) || !strings.Contains(out, `"token_id":"`) || !strings.Contains(out, `"request_id":"`) {
		t.Errorf("access log lacks route, token or request id:\n%s", out)
	}
}

func TestAPIConfiguration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, value string }{
		{"LEADSVC_RATE_LIMIT", "0"}, {"LEADSVC_RATE_LIMIT", "many"},
		{"LEADSVC_MAX_UPLOAD_BYTES", "-1"}, {"LEADSVC_MAX_UPLOAD_BYTES", "1e9"}, {"LEADSVC_MAX_UPLOAD_BYTES", "1073741824"},
	} {
		_, err := LoadConfig(func(k string) string {
			if k == tc.name {
				return tc.value
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s=%s: %v", tc.name, tc.value, err)
		}
	}
	cfg, err := LoadConfig(func(string) string { return "" })
	if err != nil || cfg.RateLimit != 600 || cfg.MaxUploadBytes != 10<<20 {
		t.Fatalf("defaults: %+v %v", cfg, err)
	}
}
