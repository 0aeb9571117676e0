package api

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
)

// The JSON shapes of the API's resources. They are built from command
// results and read models and from nothing else, so a replayed idempotent
// write encodes exactly as the first answer did.

type campaignJSON struct {
	ID       uuid.UUID       `json:"id"`
	Name     string          `json:"name"`
	Fields   []domain.Field  `json:"fields"`
	Selects  []domain.Select `json:"selects"`
	Statuses []domain.Status `json:"statuses"`
	// Retention is the policy that erases the campaign's leads; null: none.
	Retention *domain.Retention `json:"retention"`
	Version   int64             `json:"version"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

func campaignOut(c domain.Campaign) campaignJSON {
	// Every field says whether it is personal, those stored before the
	// flag existed by their type's default.
	out := campaignJSON{ID: c.ID, Name: c.Name, Fields: nonNil(c.Schema.WithPersonalDefaults().Fields), Selects: nonNil(c.Schema.Selects),
		Statuses: nonNil(c.Schema.Statuses), Retention: c.Retention, Version: c.Version, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	for i, s := range out.Selects {
		out.Selects[i].Options = nonNil(s.Options)
	}
	return out
}

type filterJSON struct {
	ID         uuid.UUID `json:"id"`
	CampaignID uuid.UUID `json:"campaign_id"`
	Name       string    `json:"name"`
	// Match is all for a filter that lets every lead through on purpose,
	// conditions otherwise.
	Match      domain.FilterMatch   `json:"match"`
	Conditions []domain.Condition   `json:"conditions"`
	Any        [][]domain.Condition `json:"any,omitempty"`
	// Explain says in words what the filter lets through.
	Explain []string `json:"explain"`
	Version int64    `json:"version"`
}

func filterOut(f domain.Filter, s domain.Schema) filterJSON {
	return filterJSON{ID: f.ID, CampaignID: f.CampaignID, Name: f.Name, Match: f.Match(), Conditions: nonNil(f.Conditions), Any: f.Any,
		Explain: nonNil(f.Explain(s)), Version: f.Version}
}

type tokenJSON struct {
	ID                       uuid.UUID           `json:"id"`
	Name                     string              `json:"name"`
	CampaignID               *uuid.UUID          `json:"campaign_id"`
	FilterID                 *uuid.UUID          `json:"filter_id"`
	Permissions              []domain.Permission `json:"permissions"`
	ExpiresAt                *time.Time          `json:"expires_at"`
	RevokedAt                *time.Time          `json:"revoked_at"`
	SecretPrefix             string              `json:"secret_prefix"`
	SecretLast4              string              `json:"secret_last4"`
	PreviousSecretValidUntil *time.Time          `json:"previous_secret_valid_until"`
	LastUsedAt               *time.Time          `json:"last_used_at"`
	CreatedAt                time.Time           `json:"created_at"`
	Version                  int64               `json:"version"`
	DocsURL                  string              `json:"docs_url"`
	// Secret is only in the answers that make or show it (secretMember).
	Secret         json.RawMessage `json:"secret,omitempty"`
	SecretWithheld string          `json:"secret_withheld,omitempty"`
}

// secretMember is the secret member of an answer: the secret itself; JSON
// null when a replay withholds it (secret_withheld says why); absent from
// the answers that never carry one.
func secretMember(secret, withheld string) json.RawMessage {
	switch {
	case secret != "":
		b, _ := json.Marshal(secret)
		return b
	case withheld != "":
		return json.RawMessage("null")
	}
	return nil
}

func (a *API) tokenOut(t commands.TokenInfo, secret string) tokenJSON {
	return tokenJSON{ID: t.ID, Name: t.Name, CampaignID: t.CampaignID, FilterID: t.FilterID, Permissions: nonNil(t.Permissions),
		ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt, SecretPrefix: t.SecretPrefix, SecretLast4: t.SecretLast4,
		PreviousSecretValidUntil: t.PreviousValidUntil, LastUsedAt: t.LastUsedAt, CreatedAt: t.CreatedAt,
		Version: t.Version, DocsURL: a.publicURL + "/docs/" + t.DocsID, Secret: secretMember(secret, "")}
}

// TokenJSON is a token as POST /v1/tokens answers it, secret included,
// for `leadsvc token create --json` to print the same.
func TokenJSON(publicURL string, t commands.TokenInfo, secret string) any {
	a := API{publicURL: publicURL}
	return a.tokenOut(t, secret)
}

type leadJSON struct {
	ID         uuid.UUID     `json:"id"`
	CampaignID uuid.UUID     `json:"campaign_id"`
	Status     string        `json:"status"`
	Fields     domain.Fields `json:"fields"`
	Files      []fileJSON    `json:"files"`
	Version    int64         `json:"version"`
	CreatedAt  time.Time     `json:"created_at"`
	UpdatedAt  time.Time     `json:"updated_at"`
	// Defaulted, on create only, names the members filled in from the
	// token filter's equality conditions.
	Defaulted []string `json:"defaulted,omitempty"`
}

type fileJSON struct {
	ID          uuid.UUID `json:"id"`
	Name        string    `json:"name"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256"`
	URL         string    `json:"url"`
}

func (a *API) leadOut(l domain.Lead) leadJSON {
	out := leadJSON{ID: l.ID, CampaignID: l.CampaignID, Status: l.Status, Fields: l.Fields, Files: []fileJSON{},
		Version: l.Version, CreatedAt: l.CreatedAt.UTC(), UpdatedAt: l.UpdatedAt.UTC()}
	if out.Fields == nil {
		out.Fields = domain.Fields{}
	}
	for _, f := range l.Files {
		out.Files = append(out.Files, a.fileOut(l.ID, f))
	}
	return out
}

func (a *API) fileOut(leadID uuid.UUID, f domain.FileMeta) fileJSON {
	return fileJSON{ID: f.ID, Name: f.Name, ContentType: f.ContentType, Size: f.Size, SHA256: f.SHA256,
		URL: a.publicURL + "/v1/leads/" + leadID.String() + "/files/" + f.ID.String()}
}

// page is the envelope of every list; next_cursor is null on the last
// page (admin lists are one page).
type page[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// erasureJSON is the answer to an erasure: what it did, no value.
type erasureJSON struct {
	LeadID      uuid.UUID `json:"lead_id"`
	ErasedAt    time.Time `json:"erased_at"`
	Fields      []string  `json:"fields"`
	Rows        int       `json:"rows"`
	ChainIntact bool      `json:"chain_intact"`
}
