package main

import (
	"net/http"
	"strings"
	"testing"
)

// docsGet fetches a public documentation URL without a token.
func docsGet(t *testing.T, m *Main, path string, headers ...string) reply {
	t.Helper()
	return (&client{t: t, base: "http://" + m.Addr()}).do("GET", path, nil, headers...)
}

// TestTokenDocsFollowScopeSchemaAndRevocation runs the partner setup and
// reads each token's public documentation: only its own campaign and
// options, no write operation for a read-only token, a schema change on
// the very next request, and 404 once the token is revoked.
func TestTokenDocsFollowScopeSchemaAndRevocation(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	s := mustSetup(t, m)
	other := str(s.admin.do("POST", "/v1/campaigns", map[string]any{"name": "Qqqother",
		"fields":   []map[string]any{{"key": "qqqfield", "label": "Qqqlabel", "type": "text"}},
		"statuses": []map[string]any{{"slug": "qqqstatus", "label": "Qqqstatuslabel"}}}).want(201).obj(), "id")
	s.admin.do("POST", "/v1/tokens", map[string]any{"name": "other", "campaign_id": other, "filter_id": nil, "permissions": []string{"read"}}).want(201)
	rw := s.admin.do("GET", "/v1/tokens?campaign_id="+s.campaignID, nil).want(200)
	var tokens struct {
		Data []struct {
			Name    string `json:"name"`
			ID      string `json:"id"`
			DocsURL string `json:"docs_url"`
		}
	}
	rw.into(&tokens)
	docs := map[string]string{}
	for _, tk := range tokens.Data {
		docs[tk.Name] = urlPath(t, tk.DocsURL)
	}
	roDocs, rwDocs := docs["partner-abc read"], docs["partner-abc write"]
	if roDocs == "" || rwDocs == "" || !strings.HasPrefix(roDocs, "/docs/") {
		t.Fatalf("docs paths %v", docs)
	}

	yaml := func(path string) string { return string(docsGet(t, m, path+"/openapi.yaml").want(200).Body) }
	ro, rwSpec := yaml(roDocs), yaml(rwDocs)
	for name, spec := range map[string]string{"read-only": ro, "read-write": rwSpec} {
		for _, leak := range []string{"Qqq", "qqq", other, "partner-xyz", s.abc.ro.token, s.abc.rw.token, s.admin.token} {
			if strings.Contains(spec, leak) {
				t.Errorf("%s docs contain %q", name, leak)
			}
		}
		if !strings.Contains(spec, "Leads you create must have source = PARTNER-ABC (partner-abc)") &&
			!strings.Contains(spec, "source = PARTNER-ABC (partner-abc)") {
			t.Errorf("%s docs do not explain the filter", name)
		}
	}
	for _, w := range []string{"\n    post:", "\n    patch:", "\n    delete:"} {
		if strings.Contains(ro, w) {
			t.Errorf("the read-only token's docs list a write (%q)", strings.TrimSpace(w))
		}
		if !strings.Contains(rwSpec, w) {
			t.Errorf("the read-write token's docs lack %q", strings.TrimSpace(w))
		}
	}

	page := docsGet(t, m, roDocs).want(200)
	h := page.Header
	if !strings.HasPrefix(h.Get("Content-Type"), "text/html") || h.Get("Cache-Control") != "private, no-cache" ||
		h.Get("ETag") == "" || h.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("page headers %v", h)
	}
	if !strings.Contains(string(page.Body), "partner-abc read") || !strings.Contains(string(page.Body), `id="field-budget"`) {
		t.Fatalf("the page lacks the token or its fields")
	}
	postman := docsGet(t, m, rwDocs+"/postman.json").want(200)
	if ct := postman.Header.Get("Content-Type"); ct != "application/json" || !strings.Contains(string(postman.Body), `"{{baseUrl}}`) {
		t.Fatalf("postman: %s %.200s", ct, postman.Body)
	}

	// Unchanged documents revalidate to 304; a schema change shows on
	// the next request.
	first := docsGet(t, m, roDocs+"/openapi.yaml").want(200)
	docsGet(t, m, roDocs+"/openapi.yaml", "If-None-Match", first.Header.Get("ETag")).want(http.StatusNotModified)
	s.admin.do("PATCH", "/v1/campaigns/"+s.campaignID, map[string]any{"add_field": map[string]any{"key": "roof_area", "label": "Roof area", "type": "number"}}).want(200)
	s.admin.do("PATCH", "/v1/campaigns/"+s.campaignID, map[string]any{"add_status": map[string]any{"slug": "on_hold", "label": "On hold"}}).want(200)
	next := docsGet(t, m, roDocs+"/openapi.yaml", "If-None-Match", first.Header.Get("ETag")).want(200)
	for _, w := range []string{"roof_area", "Roof area", "on_hold"} {
		if !strings.Contains(string(next.Body), w) {
			t.Errorf("after the schema change the docs lack %q", w)
		}
	}
	// A new option shows to an unfiltered token at once.
	s.admin.do("POST", "/v1/campaigns/"+s.campaignID+"/selects/source/options", map[string]any{"value": "partner-new", "label": "Partner New"}).want(201)
	unfiltered := str(s.admin.do("POST", "/v1/tokens", map[string]any{"name": "all", "campaign_id": s.campaignID,
		"filter_id": nil, "permissions": []string{"read"}}).want(201).obj(), "docs_url")
	if spec := yaml(urlPath(t, unfiltered)); !strings.Contains(spec, "partner-new") || !strings.Contains(spec, "Partner New") {
		t.Error("the unfiltered token's docs lack the new option")
	}
	if strings.Contains(yaml(roDocs), "partner-new") {
		t.Error("the filtered token's docs show an option its filter excludes")
	}

	// Revoked: every format answers 404, exactly like an unknown id.
	unknown := docsGet(t, m, "/docs/0123456789abcdefghijABCDEFG").problem(404)
	s.admin.do("DELETE", "/v1/tokens/"+s.abc.roID, nil).want(200)
	for _, p := range []string{roDocs, roDocs + "/openapi.yaml", roDocs + "/postman.json"} {
		got := docsGet(t, m, p).problem(404)
		if got.Type != unknown.Type || got.Detail != unknown.Detail || got.Title != unknown.Title {
			t.Errorf("revoked %s: %+v, unknown: %+v", p, got, unknown)
		}
	}
	docsGet(t, m, rwDocs).want(200)
}

func TestGeneralDocsAreServed(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	for path, ctype := range map[string]string{"/docs": "text/html; charset=utf-8", "/docs/openapi.yaml": "application/yaml",
		"/docs/postman.json": "application/json"} {
		r := docsGet(t, m, path).want(200)
		if r.Header.Get("Content-Type") != ctype || !strings.Contains(string(r.Body), "/v1/campaigns") {
			t.Errorf("%s: %s %.100s", path, r.Header.Get("Content-Type"), r.Body)
		}
	}
	if !strings.Contains(string(docsGet(t, m, "/docs/openapi.yaml").Body), "/v1/audit/events") {
		t.Error("the general document lacks the audit routes")
	}
	docsGet(t, m, "/docs/nothing/here").problem(404)
	docsGet(t, m, "/docs/not-an-id!").problem(404)
}
