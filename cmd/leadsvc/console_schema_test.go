package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leadsvc/leadsvc/internal/testenv"
)

// TestConsoleChangesTheSchemaInPlace renames and retires an option, moves,
// relabels and retires a field, and renames and retires a status from the
// campaign page, as an admin would; a form shown before another change is
// refused rather than overwriting it.
func TestConsoleChangesTheSchemaInPlace(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	admin := mustAccount(t, m, "Acme")
	s := mustSignIn(t, m, admin.token)
	var camp struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
		Fields  []struct {
			Key, Label        string
			Required, Retired bool
		} `json:"fields"`
		Selects []struct {
			Options []struct {
				Value, Label string
				Retired      bool
			}
		} `json:"selects"`
		Statuses []struct {
			Slug, Label string
			Retired     bool
		} `json:"statuses"`
	}
	admin.do("POST", "/v1/campaigns", campaignBody).want(201).into(&camp)
	admin.do("POST", "/v1/campaigns/"+camp.ID+"/selects/source/options", map[string]any{"value": "partner-abc", "label": "Partner ABC"}).want(201)
	page := "/campaigns/" + camp.ID
	reload := func() {
		t.Helper()
		admin.do(http.MethodGet, "/v1/campaigns/"+camp.ID, nil).want(http.StatusOK).into(&camp)
	}
	reload()
	if p := s.get(page).want(http.StatusOK); !p.contains(`action="/console/campaigns/`+camp.ID+`/selects/source/options/partner-abc"`) ||
		!p.contains("Retire Partner ABC") || !p.contains(`name="position"`) {
		t.Fatalf("the campaign page has no change forms:\n%s", p.Body)
	}
	v := func() string { return strconv.Itoa(camp.Version) }

	s.post(page+"/selects/source/options/partner-abc", url.Values{"version": {v()}, "label": {"Partner ABC Ltd"}}).
		wantRedirect("/console" + page + "?notice=option_changed")
	stale := v()
	reload()
	s.post(page+"/selects/source/options/partner-abc", url.Values{"version": {v()}, "retired": {"true"}}).wantRedirect("/console" + page)
	// The form shown before the last change is refused.
	if p := s.post(page+"/selects/source/options/partner-abc", url.Values{"version": {stale}, "label": {"Overwritten"}}).want(http.StatusConflict); !p.contains("Someone changed this at the same time") {
		t.Fatalf("a stale form:\n%s", p.Body)
	}
	reload()
	if o := camp.Selects[0].Options[1]; o.Label != "Partner ABC Ltd" || !o.Retired {
		t.Fatalf("the option after rename and retirement: %+v", o)
	}
	if p := s.get(page).want(http.StatusOK); !p.contains("Restore Partner ABC Ltd") || !p.contains(`class="badge">retired`) {
		t.Fatalf("the page does not show the option retired:\n%s", p.Body)
	}

	s.post(page+"/fields/budget", url.Values{"version": {v()}, "required_shown": {"1"}, "label": {"Budget (EUR)"}, "position": {"1"}}).
		wantRedirect("/console" + page + "?notice=field_changed")
	reload()
	s.post(page+"/fields/name", url.Values{"version": {v()}, "retired": {"true"}}).wantRedirect("/console" + page)
	reload()
	if f := camp.Fields[0]; f.Key != "budget" || f.Label != "Budget (EUR)" {
		t.Fatalf("fields after the move: %+v", camp.Fields)
	}
	if f := camp.Fields[1]; f.Key != "name" || !f.Retired || f.Required {
		t.Fatalf("the retired field: %+v", f)
	}
	if p := s.post(page+"/fields/email", url.Values{"version": {v()}, "position": {"99"}}).want(http.StatusUnprocessableEntity); !p.contains(`id="f-field-email-position-err"`) {
		t.Fatalf("a bad position is not shown at its input:\n%s", p.Body)
	}

	s.post(page+"/statuses/contacted", url.Values{"version": {v()}, "label": {"Reached"}}).wantRedirect("/console" + page + "?notice=status_changed")
	reload()
	s.post(page+"/statuses/contacted", url.Values{"version": {v()}, "retired": {"true"}}).wantRedirect("/console" + page)
	reload()
	if st := camp.Statuses[1]; st.Label != "Reached" || !st.Retired {
		t.Fatalf("the status after rename and retirement: %+v", st)
	}
}

// TestConsoleEditsAToken changes a partner token's name, access, filter
// and expiry from its form, filled in with what the token is; an edit
// from a form shown before another change is refused.
func TestConsoleEditsAToken(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	st := mustSetup(t, m)
	s := mustSignIn(t, m, st.admin.token)
	form := s.get("/tokens/" + st.abc.roID + "/edit").want(http.StatusOK)
	if !form.contains(`value="partner-abc read"`) || !form.contains(`<option value="`+st.abc.filterID+`" selected>`) ||
		!form.contains(`value="read" checked`) || !form.contains("Save token") {
		t.Fatalf("the edit form is not filled in with the token:\n%s", form.Body)
	}
	var tok struct {
		Name        string   `json:"name"`
		Permissions []string `json:"permissions"`
		FilterID    *string  `json:"filter_id"`
		ExpiresAt   *string  `json:"expires_at"`
		Version     int      `json:"version"`
	}
	st.admin.do("GET", "/v1/tokens/"+st.abc.roID, nil).want(200).into(&tok)
	v := strconv.Itoa(tok.Version)
	s.post("/tokens/"+st.abc.roID, url.Values{"version": {v}, "name": {"Partner ABC – all leads"}, "access": {"read_write"},
		"filter_id": {"all"}, "expires_at": {"2099-01-01T10:00"}}).wantRedirect("/console/campaigns/" + st.campaignID + "/tokens?notice=token_saved")
	st.admin.do("GET", "/v1/tokens/"+st.abc.roID, nil).want(200).into(&tok)
	if tok.Name != "Partner ABC – all leads" || len(tok.Permissions) != 2 || tok.FilterID != nil || tok.ExpiresAt == nil ||
		!strings.HasPrefix(*tok.ExpiresAt, "2099-01-01T10:00") {
		t.Fatalf("the token after the edit: %+v", tok)
	}
	if p := s.post("/tokens/"+st.abc.roID, url.Values{"version": {v}, "name": {"Stale"}, "access": {"read"}, "filter_id": {"all"}}).want(http.StatusConflict); !p.contains("Someone changed this at the same time") {
		t.Fatalf("a stale edit:\n%s", p.Body)
	}
	if p := s.post("/tokens/"+st.abc.roID, url.Values{"version": {strconv.Itoa(tok.Version)}, "name": {""}, "access": {"read"}, "filter_id": {"all"}}).
		want(http.StatusUnprocessableEntity); !p.contains(`id="f-name-err"`) {
		t.Fatalf("an empty name is not shown at its input:\n%s", p.Body)
	}
}

// TestATokenShownKeepsItsETagCurrent: Show appends token.revealed; the
// token's ETag follows, so an If-Match taken after a Show still matches.
func TestATokenShownKeepsItsETagCurrent(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	st := mustSetup(t, m)
	st.admin.do("POST", "/v1/tokens/"+st.abc.roID+"/reveal", nil).want(200)
	etag := st.admin.do("GET", "/v1/tokens/"+st.abc.roID, nil).want(200).Header.Get("ETag")
	st.admin.do("PATCH", "/v1/tokens/"+st.abc.roID, map[string]any{"name": "Renamed after a Show"}, "If-Match", etag).want(200)
}

// TestConsoleHistoryIsInWords: a lead's history names what happened, the
// fields by their labels, statuses by theirs and files by name, type and
// size, not by their records.
func TestConsoleHistoryIsInWords(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	st := mustSetup(t, m)
	s := mustSignIn(t, m, st.admin.token)
	lead := str(st.abc.rw.do("POST", "/v1/leads", map[string]any{"fields": map[string]any{"name": "Ada", "source": "partner-abc"}}).want(201).obj(), "id")
	st.abc.rw.do("PATCH", "/v1/leads/"+lead, map[string]any{"status": "contacted", "fields": map[string]any{"budget": 1000}}).want(200)
	st.abc.rw.upload("/v1/leads/"+lead+"/files", "file", "note.txt", "text/plain", []byte("hello")).want(201)
	var p consolePage
	testenv.CheckFor(t, 10*time.Second, func() error { // the lead page reads the views
		if p = s.get("/leads/" + lead); p.Status != http.StatusOK || !p.contains("File attached") {
			return fmt.Errorf("the lead page: %d", p.Status)
		}
		return nil
	})
	for _, want := range []string{"<strong>Created</strong>", "<strong>Changed</strong>", "<strong>File attached</strong>",
		"Status: New → Contacted", "Budget: <span class=\"hint\">(none)</span> → 1000", "note.txt (text/plain, 5 bytes)"} {
		if !p.contains(want) {
			t.Errorf("the history lacks %q", want)
		}
	}
	// The history only: the files section, read from the views, shows a
	// file's digest on purpose once the views have the file.
	_, history, _ := strings.Cut(p.Body, `id="history-h"`)
	if history == "" || strings.Contains(history, "sha256") || strings.Contains(history, "{") {
		t.Errorf("the history shows a file's record:\n%s", p.Body)
	}
}

// TestConsoleLeadsByStatusWithChosenColumns lists a campaign's leads of
// one status, with the columns the admin chose, and pages keep both.
func TestConsoleLeadsByStatusWithChosenColumns(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	st := mustSetup(t, m)
	s := mustSignIn(t, m, st.admin.token)
	won := str(st.abc.rw.do("POST", "/v1/leads", map[string]any{"status": "won", "fields": map[string]any{"name": "Ada", "source": "partner-abc", "budget": 7}}).want(201).obj(), "id")
	other := str(st.abc.rw.do("POST", "/v1/leads", map[string]any{"fields": map[string]any{"name": "Bo", "source": "partner-abc"}}).want(201).obj(), "id")
	page := "/campaigns/" + st.campaignID + "/leads"
	var p consolePage
	testenv.CheckFor(t, 10*time.Second, func() error {
		if p = s.get(page + "?status=won&cols=budget"); !p.contains(won[:8]) {
			return fmt.Errorf("the won lead is not listed yet")
		}
		return nil
	})
	if p.contains(other[:8]) {
		t.Errorf("a lead of another status is listed")
	}
	if !p.contains(`<span class="k">Budget:</span> 7`) || p.contains(`<span class="k">Name:</span>`) {
		t.Errorf("the chosen column is not the one shown:\n%s", p.Body)
	}
	if !p.contains(`<option value="won" selected>`) || !p.contains(`name="cols" value="budget" checked`) {
		t.Errorf("the choices are not kept in the form:\n%s", p.Body)
	}
	// A later page links back to the first with the same choices.
	later := s.get(page + "?status=won&cols=budget&after=1_" + won).want(http.StatusOK)
	if !later.contains(`href="?cols=budget&amp;status=won">First page</a>`) {
		t.Errorf("the pager does not keep the choices:\n%s", later.Body)
	}
}
