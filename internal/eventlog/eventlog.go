// Package eventlog adapts the event store to the read side: it gives
// projections the log as projections.Log (and the wider interfaces the
// lead views and webhooks declare), so that projections depend on no
// write-side package.
package eventlog

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/projections"
)

// Log is the event store read as projections read it.
type Log struct{ store *eventstore.Store }

// New returns the store as a projections.Log.
func New(store *eventstore.Store) Log { return Log{store: store} }

// ReadAll implements projections.Log.
func (l Log) ReadAll(ctx context.Context, after projections.Cursor, limit int) ([]projections.Event, error) {
	recs, err := l.store.ReadAll(ctx, after, limit)
	if err != nil {
		return nil, err
	}
	return convert(recs), nil
}

// Head implements projections.Log.
func (l Log) Head(ctx context.Context) (projections.Cursor, error) { return l.store.Head(ctx) }

// ReadStream implements projections.Log.
func (l Log) ReadStream(ctx context.Context, tx pgx.Tx, streamID string, after, upTo int64) ([]projections.Event, error) {
	recs, err := l.store.ReadStreamRange(ctx, tx, streamID, after, upTo)
	if err != nil {
		return nil, err
	}
	return convert(recs), nil
}

// ReadPositions implements projections.Log.
func (l Log) ReadPositions(ctx context.Context, positions []int64) ([]projections.Event, error) {
	recs, err := l.store.ReadPositions(ctx, positions)
	if err != nil {
		return nil, err
	}
	return convert(recs), nil
}

// CountAfter implements projections.Log.
func (l Log) CountAfter(ctx context.Context, after projections.Cursor, limit int) (int64, error) {
	return l.store.CountAfter(ctx, after, limit)
}

// CountUpTo counts the events at or below a position (leads.Log).
func (l Log) CountUpTo(ctx context.Context, position int64) (int64, error) {
	return l.store.CountUpTo(ctx, position)
}

// StreamVersions is the latest version of each stream with the prefix
// that a transaction wrote at or below a position (leads.Log).
func (l Log) StreamVersions(ctx context.Context, txID uint64, upTo int64, prefix string) (map[string]int64, error) {
	return l.store.StreamVersions(ctx, txID, upTo, prefix)
}

// CreatedAfterSQL is eventstore.CreatedAfterSQL (leads.Log).
func (l Log) CreatedAfterSQL(streamID, txID, position string) string {
	return eventstore.CreatedAfterSQL(streamID, txID, position)
}

func convert(recs []eventstore.Record) []projections.Event {
	out := make([]projections.Event, len(recs))
	for i, r := range recs {
		out[i] = projections.Event{Position: r.Position, TxID: r.TxID, StreamID: r.StreamID, StreamVersion: r.StreamVersion,
			EventID: r.EventID, Type: r.Type, AccountID: r.AccountID, CampaignID: r.CampaignID, RecordedAt: r.RecordedAt,
			Metadata: r.Metadata, Data: r.Data, Event: r.Event}
	}
	return out
}
