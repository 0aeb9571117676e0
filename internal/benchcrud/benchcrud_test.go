package benchcrud_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/internal/benchcrud"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

func TestBaselineScopesCreatesAndPagesByCursor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.Pool(t, testenv.Schema(t))
	if err := benchcrud.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	campaign := uuid.New()
	lo, hi := 100.0, 500.0
	writer, err := benchcrud.CreateToken(ctx, pool, benchcrud.Token{CampaignID: campaign, Write: true})
	if err != nil {
		t.Fatal(err)
	}
	partner, err := benchcrud.CreateToken(ctx, pool, benchcrud.Token{CampaignID: campaign, Write: true,
		Filter: benchcrud.Filter{Source: "partner", Statuses: []string{"new", "won"}, BudgetMin: &lo, BudgetMax: &hi}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(benchcrud.NewServer(pool, []byte("key"), slog.New(slog.DiscardHandler)).Handler())
	t.Cleanup(srv.Close)
	do := func(token, method, path string, body any) (int, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, srv.URL+path, rd)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}

	var inScope []string
	for i := range 7 {
		source, status := "partner", "new"
		if i%2 == 1 {
			source = "website"
		}
		code, out := do(writer, "POST", "/v1/leads", map[string]any{"status": status,
			"fields": map[string]any{"name": fmt.Sprint("Lead ", i), "source": source, "budget": 200}})
		if code != http.StatusCreated {
			t.Fatalf("create: %d %s", code, out)
		}
		if source == "partner" {
			var l struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(out, &l)
			inScope = append(inScope, l.ID)
		}
	}
	if code, out := do(partner, "POST", "/v1/leads", map[string]any{"fields": map[string]any{"name": "x", "source": "partner", "budget": 900}}); code != http.StatusUnprocessableEntity {
		t.Errorf("create outside the filter = %d %s, want 422", code, out)
	}
	if code, _ := do("crud_wrong", "GET", "/v1/leads", nil); code != http.StatusUnauthorized {
		t.Errorf("unknown token = %d, want 401", code)
	}

	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		path := "/v1/leads?limit=2"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		code, out := do(partner, "GET", path, nil)
		var page struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
			NextCursor *string `json:"next_cursor"`
		}
		if code != http.StatusOK || json.Unmarshal(out, &page) != nil {
			t.Fatalf("list: %d %s", code, out)
		}
		for _, l := range page.Data {
			got = append(got, l.ID)
		}
		if page.NextCursor == nil || pages > 10 {
			break
		}
		cursor = *page.NextCursor
	}
	if fmt.Sprint(got) != fmt.Sprint(inScope) {
		t.Errorf("partner's pages = %v, want %v (its leads in creation order)", got, inScope)
	}
	if code, _ := do(writer, "GET", "/v1/leads?cursor="+url.QueryEscape(cursor), nil); code != http.StatusBadRequest {
		t.Errorf("another token's cursor = %d, want 400", code)
	}
}
