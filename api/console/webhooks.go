package console

import (
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/api"
	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/queries"
)

// webhookRow is one subscription of a list.
type webhookRow struct {
	W      commands.WebhookInfo
	Filter string // the filter's name, "" for every lead
	Types  string
}

// webhookList is a campaign's subscriptions and the form that adds one.
type webhookList struct {
	Rows    []webhookRow
	Filters []domain.Filter
	Types   []string
}

func webhookRows(ws []commands.WebhookInfo, filters map[uuid.UUID]domain.Filter) []webhookRow {
	out := make([]webhookRow, 0, len(ws))
	for _, w := range ws {
		row := webhookRow{W: w, Types: "every event type"}
		if w.FilterID != nil {
			row.Filter = "(deleted filter)"
			if f, ok := filters[*w.FilterID]; ok {
				row.Filter = filterLabel(f)
			}
		}
		if len(w.EventTypes) > 0 {
			row.Types = fmtValue(w.EventTypes)
		}
		out = append(out, row)
	}
	return out
}

func (c *Console) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	return c.renderWebhooks(w, r, http.StatusOK, "webhooks", nil)
}

func (c *Console) newWebhook(w http.ResponseWriter, r *http.Request) error {
	return c.renderWebhooks(w, r, http.StatusOK, "webhook_new", nil)
}

func (c *Console) renderWebhooks(w http.ResponseWriter, r *http.Request, status int, page string, errs *formErrors) error {
	camp, fs, err := c.campaignFilters(r)
	if err != nil {
		return err
	}
	data := webhookList{Filters: fs, Types: domain.WebhookEventTypes()}
	if page == "webhooks" {
		ws, err := c.q.ListWebhooks(r.Context(), camp.AccountID, &camp.ID)
		if err != nil {
			return err
		}
		data.Rows = webhookRows(ws, filterNames(fs))
	}
	v := &view{Title: "Webhooks · " + camp.Name, Section: "campaigns", Campaign: &camp, Tab: "webhooks", Notice: notice(r),
		Errors: errs, Idem: randomHex(16), Data: data}
	if r.Method == http.MethodPost {
		v.Form, v.Idem = r.PostForm, r.PostForm.Get("idem")
	}
	c.render(w, r, status, page, v)
	return nil
}

// webhookSecret shows a subscription's signing secret, which exists in
// clear only in the answer that made it.
type webhookSecret struct {
	W       commands.WebhookInfo
	Secret  string
	Rotated bool
	// Withheld, when a resubmitted form finds the secret rotated or
	// deleted since, says why it is not shown.
	Withheld string
}

func (c *Console) createWebhook(w http.ResponseWriter, r *http.Request) error {
	camp, err := c.campaignOf(r)
	if err != nil {
		return err
	}
	v := &domain.ValidationError{}
	cmd := commands.CreateWebhook{AccountID: camp.AccountID, CampaignID: camp.ID, URL: trimmed(r, "url"),
		FilterID: formUUID(v, r, "filter_id"), EventTypes: r.PostForm["event_types"], Meta: meta(w, r), Idem: idempotency(r)}
	err = v.Err()
	if err == nil {
		var res commands.WebhookSecretResult
		if res, err = c.cmd.CreateWebhook.Handle(r.Context(), cmd); err == nil {
			c.render(w, r, http.StatusCreated, "webhook_secret", &view{Title: "Webhook created", Section: "campaigns",
				Campaign: &camp, Tab: "webhooks", Data: webhookSecret{W: res.Webhook, Secret: res.Secret, Withheld: res.Withheld}})
			return nil
		}
	}
	if errs := validation(err); errs != nil {
		return c.renderWebhooks(w, r, http.StatusUnprocessableEntity, "webhook_new", errs)
	}
	return err
}

// webhookOf loads the subscription of the path and its campaign.
func (c *Console) webhookOf(r *http.Request) (commands.WebhookInfo, domain.Campaign, error) {
	return inCampaign(c, r, c.q.Webhook, func(h commands.WebhookInfo) uuid.UUID { return h.CampaignID })
}

// webhookPage is a subscription with a page of its delivery log.
type webhookPage struct {
	Row        webhookRow
	Deliveries []commands.WebhookDelivery
	Next       string
	First      bool
	Since      string
}

// deliveriesPage is how many attempts the log page shows.
const deliveriesPage = 50

func (c *Console) showWebhook(w http.ResponseWriter, r *http.Request) error {
	h, camp, err := c.webhookOf(r)
	if err != nil {
		return err
	}
	return c.renderWebhook(w, r, http.StatusOK, h, camp, nil)
}

func (c *Console) renderWebhook(w http.ResponseWriter, r *http.Request, status int, h commands.WebhookInfo, camp domain.Campaign, errs *formErrors) error {
	q := queries.DeliveryQuery{Limit: deliveriesPage}
	if s := r.URL.Query().Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return api.ErrRouteNotFound
		}
		q.Before = n
	}
	ds, err := c.q.WebhookDeliveries(r.Context(), h.AccountID, h.ID, q)
	if err != nil {
		return err
	}
	fs, err := c.q.ListFilters(r.Context(), h.AccountID, h.CampaignID)
	if err != nil {
		return err
	}
	data := webhookPage{Row: webhookRows([]commands.WebhookInfo{h}, filterNames(fs))[0], Deliveries: ds, First: q.Before == 0,
		Since: c.now().UTC().Add(-24 * time.Hour).Format(datetimeLocal)}
	if len(ds) == deliveriesPage {
		data.Next = strconv.FormatInt(ds[len(ds)-1].ID, 10)
	}
	v := &view{Title: "Webhook", Section: "campaigns", Campaign: &camp, Tab: "webhooks", Notice: notice(r), Errors: errs,
		FormName: "redeliver", Data: data}
	if errs != nil {
		v.Form = r.PostForm
	}
	c.render(w, r, status, "webhook", v)
	return nil
}

func (c *Console) testWebhook(w http.ResponseWriter, r *http.Request) error {
	h, _, err := c.webhookOf(r)
	if err != nil {
		return err
	}
	if _, err := c.cmd.SendWebhookTest.Handle(r.Context(), commands.SendWebhookTest{AccountID: h.AccountID, WebhookID: h.ID}); err != nil {
		return err
	}
	redirect(w, r, "/webhooks/"+h.ID.String()+"?notice=webhook_test")
	return nil
}

// redeliverWebhook sends one delivery's message again (delivery_id), or
// every message since a time (since).
func (c *Console) redeliverWebhook(w http.ResponseWriter, r *http.Request) error {
	h, camp, err := c.webhookOf(r)
	if err != nil {
		return err
	}
	v := &domain.ValidationError{}
	cmd := commands.RedeliverWebhook{AccountID: h.AccountID, WebhookID: h.ID}
	if s := trimmed(r, "delivery_id"); s != "" {
		if cmd.DeliveryID, err = strconv.ParseInt(s, 10, 64); err != nil || cmd.DeliveryID < 1 {
			return commands.ErrDeliveryNotFound
		}
	} else if cmd.Since = formTime(v, r, "since"); cmd.Since == nil && v.Err() == nil {
		v.Add("since", domain.CodeRequired, "enter the time to send again from")
	}
	if err := v.Err(); err != nil {
		return c.renderWebhook(w, r, http.StatusUnprocessableEntity, h, camp, validation(err))
	}
	if _, err := c.cmd.RedeliverWebhook.Handle(r.Context(), cmd); err != nil {
		return err
	}
	redirect(w, r, "/webhooks/"+h.ID.String()+"?notice=redelivered")
	return nil
}

// enableWebhook enables or disables a subscription (enabled=true|false).
func (c *Console) enableWebhook(w http.ResponseWriter, r *http.Request) error {
	h, _, err := c.webhookOf(r)
	if err != nil {
		return err
	}
	on := r.PostForm.Get("enabled") == "true"
	if _, err := c.cmd.UpdateWebhook.Handle(r.Context(), commands.UpdateWebhook{AccountID: h.AccountID, WebhookID: h.ID, Enabled: &on,
		Meta: meta(w, r)}); err != nil {
		return err
	}
	done := "webhook_disabled"
	if on {
		done = "webhook_enabled"
	}
	redirect(w, r, "/webhooks/"+h.ID.String()+"?notice="+done)
	return nil
}

// confirmWebhook asks before a change of the path's webhook; ask makes
// the question from the webhook.
func (c *Console) confirmWebhook(w http.ResponseWriter, r *http.Request, ask func(h commands.WebhookInfo) confirmation) error {
	h, camp, err := c.webhookOf(r)
	if err != nil {
		return err
	}
	conf := ask(h)
	conf.Back = Prefix + "/webhooks/" + h.ID.String()
	c.render(w, r, http.StatusOK, "confirm", &view{Title: conf.Button, Section: "campaigns", Campaign: &camp, Tab: "webhooks", Data: conf})
	return nil
}

func (c *Console) confirmRotateWebhookSecret(w http.ResponseWriter, r *http.Request) error {
	return c.confirmWebhook(w, r, func(h commands.WebhookInfo) confirmation {
		return confirmation{Action: Prefix + "/webhooks/" + h.ID.String() + "/rotate-secret",
			Heading: "Rotate the signing secret of the webhook to " + h.URL + "?",
			Lines: []string{"Deliveries get signed with a new secret. The old one stops signing now, which is what a leaked secret needs; " +
				"if the receiver must switch without refusing a delivery, keep it signing beside the new one for a while instead."},
			Button: "Rotate signing secret", Choices: graces}
	})
}

func (c *Console) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) error {
	h, camp, err := c.webhookOf(r)
	if err != nil {
		return err
	}
	grace, err := formGrace(r)
	if err != nil {
		return err
	}
	res, err := c.cmd.RotateWebhookSecret.Handle(r.Context(), commands.RotateWebhookSecret{AccountID: h.AccountID, WebhookID: h.ID,
		Grace: grace, Meta: meta(w, r)})
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "webhook_secret", &view{Title: "New signing secret", Section: "campaigns", Campaign: &camp,
		Tab: "webhooks", Data: webhookSecret{W: res.Webhook, Secret: res.Secret, Rotated: true}})
	return nil
}

func (c *Console) confirmDeleteWebhook(w http.ResponseWriter, r *http.Request) error {
	return c.confirmWebhook(w, r, func(h commands.WebhookInfo) confirmation {
		return confirmation{Action: Prefix + "/webhooks/" + h.ID.String() + "/delete", Heading: "Delete the webhook to " + h.URL + "?",
			Lines: []string{"Nothing more is sent to it, and its signing secrets are destroyed. This cannot be undone."}, Button: "Delete webhook"}
	})
}

func (c *Console) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	h, _, err := c.webhookOf(r)
	if err != nil {
		return err
	}
	if _, err := c.cmd.DeleteWebhook.Handle(r.Context(), commands.DeleteWebhook{AccountID: h.AccountID, WebhookID: h.ID,
		Meta: meta(w, r)}); err != nil {
		return err
	}
	redirect(w, r, "/campaigns/"+h.CampaignID.String()+"/webhooks?notice=webhook_deleted")
	return nil
}
