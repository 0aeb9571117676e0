package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/leadsvc/leadsvc/internal/testenv"
)

// TestSchemaEvolutionThroughTheAPI renames, retires and reorders options,
// fields and statuses of a campaign in use: a lead that has a retired
// option or status keeps it and stays readable, the filter naming the
// retired option keeps working, new writes of retired items are 422
// naming them, and the partner's schema and documents follow on the next
// request. Each change is If-Match'ed on the campaign's version.
func TestSchemaEvolutionThroughTheAPI(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	s := mustSetup(t, m)
	camp := "/v1/campaigns/" + s.campaignID
	xyzLead := str(s.xyz.rw.do("POST", "/v1/leads", map[string]any{"status": "contacted",
		"fields": map[string]any{"name": "Grace", "source": "partner-xyz", "budget": 5}}).want(201).obj(), "id")
	version := func() string {
		return fmt.Sprint(s.admin.do("GET", camp, nil).want(200).obj()["version"])
	}

	// Rename an option's label: the partner's schema shows it at once.
	v := version()
	s.admin.do("PATCH", camp+"/selects/source/options/partner-abc", map[string]any{"label": "Partner ABC Ltd"}, "If-Match", `"`+v+`"`).want(200)
	if body := string(s.abc.rw.do("GET", "/v1/schema", nil).want(200).Body); !strings.Contains(body, "Partner ABC Ltd") {
		t.Fatalf("the partner's schema does not show the new label: %s", body)
	}
	// A stale If-Match changes nothing.
	s.admin.do("PATCH", camp+"/selects/source/options/partner-abc", map[string]any{"label": "Stale"}, "If-Match", `"`+v+`"`).problem(412)
	// Unknown items are 404, an empty change 422.
	s.admin.do("PATCH", camp+"/selects/source/options/nope", map[string]any{"label": "x"}).problem(404)
	s.admin.do("PATCH", camp+"/fields/nope", map[string]any{"label": "x"}).problem(404)
	s.admin.do("PATCH", camp+"/statuses/nope", map[string]any{"label": "x"}).problem(404)
	if p := s.admin.do("PATCH", camp+"/fields/budget", map[string]any{}).problem(422); !p.hasError("body", "required") {
		t.Fatalf("an empty change: %+v", p)
	}

	// Retire partner-xyz and the status contacted.
	s.admin.do("PATCH", camp+"/selects/source/options/partner-xyz", map[string]any{"retired": true}).want(200)
	s.admin.do("PATCH", camp+"/statuses/contacted", map[string]any{"retired": true, "label": "Reached"}).want(200)
	// The lead that has them keeps them and stays readable through the
	// filter that names the retired option.
	got := s.xyz.ro.do("GET", "/v1/leads/"+xyzLead, nil).want(200).obj()
	if got["status"] != "contacted" || got["fields"].(map[string]any)["source"] != "partner-xyz" {
		t.Fatalf("the lead with retired values: %v", got)
	}
	testenv.CheckFor(t, 10*time.Second, func() error {
		if body := string(s.xyz.ro.do("GET", "/v1/leads", nil).want(200).Body); !strings.Contains(body, xyzLead) {
			return fmt.Errorf("the filter naming the retired option lists: %s", body)
		}
		return nil
	})
	// An update that leaves them alone is accepted.
	s.xyz.rw.do("PATCH", "/v1/leads/"+xyzLead, map[string]any{"fields": map[string]any{"budget": 6}}).want(200)
	// New writes of retired items are refused, naming them.
	if p := s.xyz.rw.do("POST", "/v1/leads", map[string]any{"fields": map[string]any{"name": "Bo", "source": "partner-xyz"}}).problem(422); !p.hasError("fields.source", "retired") {
		t.Fatalf("a create with a retired option: %+v", p)
	}
	if p := s.abc.rw.do("POST", "/v1/leads", map[string]any{"status": "contacted", "fields": map[string]any{"name": "Bo", "source": "partner-abc"}}).problem(422); !p.hasError("status", "retired") {
		t.Fatalf("a create with a retired status: %+v", p)
	}

	// Fields: rename, reorder, stop requiring; then retire one.
	s.admin.do("PATCH", camp+"/fields/budget", map[string]any{"label": "Budget (EUR)", "position": 1}).want(200)
	schema := s.admin.do("GET", camp, nil).want(200).obj()
	first := schema["fields"].([]any)[0].(map[string]any)
	if first["key"] != "budget" || first["label"] != "Budget (EUR)" {
		t.Fatalf("fields after the move: %v", schema["fields"])
	}
	s.admin.do("PATCH", camp+"/fields/email", map[string]any{"retired": true}).want(200)
	if p := s.abc.rw.do("POST", "/v1/leads", map[string]any{"fields": map[string]any{"name": "Bo", "source": "partner-abc", "email": "bo@example.com"}}).problem(422); !p.hasError("fields.email", "retired") {
		t.Fatalf("a create with a retired field: %+v", p)
	}
	if p := s.admin.do("PATCH", camp+"/fields/name", map[string]any{"retired": true}).problem(422); !p.hasError("required", "invalid_value") {
		t.Fatalf("retiring a required field: %+v", p)
	}

	// The partner's documents follow on the next request.
	resp, err := http.Get("http://" + m.Addr() + urlPath(t, s.abc.rwDocs) + "/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"Budget (EUR)", "Partner ABC Ltd", "Reached (retired"} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("the partner's OpenAPI lacks %q", want)
		}
	}
}
