package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
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

// auditEntry is an entry of an audit history or a feed line.
type auditEntry struct {
	Position      int64           `json:"position"`
	StreamID      string          `json:"stream_id"`
	StreamVersion int64           `json:"stream_version"`
	Type          string          `json:"type"`
	Time          time.Time       `json:"time"`
	Actor         *auditActor     `json:"actor"`
	RequestID     string          `json:"request_id"`
	Data          json.RawMessage `json:"data"`
	Kind          string          `json:"kind"`
	Changes       []auditChange   `json:"changes"`
	Synthesized   bool            `json:"synthesized"`
	Hash          string          `json:"hash"`
}

type auditActor struct {
	TokenID string `json:"token_id"`
	Name    string `json:"name"`
}

type auditChange struct {
	Field  string `json:"field"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

type integrity struct {
	Intact     bool `json:"intact"`
	FirstBreak *struct {
		StreamVersion int64  `json:"stream_version"`
		Position      int64  `json:"position"`
		Reason        string `json:"reason"`
	} `json:"first_break"`
}

// change finds the change of field in an entry.
func (e auditEntry) change(field string) (auditChange, bool) {
	for _, c := range e.Changes {
		if c.Field == field {
			return c, true
		}
	}
	return auditChange{}, false
}

// visible is GET /v1/audit/tokens/{id}/visible-leads.
func (c *client) visible(tokenID string, at time.Time) (state string, ids []string) {
	c.t.Helper()
	var v struct {
		State string   `json:"state"`
		Count int      `json:"count"`
		Data  []string `json:"data"`
	}
	c.do("GET", "/v1/audit/tokens/"+tokenID+"/visible-leads?at="+url.QueryEscape(at.Format(time.RFC3339Nano)), nil).want(200).into(&v)
	if v.Count != len(v.Data) {
		c.t.Fatalf("visible-leads: count %d for %d ids", v.Count, len(v.Data))
	}
	return v.State, v.Data
}

// tokenID finds a token of the account by name.
func (s *setup) tokenID(name string) string {
	var page struct {
		Data []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"data"`
	}
	s.admin.do("GET", "/v1/tokens", nil).want(200).into(&page)
	for _, t := range page.Data {
		if t.Name == name {
			return t.ID
		}
	}
	return ""
}

// TestAuditorsReplayLeadAndTokenHistory runs a realistic sequence through
// the API (a partner creates and updates leads, the admin renames the
// partner's token, narrows its filter, shows, rotates then revokes the
// token) and replays it as an auditor: histories with actors, request ids and
// changes; the lead as it was; what the partner could see before and
// after the filter change; a hand-edited event; and who may ask.
func TestAuditorsReplayLeadAndTokenHistory(t *testing.T) {
	t.Parallel()
	// The auditor polls while other tests' transactions hold the log's
	// horizon back: more requests than the default budget.
	m := mustRunMain(t, "LEADSVC_RATE_LIMIT", "100000")
	s := mustSetup(t, m)
	auditor := s.admin // the owner token carries audit
	rwID := s.tokenID("partner-abc write")

	budgets := []int{500, 1500, 800, 2500}
	var leads []lead
	for i, b := range budgets {
		var l lead
		s.abc.rw.do("POST", "/v1/leads", map[string]any{"fields": map[string]any{"name": fmt.Sprint("Lead ", i), "budget": b}},
			"X-Request-Id", fmt.Sprint("req-create-", i)).want(201).into(&l)
		leads = append(leads, l)
	}
	xyzLead, _ := s.xyz.rw.mustCreateLead(map[string]any{"fields": map[string]any{"name": "Other partner's", "budget": 9000}})
	afterCreate := time.Now().UTC()
	s.abc.rw.do("PATCH", "/v1/leads/"+leads[0].ID, map[string]any{"status": "contacted", "fields": map[string]any{"budget": 600}},
		"X-Request-Id", "req-update-0").want(200)
	s.abc.rw.do("PATCH", "/v1/leads/"+leads[1].ID, map[string]any{"fields": map[string]any{"email": "b@example.com"}}).want(200)
	auditor.do("PATCH", "/v1/tokens/"+rwID, map[string]any{"name": "ABC writer (renamed)"}).want(200)
	beforeNarrowing := time.Now().UTC()
	auditor.do("PATCH", "/v1/filters/"+s.abc.filterID, map[string]any{"conditions": []map[string]any{
		{"field": "source", "op": "eq", "value": "partner-abc"}, {"field": "budget", "op": "gte", "value": 1000}}}).want(200)
	afterNarrowing := time.Now().UTC()
	auditor.do("POST", "/v1/tokens/"+rwID+"/reveal", nil).want(200)
	auditor.do("POST", "/v1/tokens/"+rwID+"/rotate", nil).want(200)
	auditor.do("DELETE", "/v1/tokens/"+rwID, nil).want(200)

	// The lead's history: who (by the name the token had then), which
	// request, what changed.
	var hist struct {
		LeadID    string       `json:"lead_id"`
		Version   int64        `json:"version"`
		Data      []auditEntry `json:"data"`
		Integrity integrity    `json:"integrity"`
	}
	auditor.do("GET", "/v1/audit/leads/"+leads[0].ID+"/events", nil).want(200).into(&hist)
	if len(hist.Data) != 2 || hist.Version != 2 || !hist.Integrity.Intact || hist.Integrity.FirstBreak != nil {
		t.Fatalf("lead history %+v: want 2 events and an intact chain", hist)
	}
	created, updated := hist.Data[0], hist.Data[1]
	if created.Type != "lead.created" || created.Actor == nil || created.Actor.TokenID != rwID || created.Actor.Name != "partner-abc write" ||
		created.RequestID != "req-create-0" || created.Position == 0 || created.StreamVersion != 1 || len(created.Hash) != 64 {
		t.Fatalf("created entry %+v: want the partner's token under its name then and the request id", created)
	}
	if c, ok := created.change("fields.budget"); !ok || c.Before != nil || c.After != float64(500) {
		t.Fatalf("created changes %+v: want fields.budget ∅ → 500", created.Changes)
	}
	if c, ok := created.change("fields.source"); !ok || c.After != "partner-abc" {
		t.Fatalf("created changes %+v: want the source the filter filled in", created.Changes)
	}
	if c, ok := updated.change("status"); !ok || c.Before != "new" || c.After != "contacted" || updated.RequestID != "req-update-0" {
		t.Fatalf("update entry %+v: want status new → contacted", updated)
	}
	if c, ok := updated.change("fields.budget"); !ok || c.Before != float64(500) || c.After != float64(600) || len(updated.Changes) != 2 {
		t.Fatalf("update changes %+v: want budget 500 → 600 and the status, nothing else", updated.Changes)
	}

	// The lead as it was.
	var then lead
	auditor.do("GET", "/v1/audit/leads/"+leads[0].ID+"?at="+url.QueryEscape(afterCreate.Format(time.RFC3339Nano)), nil).want(200).into(&then)
	if then.Status != "new" || then.Version != 1 || then.Fields["budget"] != float64(500) {
		t.Fatalf("lead at %s = %+v, want version 1, new, budget 500", afterCreate, then)
	}
	auditor.do("GET", "/v1/audit/leads/"+leads[0].ID+"?version=2", nil).want(200).into(&then)
	if then.Status != "contacted" || then.Fields["budget"] != float64(600) {
		t.Fatalf("lead at version 2 = %+v", then)
	}
	auditor.do("GET", "/v1/audit/leads/"+leads[0].ID+"?at=2001-01-01T00:00:00Z", nil).problem(404)
	auditor.do("GET", "/v1/audit/leads/"+leads[0].ID+"?version=3", nil).problem(404)
	if p := auditor.do("GET", "/v1/audit/leads/"+leads[0].ID+"?at=yesterday", nil).problem(400); !p.hasError("at", "invalid_format") {
		t.Fatalf("a bad at: %+v", p)
	}
	auditor.do("GET", "/v1/audit/leads/"+leads[0].ID+"?at=2001-01-01T00:00:00Z&version=1", nil).problem(400)

	// The token's history, paged three entries at a time. Pages hold the
	// events below the oldest running transaction of the database, which
	// other tests' transactions can hold back for a moment.
	want := []string{"lifecycle token.created", "write lead.created", "write lead.created", "write lead.created", "write lead.created",
		"write lead.updated", "write lead.updated", "lifecycle token.updated", "lifecycle token.revealed", "lifecycle token.rotated",
		"lifecycle token.revoked"}
	var all []auditEntry
	testenv.CheckFor(t, time.Minute, func() error {
		var state string
		all = nil
		next := "/v1/audit/tokens/" + rwID + "/events?limit=3"
		for pages := 0; next != ""; pages++ {
			var page struct {
				Token struct {
					State string `json:"state"`
				} `json:"token"`
				Data      []auditEntry `json:"data"`
				NextAfter *int64       `json:"next_after"`
			}
			r := auditor.do("GET", next, nil).want(200).into(&page)
			all, state, next = append(all, page.Data...), page.Token.State, ""
			if page.NextAfter != nil {
				if !strings.Contains(r.Header.Get("Link"), fmt.Sprintf("after=%d", *page.NextAfter)) {
					t.Fatalf("page with next_after has Link %q", r.Header.Get("Link"))
				}
				next = fmt.Sprintf("/v1/audit/tokens/%s/events?limit=3&after=%d", rwID, *page.NextAfter)
			}
			if pages > 10 {
				return fmt.Errorf("token history does not end yet: %d entries", len(all))
			}
		}
		var kinds []string
		for _, e := range all {
			kinds = append(kinds, e.Kind+" "+e.Type)
		}
		if !slices.Equal(kinds, want) || state != "revoked" {
			return fmt.Errorf("token history %v (state %s), want %v (revoked)", kinds, state, want)
		}
		return nil
	})
	if c, ok := all[7].change("name"); !ok || c.Before != "partner-abc write" || c.After != "ABC writer (renamed)" {
		t.Fatalf("token.updated changes %+v", all[7].Changes)
	}
	if all[7].Actor == nil || all[7].Actor.Name != "Owner" || all[1].Actor.TokenID != rwID {
		t.Fatalf("lifecycle actor %+v, write actor %+v", all[7].Actor, all[1].Actor)
	}

	// What the partner could see: the filter change removed exactly the
	// leads under the new budget floor.
	_, before := auditor.visible(s.abc.roID, beforeNarrowing)
	_, after := auditor.visible(s.abc.roID, afterNarrowing)
	var all4, excluded []string
	for i, l := range leads {
		all4 = append(all4, l.ID)
		if budgets[i] < 1000 {
			excluded = append(excluded, l.ID)
		}
	}
	slices.Sort(all4)
	slices.Sort(excluded)
	var removed []string
	for _, id := range before {
		if !slices.Contains(after, id) {
			removed = append(removed, id)
		}
	}
	if !slices.Equal(before, all4) || !slices.Equal(removed, excluded) || len(after) != 2 {
		t.Fatalf("visible before %v, after %v: want all of %v, then without exactly %v", before, after, all4, excluded)
	}
	if st, ids := auditor.visible(rwID, beforeNarrowing); st != "active" || !slices.Equal(ids, all4) {
		t.Fatalf("the write token before revocation: %s %v", st, ids)
	}
	if st, ids := auditor.visible(rwID, time.Now()); st != "revoked" || len(ids) != 0 {
		t.Fatalf("the revoked token: %s %v", st, ids)
	}
	if st, ids := auditor.visible(s.abc.roID, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)); st != "not_created" || len(ids) != 0 {
		t.Fatalf("before the token existed: %s %v", st, ids)
	}
	if _, ids := auditor.visible(s.tokenID("Owner"), time.Now()); len(ids) != 5 || !slices.Contains(ids, xyzLead.ID) {
		t.Fatalf("the owner (account-level read) sees %v, want all 5 leads", ids)
	}

	// A hand-edited event breaks the chain, and the API says where.
	var pos int64
	if err := m.Pool.QueryRow(context.Background(), `UPDATE events SET data = jsonb_set(data, '{fields,budget}', '1000')
		WHERE stream_id = $1 AND stream_version = 1 RETURNING position`, domain.LeadStream(uuid.MustParse(leads[2].ID))).Scan(&pos); err != nil {
		t.Fatal(err)
	}
	var v integrity
	auditor.do("GET", "/v1/audit/leads/"+leads[2].ID+"/verify", nil).want(200).into(&v)
	if v.Intact || v.FirstBreak == nil || v.FirstBreak.StreamVersion != 1 || v.FirstBreak.Position != pos || !strings.Contains(v.FirstBreak.Reason, "hash") {
		t.Fatalf("verify after the edit: %+v", v)
	}
	auditor.do("GET", "/v1/audit/leads/"+leads[2].ID+"/events", nil).want(200).into(&hist)
	if hist.Integrity.Intact || hist.Integrity.FirstBreak == nil {
		t.Fatalf("history after the edit says %+v", hist.Integrity)
	}
	auditor.do("GET", "/v1/audit/leads/"+leads[3].ID+"/verify", nil).want(200).into(&v)
	if !v.Intact {
		t.Fatalf("an untouched lead: %+v", v)
	}

	// Another account's auditor: every id is not found, and its feed holds
	// only its own account's events.
	other := mustAccount(t, m, "Other Co")
	missing := other.do("GET", "/v1/audit/leads/"+uuid.NewString()+"/events", nil).problem(404)
	for _, path := range []string{"/v1/audit/leads/" + leads[0].ID + "/events", "/v1/audit/leads/" + leads[0].ID,
		"/v1/audit/leads/" + leads[0].ID + "/verify", "/v1/audit/tokens/" + rwID + "/events",
		"/v1/audit/tokens/" + rwID + "/visible-leads"} {
		p := other.do("GET", path, nil).problem(404)
		if strings.Contains(path, "/leads/") && p.Detail != missing.Detail {
			t.Fatalf("GET %s from another account: %+v, want the answer for a missing lead", path, p)
		}
	}
	testenv.CheckFor(t, time.Minute, func() error {
		feed := feedLines(t, other.do("GET", "/v1/audit/events", nil).want(200).Body)
		if len(feed) != 3 || feed[0].Type != "account.created" || feed[1].Type != "token.created" {
			return fmt.Errorf("another account's feed: %+v, want its account.created and token.created only", feed)
		}
		return nil
	})
	if p := other.do("GET", fmt.Sprintf("/v1/audit/events?after=%d", pos), nil).problem(400); !p.hasError("after", "invalid_cursor") {
		t.Fatalf("a position of another account: %+v", p)
	}

	// Tokens without audit on an account-level token: 403.
	noAudit := str(auditor.do("POST", "/v1/tokens", map[string]any{"name": "ops", "permissions": []string{"admin", "read"}}).want(201).obj(), "secret")
	for _, c := range []*client{s.abc.ro, s.xyz.rw, auditor.as(noAudit)} {
		for _, path := range []string{"/v1/audit/events", "/v1/audit/leads/" + leads[0].ID + "/events", "/v1/audit/tokens/" + rwID + "/visible-leads"} {
			c.do("GET", path, nil).problem(403)
		}
	}
}

// feedLine is an NDJSON line: an event, or the end line.
type feedLine struct {
	auditEntry
	End       bool  `json:"end"`
	NextAfter int64 `json:"next_after"`
	Count     int   `json:"count"`
	More      bool  `json:"more"`
	Error     any   `json:"error"`
}

// feedLines splits a feed body and checks its shape: every line an event
// with every contract member, the last one the end line.
func feedLines(t *testing.T, body []byte) []feedLine {
	t.Helper()
	var out []feedLine
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l feedLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("feed line %q: %v", sc.Text(), err)
		}
		if !l.End {
			var members map[string]json.RawMessage
			_ = json.Unmarshal(sc.Bytes(), &members)
			for _, k := range []string{"position", "stream_id", "stream_version", "type", "time", "actor", "request_id", "data", "hash"} {
				if _, ok := members[k]; !ok {
					t.Fatalf("feed line %s has no %s", sc.Text(), k)
				}
			}
		}
		out = append(out, l)
	}
	if len(out) == 0 || !out[len(out)-1].End || out[len(out)-1].Count != len(out)-1 {
		t.Fatalf("feed does not end with its end line: %s", body)
	}
	return out
}

// TestAuditFeedResumesWithoutGapsWhileWritesContinue reads the account's
// feed seven events at a time, resuming from each response's next_after,
// while four writers keep appending (group commit makes positions commit
// out of order): every event arrives exactly once.
func TestAuditFeedResumesWithoutGapsWhileWritesContinue(t *testing.T) {
	t.Parallel()
	// The auditor polls while other tests' transactions hold the log's
	// horizon back: more requests than the default budget.
	m := mustRunMain(t, "LEADSVC_RATE_LIMIT", "100000")
	s := mustSetup(t, m)
	var account uuid.UUID
	if err := m.Pool.QueryRow(context.Background(), `SELECT account_id FROM events WHERE stream_id = $1`,
		"campaign-"+s.campaignID).Scan(&account); err != nil {
		t.Fatal(err)
	}
	campaign := uuid.MustParse(s.campaignID)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				if _, err := m.Commands.CreateLead.Handle(context.Background(), commands.CreateLead{AccountID: account, CampaignID: campaign,
					Fields: map[string]any{"name": fmt.Sprint("W", w, "-", i), "source": "website"}}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	seen := map[int64]bool{}
	var after int64
	finished := false
	// Other tests' transactions in the database can hold the feed back
	// for a while: it reads below the oldest running one.
	deadline := time.Now().Add(time.Minute)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("the feed does not catch up: %d events delivered", len(seen))
		}
		select {
		case <-done:
			finished = true
		default:
		}
		r := s.admin.do("GET", fmt.Sprintf("/v1/audit/events?after=%d&limit=7", after), nil).want(200)
		if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
			t.Fatalf("Content-Type %q", ct)
		}
		lines := feedLines(t, r.Body)
		end := lines[len(lines)-1]
		for _, l := range lines[:len(lines)-1] {
			if seen[l.Position] {
				t.Fatalf("position %d delivered twice", l.Position)
			}
			seen[l.Position] = true
		}
		if end.Count > 7 || (end.Count > 0 && end.NextAfter != lines[len(lines)-2].Position) || (end.Count == 0 && end.NextAfter != after) {
			t.Fatalf("end line %+v after %d", end, after)
		}
		after = end.NextAfter
		if finished && !end.More {
			// Caught up with the writers done; a transaction elsewhere can
			// still hold the feed below the last writes for a moment.
			var n int
			if err := m.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE account_id = $1`, account).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == len(seen) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rows, err := m.Pool.Query(context.Background(), `SELECT position FROM events WHERE account_id = $1`, account)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var p int64
		_ = rows.Scan(&p)
		n++
		if !seen[p] {
			t.Fatalf("position %d was never delivered", p)
		}
	}
	if n != len(seen) || n < 100 {
		t.Fatalf("the feed delivered %d events, the account has %d", len(seen), n)
	}
}
