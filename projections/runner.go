package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/internal/telemetry"
)

// RunnerConfig configures the projection runner.
type RunnerConfig struct {
	Stream        string        // the JetStream stream the relay publishes to; default domain.DefaultStream
	SubjectPrefix string        // first subject token; default domain.DefaultSubjectPrefix
	ConsumerTag   string        // prefix of the durable consumer names; default "leadsvc"
	CatchUpBatch  int           // events per transaction when reading the log; default 1000
	InFlight      int           // live messages handled at once, gathered into one transaction; default 64
	AckWait       time.Duration // JetStream redelivers a message not acknowledged within it; default 30s
	StatusEvery   time.Duration // how often lag metrics are refreshed; default 5s
	// TracerProvider, when not nil, gets a span per live message applied,
	// child of the traceparent the message carries.
	TracerProvider trace.TracerProvider
}

func (c *RunnerConfig) setDefaults() {
	if c.Stream == "" {
		c.Stream = domain.DefaultStream
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = domain.DefaultSubjectPrefix
	}
	if c.ConsumerTag == "" {
		c.ConsumerTag = "leadsvc"
	}
	if c.CatchUpBatch == 0 {
		c.CatchUpBatch = 1000
	}
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.InFlight == 0 {
		c.InFlight = 64
	}
	if c.StatusEvery == 0 {
		c.StatusEvery = 5 * time.Second
	}
}

// Validate reports every problem of the configuration at once.
func (c RunnerConfig) Validate() error {
	var errs []error
	if strings.ContainsAny(c.ConsumerTag, ".*> ") {
		errs = append(errs, fmt.Errorf("projections: consumer tag %q may not contain . * > or spaces", c.ConsumerTag))
	}
	if c.CatchUpBatch < 1 {
		errs = append(errs, fmt.Errorf("projections: catch-up batch %d < 1", c.CatchUpBatch))
	}
	if c.InFlight < 1 {
		errs = append(errs, fmt.Errorf("projections: in-flight %d < 1", c.InFlight))
	}
	return errors.Join(errs...)
}

// Runner keeps projections up to date: it catches each one up from the
// log, then applies live events from a durable JetStream consumer per
// projection through a watermill router.
type Runner struct {
	cfg         RunnerConfig
	pool        *pgxpool.Pool
	log         Log
	nc          *nats.Conn
	registry    *domain.Registry
	logger      *slog.Logger
	projections []Projection
	metrics     *metrics
	tracer      trace.Tracer // nil: tracing off

	mu     sync.Mutex
	status map[string]Status
	live   bool
}

// NewRunner returns a runner for projections; reg, when not nil, gets the
// projection metrics.
func NewRunner(cfg RunnerConfig, pool *pgxpool.Pool, log Log, nc *nats.Conn, registry *domain.Registry,
	logger *slog.Logger, reg prometheus.Registerer, projections ...Projection) (*Runner, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Runner{cfg: cfg, pool: pool, log: log, nc: nc, registry: registry, logger: logger,
		projections: projections, metrics: m, status: map[string]Status{}, tracer: telemetry.Tracer(cfg.TracerProvider)}, nil
}

// Run catches up and then consumes live events until ctx ends. It returns
// nil on cancellation.
func (r *Runner) Run(ctx context.Context) error {
	for _, p := range r.projections {
		for {
			err := r.CatchUp(ctx, p)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			r.logger.Warn("projections: catching up from the log failed; retrying", "projection", p.Name(), "err", err)
			sleep(ctx, time.Second)
		}
	}
	go r.watchStatus(ctx)
	for ctx.Err() == nil {
		err := r.consume(ctx)
		if ctx.Err() != nil {
			return nil
		}
		r.logger.Warn("projections: live consumption stopped; catching up from the log and resubscribing", "err", err)
		for _, p := range r.projections {
			if err := r.CatchUp(ctx, p); err != nil && ctx.Err() == nil {
				r.logger.Warn("projections: catch-up failed", "projection", p.Name(), "err", err)
			}
		}
		sleep(ctx, time.Second)
	}
	return nil
}

// CatchUp applies the log after p's checkpoint, a batch per transaction,
// until it reaches the head.
func (r *Runner) CatchUp(ctx context.Context, p Projection) error {
	start := time.Now()
	var applied int64
	for {
		cursor, err := LoadCheckpoint(ctx, r.pool, p.Name())
		if err != nil {
			return err
		}
		batch, err := r.log.ReadAll(ctx, cursor, r.cfg.CatchUpBatch)
		if err != nil {
			return fmt.Errorf("catch up %s: %w", p.Name(), err)
		}
		if len(batch) == 0 {
			if applied > 0 {
				r.logger.Info("projection caught up from the log", "projection", p.Name(), "events", applied,
					"duration", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		if err := r.apply(ctx, p, batch); err != nil {
			return fmt.Errorf("catch up %s: %w", p.Name(), err)
		}
		applied += int64(len(batch))
	}
}

// apply runs p on events and saves the checkpoint in one transaction
// (pipeTx: the checkpoint and what p queued at commit go with COMMIT).
func (r *Runner) apply(ctx context.Context, p Projection, events []Event) error {
	t0 := time.Now()
	tx, err := beginPipeTx(ctx, r.pool)
	if err != nil {
		return err
	}
	defer func() {
		if !tx.finished {
			tx.abort(ctx)
		}
	}()
	if err := p.Apply(ctx, tx, events); err != nil {
		return err
	}
	b := &pgx.Batch{}
	if err := queueCheckpoint(b, p.Name(), events); err != nil {
		return err
	}
	tx.atCommit = append(tx.atCommit, b.QueuedQueries...)
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("apply %s: %w", p.Name(), err)
	}
	if r.logger.Enabled(ctx, slog.LevelDebug) {
		last := events[len(events)-1]
		r.logger.Debug("projection applied", "projection", p.Name(), "events", len(events), "position", last.Position,
			"stream", last.StreamID, "stream_version", last.StreamVersion, "type", last.Type)
	}
	r.metrics.events.WithLabelValues(p.Name()).Add(float64(len(events)))
	r.metrics.applySeconds.WithLabelValues(p.Name()).Observe(time.Since(t0).Seconds())
	return nil
}

// consume runs one watermill router with a handler per projection until
// ctx ends or the router stops.
func (r *Runner) consume(ctx context.Context) error {
	if err := r.waitForStream(ctx); err != nil {
		return err
	}
	wlog := watermill.NewSlogLogger(r.logger)
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, wlog)
	if err != nil {
		return err
	}
	// In-process retries keep a failing event in place instead of letting
	// JetStream redeliver it behind later ones.
	router.AddMiddleware(middleware.Retry{MaxRetries: 8, InitialInterval: 50 * time.Millisecond,
		MaxInterval: 5 * time.Second, Multiplier: 2, Logger: wlog}.Middleware)
	topic := r.cfg.SubjectPrefix + ".>"
	for _, p := range r.projections {
		durable := r.cfg.ConsumerTag + "_" + p.Name()
		if err := r.ensureConsumer(ctx, p, durable); err != nil {
			return err
		}
		// InFlight subscriptions of the queue group keep that many
		// messages in flight; the router handles each in its own
		// goroutine and the batcher applies them together.
		sub, err := wmnats.NewSubscriberWithNatsConn(r.nc, wmnats.SubscriberSubscriptionConfig{
			Unmarshaler:      &wmnats.NATSMarshaler{},
			SubscribersCount: r.cfg.InFlight,
			AckWaitTimeout:   r.cfg.AckWait,
			CloseTimeout:     10 * time.Second,
			QueueGroupPrefix: durable,
			JetStream: wmnats.JetStreamConfig{
				AckAsync:         true,
				DurablePrefix:    durable,
				SubscribeOptions: []nats.SubOpt{nats.Bind(r.cfg.Stream, durable), nats.ManualAck()},
			},
		}, wlog)
		if err != nil {
			return fmt.Errorf("subscriber %s: %w", durable, err)
		}
		b := newBatcher(r, p, r.cfg.InFlight)
		go b.run(ctx)
		router.AddConsumerHandler(p.Name(), topic, sub, func(msg *message.Message) error {
			ev, err := r.decode(msg)
			if err != nil {
				// A message that is not one of our envelopes can never
				// apply; acknowledging it keeps the consumer moving.
				r.logger.Error("projections: undecodable message skipped", "projection", p.Name(), "message_uuid", msg.UUID, "err", err)
				return nil
			}
			if ev.TxID == 0 {
				if ev, err = r.withTxID(msg.Context(), ev); err != nil {
					return err
				}
				if ev.TxID == 0 {
					r.logger.Error("projections: message of an event not in the log skipped", "projection", p.Name(),
						"message_uuid", msg.UUID, "position", ev.Position)
					return nil
				}
			}
			if r.tracer == nil {
				return b.apply(msg.Context(), ev)
			}
			return r.applyTraced(msg, p, b, ev)
		})
	}
	r.setLive(true)
	defer r.setLive(false)
	return router.Run(ctx)
}

// applyTraced is b.apply inside a consumer span that continues the trace
// of the request that recorded the event (the relay's traceparent header).
func (r *Runner) applyTraced(msg *message.Message, p Projection, b *batcher, ev Event) error {
	ctx := telemetry.WithTraceparent(msg.Context(), msg.Metadata.Get(telemetry.Header))
	ctx, span := r.tracer.Start(ctx, "projection.apply "+p.Name(), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("leadsvc.projection", p.Name()), attribute.String("leadsvc.event_type", ev.Type),
			attribute.Int64("leadsvc.position", ev.Position), attribute.String("messaging.system", "nats")))
	defer span.End()
	err := b.apply(ctx, ev)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "")
	}
	return err
}

// ensureConsumer creates the projection's durable push consumer once,
// with a fixed delivery subject and queue group, before anyone subscribes:
// several processes subscribing at once must bind to one consumer, not race
// to create it with delivery subjects of their own. A new consumer starts
// a minute before the event the projection's checkpoint names (the relay
// publishes each event after recording it), not at the stream's start:
// the catch-up from the log has applied everything before.
func (r *Runner) ensureConsumer(ctx context.Context, p Projection, durable string) error {
	js, err := r.nc.JetStream()
	if err != nil {
		return err
	}
	if _, err := js.ConsumerInfo(r.cfg.Stream, durable); err == nil {
		return nil
	}
	cfg := &nats.ConsumerConfig{
		Durable:        durable,
		DeliverSubject: "_LEADSVC_DELIVER." + r.cfg.Stream + "." + durable,
		DeliverGroup:   durable,
		DeliverPolicy:  nats.DeliverAllPolicy,
		AckPolicy:      nats.AckExplicitPolicy,
		AckWait:        r.cfg.AckWait,
		MaxAckPending:  4 * r.cfg.InFlight,
	}
	if c, err := LoadCheckpoint(ctx, r.pool, p.Name()); err == nil && c.Position > 0 {
		if at, err := r.log.ReadPositions(ctx, []int64{c.Position}); err == nil && len(at) == 1 {
			start := at[0].RecordedAt.Add(-time.Minute)
			cfg.DeliverPolicy, cfg.OptStartTime = nats.DeliverByStartTimePolicy, &start
		}
	}
	if _, err = js.AddConsumer(r.cfg.Stream, cfg); err != nil && !errors.Is(err, nats.ErrConsumerNameAlreadyInUse) {
		return fmt.Errorf("consumer %s: %w", durable, err)
	}
	return nil
}

func (r *Runner) waitForStream(ctx context.Context) error {
	js, err := r.nc.JetStream()
	if err != nil {
		return err
	}
	for {
		if _, err := js.StreamInfo(r.cfg.Stream); err == nil {
			return nil
		}
		// The relay creates the stream when it first leads.
		if !sleep(ctx, 250*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// batcher gathers the events of concurrent live messages into one
// transaction: group commit for a projection. Each message is
// acknowledged only after the transaction holding its event commits.
type batcher struct {
	r   *Runner
	p   Projection
	in  chan batchItem
	max int
}

type batchItem struct {
	ctx  context.Context
	ev   Event
	done chan error
}

func newBatcher(r *Runner, p Projection, max int) *batcher {
	return &batcher{r: r, p: p, in: make(chan batchItem, max), max: max}
}

func (b *batcher) apply(ctx context.Context, ev Event) error {
	it := batchItem{ctx: ctx, ev: ev, done: make(chan error, 1)}
	select {
	case b.in <- it:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-it.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *batcher) run(ctx context.Context) {
	for {
		var items []batchItem
		select {
		case it := <-b.in:
			items = append(items, it)
		case <-ctx.Done():
			return
		}
	gather:
		for len(items) < b.max {
			select {
			case it := <-b.in:
				items = append(items, it)
			default:
				break gather
			}
		}
		events := make([]Event, len(items))
		for i, it := range items {
			events[i] = it.ev
		}
		err := b.r.apply(ctx, b.p, events)
		if err != nil && len(items) > 1 {
			// One bad event must not hold back the others: apply each
			// alone and answer each with its own outcome.
			for _, it := range items {
				it.done <- b.r.apply(it.ctx, b.p, []Event{it.ev})
			}
			continue
		}
		for _, it := range items {
			it.done <- err
		}
	}
}

func (r *Runner) decode(msg *message.Message) (Event, error) {
	e, err := domain.DecodeCloudEvent(msg.Payload)
	if err != nil {
		return Event{}, err
	}
	agg, _, ok := strings.Cut(e.Type, ".")
	if !ok || e.Position <= 0 || e.StreamVersion <= 0 {
		return Event{}, fmt.Errorf("envelope without type, position or version")
	}
	ev := Event{Position: e.Position, StreamID: agg + "-" + e.Subject, StreamVersion: e.StreamVersion,
		Type: e.Type, RecordedAt: e.Time, Data: e.Data, Metadata: domain.EventMetadata{ActorTokenID: e.ActorTokenID,
			RequestID: e.RequestID, CorrelationID: e.CorrelationID, CausationID: e.CausationID, Traceparent: e.Traceparent}}
	if h := msg.Metadata.Get(domain.TxIDHeader); h != "" {
		if ev.TxID, err = strconv.ParseUint(h, 10, 64); err != nil {
			return Event{}, fmt.Errorf("transaction id: %w", err)
		}
	}
	if ev.EventID, err = uuid.Parse(e.ID); err != nil {
		return Event{}, fmt.Errorf("event id: %w", err)
	}
	if ev.AccountID, err = uuid.Parse(e.AccountID); err != nil {
		return Event{}, fmt.Errorf("account id: %w", err)
	}
	if e.CampaignID != "" {
		if ev.CampaignID, err = uuid.Parse(e.CampaignID); err != nil {
			return Event{}, fmt.Errorf("campaign id: %w", err)
		}
	}
	// An unknown type is passed on without a decoded event: the
	// checkpoint still moves past it.
	ev.Event, _ = r.registry.Decode(e.Type, e.Data)
	return ev, nil
}

// withTxID fills in the transaction id of an event whose message came
// without one (published by a release that did not send it) from the log;
// it stays 0 when the log has no event at that position.
func (r *Runner) withTxID(ctx context.Context, ev Event) (Event, error) {
	recs, err := r.log.ReadPositions(ctx, []int64{ev.Position})
	if err != nil {
		return ev, fmt.Errorf("transaction id of %d: %w", ev.Position, err)
	}
	if len(recs) == 1 {
		ev.TxID = recs[0].TxID
	}
	return ev, nil
}

// Status is what /readyz and the metrics show of one projection.
type Status struct {
	Position  int64  `json:"position"`
	LagEvents int64  `json:"lag_events"`
	Live      bool   `json:"live"`
	LastError string `json:"last_error,omitempty"`
}

// Status reports each projection's checkpoint and lag behind the log.
func (r *Runner) Status(ctx context.Context) (map[string]Status, error) {
	out := map[string]Status{}
	r.mu.Lock()
	live := r.live
	r.mu.Unlock()
	for _, p := range r.projections {
		c, lag, err := Lag(ctx, r.pool, r.log, p.Name())
		if err != nil {
			return nil, err
		}
		out[p.Name()] = Status{Position: c.Position, LagEvents: lag, Live: live}
	}
	return out, nil
}

func (r *Runner) setLive(v bool) {
	r.mu.Lock()
	r.live = v
	r.mu.Unlock()
}

// watchStatus refreshes the lag gauges.
func (r *Runner) watchStatus(ctx context.Context) {
	for {
		st, err := r.Status(ctx)
		if err == nil {
			for name, s := range st {
				r.metrics.lag.WithLabelValues(name).Set(float64(s.LagEvents))
				r.metrics.position.WithLabelValues(name).Set(float64(s.Position))
			}
		}
		if !sleep(ctx, r.cfg.StatusEvery) {
			return
		}
	}
}

type metrics struct {
	events       *prometheus.CounterVec
	applySeconds *prometheus.HistogramVec
	lag          *prometheus.GaugeVec
	position     *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leadsvc_projection_events_total",
			Help: "Events applied by each projection."}, []string{"projection"}),
		applySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "leadsvc_projection_apply_seconds",
			Help: "Time to apply one transaction of events.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"projection"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "leadsvc_projection_lag_events",
			Help: "Committed events not yet applied by each projection (capped at 100000)."}, []string{"projection"}),
		position: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "leadsvc_projection_position",
			Help: "Log position of each projection's checkpoint."}, []string{"projection"}),
	}
	if reg != nil {
		// Several runners share one set of metrics, told apart by the
		// projection label: the second one reuses what the first one
		// registered.
		var errs [4]error
		m.events, errs[0] = register(reg, m.events)
		m.applySeconds, errs[1] = register(reg, m.applySeconds)
		m.lag, errs[2] = register(reg, m.lag)
		m.position, errs[3] = register(reg, m.position)
		if err := errors.Join(errs[:]...); err != nil {
			return nil, fmt.Errorf("projection metrics: %w", err)
		}
	}
	return m, nil
}

// register registers c, or returns the collector of the same description
// already registered; any other refusal is an error.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
