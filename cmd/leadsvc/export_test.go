package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/leadsvc/leadsvc/internal/testenv"
)

// leadExport is the part of GET /v1/leads/{id}/export the test reads.
type leadExport struct {
	LeadID   string `json:"lead_id"`
	Lead     *lead  `json:"lead"`
	Versions []struct {
		StreamVersion int64     `json:"stream_version"`
		EventID       string    `json:"event_id"`
		Type          string    `json:"type"`
		Time          time.Time `json:"time"`
		Actor         *struct {
			TokenID string `json:"token_id"`
			Name    string `json:"name"`
		} `json:"actor"`
		Data map[string]any `json:"data"`
	} `json:"versions"`
	Files []struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	} `json:"files"`
	Integrity struct {
		Intact bool `json:"intact"`
	} `json:"integrity"`
	WebhookDeliveries []struct {
		WebhookID string `json:"webhook_id"`
		EventID   string `json:"event_id"`
		EventType string `json:"event_type"`
		Success   bool   `json:"success"`
	} `json:"webhook_deliveries"`
}

// TestLeadExportHoldsEverything: a lead with updates, a file and a webhook
// delivery exports every version in order with actor and time, its
// current state, a working file link and the delivery; another account's
// admin gets 404 and a partner token 403.
func TestLeadExportHoldsEverything(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, "LEADSVC_WEBHOOKS_ALLOW_PRIVATE", "true")
	s := mustSetup(t, m)
	rcv := newHookReceiver(t)
	hook := str(s.admin.do("POST", "/v1/webhooks", map[string]any{"url": rcv.srv.URL + "/hooks", "campaign_id": s.campaignID,
		"filter_id": s.abc.filterID}).want(201).obj(), "id")

	l, _ := s.abc.rw.mustCreateLead(map[string]any{"fields": map[string]any{"name": "Ada"}})
	s.abc.rw.do("PATCH", "/v1/leads/"+l.ID, map[string]any{"fields": map[string]any{"name": "Ada Lovelace"}}).want(200)
	s.abc.rw.do("PATCH", "/v1/leads/"+l.ID, map[string]any{"status": "contacted"}).want(200)
	s.abc.rw.upload("/v1/leads/"+l.ID+"/files", "file", "cv.txt", "text/plain", []byte("analytical engine")).want(201)
	created, _ := rcv.wait(t, 1)

	var ex leadExport
	testenv.CheckFor(t, 15*time.Second, func() error {
		r := s.admin.do("GET", "/v1/leads/"+l.ID+"/export", nil).want(200).into(&ex)
		if r.Header.Get("Cache-Control") != "no-store" {
			return fmt.Errorf("Cache-Control = %q", r.Header.Get("Cache-Control"))
		}
		if len(ex.WebhookDeliveries) == 0 {
			return fmt.Errorf("no delivery in the export yet")
		}
		return nil
	})
	if ex.LeadID != l.ID || !ex.Integrity.Intact {
		t.Fatalf("export of %s: lead_id %s, integrity %+v", l.ID, ex.LeadID, ex.Integrity)
	}
	wantTypes := []string{"lead.created", "lead.updated", "lead.updated", "lead.file_attached"}
	if len(ex.Versions) != len(wantTypes) {
		t.Fatalf("export has %d versions, want %d: %+v", len(ex.Versions), len(wantTypes), ex.Versions)
	}
	var prev time.Time
	for i, v := range ex.Versions {
		if v.StreamVersion != int64(i+1) || v.Type != wantTypes[i] || v.Time.Before(prev) || v.Time.IsZero() ||
			v.Actor == nil || v.Actor.TokenID != s.abc.rwID || v.Actor.Name != "partner-abc write" || v.EventID == "" || v.Data == nil {
			t.Fatalf("version %d = %+v, want %s by %s in order", i+1, v, wantTypes[i], s.abc.rwID)
		}
		prev = v.Time
	}
	if ex.Lead == nil || ex.Lead.Version != 4 || ex.Lead.Status != "contacted" || ex.Lead.Fields["name"] != "Ada Lovelace" {
		t.Fatalf("export state = %+v", ex.Lead)
	}
	if len(ex.Files) != 1 {
		t.Fatalf("export files = %+v, want one", ex.Files)
	}
	if got := s.abc.ro.do("GET", urlPath(t, ex.Files[0].URL), nil).want(200); string(got.Body) != "analytical engine" {
		t.Fatalf("file link gave %q", got.Body)
	}
	d := ex.WebhookDeliveries[0]
	if d.WebhookID != hook || d.EventID != str(created, "id") || d.EventType != "lead.created" || d.EventID != ex.Versions[0].EventID {
		t.Fatalf("first delivery = %+v, want the lead.created %s to %s", d, str(created, "id"), hook)
	}

	other := mustAccount(t, m, "Other")
	other.do("GET", "/v1/leads/"+l.ID+"/export", nil).problem(404)
	s.abc.rw.do("GET", "/v1/leads/"+l.ID+"/export", nil).problem(403)
}
