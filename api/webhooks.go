package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/queries"
)

// webhookRoutes are the webhook subscription routes (docs/webhooks.md): an
// account-level token with the admin permission manages them.
func (a *API) webhookRoutes(r chi.Router) {
	r.Use(a.require(domain.PermAdmin))
	r.Post("/webhooks", a.h(a.createWebhook))
	r.Get("/webhooks", a.h(a.listWebhooks))
	r.Get("/webhooks/{id}", a.h(a.getWebhook))
	r.Patch("/webhooks/{id}", a.h(a.updateWebhook))
	r.Delete("/webhooks/{id}", a.h(a.deleteWebhook))
	r.Get("/webhooks/{id}/deliveries", a.h(a.listWebhookDeliveries))
	r.Post("/webhooks/{id}/rotate-secret", a.h(a.rotateWebhookSecret))
	r.Post("/webhooks/{id}/redeliver", a.h(a.redeliverWebhook))
	r.Post("/webhooks/{id}/test", a.h(a.testWebhook))
}

type webhookJSON struct {
	ID         uuid.UUID  `json:"id"`
	CampaignID uuid.UUID  `json:"campaign_id"`
	FilterID   *uuid.UUID `json:"filter_id"`
	URL        string     `json:"url"`
	// EventTypes is empty when the subscription takes every type.
	EventTypes               []string   `json:"event_types"`
	Enabled                  bool       `json:"enabled"`
	DisabledAt               *time.Time `json:"disabled_at"`
	DisabledReason           *string    `json:"disabled_reason"`
	DisabledDetail           *string    `json:"disabled_detail"`
	FailingSince             *time.Time `json:"failing_since"`
	PreviousSecretValidUntil *time.Time `json:"previous_secret_valid_until"`
	CreatedAt                time.Time  `json:"created_at"`
	UpdatedAt                time.Time  `json:"updated_at"`
	Version                  int64      `json:"version"`
	// Secret is only in the answers of create and rotate-secret
	// (secretMember).
	Secret         json.RawMessage `json:"secret,omitempty"`
	SecretWithheld string          `json:"secret_withheld,omitempty"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func webhookOut(w commands.WebhookInfo) webhookJSON {
	return webhookJSON{ID: w.ID, CampaignID: w.CampaignID, FilterID: w.FilterID, URL: w.URL, EventTypes: nonNil(w.EventTypes),
		Enabled: w.DisabledAt == nil, DisabledAt: w.DisabledAt, DisabledReason: optional(w.DisabledReason),
		DisabledDetail: optional(w.DisabledDetail), FailingSince: w.FailingSince, PreviousSecretValidUntil: w.PreviousValidUntil,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, Version: w.Version}
}

func writeWebhook(w http.ResponseWriter, status int, wr commands.Written, info commands.WebhookInfo) {
	w.Header().Set("ETag", etag(info.Version))
	writeWritten(w, status, wr, webhookOut(info))
}

// writeWebhookSecret answers a write that made a signing secret; a replay
// that may not show it answers "secret": null and secret_withheld.
func writeWebhookSecret(w http.ResponseWriter, status int, res commands.WebhookSecretResult) {
	out := webhookOut(res.Webhook)
	out.Secret, out.SecretWithheld = secretMember(res.Secret, res.Withheld), res.Withheld
	w.Header().Set("ETag", etag(res.Webhook.Version))
	writeWritten(w, status, res.Written, out)
}

func (a *API) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		URL        string   `json:"url"`
		CampaignID *string  `json:"campaign_id"`
		FilterID   *string  `json:"filter_id"`
		EventTypes []string `json:"event_types"`
	}
	_, idem, err := readWrite(w, r, &in, false)
	if err != nil {
		return err
	}
	v := &domain.ValidationError{}
	campaign := parseUUIDField(v, "campaign_id", in.CampaignID)
	if in.CampaignID == nil {
		v.Add("campaign_id", domain.CodeRequired, "a webhook subscribes to one campaign")
	}
	cmd := commands.CreateWebhook{AccountID: tokenFrom(r.Context()).AccountID, FilterID: parseUUIDField(v, "filter_id", in.FilterID),
		URL: in.URL, EventTypes: in.EventTypes, Meta: meta(r), Idem: idem}
	if err := v.Err(); err != nil {
		return err
	}
	cmd.CampaignID = *campaign
	res, err := a.cmd.CreateWebhook.Handle(r.Context(), cmd)
	if err != nil {
		return err
	}
	w.Header().Set("Location", a.publicURL+"/v1/webhooks/"+res.Webhook.ID.String())
	writeWebhookSecret(w, http.StatusCreated, res)
	return nil
}

func (a *API) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	campaign, err := campaignParam(r)
	if err != nil {
		return err
	}
	hooks, err := a.q.ListWebhooks(r.Context(), tokenFrom(r.Context()).AccountID, campaign)
	if err != nil {
		return err
	}
	out := page[webhookJSON]{Data: []webhookJSON{}}
	for _, h := range hooks {
		out.Data = append(out.Data, webhookOut(h))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getWebhook(w http.ResponseWriter, r *http.Request) error {
	h, err := byPath(r, a.q.Webhook)
	if err != nil {
		return err
	}
	writeWebhook(w, http.StatusOK, commands.Written{}, h)
	return nil
}

// updateWebhook changes url, filter_id (null clears it), event_types (null
// or [] takes every type) and enabled.
func (a *API) updateWebhook(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		URL        *string  `json:"url"`
		FilterID   *string  `json:"filter_id"`
		EventTypes []string `json:"event_types"`
		Enabled    *bool    `json:"enabled"`
	}
	id, body, idem, want, err := patchByPath(w, r, &in)
	if err != nil {
		return err
	}
	present := members(body)
	v := &domain.ValidationError{}
	cmd := commands.UpdateWebhook{AccountID: tokenFrom(r.Context()).AccountID, WebhookID: id, URL: in.URL,
		FilterID: parseUUIDField(v, "filter_id", in.FilterID), ClearFilter: isNull(present["filter_id"]),
		Enabled: in.Enabled, IfVersion: want, Meta: meta(r), Idem: idem}
	if _, ok := present["event_types"]; ok {
		types := nonNil(in.EventTypes)
		cmd.EventTypes = &types
	}
	for _, name := range []string{"url", "enabled"} {
		if raw, ok := present[name]; ok && isNull(raw) {
			v.Add(name, domain.CodeInvalidValue, "%s cannot be null", name)
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	res, err := a.cmd.UpdateWebhook.Handle(r.Context(), cmd)
	if err != nil {
		return err
	}
	writeWebhook(w, http.StatusOK, res.Written, res.Webhook)
	return nil
}

func (a *API) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	id, idem, want, err := bodilessDelete(r)
	if err != nil {
		return err
	}
	res, err := a.cmd.DeleteWebhook.Handle(r.Context(), commands.DeleteWebhook{AccountID: tokenFrom(r.Context()).AccountID,
		WebhookID: id, IfVersion: want, Meta: meta(r), Idem: idem})
	if err != nil {
		return err
	}
	writeWritten(w, http.StatusNoContent, res.Written, nil)
	return nil
}

// rotateWebhookSecret answers the subscription with its new secret; the
// old one stops signing at once unless grace_period ("24h" or seconds, at
// most 7 days) keeps it signing beside the new one.
func (a *API) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) error {
	id, idem, grace, err := readRotation(w, r)
	if err != nil {
		return err
	}
	res, err := a.cmd.RotateWebhookSecret.Handle(r.Context(), commands.RotateWebhookSecret{AccountID: tokenFrom(r.Context()).AccountID,
		WebhookID: id, Grace: grace, Meta: meta(r), Idem: idem})
	if err != nil {
		return err
	}
	writeWebhookSecret(w, http.StatusOK, res)
	return nil
}

type deliveryJSON struct {
	ID              string     `json:"id"`
	EventID         uuid.UUID  `json:"event_id"`
	EventType       string     `json:"event_type"`
	LeadID          *uuid.UUID `json:"lead_id"`
	LeadVersion     *int64     `json:"lead_version"`
	Attempt         int        `json:"attempt"`
	AttemptedAt     time.Time  `json:"attempted_at"`
	Status          *int       `json:"status"`
	LatencyMS       float64    `json:"latency_ms"`
	ResponseExcerpt string     `json:"response_excerpt"`
	Error           *string    `json:"error"`
	Success         bool       `json:"success"`
	// MessageState is where the message stands now: pending, delivered,
	// failed (given up) or skipped (the subscription was disabled).
	MessageState  string     `json:"message_state"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
}

func deliveryOut(d commands.WebhookDelivery) deliveryJSON {
	j := deliveryJSON{ID: strconv.FormatInt(d.ID, 10), EventID: d.EventID, EventType: d.EventType, LeadID: d.LeadID,
		Attempt: d.Attempt, AttemptedAt: d.AttemptedAt.UTC(), Status: d.StatusCode, LatencyMS: d.DurationMS,
		ResponseExcerpt: d.ResponseExcerpt, Error: optional(d.Error), Success: d.Success, MessageState: d.State,
		NextAttemptAt: d.NextAttemptAt}
	if d.LeadID != nil {
		j.LeadVersion = &d.LeadVersion
	}
	return j
}

// listWebhookDeliveries pages the delivery log, newest attempt first;
// next_cursor continues after the page's last attempt.
func (a *API) listWebhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r, "limit", "cursor")
	if err != nil {
		return err
	}
	query := queries.DeliveryQuery{}
	if query.Limit, err = queryLimit(q, DefaultLimit, MaxLimit); err != nil {
		return err
	}
	if s, ok := q["cursor"]; ok {
		if query.Before, err = strconv.ParseInt(s, 10, 64); err != nil || query.Before < 1 {
			return badRequest("cursor", CodeInvalidCursor, "the cursor is not one this list gave; start again without it")
		}
	}
	id, err := PathID(r, "id")
	if err != nil {
		return err
	}
	ds, err := a.q.WebhookDeliveries(r.Context(), tokenFrom(r.Context()).AccountID, id, query)
	if err != nil {
		return err
	}
	out := page[deliveryJSON]{Data: []deliveryJSON{}}
	for _, d := range ds {
		out.Data = append(out.Data, deliveryOut(d))
	}
	if len(ds) == query.Limit {
		next := strconv.FormatInt(ds[len(ds)-1].ID, 10)
		out.NextCursor = &next
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// redeliverWebhook sends messages again: {"since": RFC 3339} for every
// message of events recorded since then, or {"delivery_id": …} or
// {"event_id": …} for one.
func (a *API) redeliverWebhook(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Since      *string `json:"since"`
		DeliveryID *string `json:"delivery_id"`
		EventID    *string `json:"event_id"`
	}
	id, idem, err := writeByPath(w, r, &in, false)
	if err != nil {
		return err
	}
	v := &domain.ValidationError{}
	cmd := commands.RedeliverWebhook{AccountID: tokenFrom(r.Context()).AccountID, WebhookID: id,
		Since: parseTime(v, "since", in.Since), EventID: parseUUIDField(v, "event_id", in.EventID), Idem: idem}
	if in.DeliveryID != nil {
		if cmd.DeliveryID, err = strconv.ParseInt(*in.DeliveryID, 10, 64); err != nil || cmd.DeliveryID < 1 {
			v.Add("delivery_id", domain.CodeInvalidFormat, "%q is not a delivery id", shorten(*in.DeliveryID))
		}
	}
	n := 0
	for _, set := range []bool{in.Since != nil, in.DeliveryID != nil, in.EventID != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		v.Add("body", domain.CodeInvalidValue, "give exactly one of since, delivery_id, event_id")
	}
	if err := v.Err(); err != nil {
		return err
	}
	res, err := a.cmd.RedeliverWebhook.Handle(r.Context(), cmd)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, res)
	return nil
}

// testWebhook queues a webhook.test message, signed and retried like the
// others; its event_id is the webhook-id the endpoint will see.
func (a *API) testWebhook(w http.ResponseWriter, r *http.Request) error {
	var in struct{}
	id, idem, err := writeByPath(w, r, &in, true)
	if err != nil {
		return err
	}
	res, err := a.cmd.SendWebhookTest.Handle(r.Context(), commands.SendWebhookTest{AccountID: tokenFrom(r.Context()).AccountID,
		WebhookID: id, Idem: idem})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, res)
	return nil
}
