package eventstore

import (
	"context"
	"fmt"
)

// chainCheckSQL recomputes every hash of the selected streams against the
// stored previous event: an edited event breaks its own hash, a deleted one
// breaks the next event's link and the version sequence. A row that a later
// lead.erased of its stream lists was scrubbed on purpose: its stored hash
// must be the one recorded and the digest of its content now the digest
// recorded, so that an edit to it is still found. A lead.erased that says
// the chain was already broken keeps reporting that. %[1]s is the stream
// condition over the alias e, %[2]s the same over x.
const chainCheckSQL = `
WITH erased AS (
    SELECT x.stream_id, x.stream_version AS erased_by, (r->>'version')::bigint AS version,
           decode(r->>'hash', 'hex') AS hash, decode(r->>'digest', 'hex') AS digest
    FROM events x, jsonb_array_elements(x.data->'rows') r
    WHERE x.event_type = '` + erasedType + `' AND %[2]s
), checked AS (
    SELECT e.stream_id, e.stream_version, e.position,
           row_number() OVER w AS expected_version,
           e.prev_hash IS NOT DISTINCT FROM lag(e.hash) OVER w AS link_ok,
           er.version IS NOT NULL AS scrubbed,
           CASE WHEN er.version IS NULL
                THEN e.hash = leadsvc_event_hash(lag(e.hash) OVER w, e.stream_id, e.stream_version, e.event_id,
                                                 e.event_type, e.data, e.metadata, e.recorded_at)
                ELSE e.hash = er.hash AND er.digest = leadsvc_row_digest(e.stream_id, e.stream_version, e.event_id,
                                                 e.event_type, e.data, e.metadata, e.recorded_at)
           END AS hash_ok,
           e.event_type <> '` + erasedType + `' OR coalesce((e.data->>'chain_intact')::boolean, true) AS before_ok
    FROM events e
    LEFT JOIN erased er ON er.stream_id = e.stream_id AND er.version = e.stream_version AND er.erased_by > e.stream_version
    WHERE %[1]s
    WINDOW w AS (PARTITION BY e.stream_id ORDER BY e.stream_version)
)
SELECT DISTINCT ON (stream_id) stream_id, stream_version, position,
       CASE WHEN stream_version <> expected_version THEN 'version ' || expected_version || ' is missing'
            WHEN NOT link_ok THEN 'previous-hash link does not match the previous event'
            WHEN NOT before_ok THEN 'the chain was already broken when the lead was erased'
            WHEN scrubbed THEN 'the erased event does not match what its erasure recorded'
            ELSE 'hash does not match the event content' END
FROM checked
WHERE NOT (hash_ok AND link_ok AND before_ok AND stream_version = expected_version)
ORDER BY stream_id, stream_version`

// erasedType is lead.erased's name in the log.
const erasedType = "lead.erased"

// chainCheck is chainCheckSQL over the streams cond selects; cond names
// the stream column through the alias it is given.
func chainCheck(cond func(alias string) string) string {
	return fmt.Sprintf(chainCheckSQL, cond("e"), cond("x"))
}

func oneStream(alias string) string { return alias + ".stream_id = $1" }

func streamRange(alias string) string {
	return alias + ".stream_id > $1 AND " + alias + ".stream_id <= $2"
}

// VerifyStream checks one stream's hash chain and returns its first broken
// link, or nil when the chain is intact.
func (s *Store) VerifyStream(ctx context.Context, streamID string) (*ChainBreak, error) {
	rows, err := s.pool.Query(ctx, chainCheck(oneStream), streamID)
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w", streamID, err)
	}
	breaks, err := scanBreaks(rows)
	if err != nil || len(breaks) == 0 {
		return nil, err
	}
	return &breaks[0], nil
}

// verifyChunk is how many streams VerifyAll checks per query.
const verifyChunk = 2000

// VerifyAll checks every stream's chain, a chunk of streams at a time, and
// returns the first broken link of each broken stream. progress, when not
// nil, gets the number of events checked so far after every chunk.
func (s *Store) VerifyAll(ctx context.Context, progress func(checked int64)) ([]ChainBreak, error) {
	var (
		all     []ChainBreak
		after   string
		checked int64
	)
	for {
		var last *string
		var n int64
		err := s.pool.QueryRow(ctx, `SELECT max(stream_id), coalesce(sum(c), 0)::bigint FROM (
			SELECT stream_id, count(*) AS c FROM events WHERE stream_id > $1
			GROUP BY stream_id ORDER BY stream_id LIMIT $2) t`, after, verifyChunk).Scan(&last, &n)
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		if last == nil {
			return all, nil
		}
		rows, err := s.pool.Query(ctx, chainCheck(streamRange), after, *last)
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		breaks, err := scanBreaks(rows)
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		all = append(all, breaks...)
		after = *last
		checked += n
		if progress != nil {
			progress(checked)
		}
	}
}

func scanBreaks(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
	Close()
}) ([]ChainBreak, error) {
	defer rows.Close()
	var out []ChainBreak
	for rows.Next() {
		var b ChainBreak
		if err := rows.Scan(&b.StreamID, &b.StreamVersion, &b.Position, &b.Reason); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}
