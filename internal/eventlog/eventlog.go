// Package eventlog adapts the event store to the read side: it gives
// projections the log as projections.Log, so that projections depend on
// no write-side package.
package eventlog

import (
	"context"

	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/projections"
)

// Log is the event store read as projections read it.
type Log struct{ store *eventstore.Store }

// New returns the store as a projections.Log.
func New(store *eventstore.Store) Log { return Log{store: store} }

// ReadAll implements projections.Log.
func (l Log) ReadAll(ctx context.Context, after projections.Cursor, limit int) ([]projections.Event, error) {
	recs, err := l.store.ReadAll(ctx, eventstore.Cursor{TxID: after.TxID, Position: after.Position}, limit)
	if err != nil {
		return nil, err
	}
	return convert(recs), nil
}

// Head implements projections.Log.
func (l Log) Head(ctx context.Context) (projections.Cursor, error) {
	c, err := l.store.Head(ctx)
	return projections.Cursor{TxID: c.TxID, Position: c.Position}, err
}

func convert(recs []eventstore.Record) []projections.Event {
	out := make([]projections.Event, len(recs))
	for i, r := range recs {
		out[i] = projections.Event{Position: r.Position, TxID: r.TxID, StreamID: r.StreamID, StreamVersion: r.StreamVersion,
			EventID: r.EventID, Type: r.Type, AccountID: r.AccountID, CampaignID: r.CampaignID, RecordedAt: r.RecordedAt,
			Data: r.Data, Event: r.Event}
	}
	return out
}
