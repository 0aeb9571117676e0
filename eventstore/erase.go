package eventstore

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/domain"
)

// Erasure is the erasure of a lead's personal values from its stream.
type Erasure struct {
	StreamID  string
	AccountID uuid.UUID
	Metadata  Metadata
	// Decide decides lead.erased from the stream's history as stored, or
	// refuses; Erase fills in the rows and the chain's state.
	Decide func(history []Record) (domain.LeadErased, error)
	// Scrub returns one row's data with its personal values replaced;
	// changed false leaves the row as it is.
	Scrub func(r Record) (data json.RawMessage, changed bool, err error)
	// Inline runs last in the erasure's transaction, with the lead.erased
	// record: the views' share of the erasure.
	Inline Inline
}

// Erase erases, in one transaction: it reads the stream, verifies its
// chain as stored, replaces the data of every row Scrub changes, and
// appends lead.erased at the version it read, recording per scrubbed row
// its stored hash and the digest of its scrubbed form (which verification
// checks from then on) and whether the chain was intact. The stream is
// then listed in erased_streams. A write to the stream that commits first
// makes Erase start over, so no event of the stream escapes the erasure;
// one that comes later waits and then conflicts.
func (s *Store) Erase(ctx context.Context, e Erasure) (_ Appended, err error) {
	ctx, end := s.startSpan(ctx, "eventstore.erase", e.StreamID)
	defer func() { end(err) }()
	for attempt := 1; ; attempt++ {
		var out Appended
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var err error
			out, err = s.erase(ctx, tx, e)
			return err
		})
		if err == nil || !errors.Is(err, ErrVersionConflict) || attempt == maxUpdateAttempts {
			return out, err
		}
		if err := sleep(ctx, updateBackoff(attempt)); err != nil {
			return Appended{}, err
		}
	}
}

func (s *Store) erase(ctx context.Context, tx pgx.Tx, e Erasure) (Appended, error) {
	history, err := s.ReadStreamRange(ctx, tx, e.StreamID, 0, math.MaxInt64)
	if err != nil {
		return Appended{}, fmt.Errorf("erase %s: %w", e.StreamID, err)
	}
	ev, err := e.Decide(history)
	if err != nil {
		return Appended{}, err
	}
	check, err := tx.Query(ctx, chainCheck(oneStream), e.StreamID)
	if err != nil {
		return Appended{}, fmt.Errorf("erase %s: verify: %w", e.StreamID, err)
	}
	breaks, err := scanBreaks(check)
	if err != nil {
		return Appended{}, fmt.Errorf("erase %s: verify: %w", e.StreamID, err)
	}
	ev.ChainIntact = len(breaks) == 0
	versions, data := []int64{}, []string{}
	for _, r := range history {
		scrubbed, changed, err := e.Scrub(r)
		if err != nil {
			return Appended{}, fmt.Errorf("erase %s v%d: %w", e.StreamID, r.StreamVersion, err)
		}
		if changed {
			versions, data = append(versions, r.StreamVersion), append(data, string(scrubbed))
		}
	}
	// The rows scrubbed, then what the erasure records of each, read back
	// as stored so that the digest is the one verification computes.
	b := &pgx.Batch{}
	b.Queue(`UPDATE events e SET data = u.data::jsonb FROM unnest($2::bigint[], $3::text[]) AS u(version, data)
		WHERE e.stream_id = $1 AND e.stream_version = u.version`, e.StreamID, versions, data)
	ev.Rows = []domain.ErasedRow{}
	b.Queue(`SELECT stream_version, hash, leadsvc_row_digest(stream_id, stream_version, event_id, event_type, data, metadata, recorded_at)
		FROM events WHERE stream_id = $1 AND stream_version = ANY($2) ORDER BY stream_version`, e.StreamID, versions).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var (
					r            domain.ErasedRow
					hash, digest []byte
				)
				if err := rows.Scan(&r.Version, &hash, &digest); err != nil {
					return err
				}
				r.Hash, r.Digest = hex.EncodeToString(hash), hex.EncodeToString(digest)
				ev.Rows = append(ev.Rows, r)
			}
			return rows.Err()
		})
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return Appended{}, fmt.Errorf("erase %s: %w", e.StreamID, err)
	}
	var version int64
	var campaign uuid.UUID
	if len(history) > 0 {
		version, campaign = history[len(history)-1].StreamVersion, history[0].CampaignID
	}
	enc, err := s.encode(ctx, Append{StreamID: e.StreamID, ExpectedVersion: version, AccountID: e.AccountID,
		CampaignID: campaign, Events: []domain.Event{ev}, Metadata: e.Metadata})
	if err != nil {
		return Appended{}, err
	}
	recs, err := s.appendOne(ctx, tx, enc)
	if err != nil {
		return Appended{}, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO erased_streams (stream_id, account_id, campaign_id, erased_at, position)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (stream_id) DO NOTHING`,
		e.StreamID, e.AccountID, nullUUID(campaign), recs[0].RecordedAt, recs[0].Position); err != nil {
		return Appended{}, fmt.Errorf("erase %s: %w", e.StreamID, err)
	}
	if e.Inline != nil {
		if err := e.Inline(ctx, tx, recs); err != nil {
			return Appended{}, err
		}
	}
	return Appended{Records: recs}, nil
}
