package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/audit"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// clock is the one clock of a test's commands and store: event times and
// recorded_at agree, and the test decides when time passes.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

type env struct {
	t       *testing.T
	ctx     context.Context
	pool    *pgxpool.Pool
	store   *eventstore.Store
	cmd     commands.Commands
	audit   *audit.Reader
	clock   *clock
	account uuid.UUID
	owner   commands.TokenInfo
}

func newEnv(t *testing.T) *env {
	t.Helper()
	url := testenv.Schema(t)
	ctx := context.Background()
	if err := eventstore.Migrate(ctx, url, nil); err != nil {
		t.Fatal(err)
	}
	clk := &clock{}
	clk.ns.Store(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	pool := testenv.Pool(t, url)
	store := eventstore.New(pool, domain.NewRegistry(), eventstore.WithClock(clk.now))
	t.Cleanup(store.Close)
	c, err := commands.New(commands.Config{Store: store, SecretKey: []byte("0123456789abcdef0123456789abcdef"), Clock: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, pool: pool, store: store, cmd: c, clock: clk,
		audit: audit.New(audit.Config{Store: store, Clock: clk.now})}
	res, err := c.CreateAccount.Handle(ctx, commands.CreateAccount{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	e.account, e.owner = res.Account.ID, res.Token
	return e
}

// settled waits until every event of the test's schema is below the
// oldest running transaction of the database, where the feed reads:
// other tests' transactions in the same database can hold it back.
func settled(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	testenv.CheckFor(t, time.Minute, func() error {
		var ok bool
		if err := pool.QueryRow(context.Background(), `SELECT coalesce(max(tx_id::text::bigint), 0) <
			pg_snapshot_xmin(pg_current_snapshot())::text::bigint FROM events`).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("a transaction older than the test's last event is still running")
		}
		return nil
	})
}

// meta is a write by the owner token.
func (e *env) meta() commands.Meta {
	return commands.Meta{ActorTokenID: e.owner.ID.String(), RequestID: fmt.Sprint("req-", e.clock.now().Unix())}
}

// tick lets a minute pass before the next write.
func (e *env) tick() time.Time {
	e.clock.advance(time.Minute)
	return e.clock.now()
}

var testSchema = domain.Schema{
	Fields: []domain.Field{
		{Key: "name", Label: "Name", Type: domain.TypeText, Required: true},
		{Key: "source", Label: "Source", Type: domain.TypeSelect, Select: "source"},
		{Key: "budget", Label: "Budget", Type: domain.TypeNumber},
		{Key: "tags", Label: "Tags", Type: domain.TypeMultiselect, Select: "source"},
		{Key: "email", Label: "Email", Type: domain.TypeEmail},
	},
	Selects: []domain.Select{{Key: "source", Label: "Source", Options: []domain.Option{
		{Value: "abc", Label: "ABC"}, {Value: "xyz", Label: "XYZ"}, {Value: "web", Label: "Web"}}}},
	Statuses: []domain.Status{{Slug: "new", Label: "New"}, {Slug: "contacted", Label: "Contacted"}, {Slug: "won", Label: "Won"}},
}

func (e *env) campaign() uuid.UUID {
	e.t.Helper()
	res, err := e.cmd.CreateCampaign.Handle(e.ctx, commands.CreateCampaign{AccountID: e.account, Name: "C", Schema: testSchema, Meta: e.meta()})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Campaign.ID
}

func (e *env) filter(campaign uuid.UUID, conds []domain.Condition, anyOf [][]domain.Condition) uuid.UUID {
	e.t.Helper()
	res, err := e.cmd.CreateFilter.Handle(e.ctx, commands.CreateFilter{AccountID: e.account, CampaignID: campaign, Name: "F",
		Conditions: conds, Any: anyOf, Meta: e.meta()})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Filter.ID
}

func (e *env) token(campaign, filter *uuid.UUID, perms ...domain.Permission) commands.TokenInfo {
	e.t.Helper()
	res, err := e.cmd.CreateToken.Handle(e.ctx, commands.CreateToken{AccountID: e.account, CampaignID: campaign, FilterID: filter,
		EveryLead: campaign != nil && filter == nil, Name: "partner", Permissions: perms, Meta: e.meta()})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Token
}

// reference is VisibleLeads the slow way: every lead of the campaign read
// with eventstore.ReadStream up to at and folded with domain.FoldLead,
// the filter and schema likewise, then filter.Matches.
func (e *env) reference(campaign, filterID uuid.UUID, at time.Time) []uuid.UUID {
	e.t.Helper()
	read := func(stream string) []domain.Event {
		recs, err := e.store.ReadStream(e.ctx, stream, eventstore.ReadOptions{UpTo: at})
		if err != nil {
			e.t.Fatal(err)
		}
		return eventstore.Events(recs)
	}
	f := domain.FoldFilter(read(domain.FilterStream(filterID)))
	schema := domain.FoldCampaign(read(domain.CampaignStream(campaign))).Schema
	rows, err := e.pool.Query(e.ctx, `SELECT DISTINCT stream_id FROM events WHERE campaign_id = $1 AND stream_id LIKE 'lead-%'`, campaign)
	if err != nil {
		e.t.Fatal(err)
	}
	var streams []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		streams = append(streams, s)
	}
	rows.Close()
	out := []uuid.UUID{}
	if !f.Exists() {
		return out
	}
	for _, s := range streams {
		l := domain.FoldLead(read(s))
		if l.Exists() && f.Matches(schema, l.View()) {
			out = append(out, l.ID)
		}
	}
	slices.SortFunc(out, func(a, b uuid.UUID) int { return compareStrings(a.String(), b.String()) })
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestVisibleLeadsAgreesWithTheFullReplay: the one-scan evaluation of
// visible-at-T gives, for filters over fields, cleared fields, status,
// multiselects, any-groups and times, exactly the leads a full fold of
// every stream gives, at times across a history where the filters change.
func TestVisibleLeadsAgreesWithTheFullReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	camp := e.campaign()
	filters := [][2]any{
		{[]domain.Condition{{Field: "source", Op: domain.OpEq, Value: "abc"}}, [][]domain.Condition(nil)},
		{[]domain.Condition{{Field: "budget", Op: domain.OpGte, Value: 500}, {Field: "status", Op: domain.OpNeq, Value: "won"}}, [][]domain.Condition(nil)},
		{[]domain.Condition{{Field: "email", Op: domain.OpEmpty}}, [][]domain.Condition{{{Field: "tags", Op: domain.OpContains, Value: "xyz"}, {Field: "source", Op: domain.OpIn, Value: []any{"web"}}}}},
		{[]domain.Condition{{Field: "updated_at", Op: domain.OpGte, Value: "2026-03-01T10:00:00Z"}, {Field: "created_at", Op: domain.OpLt, Value: "2026-03-01T11:00:00Z"}}, [][]domain.Condition(nil)},
	}
	var ids []uuid.UUID
	var toks []commands.TokenInfo
	for _, f := range filters {
		id := e.filter(camp, f[0].([]domain.Condition), f[1].([][]domain.Condition))
		ids = append(ids, id)
		toks = append(toks, e.token(&camp, &id, domain.PermRead))
	}
	rnd := rand.New(rand.NewPCG(7, 11))
	sources := []string{"abc", "xyz", "web"}
	var leads []uuid.UUID
	var times []time.Time
	for i := range 120 {
		times = append(times, e.tick())
		switch {
		case i < 20 || rnd.IntN(3) == 0 || len(leads) == 0:
			fields := map[string]any{"name": fmt.Sprint("Lead ", i), "source": sources[rnd.IntN(3)], "budget": rnd.IntN(1000)}
			if rnd.IntN(2) == 0 {
				fields["email"] = "a@example.com"
			}
			if rnd.IntN(2) == 0 {
				fields["tags"] = []any{sources[rnd.IntN(3)]}
			}
			res, err := e.cmd.CreateLead.Handle(e.ctx, commands.CreateLead{AccountID: e.account, CampaignID: camp, Fields: fields, Meta: e.meta()})
			if err != nil {
				t.Fatal(err)
			}
			leads = append(leads, res.Lead.ID)
		case i%17 == 0:
			// The admin changes a filter's mind mid-history.
			k := rnd.IntN(len(ids))
			conds := []domain.Condition{{Field: "source", Op: domain.OpNeq, Value: sources[rnd.IntN(3)]}}
			if _, err := e.cmd.UpdateFilter.Handle(e.ctx, commands.UpdateFilter{AccountID: e.account, FilterID: ids[k], Name: "F2",
				Conditions: conds, Meta: e.meta()}); err != nil {
				t.Fatal(err)
			}
		case i%11 == 0:
			l := leads[rnd.IntN(len(leads))]
			if _, err := e.cmd.AttachFile.Handle(e.ctx, commands.AttachFile{AccountID: e.account, LeadID: l, Name: "a.txt",
				ContentType: "text/plain", Content: commands.BytesContent([]byte("x")), Meta: e.meta()}); err != nil {
				t.Fatal(err)
			}
		default:
			l := leads[rnd.IntN(len(leads))]
			fields := map[string]any{"budget": rnd.IntN(1000)}
			if rnd.IntN(3) == 0 {
				fields["email"] = nil // cleared
			}
			if rnd.IntN(3) == 0 {
				fields["source"] = sources[rnd.IntN(3)]
			}
			status := []string{"", "new", "contacted", "won"}[rnd.IntN(4)]
			if _, err := e.cmd.UpdateLead.Handle(e.ctx, commands.UpdateLead{AccountID: e.account, LeadID: l, Status: status,
				Fields: fields, Meta: e.meta()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	checked := 0
	for _, at := range append([]time.Time{times[0].Add(-time.Hour), times[5], times[len(times)-1]}, times[20:][rnd.IntN(100)], times[60], times[90].Add(30*time.Second)) {
		for k, tok := range toks {
			got, err := e.audit.VisibleLeads(e.ctx, e.account, tok.ID, at)
			if err != nil {
				t.Fatal(err)
			}
			want := e.reference(camp, ids[k], at)
			if got.State == audit.StateNotCreated {
				want = []uuid.UUID{}
			}
			if !slices.Equal(got.Data, want) || got.Count != len(want) {
				t.Fatalf("filter %d at %s: %d visible leads %v, the full replay says %d %v", k, at, len(got.Data), got.Data, len(want), want)
			}
			checked += len(want)
		}
	}
	if checked == 0 {
		t.Fatal("no lead was ever visible: the comparison proves nothing")
	}
}

// TestTokenExpiriesAreSynthesizedInTheirPlace: a token that expired,
// was given a new expiry, expired again and was revoked shows both
// expiries as synthesized entries between its events, the same whether
// read in one page or one entry per page.
func TestTokenExpiriesAreSynthesizedInTheirPlace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	camp := e.campaign()
	e.tick()
	in10 := e.clock.now().Add(10 * time.Minute)
	res, err := e.cmd.CreateToken.Handle(e.ctx, commands.CreateToken{AccountID: e.account, CampaignID: &camp, EveryLead: true, Name: "temp",
		Permissions: []domain.Permission{domain.PermRead}, ExpiresAt: &in10, Meta: e.meta()})
	if err != nil {
		t.Fatal(err)
	}
	tok := res.Token.ID
	e.clock.advance(20 * time.Minute)
	expiredAt := e.clock.now().Add(-time.Minute)
	again := e.clock.now().Add(10 * time.Minute)
	if _, err := e.cmd.UpdateToken.Handle(e.ctx, commands.UpdateToken{AccountID: e.account, TokenID: tok, ExpiresAt: &again, Meta: e.meta()}); err != nil {
		t.Fatal(err)
	}
	e.clock.advance(time.Hour)
	if _, err := e.cmd.RevokeToken.Handle(e.ctx, commands.RevokeToken{AccountID: e.account, TokenID: tok, Meta: e.meta()}); err != nil {
		t.Fatal(err)
	}
	e.tick()

	kinds := func(es []audit.Entry) []string {
		var out []string
		for _, x := range es {
			s := x.Type
			if x.Synthesized {
				s += " (synthesized " + x.Time.Format("15:04") + ")"
			}
			out = append(out, s)
		}
		return out
	}
	whole, err := e.audit.TokenHistory(e.ctx, e.account, tok, audit.TokenHistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"token.created", "token.expired (synthesized " + in10.Format("15:04") + ")", "token.updated",
		"token.expired (synthesized " + again.Format("15:04") + ")", "token.revoked"}
	if got := kinds(whole.Data); !slices.Equal(got, want) || whole.Token.State != audit.StateRevoked || whole.NextAfter != nil {
		t.Fatalf("history %v (state %s), want %v", got, whole.Token.State, want)
	}
	if c := whole.Data[2].Changes; len(c) != 1 || c[0].Field != "expires_at" {
		t.Fatalf("token.updated changes %+v, want expires_at only", c)
	}
	// Pages end below the horizon: let it pass the test's events first.
	settled(t, e.pool)
	var paged []audit.Entry
	q := audit.TokenHistoryQuery{Limit: 1}
	for range 10 {
		page, err := e.audit.TokenHistory(e.ctx, e.account, tok, q)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, page.Data...)
		if page.NextAfter == nil {
			break
		}
		q.After = *page.NextAfter
	}
	if got := kinds(paged); !slices.Equal(got, want) {
		t.Fatalf("paged one by one: %v, want %v", got, want)
	}
	then, err := e.audit.TokenHistory(e.ctx, e.account, tok, audit.TokenHistoryQuery{UpTo: expiredAt})
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(then.Data); !slices.Equal(got, want[:2]) || then.Token.State != audit.StateExpired {
		t.Fatalf("up to %s: %v (%s), want %v, expired", expiredAt, got, then.Token.State, want[:2])
	}
	v, err := e.audit.VisibleLeads(e.ctx, e.account, tok, expiredAt)
	if err != nil || v.State != audit.StateExpired || len(v.Data) != 0 {
		t.Fatalf("visible while expired: %+v, %v", v, err)
	}
}

// TestLeadHistoryShowsFilesAndTheLeadAsItWas: attached and removed files
// are changes of their own, and the lead at a time or version is the
// fold up to it.
func TestLeadHistoryShowsFilesAndTheLeadAsItWas(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	camp := e.campaign()
	e.tick()
	res, err := e.cmd.CreateLead.Handle(e.ctx, commands.CreateLead{AccountID: e.account, CampaignID: camp,
		Fields: map[string]any{"name": "Ada", "email": "ada@example.com"}, Meta: e.meta()})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Lead.ID
	created := e.clock.now()
	e.tick()
	file, err := e.cmd.AttachFile.Handle(e.ctx, commands.AttachFile{AccountID: e.account, LeadID: id, Name: "offer.pdf",
		ContentType: "application/pdf", Content: commands.BytesContent([]byte("%PDF")), Meta: e.meta()})
	if err != nil {
		t.Fatal(err)
	}
	e.tick()
	if _, err := e.cmd.UpdateLead.Handle(e.ctx, commands.UpdateLead{AccountID: e.account, LeadID: id, Fields: map[string]any{"email": nil},
		Status: "won", Meta: e.meta()}); err != nil {
		t.Fatal(err)
	}
	e.tick()
	if _, err := e.cmd.RemoveFile.Handle(e.ctx, commands.RemoveFile{AccountID: e.account, LeadID: id, FileID: file.File.ID, Meta: e.meta()}); err != nil {
		t.Fatal(err)
	}

	h, err := e.audit.LeadHistory(e.ctx, e.account, id)
	if err != nil {
		t.Fatal(err)
	}
	key := "files." + file.File.ID.String()
	if len(h.Data) != 4 || !h.Integrity.Intact || h.Version != 4 {
		t.Fatalf("history %+v", h)
	}
	if c := h.Data[1].Changes; len(c) != 1 || c[0].Field != key || c[0].Before != nil || c[0].After.(domain.FileMeta).Name != "offer.pdf" {
		t.Fatalf("file_attached changes %+v", c)
	}
	if c := h.Data[2].Changes; len(c) != 2 || c[0] != (audit.Change{Field: "fields.email", Before: "ada@example.com"}) ||
		c[1] != (audit.Change{Field: "status", Before: "new", After: "won"}) {
		t.Fatalf("update changes %+v, want email cleared and status new → won", c)
	}
	if c := h.Data[3].Changes; len(c) != 1 || c[0].Field != key || c[0].After != nil {
		t.Fatalf("file_removed changes %+v", c)
	}
	if a := h.Data[0].Actor; a == nil || a.TokenID != e.owner.ID.String() || a.Name != "Owner" {
		t.Fatalf("actor %+v", a)
	}
	at, err := e.audit.LeadAt(e.ctx, e.account, id, created, 0)
	if err != nil || at.Version != 1 || at.Fields["email"] != "ada@example.com" || len(at.Files) != 0 {
		t.Fatalf("at creation: %+v, %v", at, err)
	}
	v3, err := e.audit.LeadAt(e.ctx, e.account, id, time.Time{}, 3)
	if err != nil || v3.Status != "won" || len(v3.Files) != 1 || v3.Fields["email"] != nil {
		t.Fatalf("version 3: %+v, %v", v3, err)
	}
	if _, err := e.audit.LeadAt(e.ctx, e.account, id, created.Add(-time.Second), 0); !errors.Is(err, audit.ErrBeforeCreation) {
		t.Fatalf("before creation: %v", err)
	}
	if _, err := e.audit.LeadHistory(e.ctx, uuid.New(), id); !errors.Is(err, domain.ErrLeadNotFound) {
		t.Fatalf("another account: %v", err)
	}
}

// TestFeedLimitsAcrossPages reads a generated account of 2,107 events
// with limits below, at and above the feed's page of 1,000: each
// response holds exactly its limit while more remain, says so, and the
// responses chained by next_after hold every event once, in commit order.
func TestFeedLimitsAcrossPages(t *testing.T) {
	t.Parallel()
	g := generateLog(t, logSize{leads: 600, updates: 2, otherLeads: 100, otherUpdates: 2})
	ctx := context.Background()
	settled(t, g.pool)
	var want []int64
	rows, err := g.pool.Query(ctx, `SELECT position FROM events WHERE account_id = $1 ORDER BY tx_id, position`, g.account)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p int64
		_ = rows.Scan(&p)
		want = append(want, p)
	}
	rows.Close()
	for _, limit := range []int{999, 1000, 1001, 2106, 2107, 5000} {
		var got []int64
		var after int64
		for calls := 0; ; calls++ {
			f, err := g.reader.OpenFeed(ctx, g.account, audit.FeedQuery{After: after, Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			end, err := f.Stream(ctx, &buf, nil)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			for _, l := range lines[:len(lines)-1] {
				var e audit.Entry
				if err := json.Unmarshal([]byte(l), &e); err != nil {
					t.Fatal(err)
				}
				got = append(got, e.Position)
			}
			var last audit.FeedEnd
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last != end || !end.End {
				t.Fatalf("limit %d: end line %q, returned %+v", limit, lines[len(lines)-1], end)
			}
			left := len(want) - (len(got) - end.Count)
			if end.Count != min(limit, left) || end.More != (left > limit) {
				t.Fatalf("limit %d, %d left: %+v", limit, left, end)
			}
			after = end.NextAfter
			if !end.More {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("limit %d: %d positions, want the %d in commit order", limit, len(got), len(want))
		}
	}
	if _, err := g.reader.OpenFeed(ctx, g.account, audit.FeedQuery{After: 1 << 40}); !errors.Is(err, audit.ErrUnknownPosition) {
		t.Fatalf("after a position that is no event: %v", err)
	}
}

// TestFeedLinesAreEntries: the feed writes its lines without encoding/json;
// each line must decode to exactly what the history answers encode for
// the same event (without the history-only members), escapes included.
func TestFeedLinesAreEntries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	camp := e.campaign()
	tok := e.token(&camp, nil, domain.PermRead, domain.PermWrite)
	name := "Ana \"the\" <boss> ✓ \u2028\t\\"
	if _, err := e.cmd.UpdateToken.Handle(e.ctx, commands.UpdateToken{AccountID: e.account, TokenID: tok.ID, Name: &name, Meta: e.meta()}); err != nil {
		t.Fatal(err)
	}
	e.clock.advance(1234567 * time.Microsecond)
	meta := commands.Meta{ActorTokenID: tok.ID.String(), RequestID: "req \"1\"\n", CorrelationID: "corr", CausationID: "cause"}
	res, err := e.cmd.CreateLead.Handle(e.ctx, commands.CreateLead{AccountID: e.account, CampaignID: camp,
		Fields: map[string]any{"name": "Zoë\n</script>", "budget": 12.5}, Meta: meta})
	if err != nil {
		t.Fatal(err)
	}
	e.tick()
	if _, err := e.cmd.UpdateLead.Handle(e.ctx, commands.UpdateLead{AccountID: e.account, LeadID: res.Lead.ID, Status: "won", Meta: e.meta()}); err != nil {
		t.Fatal(err)
	}

	want := map[int64]map[string]any{}
	collect := func(es []audit.Entry) {
		for _, x := range es {
			x.Changes, x.Kind = nil, ""
			b, err := json.Marshal(x)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			want[x.Position] = m
		}
	}
	h, err := e.audit.LeadHistory(e.ctx, e.account, res.Lead.ID)
	if err != nil {
		t.Fatal(err)
	}
	collect(h.Data)
	for _, id := range []uuid.UUID{tok.ID, e.owner.ID} {
		th, err := e.audit.TokenHistory(e.ctx, e.account, id, audit.TokenHistoryQuery{})
		if err != nil {
			t.Fatal(err)
		}
		var lifecycle []audit.Entry
		for _, x := range th.Data {
			if x.Kind == "lifecycle" {
				lifecycle = append(lifecycle, x)
			}
		}
		collect(lifecycle)
	}
	settled(t, e.pool)
	f, err := e.audit.OpenFeed(e.ctx, e.account, audit.FeedQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := f.Stream(e.ctx, &buf, nil); err != nil {
		t.Fatal(err)
	}
	compared := 0
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var got map[string]any
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		pos, _ := got["position"].(float64)
		if w, ok := want[int64(pos)]; ok {
			if !reflect.DeepEqual(got, w) {
				t.Fatalf("feed line\n%s\ndiffers from the entry\n%v", l, w)
			}
			compared++
		}
	}
	if compared != len(want) || compared < 5 {
		t.Fatalf("compared %d lines of %d entries", compared, len(want))
	}
}
