package eventstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// The broker side of erasure (docs/privacy.md#the-broker): the relay never
// publishes an event of an erased stream but the erasure's own, and removes
// the messages it published before from the JetStream stream.

// ErrNotErased is Forget's answer for a stream erased_streams does not list.
var ErrNotErased = errors.New("stream not erased")

// ErrNotRelayed is Forget's answer while the relay has not yet passed the
// erasure: the stream may still receive the stream's earlier events, so a
// purge now could miss some. The sweep tries again.
var ErrNotRelayed = errors.New("erasure not relayed yet")

// purgeBatch is how many erased streams one sweep step purges.
const purgeBatch = 200

// readPage reads the relay's next page of the log and, in the same round
// trip, the erased streams among the page's, with the position of their
// erasure event. The erasures are read by a later statement than the
// page, whose snapshot sees at least the page's events (every transaction
// below the page's horizon stays below a later one): no stream of the page
// is missed.
func (s *Store) readPage(ctx context.Context, after Cursor, limit int) ([]Record, map[string]int64, error) {
	erased := map[string]int64{}
	recs, err := s.readAllThen(ctx, after, limit, decodeNone, func(b *pgx.Batch, args ...any) {
		b.Queue(erasedInPageSQL, args...).Query(func(rows pgx.Rows) error {
			var id string
			var pos int64
			_, err := pgx.ForEachRow(rows, []any{&id, &pos}, func() error { erased[id] = pos; return nil })
			return err
		})
	})
	return recs, erased, err
}

// erasedInPageSQL lists the erased streams among those of a page of
// readAllSQL, for the same arguments.
const erasedInPageSQL = `SELECT x.stream_id, x.position FROM erased_streams x
	WHERE x.stream_id IN (SELECT stream_id FROM events WHERE position = ANY (ARRAY(
		SELECT position FROM events
		WHERE (tx_id, position) > ($1::text::xid8, $2)
		  AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY tx_id, position LIMIT $3)))`

// erasedUpTo reports whether recs hold the erasure event of a stream.
func erasedUpTo(recs []Record, erased map[string]int64) bool {
	if len(erased) == 0 {
		return false
	}
	for _, r := range recs {
		if erased[r.StreamID] == r.Position {
			return true
		}
	}
	return false
}

// erasure is an erased stream and its erasure event.
type erasure struct {
	streamID string
	account  uuid.UUID
	eventID  uuid.UUID
}

// pendingErasuresSQL lists the erasures the relay has passed (its
// checkpoint is at or after the erasure event in commit order) whose
// messages this JetStream stream has not been purged of. Passed matters:
// every earlier event of the stream is then in JetStream, and every later
// read of the relay sees the erasure and skips them.
const pendingErasuresSQL = `SELECT x.stream_id, x.account_id, ev.event_id
	FROM erased_streams x JOIN events ev ON ev.position = x.position
	WHERE NOT EXISTS (SELECT 1 FROM broker_purges p WHERE p.broker_stream = $1 AND p.stream_id = x.stream_id)
	  AND (ev.tx_id, ev.position) <= (SELECT tx_id, position FROM relay_checkpoints WHERE name = $2)`

func (r *Relay) pendingErasures(ctx context.Context, limit int) ([]erasure, error) {
	rows, err := r.pool.Query(ctx, pendingErasuresSQL+` ORDER BY x.position LIMIT $3`, r.cfg.Stream, r.cfg.Name, limit)
	if err != nil {
		return nil, fmt.Errorf("pending erasures: %w", err)
	}
	var e erasure
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (erasure, error) {
		err := row.Scan(&e.streamID, &e.account, &e.eventID)
		return e, err
	})
}

// Forget removes the messages of an erased stream from the JetStream
// stream, all but its erasure event's, and returns how many it removed.
// It is idempotent and safe from any process: ErrNotErased when the stream
// is not erased, ErrNotRelayed until the relay has published the erasure;
// a stream already purged is purged again (finding nothing).
func (r *Relay) Forget(ctx context.Context, streamID string) (int64, error) {
	var one erasure
	var passed bool
	err := r.pool.QueryRow(ctx, `SELECT x.stream_id, x.account_id, ev.event_id,
			coalesce((ev.tx_id, ev.position) <= (SELECT tx_id, position FROM relay_checkpoints WHERE name = $2), false)
		FROM erased_streams x JOIN events ev ON ev.position = x.position WHERE x.stream_id = $1`, streamID, r.cfg.Name).
		Scan(&one.streamID, &one.account, &one.eventID, &passed)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ErrNotErased
	}
	if err != nil {
		return 0, fmt.Errorf("forget %s: %w", streamID, err)
	}
	if !passed {
		return 0, ErrNotRelayed
	}
	counts, err := r.purge(ctx, []erasure{one})
	return counts[streamID], err
}

// PurgeErased purges up to limit erased streams the relay has passed and
// this JetStream stream still holds, and returns how many it purged. The
// relay's leader runs it after publishing an erasure and every
// PurgeInterval.
func (r *Relay) PurgeErased(ctx context.Context, limit int) (int, error) {
	pending, err := r.pendingErasures(ctx, limit)
	if err != nil || len(pending) == 0 {
		return 0, err
	}
	_, err = r.purge(ctx, pending)
	return len(pending), err
}

// purge removes the messages of the erasures from the stream and records
// each done. Messages under the current subject form are found by the
// aggregate's subject filter; messages from before the subject carried the
// id by a headers-only scan of the account's legacy subjects.
func (r *Relay) purge(ctx context.Context, es []erasure) (map[string]int64, error) {
	start := time.Now()
	st, err := r.jsx.Stream(ctx, r.cfg.Stream)
	if err != nil {
		return nil, r.purgeFailed(fmt.Errorf("purge: stream %s: %w", r.cfg.Stream, err))
	}
	subjects, err := r.currentSubjects(ctx, es)
	if err != nil {
		return nil, r.purgeFailed(err)
	}
	counts := make(map[string]int64, len(es))
	for _, e := range es {
		n, err := r.purgeCurrent(ctx, st, e, subjects[e.streamID])
		if err != nil {
			return counts, r.purgeFailed(err)
		}
		counts[e.streamID] = n
	}
	byAccount := map[uuid.UUID][]erasure{}
	for _, e := range es {
		byAccount[e.account] = append(byAccount[e.account], e)
	}
	for account, group := range byAccount {
		if err := r.purgeLegacy(ctx, st, account, group, counts); err != nil {
			return counts, r.purgeFailed(err)
		}
	}
	b := &pgx.Batch{}
	var total int64
	for _, e := range es {
		b.Queue(`INSERT INTO broker_purges (broker_stream, stream_id, purged_at, messages) VALUES ($1, $2, now(), $3)
			ON CONFLICT (broker_stream, stream_id) DO UPDATE SET purged_at = now(), messages = broker_purges.messages + excluded.messages`,
			r.cfg.Stream, e.streamID, counts[e.streamID])
		total += counts[e.streamID]
		r.logger.Info("broker: erased stream purged", "stream", r.cfg.Stream, "stream_id", e.streamID, "messages", counts[e.streamID])
	}
	if err := r.pool.SendBatch(ctx, b).Close(); err != nil {
		return counts, r.purgeFailed(fmt.Errorf("purge: record: %w", err))
	}
	r.metrics.purge.streams.Add(float64(len(es)))
	r.metrics.purge.messages.Add(float64(total))
	r.metrics.purge.seconds.Observe(time.Since(start).Seconds())
	return counts, nil
}

func (r *Relay) purgeFailed(err error) error {
	r.metrics.purge.errors.Inc()
	return err
}

// currentSubjects names, for each erased stream, the literal subjects
// its messages were published on in the current form: one per event type
// of the stream. JetStream finds a literal subject's messages through its
// per-subject index; a subject with a wildcard token is matched block by
// block, which costs the whole stream per lookup on a large one.
func (r *Relay) currentSubjects(ctx context.Context, es []erasure) (map[string][]string, error) {
	streams := make([]string, len(es))
	for i, e := range es {
		streams[i] = e.streamID
	}
	rows, err := r.pool.Query(ctx, `SELECT DISTINCT stream_id, account_id, coalesce(campaign_id, '00000000-0000-0000-0000-000000000000'), event_type
		FROM events WHERE stream_id = ANY($1)`, streams)
	if err != nil {
		return nil, fmt.Errorf("purge: subjects of erased streams: %w", err)
	}
	out := make(map[string][]string, len(es))
	var rec Record
	_, err = pgx.ForEachRow(rows, []any{&rec.StreamID, &rec.AccountID, &rec.CampaignID, &rec.Type}, func() error {
		out[rec.StreamID] = append(out[rec.StreamID], Subject(r.cfg.SubjectPrefix, rec))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("purge: subjects of erased streams: %w", err)
	}
	return out, nil
}

// purgeCurrent erases e's messages under the current subject form, but
// its erasure event's, and returns how many went. They are found by
// JetStream's next-message-for-subject lookup on each literal subject (a
// lead has few messages), and erased rather than purged: a purge or a
// plain delete only drops them from the index, and their bytes stay in
// the stream's files until a block is compacted; a secure delete
// overwrites them.
func (r *Relay) purgeCurrent(ctx context.Context, st jetstream.Stream, e erasure, subjects []string) (int64, error) {
	var n int64
	for _, subject := range subjects {
		for seq := uint64(1); ; {
			m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				break
			}
			if err != nil {
				return n, fmt.Errorf("purge %s: %w", e.streamID, err)
			}
			seq = m.Sequence + 1
			// The erasure stays: subscribers that read the stream later
			// still learn the lead was erased.
			if m.Header.Get(nats.MsgIdHdr) == e.eventID.String() {
				continue
			}
			if err := eraseMsg(ctx, st, m.Sequence); err != nil {
				return n, fmt.Errorf("purge %s: %w", e.streamID, err)
			}
			n++
		}
	}
	return n, nil
}

// eraseMsg overwrites and deletes one message; one already gone is not an
// error, so purges can repeat and run at once.
func eraseMsg(ctx context.Context, st jetstream.Stream, seq uint64) error {
	if err := st.SecureDeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("erase message %d: %w", seq, err)
	}
	return nil
}

// subjectCount is how many messages of the stream match filter.
func subjectCount(ctx context.Context, st jetstream.Stream, filter string) (uint64, error) {
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return 0, fmt.Errorf("purge: count %s: %w", filter, err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n, nil
}

// purgeLegacy deletes the messages of one account's erasures that are
// still under the legacy subject form, matched by their Nats-Msg-Id (the
// event id) against the erased streams' events; the erasure events
// themselves stay.
func (r *Relay) purgeLegacy(ctx context.Context, st jetstream.Stream, account uuid.UUID, es []erasure, counts map[string]int64) error {
	filter := legacyFilter(r.cfg.SubjectPrefix, account)
	total, err := subjectCount(ctx, st, filter)
	if err != nil || total == 0 {
		return err
	}
	streams := make([]string, len(es))
	keep := make([]uuid.UUID, len(es))
	for i, e := range es {
		streams[i], keep[i] = e.streamID, e.eventID
	}
	rows, err := r.pool.Query(ctx, `SELECT event_id::text, stream_id FROM events WHERE stream_id = ANY($1) AND NOT event_id = ANY($2)`, streams, keep)
	if err != nil {
		return fmt.Errorf("purge: events of erased streams: %w", err)
	}
	owner := map[string]string{}
	var id, stream string
	if _, err := pgx.ForEachRow(rows, []any{&id, &stream}, func() error { owner[id] = stream; return nil }); err != nil {
		return fmt.Errorf("purge: events of erased streams: %w", err)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter},
		DeliverPolicy: jetstream.DeliverAllPolicy, HeadersOnly: true})
	if err != nil {
		return fmt.Errorf("purge: scan %s: %w", filter, err)
	}
	var doomed []uint64
	var doomedOwners []string
	for done := false; !done; {
		batch, err := cons.Fetch(int(min(total, 1000)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return fmt.Errorf("purge: scan %s: %w", filter, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("purge: scan %s: %w", filter, err)
			}
			if s, ok := owner[m.Headers().Get(nats.MsgIdHdr)]; ok {
				doomed, doomedOwners = append(doomed, meta.Sequence.Stream), append(doomedOwners, s)
			}
			done = done || meta.NumPending == 0
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return fmt.Errorf("purge: scan %s: %w", filter, err)
		}
		done = done || n == 0
	}
	for i, seq := range doomed {
		if err := eraseMsg(ctx, st, seq); err != nil {
			return fmt.Errorf("purge: %w", err)
		}
		counts[doomedOwners[i]]++
	}
	return nil
}

// sweep purges erased streams while this relay leads: woken when the
// relay publishes an erasure, and every PurgeInterval for erasures a
// previous leader or a failed purge left.
func (r *Relay) sweep(ctx context.Context) {
	t := time.NewTicker(r.cfg.PurgeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.wake:
		}
		if !r.isLeader() {
			continue
		}
		for ctx.Err() == nil {
			n, err := r.PurgeErased(ctx, purgeBatch)
			if err != nil {
				if ctx.Err() == nil {
					r.logger.Warn("broker: purging erased streams failed; retrying later", "stream", r.cfg.Stream, "err", err)
				}
				break
			}
			if n < purgeBatch {
				break
			}
		}
	}
}

// WakePurge makes the sweep look for erased streams to purge now, rather
// than at its next interval.
func (r *Relay) WakePurge() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Relay) isLeader() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leader
}

// widenLegacyFilters keeps the stream's durable consumers that filter on
// the legacy subject form (<prefix> and four tokens, no '>') receiving:
// each such filter gains its counterpart with a trailing '*', the
// aggregate id. Their messages stay in stream order; what they already
// received is not delivered again.
func (r *Relay) widenLegacyFilters() error {
	var errs []error
	for info := range r.js.Consumers(r.cfg.Stream) {
		cfg := info.Config
		filters := cfg.FilterSubjects
		if cfg.FilterSubject != "" {
			filters = []string{cfg.FilterSubject}
		}
		widened := slices.Clone(filters)
		for _, f := range filters {
			if w := r.widened(f); w != "" && !slices.Contains(filters, w) {
				widened = append(widened, w)
			}
		}
		if len(widened) == len(filters) {
			continue
		}
		cfg.FilterSubject, cfg.FilterSubjects = "", widened
		if _, err := r.js.UpdateConsumer(r.cfg.Stream, &cfg); err != nil {
			errs = append(errs, fmt.Errorf("consumer %s: %w", info.Name, err))
			continue
		}
		r.logger.Info("relay: consumer filters widened to the subjects with the aggregate id", "stream", r.cfg.Stream,
			"consumer", info.Name, "filters", strings.Join(widened, " "))
	}
	return errors.Join(errs...)
}

// widened is the current-form counterpart of a legacy-form filter, or ""
// when f is not one.
func (r *Relay) widened(f string) string {
	rest, ok := strings.CutPrefix(f, r.cfg.SubjectPrefix+".")
	if !ok {
		return ""
	}
	tokens := strings.Split(rest, ".")
	if len(tokens) != 4 || slices.Contains(tokens, ">") {
		return ""
	}
	return f + ".*"
}

// purgeMetrics count the broker's purges (no ids as labels).
type purgeMetrics struct {
	streams  prometheus.Counter
	messages prometheus.Counter
	errors   prometheus.Counter
	seconds  prometheus.Histogram
}

func newPurgeMetrics() purgeMetrics {
	return purgeMetrics{
		streams: prometheus.NewCounter(prometheus.CounterOpts{Name: "leadsvc_broker_purged_streams_total",
			Help: "Erased streams whose messages this process removed from the JetStream stream."}),
		messages: prometheus.NewCounter(prometheus.CounterOpts{Name: "leadsvc_broker_purged_messages_total",
			Help: "Messages of erased streams this process removed from the JetStream stream."}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "leadsvc_broker_purge_errors_total",
			Help: "Purges of erased streams that failed (retried by the sweep)."}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "leadsvc_broker_purge_seconds",
			Help: "Time one purge of erased streams took.", Buckets: prometheus.ExponentialBuckets(0.005, 4, 8)}),
	}
}

func (m purgeMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.streams, m.messages, m.errors, m.seconds}
}
