package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore/audit"
)

// leadExportJSON is everything leadsvc holds about one lead
// (docs/api.md#lead-export): its events from the log with their actors,
// the state they add up to, its files as links and the webhook deliveries
// that carried it.
type leadExportJSON struct {
	LeadID     uuid.UUID `json:"lead_id"`
	CampaignID uuid.UUID `json:"campaign_id"`
	ExportedAt time.Time `json:"exported_at"`
	// Lead is the current state as the log says; null when the log holds
	// no state for it (its events are not lead events this build knows).
	Lead      *leadJSON       `json:"lead"`
	Files     []fileJSON      `json:"files"`
	Versions  []audit.Entry   `json:"versions"`
	Integrity audit.Integrity `json:"integrity"`
	// WebhookDeliveries are the attempts, oldest first, to deliver a
	// message about the lead to any subscription of the account.
	WebhookDeliveries []exportDeliveryJSON `json:"webhook_deliveries"`
}

type exportDeliveryJSON struct {
	WebhookID uuid.UUID `json:"webhook_id"`
	deliveryJSON
}

// exportLead answers GET /v1/leads/{id}/export. Another account's lead is
// 404, as a missing one.
func (a *API) exportLead(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	id, err := PathID(r, "id")
	if err != nil {
		return err
	}
	ctx, account := r.Context(), tokenFrom(r.Context()).AccountID
	h, err := a.audit.LeadHistory(ctx, account, id)
	if err != nil {
		return err
	}
	out := leadExportJSON{LeadID: id, CampaignID: h.CampaignID, ExportedAt: a.now().UTC(), Files: []fileJSON{},
		Versions: h.Data, Integrity: h.Integrity, WebhookDeliveries: []exportDeliveryJSON{}}
	st, err := a.audit.LeadAt(ctx, account, id, time.Time{}, 0)
	switch {
	case err == nil:
		l := a.leadOut(domain.Lead{ID: st.ID, CampaignID: st.CampaignID, Status: st.Status, Fields: st.Fields, Files: st.Files,
			Version: st.Version, CreatedAt: st.CreatedAt, UpdatedAt: st.UpdatedAt})
		out.Lead, out.Files = &l, l.Files
	case !errors.Is(err, audit.ErrBeforeCreation):
		return err
	}
	ds, err := a.q.LeadDeliveries(ctx, account, id)
	if err != nil {
		return err
	}
	for _, d := range ds {
		out.WebhookDeliveries = append(out.WebhookDeliveries, exportDeliveryJSON{WebhookID: d.WebhookID, deliveryJSON: deliveryOut(d)})
	}
	// Personal data: no shared cache keeps it, and browsers save it.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", `attachment; filename="lead-`+id.String()+`.json"`)
	writeJSON(w, http.StatusOK, out)
	return nil
}
