package eventstore

import (
	"context"
	"fmt"
)

// chainCheckSQL recomputes every hash of the selected streams against the
// stored previous event: an edited event breaks its own hash, a deleted one
// breaks the next event's link and the version sequence.
const chainCheckSQL = `
WITH checked AS (
    SELECT stream_id, stream_version, position,
           row_number() OVER w AS expected_version,
           prev_hash IS NOT DISTINCT FROM lag(hash) OVER w AS link_ok,
           hash = leadsvc_event_hash(lag(hash) OVER w, stream_id, stream_version, event_id,
                                     event_type, data, metadata, recorded_at) AS hash_ok
    FROM events
    WHERE %s
    WINDOW w AS (PARTITION BY stream_id ORDER BY stream_version)
)
SELECT DISTINCT ON (stream_id) stream_id, stream_version, position,
       CASE WHEN stream_version <> expected_version THEN 'version ' || expected_version || ' is missing'
            WHEN NOT link_ok THEN 'previous-hash link does not match the previous event'
            ELSE 'hash does not match the event content' END
FROM checked
WHERE NOT (hash_ok AND link_ok AND stream_version = expected_version)
ORDER BY stream_id, stream_version`

// VerifyStream checks one stream's hash chain and returns its first broken
// link, or nil when the chain is intact.
func (s *Store) VerifyStream(ctx context.Context, streamID string) (*ChainBreak, error) {
	rows, err := s.pool.Query(ctx, fmt.Sprintf(chainCheckSQL, "stream_id = $1"), streamID)
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
		rows, err := s.pool.Query(ctx, fmt.Sprintf(chainCheckSQL, "stream_id > $1 AND stream_id <= $2"), after, *last)
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
