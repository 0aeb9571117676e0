package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// sameApartFrom fails the test unless a and b are the same answer once
// the value each was about is blanked out: same status, and bodies equal
// but for the request id.
func sameApartFrom(t *testing.T, what string, a reply, valueA string, b reply, valueB string) {
	t.Helper()
	norm := func(r reply, value string) string {
		var m map[string]any
		r.into(&m)
		delete(m, "request_id")
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return strings.ReplaceAll(string(out), value, "<value>")
	}
	if a.Status != b.Status {
		t.Fatalf("%s: status %d for %q, %d for %q:\n%s\n%s", what, a.Status, valueA, b.Status, valueB, a.Body, b.Body)
	}
	if na, nb := norm(a, valueA), norm(b, valueB); na != nb {
		t.Fatalf("%s: the answers differ beyond the value:\n%s\n%s", what, na, nb)
	}
}

// mustNotName fails the test if the reply names any of the values.
func mustNotName(t *testing.T, what string, r reply, values ...string) {
	t.Helper()
	for _, v := range values {
		if strings.Contains(string(r.Body), v) {
			t.Fatalf("%s names %q, outside the token's scope: %s", what, v, r.Body)
		}
	}
}

// TestScopedErrorsSayTheSameOfOutOfScopeAndUnknownValues sends, through a
// filtered token, a value of another partner's scope and a made-up one in
// every write: both answers are the same problem apart from the value,
// and neither names an option or status the token cannot see.
func TestScopedErrorsSayTheSameOfOutOfScopeAndUnknownValues(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	s := mustSetup(t, m)
	// A partner that sees its own source, and no lead once it is won.
	filter := str(s.admin.do("POST", "/v1/campaigns/"+s.campaignID+"/filters", map[string]any{"name": "abc open",
		"conditions": []map[string]any{{"field": "source", "op": "eq", "value": "partner-abc"}, {"field": "status", "op": "neq", "value": "won"}},
	}).want(201).obj(), "id")
	c := s.admin.as(str(s.admin.do("POST", "/v1/tokens", map[string]any{"name": "abc open", "campaign_id": s.campaignID,
		"filter_id": filter, "permissions": []string{"read", "write"}}).want(201).obj(), "secret"))
	l, _ := c.mustCreateLead(map[string]any{"fields": map[string]any{"name": "Ada"}})

	writes := []struct {
		name string
		send func(v string) reply
	}{
		{"create with a source", func(v string) reply {
			return c.do("POST", "/v1/leads", map[string]any{"fields": map[string]any{"name": "x", "source": v}})
		}},
		{"create with a status", func(v string) reply {
			return c.do("POST", "/v1/leads", map[string]any{"status": v, "fields": map[string]any{"name": "x"}})
		}},
		{"patch of the source", func(v string) reply {
			return c.do("PATCH", "/v1/leads/"+l.ID, map[string]any{"fields": map[string]any{"source": v}})
		}},
		{"patch of the status", func(v string) reply {
			return c.do("PATCH", "/v1/leads/"+l.ID, map[string]any{"status": v})
		}},
		{"batch with a source", func(v string) reply {
			return c.do("POST", "/v1/leads/batch", batchOf(named("In"), named("Out", "source", v)))
		}},
		{"batch with a status", func(v string) reply {
			return c.do("POST", "/v1/leads/batch", batchOf(named("In"), map[string]any{"status": v, "fields": map[string]any{"name": "Out"}}))
		}},
	}
	values := map[string][2]string{"source": {"partner-xyz", "partner-qqq"}, "status": {"won", "lost"}}
	mustWriteNothing(t, m, "writes of values outside the scope", func() {
		for _, w := range writes {
			pair := values["source"]
			if strings.Contains(w.name, "status") {
				pair = values["status"]
			}
			outside, unknown := w.send(pair[0]), w.send(pair[1])
			if outside.Status != 422 {
				t.Fatalf("%s %q: %d %s", w.name, pair[0], outside.Status, outside.Body)
			}
			sameApartFrom(t, w.name, outside, pair[0], unknown, pair[1])
			mustNotName(t, w.name, unknown, "website", "Website", "partner-xyz", "PARTNER-XYZ", "won", "Won")
		}
	})
}

// TestDeletedFilterLeavesNothingButTheFields deletes a token's filter:
// the token then writes no lead, and its schema and its three public
// documents name no option of any select and no status.
func TestDeletedFilterLeavesNothingButTheFields(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	s := mustSetup(t, m)
	l, pos := s.abc.rw.mustCreateLead(map[string]any{"fields": map[string]any{"name": "Ada"}})
	s.abc.ro.do("GET", "/v1/leads/"+l.ID, nil, "Leadsvc-Min-Position", pos).want(200)
	s.admin.do("DELETE", "/v1/filters/"+s.abc.filterID, nil).want(204)

	// Reads find nothing (TestScopeEdges); a write is refused for the
	// filter, whatever its values.
	mustWriteNothing(t, m, "writes through a deleted filter", func() {
		for _, r := range []reply{
			s.abc.rw.do("POST", "/v1/leads", map[string]any{"fields": map[string]any{"name": "x", "source": "partner-abc"}}),
			s.abc.rw.do("POST", "/v1/leads", map[string]any{"fields": map[string]any{"name": "x", "source": "zzz"}}),
		} {
			p := r.problem(422)
			if p.Type != "urn:leadsvc:problem:outside-scope" || !strings.Contains(p.Detail, "filter was deleted") {
				t.Fatalf("a create through a deleted filter: %+v", p)
			}
			mustNotName(t, "the refusal", r, "website", "partner-xyz")
		}
		s.abc.rw.do("PATCH", "/v1/leads/"+l.ID, map[string]any{"status": "won"}).problem(404)
	})

	// Option values and labels, and status slugs and labels, of the
	// campaign: none may show on any surface of the token (whose name,
	// "partner-abc read", may).
	hidden := []string{"website", "Website", `"partner-abc"`, "PARTNER-ABC", "partner-xyz", "PARTNER-XYZ", "contacted", "Contacted"}
	schema := s.abc.ro.do("GET", "/v1/schema", nil).want(200)
	mustNotName(t, "GET /v1/schema", schema, hidden...)
	var got struct {
		Campaign struct {
			Fields []struct{ Key string }
		}
		Scope []string
	}
	schema.into(&got)
	if len(got.Campaign.Fields) != 4 || len(got.Scope) != 1 || !strings.Contains(got.Scope[0], "deleted") {
		t.Fatalf("the schema of a token whose filter is gone: %s", schema.Body)
	}
	docs := urlPath(t, s.abc.docsURL)
	for _, p := range []string{docs, docs + "/openapi.yaml", docs + "/postman.json"} {
		r := docsGet(t, m, p).want(200)
		mustNotName(t, p, r, hidden...)
		if !strings.HasSuffix(p, "postman.json") && !strings.Contains(string(r.Body), "budget") {
			t.Fatalf("%s lacks the fields", p)
		}
	}
}

// streamEvents counts the events of one type in a stream.
func streamEvents(t *testing.T, m *Main, stream, eventType string) int {
	t.Helper()
	var n int
	if err := m.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE stream_id = $1 AND event_type = $2`,
		stream, eventType).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// mustWithhold fails the test unless a replayed answer carries
// "secret": null with the reason given, and none of the secrets.
func mustWithhold(t *testing.T, what string, r reply, reason string, secrets ...string) {
	t.Helper()
	body := r.obj()
	if s, present := body["secret"]; !present || s != nil || str(body, "secret_withheld") != reason || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("%s: want secret null, withheld %q, replayed: %s %v", what, reason, r.Body, r.Header)
	}
	for _, s := range secrets {
		if strings.Contains(string(r.Body), s) {
			t.Fatalf("%s shows a secret: %s", what, r.Body)
		}
	}
}

// TestReplayedTokenWritesShowOnlyTheOriginalLiveSecret replays token
// creates and rotations: the original secret while it is still the
// token's, recorded as token.revealed; after a rotation or revocation no
// secret at all, and nothing recorded.
func TestReplayedTokenWritesShowOnlyTheOriginalLiveSecret(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	admin := mustAccount(t, m, "Acme")
	body := map[string]any{"name": "ci", "permissions": []string{"read"}}
	first := admin.do("POST", "/v1/tokens", body, "Idempotency-Key", "t-1").want(201)
	id, original := str(first.obj(), "id"), str(first.obj(), "secret")
	stream := "token-" + id
	again := admin.do("POST", "/v1/tokens", body, "Idempotency-Key", "t-1").want(201)
	if string(again.Body) != string(first.Body) || streamEvents(t, m, stream, "token.revealed") != 1 {
		t.Fatalf("a replay of an unchanged token: %s, %d token.revealed", again.Body, streamEvents(t, m, stream, "token.revealed"))
	}

	rotated := str(admin.do("POST", "/v1/tokens/"+id+"/rotate", map[string]any{}, "Idempotency-Key", "r-1").want(200).obj(), "secret")
	mustWithhold(t, "a create replayed after a rotation", admin.do("POST", "/v1/tokens", body, "Idempotency-Key", "t-1").want(201),
		"rotated", original, rotated)
	if str(admin.do("POST", "/v1/tokens/"+id+"/rotate", map[string]any{}, "Idempotency-Key", "r-1").want(200).obj(), "secret") != rotated {
		t.Fatal("a replayed rotation does not show the secret it made while it is current")
	}
	if n := streamEvents(t, m, stream, "token.revealed"); n != 2 {
		t.Fatalf("%d token.revealed, want 2: one per replay that showed a secret", n)
	}
	newest := str(admin.do("POST", "/v1/tokens/"+id+"/rotate", map[string]any{}).want(200).obj(), "secret")
	mustWithhold(t, "a rotation replayed after another", admin.do("POST", "/v1/tokens/"+id+"/rotate", map[string]any{}, "Idempotency-Key", "r-1").want(200),
		"rotated", original, rotated, newest)

	admin.do("DELETE", "/v1/tokens/"+id, nil).want(200)
	mustWithhold(t, "a create replayed after the revocation", admin.do("POST", "/v1/tokens", body, "Idempotency-Key", "t-1").want(201),
		"revoked", original, rotated, newest)
	if n := streamEvents(t, m, stream, "token.revealed"); n != 2 {
		t.Fatalf("%d token.revealed after replays that showed nothing, want 2", n)
	}
}

// TestReplayedWebhookWritesShowOnlyTheOriginalLiveSecret is the same for
// webhook signing secrets, recorded as webhook.secret_revealed.
func TestReplayedWebhookWritesShowOnlyTheOriginalLiveSecret(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, "LEADSVC_WEBHOOKS_ALLOW_PRIVATE", "true")
	admin := mustAccount(t, m, "Acme")
	campaign := str(admin.do("POST", "/v1/campaigns", campaignBody).want(201).obj(), "id")
	rcv := newHookReceiver(t)
	body := map[string]any{"url": rcv.srv.URL + "/hooks", "campaign_id": campaign}
	first := admin.do("POST", "/v1/webhooks", body, "Idempotency-Key", "h-1").want(201)
	id, original := str(first.obj(), "id"), str(first.obj(), "secret")
	stream := "webhook-" + id
	again := admin.do("POST", "/v1/webhooks", body, "Idempotency-Key", "h-1").want(201)
	if string(again.Body) != string(first.Body) || streamEvents(t, m, stream, "webhook.secret_revealed") != 1 {
		t.Fatalf("a replay of an unchanged webhook: %s, %d webhook.secret_revealed", again.Body, streamEvents(t, m, stream, "webhook.secret_revealed"))
	}
	rotated := str(admin.do("POST", "/v1/webhooks/"+id+"/rotate-secret", map[string]any{}, "Idempotency-Key", "r-1").want(200).obj(), "secret")
	mustWithhold(t, "a create replayed after a rotation", admin.do("POST", "/v1/webhooks", body, "Idempotency-Key", "h-1").want(201),
		"rotated", original, rotated)
	admin.do("DELETE", "/v1/webhooks/"+id, nil).want(204)
	mustWithhold(t, "a rotation replayed after the deletion", admin.do("POST", "/v1/webhooks/"+id+"/rotate-secret", map[string]any{}, "Idempotency-Key", "r-1").want(200),
		"deleted", original, rotated)
	if n := streamEvents(t, m, stream, "webhook.secret_revealed"); n != 1 {
		t.Fatalf("%d webhook.secret_revealed, want 1", n)
	}
}
