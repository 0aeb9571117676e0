package commands

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/views"
)

// Idempotency makes a write safe to retry: the same key with the same
// request gives the stored result; with another request it is refused.
type Idempotency struct {
	TokenID     string // keys are scoped to the token that sent them
	Key         string
	Fingerprint []byte // of method, path and body; see Fingerprint
}

// Fingerprint hashes the parts that make two requests "the same".
func Fingerprint(parts ...[]byte) []byte {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:", len(p))
		h.Write(p)
	}
	return h.Sum(nil)
}

// Idempotency keys are kept this long; a running claim older than the lease
// belongs to a writer that died before committing and may be taken over.
const (
	idempotencyTTL   = 24 * time.Hour
	idempotencyLease = time.Minute
)

// finish is the step that stores a result inside the command's event
// transaction; nil when the request carries no Idempotency-Key.
type finish func(result func() any) eventstore.Inline

// idempotencyKeys keeps the idempotency_keys table.
type idempotencyKeys interface {
	ClaimIdempotencyKey(ctx context.Context, tokenID, key string, fingerprint []byte, now, expires time.Time) (bool, error)
	IdempotencyKeyOf(ctx context.Context, tokenID, key string) (views.IdempotencyKey, bool, error)
	DropIdempotencyKey(ctx context.Context, tokenID, key string, createdAt time.Time) error
	ReleaseIdempotencyKey(ctx context.Context, tokenID, key string) error
	FinishIdempotencyKey(tokenID, key string, result func() any, done *bool) eventstore.Inline
	InTransaction(ctx context.Context, step eventstore.Inline) error
	SweepIdempotencyKeys(ctx context.Context, now time.Time, batch int) (int64, error)
}

// idempotent runs fn at most once per key. fn calls fin inside its event
// transaction; a run that wrote no events stores its result afterwards.
func idempotent[T any](ctx context.Context, c *deps, idem *Idempotency, fn func(fin finish) (T, error)) (T, error) {
	var zero T
	if idem == nil || idem.Key == "" {
		// No result to keep: a nil finish lets the write go without an
		// inline step (and so through the group committer).
		return fn(nil)
	}
	stored, err := c.claim(ctx, idem)
	if err != nil || stored != nil {
		if err != nil {
			return zero, err
		}
		if e, ok := views.ErasedResultOf(stored); ok {
			// The result carried a lead erased since: never replay it.
			return zero, &domain.LeadErasedError{At: e.ErasedAt}
		}
		var out T
		if err := json.Unmarshal(stored, &out); err != nil {
			return zero, fmt.Errorf("idempotency: stored result: %w", err)
		}
		if r, ok := any(&out).(interface{ markReplayed() }); ok {
			r.markReplayed()
		}
		return out, nil
	}
	finished := false
	fin := func(result func() any) eventstore.Inline {
		return c.views.FinishIdempotencyKey(idem.TokenID, idem.Key, result, &finished)
	}
	out, err := fn(fin)
	bg := context.WithoutCancel(ctx)
	if err != nil {
		// Failed requests are not stored: the client may fix and retry.
		_ = c.views.ReleaseIdempotencyKey(bg, idem.TokenID, idem.Key)
		return zero, err
	}
	if !finished {
		if err := c.views.InTransaction(bg, fin(func() any { return out })); err != nil {
			return zero, fmt.Errorf("idempotency: store result: %w", err)
		}
	}
	return out, nil
}

// claim takes the key as running, or returns the stored result of an
// earlier identical request, or the reason it cannot run now.
func (c *deps) claim(ctx context.Context, idem *Idempotency) (json.RawMessage, error) {
	now := c.at()
	for range 3 {
		claimed, err := c.views.ClaimIdempotencyKey(ctx, idem.TokenID, idem.Key, idem.Fingerprint, now, now.Add(idempotencyTTL))
		if err != nil {
			return nil, fmt.Errorf("idempotency: %w", err)
		}
		if claimed {
			return nil, nil
		}
		k, found, err := c.views.IdempotencyKeyOf(ctx, idem.TokenID, idem.Key)
		if err != nil {
			return nil, fmt.Errorf("idempotency: %w", err)
		}
		if !found {
			continue // released meanwhile: claim again
		}
		fp, state, result, created, expires := k.Fingerprint, k.State, k.Result, k.CreatedAt, k.ExpiresAt
		switch {
		case !expires.After(now) || (state == "running" && created.Before(now.Add(-idempotencyLease))):
			// Expired, or a claim whose writer died: take it over.
			if err := c.views.DropIdempotencyKey(ctx, idem.TokenID, idem.Key, created); err != nil {
				return nil, fmt.Errorf("idempotency: %w", err)
			}
			continue
		case string(fp) != string(idem.Fingerprint):
			return nil, ErrIdempotencyKeyReused
		case state == "running":
			return nil, ErrIdempotencyInProgress
		}
		return result, nil
	}
	return nil, ErrIdempotencyInProgress
}

// finishWith adapts a result-producing function into an Inline step; it
// fills in w first, so a replayed result names the same log position.
func finishWith(fin finish, w *Written, result func() any) eventstore.Inline {
	if fin == nil {
		return nil
	}
	note := views.Step(func(recs []eventstore.Record) error {
		w.Position = eventstore.Appended{Records: recs}.LastPosition()
		return nil
	})
	return inlineAll(note, fin(result))
}

// SweepIdempotencyKeys deletes the keys expired by now, at most Batch in
// each statement so that no statement holds many row locks for long, and
// returns how many it deleted. Rows another transaction holds (a request
// finishing with its key) are skipped, not waited for: the next sweep
// takes them. Several processes may sweep at once; each deletes its own
// rows.
type SweepIdempotencyKeys struct {
	Batch int
}

// SweepIdempotencyKeysHandler deletes expired idempotency keys.
type SweepIdempotencyKeysHandler struct{ *deps }

// Handle refuses a Batch that is not positive.
func (c SweepIdempotencyKeysHandler) Handle(ctx context.Context, cmd SweepIdempotencyKeys) (int64, error) {
	if cmd.Batch < 1 {
		return 0, fmt.Errorf("idempotency sweep: batch %d is not positive", cmd.Batch)
	}
	return c.views.SweepIdempotencyKeys(ctx, c.at(), cmd.Batch)
}
