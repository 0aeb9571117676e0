package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/eventstore/views"
)

// sealedColumn is a column of sealed secrets and the additional data
// that binds each to its row.
type sealedColumn struct {
	views.SealedColumn
	ad func(id uuid.UUID) []byte
}

// sealedColumns are every place a sealed secret is kept: the inline
// views, never the log, so re-sealing touches no event or hash chain.
var sealedColumns = []sealedColumn{
	{views.TokenSecrets, func(id uuid.UUID) []byte { return id[:] }},
	{views.WebhookSecrets, webhookAD},
	{views.PreviousWebhookSecrets, webhookAD},
}

// sealedViews reads and rewrites the sealed columns of the views.
type sealedViews interface {
	CountSealedUnder(ctx context.Context, col views.SealedColumn, headers [][]byte, fn func(keyID []byte, n int64)) error
	EachSealedOutside(ctx context.Context, col views.SealedColumn, headers [][]byte, fn func(id uuid.UUID, sealed []byte)) error
	CountSealedNotUnder(ctx context.Context, col views.SealedColumn, header []byte) (int64, error)
	EachSealedNotUnder(ctx context.Context, col views.SealedColumn, header []byte, after uuid.UUID, limit int,
		fn func(id uuid.UUID, sealed []byte) error) error
	ReplaceSealed(ctx context.Context, col views.SealedColumn, values []views.Resealed) (int64, error)
	ForgetSealed(ctx context.Context, cols []views.SealedColumn, header []byte) (int64, error)
}

// SecretKeyID is the id of the key that seals.
func (c Keys) SecretKeyID() KeyID { return c.sealer.Current() }

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
func (c Keys) KeyStatus(ctx context.Context) (KeyStatus, error) {
	type group struct {
		id          string
		unversioned bool
		state       string
	}
	counts := map[group]int64{}
	prefixes := c.sealer.prefixes()
	for _, col := range sealedColumns {
		err := c.views.CountSealedUnder(ctx, col.SealedColumn, prefixes, func(raw []byte, n int64) {
			id := KeyID(raw)
			counts[group{id.String(), false, c.sealer.state(id)}] += n
		})
		if err != nil {
			return KeyStatus{}, fmt.Errorf("key status: %s: %w", col, err)
		}
		err = c.views.EachSealedOutside(ctx, col.SealedColumn, prefixes, func(rowID uuid.UUID, raw []byte) {
			if id, _, ok := c.sealer.openUnversioned(col.ad(rowID), raw); ok {
				counts[group{id.String(), true, c.sealer.state(id)}]++
			} else if id, ok := sealedKeyID(raw); ok {
				counts[group{id.String(), false, KeyUnknown}]++
			} else {
				counts[group{"", true, KeyUnknown}]++
			}
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
func (c Keys) CheckSecretKey(ctx context.Context) error {
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
// current key, Batch rows to a transaction, and calls Progress (when not
// nil) after each batch. A value is replaced only if it is still the one read, so a
// secret rotated or revoked meanwhile keeps its new state. It is
// idempotent and resumable: values already under the current key are
// never read, so a second run, or one after an interruption, does only
// what is left.
type RotateSecretKey struct {
	Batch    int
	Progress func(RotateProgress)
}

// RotateSecretKeyHandler re-seals stored secrets under the current key.
type RotateSecretKeyHandler struct{ *deps }

// Handle refuses a Batch that is not positive.
func (c RotateSecretKeyHandler) Handle(ctx context.Context, cmd RotateSecretKey) (RotateResult, error) {
	batch, progress := cmd.Batch, cmd.Progress
	if batch <= 0 {
		return RotateResult{}, errors.New("rotate: batch must be positive")
	}
	var res RotateResult
	current := header(c.sealer.Current())
	for _, col := range sealedColumns {
		p := RotateProgress{Column: col.String()}
		var err error
		if p.Total, err = c.views.CountSealedNotUnder(ctx, col.SealedColumn, current); err != nil {
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
func (c *deps) resealBatch(ctx context.Context, col sealedColumn, current []byte, after uuid.UUID, batch int,
	p *RotateProgress) (int, uuid.UUID, error) {
	var (
		read   int
		values []views.Resealed
	)
	err := c.views.EachSealedNotUnder(ctx, col.SealedColumn, current, after, batch, func(id uuid.UUID, old []byte) error {
		read++
		after = id
		secret, err := c.sealer.open(col.ad(id), old)
		if err != nil {
			p.Unopenable++
			return nil
		}
		sealed, err := c.sealer.seal(col.ad(id), secret)
		if err != nil {
			return err
		}
		values = append(values, views.Resealed{ID: id, Old: old, New: sealed})
		return nil
	})
	if err != nil || len(values) == 0 {
		return read, after, err
	}
	n, err := c.views.ReplaceSealed(ctx, col.SealedColumn, values)
	p.Resealed += n
	return read, after, err
}

// ErrKeyConfigured refuses to forget a key this process holds.
var ErrKeyConfigured = errors.New("the key is configured here; only a key no process has can be forgotten")

// ForgetSecretKey drops every stored secret sealed under Key, a key that
// is lost: tokens keep authenticating (lookup is by hash) but their
// secrets can no longer be shown, and webhooks sign nothing until their
// secret is rotated. Without it a lost key would keep every process from
// starting (CheckSecretKey).
type ForgetSecretKey struct {
	Key KeyID
}

// ForgetSecretKeyHandler drops the secrets of a lost key.
type ForgetSecretKeyHandler struct{ *deps }

// Handle returns how many secrets it dropped; a key this process holds is
// ErrKeyConfigured.
func (c ForgetSecretKeyHandler) Handle(ctx context.Context, cmd ForgetSecretKey) (int64, error) {
	id := cmd.Key
	if c.sealer.key(id) != nil {
		return 0, ErrKeyConfigured
	}
	cols := make([]views.SealedColumn, len(sealedColumns))
	for i, col := range sealedColumns {
		cols[i] = col.SealedColumn
	}
	n, err := c.views.ForgetSealed(ctx, cols, header(id))
	if err != nil {
		return n, fmt.Errorf("forget key %s: %w", id, err)
	}
	return n, nil
}
