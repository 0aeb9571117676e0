package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/views"
)

// Webhook errors the API maps to problems.
var (
	ErrWebhookDisabled  = errors.New("the webhook is disabled; enable it first")
	ErrDeliveryNotFound = errors.New("delivery not found")
)

// WebhookTargets is the policy for the endpoints subscriptions may name.
// Private, loopback and link-local addresses are refused unless
// AllowPrivate; names are resolved with Resolver (default
// net.DefaultResolver). The dispatcher checks again at each connection.
type WebhookTargets struct {
	AllowPrivate bool
	Resolver     interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	}
}

// targetLookupTimeout bounds resolving a subscription's host at creation.
const targetLookupTimeout = 5 * time.Second

// checkWebhookTarget refuses an endpoint whose host is, or resolves to, an
// address webhooks must not reach.
func (c *deps) checkWebhookTarget(ctx context.Context, raw string) error {
	if c.webhookTargets.AllowPrivate {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return domain.Invalid("url", domain.CodeInvalidFormat, "not a URL")
	}
	refuse := domain.Invalid("url", domain.CodeInvalidValue,
		"the URL's host is or resolves to a private, loopback, link-local or reserved address, or an IPv6 form of an IPv4 address; webhooks are sent to public addresses only (docs/webhooks.md#safety)")
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if domain.ForbiddenWebhookAddress(ip) {
			return refuse
		}
		return nil
	}
	resolver := c.webhookTargets.Resolver
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, targetLookupTimeout)
	defer cancel()
	addrs, err := resolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return domain.Invalid("url", domain.CodeInvalidValue, "the URL's host %q could not be resolved", host)
	}
	for _, a := range addrs {
		// The resolver gives A records in IPv4-mapped form; the connection
		// goes to the IPv4 address, which is what is checked.
		if domain.ForbiddenWebhookAddress(a.Unmap()) {
			return refuse
		}
	}
	return nil
}

// WebhookInfo is a subscription as admins see it: never its secrets.
type WebhookInfo = views.Webhook

// webhookViews keeps and reads the subscriptions view and its secrets.
type webhookViews interface {
	UpsertWebhook(domain.Webhook) eventstore.Inline
	SetWebhookSecret(id uuid.UUID, sealed []byte, keepPrevious bool) eventstore.Inline
	GraceWebhookSecret(id uuid.UUID, until *time.Time) eventstore.Inline
	DestroyWebhookSecrets(id uuid.UUID) eventstore.Inline
	WithWebhookSecret(id uuid.UUID, fn func(sealed []byte) error) eventstore.Inline
	ResetWebhookHealth(id uuid.UUID) eventstore.Inline
	ReadWebhook(id uuid.UUID, into *WebhookInfo) eventstore.Inline
	Webhook(ctx context.Context, accountID, id uuid.UUID) (WebhookInfo, error)
}

// WebhookResult is a subscription after a write that keeps its secret.
type WebhookResult struct {
	Webhook WebhookInfo `json:"webhook"`
	Written
}

// WebhookSecretResult is a subscription with its signing secret, returned
// only when the secret is made. The secret is never stored with an
// idempotent result, only its hash: a replay shows it again from the
// sealed copy while it is still current (replayWebhookSecret).
type WebhookSecretResult struct {
	Webhook      WebhookInfo `json:"webhook"`
	Secret       string      `json:"-"`
	SecretSHA256 []byte      `json:"secret_sha256,omitempty"`
	// Withheld, on a replay that shows no secret, says why: SecretRotated
	// or SecretDeleted.
	Withheld string `json:"-"`
	Written
}

// CreateWebhook subscribes an endpoint to a campaign's lead events,
// optionally narrowed by a filter of that campaign and by event types.
type CreateWebhook struct {
	AccountID  uuid.UUID
	CampaignID uuid.UUID
	FilterID   *uuid.UUID
	URL        string
	EventTypes []string
	Meta       Meta
	Idem       *Idempotency
}

// CreateWebhookHandler creates webhook subscriptions.
type CreateWebhookHandler struct{ *deps }

// Handle makes the signing secret, seals it into the webhooks view
// and appends webhook.created, in one transaction.
func (c CreateWebhookHandler) Handle(ctx context.Context, cmd CreateWebhook) (WebhookSecretResult, error) {
	res, err := idempotent(ctx, c.deps, cmd.Idem, func(fin finish) (WebhookSecretResult, error) {
		if _, err := c.views.Campaign(ctx, cmd.AccountID, cmd.CampaignID); err != nil {
			if errors.Is(err, domain.ErrCampaignNotFound) {
				err = domain.Invalid("campaign_id", domain.CodeInvalidValue, "no campaign %s in this account", cmd.CampaignID)
			}
			return WebhookSecretResult{}, err
		}
		filter, err := c.webhookFilter(ctx, cmd.AccountID, cmd.FilterID)
		if err != nil {
			return WebhookSecretResult{}, err
		}
		id := uuid.New()
		events, err := domain.CreateWebhook(domain.NewWebhook{ID: id, AccountID: cmd.AccountID, CampaignID: cmd.CampaignID,
			Filter: filter, URL: cmd.URL, EventTypes: cmd.EventTypes}, c.at())
		if err != nil {
			return WebhookSecretResult{}, err
		}
		w := domain.FoldWebhook(events)
		if err := c.checkWebhookTarget(ctx, w.URL); err != nil {
			return WebhookSecretResult{}, err
		}
		secret, err := newWebhookSecret(c.rnd)
		if err != nil {
			return WebhookSecretResult{}, err
		}
		res := WebhookSecretResult{Secret: secret, SecretSHA256: hashSecret(secret)}
		out, err := c.store.AppendInline(ctx, inlineAll(c.views.UpsertWebhook(w), c.sealWebhookSecret(id, secret, false),
			c.views.ReadWebhook(id, &res.Webhook), finishWith(fin, &res.Written, func() any { return res })),
			eventstore.Append{StreamID: domain.WebhookStream(id), AccountID: cmd.AccountID, CampaignID: cmd.CampaignID,
				Events: events, Metadata: cmd.Meta})
		if err != nil {
			return WebhookSecretResult{}, fmt.Errorf("create webhook: %w", err)
		}
		res.Written = written(out)
		return res, nil
	})
	if err != nil || !res.Replayed {
		return res, err
	}
	return c.replayWebhookSecret(ctx, cmd.AccountID, res, cmd.Meta)
}

// webhookFilter loads the filter a subscription names; a missing one is a
// field error, not a missing resource.
func (c *deps) webhookFilter(ctx context.Context, accountID uuid.UUID, id *uuid.UUID) (*domain.Filter, error) {
	if id == nil {
		return nil, nil
	}
	f, err := c.views.Filter(ctx, accountID, *id)
	if errors.Is(err, domain.ErrFilterNotFound) {
		return nil, domain.Invalid("filter_id", domain.CodeInvalidValue, "no filter %s in this account", id)
	}
	if err != nil {
		return nil, err
	}
	return &f, nil
}

func newWebhookSecret(rnd io.Reader) (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	return domain.FormatWebhookSecret(b), nil
}

// webhookAD binds a sealed signing secret to its subscription and keeps
// it apart from token secrets sealed with the same key.
func webhookAD(id uuid.UUID) []byte { return append([]byte("webhook "), id[:]...) }

// sealWebhookSecret stores secret as the subscription's signing secret;
// with keepPrevious the current one keeps signing until the grace ends
// (set by the rotation step).
func (c *deps) sealWebhookSecret(id uuid.UUID, secret string, keepPrevious bool) eventstore.Inline {
	sealed, err := c.sealer.seal(webhookAD(id), secret)
	if err != nil {
		return views.Step(func([]eventstore.Record) error { return err })
	}
	return c.views.SetWebhookSecret(id, sealed, keepPrevious)
}

// OpenWebhookSecret opens a signing secret sealed in the webhooks view;
// the dispatcher signs with it.
func (c Keys) OpenWebhookSecret(id uuid.UUID, sealed []byte) (string, error) {
	return c.sealer.open(webhookAD(id), sealed)
}

// replayWebhookSecret completes the replayed answer of a create or
// rotation with the signing secret it made, while that is still the
// subscription's current secret, and records the showing as
// webhook.secret_revealed. A secret that was rotated away or deleted is
// never shown, and nothing is recorded: Withheld says why.
func (c *deps) replayWebhookSecret(ctx context.Context, accountID uuid.UUID, res WebhookSecretResult, meta Meta) (WebhookSecretResult, error) {
	var secret string
	_, err := c.updateWebhook(ctx, accountID, res.Webhook.ID, 0, meta, nil,
		func(w domain.Webhook, at time.Time) ([]domain.Event, error) { return w.RevealSecret(at) },
		func(w domain.Webhook, _ []domain.Event) eventstore.Inline {
			open := c.views.WithWebhookSecret(w.ID, func(sealed []byte) error {
				if sealed == nil {
					return errSecretChanged
				}
				s, err := c.sealer.open(webhookAD(w.ID), sealed)
				if err != nil {
					return err
				}
				if !sameSecret(hashSecret(s), res.SecretSHA256) {
					return errSecretChanged // and no webhook.secret_revealed
				}
				secret = s
				return nil
			})
			return inlineAll(c.views.UpsertWebhook(w), open)
		})
	switch {
	case errors.Is(err, domain.ErrWebhookNotFound):
		res.Withheld = SecretDeleted
	case errors.Is(err, errSecretChanged):
		res.Withheld = SecretRotated
	case err != nil:
		return WebhookSecretResult{}, err
	default:
		res.Secret = secret
	}
	return res, nil
}

// UpdateWebhook changes a subscription's URL, filter, event types or
// enablement. Nil members stay as they are; EventTypes pointing at an
// empty list asks for every type.
type UpdateWebhook struct {
	AccountID   uuid.UUID
	WebhookID   uuid.UUID
	URL         *string
	FilterID    *uuid.UUID
	ClearFilter bool
	EventTypes  *[]string
	Enabled     *bool
	IfVersion   int64
	Meta        Meta
	Idem        *Idempotency
}

// UpdateWebhookHandler changes webhook subscriptions.
type UpdateWebhookHandler struct{ *deps }

// Handle decides on the subscription's history. A new URL is
// checked like one given at creation; enabling it or changing its URL
// starts the failure period afresh.
func (c UpdateWebhookHandler) Handle(ctx context.Context, cmd UpdateWebhook) (WebhookResult, error) {
	return idempotent(ctx, c.deps, cmd.Idem, func(fin finish) (WebhookResult, error) {
		changes := domain.WebhookChanges{URL: cmd.URL, ClearFilter: cmd.ClearFilter, EventTypes: cmd.EventTypes, Enabled: cmd.Enabled}
		var err error
		if changes.Filter, err = c.webhookFilter(ctx, cmd.AccountID, cmd.FilterID); err != nil {
			return WebhookResult{}, err
		}
		if cmd.URL != nil {
			if u := domain.ValidWebhookURL(&domain.ValidationError{}, "url", *cmd.URL); u != "" {
				if err := c.checkWebhookTarget(ctx, u); err != nil {
					return WebhookResult{}, err
				}
			}
		}
		var res WebhookResult
		out, err := c.updateWebhook(ctx, cmd.AccountID, cmd.WebhookID, cmd.IfVersion, cmd.Meta, &res.Webhook,
			func(w domain.Webhook, at time.Time) ([]domain.Event, error) { return w.Update(changes, at) },
			func(w domain.Webhook, events []domain.Event) eventstore.Inline {
				var reset eventstore.Inline
				for _, e := range events {
					switch e := e.(type) {
					case domain.WebhookEnabled:
						reset = c.views.ResetWebhookHealth(w.ID)
					case domain.WebhookUpdated:
						if e.URL != nil {
							reset = c.views.ResetWebhookHealth(w.ID)
						}
					}
				}
				return inlineAll(c.views.UpsertWebhook(w), reset, c.views.ReadWebhook(w.ID, &res.Webhook),
					finishWith(fin, &res.Written, func() any { return res }))
			})
		if err != nil {
			return WebhookResult{}, err
		}
		res.Written = written(out)
		return res, nil
	})
}

// updateWebhook runs one load–decide–append cycle of a live subscription
// of the account; inline builds the transaction's view steps from the
// decided state and events. When nothing was decided and unchanged is not
// nil, it gets the current row.
func (c *deps) updateWebhook(ctx context.Context, accountID, id uuid.UUID, ifVer int64, meta Meta, unchanged *WebhookInfo,
	decide func(domain.Webhook, time.Time) ([]domain.Event, error), inline func(domain.Webhook, []domain.Event) eventstore.Inline,
) (eventstore.Appended, error) {
	var (
		state   domain.Webhook
		decided []domain.Event
	)
	out, err := c.store.Update(ctx, eventstore.Update{
		StreamID: domain.WebhookStream(id), IfVersion: ifVersion(ifVer), AccountID: accountID, Metadata: meta,
		Decide: func(history []eventstore.Record) ([]domain.Event, error) {
			state = domain.FoldWebhook(eventstore.Events(history))
			if !state.Exists() || state.AccountID != accountID {
				return nil, domain.ErrWebhookNotFound
			}
			var err error
			decided, err = decide(state, c.at())
			state = domain.Fold(state, decided)
			return decided, err
		},
		Inline: views.Later(func() eventstore.Inline { return inline(state, decided) }),
	})
	if err != nil {
		return eventstore.Appended{}, fmt.Errorf("webhook %s: %w", id, mapConflict(err, ifVer > 0))
	}
	if out.Records == nil && unchanged != nil {
		if *unchanged, err = c.views.Webhook(ctx, accountID, id); err != nil {
			return eventstore.Appended{}, err
		}
	}
	return out, nil
}

// RotateWebhookSecret gives a subscription a new signing secret; the old
// one keeps signing beside it for Grace (0: it stops at once; at most 7
// days), so receivers can switch without losing a message. Only the latest
// previous secret is kept.
type RotateWebhookSecret struct {
	AccountID uuid.UUID
	WebhookID uuid.UUID
	Grace     time.Duration
	Meta      Meta
	Idem      *Idempotency
}

// RotateWebhookSecretHandler rotates webhook secrets.
type RotateWebhookSecretHandler struct{ *deps }

// Handle appends webhook.secret_rotated and swaps the sealed
// secrets in the same transaction.
func (c RotateWebhookSecretHandler) Handle(ctx context.Context, cmd RotateWebhookSecret) (WebhookSecretResult, error) {
	res, err := idempotent(ctx, c.deps, cmd.Idem, func(fin finish) (WebhookSecretResult, error) {
		secret, err := newWebhookSecret(c.rnd)
		if err != nil {
			return WebhookSecretResult{}, err
		}
		res := WebhookSecretResult{Secret: secret, SecretSHA256: hashSecret(secret)}
		out, err := c.updateWebhook(ctx, cmd.AccountID, cmd.WebhookID, 0, cmd.Meta, nil,
			func(w domain.Webhook, at time.Time) ([]domain.Event, error) { return w.RotateSecret(cmd.Grace, at) },
			func(w domain.Webhook, _ []domain.Event) eventstore.Inline {
				keep := w.PreviousValidUntil.After(w.UpdatedAt) // UpdatedAt is the rotation's time
				// Stopped at once (nil): no earlier grace's secret signs on either.
				var until *time.Time
				if keep {
					until = &w.PreviousValidUntil
				}
				return inlineAll(c.views.UpsertWebhook(w), c.sealWebhookSecret(w.ID, secret, keep), c.views.GraceWebhookSecret(w.ID, until),
					c.views.ReadWebhook(w.ID, &res.Webhook), finishWith(fin, &res.Written, func() any { return res }))
			})
		if err != nil {
			return WebhookSecretResult{}, err
		}
		res.Written = written(out)
		return res, nil
	})
	if err != nil || !res.Replayed {
		return res, err
	}
	return c.replayWebhookSecret(ctx, cmd.AccountID, res, cmd.Meta)
}

// DisableWebhook stops deliveries to a subscription, for a reason of
// domain.WebhookDisabled*. The dispatcher calls it when an endpoint is
// gone or kept failing; disabling a disabled subscription changes nothing.
type DisableWebhook struct {
	AccountID uuid.UUID
	WebhookID uuid.UUID
	Reason    string
	Detail    string
	Meta      Meta
}

// DisableWebhookHandler disables failing webhook subscriptions.
type DisableWebhookHandler struct{ *deps }

// Handle appends webhook.disabled.
func (c DisableWebhookHandler) Handle(ctx context.Context, cmd DisableWebhook) (WebhookResult, error) {
	var res WebhookResult
	out, err := c.updateWebhook(ctx, cmd.AccountID, cmd.WebhookID, 0, cmd.Meta, &res.Webhook,
		func(w domain.Webhook, at time.Time) ([]domain.Event, error) {
			return w.Disable(cmd.Reason, cmd.Detail, at)
		},
		func(w domain.Webhook, _ []domain.Event) eventstore.Inline {
			return inlineAll(c.views.UpsertWebhook(w), c.views.ReadWebhook(w.ID, &res.Webhook))
		})
	if err != nil {
		return WebhookResult{}, err
	}
	res.Written = written(out)
	return res, nil
}

// DeleteWebhook removes a subscription: deliveries stop and its secrets
// are destroyed.
type DeleteWebhook struct {
	AccountID uuid.UUID
	WebhookID uuid.UUID
	IfVersion int64
	Meta      Meta
	Idem      *Idempotency
}

// DeleteWebhookHandler deletes webhook subscriptions.
type DeleteWebhookHandler struct{ *deps }

// Handle appends webhook.deleted and nulls the sealed secrets in the
// same transaction.
func (c DeleteWebhookHandler) Handle(ctx context.Context, cmd DeleteWebhook) (WebhookResult, error) {
	return idempotent(ctx, c.deps, cmd.Idem, func(fin finish) (WebhookResult, error) {
		var res WebhookResult
		out, err := c.updateWebhook(ctx, cmd.AccountID, cmd.WebhookID, cmd.IfVersion, cmd.Meta, nil,
			func(w domain.Webhook, at time.Time) ([]domain.Event, error) { return w.Delete(at) },
			func(w domain.Webhook, _ []domain.Event) eventstore.Inline {
				return inlineAll(c.views.UpsertWebhook(w), c.views.DestroyWebhookSecrets(w.ID), c.views.ReadWebhook(w.ID, &res.Webhook),
					finishWith(fin, &res.Written, func() any { return res }))
			})
		if err != nil {
			return WebhookResult{}, err
		}
		res.Written = written(out)
		return res, nil
	})
}
