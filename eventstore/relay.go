package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/internal/telemetry"
)

// RelayConfig configures the relay from the event log to JetStream.
type RelayConfig struct {
	Name          string // checkpoint name; default "relay"
	Stream        string // JetStream stream; default domain.DefaultStream
	SubjectPrefix string // first subject token; default domain.DefaultSubjectPrefix
	// Replicas of the stream: 1..5, or 0 to choose: 3 on a NATS cluster
	// (the fewest that survive losing a node), 1 on a single server.
	Replicas        int
	DuplicateWindow time.Duration // JetStream de-duplication window; default 2m
	BatchSize       int           // events read and published per page; default 2000
	AckTimeout      time.Duration // how long JetStream may take to acknowledge; default 5s
	PollInterval    time.Duration // idle wait between reads; default 50ms
	LockKey         int64         // advisory lock key; default derived from Name and Stream; combined with the schema
	// PurgeInterval is how often the leader looks for erased streams to
	// purge from the stream besides right after relaying an erasure;
	// default 1m.
	PurgeInterval time.Duration
	// Registerer takes the relay metrics (leadsvc_relay_*); nil registers
	// none.
	Registerer prometheus.Registerer
}

func (c *RelayConfig) setDefaults() {
	if c.Name == "" {
		c.Name = "relay"
	}
	if c.Stream == "" {
		c.Stream = domain.DefaultStream
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = domain.DefaultSubjectPrefix
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = 2 * time.Minute
	}
	if c.BatchSize == 0 {
		c.BatchSize = 2000
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = 5 * time.Second
	}
	if c.PollInterval == 0 {
		c.PollInterval = 50 * time.Millisecond
	}
	if c.PurgeInterval == 0 {
		c.PurgeInterval = time.Minute
	}
	if c.LockKey == 0 {
		h := fnv.New64a()
		_, _ = h.Write([]byte("leadsvc-relay/" + c.Name + "/" + c.Stream))
		c.LockKey = int64(h.Sum64())
	}
}

// Validate reports every problem of the configuration at once.
func (c RelayConfig) Validate() error {
	var errs []error
	if c.Replicas < 0 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("relay: replicas %d not in 1..5 (or 0 to choose)", c.Replicas))
	}
	if c.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("relay: batch size %d < 1", c.BatchSize))
	}
	// A crash between publishing and checkpointing re-publishes at most one
	// page; the window must outlast that so JetStream drops the repeats.
	if c.DuplicateWindow < 10*time.Second {
		errs = append(errs, fmt.Errorf("relay: duplicate window %v shorter than 10s", c.DuplicateWindow))
	}
	return errors.Join(errs...)
}

// Relay publishes committed events, in committed order, to one JetStream
// stream (the transactional outbox, invariant 1). One relay among all
// processes is active: the holder of a Postgres advisory lock.
type Relay struct {
	cfg     RelayConfig
	store   *Store
	pool    *pgxpool.Pool
	nc      *nats.Conn
	js      nats.JetStreamContext
	jsx     jetstream.JetStream
	pub     *OrderedPublisher
	logger  *slog.Logger
	metrics relayMetrics
	wake    chan struct{} // WakePurge

	mu       sync.Mutex
	leader   bool
	cursor   Cursor
	lastErr  error
	lastSent time.Time
}

// NewRelay returns a relay over store publishing through nc.
func NewRelay(cfg RelayConfig, store *Store, nc *nats.Conn, logger *slog.Logger) (*Relay, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	js, err := nc.JetStream()
	if err != nil {
		return nil, fmt.Errorf("relay: jetstream: %w", err)
	}
	// The message UUID, set to the event id, becomes Nats-Msg-Id and
	// JetStream drops duplicates; the page is pipelined (OrderedPublisher).
	pub, err := NewOrderedPublisher(nc, 2*cfg.BatchSize, cfg.AckTimeout)
	if err != nil {
		return nil, fmt.Errorf("relay: publisher: %w", err)
	}
	jsx, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("relay: jetstream: %w", err)
	}
	r := &Relay{cfg: cfg, store: store, pool: store.Pool(), nc: nc, js: js, jsx: jsx, pub: pub, logger: logger,
		wake: make(chan struct{}, 1)}
	if r.metrics, err = newRelayMetrics(r, cfg.Registerer); err != nil {
		return nil, err
	}
	return r, nil
}

// Run relays until ctx ends. Without the lock it waits to take over; with
// it, it publishes and checkpoints, and purges erased streams from the
// stream. It returns nil when ctx is cancelled, after the page in flight
// is published and checkpointed.
func (r *Relay) Run(ctx context.Context) error {
	swept := make(chan struct{})
	go func() { defer close(swept); r.sweep(ctx) }()
	defer func() { <-swept }()
	for ctx.Err() == nil {
		conn, ok, err := r.acquire(ctx)
		if err != nil {
			r.fail(err, "relay: cannot take the leader lock")
			sleep(ctx, time.Second)
			continue
		}
		if !ok {
			sleep(ctx, time.Second)
			continue
		}
		err = r.lead(ctx, conn)
		r.release(conn)
		if err != nil && ctx.Err() == nil {
			r.fail(err, "relay: lost leadership")
			sleep(ctx, time.Second)
		}
	}
	return nil
}

// lockKeySQL mixes the schema into the lock key: advisory locks are the
// whole database's, and a log in another schema has a relay of its own.
const lockKeySQL = `$1 # hashtextextended(coalesce(current_schema(), ''), 0)`

// acquire takes the session-level advisory lock on a connection held for as
// long as this relay leads; the lock dies with the connection, so another
// process takes over when this one does.
func (r *Relay) acquire(ctx context.Context) (*pgxpool.Conn, bool, error) {
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return nil, false, err
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+lockKeySQL+`)`, r.cfg.LockKey).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, err
	}
	if !ok {
		conn.Release()
	}
	return conn, ok, nil
}

func (r *Relay) release(conn *pgxpool.Conn) {
	r.setLeader(false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock(`+lockKeySQL+`)`, r.cfg.LockKey); err != nil {
		// The session is unusable; closing it is what frees the lock.
		_ = conn.Conn().Close(ctx)
	}
	conn.Release()
}

func (r *Relay) lead(ctx context.Context, lock *pgxpool.Conn) error {
	cursor, err := r.checkpoint(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.cursor, r.leader = cursor, true
	r.mu.Unlock()
	r.logger.Info("relay leading", "stream", r.cfg.Stream, "position", cursor.Position)
	streamReady := false
	for ctx.Err() == nil {
		if err := lock.Ping(ctx); err != nil {
			return fmt.Errorf("leader lock connection: %w", err)
		}
		if !streamReady {
			if err := r.ensureStream(); err != nil {
				r.fail(err, "relay: JetStream stream not available; retrying")
				sleep(ctx, backoff(r.streak()))
				continue
			}
			streamReady = true
			if err := r.widenLegacyFilters(); err != nil {
				// Consumers that stay narrow miss new messages, which is
				// theirs to fix; the stream's own fan-out goes on.
				r.logger.Warn("relay: cannot widen consumer filters to the subjects with the aggregate id",
					"stream", r.cfg.Stream, "err", err)
			}
		}
		page, erased, err := r.store.readPage(ctx, cursor, r.cfg.BatchSize)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.fail(err, "relay: reading the log failed; retrying")
			sleep(ctx, backoff(r.streak()))
			continue
		}
		if len(page) == 0 {
			sleep(ctx, r.cfg.PollInterval)
			continue
		}
		// The page is finished even when ctx ends meanwhile: what was read
		// is published and checkpointed before Run returns.
		done, err := r.publish(context.WithoutCancel(ctx), page, erased)
		if err != nil {
			r.metrics.errors.Inc()
		}
		if done > 0 {
			cursor = page[done-1].Cursor()
			if cerr := r.saveCheckpoint(context.WithoutCancel(ctx), cursor); cerr != nil {
				return cerr
			}
			if erasedUpTo(page[:done], erased) {
				// The relay has passed an erasure: the stream now holds
				// every message of that stream it will ever get.
				r.WakePurge()
			}
		}
		if err != nil {
			r.fail(err, "relay: publishing to JetStream failed; retrying")
			sleep(ctx, backoff(r.streak()))
			continue
		}
		r.ok(cursor)
	}
	return nil
}

// publish sends the page pipelined, in order, except the events of
// erased streams other than their erasure (readPage), and returns how many
// records of the page, from the first, are done: acknowledged by
// JetStream or skipped.
func (r *Relay) publish(_ context.Context, page []Record, erased map[string]int64) (int, error) {
	out := make([]Outgoing, 0, len(page))
	at := make([]int, 0, len(page)) // out[i] is page[at[i]]
	stop := len(page)
	var prepErr error
	for i, rec := range page {
		if pos, ok := erased[rec.StreamID]; ok && pos != rec.Position {
			continue
		}
		body, err := json.Marshal(ToCloudEvent(rec))
		if err != nil {
			stop, prepErr = i, fmt.Errorf("event %d: %w", rec.Position, err)
			break
		}
		msg := message.NewMessage(rec.EventID.String(), body)
		msg.Metadata.Set("Content-Type", domain.CloudEventContentType)
		// The commit position beside the envelope, not in it: consumers
		// checkpoint without reading the log, and the envelope stays the
		// one webhooks send.
		msg.Metadata.Set(domain.TxIDHeader, strconv.FormatUint(rec.TxID, 10))
		if rec.Metadata.Traceparent != "" {
			// The header lets consumers continue the trace without
			// decoding the body.
			msg.Metadata.Set(telemetry.Header, rec.Metadata.Traceparent)
		}
		out = append(out, Outgoing{Subject: Subject(r.cfg.SubjectPrefix, rec), Message: msg})
		at = append(at, i)
	}
	n, err := r.pub.PublishOrdered(out)
	r.metrics.published.Add(float64(n))
	if n < len(out) {
		stop = at[n]
	}
	// Done but not published: skipped.
	r.metrics.skipped.Add(float64(stop - n))
	if err == nil {
		err = prepErr
	}
	return stop, err
}

// clusterReplicas is the stream's replicas on a NATS cluster unless
// configured.
const clusterReplicas = 3

// wantedReplicas is the configured number of replicas, else 3 when the
// server is part of a cluster and 1 when it stands alone (or is embedded).
func (r *Relay) wantedReplicas() int {
	if r.cfg.Replicas > 0 {
		return r.cfg.Replicas
	}
	if r.nc.ConnectedClusterName() != "" {
		return clusterReplicas
	}
	return 1
}

// ensureStream creates the stream, or raises the replicas of an existing
// one to those wanted. When chosen rather than configured, 3 replicas need
// 3 JetStream servers up: a cluster that cannot place them gets (or keeps)
// fewer, with a warning, and the next leader tries again.
func (r *Relay) ensureStream() error {
	replicas := r.wantedReplicas()
	want := &nats.StreamConfig{
		Name:       r.cfg.Stream,
		Subjects:   []string{r.cfg.SubjectPrefix + ".>"},
		Storage:    nats.FileStorage,
		Replicas:   replicas,
		Duplicates: r.cfg.DuplicateWindow,
		Retention:  nats.LimitsPolicy,
	}
	chosen := r.cfg.Replicas == 0
	info, err := r.js.StreamInfo(r.cfg.Stream)
	switch {
	case errors.Is(err, nats.ErrStreamNotFound):
		_, err = r.js.AddStream(want)
		if err != nil && chosen && replicas > 1 && cannotPlace(err) {
			r.logger.Warn("relay: the NATS cluster cannot place the stream's replicas now; creating it with 1",
				"stream", r.cfg.Stream, "replicas", replicas, "err", err)
			want.Replicas = 1
			_, err = r.js.AddStream(want)
		}
		if err != nil {
			return fmt.Errorf("create stream %s with %d replicas: %w", r.cfg.Stream, want.Replicas, err)
		}
		r.logger.Info("relay: stream created", "stream", r.cfg.Stream, "replicas", want.Replicas)
		return nil
	case err != nil:
		return err
	case info.Config.Replicas < replicas:
		raised := info.Config
		raised.Replicas = replicas
		if _, err := r.js.UpdateStream(&raised); err != nil {
			// The stream works as it is; fewer replicas are no reason to
			// stop publishing.
			r.logger.Warn("relay: cannot raise the stream's replicas; keeping it as it is",
				"stream", r.cfg.Stream, "replicas", info.Config.Replicas, "wanted", replicas, "err", err)
			return nil
		}
		r.logger.Info("relay: stream replicas raised", "stream", r.cfg.Stream, "from", info.Config.Replicas, "to", replicas)
	}
	return nil
}

// cannotPlace reports JetStream's answer when too few servers are up to
// hold the replicas asked for.
func cannotPlace(err error) bool {
	var jsErr nats.JetStreamError
	return errors.As(err, &jsErr) && jsErr.APIError() != nil &&
		jsErr.APIError().ErrorCode == nats.JSErrCodeInsufficientResourcesErr
}

func (r *Relay) checkpoint(ctx context.Context) (Cursor, error) {
	var txText string
	var c Cursor
	err := r.pool.QueryRow(ctx, `SELECT tx_id::text, position FROM relay_checkpoints WHERE name = $1`, r.cfg.Name).Scan(&txText, &c.Position)
	if errors.Is(err, pgx.ErrNoRows) {
		return Cursor{}, nil
	}
	if err != nil {
		return Cursor{}, fmt.Errorf("relay checkpoint: %w", err)
	}
	c.TxID, _ = strconv.ParseUint(txText, 10, 64)
	return c, nil
}

// saveCheckpoint records how far the stream holds the log. It commits
// without waiting for the flush (synchronous_commit off, in the same
// round trip): a checkpoint lost with a crash of PostgreSQL only makes the
// relay publish again what the stream holds, which it must survive anyway
// (a crash between a publish and its checkpoint) and JetStream drops as
// duplicates; waiting for the flush held every page, and so every event's
// way to the projections, for a disk's write under load.
func (r *Relay) saveCheckpoint(ctx context.Context, c Cursor) error {
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('synchronous_commit', 'off', true)`)
	b.Queue(`INSERT INTO relay_checkpoints (name, tx_id, position, updated_at)
		VALUES ($1, $2::text::xid8, $3, now())
		ON CONFLICT (name) DO UPDATE SET tx_id = excluded.tx_id, position = excluded.position, updated_at = now()`,
		r.cfg.Name, strconv.FormatUint(c.TxID, 10), c.Position)
	if err := r.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("relay checkpoint: %w", err)
	}
	return nil
}

// fail logs the first error of a failure streak only.
func (r *Relay) fail(err error, msg string) {
	r.mu.Lock()
	first := r.lastErr == nil
	r.lastErr = err
	pos := r.cursor.Position
	r.mu.Unlock()
	if first {
		r.logger.Warn(msg, "err", err, "position", pos)
	}
}

func (r *Relay) ok(c Cursor) {
	r.mu.Lock()
	recovered := r.lastErr != nil
	r.cursor, r.lastErr, r.lastSent = c, nil, time.Now()
	r.mu.Unlock()
	if recovered {
		r.logger.Info("relay recovered", "position", c.Position)
	}
}

func (r *Relay) streak() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr != nil
}

func (r *Relay) setLeader(v bool) {
	r.mu.Lock()
	r.leader = v
	r.mu.Unlock()
}

// RelayStatus is what /readyz shows of the relay.
type RelayStatus struct {
	Leader    bool  `json:"leader"`
	Position  int64 `json:"position"`
	LagEvents int64 `json:"lag_events"`
	// LagSeconds is the age of the oldest committed event not yet
	// published, 0 when there is none.
	LagSeconds float64 `json:"lag_seconds"`
	LastError  string  `json:"last_error,omitempty"`
}

// lagCountLimit caps the lag count so that readiness stays cheap when far
// behind.
const lagCountLimit = 100000

// Status reports the relay's position and how many committed events it has
// yet to publish. A follower reports the shared checkpoint.
func (r *Relay) Status(ctx context.Context) (RelayStatus, error) {
	r.mu.Lock()
	st := RelayStatus{Leader: r.leader, Position: r.cursor.Position}
	cursor, lastErr := r.cursor, r.lastErr
	r.mu.Unlock()
	if !st.Leader {
		c, err := r.checkpoint(ctx)
		if err != nil {
			return st, err
		}
		cursor, st.Position = c, c.Position
	}
	if lastErr != nil {
		st.LastError = lastErr.Error()
	}
	// The oldest unpublished event comes first in commit order, so the
	// capped scan still finds it.
	err := r.pool.QueryRow(ctx, `SELECT count(*), coalesce(extract(epoch FROM now() - min(recorded_at)), 0)::float8
		FROM (SELECT recorded_at FROM events
		WHERE (tx_id, position) > ($1::text::xid8, $2) AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY tx_id, position LIMIT $3) t`, strconv.FormatUint(cursor.TxID, 10), cursor.Position, lagCountLimit).Scan(&st.LagEvents, &st.LagSeconds)
	st.LagSeconds = max(st.LagSeconds, 0) // clocks of writers may run ahead
	if err != nil {
		return st, fmt.Errorf("relay lag: %w", err)
	}
	return st, nil
}

func backoff(streak bool) time.Duration {
	if streak {
		return time.Second
	}
	return 100 * time.Millisecond
}

// sleep waits d, or until ctx ends (its error).
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// relayMetrics are the relay's series; the lag and leadership are read
// when scraped, so every process reports them, leader or not.
type relayMetrics struct {
	published prometheus.Counter
	errors    prometheus.Counter
	skipped   prometheus.Counter
	purge     purgeMetrics
}

var (
	relayLagEventsDesc = prometheus.NewDesc("leadsvc_relay_lag_events",
		"Committed events the relay has yet to publish (capped at 100000).", nil, nil)
	relayLagSecondsDesc = prometheus.NewDesc("leadsvc_relay_lag_seconds",
		"Age of the oldest committed event the relay has yet to publish; 0 when none.", nil, nil)
	relayLeaderDesc = prometheus.NewDesc("leadsvc_relay_leader",
		"1 while this process holds the relay's lock and publishes, else 0.", nil, nil)
)

func newRelayMetrics(r *Relay, reg prometheus.Registerer) (relayMetrics, error) {
	m := relayMetrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "leadsvc_relay_events_total",
			Help: "Events this process's relay published and JetStream acknowledged."}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "leadsvc_relay_publish_errors_total",
			Help: "Pages this process's relay failed to publish whole (retried)."}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{Name: "leadsvc_relay_erased_skipped_total",
			Help: "Events of erased streams the relay read and did not publish."}),
		purge: newPurgeMetrics(),
	}
	if reg != nil {
		for _, c := range append([]prometheus.Collector{m.published, m.errors, m.skipped, relayCollector{r}}, m.purge.collectors()...) {
			if err := reg.Register(c); err != nil {
				return m, fmt.Errorf("relay metrics: %w", err)
			}
		}
	}
	return m, nil
}

// relayCollector reads the relay's lag at scrape time.
type relayCollector struct{ r *Relay }

// scrapeTimeout bounds the lag query of one scrape.
const scrapeTimeout = 5 * time.Second

func (c relayCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- relayLagEventsDesc
	ch <- relayLagSecondsDesc
	ch <- relayLeaderDesc
}

func (c relayCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	st, err := c.r.Status(ctx)
	leader := 0.0
	if st.Leader {
		leader = 1
	}
	ch <- prometheus.MustNewConstMetric(relayLeaderDesc, prometheus.GaugeValue, leader)
	if err != nil {
		// No lag rather than a wrong one; /readyz says why.
		return
	}
	ch <- prometheus.MustNewConstMetric(relayLagEventsDesc, prometheus.GaugeValue, float64(st.LagEvents))
	ch <- prometheus.MustNewConstMetric(relayLagSecondsDesc, prometheus.GaugeValue, st.LagSeconds)
}
