package domain

import (
	"encoding/base64"
	"errors"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// AggregateWebhook names webhook subscription streams ("webhook-<id>") and
// the first part of their event names.
const AggregateWebhook = "webhook"

// WebhookStream is the stream id of a webhook subscription.
func WebhookStream(id uuid.UUID) string { return AggregateWebhook + "-" + id.String() }

// ErrWebhookNotFound: no such subscription in the account, or a deleted one.
var ErrWebhookNotFound = errors.New("webhook not found")

// Message types that exist only in webhook deliveries, never in the log.
const (
	// EventLeadLeftScope tells a filtered subscription that a lead it was
	// told about no longer matches its filter; it carries no lead data.
	EventLeadLeftScope = "lead.left_scope"
	// EventWebhookTest is the message "send test event" delivers.
	EventWebhookTest = "webhook.test"
)

// WebhookEventTypes lists the event types a subscription may ask for; no
// list means all of them.
func WebhookEventTypes() []string {
	return []string{LeadCreated{}.EventType(), LeadUpdated{}.EventType(), FileAttached{}.EventType(),
		FileRemoved{}.EventType(), EventLeadLeftScope}
}

// Why a subscription was disabled: stable strings, shown in the API.
const (
	WebhookDisabledManually = "manual"  // an admin disabled it
	WebhookDisabledGone     = "gone"    // the endpoint answered 410 Gone
	WebhookDisabledFailing  = "failing" // every attempt failed for the failure period
)

// MaxWebhookURL bounds a subscription's URL.
const MaxWebhookURL = 2048

// Webhook signing secrets follow Standard Webhooks: "whsec_" and the
// base64 of the key bytes.
const (
	WebhookSecretPrefix = "whsec_"
	webhookKeyLen       = 32
)

// FormatWebhookSecret turns 32 random bytes into a signing secret.
func FormatWebhookSecret(random [32]byte) string {
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(random[:])
}

// WebhookSigningKey returns the HMAC key of a signing secret.
func WebhookSigningKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, WebhookSecretPrefix))
	if err != nil || !strings.HasPrefix(secret, WebhookSecretPrefix) || len(key) != webhookKeyLen {
		return nil, errors.New("not a whsec_ signing secret")
	}
	return key, nil
}

// WebhookCreated: a subscription of an endpoint to a campaign's lead
// events. The signing secret is never in the log.
type WebhookCreated struct {
	WebhookID  uuid.UUID  `json:"webhook_id"`
	AccountID  uuid.UUID  `json:"account_id"`
	CampaignID uuid.UUID  `json:"campaign_id"`
	FilterID   *uuid.UUID `json:"filter_id,omitempty"`
	URL        string     `json:"url"`
	EventTypes []string   `json:"event_types,omitempty"`
	At         time.Time  `json:"at"`
}

// WebhookUpdated: URL, filter or event types changed. Nil members are
// unchanged; ClearFilter removes the filter; EventTypes pointing at an
// empty list means every event type.
type WebhookUpdated struct {
	WebhookID   uuid.UUID  `json:"webhook_id"`
	URL         *string    `json:"url,omitempty"`
	FilterID    *uuid.UUID `json:"filter_id,omitempty"`
	ClearFilter bool       `json:"clear_filter,omitempty"`
	EventTypes  *[]string  `json:"event_types,omitempty"`
	At          time.Time  `json:"at"`
}

// WebhookSecretRotated: a new signing secret; the previous one keeps
// signing beside it until PreviousValidUntil, which is At when it stopped
// at once.
type WebhookSecretRotated struct {
	WebhookID          uuid.UUID `json:"webhook_id"`
	PreviousValidUntil time.Time `json:"previous_valid_until"`
	At                 time.Time `json:"at"`
}

// WebhookSecretRevealed: the signing secret was shown again, by an
// idempotent replay of the request that made it.
type WebhookSecretRevealed struct {
	WebhookID uuid.UUID `json:"webhook_id"`
	At        time.Time `json:"at"`
}

// WebhookDisabled: deliveries stopped, by an admin or because the endpoint
// is gone or kept failing. Detail says what was seen.
type WebhookDisabled struct {
	WebhookID uuid.UUID `json:"webhook_id"`
	Reason    string    `json:"reason"`
	Detail    string    `json:"detail,omitempty"`
	At        time.Time `json:"at"`
}

// WebhookEnabled: deliveries resume with the next event.
type WebhookEnabled struct {
	WebhookID uuid.UUID `json:"webhook_id"`
	At        time.Time `json:"at"`
}

// WebhookDeleted: the subscription is gone, and its secrets with it.
type WebhookDeleted struct {
	WebhookID uuid.UUID `json:"webhook_id"`
	At        time.Time `json:"at"`
}

// Event names: stable strings, never derived from Go type names.
func (WebhookCreated) EventType() string        { return "webhook.created" }
func (WebhookUpdated) EventType() string        { return "webhook.updated" }
func (WebhookSecretRotated) EventType() string  { return "webhook.secret_rotated" }
func (WebhookSecretRevealed) EventType() string { return "webhook.secret_revealed" }
func (WebhookDisabled) EventType() string       { return "webhook.disabled" }
func (WebhookEnabled) EventType() string        { return "webhook.enabled" }
func (WebhookDeleted) EventType() string        { return "webhook.deleted" }

// Webhook is the webhook subscription aggregate.
type Webhook struct {
	ID                 uuid.UUID
	AccountID          uuid.UUID
	CampaignID         uuid.UUID
	FilterID           *uuid.UUID
	URL                string
	EventTypes         []string // empty: every type
	Disabled           bool
	DisabledReason     string
	DisabledDetail     string
	DisabledAt         time.Time
	Deleted            bool
	PreviousValidUntil time.Time
	Version            int64
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// Exists reports whether the subscription was created and not deleted.
func (w Webhook) Exists() bool { return w.Version > 0 && !w.Deleted }

// Wants reports whether the subscription asked for events of type t.
func (w Webhook) Wants(t string) bool {
	return len(w.EventTypes) == 0 || slices.Contains(w.EventTypes, t)
}

// Evolve applies one event.
func (w Webhook) Evolve(e Event) Webhook {
	switch e := e.(type) {
	case WebhookCreated:
		w.ID, w.AccountID, w.CampaignID, w.FilterID = e.WebhookID, e.AccountID, e.CampaignID, e.FilterID
		w.URL, w.EventTypes, w.CreatedAt, w.UpdatedAt = e.URL, e.EventTypes, e.At, e.At
	case WebhookUpdated:
		if e.URL != nil {
			w.URL = *e.URL
		}
		if e.FilterID != nil {
			w.FilterID = e.FilterID
		}
		if e.ClearFilter {
			w.FilterID = nil
		}
		if e.EventTypes != nil {
			w.EventTypes = *e.EventTypes
		}
		w.UpdatedAt = e.At
	case WebhookSecretRotated:
		w.PreviousValidUntil, w.UpdatedAt = e.PreviousValidUntil, e.At
	case WebhookDisabled:
		w.Disabled, w.DisabledReason, w.DisabledDetail, w.DisabledAt, w.UpdatedAt = true, e.Reason, e.Detail, e.At, e.At
	case WebhookEnabled:
		w.Disabled, w.DisabledReason, w.DisabledDetail, w.DisabledAt, w.UpdatedAt = false, "", "", time.Time{}, e.At
	case WebhookDeleted:
		w.Deleted, w.UpdatedAt = true, e.At
	}
	w.Version++
	return w
}

// FoldWebhook folds a subscription's history.
func FoldWebhook(history []Event) Webhook { return Fold(Webhook{}, history) }

// NewWebhook is what CreateWebhook needs to know. URL is checked for its
// form here; whether its address may be reached is the caller's check.
type NewWebhook struct {
	ID         uuid.UUID
	AccountID  uuid.UUID
	CampaignID uuid.UUID
	Filter     *Filter // a filter of the campaign, loaded by the caller; nil for none
	URL        string
	EventTypes []string
}

// CreateWebhook decides a new subscription.
func CreateWebhook(n NewWebhook, at time.Time) ([]Event, error) {
	v := &ValidationError{}
	u := ValidWebhookURL(v, "url", n.URL)
	types := validEventTypes(v, n.EventTypes)
	var filterID *uuid.UUID
	if n.Filter != nil {
		validFilterFor(v, n.Filter, &n.CampaignID, n.AccountID)
		id := n.Filter.ID
		filterID = &id
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{WebhookCreated{WebhookID: n.ID, AccountID: n.AccountID, CampaignID: n.CampaignID, FilterID: filterID,
		URL: u, EventTypes: types, At: at}}, nil
}

// WebhookChanges is an update of a subscription; nil members stay as they
// are. EventTypes pointing at an empty list asks for every type.
type WebhookChanges struct {
	URL         *string
	Filter      *Filter // a new filter, loaded by the caller
	ClearFilter bool
	EventTypes  *[]string
	Enabled     *bool
}

// Update decides changes of URL, filter, event types and enablement; what
// does not change decides nothing.
func (w Webhook) Update(c WebhookChanges, at time.Time) ([]Event, error) {
	if !w.Exists() {
		return nil, ErrWebhookNotFound
	}
	v := &ValidationError{}
	e := WebhookUpdated{WebhookID: w.ID, ClearFilter: c.ClearFilter && w.FilterID != nil, At: at}
	if c.URL != nil {
		if u := ValidWebhookURL(v, "url", *c.URL); u != w.URL && u != "" {
			e.URL = &u
		}
	}
	if c.Filter != nil {
		validFilterFor(v, c.Filter, &w.CampaignID, w.AccountID)
		if w.FilterID == nil || *w.FilterID != c.Filter.ID {
			id := c.Filter.ID
			e.FilterID, e.ClearFilter = &id, false
		}
	}
	if c.EventTypes != nil {
		types := validEventTypes(v, *c.EventTypes)
		if !slices.Equal(types, w.EventTypes) {
			if types == nil {
				types = []string{}
			}
			e.EventTypes = &types
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out []Event
	if e.URL != nil || e.FilterID != nil || e.ClearFilter || e.EventTypes != nil {
		out = append(out, e)
	}
	if c.Enabled != nil {
		switch {
		case *c.Enabled && w.Disabled:
			out = append(out, WebhookEnabled{WebhookID: w.ID, At: at})
		case !*c.Enabled && !w.Disabled:
			out = append(out, WebhookDisabled{WebhookID: w.ID, Reason: WebhookDisabledManually, At: at})
		}
	}
	return out, nil
}

// RotateSecret decides a new signing secret; the old one keeps signing for
// grace (0: it stops at once; at most MaxRotationGrace), as a token's.
func (w Webhook) RotateSecret(grace time.Duration, at time.Time) ([]Event, error) {
	if !w.Exists() {
		return nil, ErrWebhookNotFound
	}
	if err := validGrace(grace); err != nil {
		return nil, err
	}
	return []Event{WebhookSecretRotated{WebhookID: w.ID, PreviousValidUntil: at.Add(grace), At: at}}, nil
}

// RevealSecret records that the signing secret is shown again.
func (w Webhook) RevealSecret(at time.Time) ([]Event, error) {
	if !w.Exists() {
		return nil, ErrWebhookNotFound
	}
	return []Event{WebhookSecretRevealed{WebhookID: w.ID, At: at}}, nil
}

// Disable decides stopping deliveries for reason; an already disabled
// subscription stays as it is (the first reason is kept).
func (w Webhook) Disable(reason, detail string, at time.Time) ([]Event, error) {
	if !w.Exists() {
		return nil, ErrWebhookNotFound
	}
	switch reason {
	case WebhookDisabledManually, WebhookDisabledGone, WebhookDisabledFailing:
	default:
		return nil, Invalid("reason", CodeInvalidValue, "unknown reason %s", quote(reason))
	}
	if w.Disabled {
		return nil, nil
	}
	if len(detail) > 200 {
		detail = detail[:200]
	}
	return []Event{WebhookDisabled{WebhookID: w.ID, Reason: reason, Detail: detail, At: at}}, nil
}

// Delete decides the deletion; deleting twice is not found.
func (w Webhook) Delete(at time.Time) ([]Event, error) {
	if !w.Exists() {
		return nil, ErrWebhookNotFound
	}
	return []Event{WebhookDeleted{WebhookID: w.ID, At: at}}, nil
}

// ValidWebhookURL checks the form of an endpoint URL and returns it as it
// will be stored (empty when invalid): absolute http or https, a host, no
// credentials (they would be kept in the log) and no fragment.
func ValidWebhookURL(v *ValidationError, field, raw string) string {
	u, err := url.Parse(raw)
	switch {
	case !validText(v, field, raw):
	case raw == "" || strings.TrimSpace(raw) != raw:
		v.Add(field, CodeInvalidFormat, "an http or https URL is required")
	case len(raw) > MaxWebhookURL:
		v.Add(field, CodeInvalidValue, "the URL is longer than %d characters", MaxWebhookURL)
	case err != nil || !u.IsAbs() || u.Opaque != "":
		v.Add(field, CodeInvalidFormat, "%s is not an absolute URL", quote(raw))
	case u.Scheme != "http" && u.Scheme != "https":
		v.Add(field, CodeInvalidValue, "only http and https URLs can receive webhooks")
	case u.Hostname() == "":
		v.Add(field, CodeInvalidFormat, "the URL names no host")
	case u.User != nil:
		v.Add(field, CodeInvalidValue, "the URL may not carry credentials; verify the webhook-signature header instead")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		v.Add(field, CodeInvalidValue, "the URL may not have a fragment")
	case !validPort(u.Port()):
		v.Add(field, CodeInvalidValue, "the port is not between 1 and 65535")
	default:
		return u.String()
	}
	return ""
}

func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// ForbiddenWebhookAddress reports whether an endpoint address is one a
// webhook must not reach unless private targets are allowed. An IPv4
// address must lie outside every special-purpose range. An IPv6 address
// must be global unicast (2000::/3) and outside the special ranges there;
// every IPv6 form that embeds or translates to an IPv4 address (mapped,
// compatible, NAT64, 6to4, Teredo) is refused whatever that address,
// because the host finally reached is not the address checked. ip is the
// address as written in a URL or as connected to; a resolver's IPv4
// answer given in mapped form is unmapped by the caller first.
func ForbiddenWebhookAddress(ip netip.Addr) bool {
	// A zone only means something on one link.
	if !ip.IsValid() || ip.Zone() != "" {
		return true
	}
	if ip.Is4() {
		return inAnyPrefix(forbiddenIPv4, ip)
	}
	return !globalUnicastIPv6.Contains(ip) || inAnyPrefix(forbiddenIPv6, ip)
}

func inAnyPrefix(ps []netip.Prefix, ip netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// The ranges of docs/webhooks.md#safety; keep the two together.
var (
	forbiddenIPv4 = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
		netip.MustParsePrefix("10.0.0.0/8"),      // private
		netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (carrier-grade NAT)
		netip.MustParsePrefix("127.0.0.0/8"),     // loopback
		netip.MustParsePrefix("169.254.0.0/16"),  // link-local, cloud metadata
		netip.MustParsePrefix("172.16.0.0/12"),   // private
		netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
		netip.MustParsePrefix("192.0.2.0/24"),    // documentation
		netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast, a way back into IPv6
		netip.MustParsePrefix("192.168.0.0/16"),  // private
		netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
		netip.MustParsePrefix("198.51.100.0/24"), // documentation
		netip.MustParsePrefix("203.0.113.0/24"),  // documentation
		netip.MustParsePrefix("224.0.0.0/4"),     // multicast
		netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
	}
	// globalUnicastIPv6 is the only IPv6 space allocated to hosts. Outside
	// it: ::/8 (unspecified, loopback, IPv4-mapped ::ffff:0:0/96,
	// IPv4-compatible ::/96, IPv4-translated ::ffff:0:0:0/96), NAT64
	// 64:ff9b::/96 and 64:ff9b:1::/48, discard-only 100::/64, SRv6
	// 5f00::/16, unique local fc00::/7, link-local fe80::/10, site-local
	// fec0::/10 and multicast ff00::/8.
	globalUnicastIPv6 = netip.MustParsePrefix("2000::/3")
	forbiddenIPv6     = []netip.Prefix{
		netip.MustParsePrefix("2001::/23"),     // IETF protocol assignments: Teredo 2001::/32 (wraps an IPv4 address), benchmarking, ORCHID 2001:10::/28, ORCHIDv2
		netip.MustParsePrefix("2001:db8::/32"), // documentation
		netip.MustParsePrefix("2002::/16"),     // 6to4, which wraps an IPv4 address
		netip.MustParsePrefix("3fff::/20"),     // documentation
	}
)

func validEventTypes(v *ValidationError, types []string) []string {
	known := WebhookEventTypes()
	if !validCount(v, "event_types", len(types), MaxEventTypes, "event types") {
		return nil
	}
	var out []string
	for i, t := range types {
		if !slices.Contains(known, t) {
			v.Add(indexPath("event_types", i), CodeInvalidValue, "unknown event type %s (%s)", quote(t), strings.Join(known, ", "))
			continue
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out
}
