package commands

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
)

// CreateAccount creates a tenant with its first, all-permission,
// account-level token: the bootstrap credential an operator hands to the
// account's admin.
type CreateAccount struct {
	Name      string
	TokenName string // default "Owner"
	Meta      Meta
}

// AccountResult is a new account and its owner token.
type AccountResult struct {
	Account domain.Account `json:"account"`
	Token   TokenInfo      `json:"token"`
	Secret  string         `json:"-"`
	Written
}

// AllPermissions are those of an account's owner token.
var AllPermissions = []domain.Permission{domain.PermRead, domain.PermWrite, domain.PermAdmin, domain.PermAudit}

// CreateAccountHandler creates accounts.
type CreateAccountHandler struct{ *deps }

// Handle appends account.created and token.created in one
// transaction, so an account never exists without a way in.
func (c CreateAccountHandler) Handle(ctx context.Context, cmd CreateAccount) (AccountResult, error) {
	id := uuid.New()
	at := c.at()
	accountEvents, err := domain.CreateAccount(id, cmd.Name, at)
	if err != nil {
		return AccountResult{}, err
	}
	if cmd.TokenName == "" {
		cmd.TokenName = "Owner"
	}
	tokenID := uuid.New()
	secret, docsID, err := c.newTokenSecret()
	if err != nil {
		return AccountResult{}, err
	}
	tokenEvents, err := domain.CreateToken(domain.NewToken{ID: tokenID, AccountID: id, Name: cmd.TokenName,
		Permissions: AllPermissions, SecretPrefix: domain.SecretDisplayPrefix(secret),
		SecretLast4: domain.SecretLast4(secret), DocsID: docsID}, at)
	if err != nil {
		return AccountResult{}, err
	}
	res := AccountResult{Secret: secret}
	res.Account = domain.Fold(domain.Account{}, accountEvents)
	out, err := c.store.AppendInline(ctx, inlineAll(c.views.InsertAccount(res.Account), c.tokenSecretSteps(domain.FoldToken(tokenEvents), secret, &res.Token)),
		eventstore.Append{StreamID: domain.AccountStream(id), AccountID: id, Events: accountEvents, Metadata: cmd.Meta},
		eventstore.Append{StreamID: domain.TokenStream(tokenID), AccountID: id, Events: tokenEvents, Metadata: cmd.Meta})
	if err != nil {
		return AccountResult{}, fmt.Errorf("create account: %w", err)
	}
	res.Written = written(out)
	return res, nil
}

// accountViews keeps the accounts table.
type accountViews interface {
	InsertAccount(domain.Account) eventstore.Inline
}
