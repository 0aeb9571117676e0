package leads

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/domain"
)

// WriteTombstone writes an erased lead's row (l folded through its
// lead.erased) in the erasure's transaction, so that reads answer that it
// was erased from the commit on, and removes its memberships. It takes the
// projection's locks first, as the projection's own transactions do: one
// that read the row before would otherwise write an older version over
// it. The projection then finds lead.erased a repeat, and a rebuild folds
// the scrubbed log to the same row.
func WriteTombstone(ctx context.Context, tx pgx.Tx, l domain.Lead) error {
	if !l.Erased() {
		return fmt.Errorf("lead %s: a tombstone of a lead that is not erased", l.ID)
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock_shared($1)`, projectionLock)
	b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1, 7340))`, l.CampaignID.String())
	var w leadWrites
	if err := w.add(l, campaignState{}); err != nil {
		return err
	}
	w.queue(b)
	return tx.SendBatch(ctx, b).Close()
}
