package main

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// filterOut is a filter as the API answers it.
type filterOut struct {
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	Match      string           `json:"match"`
	Conditions []map[string]any `json:"conditions"`
	Explain    []string         `json:"explain"`
}

// TestFilterWithoutConditionNeedsMatchAll: a filter that lets every lead
// of the campaign through is made only on purpose ("match": "all"); an
// empty or missing conditions list is refused, naming conditions, and
// writes nothing.
func TestFilterWithoutConditionNeedsMatchAll(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	s := mustSetup(t, m)
	filters := "/v1/campaigns/" + s.campaignID + "/filters"
	source := []map[string]any{{"field": "source", "op": "eq", "value": "website"}}

	mustWriteNothing(t, m, "filters that match every lead by accident", func() {
		for name, body := range map[string]map[string]any{
			"empty conditions":         {"name": "Everyone", "conditions": []any{}},
			"no conditions member":     {"name": "Everyone"},
			"match conditions, none":   {"name": "Everyone", "match": "conditions", "conditions": []any{}},
			"empty conditions, any []": {"name": "Everyone", "conditions": []any{}, "any": []any{}},
		} {
			p := s.admin.do(http.MethodPost, filters, body).problem(http.StatusUnprocessableEntity)
			if !p.hasError("conditions", "required") || !strings.Contains(p.Detail, `"match": "all"`) {
				t.Errorf("%s: %+v; want 422 naming conditions and saying how to match every lead", name, p)
			}
		}
		if p := s.admin.do(http.MethodPost, filters, map[string]any{"name": "Both", "match": "all", "conditions": source}).
			problem(http.StatusUnprocessableEntity); !p.hasError("match", "invalid_value") {
			t.Errorf("match all with a condition: %+v", p)
		}
		if p := s.admin.do(http.MethodPost, filters, map[string]any{"name": "Odd", "match": "some", "conditions": source}).
			problem(http.StatusUnprocessableEntity); !p.hasError("match", "invalid_value") || !strings.Contains(p.Detail, "all, conditions") {
			t.Errorf("an unknown match: %+v", p)
		}
		// An existing filter cannot lose its last condition by accident either.
		if p := s.admin.do(http.MethodPatch, "/v1/filters/"+s.abc.filterID, map[string]any{"conditions": []any{}}).
			problem(http.StatusUnprocessableEntity); !p.hasError("conditions", "required") {
			t.Errorf("PATCH conditions []: %+v", p)
		}
	})

	// On purpose: match all, shown as such wherever the filter is read.
	var all filterOut
	s.admin.do(http.MethodPost, filters, map[string]any{"name": "Everyone", "match": "all"}).want(http.StatusCreated).into(&all)
	if all.Match != "all" || len(all.Conditions) != 0 || !slices.Equal(all.Explain, []string{"every lead of the campaign"}) {
		t.Fatalf("the every-lead filter: %+v", all)
	}
	var got filterOut
	s.admin.do(http.MethodGet, "/v1/filters/"+all.ID, nil).want(http.StatusOK).into(&got)
	if got.Match != "all" {
		t.Fatalf("GET the every-lead filter: %+v", got)
	}
	s.admin.do(http.MethodGet, "/v1/filters/"+s.abc.filterID, nil).want(http.StatusOK).into(&got)
	if got.Match != "conditions" || len(got.Explain) != 1 || got.Explain[0] != "source = PARTNER-ABC (partner-abc)" {
		t.Fatalf("GET a filter with a condition: %+v", got)
	}
	var list struct{ Data []filterOut }
	s.admin.do(http.MethodGet, filters, nil).want(http.StatusOK).into(&list)
	matches := map[string]string{}
	for _, f := range list.Data {
		matches[f.Name] = f.Match
	}
	if matches["Everyone"] != "all" || matches["partner-abc"] != "conditions" {
		t.Fatalf("the list's matches: %v", matches)
	}

	// PATCH: a rename keeps an every-lead filter; conditions make it a
	// filter of conditions; match all takes them away on purpose.
	s.admin.do(http.MethodPatch, "/v1/filters/"+all.ID, map[string]any{"name": "All of them"}).want(http.StatusOK).into(&got)
	if got.Match != "all" || got.Name != "All of them" {
		t.Fatalf("renamed: %+v", got)
	}
	s.admin.do(http.MethodPatch, "/v1/filters/"+all.ID, map[string]any{"conditions": source}).want(http.StatusOK).into(&got)
	if got.Match != "conditions" || len(got.Conditions) != 1 {
		t.Fatalf("given a condition: %+v", got)
	}
	s.admin.do(http.MethodPatch, "/v1/filters/"+all.ID, map[string]any{"match": "all"}).want(http.StatusOK).into(&got)
	if got.Match != "all" || len(got.Conditions) != 0 {
		t.Fatalf("match all again: %+v", got)
	}
}

// TestConsoleFilterWithoutConditionIsChosen: in the console, a filter
// with no condition is saved only when "Every lead of the campaign" is
// chosen, and is marked as such wherever a filter is listed or offered.
func TestConsoleFilterWithoutConditionIsChosen(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	admin := mustAccount(t, m, "Acme")
	campaign := mustConsoleCampaign(t, admin, "Home energy")
	s := mustSignIn(t, m, admin.token)
	s.get("/campaigns/" + campaign + "/filters/new").want(http.StatusOK)

	mustWriteNothing(t, m, "an every-lead filter nobody chose", func() {
		p := s.post("/campaigns/"+campaign+"/filters", url.Values{"rows": {"1"}, "name": {"Everyone"}}).
			want(http.StatusUnprocessableEntity)
		if !p.contains(`id="f-match" name="match" aria-invalid="true"`) || !p.contains(`href="#f-match"`) ||
			!p.contains("add a condition, or choose “Every lead of the campaign”") {
			t.Fatalf("a filter without condition is not refused at the every-lead choice:\n%s", p.Body)
		}
		p = s.post("/campaigns/"+campaign+"/filters", url.Values{"rows": {"1"}, "name": {"Both"}, "match": {"all"},
			"conditions[0].field": {"source"}, "conditions[0].op": {"eq"}, "conditions[0].choice": {"website"}}).
			want(http.StatusUnprocessableEntity)
		if !p.contains(`id="f-match-err"`) || !p.contains("takes no condition") {
			t.Fatalf("every lead with a condition is not refused at the choice:\n%s", p.Body)
		}
	})
	s.post("/campaigns/"+campaign+"/filters", url.Values{"rows": {"1"}, "name": {"Everyone"}, "match": {"all"}}).
		wantRedirect("/console/campaigns/" + campaign + "/filters?notice=filter_created")
	s.post("/campaigns/"+campaign+"/filters", url.Values{"rows": {"1"}, "name": {"Web"},
		"conditions[0].field": {"source"}, "conditions[0].op": {"eq"}, "conditions[0].choice": {"website"}}).
		wantRedirect("/console/campaigns/" + campaign + "/filters?notice=filter_created")

	if p := s.get("/campaigns/" + campaign + "/filters"); !regexp.MustCompile(`Everyone <span class="badge every-lead">every lead</span></th>\s*<td data-label="Lets through"><div>every lead of the campaign</div>`).MatchString(p.Body) ||
		strings.Count(p.Body, "badge every-lead") != 1 {
		t.Fatalf("the filter list does not mark the every-lead filter, and only it:\n%s", p.Body)
	}
	var list struct{ Data []filterOut }
	admin.do(http.MethodGet, "/v1/campaigns/"+campaign+"/filters", nil).want(http.StatusOK).into(&list)
	var everyone string
	for _, f := range list.Data {
		if f.Name == "Everyone" {
			everyone = f.ID
		}
	}
	if p := s.get("/filters/" + everyone); !p.contains(`value="all" checked`) {
		t.Fatalf("the editor of the every-lead filter does not show the choice:\n%s", p.Body)
	}
	for _, page := range []string{"/campaigns/" + campaign + "/tokens/new", "/campaigns/" + campaign + "/webhooks/new"} {
		if p := s.get(page); !p.contains(`>Everyone (every lead)</option>`) || !p.contains(`>Web</option>`) {
			t.Errorf("%s does not offer the every-lead filter as such:\n%s", page, p.Body)
		}
	}
}
