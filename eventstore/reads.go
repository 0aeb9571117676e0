package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/domain"
)

// The reads other packages need of the log. Each returns records decoded
// by the store's codec, so an upcaster registered there applies to every
// reader; the SQL naming the events table stays in this package.

// Querier is a pool, a connection or a transaction. Reads that must see
// (or must not wait beside) a caller's transaction take one.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// ReadStreamRange returns a stream's events with after < version <= upTo,
// in version order, read through q: a projection reads through its own
// transaction, since taking another connection while holding one could
// wait forever on a pool the other consumers hold. An event this build
// cannot decode is an error.
func (s *Store) ReadStreamRange(ctx context.Context, q Querier, streamID string, after, upTo int64) ([]Record, error) {
	rows, err := q.Query(ctx, `SELECT `+recordColumns+` FROM events
		WHERE stream_id = $1 AND stream_version > $2 AND stream_version <= $3 ORDER BY stream_version`, streamID, after, upTo)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", streamID, err)
	}
	recs, err := s.scanRecords(rows, decodeStrict)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", streamID, err)
	}
	return recs, nil
}

// ReadPositions returns the events at the given positions, in position
// order; positions that name no event are left out. An event of an
// unknown type comes with its raw data and a nil Event.
func (s *Store) ReadPositions(ctx context.Context, positions []int64) ([]Record, error) {
	if len(positions) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+recordColumns+` FROM events WHERE position = ANY($1) ORDER BY position`, positions)
	if err != nil {
		return nil, fmt.Errorf("read positions: %w", err)
	}
	recs, err := s.scanRecords(rows, decodeLenient)
	if err != nil {
		return nil, fmt.Errorf("read positions: %w", err)
	}
	return recs, nil
}

// CountAfter counts the events a tailing reader reads after the cursor
// (below the oldest running transaction: invariant 3), at most limit so
// that asking stays cheap when far behind.
func (s *Store) CountAfter(ctx context.Context, after Cursor, limit int) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM events
		WHERE (tx_id, position) > ($1::text::xid8, $2) AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
		LIMIT $3) t`, strconv.FormatUint(after.TxID, 10), after.Position, limit).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count after %d: %w", after.Position, err)
	}
	return n, nil
}

// CountUpTo counts the events at or below a position.
func (s *Store) CountUpTo(ctx context.Context, position int64) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE position <= $1`, position).Scan(&n); err != nil {
		return 0, fmt.Errorf("count up to %d: %w", position, err)
	}
	return n, nil
}

// StreamVersions is the latest version of each stream a transaction wrote
// at or below a position, of the streams whose ids start with prefix.
func (s *Store) StreamVersions(ctx context.Context, txID uint64, upTo int64, prefix string) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT stream_id, max(stream_version) FROM events
		WHERE tx_id = $1::text::xid8 AND position <= $2 AND stream_id LIKE $3 || '%' GROUP BY stream_id`,
		strconv.FormatUint(txID, 10), upTo, prefix)
	if err != nil {
		return nil, fmt.Errorf("streams of transaction %d: %w", txID, err)
	}
	out := map[string]int64{}
	var (
		stream  string
		version int64
	)
	_, err = pgx.ForEachRow(rows, []any{&stream, &version}, func() error {
		out[stream] = version
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("streams of transaction %d: %w", txID, err)
	}
	return out, nil
}

// CreatedAfterSQL is an SQL condition, for set-based queries over other
// tables, that holds when the stream named by the expression streamID was
// created after the cursor given by the expressions txID (xid8 as text)
// and position: say, a row of a view written after a rebuild's head.
func CreatedAfterSQL(streamID, txID, position string) string {
	return `EXISTS (SELECT 1 FROM events e WHERE e.stream_id = ` + streamID + `
		AND e.stream_version = 1 AND (e.tx_id, e.position) > (` + txID + `::text::xid8, ` + position + `))`
}

// StreamAccount is the account a stream belongs to; found is false when
// the stream has no events.
func (s *Store) StreamAccount(ctx context.Context, streamID string) (account uuid.UUID, found bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT account_id FROM events WHERE stream_id = $1
		ORDER BY stream_version LIMIT 1`, streamID).Scan(&account)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, false, nil
	}
	if err != nil {
		return uuid.Nil, false, fmt.Errorf("account of %s: %w", streamID, err)
	}
	return account, true, nil
}

// Horizon is the transaction id of the oldest transaction running now:
// every event below it has its final place in commit order (invariant 3).
func (s *Store) Horizon(ctx context.Context) (uint64, error) {
	var xmin string
	if err := s.pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text`).Scan(&xmin); err != nil {
		return 0, fmt.Errorf("horizon: %w", err)
	}
	return strconv.ParseUint(xmin, 10, 64)
}

// ActorQuery selects, in commit order, a page of one stream's events and
// of the events an actor token wrote in the account's other streams.
type ActorQuery struct {
	AccountID    uuid.UUID
	StreamID     string
	ActorTokenID string // metadata.actor_token_id
	After        Cursor
	UpTo         time.Time // recorded at or before
	// Horizon cuts the page: the events of transactions below it, or,
	// with AboveHorizon, those at or above it.
	Horizon      uint64
	AboveHorizon bool
	Limit        int
}

// ReadStreamAndActor reads the page q selects. Read below a horizon, a
// page resumed after its last event skips nothing (invariant 3).
func (s *Store) ReadStreamAndActor(ctx context.Context, q ActorQuery) ([]Record, error) {
	horizon := `tx_id < $8::text::xid8`
	if q.AboveHorizon {
		horizon = `tx_id >= $8::text::xid8`
	}
	rows, err := s.pool.Query(ctx, `SELECT `+recordColumns+` FROM (
		(SELECT * FROM events WHERE stream_id = $1 AND account_id = $2
			AND (tx_id, position) > ($3::text::xid8, $4) AND recorded_at <= $5 AND `+horizon+`
			ORDER BY tx_id, position LIMIT $6)
		UNION ALL
		(SELECT * FROM events WHERE metadata->>'actor_token_id' = $7 AND stream_id <> $1 AND account_id = $2
			AND (tx_id, position) > ($3::text::xid8, $4) AND recorded_at <= $5 AND `+horizon+`
			ORDER BY tx_id, position LIMIT $6)) page
		ORDER BY tx_id, position LIMIT $6`,
		q.StreamID, q.AccountID, strconv.FormatUint(q.After.TxID, 10), q.After.Position, q.UpTo, q.Limit, q.ActorTokenID,
		strconv.FormatUint(q.Horizon, 10))
	if err != nil {
		return nil, fmt.Errorf("%s and its writes: %w", q.StreamID, err)
	}
	recs, err := s.scanRecords(rows, decodeLenient)
	if err != nil {
		return nil, fmt.Errorf("%s and its writes: %w", q.StreamID, err)
	}
	return recs, nil
}

// leadCreatedType is the type events_lead_created indexes (migration
// 00009); event type names never change once written.
var leadCreatedType = domain.LeadCreated{}.EventType()

// LeadsCreated lists the streams of the leads created at or before at,
// in one campaign or, with campaign nil, in the whole account.
func (s *Store) LeadsCreated(ctx context.Context, accountID uuid.UUID, campaign *uuid.UUID, at time.Time) ([]string, error) {
	// The event type is a literal, not a parameter, so that every plan,
	// generic ones too, can use the partial index events_lead_created.
	rows, err := s.pool.Query(ctx, `SELECT stream_id FROM events WHERE account_id = $1
		AND event_type = '`+leadCreatedType+`' AND recorded_at <= $2 AND ($3::uuid IS NULL OR campaign_id = $3)`,
		accountID, at, campaign)
	if err != nil {
		return nil, fmt.Errorf("leads created: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("leads created: %w", err)
	}
	return out, nil
}

// The columns of ReadAccountText's rows, in order.
const (
	TextPosition = iota
	TextTxID
	TextStreamID
	TextStreamVersion
	TextEventID
	TextType
	TextCampaignID // NULL for none
	TextData       // the stored JSON, on one line
	TextActorTokenID
	TextRequestID
	TextCorrelationID
	TextCausationID
	TextRecordedAtMicros // microseconds since the Unix epoch
	TextHash             // hex
	TextPrevHash         // hex, NULL for a stream's first event
	TextColumns          // how many
)

// textColumns are ReadAccountText's columns, all as text so that the raw
// bytes are the same in either wire format.
const textColumns = `position::text, tx_id::text, stream_id, stream_version::text, event_id::text, event_type,
	campaign_id::text, data::text, metadata->>'actor_token_id', metadata->>'request_id', metadata->>'correlation_id',
	metadata->>'causation_id', (extract(epoch FROM recorded_at) * 1000000)::bigint::text,
	encode(hash, 'hex'), encode(prev_hash, 'hex')`

// ReadAccountText reads up to n of an account's events after the cursor
// in commit order, below the oldest running transaction (invariant 3),
// as the text of their columns (TextPosition …), for readers that write
// events out as stored without decoding them: the audit feed. fn gets
// each row's values, nil for NULL, valid only during the call.
func (s *Store) ReadAccountText(ctx context.Context, accountID uuid.UUID, after Cursor, n int, fn func(row [][]byte) error) error {
	rows, err := s.pool.Query(ctx, `SELECT `+textColumns+` FROM events
		WHERE account_id = $1 AND (tx_id, position) > ($2::text::xid8, $3)
		  AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY events.tx_id, events.position LIMIT $4`, accountID, strconv.FormatUint(after.TxID, 10), after.Position, n)
	if err != nil {
		return fmt.Errorf("account %s after %d: %w", accountID, after.Position, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.RawValues()); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("account %s after %d: %w", accountID, after.Position, err)
	}
	return nil
}

// upcaster is a codec that tells which stored shapes it rewrites.
type upcaster interface{ Upcasts(name string) bool }

// Upcasts reports whether the store's codec rewrites the stored JSON of
// any of the types before decoding it (upcasters). A reader of paths in
// the stored JSON (ScanLeadValues) must then decode instead; a codec that
// cannot tell is taken to rewrite.
func (s *Store) Upcasts(types ...string) bool {
	u, ok := s.codec.(upcaster)
	if !ok {
		return true
	}
	for _, t := range types {
		if u.Upcasts(t) {
			return true
		}
	}
	return false
}

// ReadCampaignEvents returns an account's campaign's events of the given
// types recorded at or before at, by stream and version, decoded (an
// undecodable one with a nil Event).
func (s *Store) ReadCampaignEvents(ctx context.Context, accountID, campaignID uuid.UUID, at time.Time, types []string) ([]Record, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+recordColumns+` FROM events
		WHERE campaign_id = $1 AND recorded_at <= $2 AND event_type = ANY($3) AND account_id = $4
		ORDER BY stream_id, stream_version`, campaignID, at, types, accountID)
	if err != nil {
		return nil, fmt.Errorf("campaign %s events: %w", campaignID, err)
	}
	recs, err := s.scanRecords(rows, decodeLenient)
	if err != nil {
		return nil, fmt.Errorf("campaign %s events: %w", campaignID, err)
	}
	return recs, nil
}

// The columns of ScanLeadValues' rows, in order; then one per key asked.
const (
	LeadColStream   = iota
	LeadColVersion  // decimal
	LeadColCreated  // "t" for lead.created, "f" otherwise
	LeadColStatus   // status or status_to, NULL when the event sets none
	LeadColAt       // the event's "at" (RFC 3339), NULL unless asked for
	LeadColFirstKey // the JSON of fields.<key> of the first key: NULL when the event does not name it, null when it clears it
)

// ScanLeadValues reads an account's campaign's events of the given lead
// event types recorded at or before at, in no order, as the text of the
// few values a filter can test: the status, the time when withTimes and
// the fields named by keys, straight from the stored JSON. It is the fast
// read of visible-at-T over a campaign's whole history; it bypasses the
// codec, so it is only right while Upcasts(types...) is false. fn gets
// each row's values, nil for NULL, valid only during the call.
func (s *Store) ScanLeadValues(ctx context.Context, accountID, campaignID uuid.UUID, at time.Time, types, keys []string,
	withTimes bool, fn func(row [][]byte) error) error {
	cols := `stream_id, stream_version::text, CASE WHEN event_type = $4 THEN 't' ELSE 'f' END,
		coalesce(data->>'status_to', data->>'status'), `
	if withTimes {
		cols += `data->>'at'`
	} else {
		cols += `NULL::text`
	}
	args := []any{campaignID, at, types, leadCreatedType, accountID}
	for _, k := range keys {
		args = append(args, k)
		// As text: SQL NULL when the event does not name the field, the
		// JSON null when it clears it.
		cols += `, (data->'fields'->$` + strconv.Itoa(len(args)) + `)::text`
	}
	rows, err := s.pool.Query(ctx, `SELECT `+cols+` FROM events
		WHERE campaign_id = $1 AND recorded_at <= $2 AND event_type = ANY($3) AND account_id = $5`, args...)
	if err != nil {
		return fmt.Errorf("campaign %s leads: %w", campaignID, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows.RawValues()); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("campaign %s leads: %w", campaignID, err)
	}
	return nil
}
