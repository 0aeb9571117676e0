package apidoc_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pb33f/libopenapi/datamodel/high/base"

	"github.com/leadsvc/leadsvc/api/apidoc"
	"github.com/leadsvc/leadsvc/domain"
)

var update = flag.Bool("update", false, "rewrite docs/openapi.yaml from the generator")

const publicURL = "https://leads.example.com"

var (
	t0          = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	otherTarget = uuid.MustParse("5b0f3c2e-1d4a-4e6b-9c8d-7a6f5e4d3c2b")
)

// campaignA uses every field type; campaignB has names of its own so a
// leak would show.
func campaignA() *domain.Campaign {
	return &domain.Campaign{ID: uuid.MustParse("11111111-1111-4111-8111-111111111111"), Name: "Home energy", Version: 4,
		CreatedAt: t0, UpdatedAt: t0, Schema: domain.Schema{
			Fields: []domain.Field{
				{Key: "name", Label: "Name", Type: domain.TypeText, Required: true},
				{Key: "notes", Label: "Notes", Type: domain.TypeTextarea},
				{Key: "budget", Label: "Budget", Type: domain.TypeNumber},
				{Key: "vip", Label: "VIP", Type: domain.TypeBoolean},
				{Key: "callback_on", Label: "Call back on", Type: domain.TypeDate},
				{Key: "met_at", Label: "Met at", Type: domain.TypeDatetime},
				{Key: "email", Label: "Email", Type: domain.TypeEmail},
				{Key: "phone", Label: "Phone", Type: domain.TypePhone},
				{Key: "website", Label: "Website", Type: domain.TypeURL},
				{Key: "source", Label: "Source", Type: domain.TypeSelect, Select: "source", Required: true},
				{Key: "interests", Label: "Interests", Type: domain.TypeMultiselect, Select: "interests"},
				{Key: "referrer", Label: "Referred by", Type: domain.TypeRelation, Campaign: &otherTarget},
			},
			Selects: []domain.Select{
				{Key: "source", Label: "Source", Options: []domain.Option{{Value: "website", Label: "Website"},
					{Value: "partner-abc", Label: "Partner ABC"}, {Value: "partner-xyz", Label: "Partner XYZ"}}},
				{Key: "interests", Label: "Interests", Options: []domain.Option{{Value: "solar", Label: "Solar"},
					{Value: "heat-pump", Label: "Heat pump"}, {Value: "battery", Label: "Battery"}}},
			},
			Statuses: []domain.Status{{Slug: "new", Label: "New"}, {Slug: "contacted", Label: "Contacted"},
				{Slug: "won", Label: "Won"}, {Slug: "lost", Label: "Lost"}},
		}}
}

func campaignB() *domain.Campaign {
	return &domain.Campaign{ID: uuid.MustParse("22222222-2222-4222-8222-222222222222"), Name: "Bzzcampaign", Version: 1,
		CreatedAt: t0, UpdatedAt: t0, Schema: domain.Schema{
			Fields:   []domain.Field{{Key: "bzzfield", Label: "Bzzlabel", Type: domain.TypeSelect, Select: "bzzselect"}},
			Selects:  []domain.Select{{Key: "bzzselect", Label: "Bzzselect", Options: []domain.Option{{Value: "bzzoption", Label: "Bzzoptionlabel"}}}},
			Statuses: []domain.Status{{Slug: "bzzstatus", Label: "Bzzstatuslabel"}},
		}}
}

// filter validates conditions as the service does, so values are
// normalized exactly like a stored filter's.
func filter(t *testing.T, c *domain.Campaign, conds []domain.Condition, anyOf ...[]domain.Condition) *domain.Filter {
	t.Helper()
	match := domain.MatchConditions
	if len(conds) == 0 && len(anyOf) == 0 {
		match = domain.MatchAll
	}
	events, err := domain.CreateFilter(uuid.New(), c.ID, uuid.New(), "f", match, conds, anyOf, c.Schema, t0)
	if err != nil {
		t.Fatalf("filter %v: %v", conds, err)
	}
	f := domain.FoldFilter(events)
	return &f
}

func cond(field string, op domain.Op, value any) domain.Condition {
	return domain.Condition{Field: field, Op: op, Value: value}
}

// filterCases cover every operator on every field kind it applies to.
func filterCases() map[string][]domain.Condition {
	return map[string][]domain.Condition{
		"none":                 nil,
		"select eq":            {cond("source", domain.OpEq, "partner-abc")},
		"select neq":           {cond("source", domain.OpNeq, "website")},
		"select in":            {cond("source", domain.OpIn, []any{"partner-abc", "partner-xyz"})},
		"select not_in":        {cond("source", domain.OpNotIn, []any{"website", "partner-xyz"})},
		"select empty":         {cond("source", domain.OpEmpty, nil)},
		"select not_empty":     {cond("source", domain.OpNotEmpty, nil)},
		"multiselect eq":       {cond("interests", domain.OpEq, "solar")},
		"multiselect contains": {cond("interests", domain.OpContains, "battery")},
		"multiselect neq":      {cond("interests", domain.OpNeq, "battery")},
		"multiselect in":       {cond("interests", domain.OpIn, []any{"solar", "battery"})},
		"multiselect not_in":   {cond("interests", domain.OpNotIn, []any{"solar", "heat-pump"})},
		"multiselect empty":    {cond("interests", domain.OpEmpty, nil)},
		"multiselect filled":   {cond("interests", domain.OpNotEmpty, nil)},
		"status eq":            {cond("status", domain.OpEq, "contacted")},
		"status in":            {cond("status", domain.OpIn, []any{"won", "lost"})},
		"status not_in":        {cond("status", domain.OpNotIn, []any{"new"})},
		"text eq":              {cond("name", domain.OpEq, "Ada")},
		"text neq":             {cond("name", domain.OpNeq, "Ada Lovelace")},
		"text in":              {cond("name", domain.OpIn, []any{"Ada", "Grace"})},
		"text contains":        {cond("name", domain.OpContains, "Ad-a.")},
		"text contains utf8":   {cond("notes", domain.OpContains, "Café")},
		"text empty":           {cond("notes", domain.OpEmpty, nil)},
		"email contains":       {cond("email", domain.OpContains, "@example.com")},
		"email not_empty":      {cond("email", domain.OpNotEmpty, nil)},
		"phone neq":            {cond("phone", domain.OpNeq, "+1 555")},
		"url eq":               {cond("website", domain.OpEq, "https://example.org/a")},
		"number eq":            {cond("budget", domain.OpEq, 5)},
		"number gt":            {cond("budget", domain.OpGt, 10)},
		"number gte lt":        {cond("budget", domain.OpGte, 10.5), cond("budget", domain.OpLt, 100)},
		"number lte":           {cond("budget", domain.OpLte, -3)},
		"number between":       {cond("budget", domain.OpBetween, []any{10, 20})},
		"number not_in":        {cond("budget", domain.OpNotIn, []any{1000, 0})},
		"boolean eq":           {cond("vip", domain.OpEq, true)},
		"boolean neq":          {cond("vip", domain.OpNeq, true)},
		"date eq":              {cond("callback_on", domain.OpEq, "2026-04-01")},
		"date between":         {cond("callback_on", domain.OpBetween, []any{"2026-01-01", "2026-02-01"})},
		"date gt":              {cond("callback_on", domain.OpGt, "2026-12-31")},
		"datetime gte":         {cond("met_at", domain.OpGte, "2026-01-01T00:00:00+01:00")},
		"relation eq":          {cond("referrer", domain.OpEq, "1B4E28BA-2FA1-4D3B-A3F5-EF19B5A7633B")},
		"created_at gte":       {cond("created_at", domain.OpGte, "2026-01-01T00:00:00Z")},
		"updated_at lt":        {cond("updated_at", domain.OpLt, "2030-01-01T00:00:00Z")},
		"combined": {cond("source", domain.OpEq, "partner-abc"), cond("status", domain.OpNeq, "lost"),
			cond("budget", domain.OpBetween, []any{100, 5000}), cond("interests", domain.OpNotEmpty, nil)},
	}
}

func perms(p ...domain.Permission) []domain.Permission { return p }

func tokenDoc(c *domain.Campaign, f *domain.Filter, p ...domain.Permission) *apidoc.Doc {
	scope := domain.NewScope(c.AccountID, &c.ID, nil, nil)
	if f != nil {
		scope = domain.NewScope(f.AccountID, &c.ID, &f.ID, f)
	}
	return apidoc.Build(apidoc.Scope{PublicURL: publicURL, Token: &apidoc.Token{Name: "Partner ABC", Permissions: p, Campaign: c, Scope: scope}})
}

// goneFilter is the scope of a token whose filter was deleted.
func goneFilter(c *domain.Campaign) domain.Scope {
	gone := uuid.New()
	return domain.NewScope(c.AccountID, &c.ID, &gone, nil)
}

// TestEveryGeneratedDocumentValidates generates the documents of every
// filter operator and permission set and validates each with libopenapi
// (OpenAPI 3.1 schema, and every example against its schema), checks the
// Postman collection and renders the HTML page.
func TestEveryGeneratedDocumentValidates(t *testing.T) {
	t.Parallel()
	for name, d := range generatedDocs(t) {
		mustValidate(t, name, d)
		mustPostman(t, name, d)
		var page bytes.Buffer
		if err := d.HTML(&page, "/docs/x"); err != nil {
			t.Fatalf("%s: HTML: %v", name, err)
		}
		if !strings.Contains(page.String(), "/docs/x/openapi.yaml") {
			t.Fatalf("%s: the page does not link its OpenAPI document", name)
		}
	}
}

// generatedDocs are documents of every kind: the general one, tokens
// with filters of every shape and every permission, a deleted filter, a
// select without options and account-level tokens.
func generatedDocs(t *testing.T) map[string]*apidoc.Doc {
	t.Helper()
	c := campaignA()
	docs := map[string]*apidoc.Doc{
		"general": apidoc.Build(apidoc.Scope{PublicURL: publicURL}),
	}
	for name, conds := range filterCases() {
		var f *domain.Filter
		if conds != nil {
			f = filter(t, c, conds)
		}
		docs["filter "+name] = tokenDoc(c, f, domain.PermRead, domain.PermWrite)
	}
	f := filter(t, c, []domain.Condition{cond("source", domain.OpEq, "partner-abc")},
		[]domain.Condition{cond("budget", domain.OpGt, 10), cond("vip", domain.OpEq, true)})
	docs["filter with any groups"] = tokenDoc(c, f, domain.PermRead, domain.PermWrite)
	for _, p := range [][]domain.Permission{perms(domain.PermRead), perms(domain.PermWrite), perms(domain.PermRead, domain.PermWrite)} {
		docs[fmt.Sprintf("campaign %v", p)] = tokenDoc(c, f, p...)
	}
	docs["filter deleted"] = apidoc.Build(apidoc.Scope{PublicURL: publicURL, Token: &apidoc.Token{Name: "gone",
		Permissions: perms(domain.PermRead, domain.PermWrite), Campaign: c, Scope: goneFilter(c)}})
	empty := &domain.Campaign{ID: uuid.New(), Name: "Empty", Version: 1, CreatedAt: t0, UpdatedAt: t0,
		Schema: domain.Schema{Selects: []domain.Select{{Key: "s", Label: "S"}}, Statuses: []domain.Status{{Slug: "new", Label: "New"}},
			Fields: []domain.Field{{Key: "pick", Label: "Pick", Type: domain.TypeSelect, Select: "s", Required: true}}}}
	docs["select without options"] = tokenDoc(empty, nil, domain.PermRead, domain.PermWrite)
	for _, p := range [][]domain.Permission{perms(domain.PermRead), perms(domain.PermAdmin), perms(domain.PermAudit),
		perms(domain.PermRead, domain.PermWrite, domain.PermAdmin, domain.PermAudit)} {
		docs[fmt.Sprintf("account %v", p)] = apidoc.Build(apidoc.Scope{PublicURL: publicURL,
			Token: &apidoc.Token{Name: "internal", Permissions: p}})
	}
	return docs
}

// mustPostman checks the collection's v2.1 shape: the schema URL, a
// baseUrl variable, bearer auth through {{token}} and one request per
// operation.
func mustPostman(t *testing.T, name string, d *apidoc.Doc) {
	t.Helper()
	raw, err := d.Postman()
	if err != nil {
		t.Fatalf("%s: postman: %v", name, err)
	}
	var coll struct {
		Info struct{ Name, Schema string }
		Auth struct {
			Type   string
			Bearer []struct{ Key, Value string }
		}
		Variable []struct{ Key, Value string }
		Item     []struct {
			Name string
			Item []struct {
				Name    string
				Request struct {
					Method string
					URL    struct {
						Raw  string
						Host []string
						Path []string
					}
				}
			}
		}
	}
	if err := json.Unmarshal(raw, &coll); err != nil {
		t.Fatalf("%s: postman JSON: %v", name, err)
	}
	if coll.Info.Schema != apidoc.PostmanSchema || coll.Info.Name == "" || coll.Auth.Type != "bearer" ||
		len(coll.Auth.Bearer) != 1 || coll.Auth.Bearer[0].Value != "{{token}}" {
		t.Fatalf("%s: collection info/auth %+v %+v", name, coll.Info, coll.Auth)
	}
	vars := map[string]string{}
	for _, v := range coll.Variable {
		vars[v.Key] = v.Value
	}
	if vars["baseUrl"] != publicURL || vars["token"] != "" {
		t.Fatalf("%s: variables %v", name, vars)
	}
	n := 0
	for _, folder := range coll.Item {
		for _, it := range folder.Item {
			n++
			u := it.Request.URL
			if !strings.HasPrefix(u.Raw, "{{baseUrl}}/v1/") || len(u.Host) != 1 || u.Host[0] != "{{baseUrl}}" || it.Request.Method == "" {
				t.Fatalf("%s: request %q: %+v", name, it.Name, it.Request)
			}
		}
	}
	if n == 0 {
		t.Fatalf("%s: an empty collection", name)
	}
}

// operations lists "METHOD path" of a document.
func operations(t *testing.T, c checked) []string {
	t.Helper()
	var out []string
	for p, item := range c.plain["paths"].(map[string]any) {
		for m := range item.(map[string]any) {
			out = append(out, strings.ToUpper(m)+" "+p)
		}
	}
	slices.Sort(out)
	return out
}

func TestReadOnlyTokenDocumentsNoWrite(t *testing.T) {
	t.Parallel()
	c := campaignA()
	ro := mustValidate(t, "read-only", tokenDoc(c, filter(t, c, []domain.Condition{cond("source", domain.OpEq, "partner-abc")}), domain.PermRead))
	got := operations(t, ro)
	want := []string{"GET /v1/leads", "GET /v1/leads/{id}", "GET /v1/leads/{id}/files", "GET /v1/leads/{id}/files/{file_id}", "GET /v1/schema"}
	if !slices.Equal(got, want) {
		t.Fatalf("read-only operations = %v, want %v", got, want)
	}
	for _, s := range []string{"LeadCreate", "LeadUpdate", "FileUpload", "LeadFieldsCreate", "LeadBatch", "LeadList"} {
		if ro.schema(s) != nil {
			t.Errorf("a read-only document defines %s", s)
		}
	}
	var page bytes.Buffer
	if err := tokenDoc(c, nil, domain.PermRead).HTML(&page, "/docs/x"); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{">POST<", ">PATCH<", ">DELETE<"} {
		if strings.Contains(page.String(), w) {
			t.Errorf("the read-only page shows %s", w)
		}
	}
	rw := mustValidate(t, "read-write", tokenDoc(c, nil, domain.PermRead, domain.PermWrite))
	if n := len(operations(t, rw)); n != 10 {
		t.Fatalf("read+write token: %d operations, want 10", n)
	}
	admin := mustValidate(t, "admin", apidoc.Build(apidoc.Scope{PublicURL: publicURL,
		Token: &apidoc.Token{Name: "ops", Permissions: perms(domain.PermAdmin)}}))
	for _, op := range operations(t, admin) {
		// The admin's privacy routes act on one lead by id (export,
		// erase); an admin reads and writes none of the partner's leads.
		privacy := op == "GET /v1/leads/{id}/export" || op == "POST /v1/leads/{id}/erase"
		if (strings.Contains(op, "/v1/leads") && !privacy) || strings.Contains(op, "/v1/audit") {
			t.Errorf("an admin-only token documents %s", op)
		}
	}
}

// TestBatchCreateIsDocumentedForWriters: a token that may write finds
// POST /v1/leads/batch in its OpenAPI document, Postman collection and
// page, with an example of two different leads its filter lets through
// (the example validates against the schema in mustValidate) and the
// leads the batch answers; a read-only token finds none of it.
func TestBatchCreateIsDocumentedForWriters(t *testing.T) {
	t.Parallel()
	c := campaignA()
	f := filter(t, c, []domain.Condition{cond("source", domain.OpEq, "partner-abc")})
	for name, d := range map[string]*apidoc.Doc{
		"partner": tokenDoc(c, f, domain.PermRead, domain.PermWrite),
		"account": apidoc.Build(apidoc.Scope{PublicURL: publicURL, Token: &apidoc.Token{Name: "internal", Permissions: perms(domain.PermWrite)}}),
	} {
		ch := mustValidate(t, name, d)
		if !slices.Contains(operations(t, ch), "POST /v1/leads/batch") {
			t.Fatalf("%s: no batch operation in %v", name, operations(t, ch))
		}
		op := ch.plain["paths"].(map[string]any)["/v1/leads/batch"].(map[string]any)["post"].(map[string]any)
		body := op["requestBody"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)
		leads, _ := body["example"].(map[string]any)["leads"].([]any)
		if len(leads) != 2 || fmt.Sprint(leads[0]) == fmt.Sprint(leads[1]) {
			t.Fatalf("%s: batch example %v, want two different leads", name, body["example"])
		}
		created := op["responses"].(map[string]any)["201"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)
		if data, _ := created["example"].(map[string]any)["data"].([]any); len(data) != 2 {
			t.Fatalf("%s: batch answer example %v, want two leads", name, created["example"])
		}
		batch := ch.schema("LeadBatch").Properties.GetOrZero("leads").Schema()
		if batch.MaxItems == nil || *batch.MaxItems != 100 || batch.MinItems == nil || *batch.MinItems != 1 {
			t.Fatalf("%s: leads takes %v to %v items, want 1 to 100", name, batch.MinItems, batch.MaxItems)
		}
		p, _ := d.Postman()
		var page bytes.Buffer
		if err := d.HTML(&page, "/docs/x"); err != nil {
			t.Fatal(err)
		}
		for what, out := range map[string]string{"postman": string(p), "page": page.String()} {
			if !strings.Contains(out, "Create leads in a batch") || !strings.Contains(out, "leads/batch") {
				t.Errorf("%s: the %s lacks the batch operation", name, what)
			}
		}
		if name == "partner" {
			for _, l := range leads {
				if _, has := l.(map[string]any)["fields"].(map[string]any)["source"]; has {
					t.Errorf("the partner's batch example sends source, which its filter fills in: %v", l)
				}
			}
		}
	}
	ro := tokenDoc(c, f, domain.PermRead)
	y, _ := ro.OpenAPI()
	p, _ := ro.Postman()
	var page bytes.Buffer
	_ = ro.HTML(&page, "/docs/x")
	for _, out := range [][]byte{y, p, page.Bytes()} {
		if bytes.Contains(out, []byte("leads/batch")) {
			t.Fatal("a read-only token's documents show the batch operation")
		}
	}
}

// TestTokenOfCampaignANeverRevealsCampaignB: the documents of campaign A's
// token hold nothing of campaign B (whose names are all distinctive), in
// any format.
func TestTokenOfCampaignANeverRevealsCampaignB(t *testing.T) {
	t.Parallel()
	a, b := campaignA(), campaignB()
	for _, f := range []*domain.Filter{nil, filter(t, a, []domain.Condition{cond("source", domain.OpEq, "partner-abc")})} {
		d := tokenDoc(a, f, domain.PermRead, domain.PermWrite)
		y, _ := d.OpenAPI()
		p, _ := d.Postman()
		var page bytes.Buffer
		_ = d.HTML(&page, "/docs/x")
		for _, out := range [][]byte{y, p, page.Bytes()} {
			if bytes.Contains(bytes.ToLower(out), []byte("bzz")) || bytes.Contains(out, []byte(b.ID.String())) {
				t.Fatalf("campaign A's documents mention campaign B:\n%s", out)
			}
		}
		if !bytes.Contains(y, []byte("partner-abc")) || !bytes.Contains(y, []byte("callback_on")) {
			t.Fatal("campaign A's documents lack its own fields and options")
		}
	}
	db := tokenDoc(b, nil, domain.PermRead)
	y, _ := db.OpenAPI()
	for _, own := range []string{"Home energy", "partner-abc", "callback_on", "heat-pump", "contacted"} {
		if bytes.Contains(y, []byte(own)) {
			t.Errorf("campaign B's documents mention %q of campaign A", own)
		}
	}
}

// TestFilterIsExplainedAndNarrowsTheSchema: a token filtered on
// source = partner-abc sees the filter in words, the source enum narrowed
// to partner-abc, and partner-abc as the create default.
func TestFilterIsExplainedAndNarrowsTheSchema(t *testing.T) {
	t.Parallel()
	c := campaignA()
	d := tokenDoc(c, filter(t, c, []domain.Condition{cond("source", domain.OpEq, "partner-abc"), cond("status", domain.OpIn, []any{"contacted", "won"})}),
		domain.PermRead, domain.PermWrite)
	ch := mustValidate(t, "narrowed", d)
	create := ch.schema("LeadFieldsCreate")
	source := create.Properties.GetOrZero("source").Schema()
	if len(source.Enum) != 1 || source.Enum[0].Value != "partner-abc" {
		t.Fatalf("source enum %v, want [partner-abc]", source.Enum)
	}
	if source.Default == nil || source.Default.Value != "partner-abc" || slices.Contains(create.Required, "source") {
		t.Fatalf("source: default %v, required %v: want a default, not required", source.Default, create.Required)
	}
	status := ch.schema("LeadStatus")
	if len(status.Enum) != 2 || status.Enum[0].Value != "contacted" || status.Enum[1].Value != "won" {
		t.Fatalf("status enum %v", status.Enum)
	}
	// The campaign's first status is outside the filter: creates must name one.
	if lc := ch.schema("LeadCreate"); !slices.Contains(lc.Required, "status") {
		t.Fatalf("LeadCreate.required = %v, want status", lc.Required)
	}
	words := "source = Partner ABC (partner-abc)"
	if !bytes.Contains(ch.yaml, []byte("Leads you create must have "+words)) {
		t.Fatalf("the document does not explain the filter:\n%s", ch.yaml)
	}
	var page bytes.Buffer
	if err := d.HTML(&page, "/docs/x"); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{words, "partner-abc", "filled in: &#34;partner-abc&#34;"} {
		if !strings.Contains(page.String(), w) {
			t.Errorf("the page lacks %q", w)
		}
	}
	if strings.Contains(page.String(), "<code>website</code> Website") {
		t.Error("the page offers the website option the filter excludes")
	}
}

// TestNarrowingNeverRefusesWhatTheFilterAllows: for every filter case,
// every probe value the domain's own filter evaluation accepts for a
// field validates against that field's narrowed schema. (The schema may
// say less than the filter, never more.)
func TestNarrowingNeverRefusesWhatTheFilterAllows(t *testing.T) {
	t.Parallel()
	c := campaignA()
	probes := map[string][]any{
		"name":        {"Ada", "Grace", "Ada Lovelace", "xxAD-A.yy", "", "ad-a.", "Bob"},
		"notes":       {"", "Café au lait", "café", "x"},
		"budget":      {0.0, 5.0, 10.0, 10.5, 11.0, 20.0, 99.0, 100.0, 1000.0, -3.0, -4.0, 5000.0, 150.0},
		"vip":         {true, false},
		"callback_on": {"2026-04-01", "2026-01-15", "2027-01-01", "2025-05-05"},
		"met_at":      {"2026-01-01T00:00:00Z", "2025-12-31T23:30:00Z"},
		"email":       {"ada@example.com", "ada@example.org"},
		"phone":       {"+1 555", "+44 20 7946 0958"},
		"website":     {"https://example.org/a", "https://example.com"},
		"source":      {"website", "partner-abc", "partner-xyz"},
		"interests":   {[]string{"solar"}, []string{"battery"}, []string{"solar", "battery"}, []string{"heat-pump"}, []string{}},
		"referrer":    {"1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b", "00000000-0000-4000-8000-000000000000"},
	}
	for name, conds := range filterCases() {
		if conds == nil {
			continue
		}
		f := filter(t, c, conds)
		ch := mustParse(t, name, tokenDoc(c, f, domain.PermRead, domain.PermWrite))
		read, upd := ch.schema("LeadFields"), ch.schema("LeadFieldsUpdate")
		for key, values := range probes {
			fd, _ := c.Schema.Field(key)
			for _, v := range values {
				norm, err := c.Schema.NormalizeValue(key, fd, v)
				if err != nil {
					t.Fatalf("probe %s=%v: %v", key, v, err)
				}
				view := domain.LeadView{Fields: domain.Fields{key: norm}}
				ok := true
				for _, cd := range f.Conditions {
					if cd.Field == key && !domain.EvalCondition(c.Schema, cd, view) {
						ok = false
					}
				}
				if !ok {
					continue
				}
				for sname, s := range map[string]*base.Schema{"LeadFields": read, "LeadFieldsUpdate": upd} {
					if why := validates(ch.sv, s.Properties.GetOrZero(key).Schema(), v); why != "" {
						t.Errorf("%s: the filter allows %s=%v but %s refuses it: %s", name, key, v, sname, why)
					}
				}
			}
		}
	}
}

// TestNoSecretInTheDocuments: the documents show lsk_… as a placeholder,
// never a secret of the format.
func TestNoSecretInTheDocuments(t *testing.T) {
	t.Parallel()
	secret := regexp.MustCompile(`lsk_[0-9A-Za-z]{20,}`)
	c := campaignA()
	for _, d := range []*apidoc.Doc{apidoc.Build(apidoc.Scope{PublicURL: publicURL}), tokenDoc(c, nil, domain.PermRead, domain.PermWrite)} {
		y, _ := d.OpenAPI()
		p, _ := d.Postman()
		var page bytes.Buffer
		_ = d.HTML(&page, "/docs/x")
		for _, out := range [][]byte{y, p, page.Bytes()} {
			if m := secret.Find(out); m != nil {
				t.Fatalf("a secret-like string %q in the documents", m)
			}
		}
	}
}

// TestCommittedSpecIsCurrent: docs/openapi.yaml is the general document
// as generated; refresh it with go test ./api/apidoc -run TestCommittedSpecIsCurrent -update.
func TestCommittedSpecIsCurrent(t *testing.T) {
	t.Parallel()
	got, err := apidoc.Build(apidoc.Scope{PublicURL: apidoc.CommittedSpecURL}).OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	const path = "../../docs/openapi.yaml"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("docs/openapi.yaml is stale: run go test ./api/apidoc -run TestCommittedSpecIsCurrent -update")
	}
}
