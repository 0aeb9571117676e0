package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/api"
	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore/audit"
)

// exportFakes answer one lead of one account.
type exportFakes struct {
	*fakeService
	api.AuditReader // methods not faked panic
	account, lead   uuid.UUID
	history         audit.LeadHistory
	state           audit.LeadState
	deliveries      []commands.WebhookDelivery
}

func (f *exportFakes) LeadHistory(_ context.Context, account, lead uuid.UUID) (audit.LeadHistory, error) {
	if account != f.account || lead != f.lead {
		return audit.LeadHistory{}, domain.ErrLeadNotFound
	}
	return f.history, nil
}

func (f *exportFakes) LeadAt(_ context.Context, account, lead uuid.UUID, at time.Time, version int64) (audit.LeadState, error) {
	if account != f.account || lead != f.lead || !at.IsZero() || version != 0 {
		return audit.LeadState{}, domain.ErrLeadNotFound
	}
	return f.state, nil
}

func (f *exportFakes) LeadDeliveries(_ context.Context, account, lead uuid.UUID) ([]commands.WebhookDelivery, error) {
	if account != f.account || lead != f.lead {
		return nil, nil
	}
	return f.deliveries, nil
}

func TestLeadExportAnswersTheDocument(t *testing.T) {
	t.Parallel()
	s := newFakeService()
	c := s.addCampaign(uuid.New())
	admin := s.addToken(c.AccountID, nil, domain.PermAdmin)
	partner := s.addToken(c.AccountID, &c.ID, domain.PermRead)
	lead, file, hook := uuid.New(), uuid.New(), uuid.New()
	f := &exportFakes{fakeService: s, account: c.AccountID, lead: lead,
		history: audit.LeadHistory{LeadID: lead, CampaignID: c.ID, Version: 1, Integrity: audit.Integrity{Intact: true},
			Data: []audit.Entry{{StreamVersion: 1, Type: "lead.created", Time: s.now, Actor: &audit.Actor{TokenID: "t", Name: "partner"}}}},
		state: audit.LeadState{ID: lead, CampaignID: c.ID, Status: "new", Fields: domain.Fields{"name": "Ada"}, Version: 1,
			Files: []domain.FileMeta{{ID: file, Name: "cv.txt"}}},
		deliveries: []commands.WebhookDelivery{{ID: 7, WebhookID: hook, EventType: "lead.created", LeadID: &lead, LeadVersion: 1, Success: true}}}
	r := chi.NewRouter()
	api.New(api.Config{Commands: s.commands(), Auth: s, Queries: f, Reader: fakeReader{s}, Audit: f, PublicURL: fakePublicURL,
		SecretKey: []byte("fake secret key"), Clock: func() time.Time { return s.now }}).Mount(r)

	w := serve(t, r, http.MethodGet, "/v1/leads/"+lead.String()+"/export", admin, "")
	var got struct {
		LeadID   uuid.UUID `json:"lead_id"`
		Lead     leadOut   `json:"lead"`
		Versions []struct {
			Type  string       `json:"type"`
			Actor *audit.Actor `json:"actor"`
		} `json:"versions"`
		Files []struct {
			URL string `json:"url"`
		} `json:"files"`
		WebhookDeliveries []struct {
			WebhookID   uuid.UUID `json:"webhook_id"`
			ID          string    `json:"id"`
			LeadVersion int64     `json:"lead_version"`
		} `json:"webhook_deliveries"`
	}
	mustAnswer(t, w, http.StatusOK, "application/json", &got)
	if got.LeadID != lead || got.Lead.Fields["name"] != "Ada" || len(got.Versions) != 1 || got.Versions[0].Actor.Name != "partner" {
		t.Fatalf("export = %+v", got)
	}
	if len(got.Files) != 1 || got.Files[0].URL != fakePublicURL+"/v1/leads/"+lead.String()+"/files/"+file.String() {
		t.Fatalf("files = %+v, want the download link", got.Files)
	}
	if len(got.WebhookDeliveries) != 1 || got.WebhookDeliveries[0].WebhookID != hook || got.WebhookDeliveries[0].ID != "7" ||
		got.WebhookDeliveries[0].LeadVersion != 1 {
		t.Fatalf("deliveries = %+v", got.WebhookDeliveries)
	}
	for name, want := range map[string]string{"Cache-Control": "no-store",
		"Content-Disposition": `attachment; filename="lead-` + lead.String() + `.json"`} {
		if got := w.Header().Get(name); got != want {
			t.Fatalf("%s = %q, want %q", name, got, want)
		}
	}

	mustProblem(t, serve(t, r, http.MethodGet, "/v1/leads/"+uuid.NewString()+"/export", admin, ""), http.StatusNotFound, "not-found")
	mustProblem(t, serve(t, r, http.MethodGet, "/v1/leads/"+lead.String()+"/export", partner, ""), http.StatusForbidden, "forbidden")
}
