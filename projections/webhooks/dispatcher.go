package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/leadsvc/leadsvc/internal/telemetry"
	"github.com/leadsvc/leadsvc/projections"
)

// Config configures the Dispatcher. Zero values take the defaults.
type Config struct {
	// AllowPrivate lets endpoints resolve to private, loopback and
	// link-local addresses (LEADSVC_WEBHOOKS_ALLOW_PRIVATE).
	AllowPrivate bool
	// Clock is the schedule's clock: when a message is due, when an
	// endpoint started failing. Tests move it to make days pass.
	Clock func() time.Time
	// Schedule is the wait before each retry; default DefaultSchedule.
	Schedule []time.Duration
	// Jitter stretches or shrinks each wait at random by up to this
	// fraction; default 0.1. Negative means none.
	Jitter float64
	// AttemptTimeout bounds one attempt, connection to last byte read;
	// default 15 s.
	AttemptTimeout time.Duration
	// MaxResponseBytes is how much of a response is read; default 64 KiB.
	MaxResponseBytes int64
	// PerEndpoint is how many attempts one subscription may have in
	// flight; default 16. With MaxInFlight, it keeps a slow endpoint from
	// taking the capacity the others need.
	PerEndpoint int
	// MaxInFlight bounds attempts in flight in all; default 512.
	MaxInFlight int
	// DisableAfter is how long an endpoint may fail every attempt before
	// it is disabled; default 5 days.
	DisableAfter time.Duration
	// MaxRetryAfter caps the wait a Retry-After header can ask; default 24 h.
	MaxRetryAfter time.Duration
	// PollInterval is how often the dispatcher looks for due messages
	// without being woken; default 1 s.
	PollInterval time.Duration
	// Retention is how long finished messages and their attempts are
	// kept; default 30 days.
	Retention time.Duration
	// OpenSecret opens a signing secret sealed in the webhooks view.
	OpenSecret func(webhookID uuid.UUID, sealed []byte) (string, error)
	// Disable records that a subscription is disabled (webhook.disabled)
	// for a reason of domain.WebhookDisabled*; it reports false when the
	// subscription already was.
	Disable func(ctx context.Context, accountID, webhookID uuid.UUID, reason, detail string) (bool, error)
	// Events reads the logged events whose envelopes are the bodies.
	Events Events
	// TracerProvider, when not nil, gets a client span per attempt, child
	// of the traceparent of the event sent.
	TracerProvider trace.TracerProvider
}

func (c *Config) setDefaults() {
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Schedule == nil {
		c.Schedule = DefaultSchedule
	}
	if c.Jitter == 0 {
		c.Jitter = 0.1
	}
	if c.Jitter < 0 {
		c.Jitter = 0
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = 15 * time.Second
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = 64 << 10
	}
	if c.PerEndpoint == 0 {
		c.PerEndpoint = 16
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 512
	}
	if c.DisableAfter == 0 {
		c.DisableAfter = 5 * 24 * time.Hour
	}
	if c.MaxRetryAfter == 0 {
		c.MaxRetryAfter = 24 * time.Hour
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
	if c.Retention == 0 {
		c.Retention = 30 * 24 * time.Hour
	}
}

// Events is what the dispatcher reads of the event log.
type Events interface {
	// ReadPositions reads the events at positions, leaving out positions
	// that name none.
	ReadPositions(ctx context.Context, positions []int64) ([]projections.Event, error)
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.OpenSecret == nil || c.Disable == nil || c.Events == nil {
		errs = append(errs, errors.New("webhooks: OpenSecret, Disable and Events are required"))
	}
	if c.Jitter >= 1 {
		errs = append(errs, fmt.Errorf("webhooks: jitter %v is not below 1", c.Jitter))
	}
	if c.PerEndpoint < 1 || c.MaxInFlight < c.PerEndpoint {
		errs = append(errs, fmt.Errorf("webhooks: per-endpoint %d and in-flight %d: need 1 ≤ per-endpoint ≤ in-flight", c.PerEndpoint, c.MaxInFlight))
	}
	if c.AttemptTimeout <= 0 || c.MaxResponseBytes < 1 || c.DisableAfter <= 0 || c.PollInterval <= 0 || c.Retention <= 0 {
		errs = append(errs, errors.New("webhooks: timeouts, periods and sizes must be positive"))
	}
	return errors.Join(errs...)
}

// excerptBytes is how much of a response the delivery log keeps.
const excerptBytes = 512

// Dispatcher sends the messages the Projection records: at least once,
// each subscription's messages of one lead in order, every attempt
// logged. Several dispatchers (processes) may run: a message is claimed
// with a lease before it is sent.
type Dispatcher struct {
	cfg     Config
	pool    *pgxpool.Pool
	client  *http.Client
	logger  *slog.Logger
	metrics *dispatchMetrics
	tracer  trace.Tracer // nil: tracing off
	wake    chan struct{}
	records chan recorded

	mu       sync.Mutex
	inflight map[uuid.UUID]int // attempts in flight per subscription
	claimed  map[int64]bool    // messages in flight
	wg       sync.WaitGroup
}

// NewDispatcher returns a dispatcher over pool; reg, when not nil, gets
// its metrics.
func NewDispatcher(cfg Config, pool *pgxpool.Pool, logger *slog.Logger, reg prometheus.Registerer) (*Dispatcher, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Dispatcher{cfg: cfg, pool: pool, client: newClient(cfg.AllowPrivate, cfg.PerEndpoint), logger: logger,
		tracer: telemetry.Tracer(cfg.TracerProvider), wake: make(chan struct{}, 1), records: make(chan recorded, cfg.MaxInFlight),
		inflight: map[uuid.UUID]int{}, claimed: map[int64]bool{}}
	var err error
	if d.metrics, err = newDispatchMetrics(reg, d); err != nil {
		return nil, err
	}
	return d, nil
}

// Kick makes the dispatcher look for due messages now.
func (d *Dispatcher) Kick() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run sends due messages until ctx ends, then waits for the attempts in
// flight: those cut short before an answer are not counted and their
// messages are released to be sent again; answered ones are recorded.
// It returns nil on cancellation.
func (d *Dispatcher) Run(ctx context.Context) error {
	go d.listen(ctx)
	stopRecording := make(chan struct{})
	recorderDone := make(chan struct{})
	go func() {
		defer close(recorderDone)
		d.recordLoop(stopRecording)
	}()
	defer func() {
		d.wg.Wait() // every attempt in flight has been recorded
		close(stopRecording)
		<-recorderDone
	}()
	var lastSweep time.Time
	for {
		if time.Since(lastSweep) > time.Minute {
			if err := d.sweep(ctx); err != nil && ctx.Err() == nil {
				d.logger.Warn("webhooks: sweeping finished messages failed", "err", err)
			}
			lastSweep = time.Now()
		}
		n, err := d.claim(ctx)
		if err != nil && ctx.Err() == nil {
			d.logger.Warn("webhooks: claiming due messages failed", "err", err)
		}
		if ctx.Err() != nil {
			return nil
		}
		if n > 0 {
			continue // more may be due already
		}
		t := time.NewTimer(d.cfg.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-d.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// listen turns Postgres notifications on WakeChannel into wake-ups, on a
// connection of its own so that it holds none of the pool's.
func (d *Dispatcher) listen(ctx context.Context) {
	for ctx.Err() == nil {
		err := func() error {
			conn, err := pgx.ConnectConfig(ctx, d.pool.Config().ConnConfig.Copy())
			if err != nil {
				return err
			}
			defer conn.Close(context.WithoutCancel(ctx))
			if _, err := conn.Exec(ctx, `LISTEN `+WakeChannel); err != nil {
				return err
			}
			d.Kick()
			for {
				if _, err := conn.WaitForNotification(ctx); err != nil {
					return err
				}
				d.Kick()
			}
		}()
		if ctx.Err() != nil {
			return
		}
		d.logger.Warn("webhooks: listening for new messages failed; polling meanwhile", "err", err)
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// claimed message, with what sending it needs.
type outgoing struct {
	id          int64
	webhook     uuid.UUID
	account     uuid.UUID
	msgID       uuid.UUID
	eventType   string
	attempts    int
	position    *int64
	body        []byte
	traceparent string // of the logged event, "" for none
	url         string
	secrets     []string
}

// claimSQL leases due messages: for each enabled subscription, as many
// as it has room for in flight, oldest due first, of those pending, due
// on the dispatcher's clock and with no earlier message of the same lead
// to the same subscription still pending (in flight or waiting for a
// retry). Each subscription is one short index range scan, so a backlog
// does not make claiming slower. The UPDATE re-checks the lease under
// the row lock, so two dispatchers never both claim one message. It reads
// the webhooks view (eventstore/views writes it) in the same statement as
// the queue, so that a disabled or deleted subscription is never claimed
// for and claiming stays one round trip.
const claimSQL = `WITH busy AS (
		SELECT * FROM unnest($3::uuid[], $4::int[]) AS b(webhook_id, used)
	), picked AS (
		SELECT c.id FROM webhooks w
		LEFT JOIN busy b ON b.webhook_id = w.id
		CROSS JOIN LATERAL (
			SELECT m.id, m.next_attempt_at FROM webhook_messages m
			WHERE m.webhook_id = w.id AND m.state = 'pending' AND m.next_attempt_at <= $1
				AND (m.locked_until IS NULL OR m.locked_until <= $1) AND NOT (m.id = ANY($7))
				AND NOT EXISTS (SELECT 1 FROM webhook_messages p
					WHERE p.webhook_id = m.webhook_id AND p.lead_id = m.lead_id AND p.state = 'pending'
						AND (p.lead_version, p.ord) < (m.lead_version, m.ord))
			ORDER BY m.next_attempt_at, m.id
			LIMIT greatest($5 - coalesce(b.used, 0), 0)
		) c
		WHERE w.disabled_at IS NULL AND w.deleted_at IS NULL
		ORDER BY c.next_attempt_at, c.id LIMIT $6
	)
	UPDATE webhook_messages m SET locked_until = $2
	FROM picked, webhooks w
	WHERE m.id = picked.id AND w.id = m.webhook_id AND m.state = 'pending'
		AND (m.locked_until IS NULL OR m.locked_until <= $1)
	RETURNING m.id, m.webhook_id, w.account_id, m.msg_id, m.event_type, m.attempts, m.position, m.body, w.url,
		w.secret_sealed, w.previous_secret_sealed, w.previous_valid_until`

// claim leases what is due, as far as the in-flight limits allow, and
// starts sending it. It returns how many it started.
func (d *Dispatcher) claim(ctx context.Context) (int, error) {
	d.mu.Lock()
	free := d.cfg.MaxInFlight - len(d.claimed)
	var busyIDs []uuid.UUID
	var busyUsed []int32
	for id, n := range d.inflight {
		busyIDs, busyUsed = append(busyIDs, id), append(busyUsed, int32(n))
	}
	held := make([]int64, 0, len(d.claimed))
	for id := range d.claimed {
		held = append(held, id)
	}
	d.mu.Unlock()
	if free <= 0 {
		return 0, nil
	}
	now := d.cfg.Clock()
	// The lease outlasts an attempt; a dispatcher that dies mid-attempt
	// lets the message go again when it ends.
	lease := now.Add(d.cfg.AttemptTimeout + time.Minute)
	rows, err := d.pool.Query(ctx, claimSQL, now, lease, busyIDs, busyUsed, d.cfg.PerEndpoint, free, held)
	if err != nil {
		return 0, err
	}
	var out []outgoing
	for rows.Next() {
		var (
			m                outgoing
			sealed, previous []byte
			previousUntil    *time.Time
		)
		if err := rows.Scan(&m.id, &m.webhook, &m.account, &m.msgID, &m.eventType, &m.attempts, &m.position, &m.body, &m.url,
			&sealed, &previous, &previousUntil); err != nil {
			rows.Close()
			return 0, err
		}
		if s, err := d.cfg.OpenSecret(m.webhook, sealed); err == nil {
			m.secrets = append(m.secrets, s)
		} else {
			d.logger.Error("webhooks: signing secret cannot be opened", "webhook_id", m.webhook, "err", err)
		}
		if previous != nil && previousUntil != nil && previousUntil.After(now) {
			if s, err := d.cfg.OpenSecret(m.webhook, previous); err == nil {
				m.secrets = append(m.secrets, s)
			}
		}
		out = append(out, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(out) == 0 {
		return 0, nil
	}
	if err := d.fillBodies(ctx, out); err != nil {
		d.release(out)
		return 0, err
	}
	d.mu.Lock()
	for _, m := range out {
		d.inflight[m.webhook]++
		d.claimed[m.id] = true
	}
	d.mu.Unlock()
	for _, m := range out {
		d.wg.Add(1)
		go d.deliver(ctx, m)
	}
	return len(out), nil
}

// fillBodies builds the bodies of logged events from the log.
func (d *Dispatcher) fillBodies(ctx context.Context, out []outgoing) error {
	var positions []int64
	for _, m := range out {
		if m.position != nil {
			positions = append(positions, *m.position)
		}
	}
	if len(positions) == 0 {
		return nil
	}
	events, err := d.cfg.Events.ReadPositions(ctx, positions)
	if err != nil {
		return err
	}
	type envelope struct {
		body        []byte
		traceparent string
	}
	bodies := map[int64]envelope{}
	for _, e := range events {
		b, tp, err := body(e)
		if err != nil {
			return fmt.Errorf("event %d: %w", e.Position, err)
		}
		bodies[e.Position] = envelope{b, tp}
	}
	for i, m := range out {
		if m.position != nil {
			env := bodies[*m.position]
			if out[i].body, out[i].traceparent = env.body, env.traceparent; out[i].body == nil {
				return fmt.Errorf("event %d of message %d is not in the log", *m.position, m.id)
			}
		}
	}
	return nil
}

// release gives claimed messages back without an attempt.
func (d *Dispatcher) release(out []outgoing) {
	ids := make([]int64, len(out))
	for i, m := range out {
		ids[i] = m.id
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := d.pool.Exec(ctx, `UPDATE webhook_messages SET locked_until = NULL WHERE id = ANY($1)`, ids); err != nil {
		d.logger.Warn("webhooks: releasing claimed messages failed; their lease will expire", "err", err)
	}
}

func (d *Dispatcher) done(m outgoing) {
	d.mu.Lock()
	d.inflight[m.webhook]--
	if d.inflight[m.webhook] <= 0 {
		delete(d.inflight, m.webhook)
	}
	delete(d.claimed, m.id)
	d.mu.Unlock()
	d.wg.Done()
	d.Kick()
}

// result is what one attempt saw.
type result struct {
	at         time.Time // on the schedule's clock
	status     int       // 0: no response
	duration   time.Duration
	excerpt    string
	err        string
	retryAfter time.Duration
}

func (r result) success() bool { return r.status >= 200 && r.status < 300 }

// deliver makes one attempt and records it.
func (d *Dispatcher) deliver(ctx context.Context, m outgoing) {
	defer d.done(m)
	res := result{at: d.cfg.Clock(), err: "the signing secret cannot be opened; nothing unsigned is sent"}
	if len(m.secrets) > 0 {
		res = d.tracedAttempt(ctx, m)
	}
	if ctx.Err() != nil && res.status == 0 {
		// Cut short by the stop with no answer: it goes again. An
		// answered attempt is recorded, or a success would be repeated.
		d.release([]outgoing{m})
		return
	}
	outcome := "failure"
	if res.success() {
		outcome = "success"
	}
	d.metrics.attempts.WithLabelValues(outcome).Inc()
	d.metrics.seconds.Observe(res.duration.Seconds())
	done := make(chan struct{})
	d.records <- recorded{m: m, r: res, done: done}
	<-done
}

// tracedAttempt is attempt inside a client span continuing the event's
// trace, when tracing is on.
func (d *Dispatcher) tracedAttempt(ctx context.Context, m outgoing) result {
	if d.tracer == nil {
		return d.attempt(ctx, m)
	}
	ctx = telemetry.WithTraceparent(ctx, m.traceparent)
	ctx, span := d.tracer.Start(ctx, "webhook.deliver", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("leadsvc.webhook_id", m.webhook.String()), attribute.String("leadsvc.event_id", m.msgID.String()),
			attribute.String("leadsvc.event_type", m.eventType), attribute.Int("leadsvc.attempt", m.attempts+1)))
	defer span.End()
	res := d.attempt(ctx, m)
	if res.status != 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", res.status))
	}
	if !res.success() {
		span.SetStatus(codes.Error, res.err)
	}
	return res
}

// attempt POSTs the message once, within the attempt timeout, and reads
// at most MaxResponseBytes of the answer.
func (d *Dispatcher) attempt(ctx context.Context, m outgoing) result {
	res := result{at: d.cfg.Clock()}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.url, bytes.NewReader(m.body))
	if err != nil {
		res.err = "the URL cannot be requested"
		return res
	}
	// The signature's time is the wall clock: receivers hold it against
	// theirs to refuse replays.
	id := m.msgID.String()
	h := req.Header
	h.Set("Content-Type", "application/cloudevents+json")
	h.Set("User-Agent", "leadsvc-webhooks/1")
	h.Set(HeaderID, id)
	wall := time.Now()
	h.Set(HeaderTimestamp, fmt.Sprint(wall.Unix()))
	h.Set(HeaderSignature, sign(id, wall, m.body, m.secrets...))
	if d.tracer != nil {
		// The attempt's own span; the body's traceparent names the
		// request that recorded the event.
		propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(h))
	}
	start := time.Now()
	resp, err := d.client.Do(req)
	if err != nil {
		res.duration = time.Since(start)
		res.err = describe(err, d.cfg.AttemptTimeout)
		return res
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, d.cfg.MaxResponseBytes))
	res.duration = time.Since(start)
	res.status = resp.StatusCode
	res.excerpt = excerpt(body)
	switch {
	case err != nil:
		res.err = describe(err, d.cfg.AttemptTimeout)
		res.status = 0
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		res.err = "redirects are not followed; subscribe the final URL"
	case !res.success():
		res.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), wall)
	}
	return res
}

// describe says why an attempt got no answer, without the URL (it is in
// the subscription) and without the Go error chain's internals.
func describe(err error, timeout time.Duration) string {
	switch {
	case errors.Is(err, errForbiddenAddress):
		return errForbiddenAddress.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no complete answer within %v", timeout)
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return "connection failed: " + storable(msg) // the error may quote what the endpoint sent
}

func excerpt(b []byte) string {
	if len(b) > excerptBytes {
		b = b[:excerptBytes]
		for len(b) > 0 && !utf8.Valid(b) {
			b = b[:len(b)-1]
		}
	}
	return storable(string(b))
}

// storable makes text the endpoint decided fit a PostgreSQL text column,
// which holds neither invalid UTF-8 nor NUL.
func storable(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// sweep marks the pending messages of disabled and deleted subscriptions
// skipped (they are not sent; "redeliver since" sends them after the
// subscription is enabled again) and forgets finished messages, with
// their attempts, after the retention period.
func (d *Dispatcher) sweep(ctx context.Context) error {
	now := d.cfg.Clock()
	if _, err := d.pool.Exec(ctx, `UPDATE webhook_messages m SET state = 'skipped', finished_at = $1, locked_until = NULL
		FROM webhooks w WHERE w.id = m.webhook_id AND m.state = 'pending'
			AND (w.disabled_at IS NOT NULL OR w.deleted_at IS NOT NULL) AND (m.locked_until IS NULL OR m.locked_until <= $1)`, now); err != nil {
		return err
	}
	_, err := d.pool.Exec(ctx, `DELETE FROM webhook_messages WHERE id IN (
		SELECT id FROM webhook_messages WHERE finished_at < $1 ORDER BY finished_at LIMIT 10000)`, now.Add(-d.cfg.Retention))
	return err
}

type dispatchMetrics struct {
	attempts *prometheus.CounterVec
	seconds  prometheus.Histogram
	disabled *prometheus.CounterVec
	queue    queueCollector
}

func newDispatchMetrics(reg prometheus.Registerer, d *Dispatcher) (*dispatchMetrics, error) {
	m := &dispatchMetrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leadsvc_webhook_attempts_total",
			Help: "Webhook delivery attempts by outcome (success: any 2xx)."}, []string{"outcome"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "leadsvc_webhook_attempt_seconds",
			Help: "Time from sending a webhook to reading its answer.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		disabled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leadsvc_webhook_disabled_total",
			Help: "Subscriptions the dispatcher disabled, by reason (gone, failing)."}, []string{"reason"}),
		queue: queueCollector{d: d,
			depth: prometheus.NewDesc("leadsvc_webhook_pending_messages",
				"Webhook messages waiting to be delivered (first attempt or retry), all processes together.", nil, nil),
			oldest: prometheus.NewDesc("leadsvc_webhook_oldest_pending_seconds",
				"Age of the oldest pending webhook message's event; 0 when none is pending.", nil, nil)},
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.attempts, m.seconds, m.disabled, m.queue} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("webhook metrics: %w", err)
			}
		}
	}
	return m, nil
}

// queueCollector reads the delivery queue when scraped: the queue is the
// webhook_messages table, shared by every process.
type queueCollector struct {
	d             *Dispatcher
	depth, oldest *prometheus.Desc
}

// scrapeTimeout bounds the queue query of one scrape.
const scrapeTimeout = 5 * time.Second

func (c queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.oldest
}

func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	var depth int64
	var oldest float64
	if err := c.d.pool.QueryRow(ctx, `SELECT count(*), coalesce(extract(epoch FROM $1 - min(event_time)), 0)::float8
		FROM webhook_messages WHERE state = 'pending'`, c.d.cfg.Clock()).Scan(&depth, &oldest); err != nil {
		return // no figure rather than a wrong one
	}
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(depth))
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, max(oldest, 0))
}
