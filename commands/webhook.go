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
	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
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
func (c *Commands) checkWebhookTarget(ctx context.Context, raw string) error {
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
type WebhookInfo struct {
	ID                 uuid.UUID
	AccountID          uuid.UUID
	CampaignID         uuid.UUID
	FilterID           *uuid.UUID
	URL                string
	EventTypes         []string
	DisabledAt         *time.Time
	DisabledReason     string
	DisabledDetail     string
	PreviousValidUntil *time.Time
	FailingSince       *time.Time
	CreatedAt          time.Time
	UpdatedAt          time.Time
	Version            int64
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

// CreateWebhook makes the signing secret, seals it into the webhooks view
// and appends webhook.created, in one transaction.
func (c *Commands) CreateWebhook(ctx context.Context, cmd CreateWebhook) (WebhookSecretResult, error) {
	res, err := idempotent(ctx, c, cmd.Idem, func(fin finish) (WebhookSecretResult, error) {
		if _, err := c.Campaign(ctx, cmd.AccountID, cmd.CampaignID); err != nil {
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
		out, err := c.store.AppendInline(ctx, inlineAll(upsertWebhook(w), c.sealWebhookSecret(id, secret, false),
			readWebhookInto(id, &res.Webhook), finishWith(fin, &res.Written, func() any { return res })),
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
func (c *Commands) webhookFilter(ctx context.Context, accountID uuid.UUID, id *uuid.UUID) (*domain.Filter, error) {
	if id == nil {
		return nil, nil
	}
	f, err := c.Filter(ctx, accountID, *id)
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
func (c *Commands) sealWebhookSecret(id uuid.UUID, secret string, keepPrevious bool) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		sealed, err := c.sealer.seal(webhookAD(id), secret)
		if err != nil {
			return err
		}
		q := `UPDATE webhooks SET secret_sealed = $2 WHERE id = $1`
		if keepPrevious {
			q = `UPDATE webhooks SET previous_secret_sealed = secret_sealed, secret_sealed = $2 WHERE id = $1`
		}
		_, err = tx.Exec(ctx, q, id, sealed)
		return err
	}
}

// OpenWebhookSecret opens a signing secret sealed in the webhooks view;
// the dispatcher signs with it.
func (c *Commands) OpenWebhookSecret(id uuid.UUID, sealed []byte) (string, error) {
	return c.sealer.open(webhookAD(id), sealed)
}

// replayWebhookSecret completes the replayed answer of a create or
// rotation with the signing secret it made, while that is still the
// subscription's current secret, and records the showing as
// webhook.secret_revealed. A secret that was rotated away or deleted is
// never shown, and nothing is recorded: Withheld says why.
func (c *Commands) replayWebhookSecret(ctx context.Context, accountID uuid.UUID, res WebhookSecretResult, meta Meta) (WebhookSecretResult, error) {
	var secret string
	_, err := c.updateWebhook(ctx, accountID, res.Webhook.ID, 0, meta, nil,
		func(w domain.Webhook, at time.Time) ([]domain.Event, error) { return w.RevealSecret(at) },
		func(w domain.Webhook, _ []domain.Event) eventstore.Inline {
			open := func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
				var sealed []byte
				if err := tx.QueryRow(ctx, `SELECT secret_sealed FROM webhooks WHERE id = $1`, w.ID).Scan(&sealed); err != nil {
					return err
				}
				if sealed == nil {
					return errSecretChanged
				}
				s, err := c.OpenWebhookSecret(w.ID, sealed)
				if err != nil {
					return err
				}
				if !sameSecret(hashSecret(s), res.SecretSHA256) {
					return errSecretChanged // and no webhook.secret_revealed
				}
				secret = s
				return nil
			}
			return inlineAll(upsertWebhook(w), open)
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

// upsertWebhook writes a subscription's state; the secret columns are set
// by the steps that change them.
func upsertWebhook(w domain.Webhook) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error {
		types := w.EventTypes
		if types == nil {
			types = []string{}
		}
		var disabledAt, deletedAt *time.Time
		if w.Disabled {
			disabledAt = &w.DisabledAt
		}
		if w.Deleted {
			deletedAt = &w.UpdatedAt
		}
		var position int64
		if len(recs) > 0 {
			position = recs[0].Position
		}
		_, err := tx.Exec(ctx, `INSERT INTO webhooks (id, account_id, campaign_id, filter_id, url, event_types, disabled_at,
				disabled_reason, disabled_detail, deleted_at, created_position, created_at, updated_at, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, nullif($8, ''), nullif($9, ''), $10, $11, $12, $13, $14)
			ON CONFLICT (id) DO UPDATE SET filter_id = excluded.filter_id, url = excluded.url, event_types = excluded.event_types,
				disabled_at = excluded.disabled_at, disabled_reason = excluded.disabled_reason,
				disabled_detail = excluded.disabled_detail, deleted_at = excluded.deleted_at,
				updated_at = excluded.updated_at, version = excluded.version`,
			w.ID, w.AccountID, w.CampaignID, w.FilterID, w.URL, types, disabledAt, w.DisabledReason, w.DisabledDetail,
			deletedAt, position, w.CreatedAt, w.UpdatedAt, w.Version)
		return err
	}
}

// resetHealth forgets an endpoint's run of failures: after enabling it or
// pointing it elsewhere, the failure period starts again.
func resetHealth(id uuid.UUID) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		_, err := tx.Exec(ctx, `DELETE FROM webhook_health WHERE webhook_id = $1`, id)
		return err
	}
}

const webhookColumns = `w.id, w.account_id, w.campaign_id, w.filter_id, w.url, w.event_types, w.disabled_at,
	coalesce(w.disabled_reason, ''), coalesce(w.disabled_detail, ''), w.previous_valid_until, h.failing_since,
	w.created_at, w.updated_at, w.version`

const webhookFrom = ` FROM webhooks w LEFT JOIN webhook_health h ON h.webhook_id = w.id `

func scanWebhooks(rows pgx.Rows) ([]WebhookInfo, error) {
	defer rows.Close()
	var out []WebhookInfo
	for rows.Next() {
		var w WebhookInfo
		if err := rows.Scan(&w.ID, &w.AccountID, &w.CampaignID, &w.FilterID, &w.URL, &w.EventTypes, &w.DisabledAt,
			&w.DisabledReason, &w.DisabledDetail, &w.PreviousValidUntil, &w.FailingSince, &w.CreatedAt, &w.UpdatedAt,
			&w.Version); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

func readWebhookInto(id uuid.UUID, info *WebhookInfo) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		w, err := queryOne(ctx, tx, scanWebhooks, fmt.Errorf("webhook %s: row missing after write", id),
			`SELECT `+webhookColumns+webhookFrom+`WHERE w.id = $1`, id)
		*info = w
		return err
	}
}

// Webhook returns a live subscription of the account.
func (c *Commands) Webhook(ctx context.Context, accountID, id uuid.UUID) (WebhookInfo, error) {
	return queryOne(ctx, c.pool, scanWebhooks, domain.ErrWebhookNotFound,
		`SELECT `+webhookColumns+webhookFrom+`WHERE w.account_id = $1 AND w.id = $2 AND w.deleted_at IS NULL`, accountID, id)
}

// ListWebhooks returns the account's live subscriptions, or one
// campaign's when campaignID is not nil, newest first.
func (c *Commands) ListWebhooks(ctx context.Context, accountID uuid.UUID, campaignID *uuid.UUID) ([]WebhookInfo, error) {
	rows, err := c.pool.Query(ctx, `SELECT `+webhookColumns+webhookFrom+`WHERE w.account_id = $1 AND w.deleted_at IS NULL
		AND ($2::uuid IS NULL OR w.campaign_id = $2) ORDER BY w.created_at DESC, w.id`, accountID, campaignID)
	if err != nil {
		return nil, err
	}
	return scanWebhooks(rows)
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

// UpdateWebhook decides on the subscription's history. A new URL is
// checked like one given at creation; enabling it or changing its URL
// starts the failure period afresh.
func (c *Commands) UpdateWebhook(ctx context.Context, cmd UpdateWebhook) (WebhookResult, error) {
	return idempotent(ctx, c, cmd.Idem, func(fin finish) (WebhookResult, error) {
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
						reset = resetHealth(w.ID)
					case domain.WebhookUpdated:
						if e.URL != nil {
							reset = resetHealth(w.ID)
						}
					}
				}
				return inlineAll(upsertWebhook(w), reset, readWebhookInto(w.ID, &res.Webhook),
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
func (c *Commands) updateWebhook(ctx context.Context, accountID, id uuid.UUID, ifVer int64, meta Meta, unchanged *WebhookInfo,
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
		Inline: func(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error {
			return inline(state, decided)(ctx, tx, recs)
		},
	})
	if err != nil {
		return eventstore.Appended{}, fmt.Errorf("webhook %s: %w", id, mapConflict(err, ifVer > 0))
	}
	if out.Records == nil && unchanged != nil {
		if *unchanged, err = c.Webhook(ctx, accountID, id); err != nil {
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

// RotateWebhookSecret appends webhook.secret_rotated and swaps the sealed
// secrets in the same transaction.
func (c *Commands) RotateWebhookSecret(ctx context.Context, cmd RotateWebhookSecret) (WebhookSecretResult, error) {
	res, err := idempotent(ctx, c, cmd.Idem, func(fin finish) (WebhookSecretResult, error) {
		secret, err := newWebhookSecret(c.rnd)
		if err != nil {
			return WebhookSecretResult{}, err
		}
		res := WebhookSecretResult{Secret: secret, SecretSHA256: hashSecret(secret)}
		out, err := c.updateWebhook(ctx, cmd.AccountID, cmd.WebhookID, 0, cmd.Meta, nil,
			func(w domain.Webhook, at time.Time) ([]domain.Event, error) { return w.RotateSecret(cmd.Grace, at) },
			func(w domain.Webhook, _ []domain.Event) eventstore.Inline {
				keep := w.PreviousValidUntil.After(w.UpdatedAt) // UpdatedAt is the rotation's time
				grace := func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
					if !keep {
						// Stopped at once: no earlier grace's secret signs on either.
						_, err := tx.Exec(ctx, `UPDATE webhooks SET previous_secret_sealed = NULL, previous_valid_until = NULL
							WHERE id = $1`, w.ID)
						return err
					}
					_, err := tx.Exec(ctx, `UPDATE webhooks SET previous_valid_until = $2 WHERE id = $1`, w.ID, w.PreviousValidUntil)
					return err
				}
				return inlineAll(upsertWebhook(w), c.sealWebhookSecret(w.ID, secret, keep), grace,
					readWebhookInto(w.ID, &res.Webhook), finishWith(fin, &res.Written, func() any { return res }))
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

// DisableWebhook appends webhook.disabled.
func (c *Commands) DisableWebhook(ctx context.Context, cmd DisableWebhook) (WebhookResult, error) {
	var res WebhookResult
	out, err := c.updateWebhook(ctx, cmd.AccountID, cmd.WebhookID, 0, cmd.Meta, &res.Webhook,
		func(w domain.Webhook, at time.Time) ([]domain.Event, error) {
			return w.Disable(cmd.Reason, cmd.Detail, at)
		},
		func(w domain.Webhook, _ []domain.Event) eventstore.Inline {
			return inlineAll(upsertWebhook(w), readWebhookInto(w.ID, &res.Webhook))
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

// DeleteWebhook appends webhook.deleted and nulls the sealed secrets in the
// same transaction.
func (c *Commands) DeleteWebhook(ctx context.Context, cmd DeleteWebhook) (WebhookResult, error) {
	return idempotent(ctx, c, cmd.Idem, func(fin finish) (WebhookResult, error) {
		var res WebhookResult
		out, err := c.updateWebhook(ctx, cmd.AccountID, cmd.WebhookID, cmd.IfVersion, cmd.Meta, nil,
			func(w domain.Webhook, at time.Time) ([]domain.Event, error) { return w.Delete(at) },
			func(w domain.Webhook, _ []domain.Event) eventstore.Inline {
				destroy := func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
					_, err := tx.Exec(ctx, `UPDATE webhooks SET secret_sealed = NULL, previous_secret_sealed = NULL,
						previous_valid_until = NULL WHERE id = $1`, w.ID)
					return err
				}
				return inlineAll(upsertWebhook(w), destroy, readWebhookInto(w.ID, &res.Webhook),
					finishWith(fin, &res.Written, func() any { return res }))
			})
		if err != nil {
			return WebhookResult{}, err
		}
		res.Written = written(out)
		return res, nil
	})
}
