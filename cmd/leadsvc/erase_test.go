package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/internal/testenv"
)

// everyFieldType is a campaign with a field of every type a lead's
// personal values can be in, and choices that are not personal.
var everyFieldType = map[string]any{
	"name": "Erasable",
	"fields": []map[string]any{
		{"key": "name", "label": "Name", "type": "text", "required": true},
		{"key": "notes", "label": "Notes", "type": "textarea"},
		{"key": "email", "label": "Email", "type": "email"},
		{"key": "phone", "label": "Phone", "type": "phone"},
		{"key": "site", "label": "Site", "type": "url"},
		{"key": "nickname", "label": "Nickname", "type": "text", "personal": true},
		{"key": "budget", "label": "Budget", "type": "number"},
		{"key": "consent", "label": "Consent", "type": "boolean"},
		{"key": "callback_on", "label": "Call back on", "type": "date"},
		{"key": "source", "label": "Source", "type": "select", "select": "source"},
		{"key": "interests", "label": "Interests", "type": "multiselect", "select": "interests"},
	},
	"selects": []map[string]any{
		{"key": "source", "label": "Source", "options": []map[string]any{{"value": "website", "label": "Website"}}},
		{"key": "interests", "label": "Interests", "options": []map[string]any{{"value": "solar", "label": "Solar"}}},
	},
	"statuses": []map[string]any{{"slug": "new", "label": "New"}, {"slug": "won", "label": "Won"}},
}

// dumpSchema is pg_dump's data-only dump of the service's schema.
func dumpSchema(t *testing.T, m *Main) string {
	t.Helper()
	u, err := url.Parse(m.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	schema := q.Get("search_path")
	q.Del("search_path") // pgx's, not libpq's
	u.RawQuery = q.Encode()
	pgDump := "pg_dump"
	if p, err := exec.LookPath(pgDump); err != nil || p == "" {
		pgDump = "/usr/lib/postgresql/15/bin/pg_dump"
	}
	out, err := exec.Command(pgDump, "--schema="+schema, "--data-only", u.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_dump: %v: %s", err, out)
	}
	return string(out)
}

// cliEnv is the environment that runs the CLI against m's database.
func cliEnv(m *Main) func(string) string {
	return func(k string) string {
		switch k {
		case "DATABASE_URL":
			return m.Config.DatabaseURL
		case "LEADSVC_DATA_DIR":
			return m.Config.DataDir
		case "LEADSVC_LOG_LEVEL":
			return "warn"
		}
		return ""
	}
}

// TestEraseALeadEverywhereLeadsvcKeepsIt erases a lead with personal
// values in every field type, three updates, a file, a webhook delivery
// and an idempotent create. A lead written before erasure existed takes
// the same path: its events have the same shape (lead events did not
// change, and a field created without "personal" is stored as before and
// takes its type's default), as eventstore's erasure tests, which append
// such events directly, show too.
func TestEraseALeadEverywhereLeadsvcKeepsIt(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, "LEADSVC_WEBHOOKS_ALLOW_PRIVATE", "true", "LEADSVC_RATE_LIMIT", "100000")
	admin := contractChecked(t, m, mustAccount(t, m, "Acme"))
	campaign := admin.do("POST", "/v1/campaigns", everyFieldType).want(201).obj()
	campaignID := str(campaign, "id")
	for _, f := range campaign["fields"].([]any) {
		f := f.(map[string]any)
		want := map[string]bool{"name": true, "notes": true, "email": true, "phone": true, "site": true, "nickname": true}[str(f, "key")]
		if f["personal"] != want {
			t.Fatalf("field %v: personal, want %v", f, want)
		}
	}
	// The admin says a date is personal too: a field_changed event.
	changed := admin.do("PATCH", "/v1/campaigns/"+campaignID+"/fields/callback_on", map[string]any{"personal": true}).want(200).obj()
	for _, f := range changed["fields"].([]any) {
		if f := f.(map[string]any); str(f, "key") == "callback_on" && f["personal"] != true {
			t.Fatalf("callback_on after the change: %v", f)
		}
	}
	rcv := newHookReceiver(t)
	admin.do("POST", "/v1/webhooks", map[string]any{"url": rcv.srv.URL + "/hooks", "campaign_id": campaignID}).want(201)

	tag := strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	personal := map[string]string{
		"name": "Ada-" + tag, "email": "ada." + tag + "@example.com", "phone": "+49151" + fmt.Sprint(time.Now().UnixNano()%1e7+1e7),
		"site": "https://ada-" + tag + ".example.org/me", "nickname": "Countess-" + tag,
	}
	create := map[string]any{"campaign_id": campaignID, "fields": map[string]any{
		"name": personal["name"], "email": personal["email"], "phone": personal["phone"], "site": personal["site"],
		"nickname": personal["nickname"], "budget": 1200, "consent": true, "callback_on": "2026-05-01",
		"source": "website", "interests": []string{"solar"}}}
	var ada lead
	admin.do("POST", "/v1/leads", create, "Idempotency-Key", "create-ada").want(201).into(&ada)
	updates := []map[string]any{
		{"fields": map[string]any{"notes": "Notes-" + tag + " call after five"}},
		{"fields": map[string]any{"name": personal["name"] + "-Byron"}},
		{"status": "won"},
	}
	personal["notes"] = "Notes-" + tag
	for _, u := range updates {
		admin.do("PATCH", "/v1/leads/"+ada.ID, u).want(200)
	}
	fileName, content := "passport-"+tag+".pdf", []byte("PDF-BYTES-"+tag)
	admin.upload("/v1/leads/"+ada.ID+"/files", "file", fileName, "application/pdf", content).want(201)
	personal["file name"] = fileName
	personal["file bytes (hex)"] = hex.EncodeToString(content)
	var bob lead
	admin.do("POST", "/v1/leads", map[string]any{"campaign_id": campaignID, "fields": map[string]any{"name": "Bob-" + tag, "source": "website"}}).
		want(201).into(&bob)
	rcv.wait(t, 1) // a delivery of the lead's is in the log

	var erased map[string]any
	admin.do("POST", "/v1/leads/"+ada.ID+"/erase", map[string]any{"reason": "the person asked"}).want(200).into(&erased)
	if fmt.Sprint(erased["fields"]) != "[callback_on email name nickname notes phone site]" {
		t.Fatalf("erased fields %v", erased["fields"])
	}
	if erased["chain_intact"] != true || erased["rows"] != 4.0 || str(erased, "lead_id") != ada.ID {
		// created, the notes, the name and the file: the status change holds nothing personal
		t.Fatalf("erasure %v", erased)
	}

	// Reads and writes answer 410; lists leave it out.
	if p := admin.do("GET", "/v1/leads/"+ada.ID, nil).problem(410); !strings.Contains(p.Detail, "erased at") {
		t.Fatalf("GET erased lead: %+v", p)
	}
	admin.do("PATCH", "/v1/leads/"+ada.ID, map[string]any{"fields": map[string]any{"name": "back"}}).problem(410)
	admin.do("POST", "/v1/leads/"+ada.ID+"/erase", map[string]any{"reason": "again"}).problem(410)
	admin.do("POST", "/v1/leads", create, "Idempotency-Key", "create-ada").problem(410)
	// A partner whose filter the erased lead met (on what is left of it)
	// is told it was erased; one whose filter it did not meet still gets
	// 404, exactly as for a lead that never existed.
	for i, tc := range []struct {
		cond   map[string]any
		status int
	}{
		{map[string]any{"field": "source", "op": "eq", "value": "website"}, 410},
		{map[string]any{"field": "budget", "op": "gte", "value": 5000}, 404},
	} {
		fid := str(admin.do("POST", "/v1/campaigns/"+campaignID+"/filters", map[string]any{"name": fmt.Sprint("f", i),
			"conditions": []map[string]any{tc.cond}}).want(201).obj(), "id")
		tok := admin.do("POST", "/v1/tokens", map[string]any{"name": fmt.Sprint("partner ", i), "campaign_id": campaignID,
			"filter_id": fid, "permissions": []string{"read", "write"}}).want(201).obj()
		partner := admin.as(str(tok, "secret"))
		partner.do("GET", "/v1/leads/"+ada.ID, nil).problem(tc.status)
		partner.do("PATCH", "/v1/leads/"+ada.ID, map[string]any{"status": "new"}).problem(tc.status)
	}
	var page leadPage
	admin.do("GET", "/v1/leads?campaign_id="+campaignID, nil).want(200).into(&page)
	if len(page.Data) != 1 || page.Data[0].ID != bob.ID {
		t.Fatalf("list after erasure: %+v", page.Data)
	}
	admin.do("POST", "/v1/leads/"+ada.ID+"/erase", map[string]any{"reason": ""}).problem(410) // erased first, then the reason

	// The audit history still has every event, who and when, with markers.
	var hist struct {
		Data []struct {
			Type  string         `json:"type"`
			Time  string         `json:"time"`
			Actor map[string]any `json:"actor"`
		} `json:"data"`
		Integrity integrity `json:"integrity"`
	}
	h := admin.do("GET", "/v1/audit/leads/"+ada.ID+"/events", nil).want(200).into(&hist)
	wantTypes := []string{"lead.created", "lead.updated", "lead.updated", "lead.updated", "lead.file_attached", "lead.erased"}
	if len(hist.Data) != len(wantTypes) || !hist.Integrity.Intact {
		t.Fatalf("history after erasure: %+v", hist)
	}
	for i, e := range hist.Data {
		if e.Type != wantTypes[i] || e.Time == "" || e.Actor == nil {
			t.Fatalf("history entry %d: %+v, want %s with actor and time", i, e, wantTypes[i])
		}
	}
	if !strings.Contains(string(h.Body), "[erased]") || !strings.Contains(string(h.Body), "website") || !strings.Contains(string(h.Body), "won") {
		t.Fatalf("history body lost the markers or the choices: %s", h.Body)
	}
	var v integrity
	admin.do("GET", "/v1/audit/leads/"+ada.ID+"/verify", nil).want(200).into(&v)
	if !v.Intact {
		t.Fatalf("verify after erasure: %+v", v)
	}

	// Nothing of the person is left in the database, once the
	// projections have applied lead.erased.
	testenv.CheckFor(t, 30*time.Second, func() error {
		dump := dumpSchema(t, m)
		for what, value := range personal {
			if strings.Contains(dump, value) {
				return fmt.Errorf("the dump still holds the %s %q", what, value)
			}
		}
		if !strings.Contains(dump, "Bob-"+tag) {
			return fmt.Errorf("the dump lost the other lead")
		}
		return nil
	})
	for _, h := range []string{"/v1/audit/leads/" + ada.ID + "/events", "/v1/webhooks"} {
		body := string(admin.do("GET", h, nil).want(200).Body)
		for what, value := range personal {
			if strings.Contains(body, value) {
				t.Fatalf("GET %s shows the %s", h, what)
			}
		}
	}

	// The views agree with the log, and the log verifies.
	env := cliEnv(m)
	if code, out, errOut := runCLI(t, env, "verify", "--projection", "lead_views"); code != 0 || !strings.Contains(out, " 0 differences") {
		t.Fatalf("verify after erasure: exit %d, %q, %q", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, env, "audit", "verify"); code != 0 || !strings.Contains(out, " 0 broken streams") {
		t.Fatalf("audit verify after erasure: exit %d, %q, %q", code, out, errOut)
	}

	// A hand edit, of the erased lead's scrubbed row and of another
	// lead's row, is found.
	for _, id := range []string{ada.ID, bob.ID} {
		if _, err := m.Pool.Exec(context.Background(), `UPDATE events SET data = jsonb_set(data, '{fields,budget}', '99')
			WHERE stream_id = $1 AND stream_version = 1`, "lead-"+id); err != nil {
			t.Fatal(err)
		}
	}
	admin.do("GET", "/v1/audit/leads/"+ada.ID+"/verify", nil).want(200).into(&v)
	if v.Intact || v.FirstBreak == nil || v.FirstBreak.StreamVersion != 1 {
		t.Fatalf("verify after editing the erased row: %+v", v)
	}
	code, out, _ := runCLI(t, env, "audit", "verify")
	if code != 1 || !strings.Contains(out, " 2 broken streams") || !strings.Contains(out, ada.ID) || !strings.Contains(out, bob.ID) {
		t.Fatalf("audit verify after hand edits: exit %d, %q", code, out)
	}
}
