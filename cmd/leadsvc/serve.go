package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/leadsvc/leadsvc/api"
	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/ratelimits"
	"github.com/leadsvc/leadsvc/eventstore/views"
	"github.com/leadsvc/leadsvc/internal/eventlog"
	"github.com/leadsvc/leadsvc/internal/pgxuuid"
	"github.com/leadsvc/leadsvc/internal/poolmetrics"
	"github.com/leadsvc/leadsvc/projections"
	"github.com/leadsvc/leadsvc/projections/leads"
	"github.com/leadsvc/leadsvc/projections/webhooks"
	"github.com/leadsvc/leadsvc/queries"
)

// Main is the running service. Tests build one with their own Config, call
// Run, talk to Addr, and Close it.
type Main struct {
	Config   Config
	Logger   *slog.Logger
	Pool     *pgxpool.Pool
	Store    *eventstore.Store
	Commands *commands.Commands
	Queries  *queries.Queries
	NATS     *nats.Conn
	Reader   *leads.Reader
	Registry *prometheus.Registry // the /metrics registry
	// Tracer, when set before Run, sees every statement of the pool (tests
	// count the statements a request costs).
	Tracer pgx.QueryTracer
	// LimitSync, when set before Run, is how often the rate limits sync
	// with the other processes (api.DefaultLimiterSync when 0).
	LimitSync time.Duration
	// TracerProvider, when set before Run, gets every span (tests use an
	// in-memory exporter); otherwise Run opens the OTLP one that the
	// OTEL_* variables configure, or none: tracing off.
	TracerProvider trace.TracerProvider

	secretKey   []byte                   // LEADSVC_SECRET_KEY or the generated one
	tracing     *sdktrace.TracerProvider // the one Run opened, flushed by Close
	natsServer  *server.Server
	relay       *eventstore.Relay
	projections *projections.Runner
	hooks       *projections.Runner // the webhook delivery projection
	tokenLimits *api.SharedLimiter  // LEADSVC_RATE_LIMIT
	addrLimits  *api.SharedLimiter  // LEADSVC_ADDRESS_RATE_LIMIT
	retention   retentionJob        // runs every LEADSVC_RETENTION_INTERVAL unless off
	listener    net.Listener
	httpServer  *http.Server
	debugServer *http.Server // LEADSVC_DEBUG_ADDR's, nil without it
	health      *health
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	errc        chan error
	closeOnce   sync.Once
	closeErr    error
}

// NewMain returns a service for cfg; nothing runs until Run.
func NewMain(cfg Config, logger *slog.Logger) *Main {
	return &Main{Config: cfg, Logger: logger, errc: make(chan error, 4)}
}

// Run migrates the database, connects to NATS, starts the relay and the HTTP
// listener, and returns once the service accepts requests.
func (m *Main) Run(ctx context.Context) error {
	if err := eventstore.Migrate(ctx, m.Config.DatabaseURL, m.Logger); err != nil {
		return err
	}
	if err := m.openTracing(ctx); err != nil {
		return err
	}
	// One registry decodes for the store, the projections and the
	// webhooks: it is read-only once built.
	codec := domain.NewRegistry()
	if err := m.openStore(ctx, codec); err != nil {
		return err
	}
	var err error
	if m.NATS, m.natsServer, err = connectNATS(m.Config, m.Logger); err != nil {
		return err
	}
	m.Registry = prometheus.NewRegistry()
	m.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		poolmetrics.New(m.Pool))
	log := eventlog.New(m.Store)
	if err := m.buildPipeline(log, codec); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.startPipeline(runCtx)
	if err := m.startWebhooks(runCtx, log, codec); err != nil {
		return err
	}
	m.startHousekeeping(ctx, runCtx)
	m.health = m.readiness()
	return m.serveHTTP()
}

// openTracing opens the OTLP exporter the OTEL_* variables configure,
// unless the caller set a TracerProvider.
func (m *Main) openTracing(ctx context.Context) error {
	if m.TracerProvider != nil {
		return nil
	}
	var err error
	if m.tracing, err = openTracing(ctx, m.Config); err != nil {
		return err
	}
	if m.tracing != nil {
		m.TracerProvider = m.tracing
		m.Logger.Info("tracing on: spans go to the OTLP endpoint")
	}
	return nil
}

// openStore opens the pool, the event store and the commands and
// queries on it.
func (m *Main) openStore(ctx context.Context, codec *domain.Registry) error {
	var err error
	if m.Pool, err = openPool(ctx, m.Config.DatabaseURL, func(c *pgxpool.Config) { c.ConnConfig.Tracer = m.Tracer }); err != nil {
		return err
	}
	// Group commit: concurrent appends without inline views share a
	// transaction (and its fsync); a lone append commits at once.
	m.Store = eventstore.New(m.Pool, codec, eventstore.WithGroupCommit(64, 0), eventstore.WithTracer(m.TracerProvider))
	m.Queries = queries.New(queries.Config{Views: views.Of(m.Store)})
	m.Commands, m.secretKey, err = openCommands(ctx, m.Config, m.Logger, m.Store)
	return err
}

// buildPipeline builds the relay from the log to JetStream and the lead
// projections that read it back.
func (m *Main) buildPipeline(log eventlog.Log, codec *domain.Registry) error {
	cfg := m.Config
	var err error
	m.relay, err = eventstore.NewRelay(eventstore.RelayConfig{
		Stream:        cfg.NATSStream,
		SubjectPrefix: cfg.SubjectPrefix,
		Replicas:      cfg.StreamReplicas,
		Registerer:    m.Registry,
	}, m.Store, m.NATS, m.Logger)
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	m.Reader = leads.NewReader(m.Pool, log)
	m.projections, err = projections.NewRunner(projections.RunnerConfig{
		Stream:         cfg.NATSStream,
		SubjectPrefix:  cfg.SubjectPrefix,
		TracerProvider: m.TracerProvider,
	}, m.Pool, log, m.NATS, codec, m.Logger, m.Registry, leads.New(log, codec, views.Of(m.Store)))
	if err != nil {
		return fmt.Errorf("projections: %w", err)
	}
	return nil
}

// startPipeline runs the relay and the projections until runCtx ends.
func (m *Main) startPipeline(runCtx context.Context) {
	logger := m.Logger
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := m.relay.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			logger.Error("relay stopped", "err", err)
			m.errc <- fmt.Errorf("relay: %w", err)
		}
	}()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := m.projections.Run(runCtx); err != nil {
			logger.Error("projections stopped", "err", err)
			m.errc <- fmt.Errorf("projections: %w", err)
		}
	}()
}

// startWebhooks (docs/webhooks.md) runs the delivery projection, on a
// runner of its own so that neither catch-up waits for the other, and the
// dispatcher that sends what it records. Close stops both.
func (m *Main) startWebhooks(runCtx context.Context, log eventlog.Log, codec *domain.Registry) error {
	cfg, logger := m.Config, m.Logger
	var err error
	m.hooks, err = projections.NewRunner(projections.RunnerConfig{Stream: cfg.NATSStream, SubjectPrefix: cfg.SubjectPrefix,
		TracerProvider: m.TracerProvider},
		m.Pool, log, m.NATS, codec, logger, m.Registry, webhooks.New(log, views.Of(m.Store)))
	if err != nil {
		return fmt.Errorf("webhook projection: %w", err)
	}
	dispatcher, err := webhooks.NewDispatcher(webhooks.Config{AllowPrivate: cfg.WebhooksAllowPrivate,
		OpenSecret: m.Commands.Keys.OpenWebhookSecret,
		Disable: func(ctx context.Context, account, id uuid.UUID, reason, detail string) (bool, error) {
			res, err := m.Commands.DisableWebhook.Handle(ctx, commands.DisableWebhook{AccountID: account, WebhookID: id,
				Reason: reason, Detail: detail})
			return res.Position > 0, err
		}, Events: log, TracerProvider: m.TracerProvider}, m.Pool, logger, m.Registry)
	if err != nil {
		return fmt.Errorf("webhook dispatcher: %w", err)
	}
	for name, run := range map[string]func(context.Context) error{"webhook projection": m.hooks.Run, "webhook dispatcher": dispatcher.Run} {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			if err := run(runCtx); err != nil {
				logger.Error(name+" stopped", "err", err)
				select {
				case m.errc <- fmt.Errorf("%s: %w", name, err):
				default:
				}
			}
		}()
	}
	return nil
}

// startHousekeeping sweeps expired idempotency keys, runs the retention
// job (docs/privacy.md#retention) and the rate limits shared by every
// process on the database (docs/api.md#rate-limits):
// the first sync takes in what was spent before this process started, so a
// restart grants nothing anew.
func (m *Main) startHousekeeping(ctx, runCtx context.Context) {
	cfg, logger := m.Config, m.Logger
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		sweep(runCtx, "idempotency keys", idempotencySweepInterval, func(ctx context.Context) (int64, error) {
			return m.Commands.SweepIdempotencyKeys.Handle(ctx, commands.SweepIdempotencyKeys{Batch: idempotencySweepBatch})
		}, logger)
	}()

	m.retention = retentionJob{cmd: m.Commands.EraseExpiredLeads, leads: m.Reader, interval: cfg.RetentionInterval,
		metrics: newRetentionMetrics(m.Registry), logger: logger}
	if cfg.RetentionInterval > 0 {
		m.wg.Go(func() { m.retention.run(runCtx) })
	}

	limitStore := ratelimits.New(m.Pool)
	m.tokenLimits = api.NewSharedLimiter(api.SharedLimiterConfig{Store: limitStore, Interval: m.LimitSync, Logger: logger,
		Policy: api.Policy{Name: "default", Quota: cfg.RateLimit, Window: time.Minute}})
	m.addrLimits = api.NewSharedLimiter(api.SharedLimiterConfig{Store: limitStore, Interval: m.LimitSync, Logger: logger,
		Policy: api.Policy{Name: "address", Quota: cfg.AddressRateLimit, Window: time.Minute}})
	for _, l := range []*api.SharedLimiter{m.tokenLimits, m.addrLimits} {
		if err := l.Sync(ctx); err != nil {
			logger.Warn("rate limits: the first sync failed; starting from nothing spent", "policy", l.Policy().Name, "err", err)
		}
		m.wg.Go(func() { l.Run(runCtx) })
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		sweep(runCtx, "rate limits", rateLimitSweepInterval, func(ctx context.Context) (int64, error) {
			return limitStore.Sweep(ctx, rateLimitSweepBatch)
		}, logger)
	}()
}

// readiness is what /readyz checks: Postgres, and NATS, the relay and the
// projections as optional parts.
func (m *Main) readiness() *health {
	return &health{checks: []readinessCheck{
		{name: "postgres", check: func(ctx context.Context) (any, error) { return nil, m.Pool.Ping(ctx) }},
		{name: "nats", check: func(context.Context) (any, error) {
			if !m.NATS.IsConnected() {
				return m.NATS.Status().String(), errors.New("not connected")
			}
			return nil, nil
		}, optional: true},
		{name: "relay", check: func(ctx context.Context) (any, error) {
			st, err := m.relay.Status(ctx)
			if err == nil && st.LastError != "" {
				err = errors.New(st.LastError)
			}
			return st, err
		}, optional: true},
		{name: "projections", check: func(ctx context.Context) (any, error) {
			st, err := m.projections.Status(ctx)
			if err != nil {
				return nil, err
			}
			hooks, err := m.hooks.Status(ctx)
			maps.Copy(st, hooks)
			return st, err
		}, optional: true},
	}}
}

// serveHTTP opens the debug listener, if configured, and serves the API,
// the console, health and metrics on cfg.Addr.
func (m *Main) serveHTTP() error {
	cfg, logger := m.Config, m.Logger
	var err error
	if cfg.DebugAddr != "" {
		if m.debugServer, err = serveDebug(cfg.DebugAddr, logger); err != nil {
			return err
		}
	}
	m.listener, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	m.httpServer = &http.Server{
		Handler:           m.router(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := m.httpServer.Serve(m.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.errc <- fmt.Errorf("http: %w", err)
		}
	}()
	logger.Info("leadsvc listening", "addr", m.Addr(), "version", version, "public_url", cfg.PublicURL)
	return nil
}

// Addr is the address the HTTP server listens on (useful with ":0").
func (m *Main) Addr() string {
	if m.listener == nil {
		return ""
	}
	return m.listener.Addr().String()
}

// Err reports a component that stopped on its own.
func (m *Main) Err() <-chan error { return m.errc }

// Close shuts down in order: readiness fails first while the listener
// keeps serving for ShutdownDelay, then in-flight requests drain within
// ShutdownTimeout, the relay finishes its page, then NATS and Postgres
// close. Later calls return the first one's result.
func (m *Main) Close() error {
	m.closeOnce.Do(func() { m.closeErr = m.close() })
	return m.closeErr
}

func (m *Main) close() error {
	var errs []error
	if m.health != nil {
		m.health.draining.Store(true)
	}
	if m.httpServer != nil && m.Config.ShutdownDelay > 0 {
		m.Logger.Info("draining: readiness fails, still serving", "delay", m.Config.ShutdownDelay)
		// Responses say "Connection: close", so clients holding a
		// connection open a new one, through the load balancer, elsewhere.
		m.httpServer.SetKeepAlivesEnabled(false)
		time.Sleep(m.Config.ShutdownDelay)
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
	defer cancel()
	if m.httpServer != nil {
		if err := m.httpServer.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
	}
	if m.debugServer != nil {
		_ = m.debugServer.Close()
	}
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	if m.NATS != nil {
		_ = m.NATS.Drain()
		m.NATS.Close()
	}
	if m.natsServer != nil {
		m.natsServer.Shutdown()
		m.natsServer.WaitForShutdown()
	}
	if m.Store != nil {
		m.Store.Close()
	}
	if m.Pool != nil {
		m.Pool.Close()
	}
	if m.tracing != nil {
		// Spans still batched go out before the process ends.
		if err := m.tracing.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("tracing shutdown: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (m *Main) router() http.Handler {
	reg := m.Registry
	r := chi.NewRouter()
	m.mountAPI(r)
	r.Get("/livez", m.health.livez)
	r.Get("/healthz", m.health.livez)
	r.Get("/readyz", m.health.readyz)
	r.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return r
}

// defaultPoolConns is the pool size unless DATABASE_URL sets
// pool_max_conns; the benchmarks found 16 the best on a small machine.
const defaultPoolConns = 16

// openPool opens the service's pool; each of adjust may change its
// configuration first.
func openPool(ctx context.Context, databaseURL string, adjust ...func(*pgxpool.Config)) (*pgxpool.Pool, error) {
	pcfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	if !strings.Contains(databaseURL, "pool_max_conns") {
		// pgxpool's default (4 on 2 cores) is less than the relay's lock
		// connection, the projections and concurrent requests need.
		pcfg.MaxConns = defaultPoolConns
	}
	pcfg.AfterConnect = pgxuuid.AfterConnect
	for _, f := range adjust {
		f(pcfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return pool, nil
}

// serve runs the service until ctx is cancelled (SIGINT, SIGTERM) or a
// component fails.
func serve(ctx context.Context, cfg Config, logger *slog.Logger) error {
	m := NewMain(cfg, logger)
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		return err
	}
	return m.serveUntil(ctx)
}

// serveUntil waits for ctx to end or a component to fail, then closes m.
func (m *Main) serveUntil(ctx context.Context) error {
	logger := m.Logger
	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down; a second signal stops at once", "delay", m.Config.ShutdownDelay)
	case runErr = <-m.Err():
	}
	return errors.Join(runErr, m.Close())
}

func migrate(ctx context.Context, cfg Config, logger *slog.Logger) error {
	return eventstore.Migrate(ctx, cfg.DatabaseURL, logger)
}
