package views

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// SealedColumn is a column of sealed secrets in a table keyed by id.
// Every sealed value starts with a one-byte version and the 8-byte id of
// its key (the 9-byte header).
type SealedColumn struct {
	Table, Column string
}

func (c SealedColumn) String() string { return c.Table + "." + c.Column }

// The columns that keep sealed secrets: the inline views, never the log,
// so re-sealing touches no event or hash chain.
var (
	TokenSecrets           = SealedColumn{"tokens", "secret_sealed"}
	WebhookSecrets         = SealedColumn{"webhooks", "secret_sealed"}
	PreviousWebhookSecrets = SealedColumn{"webhooks", "previous_secret_sealed"}
)

// CountSealedUnder counts col's values by key, for the keys whose headers
// are given: fn gets each key id (8 bytes) with its count.
func (v *Views) CountSealedUnder(ctx context.Context, col SealedColumn, headers [][]byte, fn func(keyID []byte, n int64)) error {
	rows, err := v.pool.Query(ctx, fmt.Sprintf(`SELECT substring(%[1]s from 2 for 8), count(*) FROM %[2]s
		WHERE substring(%[1]s from 1 for 9) = ANY($1) GROUP BY 1`, col.Column, col.Table), headers)
	if err != nil {
		return err
	}
	var (
		raw []byte
		n   int64
	)
	_, err = pgx.ForEachRow(rows, []any{&raw, &n}, func() error {
		fn(raw, n)
		return nil
	})
	return err
}

// EachSealedOutside calls fn with every value of col under none of the
// headers given, and its row's id.
func (v *Views) EachSealedOutside(ctx context.Context, col SealedColumn, headers [][]byte, fn func(id uuid.UUID, sealed []byte)) error {
	rows, err := v.pool.Query(ctx, fmt.Sprintf(`SELECT id, %[1]s FROM %[2]s
		WHERE %[1]s IS NOT NULL AND NOT substring(%[1]s from 1 for 9) = ANY($1)`, col.Column, col.Table), headers)
	if err != nil {
		return err
	}
	var (
		id  uuid.UUID
		raw []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &raw}, func() error {
		fn(id, raw)
		return nil
	})
	return err
}

// CountSealedNotUnder counts col's values not under the key of header.
func (v *Views) CountSealedNotUnder(ctx context.Context, col SealedColumn, header []byte) (int64, error) {
	var n int64
	err := v.pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %[2]s
		WHERE %[1]s IS NOT NULL AND substring(%[1]s from 1 for 9) <> $1`, col.Column, col.Table), header).Scan(&n)
	return n, err
}

// EachSealedNotUnder calls fn, in id order, with up to limit values of col
// not under the key of header, of rows after the id after.
func (v *Views) EachSealedNotUnder(ctx context.Context, col SealedColumn, header []byte, after uuid.UUID, limit int,
	fn func(id uuid.UUID, sealed []byte) error) error {
	rows, err := v.pool.Query(ctx, fmt.Sprintf(`SELECT id, %[1]s FROM %[2]s
		WHERE id > $2 AND %[1]s IS NOT NULL AND substring(%[1]s from 1 for 9) <> $1 ORDER BY id LIMIT $3`,
		col.Column, col.Table), header, after, limit)
	if err != nil {
		return err
	}
	var (
		id  uuid.UUID
		raw []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &raw}, func() error { return fn(id, raw) })
	return err
}

// Resealed is a value of a sealed column sealed again.
type Resealed struct {
	ID       uuid.UUID
	Old, New []byte
}

// ReplaceSealed writes the new values in one transaction, each only where
// the old one is still stored (a secret rotated or revoked meanwhile
// keeps its new state), and returns how many it replaced.
func (v *Views) ReplaceSealed(ctx context.Context, col SealedColumn, values []Resealed) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, v.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
		q := fmt.Sprintf(`UPDATE %s SET %[2]s = $3 WHERE id = $1 AND %[2]s = $2`, col.Table, col.Column)
		for _, r := range values {
			b.Queue(q, r.ID, r.Old, r.New).Exec(func(tag pgconn.CommandTag) error {
				n += tag.RowsAffected()
				return nil
			})
		}
		return tx.SendBatch(ctx, &b).Close()
	})
	return n, err
}

// ForgetSealed drops, in one transaction, every value of cols under the
// key of header and returns how many it dropped.
func (v *Views) ForgetSealed(ctx context.Context, cols []SealedColumn, header []byte) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, v.pool, func(tx pgx.Tx) error {
		for _, col := range cols {
			tag, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %[2]s SET %[1]s = NULL WHERE substring(%[1]s from 1 for 9) = $1`,
				col.Column, col.Table), header)
			if err != nil {
				return fmt.Errorf("%s: %w", col, err)
			}
			n += tag.RowsAffected()
		}
		return nil
	})
	return n, err
}
