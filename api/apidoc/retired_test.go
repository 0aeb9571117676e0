package apidoc_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/leadsvc/leadsvc/domain"
)

// retiredCampaign is campaignA with the option partner-xyz, the status
// lost and the field notes retired.
func retiredCampaign() *domain.Campaign {
	c := campaignA()
	for i, o := range c.Schema.Selects[0].Options {
		if o.Value == "partner-xyz" {
			c.Schema.Selects[0].Options[i].Retired = true
		}
	}
	for i, st := range c.Schema.Statuses {
		if st.Slug == "lost" {
			c.Schema.Statuses[i].Retired = true
		}
	}
	for i, f := range c.Schema.Fields {
		if f.Key == "notes" {
			c.Schema.Fields[i].Retired = true
		}
	}
	return c
}

// TestRetiredItemsAreReadableButNotWritableInTheDocuments: a lead read may
// hold a retired option, status or field, and says so; a write schema
// refuses them, and no example uses them.
func TestRetiredItemsAreReadableButNotWritableInTheDocuments(t *testing.T) {
	t.Parallel()
	d := tokenDoc(retiredCampaign(), nil, domain.PermRead, domain.PermWrite)
	c := mustValidate(t, "retired", d)
	schemas := c.plain["components"].(map[string]any)["schemas"].(map[string]any)
	props := func(name string) map[string]any {
		return schemas[name].(map[string]any)["properties"].(map[string]any)
	}
	enumOf := func(s any) []string {
		m := s.(map[string]any)
		if alt, ok := m["anyOf"]; ok {
			m = alt.([]any)[0].(map[string]any)
		}
		var out []string
		for _, v := range m["enum"].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	if _, ok := props("LeadFields")["notes"]; !ok {
		t.Error("a lead read no longer shows the retired field notes")
	}
	for _, w := range []string{"LeadFieldsCreate", "LeadFieldsUpdate"} {
		if _, ok := props(w)["notes"]; ok {
			t.Errorf("%s lists the retired field notes", w)
		}
		if got := enumOf(props(w)["source"]); slices.Contains(got, "partner-xyz") || !slices.Contains(got, "partner-abc") {
			t.Errorf("%s source options %v: want partner-abc, not the retired partner-xyz", w, got)
		}
	}
	if got := enumOf(props("LeadFields")["source"]); !slices.Contains(got, "partner-xyz") {
		t.Errorf("a lead read's source options %v lack the retired partner-xyz that leads keep", got)
	}
	status := schemas["LeadStatus"].(map[string]any)
	if !slices.Contains(enumOf(status), "lost") || !strings.Contains(status["description"].(string), "lost`: Lost (retired") {
		t.Errorf("LeadStatus does not show the retired status lost as retired: %v", status)
	}
	for _, w := range []string{"LeadCreate", "LeadUpdate"} {
		not, _ := props(w)["status"].(map[string]any)["not"].(map[string]any)
		if not == nil || !slices.Equal(anyStrings(not["enum"]), []string{"lost"}) {
			t.Errorf("%s status does not refuse the retired lost: %v", w, props(w)["status"])
		}
	}
	y, err := d.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	// No write example uses a retired item.
	for _, w := range []string{"LeadCreate", "LeadUpdate", "LeadBatch"} {
		ex, err := json.Marshal(schemas[w].(map[string]any)["examples"])
		if err != nil {
			t.Fatal(err)
		}
		for _, retired := range []string{`"partner-xyz"`, `"lost"`, `"notes"`} {
			if strings.Contains(string(ex), retired) {
				t.Errorf("the %s example uses the retired %s: %s", w, retired, ex)
			}
		}
	}
	if !strings.Contains(string(y), "value: partner-xyz\n                          label: Partner XYZ\n                          retired: true") {
		t.Error("the /v1/schema example does not mark partner-xyz retired")
	}
	var page bytes.Buffer
	if err := d.HTML(&page, "/docs/x"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Partner XYZ (retired)", "retired: leads keep it, no lead moves to it", "retired: refused"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("the page does not say %q", want)
		}
	}
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
