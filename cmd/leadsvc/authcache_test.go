package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/leadsvc/leadsvc/internal/testenv"
)

// TestCachedAuthenticationSeesEveryChangeOnTheNextRequest runs two
// processes on one database, each with the partner's tokens in its
// authentication cache (warmed by creates, lists and gets), then changes
// the schema, narrows a filter, takes away a permission, rotates and
// revokes through the first: the very next request in either process
// sees each change.
func TestCachedAuthenticationSeesEveryChangeOnTheNextRequest(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sk := base64.StdEncoding.EncodeToString(key)
	a := mustRunMain(t, "LEADSVC_SECRET_KEY", sk)
	b := mustRunMain(t, "LEADSVC_SECRET_KEY", sk, "DATABASE_URL", a.Config.DatabaseURL)
	s := mustSetup(t, a)
	onB := func(c *client) *client {
		return &client{t: t, base: "http://" + b.Addr(), token: c.token}
	}
	// every runs a check against both processes.
	every := func(c *client, check func(c *client, where string)) {
		t.Helper()
		for _, p := range []struct {
			c     *client
			where string
		}{{c, "process A"}, {onB(c), "process B"}} {
			check(p.c, p.where)
		}
	}
	abc := s.abc.rw
	rich, richPos := abc.mustCreateLead(map[string]any{"fields": map[string]any{"name": "Rich", "source": "partner-abc", "budget": 500}})
	poor, pos := abc.mustCreateLead(map[string]any{"fields": map[string]any{"name": "Poor", "source": "partner-abc", "budget": 50}})
	warm := func(c *client, where string) {
		// A position is one write's: the two processes' projections share
		// the events, so the first lead may still be applying when the
		// second is visible.
		c.do("GET", "/v1/leads/"+rich.ID, nil, "Leadsvc-Min-Position", richPos).want(200)
		for range 2 {
			if got := len(c.listAll("", pos)); got < 2 {
				t.Fatalf("%s: the partner lists %d leads, want at least 2", where, got)
			}
			c.do("GET", "/v1/leads/"+poor.ID, nil).want(200)
		}
	}
	every(abc, warm)

	// A schema change: a new option is taken by the next create.
	all := s.admin.as(str(s.admin.do("POST", "/v1/tokens", map[string]any{"name": "all", "campaign_id": s.campaignID,
		"filter_id": nil, "permissions": []string{"read", "write"}}).want(201).obj(), "secret"))
	newSource := map[string]any{"fields": map[string]any{"name": "New", "source": "partner-new"}}
	every(all, func(c *client, where string) {
		for range 2 {
			if p := c.do("POST", "/v1/leads", newSource).problem(422); !p.hasError("fields.source", "unknown_option") {
				t.Fatalf("%s: a source not in the schema yet: %+v", where, p)
			}
		}
	})
	s.admin.do("POST", "/v1/campaigns/"+s.campaignID+"/selects/source/options",
		map[string]any{"value": "partner-new", "label": "Partner New"}).want(201)
	every(all, func(c *client, where string) {
		if r := c.do("POST", "/v1/leads", newSource); r.Status != 201 {
			t.Fatalf("%s: the next create after the option was added = %d %s", where, r.Status, r.Body)
		}
	})

	// A narrowed filter: the next create outside it is refused, the next
	// list and get no longer show what it left out.
	s.admin.do("PATCH", "/v1/filters/"+s.abc.filterID, map[string]any{"conditions": []map[string]any{
		{"field": "source", "op": "eq", "value": "partner-abc"}, {"field": "budget", "op": "gt", "value": 100}}}).want(200)
	every(abc, func(c *client, where string) {
		r := c.do("POST", "/v1/leads", map[string]any{"fields": map[string]any{"name": "Poor 2", "source": "partner-abc", "budget": 60}})
		if r.Status != 422 {
			t.Fatalf("%s: a create outside the narrowed filter = %d %s", where, r.Status, r.Body)
		}
		var page leadPage
		c.do("GET", "/v1/leads?limit=100", nil).want(200).into(&page)
		for _, l := range page.Data {
			if l.Fields["budget"].(float64) <= 100 {
				t.Fatalf("%s: the list after narrowing shows %v", where, l.Fields)
			}
		}
		c.do("GET", "/v1/leads/"+poor.ID, nil).want(404)
	})

	// A permission taken away: the next create is forbidden.
	s.admin.do("PATCH", "/v1/tokens/"+s.abc.rwID, map[string]any{"permissions": []string{"read"}}).want(200)
	every(abc, func(c *client, where string) {
		if r := c.do("POST", "/v1/leads", map[string]any{"fields": map[string]any{"name": "Rich 2", "source": "partner-abc", "budget": 900}}); r.Status != 403 {
			t.Fatalf("%s: a create after write was taken away = %d %s", where, r.Status, r.Body)
		}
		c.do("GET", "/v1/leads?limit=1", nil).want(200)
	})

	// A rotation with a short grace: the old secret works until the grace
	// ends, then the next request is refused; the new one works. The
	// grace outlasts the checks made during it on a loaded machine.
	rot := s.admin.do("POST", "/v1/tokens/"+s.abc.rwID+"/rotate", map[string]any{"grace_period": "5s"}).want(200).obj()
	fresh := abc.as(str(rot, "secret"))
	every(abc, func(c *client, where string) { c.do("GET", "/v1/leads?limit=1", nil).want(200) })
	every(fresh, func(c *client, where string) { c.do("GET", "/v1/leads?limit=1", nil).want(200) })
	// The grace is wall-clock time: wait for the end the rotation gave,
	// then for both processes to refuse the old secret.
	graceEnd, err := time.Parse(time.RFC3339Nano, str(rot, "previous_secret_valid_until"))
	if err != nil {
		t.Fatalf("rotation %v: %v", rot, err)
	}
	time.Sleep(time.Until(graceEnd))
	testenv.CheckFor(t, 10*time.Second, func() error {
		for _, c := range []*client{abc, onB(abc)} {
			if r := c.do("GET", "/v1/leads?limit=1", nil); r.Status != 401 {
				return fmt.Errorf("GET with the old secret after its grace = %d", r.Status)
			}
		}
		return nil
	})
	every(abc, func(c *client, where string) {
		for _, path := range []string{"/v1/leads?limit=1", "/v1/leads/" + poor.ID} {
			if r := c.do("GET", path, nil); r.Status != 401 {
				t.Fatalf("%s: GET %s with the old secret after its grace = %d", where, path, r.Status)
			}
		}
	})

	// A revocation: the next request of every kind is refused.
	s.admin.do("DELETE", "/v1/tokens/"+s.abc.rwID, nil).want(200)
	every(fresh, func(c *client, where string) {
		for _, req := range []struct{ method, path string }{{"GET", "/v1/leads?limit=1"}, {"GET", "/v1/leads/" + poor.ID},
			{"POST", "/v1/leads"}, {"GET", "/v1/schema"}} {
			var body any
			if req.method == "POST" {
				body = map[string]any{"fields": map[string]any{"name": "X", "source": "partner-abc", "budget": 900}}
			}
			if r := c.do(req.method, req.path, body); r.Status != 401 || r.Header.Get("RateLimit") != "" {
				t.Fatalf("%s: %s %s after revocation = %d (RateLimit %q)", where, req.method, req.path, r.Status, r.Header.Get("RateLimit"))
			}
		}
	})
}
