package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/views"
	"github.com/leadsvc/leadsvc/projections/leads"
	"github.com/leadsvc/leadsvc/queries"
)

func newCommands(store *eventstore.Store, cfg Config, key []byte) (*commands.Commands, error) {
	c, err := commands.New(commands.Config{Store: store, Views: views.Of(store), SecretKey: key, PreviousSecretKeys: cfg.SecretKeysPrevious,
		Webhooks: commands.WebhookTargets{AllowPrivate: cfg.WebhooksAllowPrivate}, LeadViews: tombstones{}, Clock: cfg.Clock})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// tombstones writes an erased lead's row of the lead views in the
// erasure's transaction (commands.ErasedLeadViews).
type tombstones struct{}

func (tombstones) EraseLeadView(l domain.Lead, e domain.LeadErased) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		return leads.WriteTombstone(ctx, tx, l.Evolve(e))
	}
}

// writeSide is what the one-shot commands need: a migrated database and,
// for those that write, the command handlers.
type writeSide struct {
	pool     *pgxpool.Pool
	store    *eventstore.Store
	commands *commands.Commands // nil from openStore
	queries  *queries.Queries
}

// openStore migrates the database and opens the log, without the secret
// key: rebuild and verify neither seal nor open secrets.
func openStore(ctx context.Context, cfg Config, logger *slog.Logger) (*writeSide, error) {
	if err := eventstore.Migrate(ctx, cfg.DatabaseURL, logger); err != nil {
		return nil, err
	}
	pool, err := openPool(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	store := eventstore.New(pool, domain.NewRegistry())
	return &writeSide{pool: pool, store: store, queries: queries.New(queries.Config{Views: views.Of(store)})}, nil
}

// openWriteSide is openStore with the command handlers, refused when the
// secret key does not fit the database (openCommands).
func openWriteSide(ctx context.Context, cfg Config, logger *slog.Logger) (*writeSide, error) {
	ws, err := openStore(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	if ws.commands, _, err = openCommands(ctx, cfg, logger, ws.store); err != nil {
		ws.Close()
		return nil, err
	}
	return ws, nil
}

func (w *writeSide) Close() {
	w.store.Close()
	w.pool.Close()
}

// operatorMeta marks events written from the command line.
var operatorMeta = commands.Meta{RequestID: "cli"}

// accountCreate runs `leadsvc account create --name N [--json]`.
func accountCreate(ctx context.Context, cfg Config, logger *slog.Logger, name string, asJSON bool, stdout io.Writer) error {
	ws, err := openWriteSide(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer ws.Close()
	res, err := ws.commands.CreateAccount.Handle(ctx, commands.CreateAccount{Name: name, Meta: operatorMeta})
	var verr *domain.ValidationError
	if errors.As(err, &verr) {
		return usageError{fmt.Sprintf("account create: %v", verr)}
	}
	if err != nil {
		return err
	}
	// The secret goes to stdout only, never to the log.
	logger.Info("account created", "account_id", res.Account.ID, "token_id", res.Token.ID)
	if asJSON {
		return json.NewEncoder(stdout).Encode(map[string]string{"account_id": res.Account.ID.String(), "token": res.Secret})
	}
	_, err = fmt.Fprintf(stdout, "account  %s  %s\ntoken    %s  (admin, read, write, audit; shown once, keep it safe)\n",
		res.Account.ID, res.Account.Name, res.Secret)
	return err
}
