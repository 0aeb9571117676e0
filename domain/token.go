package domain

import (
	"hash/crc32"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Permission is what a token may do.
type Permission string

// The permissions. Campaign-scoped tokens carry only read and write.
const (
	PermRead  Permission = "read"
	PermWrite Permission = "write"
	PermAdmin Permission = "admin"
	PermAudit Permission = "audit"
)

// MaxRotationGrace bounds how long a rotated secret may keep working.
// There is no default grace: the usual reason to rotate is a leak, so
// the old secret ends at once unless a grace period is asked for.
const MaxRotationGrace = 7 * 24 * time.Hour

// Token is the token aggregate: a named, scoped credential.
type Token struct {
	ID                 uuid.UUID
	AccountID          uuid.UUID
	CampaignID         *uuid.UUID
	FilterID           *uuid.UUID
	Name               string
	Permissions        []Permission
	ExpiresAt          *time.Time
	Revoked            bool
	SecretPrefix       string
	SecretLast4        string
	DocsID             string
	PreviousValidUntil time.Time
	Version            int64
	CreatedAt          time.Time
}

// Exists reports whether the token has been created.
func (t Token) Exists() bool { return t.Version > 0 }

// Can reports whether the token carries permission p.
func (t Token) Can(p Permission) bool { return slices.Contains(t.Permissions, p) }

// Active reports whether the token authenticates at now.
func (t Token) Active(now time.Time) bool {
	return t.Exists() && !t.Revoked && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

// Administers reports whether the token can administer its account at
// now: a live account-level token with admin.
func (t Token) Administers(now time.Time) bool {
	return t.CampaignID == nil && t.Can(PermAdmin) && t.Active(now)
}

// Evolve applies one event.
func (t Token) Evolve(e Event) Token {
	switch e := e.(type) {
	case TokenCreated:
		t.ID, t.AccountID, t.CampaignID, t.FilterID = e.TokenID, e.AccountID, e.CampaignID, e.FilterID
		t.Name, t.Permissions, t.ExpiresAt = e.Name, e.Permissions, e.ExpiresAt
		t.SecretPrefix, t.SecretLast4, t.DocsID, t.CreatedAt = e.SecretPrefix, e.SecretLast4, e.DocsID, e.At
	case TokenUpdated:
		if e.Name != nil {
			t.Name = *e.Name
		}
		if e.Permissions != nil {
			t.Permissions = e.Permissions
		}
		if e.FilterID != nil {
			t.FilterID = e.FilterID
		}
		if e.ClearFilter {
			t.FilterID = nil
		}
		if e.ExpiresAt != nil {
			t.ExpiresAt = e.ExpiresAt
		}
		if e.ClearExpiry {
			t.ExpiresAt = nil
		}
	case TokenRotated:
		t.SecretPrefix, t.SecretLast4, t.PreviousValidUntil = e.SecretPrefix, e.SecretLast4, e.PreviousValidUntil
	case TokenRevoked:
		t.Revoked = true
	}
	t.Version++
	return t
}

// FoldToken folds a token's history.
func FoldToken(history []Event) Token { return Fold(Token{}, history) }

// NewToken is what CreateToken needs to know.
type NewToken struct {
	ID         uuid.UUID
	AccountID  uuid.UUID
	CampaignID *uuid.UUID
	Filter     *Filter // the token's filter, loaded by the caller; nil for none
	// EveryLead says that a campaign token without Filter is meant to see
	// every lead of its campaign: breadth is never a default.
	EveryLead    bool
	Name         string
	Permissions  []Permission
	ExpiresAt    *time.Time
	SecretPrefix string
	SecretLast4  string
	DocsID       string
}

// CreateToken decides a new token. Account-level tokens (no campaign) may
// carry any permission; campaign tokens only read and write, and either a
// live filter of that campaign or EveryLead.
func CreateToken(n NewToken, at time.Time) ([]Event, error) {
	v := &ValidationError{}
	validName(v, "name", n.Name)
	perms := validPermissions(v, n.Permissions, n.CampaignID != nil)
	switch {
	case n.CampaignID == nil:
	case n.Filter == nil && !n.EveryLead:
		v.Add("filter_id", CodeRequired, "a campaign token needs filter_id: the id of a filter of the campaign, or null for every lead of the campaign")
	case n.Filter != nil && n.EveryLead:
		v.Add("filter_id", CodeInvalidValue, "a campaign token has a filter or every lead of the campaign, not both")
	}
	var filterID *uuid.UUID
	if n.Filter != nil {
		validFilterFor(v, n.Filter, n.CampaignID, n.AccountID)
		id := n.Filter.ID
		filterID = &id
	}
	if n.ExpiresAt != nil && !n.ExpiresAt.After(at) {
		v.Add("expires_at", CodeInvalidValue, "the expiry must be in the future")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return []Event{TokenCreated{TokenID: n.ID, AccountID: n.AccountID, CampaignID: n.CampaignID, FilterID: filterID,
		Name: n.Name, Permissions: perms, ExpiresAt: n.ExpiresAt, SecretPrefix: n.SecretPrefix,
		SecretLast4: n.SecretLast4, DocsID: n.DocsID, At: at}}, nil
}

// TokenChanges is an update of a token; nil fields stay as they are.
type TokenChanges struct {
	Name        *string
	Permissions []Permission
	Filter      *Filter // a new filter, loaded by the caller
	ClearFilter bool
	ExpiresAt   *time.Time
	ClearExpiry bool
}

// Update decides changes of name, permissions, filter or expiry.
func (t Token) Update(c TokenChanges, at time.Time) ([]Event, error) {
	if !t.Exists() {
		return nil, ErrTokenNotFound
	}
	if t.Revoked {
		return nil, ErrTokenRevoked
	}
	v := &ValidationError{}
	e := TokenUpdated{TokenID: t.ID, At: at, ClearFilter: c.ClearFilter && t.FilterID != nil,
		ClearExpiry: c.ClearExpiry && t.ExpiresAt != nil}
	if c.Name != nil {
		validName(v, "name", *c.Name)
		if *c.Name != t.Name {
			e.Name = c.Name
		}
	}
	if c.Permissions != nil {
		perms := validPermissions(v, c.Permissions, t.CampaignID != nil)
		if !slices.Equal(perms, t.Permissions) {
			e.Permissions = perms
		}
	}
	if c.Filter != nil {
		validFilterFor(v, c.Filter, t.CampaignID, t.AccountID)
		if t.FilterID == nil || *t.FilterID != c.Filter.ID {
			id := c.Filter.ID
			e.FilterID = &id
		}
	}
	if c.ExpiresAt != nil {
		if !c.ExpiresAt.After(at) {
			v.Add("expires_at", CodeInvalidValue, "the expiry must be in the future")
		}
		if t.ExpiresAt == nil || !t.ExpiresAt.Equal(*c.ExpiresAt) {
			e.ExpiresAt = c.ExpiresAt
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if e.Name == nil && e.Permissions == nil && e.FilterID == nil && e.ExpiresAt == nil && !e.ClearFilter && !e.ClearExpiry {
		return nil, nil
	}
	return []Event{e}, nil
}

// Rotate decides a new secret; the old one stays valid for grace (0: it
// ends at once, the rotation's time; at most MaxRotationGrace).
func (t Token) Rotate(prefix, last4 string, grace time.Duration, at time.Time) ([]Event, error) {
	if !t.Exists() {
		return nil, ErrTokenNotFound
	}
	if t.Revoked {
		return nil, ErrTokenRevoked
	}
	if err := validGrace(grace); err != nil {
		return nil, err
	}
	return []Event{TokenRotated{TokenID: t.ID, SecretPrefix: prefix, SecretLast4: last4, PreviousValidUntil: at.Add(grace), At: at}}, nil
}

// Reveal records an admin's "Show" of the secret.
func (t Token) Reveal(at time.Time) ([]Event, error) {
	if !t.Exists() {
		return nil, ErrTokenNotFound
	}
	if t.Revoked {
		return nil, ErrTokenRevoked
	}
	return []Event{TokenRevealed{TokenID: t.ID, At: at}}, nil
}

// Revoke decides revocation; revoking twice is a no-op.
func (t Token) Revoke(at time.Time) ([]Event, error) {
	if !t.Exists() {
		return nil, ErrTokenNotFound
	}
	if t.Revoked {
		return nil, nil
	}
	return []Event{TokenRevoked{TokenID: t.ID, At: at}}, nil
}

func validGrace(grace time.Duration) error {
	if grace < 0 || grace > MaxRotationGrace {
		return Invalid("grace_period", CodeInvalidValue, "the grace period is between 0 (the old secret ends at once) and 7 days")
	}
	return nil
}

func validPermissions(v *ValidationError, perms []Permission, scoped bool) []Permission {
	if len(perms) == 0 {
		v.Add("permissions", CodeRequired, "at least one permission is required")
	}
	if !validCount(v, "permissions", len(perms), 4, "permissions (read, write, admin, audit)") {
		return nil
	}
	var out []Permission
	for _, p := range perms {
		switch p {
		case PermRead, PermWrite:
		case PermAdmin, PermAudit:
			if scoped {
				v.Add("permissions", CodeInvalidValue, "a campaign token carries only read and write, not %s", p)
			}
		default:
			v.Add("permissions", CodeInvalidValue, "unknown permission %s (read, write, admin, audit)", quote(p))
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func validFilterFor(v *ValidationError, f *Filter, campaignID *uuid.UUID, accountID uuid.UUID) {
	switch {
	case campaignID == nil:
		v.Add("filter_id", CodeInvalidValue, "only a campaign token can have a filter")
	case !f.Exists() || f.AccountID != accountID:
		v.Add("filter_id", CodeInvalidValue, "no such filter")
	case f.CampaignID != *campaignID:
		v.Add("filter_id", CodeInvalidValue, "the filter belongs to another campaign")
	}
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Token secret layout: "lsk_" + 43 base62 characters of 32 random bytes +
// 6 base62 characters of the CRC32 of those 43, so a scanner can tell a
// real token offline.
const (
	TokenSecretPrefix = "lsk_"
	tokenBodyLen      = 43
	tokenCheckLen     = 6
	TokenSecretLen    = len(TokenSecretPrefix) + tokenBodyLen + tokenCheckLen
)

func encodeBase62(b []byte, width int) string {
	n := new(big.Int).SetBytes(b)
	out := make([]byte, width)
	base := big.NewInt(62)
	mod := new(big.Int)
	for i := width - 1; i >= 0; i-- {
		n.DivMod(n, base, mod)
		out[i] = base62[mod.Int64()]
	}
	return string(out)
}

func tokenChecksum(body string) string {
	c := crc32.ChecksumIEEE([]byte(body))
	return encodeBase62([]byte{byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)}, tokenCheckLen)
}

// FormatTokenSecret turns 32 random bytes into a token secret.
func FormatTokenSecret(random [32]byte) string {
	body := encodeBase62(random[:], tokenBodyLen)
	return TokenSecretPrefix + body + tokenChecksum(body)
}

// ValidTokenSecretFormat checks prefix, length, alphabet and checksum.
func ValidTokenSecretFormat(s string) bool {
	if len(s) != TokenSecretLen || !strings.HasPrefix(s, TokenSecretPrefix) {
		return false
	}
	rest := s[len(TokenSecretPrefix):]
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(base62, rest[i]) < 0 {
			return false
		}
	}
	return tokenChecksum(rest[:tokenBodyLen]) == rest[tokenBodyLen:]
}

// SecretDisplayPrefix is the part of a secret shown in lists: "lsk_" and
// four characters.
func SecretDisplayPrefix(s string) string {
	if len(s) < len(TokenSecretPrefix)+4 {
		return s
	}
	return s[:len(TokenSecretPrefix)+4]
}

// SecretLast4 is the last four characters of a secret, shown in lists.
func SecretLast4(s string) string {
	if len(s) < 4 {
		return s
	}
	return s[len(s)-4:]
}
