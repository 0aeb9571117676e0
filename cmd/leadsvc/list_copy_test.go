package main

import (
	"encoding/json"
	"reflect"
	"testing"
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
