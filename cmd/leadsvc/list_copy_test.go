package main

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/api"
)

// TestListedLeadsAreTheLeadsAsGot: a list page copies most leads as the
// view stores them (no decoding); every lead it shows must be the same
// JSON value GET /v1/leads/{id} answers, whatever its text holds, through
// a filtered token and an account-level one, with and without files.
func TestListedLeadsAreTheLeadsAsGot(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	s := mustSetup(t, m)
	names := []string{"Ada", `<b>&amp;</b> "quoted" back\slash`, "line\nbreak\ttab", "☃ \u2028 snowman é", ""}
	var pos string
	waits := map[string]string{} // lead id: the position of its last write
	for i, name := range names {
		fields := map[string]any{"name": name + "x", "budget": []float64{0, 1.5, -0.001, 1e21, 12000}[i]}
		if i%2 == 0 {
			fields["email"] = "ada@example.com"
		}
		var l lead
		l, pos = s.abc.rw.mustCreateLead(map[string]any{"fields": fields})
		if i == 1 {
			pos = s.abc.rw.upload("/v1/leads/"+l.ID+"/files", "file", "a.txt", "text/plain", []byte("hi")).want(201).Header.Get("Leadsvc-Position")
		}
		waits[l.ID] = pos
	}
	// A position stands for its own write: wait on each.
	for id, p := range waits {
		s.abc.ro.do("GET", "/v1/leads/"+id, nil, "Leadsvc-Min-Position", p).want(200)
	}
	for who, c := range map[string]*client{"filtered token": s.abc.ro, "account token": s.admin} {
		var page struct {
			Data []map[string]any `json:"data"`
		}
		c.do("GET", "/v1/leads?limit=50", nil, "Leadsvc-Min-Position", pos).want(200).into(&page)
		if len(page.Data) != len(names) {
			t.Fatalf("%s lists %d leads, want %d", who, len(page.Data), len(names))
		}
		for _, listed := range page.Data {
			var got map[string]any
			c.do("GET", "/v1/leads/"+listed["id"].(string), nil).want(200).into(&got)
			if !reflect.DeepEqual(listed, got) {
				a, _ := json.Marshal(listed)
				b, _ := json.Marshal(got)
				t.Errorf("%s: listed %s\n got %s", who, a, b)
			}
		}
	}
}

// pageTrace records, per request id, the round trips (a batch or a lone
// statement) and the statements the service's pool sends.
type pageTrace struct {
	mu                sync.Mutex
	trips, statements map[string]int
}

func (p *pageTrace) add(ctx context.Context, trips, statements int) {
	if id := api.RequestID(ctx); id != "" {
		p.mu.Lock()
		p.trips[id] += trips
		p.statements[id] += statements
		p.mu.Unlock()
	}
}

func (p *pageTrace) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	p.add(ctx, 1, 1)
	return ctx
}
func (p *pageTrace) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (p *pageTrace) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	p.add(ctx, 1, 0)
	return ctx
}
func (p *pageTrace) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchQueryData) {
	p.add(ctx, 0, 1)
}
func (p *pageTrace) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// TestAScopedPageIsOneRoundTripOfTwoStatements: once a token's
// authentication is cached, a page of its filter costs PostgreSQL one
// round trip of two statements (the guard, the view's version and the
// plan settings; the page), and it still sees a revocation at once.
func TestAScopedPageIsOneRoundTripOfTwoStatements(t *testing.T) {
	t.Parallel()
	trace := &pageTrace{trips: map[string]int{}, statements: map[string]int{}}
	m := mustRunMainWith(t, func(m *Main) { m.Tracer = trace })
	s := mustSetup(t, m)
	_, pos := s.abc.rw.mustCreateLead(map[string]any{"fields": map[string]any{"name": "Ada"}})
	s.abc.ro.do("GET", "/v1/leads?limit=50", nil, "Leadsvc-Min-Position", pos).want(200)
	for i := range 3 {
		id := fmt.Sprintf("page-%d", i)
		var page struct {
			Data []map[string]any `json:"data"`
		}
		s.abc.ro.do("GET", "/v1/leads?limit=50", nil, "X-Request-Id", id).want(200).into(&page)
		if len(page.Data) != 1 {
			t.Fatalf("page %d lists %d leads, want 1", i, len(page.Data))
		}
		trace.mu.Lock()
		trips, statements := trace.trips[id], trace.statements[id]
		trace.mu.Unlock()
		if trips != 1 || statements != 2 {
			t.Errorf("page %d: %d round trips, %d statements; want 1 and 2", i, trips, statements)
		}
	}
	s.admin.do("DELETE", "/v1/tokens/"+s.abc.roID, nil).want(200)
	s.abc.ro.do("GET", "/v1/leads?limit=50", nil).want(401)
}
