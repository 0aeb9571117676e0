// Package projections runs the read models that consume the event stream:
// each projection applies events to its own tables and stores its
// checkpoint in the same transaction (invariant 6). Live events come from
// JetStream through a watermill router; on start, and whenever asked, a
// projection catches up from the PostgreSQL log itself, so an acknowledged
// NATS message is never the only record of progress.
package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/domain"
)

// Cursor is a place in the log's commit order: (transaction id, position).
type Cursor = domain.Cursor

// Event is one logged event as projections see it.
type Event struct {
	Position      int64
	TxID          uint64 // 0 only from a message of a release that did not send it (domain.TxIDHeader)
	StreamID      string
	StreamVersion int64
	EventID       uuid.UUID
	Type          string
	AccountID     uuid.UUID
	CampaignID    uuid.UUID
	RecordedAt    time.Time
	Metadata      domain.EventMetadata
	Data          json.RawMessage
	Event         domain.Event // nil for a type this build does not know
}

// Cursor returns the event's place in commit order.
func (e Event) Cursor() Cursor { return Cursor{TxID: e.TxID, Position: e.Position} }

// Log is the event store as projections read it, decoded by the store's
// codec (upcasters included). Reads of the whole log come in commit order
// and never skip a late commit (invariant 3).
type Log interface {
	ReadAll(ctx context.Context, after Cursor, limit int) ([]Event, error)
	Head(ctx context.Context) (Cursor, error)
	// ReadStream reads a stream's events with after < version <= upTo
	// through tx, the caller's transaction; an undecodable one is an
	// error.
	ReadStream(ctx context.Context, tx pgx.Tx, streamID string, after, upTo int64) ([]Event, error)
	// ReadPositions reads the events at positions, in position order,
	// leaving out positions that name none.
	ReadPositions(ctx context.Context, positions []int64) ([]Event, error)
	// CountAfter counts the committed events after a cursor, at most
	// limit.
	CountAfter(ctx context.Context, after Cursor, limit int) (int64, error)
}

// Projection is one read model. Apply must be idempotent per event and
// correct whatever the delivery order (several consumers, redeliveries):
// it writes only inside tx, which also carries the checkpoint.
type Projection interface {
	Name() string
	Apply(ctx context.Context, tx pgx.Tx, events []Event) error
}

// SaveCheckpoint moves a projection's checkpoint forward to the latest
// of the given events' cursors, never back. Every event must carry its
// transaction id.
func SaveCheckpoint(ctx context.Context, tx pgx.Tx, name string, events []Event) error {
	b := &pgx.Batch{}
	if err := queueCheckpoint(b, name, events); err != nil {
		return err
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("checkpoint %s: %w", name, err)
	}
	return nil
}

// queueCheckpoint queues SaveCheckpoint's statement.
func queueCheckpoint(b *pgx.Batch, name string, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	last := events[0]
	for _, e := range events[1:] {
		if e.Cursor().Less(last.Cursor()) {
			continue
		}
		last = e
	}
	if last.TxID == 0 {
		return fmt.Errorf("checkpoint %s: event %d without its transaction id", name, last.Position)
	}
	b.Queue(`INSERT INTO projection_checkpoints AS c (name, tx_id, position, updated_at)
		VALUES ($1, $2::text::xid8, $3, now())
		ON CONFLICT (name) DO UPDATE SET tx_id = excluded.tx_id, position = excluded.position, updated_at = now()
		WHERE (excluded.tx_id, excluded.position) > (c.tx_id, c.position)`,
		name, strconv.FormatUint(last.TxID, 10), last.Position)
	return nil
}

// Querier is a pool, a connection or a transaction.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// LoadCheckpoint returns a projection's checkpoint; the zero cursor when
// it has none.
func LoadCheckpoint(ctx context.Context, q Querier, name string) (Cursor, error) {
	var txText string
	var c Cursor
	err := q.QueryRow(ctx, `SELECT tx_id::text, position FROM projection_checkpoints WHERE name = $1`, name).Scan(&txText, &c.Position)
	if errors.Is(err, pgx.ErrNoRows) {
		return Cursor{}, nil
	}
	if err != nil {
		return Cursor{}, fmt.Errorf("checkpoint %s: %w", name, err)
	}
	c.TxID, _ = strconv.ParseUint(txText, 10, 64)
	return c, nil
}

// lagLimit caps the lag count so that asking stays cheap when far behind.
const lagLimit = 100000

// Lag counts the committed events after a projection's checkpoint (at
// most lagLimit).
func Lag(ctx context.Context, q Querier, log Log, name string) (Cursor, int64, error) {
	c, err := LoadCheckpoint(ctx, q, name)
	if err != nil {
		return c, 0, err
	}
	n, err := log.CountAfter(ctx, c, lagLimit)
	if err != nil {
		return c, 0, fmt.Errorf("lag of %s: %w", name, err)
	}
	return c, n, nil
}
