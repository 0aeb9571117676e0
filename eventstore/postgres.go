package eventstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/internal/telemetry"
)

// Store is the PostgreSQL event store.
type Store struct {
	pool   *pgxpool.Pool
	codec  Codec
	now    func() time.Time
	group  *groupCommitter
	tracer trace.Tracer // nil: tracing off
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock that stamps recorded_at.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithGroupCommit gathers concurrent single-stream appends without an
// Inline into one transaction: up to maxBatch appends, waiting at most
// maxWait for company. Each caller is acknowledged only after the commit.
func WithGroupCommit(maxBatch int, maxWait time.Duration) Option {
	return func(s *Store) {
		if maxBatch > 1 {
			s.group = &groupCommitter{maxBatch: maxBatch, maxWait: maxWait}
		}
	}
}

// WithTracer traces appends and keeps each append's W3C traceparent in its
// events' metadata, so that the trace goes on through NATS and webhooks.
// A nil tp leaves tracing off.
func WithTracer(tp trace.TracerProvider) Option {
	return func(s *Store) { s.tracer = telemetry.Tracer(tp) }
}

// startSpan starts an internal span when tracing is on; end is never nil.
func (s *Store) startSpan(ctx context.Context, name string, streamID string) (context.Context, func(error)) {
	if s.tracer == nil {
		return ctx, func(error) {}
	}
	ctx, span := s.tracer.Start(ctx, name, trace.WithAttributes(attribute.String("leadsvc.stream_id", streamID)))
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "")
		}
		span.End()
	}
}

// New returns a store over pool; codec names and decodes events.
func New(pool *pgxpool.Pool, codec Codec, opts ...Option) *Store {
	s := &Store{pool: pool, codec: codec, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if s.group != nil {
		s.group.start(s)
	}
	return s
}

// Close stops the group committer, failing nothing already queued.
func (s *Store) Close() {
	if s.group != nil {
		s.group.stop()
	}
}

// Pool is the store's connection pool, for inline views and queries that
// live beside the log.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// encoded is one Append ready for leadsvc_append.
type encoded struct {
	app      Append
	ids      []uuid.UUID
	types    []string
	data     []string
	metadata string
	at       time.Time
}

func (s *Store) encode(ctx context.Context, a Append) (encoded, error) {
	if s.tracer != nil && a.Metadata.Traceparent == "" {
		a.Metadata.Traceparent = telemetry.Traceparent(ctx)
	}
	at := s.now().UTC().Truncate(time.Microsecond)
	e := encoded{app: a, at: at}
	for _, ev := range a.Events {
		name, data, err := s.codec.Encode(ev)
		if err != nil {
			return e, fmt.Errorf("append %s: %w", a.StreamID, err)
		}
		id, err := uuid.NewV7()
		if err != nil {
			return e, fmt.Errorf("append %s: %w", a.StreamID, err)
		}
		e.ids, e.types, e.data = append(e.ids, id), append(e.types, name), append(e.data, string(data))
	}
	meta, err := json.Marshal(a.Metadata)
	if err != nil {
		return e, fmt.Errorf("append %s: %w", a.StreamID, err)
	}
	e.metadata = string(meta)
	return e, nil
}

const appendSQL = `SELECT conflict, from_version, positions, hashes, tx::text
FROM leadsvc_append($1, $2, $3, $4, $5, $6, $7::text[]::jsonb[], $8::jsonb, $9)`

// singlesSQL appends one event to each of many streams in one statement,
// set-based: no PL/pgSQL call and one executor run for a whole group. An
// append whose expected version is stale gets no row back (ON CONFLICT DO
// NOTHING, or no previous event to chain from), which is its conflict;
// the others are written. Appends of several events keep leadsvc_append,
// which chains their hashes one by one.
var singlesSQL = singlesStatement(`unnest($1::text[], $2::bigint[], $3::uuid[], $4::uuid[], $5::uuid[], $6::text[],
		$7::text[], $8::text[], $9::timestamptz[])`)

// singleSQL is singlesSQL for one append, with scalar parameters: the
// planner then costs its cached generic plan like a fresh one and keeps
// it, where for unnest it assumes ten rows and plans every execution
// again (about 0.25 ms, more than the insert).
var singleSQL = singlesStatement(`(VALUES ($1::text, $2::bigint, $3::uuid, $4::uuid, $5::uuid, $6::text,
		$7::text, $8::text, $9::timestamptz))`)

func singlesStatement(input string) string {
	return `WITH input AS (
	SELECT * FROM ` + input + `
		AS u(stream_id, expected, account_id, campaign_id, event_id, event_type, data, metadata, recorded_at)
), ready AS (
	SELECT i.stream_id, coalesce(p.stream_version, 0) + 1 AS version, i.event_id, i.event_type, i.account_id,
	       i.campaign_id, i.data::jsonb AS data, i.metadata::jsonb AS metadata, i.recorded_at, p.hash AS prev
	FROM input i LEFT JOIN LATERAL (
		SELECT e.stream_version, e.hash FROM events e
		WHERE e.stream_id = i.stream_id AND (i.expected < 0 OR e.stream_version = i.expected)
		ORDER BY e.stream_version DESC LIMIT 1) p ON true
	WHERE i.expected <= 0 OR p.hash IS NOT NULL
)
INSERT INTO events (stream_id, stream_version, event_id, event_type, account_id, campaign_id,
                    data, metadata, recorded_at, prev_hash, hash)
SELECT stream_id, version, event_id, event_type, account_id, campaign_id, data, metadata, recorded_at, prev,
       leadsvc_event_hash(prev, stream_id, version, event_id, event_type, data, metadata, recorded_at)
FROM ready
ON CONFLICT (stream_id, stream_version) DO NOTHING
RETURNING event_id, position, stream_version, prev_hash, hash, tx_id::text`
}

// single reports whether e goes through singlesSQL.
func (e encoded) single() bool { return len(e.ids) == 1 }

func singlesArgs(encs []encoded) []any {
	n := len(encs)
	var (
		streams   = make([]string, n)
		expected  = make([]int64, n)
		accounts  = make([]uuid.UUID, n)
		campaigns = make([]pgtype.UUID, n)
		ids       = make([]uuid.UUID, n)
		types     = make([]string, n)
		data      = make([]string, n)
		metadata  = make([]string, n)
		at        = make([]time.Time, n)
	)
	for i, e := range encs {
		streams[i], expected[i], accounts[i] = e.app.StreamID, e.app.ExpectedVersion, e.app.AccountID
		campaigns[i] = pgtype.UUID{Bytes: e.app.CampaignID, Valid: e.app.CampaignID != uuid.Nil}
		ids[i], types[i], data[i], metadata[i], at[i] = e.ids[0], e.types[0], e.data[0], e.metadata, e.at
	}
	return []any{streams, expected, accounts, campaigns, ids, types, data, metadata, at}
}

// scanSingles reads singlesSQL's rows into each append's record or its
// conflict, in the order of encs.
func (s *Store) scanSingles(rows pgx.Rows, encs []encoded) ([][]Record, []error, error) {
	defer rows.Close()
	type written struct {
		position, version int64
		prev, hash        []byte
		tx                uint64
	}
	got := make(map[uuid.UUID]written, len(encs))
	for rows.Next() {
		var (
			id     uuid.UUID
			w      written
			txText string
		)
		if err := rows.Scan(&id, &w.position, &w.version, &w.prev, &w.hash, &txText); err != nil {
			return nil, nil, err
		}
		w.tx, _ = strconv.ParseUint(txText, 10, 64)
		got[id] = w
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	recs, errs := make([][]Record, len(encs)), make([]error, len(encs))
	for i, e := range encs {
		w, ok := got[e.ids[0]]
		if !ok {
			errs[i] = fmt.Errorf("append %s at version %d: %w", e.app.StreamID, e.app.ExpectedVersion, ErrVersionConflict)
			continue
		}
		recs[i] = []Record{{
			Position: w.position, TxID: w.tx, StreamID: e.app.StreamID, StreamVersion: w.version,
			EventID: e.ids[0], Type: e.types[0], AccountID: e.app.AccountID, CampaignID: e.app.CampaignID,
			Data: json.RawMessage(e.data[0]), Metadata: e.app.Metadata, RecordedAt: e.at,
			PrevHash: w.prev, Hash: w.hash, Event: e.app.Events[0],
		}}
	}
	return recs, errs, nil
}

// appendOne writes one encoded append with q, inside whatever transaction
// q is (or none).
func (s *Store) appendOne(ctx context.Context, q querier, e encoded) ([]Record, error) {
	if !e.single() {
		return s.scanAppend(q.QueryRow(ctx, appendSQL, e.args()...), e)
	}
	rows, err := q.Query(ctx, singleSQL, e.app.StreamID, e.app.ExpectedVersion, e.app.AccountID,
		nullUUID(e.app.CampaignID), e.ids[0], e.types[0], e.data[0], e.metadata, e.at)
	if err != nil {
		return nil, fmt.Errorf("append %s: %w", e.app.StreamID, err)
	}
	recs, errs, err := s.scanSingles(rows, []encoded{e})
	if err != nil {
		return nil, fmt.Errorf("append %s: %w", e.app.StreamID, err)
	}
	return recs[0], errs[0]
}

// querier is what appendOne needs of a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// batcher is what sendAppends needs of a pool (a batch is then one
// implicit transaction) or a transaction.
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// sendAppends writes encs in one round trip: one set-based statement
// (singlesSQL) for the one-event appends, a stream's first among encs
// only, then one leadsvc_append for each other append, in order, so that
// a stream's later append chains onto its earlier one. It returns each
// append's records or its version conflict, by index of encs; a conflict
// does not stop the others, so a caller that needs all or nothing runs
// it in a transaction and rolls back. Any other failure is err, and then
// nothing of encs is written; a guard of theirs that failed is
// ErrGuardFailed.
func (s *Store) sendAppends(ctx context.Context, q batcher, encs []encoded) ([][]Record, []error, error) {
	var singles, several []int
	inSingles := make(map[string]bool, len(encs))
	for i, e := range encs {
		if e.single() && !inSingles[e.app.StreamID] {
			inSingles[e.app.StreamID] = true
			singles = append(singles, i)
		} else {
			several = append(several, i)
		}
	}
	b := &pgx.Batch{}
	// Every append's guard in one statement ahead of the writes: one
	// moved row fails them all (ErrGuardFailed), and a group commit then
	// sends each member alone.
	guard := guardOf(encs...)
	if len(guard) > 0 {
		b.Queue(assertGuardSQL, guard.args()...)
	}
	singleEncs := make([]encoded, len(singles))
	for k, i := range singles {
		singleEncs[k] = encs[i]
	}
	if len(singles) > 0 {
		b.Queue(singlesSQL, singlesArgs(singleEncs)...)
	}
	for _, i := range several {
		b.Queue(appendSQL, encs[i].args()...)
	}
	recs, errs := make([][]Record, len(encs)), make([]error, len(encs))
	res := q.SendBatch(ctx, b)
	if len(guard) > 0 {
		if _, err := res.Exec(); err != nil {
			_ = res.Close()
			return nil, nil, asGuardFailure(err)
		}
	}
	if len(singles) > 0 {
		rows, err := res.Query()
		if err != nil {
			_ = res.Close()
			return nil, nil, err
		}
		srecs, serrs, err := s.scanSingles(rows, singleEncs)
		if err != nil {
			_ = res.Close()
			return nil, nil, err
		}
		for k, i := range singles {
			recs[i], errs[i] = srecs[k], serrs[k]
		}
	}
	for _, i := range several {
		recs[i], errs[i] = s.scanAppend(res.QueryRow(), encs[i])
		if errs[i] != nil && !isConflict(errs[i]) {
			_ = res.Close()
			return nil, nil, errs[i]
		}
	}
	if err := res.Close(); err != nil {
		return nil, nil, err
	}
	return recs, errs, nil
}

func nullUUID(id uuid.UUID) any {
	if id == uuid.Nil {
		return nil
	}
	return id
}

func (e encoded) args() []any {
	return []any{e.app.StreamID, e.app.ExpectedVersion, e.app.AccountID, nullUUID(e.app.CampaignID),
		e.ids, e.types, e.data, e.metadata, e.at}
}

// scanAppend reads leadsvc_append's answer into records, or a conflict.
func (s *Store) scanAppend(row pgx.Row, e encoded) ([]Record, error) {
	var (
		conflict  bool
		from      *int64
		positions []int64
		hashes    [][]byte
		txText    string
	)
	if err := row.Scan(&conflict, &from, &positions, &hashes, &txText); err != nil {
		return nil, fmt.Errorf("append %s: %w", e.app.StreamID, err)
	}
	if conflict {
		return nil, fmt.Errorf("append %s at version %d: %w", e.app.StreamID, e.app.ExpectedVersion, ErrVersionConflict)
	}
	tx, _ := strconv.ParseUint(txText, 10, 64)
	recs := make([]Record, len(e.ids))
	var prev []byte
	for i := range e.ids {
		recs[i] = Record{
			Position: positions[i], TxID: tx, StreamID: e.app.StreamID, StreamVersion: *from + int64(i),
			EventID: e.ids[i], Type: e.types[i], AccountID: e.app.AccountID, CampaignID: e.app.CampaignID,
			Data: json.RawMessage(e.data[i]), Metadata: e.app.Metadata, RecordedAt: e.at,
			PrevHash: prev, Hash: hashes[i], Event: e.app.Events[i],
		}
		prev = hashes[i]
	}
	if len(recs) > 0 && recs[0].StreamVersion > 1 {
		recs[0].PrevHash = nil // known only to the database; ReadStream returns it
	}
	return recs, nil
}

// Append writes the given stream-appends atomically: all or nothing. A
// stale expected version is ErrVersionConflict (invariant 2). Concurrent
// single-stream appends may share a transaction (group commit).
func (s *Store) Append(ctx context.Context, appends ...Append) (out Appended, err error) {
	if len(appends) == 1 {
		var end func(error)
		ctx, end = s.startSpan(ctx, "eventstore.append", appends[0].StreamID)
		defer func() { end(err) }()
	}
	if s.group != nil && len(appends) == 1 {
		e, err := s.encode(ctx, appends[0])
		if err != nil {
			return Appended{}, err
		}
		recs, err := s.group.submit(ctx, e)
		return Appended{Records: recs}, err
	}
	if len(appends) == 1 {
		e, err := s.encode(ctx, appends[0])
		if err != nil {
			return Appended{}, err
		}
		recs, err := s.appendDirect(ctx, e)
		return Appended{Records: recs}, err
	}
	return s.AppendInline(ctx, nil, appends...)
}

// appendDirect writes one encoded append as one statement in autocommit:
// the statement is atomic on its own, and a single round trip instead of
// three (BEGIN, append, COMMIT). It never goes through the group
// committer, which falls back on it.
func (s *Store) appendDirect(ctx context.Context, e encoded) ([]Record, error) {
	if len(e.ids) == 0 {
		return nil, nil
	}
	if len(e.app.Guard) == 0 {
		return s.appendOne(ctx, s.pool, e)
	}
	// The guard first, in the append's implicit transaction and round trip.
	recs, errs, err := s.sendAppends(ctx, s.pool, []encoded{e})
	if err != nil {
		return nil, fmt.Errorf("append %s: %w", e.app.StreamID, err)
	}
	return recs[0], errs[0]
}

// AppendInline is Append with inline run in the same transaction after the
// inserts, for views that must be exact when the write is acknowledged
// (invariant 5). An error from inline rolls everything back. Without an
// inline, one stream's append is a plain Append (group commit included).
func (s *Store) AppendInline(ctx context.Context, inline Inline, appends ...Append) (_ Appended, err error) {
	if inline == nil && len(appends) == 1 {
		return s.Append(ctx, appends[0])
	}
	if len(appends) > 0 {
		var end func(error)
		ctx, end = s.startSpan(ctx, "eventstore.append", appends[0].StreamID)
		defer func() { end(err) }()
	}
	encs := make([]encoded, len(appends))
	for i, a := range appends {
		e, err := s.encode(ctx, a)
		if err != nil {
			return Appended{}, err
		}
		encs[i] = e
	}
	live := encs[:0]
	for _, e := range encs {
		if len(e.ids) > 0 {
			live = append(live, e)
		}
	}
	var out Appended
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		out = Appended{}
		switch {
		case len(live) == 0:
		case len(live) == 1 && len(live[0].app.Guard) == 0:
			recs, err := s.appendOne(ctx, tx, live[0])
			if err != nil {
				return err
			}
			out.Records = recs
		default:
			// Every append in one round trip, not one each; any
			// conflict rolls them all back.
			recs, errs, err := s.sendAppends(ctx, tx, live)
			if err != nil {
				return err
			}
			for i := range live {
				if errs[i] != nil {
					return errs[i]
				}
				out.Records = append(out.Records, recs[i]...)
			}
		}
		if inline != nil {
			return inline(ctx, tx, out.Records)
		}
		return nil
	})
	if err != nil {
		return Appended{}, err
	}
	return out, nil
}

// Update loads a stream, decides, and appends at the loaded version.
type Update struct {
	StreamID   string
	IfVersion  int64 // AnyVersion: at the loaded version; otherwise it must be the current version (If-Match)
	AccountID  uuid.UUID
	CampaignID uuid.UUID // uuid.Nil: that of the stream's first event
	Metadata   Metadata
	Decide     Decider
	Inline     Inline
	Guard      Guard // checked with the append (Append.Guard)
}

// maxUpdateAttempts bounds re-deciding after conflicts; deciding again on
// fresh state is safe only without an explicit IfVersion.
const maxUpdateAttempts = 10

// Update runs the load–decide–append cycle. With IfVersion set, a stream
// at another version is ErrVersionConflict at once; with AnyVersion a
// conflict reloads and decides again, a few times. No decided events, no
// write.
func (s *Store) Update(ctx context.Context, u Update) (_ Appended, err error) {
	ctx, end := s.startSpan(ctx, "eventstore.update", u.StreamID)
	defer func() { end(err) }()
	for attempt := 1; ; attempt++ {
		history, err := s.ReadStream(ctx, u.StreamID, ReadOptions{})
		if err != nil {
			return Appended{}, err
		}
		version := int64(len(history))
		if version > 0 {
			version = history[len(history)-1].StreamVersion
		}
		if u.IfVersion != AnyVersion && u.IfVersion != version {
			return Appended{}, fmt.Errorf("update %s: at version %d, not %d: %w", u.StreamID, version, u.IfVersion, ErrVersionConflict)
		}
		events, err := u.Decide(history)
		if err != nil || len(events) == 0 {
			return Appended{}, err
		}
		a := Append{StreamID: u.StreamID, ExpectedVersion: version, AccountID: u.AccountID,
			CampaignID: u.CampaignID, Events: events, Metadata: u.Metadata, Guard: u.Guard}
		if a.CampaignID == uuid.Nil && len(history) > 0 {
			// A stream never changes campaign: later events inherit it.
			a.CampaignID = history[0].CampaignID
		}
		var out Appended
		if u.Inline != nil {
			out, err = s.AppendInline(ctx, u.Inline, a)
		} else {
			out, err = s.Append(ctx, a)
		}
		if err == nil || !errors.Is(err, ErrVersionConflict) || u.IfVersion != AnyVersion || attempt == maxUpdateAttempts {
			return out, err
		}
		select {
		case <-ctx.Done():
			return Appended{}, ctx.Err()
		case <-time.After(updateBackoff(attempt)):
		}
	}
}

// updateBackoff spreads retrying writers out: a random wait up to 2^attempt
// milliseconds, at most 256.
func updateBackoff(attempt int) time.Duration {
	ceiling := 1 << min(attempt, 8)
	return time.Duration(rand.IntN(ceiling)+1) * time.Millisecond
}

// tx_text, not tx_id: an output column named tx_id would make ORDER BY
// tx_id sort the text ("10" before "9").
const recordColumns = `position, tx_id::text AS tx_text, stream_id, stream_version, event_id, event_type, account_id,
	campaign_id, data, metadata, recorded_at, prev_hash, hash`

// decodeMode says what scanRecords does with the stored data.
type decodeMode int

const (
	decodeStrict  decodeMode = iota // an undecodable event is an error: aggregates need every event
	decodeLenient                   // Event stays nil when undecodable; the raw data is kept
	decodeNone                      // raw data only: the relay forwards bytes
)

// scanRecords reads rows of recordColumns.
func (s *Store) scanRecords(rows pgx.Rows, mode decodeMode) ([]Record, error) {
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var (
			r        Record
			txText   string
			campaign *uuid.UUID
			data     []byte
			meta     []byte
		)
		if err := rows.Scan(&r.Position, &txText, &r.StreamID, &r.StreamVersion, &r.EventID, &r.Type, &r.AccountID,
			&campaign, &data, &meta, &r.RecordedAt, &r.PrevHash, &r.Hash); err != nil {
			return nil, err
		}
		r.TxID, _ = strconv.ParseUint(txText, 10, 64)
		if campaign != nil {
			r.CampaignID = *campaign
		}
		r.Data = data
		if err := json.Unmarshal(meta, &r.Metadata); err != nil {
			return nil, fmt.Errorf("event %d metadata: %w", r.Position, err)
		}
		if mode != decodeNone {
			ev, err := s.codec.Decode(r.Type, data)
			if err != nil && mode == decodeStrict {
				return nil, fmt.Errorf("event %d of %s: %w", r.Position, r.StreamID, err)
			}
			r.Event = ev
		}
		r.RecordedAt = r.RecordedAt.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// ReadStream returns a stream's events in version order, optionally only up
// to a version or a time. A missing stream is an empty history.
func (s *Store) ReadStream(ctx context.Context, streamID string, o ReadOptions) ([]Record, error) {
	q := `SELECT ` + recordColumns + ` FROM events WHERE stream_id = $1`
	args := []any{streamID}
	if o.UpToVersion > 0 {
		args = append(args, o.UpToVersion)
		q += ` AND stream_version <= $` + strconv.Itoa(len(args))
	}
	if !o.UpTo.IsZero() {
		args = append(args, o.UpTo)
		q += ` AND recorded_at <= $` + strconv.Itoa(len(args))
	}
	if o.AccountID != uuid.Nil {
		args = append(args, o.AccountID)
		q += ` AND account_id = $` + strconv.Itoa(len(args))
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY stream_version`, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", streamID, err)
	}
	mode := decodeStrict
	if o.Lenient {
		mode = decodeLenient
	}
	recs, err := s.scanRecords(rows, mode)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", streamID, err)
	}
	return recs, nil
}

// Events returns the decoded events of records, for folding aggregates.
func Events(recs []Record) []domain.Event {
	out := make([]domain.Event, len(recs))
	for i, r := range recs {
		out[i] = r.Event
	}
	return out
}

// StreamVersion is the current version of a stream, 0 when it has none.
func (s *Store) StreamVersion(ctx context.Context, streamID string) (int64, error) {
	var v int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = $1`, streamID).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("version of %s: %w", streamID, err)
	}
	return v, nil
}

// ReadAll returns up to limit events after the cursor in (tx_id, position)
// order, only from transactions older than every running one: reads below
// xmin, so an event that commits late is never skipped (invariant 3). An
// event of an unknown type comes with its raw data and a nil Event.
func (s *Store) ReadAll(ctx context.Context, after Cursor, limit int) ([]Record, error) {
	return s.readAll(ctx, after, limit, decodeLenient)
}

func (s *Store) readAll(ctx context.Context, after Cursor, limit int, mode decodeMode) ([]Record, error) {
	return s.readAllThen(ctx, after, limit, mode, nil)
}

// readAllThen is readAll with more, when not nil, queued after the page
// in the same round trip, given the page's arguments.
func (s *Store) readAllThen(ctx context.Context, after Cursor, limit int, mode decodeMode, more func(b *pgx.Batch, args ...any)) ([]Record, error) {
	var recs []Record
	b := &pgx.Batch{}
	b.Queue(pinReadAllPlan)
	args := []any{strconv.FormatUint(after.TxID, 10), after.Position, limit}
	b.Queue(readAllSQL, args...).
		Query(func(rows pgx.Rows) (err error) { recs, err = s.scanRecords(rows, mode); return err })
	if more != nil {
		more(b, args...)
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("read all after %d: %w", after.Position, err)
	}
	slices.SortFunc(recs, func(a, b Record) int { return cmp.Or(cmp.Compare(a.TxID, b.TxID), cmp.Compare(a.Position, b.Position)) })
	return recs, nil
}

// readAllSQL reads a page of the log in commit order: the page's
// positions from the commit-order index alone, then their rows by primary
// key; the caller sorts them. Any other plan reads the whole range: asked
// for the wide rows at once, or with no statistics yet, the planner
// hashed or sorted the table (26 ms for a page of 50 new events out of
// 30,000; 400 ms a page at a million).
const readAllSQL = `SELECT ` + recordColumns + ` FROM events WHERE position = ANY (ARRAY(
	SELECT position FROM events
	WHERE (tx_id, position) > ($1::text::xid8, $2)
	  AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
	ORDER BY tx_id, position LIMIT $3))`

// pinReadAllPlan runs before readAllSQL in its round trip and implicit
// transaction: without sorts and bitmap scans, the page's positions can
// only come from the commit-order index in order, and its rows only by
// the primary key.
const pinReadAllPlan = `SELECT set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true)`

// Head is the cursor of the last event a tailing reader can see now.
func (s *Store) Head(ctx context.Context) (Cursor, error) {
	var txText *string
	var pos *int64
	err := s.pool.QueryRow(ctx, `SELECT tx_id::text AS tx_text, position FROM events
		WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY tx_id DESC, position DESC LIMIT 1`).Scan(&txText, &pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return Cursor{}, nil
	}
	if err != nil {
		return Cursor{}, fmt.Errorf("head: %w", err)
	}
	tx, _ := strconv.ParseUint(*txText, 10, 64)
	return Cursor{TxID: tx, Position: *pos}, nil
}

// Count is the number of events in the log.
func (s *Store) Count(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	return n, nil
}
