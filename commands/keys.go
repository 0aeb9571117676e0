package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// sealedColumn is a column of sealed secrets and the additional data
// that binds each to its row.
type sealedColumn struct {
	table, column string
	ad            func(id uuid.UUID) []byte
}

func (s sealedColumn) String() string { return s.table + "." + s.column }

// sealedColumns are every place a sealed secret is kept: the inline
// views, never the log, so re-sealing touches no event or hash chain.
var sealedColumns = []sealedColumn{
	{"tokens", "secret_sealed", func(id uuid.UUID) []byte { return id[:] }},
	{"webhooks", "secret_sealed", webhookAD},
	{"webhooks", "previous_secret_sealed", webhookAD},
}

// SecretKeyID is the id of the key that seals.
func (c *Commands) SecretKeyID() KeyID { return c.sealer.Current() }

// Where a key stands in this process's configuration (KeyUse.State).
const (
	KeyCurrent  = "current"  // seals new secrets
	KeyPrevious = "previous" // only opens
	KeyUnknown  = "unknown"  // not configured: what it sealed cannot be opened
)

// KeyUse is how many stored secrets are sealed under one key.
type KeyUse struct {
	KeyID string `json:"key_id"` // "" for secrets sealed before key ids that no configured key opens
	// Unversioned secrets were sealed before key ids; KeyID is the
	// configured key that opens them. keys rotate gives them an id.
	Unversioned bool   `json:"unversioned"`
	State       string `json:"state"` // KeyCurrent, KeyPrevious or KeyUnknown
	Secrets     int64  `json:"secrets"`
}

// KeyStatus counts the stored secrets by the key that sealed them.
type KeyStatus struct {
	Current string   `json:"current"` // the id of the key that seals
	Keys    []KeyUse `json:"keys"`    // the current key first, then by id
}

// Unopenable is the number of stored secrets no configured key opens.
func (st KeyStatus) Unopenable() (n int64) {
	for _, u := range st.Keys {
		if u.State == KeyUnknown {
			n += u.Secrets
		}
	}
	return n
}

// prefixes are the headers of values sealed under each configured key.
func (s *Sealer) prefixes() [][]byte {
	var p [][]byte
	for _, k := range s.keys {
		p = append(p, header(k.id))
	}
	return p
}

func (s *Sealer) state(id KeyID) string {
	switch {
	case id == s.Current():
		return KeyCurrent
	case s.key(id) != nil:
		return KeyPrevious
	}
	return KeyUnknown
}

// KeyStatus counts every stored sealed secret by its key. Values under
// a configured key are counted in the database; only the others (sealed
// before key ids, or under a key this process lacks) are read, to try
// each key on them.
func (c *Commands) KeyStatus(ctx context.Context) (KeyStatus, error) {
	type group struct {
		id          string
		unversioned bool
		state       string
	}
	counts := map[group]int64{}
	prefixes := c.sealer.prefixes()
	for _, col := range sealedColumns {
		rows, err := c.pool.Query(ctx, fmt.Sprintf(`SELECT substring(%[1]s from 2 for 8), count(*) FROM %[2]s
			WHERE substring(%[1]s from 1 for 9) = ANY($1) GROUP BY 1`, col.column, col.table), prefixes)
		if err != nil {
			return KeyStatus{}, fmt.Errorf("key status: %s: %w", col, err)
		}
		var (
			raw []byte
			n   int64
		)
		_, err = pgx.ForEachRow(rows, []any{&raw, &n}, func() error {
			id := KeyID(raw)
			counts[group{id.String(), false, c.sealer.state(id)}] += n
			return nil
		})
		if err != nil {
			return KeyStatus{}, fmt.Errorf("key status: %s: %w", col, err)
		}
		rows, err = c.pool.Query(ctx, fmt.Sprintf(`SELECT id, %[1]s FROM %[2]s
			WHERE %[1]s IS NOT NULL AND NOT substring(%[1]s from 1 for 9) = ANY($1)`, col.column, col.table), prefixes)
		if err != nil {
			return KeyStatus{}, fmt.Errorf("key status: %s: %w", col, err)
		}
		var rowID uuid.UUID
		_, err = pgx.ForEachRow(rows, []any{&rowID, &raw}, func() error {
			if id, _, ok := c.sealer.openUnversioned(col.ad(rowID), raw); ok {
				counts[group{id.String(), true, c.sealer.state(id)}]++
			} else if id, ok := sealedKeyID(raw); ok {
				counts[group{id.String(), false, KeyUnknown}]++
			} else {
				counts[group{"", true, KeyUnknown}]++
			}
			return nil
		})
		if err != nil {
			return KeyStatus{}, fmt.Errorf("key status: %s: %w", col, err)
		}
	}
	st := KeyStatus{Current: c.sealer.Current().String()}
	for g, n := range counts {
		st.Keys = append(st.Keys, KeyUse{KeyID: g.id, Unversioned: g.unversioned, State: g.state, Secrets: n})
	}
	rank := map[string]int{KeyCurrent: 0, KeyPrevious: 1, KeyUnknown: 2}
	slices.SortFunc(st.Keys, func(a, b KeyUse) int {
		if d := rank[a.State] - rank[b.State]; d != 0 {
			return d
		}
		if d := strings.Compare(a.KeyID, b.KeyID); d != 0 {
			return d
		}
		if a.Unversioned == b.Unversioned {
			return 0
		}
		if a.Unversioned {
			return 1
		}
		return -1
	})
	return st, nil
}

// CheckSecretKey refuses configured keys that cannot open every stored
// secret: a process running without the key that sealed some would fail
// their "Show" and their webhook signatures. The error, an
// ErrSecretKeyMismatch, names the key ids found and the ones configured.
func (c *Commands) CheckSecretKey(ctx context.Context) error {
	st, err := c.KeyStatus(ctx)
	if err != nil {
		return fmt.Errorf("check the secret key: %w", err)
	}
	var missing []string
	for _, u := range st.Keys {
		switch {
		case u.State != KeyUnknown:
		case u.KeyID == "":
			missing = append(missing, fmt.Sprintf("%d sealed before key ids", u.Secrets))
		default:
			missing = append(missing, fmt.Sprintf("%d under key id %s", u.Secrets, u.KeyID))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: stored secrets no configured key opens: %s; this process has key ids %s",
			ErrSecretKeyMismatch, strings.Join(missing, ", "), c.sealer.describeKeys())
	}
	return nil
}

// RotateProgress is reported after each batch of RotateSecretKey.
type RotateProgress struct {
	Column     string // e.g. "tokens.secret_sealed"
	Resealed   int64  // in this column so far
	Unopenable int64  // in this column so far: no configured key opens them
	Total      int64  // not under the current key when the column started
}

// RotateResult is what RotateSecretKey did.
type RotateResult struct {
	Resealed   int64
	Unopenable int64 // left as they were; CheckSecretKey names their keys
}

// RotateSecretKey re-seals every stored secret that is not under the
// current key, batch rows to a transaction, and calls progress after
// each batch. A value is replaced only if it is still the one read, so a
// secret rotated or revoked meanwhile keeps its new state. It is
// idempotent and resumable: values already under the current key are
// never read, so a second run, or one after an interruption, does only
// what is left.
func (c *Commands) RotateSecretKey(ctx context.Context, batch int, progress func(RotateProgress)) (RotateResult, error) {
	if batch <= 0 {
		return RotateResult{}, errors.New("rotate: batch must be positive")
	}
	var res RotateResult
	current := header(c.sealer.Current())
	for _, col := range sealedColumns {
		p := RotateProgress{Column: col.String()}
		if err := c.pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %[2]s
			WHERE %[1]s IS NOT NULL AND substring(%[1]s from 1 for 9) <> $1`, col.column, col.table), current).Scan(&p.Total); err != nil {
			return res, fmt.Errorf("rotate %s: %w", col, err)
		}
		for after := uuid.Nil; ; {
			n, last, err := c.resealBatch(ctx, col, current, after, batch, &p)
			if err != nil {
				return res, fmt.Errorf("rotate %s: %w", col, err)
			}
			if n > 0 && progress != nil {
				progress(p)
			}
			if n < batch {
				break
			}
			after = last
		}
		res.Resealed += p.Resealed
		res.Unopenable += p.Unopenable
	}
	return res, nil
}

// resealBatch re-seals up to batch values of col after the row id after,
// in one transaction; it returns how many rows it read and the last id.
func (c *Commands) resealBatch(ctx context.Context, col sealedColumn, current []byte, after uuid.UUID, batch int,
	p *RotateProgress) (int, uuid.UUID, error) {
	rows, err := c.pool.Query(ctx, fmt.Sprintf(`SELECT id, %[1]s FROM %[2]s
		WHERE id > $2 AND %[1]s IS NOT NULL AND substring(%[1]s from 1 for 9) <> $1 ORDER BY id LIMIT $3`,
		col.column, col.table), current, after, batch)
	if err != nil {
		return 0, after, err
	}
	type value struct {
		id          uuid.UUID
		old, sealed []byte
	}
	var (
		read   int
		values []value
		v      value
	)
	_, err = pgx.ForEachRow(rows, []any{&v.id, &v.old}, func() error {
		read++
		after = v.id
		secret, err := c.sealer.open(col.ad(v.id), v.old)
		if err != nil {
			p.Unopenable++
			return nil
		}
		if v.sealed, err = c.sealer.seal(col.ad(v.id), secret); err != nil {
			return err
		}
		values = append(values, v)
		return nil
	})
	if err != nil || len(values) == 0 {
		return read, after, err
	}
	err = pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		var b pgx.Batch
		q := fmt.Sprintf(`UPDATE %s SET %[2]s = $3 WHERE id = $1 AND %[2]s = $2`, col.table, col.column)
		for _, v := range values {
			b.Queue(q, v.id, v.old, v.sealed).Exec(func(tag pgconn.CommandTag) error {
				p.Resealed += tag.RowsAffected()
				return nil
			})
		}
		return tx.SendBatch(ctx, &b).Close()
	})
	return read, after, err
}

// ErrKeyConfigured refuses to forget a key this process holds.
var ErrKeyConfigured = errors.New("the key is configured here; only a key no process has can be forgotten")

// ForgetSecretKey drops every stored secret sealed under id, a key that
// is lost: tokens keep authenticating (lookup is by hash) but their
// secrets can no longer be shown, and webhooks sign nothing until their
// secret is rotated. It returns how many secrets it dropped. Without it a
// lost key would keep every process from starting (CheckSecretKey).
func (c *Commands) ForgetSecretKey(ctx context.Context, id KeyID) (int64, error) {
	if c.sealer.key(id) != nil {
		return 0, ErrKeyConfigured
	}
	var n int64
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		for _, col := range sealedColumns {
			tag, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %[2]s SET %[1]s = NULL WHERE substring(%[1]s from 1 for 9) = $1`,
				col.column, col.table), header(id))
			if err != nil {
				return fmt.Errorf("forget key %s: %s: %w", id, col, err)
			}
			n += tag.RowsAffected()
		}
		return nil
	})
	return n, err
}
