package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/leadsvc/leadsvc/api"
	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
)

// tokenCreateArgs is the command line of `leadsvc token create`.
type tokenCreateArgs struct {
	account, campaign, filter string
	name                      string
	permissions               []string
	noFilter, json            bool
}

func (c *cli) tokenCreateCommand() *cobra.Command {
	var a tokenCreateArgs
	cmd := &cobra.Command{
		Use:   "create --account ID --name N --permissions P[,P…] [--campaign ID (--filter ID | --no-filter)] [--json]",
		Short: "mint a token for an existing account",
		Long: "Mint a token for an existing account, the way back in when an account has no admin\n" +
			"token left. The token is made by the same command as POST /v1/tokens and recorded as\n" +
			"token.created with the request id \"cli\" and no actor token; its secret is printed once.\n\n" +
			"Without --campaign the token is account-level (permissions admin, audit, read, write);\n" +
			"with it, it is scoped to that campaign (read, write) and must say its breadth: --filter ID\n" +
			"for one filter's leads, or --no-filter for every lead of the campaign.\n\n" + envHelp,
		Example: "  leadsvc token create --account 6f1c… --name \"Recovery admin\" --permissions admin,read,write,audit\n" +
			"  leadsvc token create --account 6f1c… --name \"Partner ABC\" --permissions read --campaign 2b7e… --filter 9d04…",
		Args: noArgs,
		RunE: c.action(func(ctx context.Context, cfg Config, logger *slog.Logger, _ []string) error {
			return tokenCreate(ctx, cfg, logger, a, c.stdout)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&a.account, "account", "", "the account's id (required)")
	f.StringVar(&a.name, "name", "", "the token's name (required)")
	f.StringSliceVar(&a.permissions, "permissions", nil, "comma-separated: admin, audit, read, write (required)")
	f.StringVar(&a.campaign, "campaign", "", "scope the token to this campaign's id")
	f.StringVar(&a.filter, "filter", "", "with --campaign: only the leads of this filter's id")
	f.BoolVar(&a.noFilter, "no-filter", false, "with --campaign: every lead of the campaign, on purpose")
	f.BoolVar(&a.json, "json", false, "print the token as POST /v1/tokens answers it, secret included")
	for _, name := range []string{"account", "name", "permissions"} {
		_ = cmd.MarkFlagRequired(name)
	}
	cmd.MarkFlagsMutuallyExclusive("filter", "no-filter")
	return cmd
}

// tokenCreate runs `leadsvc token create`.
func tokenCreate(ctx context.Context, cfg Config, logger *slog.Logger, a tokenCreateArgs, stdout io.Writer) error {
	cmd, err := a.command()
	if err != nil {
		return err
	}
	ws, err := openWriteSide(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer ws.Close()
	if _, err := ws.queries.Account(ctx, cmd.AccountID); errors.Is(err, domain.ErrAccountNotFound) {
		return fmt.Errorf("token create: no account %s", cmd.AccountID)
	} else if err != nil {
		return err
	}
	res, err := ws.commands.CreateToken.Handle(ctx, cmd)
	var verr *domain.ValidationError
	if errors.As(err, &verr) {
		return usageError{fmt.Sprintf("token create: %v", verr)}
	}
	if err != nil {
		return fmt.Errorf("token create: %w", err)
	}
	// The secret goes to stdout only, never to the log.
	logger.Info("token created", "account_id", cmd.AccountID, "token_id", res.Token.ID)
	if a.json {
		return writeJSONTo(stdout, api.TokenJSON(cfg.PublicURL, res.Token, res.Secret))
	}
	t := res.Token
	scope := "account-level"
	if t.CampaignID != nil {
		scope = "campaign " + t.CampaignID.String() + ", every lead"
		if t.FilterID != nil {
			scope = "campaign " + t.CampaignID.String() + ", filter " + t.FilterID.String()
		}
	}
	_, err = fmt.Fprintf(stdout, "token   %s  %q  %s  (%s)\nsecret  %s  (shown once, keep it safe)\ndocs    %s/docs/%s\n",
		t.ID, t.Name, scope, joinPerms(t.Permissions), res.Secret, cfg.PublicURL, t.DocsID)
	return err
}

// command checks the command line and turns it into the command.
func (a tokenCreateArgs) command() (commands.CreateToken, error) {
	cmd := commands.CreateToken{Name: a.name, Meta: operatorMeta}
	var err error
	if cmd.AccountID, err = uuid.Parse(a.account); err != nil {
		return cmd, usageError{fmt.Sprintf("token create: --account %q is not an id", a.account)}
	}
	for _, p := range a.permissions {
		cmd.Permissions = append(cmd.Permissions, domain.Permission(strings.TrimSpace(p)))
	}
	switch {
	case a.campaign == "" && (a.filter != "" || a.noFilter):
		return cmd, usageError{"token create: --filter and --no-filter go with --campaign"}
	case a.campaign == "":
		return cmd, nil
	case a.filter == "" && !a.noFilter:
		return cmd, usageError{"token create: a campaign token must say which leads it sees: --filter ID, or --no-filter for every lead of the campaign"}
	}
	campaign, err := uuid.Parse(a.campaign)
	if err != nil {
		return cmd, usageError{fmt.Sprintf("token create: --campaign %q is not an id", a.campaign)}
	}
	cmd.CampaignID = &campaign
	if a.filter != "" {
		filter, err := uuid.Parse(a.filter)
		if err != nil {
			return cmd, usageError{fmt.Sprintf("token create: --filter %q is not an id", a.filter)}
		}
		cmd.FilterID = &filter
	}
	cmd.EveryLead = a.noFilter
	return cmd, nil
}
