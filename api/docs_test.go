package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/leadsvc/leadsvc/api"
	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
)

// newDocs serves the documentation of the fixture's account.
func newDocs(fx *fixture) *api.Docs {
	return api.NewDocs(api.DocsConfig{Queries: fx.q, Scopes: fx.c.Auth, PublicURL: "http://leadsvc.test"})
}

// docsGet requests path (relative to the /docs mount) from d; headers
// are name, value pairs.
func docsGet(t testing.TB, d *api.Docs, path string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, req)
	return rec
}

func mustDocs(t testing.TB, d *api.Docs, path string, want int, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	rec := docsGet(t, d, path, headers...)
	if rec.Code != want {
		t.Fatalf("GET %s: status %d, want %d: %.300s", path, rec.Code, want, rec.Body)
	}
	return rec
}

func wantRenders(t *testing.T, d *api.Docs, want int64) {
	t.Helper()
	if got := api.DocsRenders(d); got != want {
		t.Fatalf("renders = %d, want %d", got, want)
	}
}

// TestDocsRenderOnceForUnchangedInputs: repeated and conditional requests
// of unchanged documents are answered from the cache, each format and
// each token's documents rendered once.
func TestDocsRenderOnceForUnchangedInputs(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	d := newDocs(fx)
	yaml := "/" + fx.ro.DocsID + "/openapi.yaml"

	first := mustDocs(t, d, yaml, http.StatusOK)
	wantRenders(t, d, 1)
	second := mustDocs(t, d, yaml, http.StatusOK)
	wantRenders(t, d, 1)
	if got, want := second.Header().Get("ETag"), first.Header().Get("ETag"); got != want || got == "" {
		t.Fatalf("ETag = %q, want %q", got, want)
	}
	if second.Body.String() != first.Body.String() {
		t.Fatal("the cached body differs from the rendered one")
	}
	if rec := mustDocs(t, d, yaml, http.StatusNotModified, "If-None-Match", first.Header().Get("ETag")); rec.Body.Len() != 0 {
		t.Fatalf("304 with a body of %d bytes", rec.Body.Len())
	}
	wantRenders(t, d, 1)

	// Each format, and the general documentation, is a document of its own.
	others := []string{"/" + fx.ro.DocsID, "/" + fx.ro.DocsID + "/postman.json", "/openapi.yaml", "/"}
	for _, p := range others {
		mustDocs(t, d, p, http.StatusOK)
	}
	wantRenders(t, d, 5)
	for _, p := range others {
		mustDocs(t, d, p, http.StatusOK)
	}
	wantRenders(t, d, 5)
	page := mustDocs(t, d, "/"+fx.ro.DocsID, http.StatusOK)
	if ct, csp := page.Header().Get("Content-Type"), page.Header().Get("Content-Security-Policy"); ct != "text/html; charset=utf-8" || csp == "" {
		t.Fatalf("cached page: Content-Type %q, Content-Security-Policy %q", ct, csp)
	}
}

// TestDocsShowChangesOnNextRequest changes each input of a token's
// documents in turn: the very next request renders them again and shows
// the change, even when it revalidates the old ETag.
func TestDocsShowChangesOnNextRequest(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	d := newDocs(fx)
	ctx := context.Background()
	yaml := "/" + fx.ro.DocsID + "/openapi.yaml"
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	updateToken := func(cmd commands.UpdateToken) {
		cmd.AccountID, cmd.TokenID = fx.accountID, fx.ro.ID
		must(fx.c.UpdateToken.Handle(ctx, cmd))
	}
	steps := []struct {
		name   string
		change func()
		want   string
	}{
		{"permissions", func() {
			updateToken(commands.UpdateToken{Permissions: []domain.Permission{domain.PermRead, domain.PermWrite}})
		}, "\n    post:"},
		{"select option", func() {
			must(fx.c.ChangeCampaign.Handle(ctx, commands.ChangeCampaign{AccountID: fx.accountID, CampaignID: fx.campaign,
				AddOption: &commands.SelectOption{Select: "source", Option: domain.Option{Value: "solar", Label: "Solar"}}}))
		}, "solar"},
		{"filter conditions", func() {
			must(fx.c.UpdateFilter.Handle(ctx, commands.UpdateFilter{AccountID: fx.accountID, FilterID: fx.partner.ID, Name: fx.partner.Name,
				Conditions: []domain.Condition{{Field: "source", Op: domain.OpEq, Value: "web"}}}))
		}, "scope: [source = Web (web)]"},
		{"token's filter", func() { updateToken(commands.UpdateToken{ClearFilter: true}) }, "scope: [every lead of the campaign]"},
		{"filter deleted", func() {
			updateToken(commands.UpdateToken{FilterID: &fx.partner.ID})
			must(fx.c.UpdateFilter.Handle(ctx, commands.UpdateFilter{AccountID: fx.accountID, FilterID: fx.partner.ID, Delete: true}))
		}, "filter was deleted"},
	}
	mustDocs(t, d, yaml, http.StatusOK)
	renders := int64(1)
	for _, s := range steps {
		before := mustDocs(t, d, yaml, http.StatusOK)
		wantRenders(t, d, renders)
		if strings.Contains(before.Body.String(), s.want) {
			t.Fatalf("%s: the documents show %q before the change", s.name, s.want)
		}
		s.change()
		after := mustDocs(t, d, yaml, http.StatusOK, "If-None-Match", before.Header().Get("ETag"))
		renders++
		wantRenders(t, d, renders)
		if !strings.Contains(after.Body.String(), s.want) {
			t.Fatalf("%s: the next request's documents lack %q", s.name, s.want)
		}
		if after.Header().Get("ETag") == before.Header().Get("ETag") {
			t.Fatalf("%s: the ETag did not change", s.name)
		}
	}
}

// TestDocsCacheIsBounded requests more documents than the cache holds:
// it keeps at most its bounds, evicting the least recently used.
func TestDocsCacheIsBounded(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	d := newDocs(fx)
	paths := []string{"/", "/openapi.yaml", "/postman.json",
		"/" + fx.ro.DocsID, "/" + fx.ro.DocsID + "/openapi.yaml", "/" + fx.ro.DocsID + "/postman.json"}

	api.SetDocsCacheLimits(d, 3, 1<<30)
	for _, p := range paths {
		mustDocs(t, d, p, http.StatusOK)
	}
	if n, _ := api.DocsCacheSize(d); n != 3 {
		t.Fatalf("cached %d documents, want 3", n)
	}
	base := api.DocsRenders(d)
	mustDocs(t, d, paths[len(paths)-1], http.StatusOK) // the most recent: kept
	wantRenders(t, d, base)
	mustDocs(t, d, paths[0], http.StatusOK) // the oldest: evicted
	wantRenders(t, d, base+1)

	const maxBytes = 100_000
	api.SetDocsCacheLimits(d, 100, maxBytes)
	for range 2 {
		for _, p := range paths {
			mustDocs(t, d, p, http.StatusOK)
		}
	}
	if n, b := api.DocsCacheSize(d); b > maxBytes || n == 0 {
		t.Fatalf("cached %d documents of %d bytes, want some and at most %d bytes", n, b, maxBytes)
	}
}

// TestDocsConcurrentMissesRenderOnce: requests that miss the same
// documents at the same time share one rendering.
func TestDocsConcurrentMissesRenderOnce(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	d := newDocs(fx)
	start := make(chan struct{})
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() {
			<-start
			codes[i] = docsGet(t, d, "/"+fx.ro.DocsID+"/openapi.yaml").Code
		})
	}
	close(start)
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Fatalf("request %d: status %d", i, c)
		}
	}
	wantRenders(t, d, 1)
}

// BenchmarkDocs is the cost of one request for a token's documents, with
// the token, campaign and filter read from Postgres as always: rendered
// every time (no cache) and from the cache.
func BenchmarkDocs(b *testing.B) {
	fx := newFixture(b)
	for _, f := range []struct{ name, path string }{
		{"openapi.yaml", "/" + fx.ro.DocsID + "/openapi.yaml"},
		{"html", "/" + fx.ro.DocsID},
		{"postman.json", "/" + fx.ro.DocsID + "/postman.json"},
	} {
		for _, cached := range []bool{false, true} {
			name := f.name + "/rendered"
			if cached {
				name = f.name + "/cached"
			}
			b.Run(name, func(b *testing.B) {
				d := newDocs(fx)
				if !cached {
					api.SetDocsCacheLimits(d, 0, 0)
				}
				mustDocs(b, d, f.path, http.StatusOK)
				before := api.DocsRenders(d)
				b.ResetTimer()
				for range b.N {
					if rec := docsGet(b, d, f.path); rec.Code != http.StatusOK {
						b.Fatalf("status %d", rec.Code)
					}
				}
				b.ReportMetric(float64(api.DocsRenders(d)-before)/float64(b.N), "renders/op")
			})
		}
	}
}
