package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/views"
)

// CreateToken creates a credential: account-level when CampaignID is nil,
// otherwise bound to that campaign and either one of its filters or, with
// EveryLead, every lead of the campaign on purpose.
type CreateToken struct {
	AccountID   uuid.UUID
	CampaignID  *uuid.UUID
	FilterID    *uuid.UUID
	EveryLead   bool
	Name        string
	Permissions []domain.Permission
	ExpiresAt   *time.Time
	Meta        Meta
	Idem        *Idempotency
	// WithoutSecret: the caller shows no secret, so a replay neither
	// opens it nor records a showing.
	WithoutSecret bool
}

// TokenSecretResult is a token with its secret, returned only when the
// secret is made (create, rotate) or shown. The secret is never stored
// with an idempotent result, only its hash: a replay shows it again from
// the sealed copy while it is still the token's (replayTokenSecret).
type TokenSecretResult struct {
	Token        TokenInfo `json:"token"`
	Secret       string    `json:"-"`
	SecretSHA256 []byte    `json:"secret_sha256,omitempty"`
	// Withheld, on a replay that shows no secret, says why: SecretRotated
	// or SecretRevoked.
	Withheld string `json:"-"`
	Written
}

// TokenResult is a token after a write that does not touch its secret.
type TokenResult struct {
	Token TokenInfo `json:"token"`
	Written
}

// CreateTokenHandler creates tokens.
type CreateTokenHandler struct{ *deps }

// Handle makes the secret, stores its hash and sealed copy in the
// tokens table (never in the log) and appends token.created, all in one
// transaction.
func (c CreateTokenHandler) Handle(ctx context.Context, cmd CreateToken) (TokenSecretResult, error) {
	res, err := idempotent(ctx, c.deps, cmd.Idem, func(fin finish) (TokenSecretResult, error) {
		var filter *domain.Filter
		if cmd.CampaignID != nil {
			if _, err := c.views.Campaign(ctx, cmd.AccountID, *cmd.CampaignID); err != nil {
				return TokenSecretResult{}, err
			}
		}
		if cmd.FilterID != nil {
			f, err := c.views.Filter(ctx, cmd.AccountID, *cmd.FilterID)
			if errors.Is(err, domain.ErrFilterNotFound) {
				return TokenSecretResult{}, domain.Invalid("filter_id", domain.CodeInvalidValue, "no filter %s in this account", cmd.FilterID)
			}
			if err != nil {
				return TokenSecretResult{}, err
			}
			filter = &f
		}
		return c.createToken(ctx, cmd, filter, fin)
	})
	if err != nil || !res.Replayed || cmd.WithoutSecret {
		return res, err
	}
	return c.replayTokenSecret(ctx, cmd.AccountID, res, cmd.Meta)
}

// replayTokenSecret completes the replayed answer of a create or rotation
// with the secret it made, while that is still the token's current secret,
// and records the showing as token.revealed, as a Show is. A secret that
// was rotated away or revoked is never shown, and nothing is recorded:
// Withheld says why.
func (c *deps) replayTokenSecret(ctx context.Context, accountID uuid.UUID, res TokenSecretResult, meta Meta) (TokenSecretResult, error) {
	var secret string
	_, err := c.updateToken(ctx, accountID, res.Token.ID, 0, meta, nil,
		func(t domain.Token, at time.Time) ([]domain.Event, error) { return t.Reveal(at) },
		func(t domain.Token) eventstore.Inline {
			return c.views.WithTokenSecret(t.ID, func(hash, sealed []byte) error {
				if sealed == nil || !sameSecret(hash, res.SecretSHA256) {
					return errSecretChanged // and no token.revealed
				}
				var err error
				secret, err = c.sealer.open(t.ID[:], sealed)
				return err
			})
		})
	switch {
	case errors.Is(err, domain.ErrTokenRevoked):
		res.Withheld = SecretRevoked
	case errors.Is(err, errSecretChanged):
		res.Withheld = SecretRotated
	case err != nil:
		return TokenSecretResult{}, err
	default:
		res.Secret = secret
	}
	return res, nil
}

// newTokenSecret draws a secret and the token's docs id.
func (c *deps) newTokenSecret() (secret, docsID string, err error) {
	if secret, err = newSecret(c.rnd); err != nil {
		return "", "", err
	}
	if docsID, err = newDocsID(c.rnd); err != nil {
		return "", "", err
	}
	return secret, docsID, nil
}

func (c *deps) createToken(ctx context.Context, cmd CreateToken, filter *domain.Filter, fin finish) (TokenSecretResult, error) {
	id := uuid.New()
	secret, docsID, err := c.newTokenSecret()
	if err != nil {
		return TokenSecretResult{}, err
	}
	events, err := domain.CreateToken(domain.NewToken{ID: id, AccountID: cmd.AccountID, CampaignID: cmd.CampaignID,
		Filter: filter, EveryLead: cmd.EveryLead, Name: cmd.Name, Permissions: cmd.Permissions, ExpiresAt: cmd.ExpiresAt,
		SecretPrefix: domain.SecretDisplayPrefix(secret), SecretLast4: domain.SecretLast4(secret), DocsID: docsID}, c.at())
	if err != nil {
		return TokenSecretResult{}, err
	}
	res := TokenSecretResult{Secret: secret, SecretSHA256: hashSecret(secret)}
	a := eventstore.Append{StreamID: domain.TokenStream(id), AccountID: cmd.AccountID, Events: events, Metadata: cmd.Meta}
	if cmd.CampaignID != nil {
		a.CampaignID = *cmd.CampaignID
	}
	out, err := c.store.AppendInline(ctx, inlineAll(
		c.tokenSecretSteps(domain.FoldToken(events), secret, &res.Token),
		finishWith(fin, &res.Written, func() any { return res })), a)
	if err != nil {
		return TokenSecretResult{}, fmt.Errorf("create token: %w", err)
	}
	res.Written = written(out)
	return res, nil
}

// tokenSecretSteps writes the token row with a fresh secret (hash and
// sealed copy) and reads the row back into info.
func (c *deps) tokenSecretSteps(t domain.Token, secret string, info *TokenInfo) eventstore.Inline {
	sealed, err := c.sealer.seal(t.ID[:], secret)
	if err != nil {
		return views.Step(func([]eventstore.Record) error { return err })
	}
	return inlineAll(c.views.UpsertToken(t), c.views.SetTokenSecret(t.ID, hashSecret(secret), sealed), c.views.ReadToken(t.ID, info))
}

// UpdateToken changes a token's name, permissions, filter or expiry. Nil
// fields stay as they are.
type UpdateToken struct {
	AccountID   uuid.UUID
	TokenID     uuid.UUID
	Name        *string
	Permissions []domain.Permission
	FilterID    *uuid.UUID
	ClearFilter bool
	ExpiresAt   *time.Time
	ClearExpiry bool
	IfVersion   int64
	Meta        Meta
	Idem        *Idempotency
}

// UpdateTokenHandler changes tokens.
type UpdateTokenHandler struct{ *deps }

// Handle decides on the token's history; the authentication row
// changes in the same transaction, so the very next request sees it.
func (c UpdateTokenHandler) Handle(ctx context.Context, cmd UpdateToken) (TokenResult, error) {
	return idempotent(ctx, c.deps, cmd.Idem, func(fin finish) (TokenResult, error) {
		changes := domain.TokenChanges{Name: cmd.Name, Permissions: cmd.Permissions, ClearFilter: cmd.ClearFilter,
			ExpiresAt: cmd.ExpiresAt, ClearExpiry: cmd.ClearExpiry}
		if cmd.FilterID != nil {
			f, err := c.views.Filter(ctx, cmd.AccountID, *cmd.FilterID)
			if errors.Is(err, domain.ErrFilterNotFound) {
				return TokenResult{}, domain.Invalid("filter_id", domain.CodeInvalidValue, "no filter %s in this account", cmd.FilterID)
			}
			if err != nil {
				return TokenResult{}, err
			}
			changes.Filter = &f
		}
		var res TokenResult
		out, err := c.updateToken(ctx, cmd.AccountID, cmd.TokenID, cmd.IfVersion, cmd.Meta, &res.Token,
			func(t domain.Token, at time.Time) ([]domain.Event, error) { return t.Update(changes, at) },
			func(t domain.Token) eventstore.Inline {
				return inlineAll(c.views.UpsertToken(t), c.views.ReadToken(t.ID, &res.Token), finishWith(fin, &res.Written, func() any { return res }))
			})
		if err != nil {
			return TokenResult{}, err
		}
		res.Written = written(out)
		return res, nil
	})
}

// updateToken runs one load–decide–append cycle of a token of the account;
// inline builds the transaction's view steps from the decided state. A
// change that would leave the account without a live admin token is
// refused (keepAnAdmin). When nothing was decided and unchanged is not
// nil, it gets the current row.
func (c *deps) updateToken(ctx context.Context, accountID, tokenID uuid.UUID, ifVer int64, meta Meta, unchanged *TokenInfo,
	decide func(domain.Token, time.Time) ([]domain.Event, error), inline func(domain.Token) eventstore.Inline,
) (eventstore.Appended, error) {
	var before, state domain.Token
	var at time.Time
	out, err := c.store.Update(ctx, eventstore.Update{
		StreamID: domain.TokenStream(tokenID), IfVersion: ifVersion(ifVer), AccountID: accountID, Metadata: meta,
		Decide: func(history []eventstore.Record) ([]domain.Event, error) {
			before, at = domain.FoldToken(eventstore.Events(history)), c.at()
			if !before.Exists() || before.AccountID != accountID {
				return nil, domain.ErrTokenNotFound
			}
			events, err := decide(before, at)
			state = domain.Fold(before, events)
			return events, err
		},
		Inline: views.Later(func() eventstore.Inline {
			return inlineAll(c.keepAnAdmin(before, state, at), inline(state))
		}),
	})
	if err != nil {
		return eventstore.Appended{}, fmt.Errorf("token %s: %w", tokenID, mapConflict(err, ifVer > 0))
	}
	if out.Records == nil && unchanged != nil {
		if *unchanged, err = c.views.Token(ctx, accountID, tokenID); err != nil {
			return eventstore.Appended{}, err
		}
	}
	return out, nil
}

// RotateToken gives a token a new secret; the old one keeps working for
// Grace (0: it ends at once; at most 7 days). Only the latest previous
// secret is kept: rotating again ends the earlier grace.
type RotateToken struct {
	AccountID uuid.UUID
	TokenID   uuid.UUID
	Grace     time.Duration
	Meta      Meta
	Idem      *Idempotency
}

// RotateTokenHandler rotates token secrets.
type RotateTokenHandler struct{ *deps }

// Handle appends token.rotated and swaps the secret in the same
// transaction.
func (c RotateTokenHandler) Handle(ctx context.Context, cmd RotateToken) (TokenSecretResult, error) {
	res, err := idempotent(ctx, c.deps, cmd.Idem, func(fin finish) (TokenSecretResult, error) {
		secret, _, err := c.newTokenSecret()
		if err != nil {
			return TokenSecretResult{}, err
		}
		res := TokenSecretResult{Secret: secret, SecretSHA256: hashSecret(secret)}
		var rotated domain.TokenRotated
		out, err := c.updateToken(ctx, cmd.AccountID, cmd.TokenID, 0, cmd.Meta, nil,
			func(t domain.Token, at time.Time) ([]domain.Event, error) {
				events, err := t.Rotate(domain.SecretDisplayPrefix(secret), domain.SecretLast4(secret), cmd.Grace, at)
				if err == nil {
					rotated = events[0].(domain.TokenRotated)
				}
				return events, err
			},
			func(t domain.Token) eventstore.Inline {
				// Without a grace, nothing of the old secret is kept, so it
				// fails even in a process whose clock lags this one.
				var until *time.Time
				if rotated.PreviousValidUntil.After(rotated.At) {
					until = &rotated.PreviousValidUntil
				}
				keepPrevious := c.views.KeepPreviousSecret(t.ID, until)
				return inlineAll(keepPrevious, c.tokenSecretSteps(t, secret, &res.Token), finishWith(fin, &res.Written, func() any { return res }))
			})
		if err != nil {
			return TokenSecretResult{}, err
		}
		res.Written = written(out)
		return res, nil
	})
	if err != nil || !res.Replayed {
		return res, err
	}
	return c.replayTokenSecret(ctx, cmd.AccountID, res, cmd.Meta)
}

// RevealToken is an admin's "Show": it records token.revealed and returns
// the secret from its sealed copy.
type RevealToken struct {
	AccountID uuid.UUID
	TokenID   uuid.UUID
	Meta      Meta
}

// RevealTokenHandler shows token secrets again.
type RevealTokenHandler struct{ *deps }

// Handle refuses a revoked token (domain.ErrTokenRevoked): its secret
// no longer exists.
func (c RevealTokenHandler) Handle(ctx context.Context, cmd RevealToken) (TokenSecretResult, error) {
	var res TokenSecretResult
	out, err := c.updateToken(ctx, cmd.AccountID, cmd.TokenID, 0, cmd.Meta, nil,
		func(t domain.Token, at time.Time) ([]domain.Event, error) { return t.Reveal(at) },
		// The view takes the new version too, so that the token's ETag
		// (and an If-Match taken from it) stays current after a Show.
		func(t domain.Token) eventstore.Inline {
			return inlineAll(c.views.UpsertToken(t), c.views.ReadToken(t.ID, &res.Token))
		})
	if err != nil {
		return TokenSecretResult{}, err
	}
	res.Written = written(out)
	if res.Secret, err = c.openSecret(ctx, cmd.AccountID, cmd.TokenID); err != nil {
		return TokenSecretResult{}, err
	}
	return res, nil
}

func (c *deps) openSecret(ctx context.Context, accountID, tokenID uuid.UUID) (string, error) {
	sealed, err := c.views.SealedTokenSecret(ctx, accountID, tokenID)
	if err != nil {
		return "", err
	}
	if sealed == nil {
		return "", ErrSecretUnavailable
	}
	return c.sealer.open(tokenID[:], sealed)
}

// LastAdminError refuses revoking, or taking admin from, the last live
// admin token of an account: nobody could administer it any more, and no
// request can make a token for it. Nothing was written.
type LastAdminError struct {
	AccountID uuid.UUID
}

func (e *LastAdminError) Error() string {
	return "this is the account's last admin token: revoking it or taking admin from it would leave nobody able to administer the account"
}

// Recovery is how an operator makes a new admin token on the server.
func (e *LastAdminError) Recovery() string {
	return "leadsvc token create --account " + e.AccountID.String() + " --name NAME --permissions read,write,admin"
}

// keepAnAdmin is the inline step of a token change that ends its
// administration of the account (revoked, admin taken away): it refuses
// the change with a LastAdminError when no other live admin token would
// be left. It locks the account's row first, so that such changes of one
// account run one at a time: of two concurrent revocations of the last
// two admin tokens, the second sees the first. A change that keeps the
// token an admin, or of a token that was none, needs no step (nil).
func (c *deps) keepAnAdmin(before, after domain.Token, now time.Time) eventstore.Inline {
	if !before.Administers(now) || after.Administers(now) {
		return nil
	}
	return c.views.CountOtherAdmins(before.AccountID, before.ID, now, func(others int) error {
		if others == 0 {
			return &LastAdminError{AccountID: before.AccountID}
		}
		return nil
	})
}

// RevokeToken ends a token now and destroys its stored secret and any
// previous one still in its grace period. Revoking twice changes nothing.
type RevokeToken struct {
	AccountID uuid.UUID
	TokenID   uuid.UUID
	Meta      Meta
	Idem      *Idempotency
}

// RevokeTokenHandler revokes tokens.
type RevokeTokenHandler struct{ *deps }

// Handle appends token.revoked and clears the secret columns in the
// same transaction: the next request with the token is refused.
func (c RevokeTokenHandler) Handle(ctx context.Context, cmd RevokeToken) (TokenResult, error) {
	return idempotent(ctx, c.deps, cmd.Idem, func(fin finish) (TokenResult, error) {
		var res TokenResult
		at := c.at()
		out, err := c.updateToken(ctx, cmd.AccountID, cmd.TokenID, 0, cmd.Meta, &res.Token,
			func(t domain.Token, _ time.Time) ([]domain.Event, error) { return t.Revoke(at) },
			func(t domain.Token) eventstore.Inline {
				return inlineAll(c.views.UpsertToken(t), c.views.DestroyTokenSecrets(t.ID, at), c.views.ReadToken(t.ID, &res.Token), finishWith(fin, &res.Written, func() any { return res }))
			})
		if err != nil {
			return TokenResult{}, err
		}
		res.Written = written(out)
		return res, nil
	})
}

// Authenticate returns the live token whose secret (or previous secret,
// within its rotation grace) is secret. Unknown, malformed and revoked
// secrets are ErrUnauthenticated alike; an expired token is
// ErrTokenExpired so the client can be told why.
func (c Auth) Authenticate(ctx context.Context, secret string) (TokenInfo, error) {
	t, _, err := c.AuthenticateScoped(ctx, secret)
	return t, err
}

// AuthenticateScoped is Authenticate that also returns a campaign token's
// scope with its filter and campaign, read in the same statement: every
// partner request needs both, and a round trip is a fair share of a
// write's time. The scope is the one ScopeOf gives, with what was read
// attached. What it finds is cached for AuthenticateCached.
func (c Auth) AuthenticateScoped(ctx context.Context, secret string) (TokenInfo, *Scope, error) {
	if !domain.ValidTokenSecretFormat(secret) {
		return TokenInfo{}, nil, ErrUnauthenticated
	}
	return c.authenticateHash(ctx, hashSecret(secret))
}

// authenticateHash is AuthenticateScoped for a well-formed secret's hash.
func (c *deps) authenticateHash(ctx context.Context, h []byte) (TokenInfo, *Scope, error) {
	now := c.at()
	found, ok, err := c.views.Authenticate(ctx, h, now)
	if err != nil {
		return TokenInfo{}, nil, fmt.Errorf("authenticate: %w", err)
	}
	if !ok {
		return TokenInfo{}, nil, ErrUnauthenticated
	}
	t := found.Token
	if t.ExpiresAt != nil && !now.Before(*t.ExpiresAt) {
		return TokenInfo{}, nil, ErrTokenExpired
	}
	sc := ScopeOf(t)
	if sc == nil {
		c.remember(h, t, nil, found.Current)
		return t, nil, nil
	}
	if found.Campaign == nil {
		// A campaign token always has its campaign; let the request find out.
		return t, sc, nil
	}
	sc.filter, sc.camp, sc.prefetched = found.Filter, found.Campaign, true
	c.remember(h, t, sc, found.Current)
	return t, sc, nil
}

// TouchLastUsed records a token's use, at most once a minute, so that
// authentication does not turn every read into a write.
func (c Auth) TouchLastUsed(ctx context.Context, tokenID uuid.UUID) error {
	return c.views.TouchToken(ctx, tokenID, c.at())
}

// tokenViews keeps and reads the tokens view and its secrets.
type tokenViews interface {
	UpsertToken(domain.Token) eventstore.Inline
	SetTokenSecret(id uuid.UUID, hash, sealed []byte) eventstore.Inline
	KeepPreviousSecret(id uuid.UUID, until *time.Time) eventstore.Inline
	DestroyTokenSecrets(id uuid.UUID, at time.Time) eventstore.Inline
	ReadToken(id uuid.UUID, into *TokenInfo) eventstore.Inline
	WithTokenSecret(id uuid.UUID, fn func(hash, sealed []byte) error) eventstore.Inline
	CountOtherAdmins(accountID, tokenID uuid.UUID, now time.Time, fn func(others int) error) eventstore.Inline
	SealedTokenSecret(ctx context.Context, accountID, tokenID uuid.UUID) ([]byte, error)
	Token(ctx context.Context, accountID, id uuid.UUID) (TokenInfo, error)
	Authenticate(ctx context.Context, hash []byte, now time.Time) (views.Authenticated, bool, error)
	TouchToken(ctx context.Context, tokenID uuid.UUID, now time.Time) error
	CheckGuard(ctx context.Context, g eventstore.Guard) error
}
