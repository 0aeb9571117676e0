package views

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
)

// InsertAccount writes a new account's row.
func (v *Views) InsertAccount(a domain.Account) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		_, err := tx.Exec(ctx, `INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)`, a.ID, a.Name, a.CreatedAt)
		return err
	}
}

// Account returns an account.
func (v *Views) Account(ctx context.Context, id uuid.UUID) (domain.Account, error) {
	a := domain.Account{ID: id}
	var created time.Time
	err := v.pool.QueryRow(ctx, `SELECT name, created_at FROM accounts WHERE id = $1`, id).Scan(&a.Name, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Account{}, domain.ErrAccountNotFound
	}
	if err != nil {
		return domain.Account{}, err
	}
	a.CreatedAt, a.Version = created, 1
	return a, nil
}
