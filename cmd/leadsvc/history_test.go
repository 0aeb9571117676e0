package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/leadsvc/leadsvc/eventstore/audit"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// TestHistoryAndAuditVerifyCommands reads the demo's history as an
// auditor at the command line, then edits an event by hand: audit verify
// names the stream and exits 1.
func TestHistoryAndAuditVerifyCommands(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	if code, _, errOut := runCLI(t, env, "demo"); code != 0 {
		t.Fatalf("demo: exit %d: %s", code, errOut)
	}
	pool := testenv.Pool(t, env("DATABASE_URL"))
	ctx := context.Background()
	var leadID, tokenID string
	if err := pool.QueryRow(ctx, `SELECT substr(stream_id, 6) FROM events WHERE event_type = 'lead.created'
		AND data->'fields'->>'source' = 'partner-abc' ORDER BY position LIMIT 1`).Scan(&leadID); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT substr(stream_id, 7) FROM events WHERE event_type = 'token.created'
		AND data->>'name' = 'Partner ABC – read only'`).Scan(&tokenID); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runCLI(t, env, "history", "lead", leadID)
	if code != 0 || !strings.Contains(out, "hash chain intact") || !strings.Contains(out, "lead.created") ||
		!strings.Contains(out, "fields.source: ∅ → \"partner-abc\"") {
		t.Fatalf("history lead: exit %d, stdout:\n%s\nstderr: %s", code, out, errOut)
	}
	mustFitWidth(t, out)
	if code, out, _ := runCLI(t, env, "history", "lead", leadID, "--wide"); code != 0 || !strings.Contains(out, "POSITION") ||
		!strings.Contains(out, "fields.source: ∅ → \"partner-abc\"") {
		t.Fatalf("history lead --wide: exit %d:\n%s", code, out)
	}
	if code, _, _ := runCLI(t, env, "history", "lead", leadID, "--wide", "--json"); code != 2 {
		t.Fatalf("history lead --wide --json: exit %d, want 2", code)
	}
	if code, out, _ := runCLI(t, env, "history", "lead", "--at", "2001-01-01", leadID); code != 0 || !strings.Contains(out, "did not exist yet") {
		t.Fatalf("history lead --at before its creation: exit %d:\n%s", code, out)
	}
	code, out, errOut = runCLI(t, env, "history", "lead", leadID, "--json")
	var lead struct {
		Lead struct {
			Status string `json:"status"`
		} `json:"lead"`
		History struct {
			Data []struct {
				Type string `json:"type"`
			} `json:"data"`
		} `json:"history"`
	}
	if err := json.Unmarshal([]byte(out), &lead); code != 0 || err != nil || lead.Lead.Status == "" || len(lead.History.Data) == 0 {
		t.Fatalf("history lead --json: exit %d, %v:\n%s\n%s", code, err, out, errOut)
	}

	now := time.Now().UTC().Format(time.RFC3339Nano)
	code, out, errOut = runCLI(t, env, "history", "token", tokenID, "--at", now, "--json")
	var tok struct {
		History struct {
			Token struct {
				State string `json:"state"`
			} `json:"token"`
			Data []struct {
				Kind string `json:"kind"`
				Type string `json:"type"`
			} `json:"data"`
		} `json:"history"`
		Visible struct {
			State string   `json:"state"`
			Data  []string `json:"data"`
		} `json:"visible_leads"`
	}
	if err := json.Unmarshal([]byte(out), &tok); code != 0 || err != nil {
		t.Fatalf("history token --json: exit %d, %v:\n%s\n%s", code, err, out, errOut)
	}
	if tok.History.Token.State != "active" || len(tok.History.Data) != 1 || tok.History.Data[0].Type != "token.created" ||
		tok.Visible.State != "active" || len(tok.Visible.Data) != 2 {
		t.Fatalf("history token: %+v; want the token's creation and the two partner-abc leads visible", tok)
	}
	if code, out, _ := runCLI(t, env, "history", "token", tokenID, "--at", now); code != 0 ||
		!strings.Contains(out, "visible at "+now) || !strings.Contains(out, ": 2 leads (active)") {
		t.Fatalf("history token --at: exit %d:\n%s", code, out)
	} else {
		mustFitWidth(t, out)
	}

	code, out, errOut = runCLI(t, env, "audit", "verify")
	if code != 0 || !strings.Contains(out, ", 0 broken streams") || !strings.Contains(errOut, "events/s") {
		t.Fatalf("audit verify: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, err := pool.Exec(ctx, `UPDATE events SET data = jsonb_set(data, '{fields,name}', '"Someone else"')
		WHERE stream_id = $1 AND stream_version = 1`, "lead-"+leadID); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, env, "audit", "verify")
	if code != 1 || !strings.Contains(out, "lead-"+leadID) || !strings.Contains(out, "hash does not match") || !strings.Contains(out, ", 1 broken streams") {
		t.Fatalf("audit verify after a hand edit: exit %d, stdout %q; want exit 1 naming lead-%s", code, out, leadID)
	}
	if code, out, _ := runCLI(t, env, "history", "lead", leadID); code != 0 || !strings.Contains(out, "HASH CHAIN BROKEN at version 1") {
		t.Fatalf("history of the edited lead: exit %d:\n%s", code, out)
	}

	for _, args := range [][]string{{"history"}, {"history", "lead"}, {"history", "lead", "nope"}, {"history", "account", leadID},
		{"history", "lead", leadID, "--at", "soon"}, {"history", "lead", leadID, leadID}, {"audit"}, {"audit", "frob"}} {
		if code, _, errOut := runCLI(t, env, args...); code != 2 || errOut == "" {
			t.Errorf("leadsvc %v: exit %d, stderr %q; want 2 with a message", args, code, errOut)
		}
	}
	if code, _, errOut := runCLI(t, env, "history", "lead", "00000000-0000-0000-0000-000000000001"); code != 1 || !strings.Contains(errOut, "no lead") {
		t.Errorf("history of a missing lead: exit %d, %q", code, errOut)
	}
}

func mustFitWidth(t *testing.T, out string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(l); n > historyWidth {
			t.Fatalf("a line of %d columns, more than %d:\n%s\n\nin:\n%s", n, historyWidth, l, out)
		}
	}
}

// TestHistoryBlocksFitAndTellTimesApart: long names and values wrap or
// are cut to the width, and two events a microsecond apart print
// different times.
func TestHistoryBlocksFitAndTellTimesApart(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 4, 12, 27, 27, 100_000, time.UTC)
	long := strings.Repeat("very long words ", 12)
	entries := []audit.Entry{
		{Position: 41, StreamVersion: 1, StreamID: "lead-x", Type: "lead.created", Time: at, RequestID: strings.Repeat("r", 120),
			Actor: &audit.Actor{TokenID: "6a72e1cd-60fe-47a4-85f1-a32f7e516bba", Name: strings.Repeat("Partner name ", 6)},
			Changes: []audit.Change{{Field: "fields.notes", Before: long, After: long + "and more"},
				{Field: "fields." + strings.Repeat("k", 90), After: "v"}}},
		{Position: 42, StreamVersion: 2, StreamID: "lead-x", Type: "lead.status_changed", Time: at.Add(time.Microsecond),
			Changes: []audit.Change{{Field: "status", Before: "new", After: "contacted"}}},
	}
	for _, token := range []bool{false, true} {
		var b strings.Builder
		if err := entriesBlocks(&b, entries, token); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		mustFitWidth(t, out)
		if !strings.Contains(out, "12:27:27.000100Z") || !strings.Contains(out, "12:27:27.000101Z") {
			t.Fatalf("times a microsecond apart are not told apart:\n%s", out)
		}
		if !strings.Contains(out, `status: "new" → "contacted"`) || !strings.Contains(out, "→ \"very long words") {
			t.Fatalf("changes missing:\n%s", out)
		}
	}
	if got := timeLayout(entries[:1]); got != "2006-01-02T15:04:05.000Z07:00" {
		t.Errorf("one entry's layout = %q, want milliseconds", got)
	}
}
