package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// batchOf is a batch body of the given leads.
func batchOf(leads ...map[string]any) map[string]any {
	return map[string]any{"leads": leads}
}

// named is a lead body with a name and the given other fields.
func named(name string, fields ...any) map[string]any {
	f := map[string]any{"name": name}
	for i := 0; i+1 < len(fields); i += 2 {
		f[fields[i].(string)] = fields[i+1]
	}
	return map[string]any{"fields": f}
}

// mustBatch sends a batch and returns its leads and the write's position.
func (c *client) mustBatch(body any, headers ...string) ([]lead, reply) {
	c.t.Helper()
	var out struct {
		Data []lead `json:"data"`
	}
	r := c.do("POST", "/v1/leads/batch", body, headers...).want(201).into(&out)
	if r.Header.Get("Leadsvc-Position") == "" {
		c.t.Fatalf("batch: no Leadsvc-Position in %v", r.Header)
	}
	return out.Data, r
}

func TestBatchCreatesLeadsInOrderAllOrNothing(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	s := mustSetup(t, m)

	before := countEvents(t, m)
	created, r := s.abc.rw.mustBatch(batchOf(named("Ada"), named("Bob", "budget", 1200),
		map[string]any{"status": "contacted", "fields": map[string]any{"name": "Cy", "source": "partner-abc"}},
		map[string]any{"campaign_id": s.campaignID, "fields": map[string]any{"name": "Dee", "email": "dee@example.com"}}))
	if got := countEvents(t, m) - before; got != 4 {
		t.Fatalf("a batch of 4 appended %d events", got)
	}
	var names []string
	for i, l := range created {
		names = append(names, l.Fields["name"].(string))
		// The filter's eq condition fills source in wherever it is omitted.
		wantDefaulted := []string{"source"}
		if i == 2 {
			wantDefaulted = nil
		}
		if l.Fields["source"] != "partner-abc" || !slices.Equal(l.Defaulted, wantDefaulted) || l.Version != 1 || l.CampaignID != s.campaignID {
			t.Fatalf("lead %d = %+v, want source partner-abc, defaulted %v", i, l, wantDefaulted)
		}
	}
	if !slices.Equal(names, []string{"Ada", "Bob", "Cy", "Dee"}) || created[2].Status != "contacted" || created[0].Status != "new" {
		t.Fatalf("created %v (statuses %s, %s), want the request's order", names, created[0].Status, created[2].Status)
	}
	pos := r.Header.Get("Leadsvc-Position")
	// Every lead of the batch is readable at its position, by id and in
	// the list of the partner's read-only token.
	for _, l := range created {
		var got lead
		s.abc.ro.do("GET", "/v1/leads/"+l.ID, nil, "Leadsvc-Min-Position", pos).want(200).into(&got)
		if got.ID != l.ID || got.Fields["name"] != l.Fields["name"] {
			t.Fatalf("read back %+v, want %+v", got, l)
		}
	}
	if got := s.abc.ro.listAll("", pos); !slices.Equal(ids(got), ids(created)) {
		t.Fatalf("the partner lists %v, want the batch's %v", ids(got), ids(created))
	}
	var txs int
	if err := m.Pool.QueryRow(t.Context(), `SELECT count(DISTINCT tx_id) FROM events WHERE stream_id = ANY($1)`,
		[]string{"lead-" + created[0].ID, "lead-" + created[3].ID}).Scan(&txs); err != nil || txs != 1 {
		t.Fatalf("the batch's events are in %d transactions (%v), want one", txs, err)
	}

	// One bad item refuses the batch, naming the item; nothing is written.
	mustWriteNothing(t, m, "refused batches", func() { refusedBatches(t, s) })
	if got := s.abc.ro.listAll("", pos); len(got) != len(created) {
		t.Fatalf("the partner lists %d leads after refused batches, want %d", len(got), len(created))
	}

	// An account-level token may write to several campaigns at once.
	other := str(s.admin.do("POST", "/v1/campaigns", campaignBody).want(201).obj(), "id")
	both, _ := s.admin.mustBatch(batchOf(map[string]any{"campaign_id": s.campaignID, "fields": map[string]any{"name": "Here", "source": "website"}},
		map[string]any{"campaign_id": other, "fields": map[string]any{"name": "There", "source": "website"}}))
	if both[0].CampaignID != s.campaignID || both[1].CampaignID != other || len(both[0].Defaulted) != 0 {
		t.Fatalf("an account-level batch over two campaigns: %+v", both)
	}
	// A partner's token writes to its own campaign only.
	mustWriteNothing(t, m, "a partner's batch into another campaign", func() {
		p := s.abc.rw.do("POST", "/v1/leads/batch", batchOf(named("Mine"), map[string]any{"campaign_id": other, "fields": map[string]any{"name": "Not mine"}})).problem(422)
		if !p.hasError("leads[1].campaign_id", "invalid_value") || len(p.Errors) != 1 {
			t.Fatalf("a partner's batch into another campaign: %+v", p)
		}
	})
}

// refusedBatches sends batches with bad items: each is refused with a 422
// naming every bad item by its index.
func refusedBatches(t *testing.T, s *setup) {
	t.Helper()
	p := s.abc.rw.do("POST", "/v1/leads/batch", batchOf(named("A"), named("B"), named("C"), named("D", "budget", "lots"), named("E"))).problem(422)
	if p.Type != "urn:leadsvc:problem:validation" || len(p.Errors) != 1 || !p.hasError("leads[3].fields.budget", "wrong_type") ||
		!strings.HasPrefix(p.Errors[0].Message, "leads[3].fields.budget: ") {
		t.Fatalf("a bad budget in leads[3]: %+v", p)
	}
	p = s.abc.rw.do("POST", "/v1/leads/batch", batchOf(named("A"), map[string]any{"status": "gone", "fields": map[string]any{"name": "B"}},
		map[string]any{"status": 3, "fields": map[string]any{}})).problem(422)
	if !p.hasError("leads[2].status", "wrong_type") || len(p.Errors) != 1 {
		t.Fatalf("unreadable leads[2]: %+v", p)
	}
	// A member no lead has makes the batch unreadable as a whole.
	p = s.abc.rw.do("POST", "/v1/leads/batch", batchOf(named("A"), map[string]any{"colour": "red", "fields": map[string]any{"name": "D"}})).problem(400)
	if !p.hasError("leads[1].colour", "unknown_field") || len(p.Errors) != 1 {
		t.Fatalf("an unknown member in leads[1]: %+v", p)
	}
	p = s.abc.rw.do("POST", "/v1/leads/batch", batchOf(named("A"), map[string]any{"status": "gone", "fields": map[string]any{"name": "B"}},
		map[string]any{"fields": map[string]any{}})).problem(422)
	if !p.hasError("leads[1].status", "unknown_status") || !p.hasError("leads[2].fields.name", "required") || len(p.Errors) != 2 {
		t.Fatalf("an unknown status in leads[1], no name in leads[2]: %+v", p)
	}
	// An account-level token names each lead's campaign.
	p = s.admin.do("POST", "/v1/leads/batch", batchOf(map[string]any{"fields": map[string]any{"name": "A", "source": "website"}},
		map[string]any{"campaign_id": "nope", "fields": map[string]any{"name": "B", "source": "website"}})).problem(422)
	if !p.hasError("leads[0].campaign_id", "required") || !p.hasError("leads[1].campaign_id", "invalid_format") {
		t.Fatalf("an account-level batch without campaigns: %+v", p)
	}
	p = s.admin.do("POST", "/v1/leads/batch", batchOf(map[string]any{"campaign_id": s.campaignID, "fields": map[string]any{"name": "A", "source": "website"}},
		map[string]any{"campaign_id": uuid.NewString(), "fields": map[string]any{"name": "B", "source": "website"}})).problem(422)
	if !p.hasError("leads[1].campaign_id", "invalid_value") || len(p.Errors) != 1 {
		t.Fatalf("an account-level batch naming an unknown campaign: %+v", p)
	}
}

func TestBatchOutsideTheFilterIsRefusedAsASingleCreateIs(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	s := mustSetup(t, m)
	mustWriteNothing(t, m, "batches outside the filter", func() {
		single := s.abc.rw.do("POST", "/v1/leads", map[string]any{"fields": map[string]any{"name": "Out", "source": "website"}}).problem(422)
		p := s.abc.rw.do("POST", "/v1/leads/batch", batchOf(named("In"), named("Out", "source", "website"), named("In too"))).problem(422)
		if p.Type != single.Type || p.Title != single.Title || len(p.Errors) != 1 || len(single.Errors) != 1 {
			t.Fatalf("batch refusal %+v, single refusal %+v: want the same type and title, one error", p, single)
		}
		got, want := p.Errors[0], single.Errors[0]
		if got.Field != "leads[1]."+want.Field || got.Code != want.Code || got.Code != "unknown_option" || got.Message != "leads[1]."+want.Message {
			t.Fatalf("batch error %+v, single error %+v: want the single's under leads[1]", got, want)
		}
		// An unknown option names only the options this partner's leads
		// can hold, never the other partner's.
		p = s.abc.rw.do("POST", "/v1/leads/batch", batchOf(named("In"), named("Typo", "source", "nope"))).problem(422)
		if !p.hasError("leads[1].fields.source", "unknown_option") {
			t.Fatalf("an unknown option: %+v", p)
		}
		for _, text := range append([]string{p.Detail}, p.Errors[0].Message) {
			if strings.Contains(text, "partner-xyz") || strings.Contains(text, "website") {
				t.Fatalf("a partner's problem names options outside its filter: %q", text)
			}
		}
	})

	// Through a deleted filter, every lead is refused.
	s.admin.do("DELETE", "/v1/filters/"+s.abc.filterID, nil).want(204)
	mustWriteNothing(t, m, "a batch through a deleted filter", func() {
		p := s.abc.rw.do("POST", "/v1/leads/batch", batchOf(named("A", "source", "partner-abc"), named("B", "source", "partner-abc"))).problem(422)
		if !p.hasError("leads[0]", "outside_scope") || !p.hasError("leads[1]", "outside_scope") {
			t.Fatalf("a batch through a deleted filter: %+v", p)
		}
	})
}

func TestBatchSizeShapeAndPermission(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	s := mustSetup(t, m)
	leads := func(n int) map[string]any {
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = named(fmt.Sprintf("Lead %d", i))
		}
		return batchOf(out...)
	}
	s.abc.rw.mustBatch(leads(100))
	mustWriteNothing(t, m, "refused batches", func() { refusedShapes(t, s, leads) })
}

// refusedShapes sends batches of the wrong size or shape, and one of a
// read-only token: each is refused with a problem naming the member.
func refusedShapes(t *testing.T, s *setup, leads func(int) map[string]any) {
	t.Helper()
	for _, tc := range []struct {
		name   string
		c      *client
		body   any
		status int
		field  string
	}{
		{"101 leads", s.abc.rw, leads(101), 422, "leads"},
		{"no lead", s.abc.rw, leads(0), 422, "leads"},
		{"no leads member", s.abc.rw, `{}`, 422, "leads"},
		{"leads null", s.abc.rw, `{"leads": null}`, 422, "leads"},
		{"leads not an array", s.abc.rw, `{"leads": {"fields": {"name": "A"}}}`, 422, "leads"},
		{"a lead not an object", s.abc.rw, `{"leads": [{"fields": {"name": "A"}}, 7]}`, 422, "leads[1]"},
		{"a null lead", s.abc.rw, `{"leads": [null]}`, 422, "leads[0]"},
		{"unknown member", s.abc.rw, `{"leads": [{"fields": {"name": "A"}}], "dry_run": true}`, 400, "dry_run"},
		{"not an object", s.abc.rw, `[{"fields": {"name": "A"}}]`, 400, "body"},
		{"malformed", s.abc.rw, `{"leads": [{"fields": {"name": "A"}}`, 400, "body"},
		{"read-only token", s.abc.ro, leads(1), 403, ""},
	} {
		p := tc.c.do("POST", "/v1/leads/batch", tc.body).problem(tc.status)
		found := tc.field == ""
		for _, e := range p.Errors {
			found = found || e.Field == tc.field
		}
		if !found {
			t.Errorf("%s: errors %+v, want one on %s", tc.name, p.Errors, tc.field)
		}
	}
}

func TestBatchIdempotencyAndRateLimit(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, "LEADSVC_RATE_LIMIT", "60")
	s := mustSetup(t, m)
	body := batchOf(named("Ada"), named("Bob"))

	// One key covers the batch: the replay answers the first response and
	// writes nothing.
	before := countEvents(t, m)
	_, first := s.abc.rw.mustBatch(body, "Idempotency-Key", "batch-1")
	_, again := s.abc.rw.mustBatch(body, "Idempotency-Key", "batch-1")
	if string(first.Body) != string(again.Body) || first.Header.Get("Leadsvc-Position") != again.Header.Get("Leadsvc-Position") ||
		again.Header.Get("Idempotent-Replayed") != "true" || first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("replay differs:\n%s %v\n%s %v", first.Body, first.Header, again.Body, again.Header)
	}
	if got := countEvents(t, m) - before; got != 2 {
		t.Fatalf("%d events for one idempotent batch of 2", got)
	}
	if p := s.abc.rw.do("POST", "/v1/leads/batch", batchOf(named("Ada")), "Idempotency-Key", "batch-1").problem(422); !p.hasError("Idempotency-Key", "idempotency_key_reused") {
		t.Fatalf("the key with another batch: %+v", p)
	}
	// A refused batch is not kept: the corrected one may use its key.
	s.abc.rw.do("POST", "/v1/leads/batch", batchOf(named("Cy", "budget", "lots")), "Idempotency-Key", "batch-2").problem(422)
	s.abc.rw.mustBatch(batchOf(named("Cy", "budget", 3)), "Idempotency-Key", "batch-2")

	// A batch costs one unit per lead: a fresh token's 60 units pay for a
	// batch of 50, not for a second one, which writes nothing.
	budget := s.abc.rw.as(str(s.admin.do("POST", "/v1/tokens", map[string]any{"name": "budget", "campaign_id": s.campaignID,
		"filter_id": s.abc.filterID, "permissions": []string{"read", "write"}}).want(201).obj(), "secret"))
	fifty := make([]map[string]any, 50)
	for i := range fifty {
		fifty[i] = named(strconv.Itoa(i))
	}
	_, r := budget.mustBatch(batchOf(fifty...))
	left := func(r reply) int {
		var n, secs int
		if _, err := fmt.Sscanf(r.Header.Get("RateLimit"), `"default";r=%d;t=%d`, &n, &secs); err != nil {
			t.Fatalf("RateLimit %q: %v", r.Header.Get("RateLimit"), err)
		}
		return n
	}
	if n := left(r); n > 11 {
		t.Fatalf("%d units left after a batch of 50 out of 60, want at most 11", n)
	}
	mustWriteNothing(t, m, "a rate-limited batch", func() {
		limited := budget.do("POST", "/v1/leads/batch", batchOf(fifty...))
		limited.problem(429)
		if limited.Header.Get("Retry-After") == "" {
			t.Fatalf("429 without Retry-After: %v", limited.Header)
		}
	})
	budget.mustBatch(batchOf(named("Small")))
}
