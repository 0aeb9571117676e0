package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// testClock is the commands' time, moved by the test.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const day = 24 * time.Hour

// mustRunMainAt runs the service with its commands on clk and the
// retention job left to the test.
func mustRunMainAt(t *testing.T, clk *testClock) *Main {
	t.Helper()
	return mustRunMainWith(t, func(m *Main) { m.Config.Clock = clk.now }, "LEADSVC_RETENTION_INTERVAL", "off",
		"LEADSVC_RATE_LIMIT", "100000")
}

var retentionCampaign = map[string]any{
	"name":     "Kept for a while",
	"fields":   []map[string]any{{"key": "name", "label": "Name", "type": "text", "required": true}},
	"statuses": []map[string]any{{"slug": "new", "label": "New"}, {"slug": "won", "label": "Won"}},
}

// mustLeadIn creates a lead and waits until the lead views hold it.
func mustLeadIn(t *testing.T, m *Main, admin *client, campaignID, name string) string {
	t.Helper()
	r := admin.do("POST", "/v1/leads", map[string]any{"campaign_id": campaignID, "fields": map[string]any{"name": name}}).want(201)
	mustProjected(t, m, r)
	return str(r.obj(), "id")
}

// mustProjected waits until the lead views reflect the write of r.
func mustProjected(t *testing.T, m *Main, r reply) {
	t.Helper()
	pos, err := strconv.ParseInt(r.Header.Get("Leadsvc-Position"), 10, 64)
	if err != nil {
		t.Fatalf("%s: no Leadsvc-Position", r.req)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if ok, err := m.Reader.WaitFor(ctx, pos); !ok || err != nil {
		t.Fatalf("the lead views did not reach position %d: %v", pos, err)
	}
}

// metricValue reads an unlabelled metric from /metrics.
func metricValue(t *testing.T, m *Main, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + m.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	resp.Body.Close()
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s %q", name, v)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// erasures counts each lead's lead.erased events.
func erasures(t *testing.T, m *Main) map[string]int {
	t.Helper()
	rows, err := m.Pool.Query(context.Background(), `SELECT stream_id, count(*) FROM events WHERE event_type = 'lead.erased' GROUP BY stream_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(s, "lead-")] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRetentionPolicyIsValidatedShownAndAudited(t *testing.T) {
	t.Parallel()
	m := mustRunMainAt(t, &testClock{t: time.Now()})
	owner := mustAccount(t, m, "Acme")
	admin := contractChecked(t, m, owner)
	created := admin.do("POST", "/v1/campaigns", retentionCampaign).want(201)
	camp := created.obj()
	id := str(camp, "id")
	if v, ok := camp["retention"]; !ok || v != nil {
		t.Fatalf("a new campaign's retention: %v (present %v), want null", v, ok)
	}
	path := "/v1/campaigns/" + id + "/retention"
	for _, tc := range []struct {
		body        any
		field, code string
	}{
		{map[string]any{"erase_after": "0d", "counted_from": "created"}, "erase_after", domain.CodeInvalidValue},
		{map[string]any{"erase_after": "730", "counted_from": "created"}, "erase_after", domain.CodeInvalidFormat},
		{map[string]any{"erase_after": "-5d", "counted_from": "created"}, "erase_after", domain.CodeInvalidFormat},
		{map[string]any{"erase_after": "2w", "counted_from": "created"}, "erase_after", domain.CodeInvalidFormat},
		{map[string]any{"erase_after": "36501d", "counted_from": "created"}, "erase_after", domain.CodeInvalidValue},
		{map[string]any{"erase_after": "99999999999999999999d", "counted_from": "created"}, "erase_after", domain.CodeInvalidValue},
		{map[string]any{"erase_after": "730d", "counted_from": "touched"}, "counted_from", domain.CodeInvalidValue},
		{map[string]any{"erase_after": "730d"}, "counted_from", domain.CodeRequired},
		{map[string]any{"counted_from": "created"}, "erase_after", domain.CodeRequired},
	} {
		if p := admin.do("PUT", path, tc.body).problem(422); !p.hasError(tc.field, tc.code) {
			t.Errorf("PUT %v: %+v, want %s %s", tc.body, p, tc.field, tc.code)
		}
	}
	mustWriteNothing(t, m, "a stale If-Match", func() {
		admin.do("PUT", path, map[string]any{"erase_after": "730d", "counted_from": "created"}, "If-Match", `"99"`).problem(412)
	})
	set := admin.do("PUT", path, map[string]any{"erase_after": "730d", "counted_from": "created"}, "If-Match", created.Header.Get("ETag")).
		want(200)
	want := map[string]any{"erase_after": "730d", "counted_from": "created"}
	if got := set.obj()["retention"]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("retention after PUT: %v, want %v", got, want)
	}
	if got := admin.do("GET", "/v1/campaigns/"+id, nil).want(200).obj()["retention"]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("GET campaign retention: %v, want %v", got, want)
	}
	if page := mustSignIn(t, m, owner.token).get("/campaigns/" + id).want(200); !page.contains("erased 730d after it was created") {
		t.Fatalf("the console's campaign page does not show the policy:\n%s", page.Body)
	}
	mustWriteNothing(t, m, "the same policy again", func() {
		admin.do("PUT", path, map[string]any{"erase_after": "730d", "counted_from": "created"}).want(200)
	})
	if got := admin.do("DELETE", path, nil, "If-Match", set.Header.Get("ETag")).want(200).obj(); got["retention"] != nil {
		t.Fatalf("retention after DELETE: %v", got["retention"])
	}

	// Each change is an event of the campaign, by the admin's token.
	recs, err := m.Store.ReadStream(context.Background(), domain.CampaignStream(uuid.MustParse(id)), eventstore.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var changes []string
	for _, r := range recs {
		if r.Type != "campaign.retention_changed" {
			continue
		}
		if r.Metadata.ActorTokenID == "" || r.Metadata.RequestID == "" {
			t.Errorf("retention change without its actor or request: %+v", r.Metadata)
		}
		changes = append(changes, string(r.Data))
	}
	if len(changes) != 2 || !strings.Contains(changes[0], `"730d"`) || strings.Contains(changes[1], "erase_after") {
		t.Fatalf("retention events: %v, want a set and a removal", changes)
	}
}

func TestRetentionErasesTheLeadsPastThePeriodOnly(t *testing.T) {
	t.Parallel()
	clk := &testClock{t: time.Now()}
	m := mustRunMainAt(t, clk)
	admin := mustAccount(t, m, "Acme")
	camp := str(admin.do("POST", "/v1/campaigns", retentionCampaign).want(201).obj(), "id")
	other := str(admin.do("POST", "/v1/campaigns", retentionCampaign).want(201).obj(), "id") // no policy
	admin.do("PUT", "/v1/campaigns/"+camp+"/retention", map[string]any{"erase_after": "730d", "counted_from": "created"}).want(200)

	old := mustLeadIn(t, m, admin, camp, "Old")
	changed := mustLeadIn(t, m, admin, camp, "Changed")
	unkept := mustLeadIn(t, m, admin, other, "Elsewhere")
	clk.advance(400 * day)
	young := mustLeadIn(t, m, admin, camp, "Young")
	// A change does not reset a period counted from creation.
	mustProjected(t, m, admin.do("PATCH", "/v1/leads/"+changed, map[string]any{"status": "won"}).want(200))

	clk.advance(329 * day) // 729 days after the first leads
	if r := m.retention.round(context.Background()); r.Erased != 0 || r.Failed != 0 {
		t.Fatalf("a round before the period ended: %+v", r)
	}
	clk.advance(2 * day)
	r := m.retention.round(context.Background())
	if r.Erased != 2 || r.Failed != 0 || r.Campaigns != 1 {
		t.Fatalf("the round after the period: %+v, want 2 erased in 1 campaign", r)
	}
	for _, id := range []string{old, changed} {
		admin.do("GET", "/v1/leads/"+id, nil).problem(410)
	}
	for _, id := range []string{young, unkept} {
		admin.do("GET", "/v1/leads/"+id, nil).want(200)
	}
	if again := m.retention.round(context.Background()); again.Erased != 0 || again.Failed != 0 {
		t.Fatalf("a second round: %+v", again)
	}
	if got := metricValue(t, m, "leadsvc_retention_erasures_total"); got != 2 {
		t.Fatalf("leadsvc_retention_erasures_total = %v, want 2", got)
	}
	if got := metricValue(t, m, "leadsvc_retention_failures_total"); got != 0 {
		t.Fatalf("leadsvc_retention_failures_total = %v, want 0", got)
	}

	// The erasure is in the history: the policy as the reason, the
	// service as the actor (no token).
	var hist struct {
		Data []struct {
			Type  string          `json:"type"`
			Data  json.RawMessage `json:"data"`
			Actor map[string]any  `json:"actor"`
		} `json:"data"`
	}
	admin.do("GET", "/v1/audit/leads/"+old+"/events", nil).want(200).into(&hist)
	last := hist.Data[len(hist.Data)-1]
	var erased domain.LeadErased
	if err := json.Unmarshal(last.Data, &erased); err != nil || last.Type != "lead.erased" {
		t.Fatalf("last event %s %s: %v", last.Type, last.Data, err)
	}
	if erased.Reason != "retention: erase_after 730d counted from created" || erased.Actor != "" {
		t.Fatalf("lead.erased reason %q actor %q", erased.Reason, erased.Actor)
	}
	if got := erasures(t, m); len(got) != 2 || got[old] != 1 || got[changed] != 1 {
		t.Fatalf("lead.erased per lead: %v", got)
	}
}

func TestRetentionCountedFromUpdatedCountsFromTheLastChange(t *testing.T) {
	t.Parallel()
	clk := &testClock{t: time.Now()}
	m := mustRunMainAt(t, clk)
	admin := mustAccount(t, m, "Acme")
	camp := str(admin.do("POST", "/v1/campaigns", retentionCampaign).want(201).obj(), "id")
	admin.do("PUT", "/v1/campaigns/"+camp+"/retention", map[string]any{"erase_after": "30d", "counted_from": "updated"}).want(200)
	idle := mustLeadIn(t, m, admin, camp, "Idle")
	busy := mustLeadIn(t, m, admin, camp, "Busy")
	clk.advance(20 * day)
	mustProjected(t, m, admin.do("PATCH", "/v1/leads/"+busy, map[string]any{"fields": map[string]any{"name": "Busier"}}).want(200))

	clk.advance(11 * day) // 31 days after creation, 11 after busy's change
	if r := m.retention.round(context.Background()); r.Erased != 1 || r.Failed != 0 {
		t.Fatalf("round at 31 days: %+v, want 1 erased", r)
	}
	admin.do("GET", "/v1/leads/"+idle, nil).problem(410)
	admin.do("GET", "/v1/leads/"+busy, nil).want(200)
	clk.advance(20 * day) // 31 days after busy's change
	if r := m.retention.round(context.Background()); r.Erased != 1 || r.Failed != 0 {
		t.Fatalf("round 31 days after the change: %+v, want 1 erased", r)
	}
	admin.do("GET", "/v1/leads/"+busy, nil).problem(410)
}

// TestRetentionErasesEachLeadOnceWithConcurrentJobs runs two retention
// jobs at once, with a third party erasing the same leads under the same
// policy outside any job (as a process that takes no lock would): every
// lead is erased, each exactly once.
func TestRetentionErasesEachLeadOnceWithConcurrentJobs(t *testing.T) {
	t.Parallel()
	clk := &testClock{t: time.Now()}
	m := mustRunMainAt(t, clk)
	admin := mustAccount(t, m, "Acme")
	policy := map[string]any{"erase_after": "1h", "counted_from": "created"}
	var ids []string
	for range 2 {
		camp := str(admin.do("POST", "/v1/campaigns", retentionCampaign).want(201).obj(), "id")
		admin.do("PUT", "/v1/campaigns/"+camp+"/retention", policy).want(200)
		for b := range 2 {
			batch := make([]map[string]any, 0, 100)
			for i := range 100 {
				batch = append(batch, map[string]any{"campaign_id": camp, "fields": map[string]any{"name": fmt.Sprint("Lead ", b, i)}})
			}
			r := admin.do("POST", "/v1/leads/batch", map[string]any{"leads": batch}).want(201)
			var page leadPage
			r.into(&page)
			for _, l := range page.Data {
				ids = append(ids, l.ID)
			}
			mustProjected(t, m, r)
		}
	}
	clk.advance(2 * time.Hour)

	ctx := context.Background()
	var (
		wg             sync.WaitGroup
		mu             sync.Mutex
		erased, failed int
	)
	for range 2 {
		wg.Go(func() {
			for {
				r := m.retention.round(ctx)
				mu.Lock()
				erased, failed = erased+r.Erased, failed+r.Failed
				mu.Unlock()
				if !r.More && r.Busy == 0 {
					return
				}
			}
		})
	}
	policyValue := domain.Retention{EraseAfter: "1h", CountedFrom: "created"}
	acct := uuid.MustParse(tokenAccount(t, m, admin))
	var outsideErased int
	wg.Go(func() {
		for _, id := range ids {
			_, err := m.Commands.EraseLead.Handle(ctx, commands.EraseLead{AccountID: acct, LeadID: uuid.MustParse(id),
				Retention: &policyValue, Meta: commands.RetentionMeta})
			if err == nil {
				outsideErased++
			}
		}
	})
	wg.Wait()
	// A lead the outside erasure gave up on (its retries all conflicted
	// while a job was erasing it) is the next round's.
	last := m.retention.round(ctx)
	erased, failed = erased+last.Erased, failed+last.Failed
	if failed != 0 {
		t.Fatalf("%d erasures failed", failed)
	}
	if erased+outsideErased != len(ids) {
		t.Fatalf("the jobs erased %d and the outside erasures %d, of %d leads", erased, outsideErased, len(ids))
	}
	got := erasures(t, m)
	if len(got) != len(ids) {
		t.Fatalf("%d leads erased, want %d", len(got), len(ids))
	}
	for _, id := range ids {
		if got[id] != 1 {
			t.Fatalf("lead %s has %d lead.erased events, want 1", id, got[id])
		}
	}
}

// tokenAccount is the account of the client's token.
func tokenAccount(t *testing.T, m *Main, c *client) string {
	t.Helper()
	tok, err := m.Commands.Auth.Authenticate(context.Background(), c.token)
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccountID.String()
}

// TestRetentionJobRunsInServe leaves the job to the service, every
// second: a lead past the period is erased without the test asking.
func TestRetentionJobRunsInServe(t *testing.T) {
	t.Parallel()
	clk := &testClock{t: time.Now()}
	m := mustRunMainWith(t, func(m *Main) { m.Config.Clock = clk.now }, "LEADSVC_RETENTION_INTERVAL", "1s")
	admin := mustAccount(t, m, "Acme")
	camp := str(admin.do("POST", "/v1/campaigns", retentionCampaign).want(201).obj(), "id")
	admin.do("PUT", "/v1/campaigns/"+camp+"/retention", map[string]any{"erase_after": "1h", "counted_from": "created"}).want(200)
	id := mustLeadIn(t, m, admin, camp, "Soon gone")
	clk.advance(2 * time.Hour)
	testenv.CheckFor(t, 20*time.Second, func() error {
		if r := admin.do("GET", "/v1/leads/"+id, nil); r.Status != http.StatusGone {
			return fmt.Errorf("GET the lead past the period: %d", r.Status)
		}
		// Counted once the round is over.
		if got := metricValue(t, m, "leadsvc_retention_erasures_total"); got != 1 {
			return fmt.Errorf("leadsvc_retention_erasures_total = %v, want 1", got)
		}
		return nil
	})
}
