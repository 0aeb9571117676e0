package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/internal/testenv"
)

// strictCase is one request the API must refuse before any command runs,
// with the member or parameter its problem names.
type strictCase struct {
	name         string
	c            *client
	method, path string
	body         string
	status       int
	field, code  string
}

// mustRefuseAll sends every case and checks its problem and that the log
// did not grow.
func mustRefuseAll(t *testing.T, m *Main, cases []strictCase) {
	t.Helper()
	for _, tc := range cases {
		before := countEvents(t, m)
		var body any
		if tc.body != "" {
			body = tc.body
		}
		p := tc.c.do(tc.method, tc.path, body).problem(tc.status)
		if !p.hasError(tc.field, tc.code) {
			t.Errorf("%s: errors %+v, want %s/%s", tc.name, p.Errors, tc.field, tc.code)
		}
		if after := countEvents(t, m); after != before {
			t.Errorf("%s: %d events written", tc.name, after-before)
		}
	}
}

func TestMemberNamesMatchExactlyAndOnce(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, "LEADSVC_RATE_LIMIT", "100000")
	s := mustSetup(t, m)
	l, _ := s.abc.rw.mustCreateLead(map[string]any{"fields": map[string]any{"name": "Ada"}})
	filters := "/v1/campaigns/" + s.campaignID + "/filters"
	token := "/v1/tokens/" + s.abc.rwID

	// The token of partner abc must keep its filter: FILTER_ID is not
	// filter_id, so the request is refused as a whole.
	mustRefuseAll(t, m, []strictCase{
		{"case variant clears the filter", s.admin, "PATCH", token, `{"filter_id": null, "FILTER_ID": "` + s.xyz.filterID + `"}`, 400, "FILTER_ID", "unknown_field"},
		{"case variant alone", s.admin, "PATCH", token, `{"Name": "renamed"}`, 400, "Name", "unknown_field"},
		{"case variant of fields", s.abc.rw, "POST", "/v1/leads", `{"Fields": {"name": "A"}}`, 400, "Fields", "unknown_field"},
		{"nested case variant", s.admin, "POST", filters, `{"name": "f", "conditions": [{"field": "source", "OP": "eq", "value": "website"}]}`, 400, "conditions[0].OP", "unknown_field"},
		{"case variant in a batch item", s.abc.rw, "POST", "/v1/leads/batch", `{"leads": [{"fields": {"name": "A"}}, {"Fields": {"name": "B"}}]}`, 400, "leads[1].Fields", "unknown_field"},
		{"unknown member", s.abc.rw, "PATCH", "/v1/leads/" + l.ID, `{"status": "won", "colour": 1}`, 400, "colour", "unknown_field"},
		{"duplicate member", s.admin, "PATCH", token, `{"name": "a", "name": "b"}`, 400, "name", "duplicate_member"},
		{"duplicate filter_id", s.admin, "PATCH", token, `{"filter_id": "` + s.xyz.filterID + `", "filter_id": null}`, 400, "filter_id", "duplicate_member"},
		{"duplicate inside fields", s.abc.rw, "POST", "/v1/leads", `{"fields": {"name": "A", "name": "B"}}`, 400, "fields.name", "duplicate_member"},
		{"duplicate inside a condition", s.admin, "POST", filters, `{"name": "f", "conditions": [{"field": "source", "op": "eq", "op": "neq", "value": "website"}]}`, 400, "conditions[0].op", "duplicate_member"},
		{"duplicate inside a batch item", s.abc.rw, "POST", "/v1/leads/batch", `{"leads": [{"fields": {"name": "A"}, "fields": {}}]}`, 400, "leads[0].fields", "duplicate_member"},
		{"duplicate of a patch", s.abc.rw, "PATCH", "/v1/leads/" + l.ID, `{"fields": {"source": "partner-abc", "source": "partner-xyz"}}`, 400, "fields.source", "duplicate_member"},
	})
	var tok struct {
		FilterID *string `json:"filter_id"`
		Name     string  `json:"name"`
	}
	s.admin.do("GET", token, nil).want(200).into(&tok)
	if tok.FilterID == nil || *tok.FilterID != s.abc.filterID || tok.Name != "partner-abc write" {
		t.Fatalf("token after refused patches: %+v, want filter %s", tok, s.abc.filterID)
	}
	// The problem says which name was meant.
	p := s.admin.do("PATCH", token, `{"FILTER_ID": null}`).problem(400)
	if !strings.Contains(p.Detail, `"filter_id"`) {
		t.Errorf("case variant detail %q does not name filter_id", p.Detail)
	}
	// Exact names still work.
	s.admin.do("PATCH", token, `{"name": "renamed"}`).want(200)
}

func TestNULAndInvalidUTF8AreRefusedInEveryStringMember(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, "LEADSVC_RATE_LIMIT", "100000")
	s := mustSetup(t, m)
	l, _ := s.abc.rw.mustCreateLead(map[string]any{"fields": map[string]any{"name": "Ada"}})
	campaign := "/v1/campaigns/" + s.campaignID
	statuses := `"statuses": [{"slug": "new", "label": "New"}]`
	// %s is where the bad text goes; field is the member it lands in.
	members := []struct {
		name         string
		c            *client
		method, path string
		body, field  string
	}{
		{"lead field", s.abc.rw, "POST", "/v1/leads", `{"fields": {"name": "%s"}}`, "fields.name"},
		{"lead status", s.abc.rw, "POST", "/v1/leads", `{"status": "%s", "fields": {"name": "A"}}`, "status"},
		{"lead field of a patch", s.abc.rw, "PATCH", "/v1/leads/" + l.ID, `{"fields": {"name": "%s"}}`, "fields.name"},
		{"lead field of a batch", s.abc.rw, "POST", "/v1/leads/batch", `{"leads": [{"fields": {"name": "A"}}, {"fields": {"name": "%s"}}]}`, "leads[1].fields.name"},
		{"account-level lead's campaign_id", s.admin, "POST", "/v1/leads", `{"campaign_id": "%s", "fields": {"name": "A"}}`, "campaign_id"},
		{"campaign name", s.admin, "POST", "/v1/campaigns", `{"name": "%s", ` + statuses + `}`, "name"},
		{"field key", s.admin, "POST", "/v1/campaigns", `{"name": "C", "fields": [{"key": "%s", "label": "A", "type": "text"}], ` + statuses + `}`, "fields[0].key"},
		{"field label", s.admin, "POST", "/v1/campaigns", `{"name": "C", "fields": [{"key": "a", "label": "%s", "type": "text"}], ` + statuses + `}`, "fields[0].label"},
		{"select label", s.admin, "POST", "/v1/campaigns", `{"name": "C", "selects": [{"key": "s", "label": "%s", "options": []}], ` + statuses + `}`, "selects[0].label"},
		{"option value", s.admin, "POST", "/v1/campaigns", `{"name": "C", "selects": [{"key": "s", "label": "S", "options": [{"value": "%s", "label": "V"}]}], ` + statuses + `}`, "selects[0].options[0].value"},
		{"status label", s.admin, "POST", "/v1/campaigns", `{"name": "C", "statuses": [{"slug": "new", "label": "%s"}]}`, "statuses[0].label"},
		{"rename", s.admin, "PATCH", campaign, `{"name": "%s"}`, "name"},
		{"added status", s.admin, "PATCH", campaign, `{"add_status": {"slug": "later", "label": "%s"}}`, "add_status.label"},
		{"added field", s.admin, "PATCH", campaign, `{"add_field": {"key": "later", "label": "%s", "type": "text"}}`, "add_field.label"},
		{"added option's value", s.admin, "POST", campaign + "/selects/source/options", `{"value": "%s", "label": "V"}`, "value"},
		{"added option's label", s.admin, "POST", campaign + "/selects/source/options", `{"value": "v", "label": "%s"}`, "label"},
		{"filter name", s.admin, "POST", campaign + "/filters", `{"name": "%s", "conditions": [{"field": "source", "op": "eq", "value": "website"}]}`, "name"},
		{"condition value", s.admin, "POST", campaign + "/filters", `{"name": "f", "conditions": [{"field": "name", "op": "contains", "value": "%s"}]}`, "conditions[0].value"},
		{"condition list value", s.admin, "POST", campaign + "/filters", `{"name": "f", "conditions": [{"field": "name", "op": "in", "value": ["a", "%s"]}]}`, "conditions[0].value[1]"},
		{"filter rename", s.admin, "PATCH", "/v1/filters/" + s.abc.filterID, `{"name": "%s"}`, "name"},
		{"token name", s.admin, "POST", "/v1/tokens", `{"name": "%s", "permissions": ["read"]}`, "name"},
		{"token permission", s.admin, "POST", "/v1/tokens", `{"name": "t", "permissions": ["%s"]}`, "permissions[0]"},
		{"token rename", s.admin, "PATCH", "/v1/tokens/" + s.abc.roID, `{"name": "%s"}`, "name"},
		{"token rotation", s.admin, "POST", "/v1/tokens/" + s.abc.roID + "/rotate", `{"grace_period": "%s"}`, "grace_period"},
		{"webhook url", s.admin, "POST", "/v1/webhooks", `{"url": "https://example.com/%s", "campaign_id": "` + s.campaignID + `"}`, "url"},
		{"webhook event type", s.admin, "POST", "/v1/webhooks", `{"url": "https://example.com/", "campaign_id": "` + s.campaignID + `", "event_types": ["%s"]}`, "event_types[0]"},
		{"member name", s.abc.rw, "POST", "/v1/leads", `{"fields": {"name": "A", "%s": "x"}}`, ""},
	}
	for _, mb := range members {
		for _, bad := range []struct{ text, code string }{{`a\u0000b`, "nul_character"}, {"a\xffb", "invalid_utf8"}, {`\udc00`, "invalid_utf8"}} {
			tc := strictCase{mb.name + " " + bad.code, mb.c, mb.method, mb.path, fmt.Sprintf(mb.body, bad.text), 400, mb.field, bad.code}
			if tc.field != "" {
				mustRefuseAll(t, m, []strictCase{tc})
				continue
			}
			// A bad member name is named as well as it can be.
			before := countEvents(t, m)
			if p := tc.c.do(tc.method, tc.path, tc.body).problem(400); len(p.Errors) != 1 || p.Errors[0].Code != tc.code ||
				!strings.HasPrefix(p.Errors[0].Field, "fields") {
				t.Errorf("%s: errors %+v, want one %s within fields", tc.name, p.Errors, tc.code)
			}
			if countEvents(t, m) != before {
				t.Errorf("%s: events written", tc.name)
			}
		}
	}
	// Valid UTF-8 beyond ASCII, and escapes of it, are text like any other.
	s.abc.rw.do("POST", "/v1/leads", `{"fields": {"name": "Zoë \ud83d\ude00 😀"}}`).want(201)
}

func TestQueryParametersAndPathSegmentsMustBeText(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, "LEADSVC_RATE_LIMIT", "100000")
	s := mustSetup(t, m)
	l, _ := s.abc.rw.mustCreateLead(map[string]any{"fields": map[string]any{"name": "Ada"}})
	var cases []strictCase
	for _, bad := range []struct{ text, code string }{{"%00", "nul_character"}, {"%ff", "invalid_utf8"}, {"a%00", "nul_character"}, {"%C3%28", "invalid_utf8"}} {
		for _, q := range []struct {
			c           *client
			path, field string
		}{
			{s.abc.ro, "/v1/leads?status=", "status"},
			{s.abc.ro, "/v1/leads?cursor=", "cursor"},
			{s.abc.ro, "/v1/leads?updated_since=", "updated_since"},
			{s.abc.ro, "/v1/leads?limit=", "limit"},
			{s.admin, "/v1/leads?campaign_id=", "campaign_id"},
			{s.abc.ro, "/v1/schema?campaign_id=", "campaign_id"},
			{s.admin, "/v1/tokens?campaign_id=", "campaign_id"},
			{s.admin, "/v1/webhooks?campaign_id=", "campaign_id"},
			{s.admin, "/v1/webhooks/" + uuid.NewString() + "/deliveries?cursor=", "cursor"},
			{s.admin, "/v1/audit/events?after=", "after"},
			{s.admin, "/v1/audit/tokens/" + s.abc.roID + "/events?at=", "at"},
			{s.admin, "/v1/audit/leads/" + l.ID + "?at=", "at"},
			{s.abc.ro, "/v1/leads/", "id"},
			{s.admin, "/v1/tokens/", "id"},
			{s.abc.ro, "/v1/leads/" + l.ID + "/files/", "file_id"},
		} {
			cases = append(cases, strictCase{q.path + bad.text, q.c, "GET", q.path + bad.text, "", 400, q.field, bad.code})
		}
		cases = append(cases,
			strictCase{"parameter name " + bad.text, s.abc.ro, "GET", "/v1/leads?st" + bad.text + "=new", "", 400, "", bad.code},
			strictCase{"select key " + bad.text, s.admin, "POST", "/v1/campaigns/" + s.campaignID + "/selects/" + bad.text + "/options",
				`{"value": "v", "label": "V"}`, 400, "key", bad.code})
	}
	for _, tc := range cases {
		if tc.field == "" {
			if p := tc.c.do(tc.method, tc.path, nil).problem(400); len(p.Errors) != 1 || p.Errors[0].Code != tc.code {
				t.Errorf("%s: errors %+v, want one %s", tc.name, p.Errors, tc.code)
			}
			continue
		}
		mustRefuseAll(t, m, []strictCase{tc})
	}
	// Percent-encoded text that is valid is still read as before.
	s.abc.ro.do("GET", "/v1/leads?status="+url.QueryEscape("won"), nil).want(200)
}

func TestLimitOutsideItsRangeIsRefused(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, "LEADSVC_RATE_LIMIT", "100000")
	s := mustSetup(t, m)
	hook := uuid.NewString() // the limit is read before the webhook is looked up
	var cases []strictCase
	for _, route := range []struct {
		c    *client
		path string
		over string
	}{
		{s.abc.ro, "/v1/leads?limit=", "1001"},
		{s.admin, "/v1/leads?campaign_id=" + s.campaignID + "&limit=", "1001"},
		{s.admin, "/v1/webhooks/" + hook + "/deliveries?limit=", "1001"},
		{s.admin, "/v1/audit/tokens/" + s.abc.roID + "/events?limit=", "10001"},
		{s.admin, "/v1/audit/events?limit=", "100001"},
	} {
		for _, v := range []string{"-5", "0", route.over, "abc", "1.5", "", "99999999999999999999"} {
			cases = append(cases, strictCase{route.path + v, route.c, "GET", route.path + url.QueryEscape(v), "", 400, "limit", ""})
		}
	}
	for _, tc := range cases {
		p := tc.c.do(tc.method, tc.path, nil).problem(400)
		if len(p.Errors) != 1 || p.Errors[0].Field != "limit" || !strings.Contains(p.Errors[0].Message, "1 to") {
			t.Errorf("%s: errors %+v, want one naming limit and its range", tc.name, p.Errors)
		}
	}
	// The bounds themselves are pages.
	s.abc.ro.do("GET", "/v1/leads?limit=1", nil).want(200)
	s.abc.ro.do("GET", "/v1/leads?limit=1000", nil).want(200)
	s.admin.do("GET", "/v1/audit/tokens/"+s.abc.roID+"/events?limit=10000", nil).want(200)
	if r := s.admin.do("GET", "/v1/webhooks/"+hook+"/deliveries?limit=1000", nil); r.Status == http.StatusBadRequest {
		t.Fatalf("limit=1000 of deliveries refused: %s", r.Body)
	}
}

func TestSizesOverTheLimitsAreRefused(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, "LEADSVC_RATE_LIMIT", "100000")
	s := mustSetup(t, m)
	campaign := "/v1/campaigns/" + s.campaignID
	conditions := func(n int) string {
		return "[" + strings.TrimSuffix(strings.Repeat(`{"field": "name", "op": "eq", "value": "x"},`, n), ",") + "]"
	}
	list := func(n int, item func(i int) string) string {
		items := make([]string, n)
		for i := range items {
			items[i] = item(i)
		}
		return "[" + strings.Join(items, ",") + "]"
	}
	status := `{"slug": "new", "label": "New"}`
	options := func(n int) string {
		return list(n, func(i int) string { return fmt.Sprintf(`{"value": "v%d", "label": "V"}`, i) })
	}
	long := strings.Repeat("é", 201)
	mustRefuseAll(t, m, []strictCase{
		{"20,000 conditions", s.admin, "POST", campaign + "/filters", `{"name": "huge", "conditions": ` + conditions(20000) + `}`, 422, "conditions", "too_many"},
		{"51 conditions", s.admin, "POST", campaign + "/filters", `{"name": "big", "conditions": ` + conditions(51) + `}`, 422, "conditions", "too_many"},
		{"51 conditions with the any groups", s.admin, "PATCH", "/v1/filters/" + s.abc.filterID, `{"conditions": ` + conditions(30) + `, "any": [` + conditions(21) + `]}`, 422, "conditions", "too_many"},
		{"501 values of in", s.admin, "POST", campaign + "/filters", `{"name": "f", "conditions": [{"field": "name", "op": "in", "value": ` +
			list(501, func(i int) string { return fmt.Sprintf(`"n%d"`, i) }) + `}]}`, 422, "conditions[0].value", "too_many"},
		{"501 options", s.admin, "POST", "/v1/campaigns", `{"name": "C", "selects": [{"key": "s", "label": "S", "options": ` + options(501) + `}], "statuses": [` + status + `]}`, 422, "selects[0].options", "too_many"},
		{"201 fields", s.admin, "POST", "/v1/campaigns", `{"name": "C", "fields": ` +
			list(201, func(i int) string { return fmt.Sprintf(`{"key": "f%d", "label": "F", "type": "text"}`, i) }) + `, "statuses": [` + status + `]}`, 422, "fields", "too_many"},
		{"51 statuses", s.admin, "POST", "/v1/campaigns", `{"name": "C", "statuses": ` +
			list(51, func(i int) string { return fmt.Sprintf(`{"slug": "s%d", "label": "S"}`, i) }) + `}`, 422, "statuses", "too_many"},
		{"51 selects", s.admin, "POST", "/v1/campaigns", `{"name": "C", "selects": ` +
			list(51, func(i int) string { return fmt.Sprintf(`{"key": "s%d", "label": "S", "options": []}`, i) }) + `, "statuses": [` + status + `]}`, 422, "selects", "too_many"},
		{"campaign name", s.admin, "POST", "/v1/campaigns", `{"name": "` + long + `", "statuses": [` + status + `]}`, 422, "name", "too_long"},
		{"status label", s.admin, "PATCH", campaign, `{"add_status": {"slug": "later", "label": "` + long + `"}}`, 422, "add_status.label", "too_long"},
		{"option label", s.admin, "POST", campaign + "/selects/source/options", `{"value": "v", "label": "` + long + `"}`, 422, "label", "too_long"},
		{"option value", s.admin, "POST", campaign + "/selects/source/options", `{"value": "` + long + `", "label": "V"}`, 422, "value", "too_long"},
		{"filter name", s.admin, "PATCH", "/v1/filters/" + s.abc.filterID, `{"name": "` + long + `"}`, 422, "name", "too_long"},
		{"token name", s.admin, "POST", "/v1/tokens", `{"name": "` + long + `", "permissions": ["read"]}`, 422, "name", "too_long"},
		{"text value", s.abc.rw, "POST", "/v1/leads", `{"fields": {"name": "` + strings.Repeat("x", 1001) + `"}}`, 422, "fields.name", "too_long"},
		{"event types", s.admin, "POST", "/v1/webhooks", `{"url": "https://example.com/", "campaign_id": "` + s.campaignID + `", "event_types": ` +
			list(51, func(int) string { return `"lead.created"` }) + `}`, 422, "event_types", "too_many"},
	})
	// At the limits themselves, all is stored.
	s.admin.do("POST", campaign+"/filters", `{"name": "fifty", "conditions": `+conditions(50)+`}`).want(201)
	c := str(s.admin.do("POST", "/v1/campaigns", `{"name": "`+strings.Repeat("é", 200)+`", "selects": [{"key": "s", "label": "S", "options": `+options(500)+`}], "statuses": [`+status+`]}`).want(201).obj(), "id")
	// A 501st option, added on its own, is refused too.
	mustRefuseAll(t, m, []strictCase{{"501st option", s.admin, "POST", "/v1/campaigns/" + c + "/selects/s/options", `{"value": "one more", "label": "V"}`, 422, "options", "too_many"}})
}

func TestConsoleFormsRefuseNULAndInvalidUTF8AtTheirInputs(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	admin := mustAccount(t, m, "Acme")
	campaign := mustConsoleCampaign(t, admin, "Home energy")
	s := mustSignIn(t, m, admin.token)
	s.get("/campaigns/" + campaign).want(http.StatusOK)
	for _, bad := range []struct{ text, says string }{{"a\x00b", "NUL character"}, {"caf\xe9", "not valid UTF-8"}} {
		for _, form := range []struct {
			name, path string
			values     url.Values
		}{
			{"rename", "/campaigns/" + campaign + "/rename", url.Values{"name": {bad.text}}},
			{"new campaign", "/campaigns", url.Values{"name": {bad.text}, "statuses": {"new"}}},
			{"option label", "/campaigns/" + campaign + "/selects/source/options", url.Values{"option.value": {"v"}, "option.label": {bad.text}}},
			{"option value", "/campaigns/" + campaign + "/selects/source/options", url.Values{"option.value": {bad.text}, "option.label": {"V"}}},
			{"status label", "/campaigns/" + campaign + "/statuses", url.Values{"index": {"0"}, "statuses[0].slug": {"later"}, "statuses[0].label": {bad.text}}},
			{"filter name", "/campaigns/" + campaign + "/filters", url.Values{"rows": {"1"}, "name": {bad.text},
				"conditions[0].field": {"source"}, "conditions[0].op": {"eq"}, "conditions[0].choice": {"website"}}},
			{"filter value", "/campaigns/" + campaign + "/filters", url.Values{"rows": {"1"}, "name": {"F"},
				"conditions[0].field": {"name"}, "conditions[0].op": {"contains"}, "conditions[0].value": {bad.text}}},
			{"token name", "/campaigns/" + campaign + "/tokens", url.Values{"name": {bad.text}, "access": {"read"}, "filter_id": {""}}},
		} {
			before := countEvents(t, m)
			p := s.post(form.path, form.values)
			if p.Status != http.StatusUnprocessableEntity || !p.contains(bad.says) || !p.contains(`class="field-error"`) {
				t.Errorf("%s with %q: status %d, want 422 with the error %q at its input:\n%s", form.name, bad.text, p.Status, bad.says, p.Body)
			}
			if after := countEvents(t, m); after != before {
				t.Errorf("%s with %q: %d events written", form.name, bad.text, after-before)
			}
			s.get("/campaigns/" + campaign).want(http.StatusOK) // a fresh CSRF token
		}
	}
}

func TestUploadPartHeadersMustBeText(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	s := mustSetup(t, m)
	l, _ := s.abc.rw.mustCreateLead(map[string]any{"fields": map[string]any{"name": "Ada"}})
	for _, ctype := range []string{"text/plain; name=\"a\x00b\"", "text/plain; name=\"caf\xe9\"", "text/pl\x00ain"} {
		before := countEvents(t, m)
		r := s.abc.rw.upload("/v1/leads/"+l.ID+"/files", "file", "n\x00ame\xff.txt", ctype, []byte("hello"))
		if r.Status >= 500 {
			t.Fatalf("upload with Content-Type %q: %d %s", ctype, r.Status, r.Body)
		}
		if r.Status >= 400 && countEvents(t, m) != before {
			t.Fatalf("a refused upload wrote events")
		}
	}
}

func TestAnEndpointAnsweringNULIsLoggedLikeAnyOther(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, "LEADSVC_WEBHOOKS_ALLOW_PRIVATE", "true", "LEADSVC_RATE_LIMIT", "100000")
	s := mustSetup(t, m)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok\x00\xff done"))
	}))
	t.Cleanup(srv.Close)
	id := str(s.admin.do("POST", "/v1/webhooks", map[string]any{"url": srv.URL, "campaign_id": s.campaignID}).want(201).obj(), "id")
	s.admin.do("POST", "/v1/webhooks/"+id+"/test", nil).want(202)
	var deliveries struct {
		Data []map[string]any `json:"data"`
	}
	testenv.CheckFor(t, 15*time.Second, func() error {
		s.admin.do("GET", "/v1/webhooks/"+id+"/deliveries", nil).want(200).into(&deliveries)
		if len(deliveries.Data) != 1 {
			return fmt.Errorf("deliveries %v", deliveries.Data)
		}
		return nil
	})
	if d := deliveries.Data[0]; d["success"] != true || str(d, "response_excerpt") != "ok\ufffd\ufffd done" {
		t.Fatalf("delivery %v", d)
	}
}
