package views

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/eventstore"
)

// ErasedResult is what an idempotency key's stored result becomes when
// it carried an erased lead: a replay answers that the lead was erased
// instead of revealing it.
type ErasedResult struct {
	ErasedLead uuid.UUID `json:"erased_lead"`
	ErasedAt   time.Time `json:"erased_at"`
}

// ErasedResultOf reads a stored result; ok is false for any other result.
func ErasedResultOf(stored json.RawMessage) (r ErasedResult, ok bool) {
	if json.Unmarshal(stored, &r) != nil || r.ErasedLead == uuid.Nil {
		return ErasedResult{}, false
	}
	return r, true
}

// EraseLead is the views' share of a lead's erasure, in its transaction:
// the lead's file bytes and rows are deleted; stored idempotent results
// that carry the lead become an ErasedResult; the bodies of its webhook
// messages (those built when queued) and the receivers' answers logged
// for them are removed, and its pending messages with a body are not
// sent. Messages built at send time read the scrubbed log.
func (v *Views) EraseLead(leadID uuid.UUID, at time.Time) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, _ []eventstore.Record) error {
		marker, err := json.Marshal(ErasedResult{ErasedLead: leadID, ErasedAt: at})
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM lead_files WHERE lead_id = $1`, leadID) // the chunks go with them (ON DELETE CASCADE)
		// A stored result names its leads by id wherever it holds them
		// (one lead, a file's lead, a batch).
		b.Queue(`UPDATE idempotency_keys SET result = $2::jsonb
			WHERE state = 'done' AND strpos(result::text, $1) > 0`, leadID.String(), string(marker))
		b.Queue(`UPDATE webhook_attempts a SET response_excerpt = NULL FROM webhook_messages m
			WHERE m.id = a.message_id AND m.lead_id = $1 AND a.response_excerpt IS NOT NULL`, leadID)
		b.Queue(`UPDATE webhook_messages SET body = NULL,
				state = CASE WHEN state = 'pending' THEN 'skipped' ELSE state END
			WHERE lead_id = $1 AND body IS NOT NULL`, leadID)
		return tx.SendBatch(ctx, b).Close()
	}
}
