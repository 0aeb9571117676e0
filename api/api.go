// Package api serves leadsvc's REST API: the admin routes that shape
// campaigns, filters and tokens, and the partner routes that read and
// write leads within a token's scope. Handlers decode, call a command or a
// read-side query, and encode; problem.go is the one place errors become
// HTTP statuses.
package api

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/internal/telemetry"
)

// Defaults for the zero values of Config.
const (
	DefaultRateLimit      = 600      // requests per token per minute
	DefaultMaxUploadBytes = 10 << 20 // one file upload
	MaxJSONBytes          = 1 << 20  // one JSON request body
	// MaxMinPositionWait bounds how long a read waits for the views to
	// reach Leadsvc-Min-Position before answering stale.
	MaxMinPositionWait = 5 * time.Second
)

// Defaults of the upload limits.
const (
	// DefaultUploadQuotaBytes is what an account's files may hold together.
	DefaultUploadQuotaBytes = 1 << 30
	// DefaultUploadsPerProcess and DefaultUploadsPerAccount cap the
	// uploads in progress at once.
	DefaultUploadsPerProcess = 16
	DefaultUploadsPerAccount = 4
)

// Config is what the API needs; cmd/leadsvc builds it from the environment.
type Config struct {
	Commands Commands
	Auth     Authenticator
	Queries  Queries
	Reader   LeadReader
	Audit    AuditReader // the auditors' routes; nil serves none
	Logger   *slog.Logger
	// PublicURL is the base of absolute links: docs_url, Link, file URLs.
	PublicURL string
	// SecretKey is the service's key (LEADSVC_SECRET_KEY); list cursors
	// are signed with a key derived from it.
	SecretKey []byte
	// PreviousSecretKeys (LEADSVC_SECRET_KEYS_PREVIOUS) still verify the
	// cursors they signed, so that paging continues across replicas
	// while keys rotate.
	PreviousSecretKeys [][]byte
	// RateLimit is each token's budget per minute.
	RateLimit int
	// Limits keeps the tokens' budgets (its policy's quota wins over
	// RateLimit); nil keeps them in this process.
	Limits Limiter
	// AddressLimits is the client addresses' budget of failed requests,
	// shared with the docs and the console; nil is a default one.
	AddressLimits  *AddressLimits
	MaxUploadBytes int64
	// UploadQuotaBytes bounds what an account's files hold together.
	UploadQuotaBytes int64
	// UploadsPerProcess and UploadsPerAccount cap the uploads running at
	// once.
	UploadsPerProcess int
	UploadsPerAccount int
	// Registerer takes the HTTP metrics; nil registers none.
	Registerer prometheus.Registerer
	// TracerProvider, when not nil, gets a server span per request, child
	// of the client's W3C traceparent; nil keeps tracing off, at no cost.
	TracerProvider trace.TracerProvider
	Clock          func() time.Time
}

// API is the REST API: Mount it on the service's router.
type API struct {
	cmd        Commands
	auth       Authenticator
	q          Queries
	reader     LeadReader
	audit      AuditReader
	log        *slog.Logger
	publicURL  string
	cursorKeys [][]byte // the first signs
	maxUpload  int64
	quota      int64 // an account's bytes of files
	uploads    *uploadGate
	now        func() time.Time
	limits     Limiter
	refused    refusedSecrets
	addresses  *AddressLimits
	metrics    *metrics
	tracer     trace.Tracer // nil: tracing off

	touchMu sync.Mutex
	touched map[string]time.Time // token id → when this process last recorded its use
}

// New returns the API for cfg, filling defaults for zero values.
func New(cfg Config) *API {
	a := &API{cmd: cfg.Commands, auth: cfg.Auth, q: cfg.Queries, reader: cfg.Reader, audit: cfg.Audit, log: cfg.Logger, publicURL: cfg.PublicURL,
		maxUpload: cfg.MaxUploadBytes, quota: cfg.UploadQuotaBytes, now: cfg.Clock,
		addresses: cfg.AddressLimits, touched: map[string]time.Time{}, tracer: telemetry.Tracer(cfg.TracerProvider)}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.maxUpload <= 0 {
		a.maxUpload = DefaultMaxUploadBytes
	}
	if a.quota <= 0 {
		a.quota = DefaultUploadQuotaBytes
	}
	rate := cfg.RateLimit
	if rate <= 0 {
		rate = DefaultRateLimit
	}
	a.limits = cfg.Limits
	if a.limits == nil {
		a.limits = NewMemoryLimiter(Policy{Name: "default", Quota: rate, Window: time.Minute}, 0, a.now)
	}
	if a.addresses == nil {
		a.addresses = NewAddressLimits(nil, ClientAddresses{})
	}
	// Derived keys: a cursor signature never reveals anything usable
	// against the token secrets the same key seals.
	for _, key := range append([][]byte{cfg.SecretKey}, cfg.PreviousSecretKeys...) {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte("leadsvc list cursor v1"))
		a.cursorKeys = append(a.cursorKeys, mac.Sum(nil))
	}
	a.metrics = newMetrics(cfg.Registerer)
	a.uploads = newUploadGate(cmp.Or(cfg.UploadsPerProcess, DefaultUploadsPerProcess),
		cmp.Or(cfg.UploadsPerAccount, DefaultUploadsPerAccount), a.metrics.uploads)
	return a
}

// Mount installs the edge middleware (request id, access log, metrics,
// panic recovery) on r, problem answers for unknown routes and methods,
// and the /v1 routes. Call it before adding r's other routes: chi wants
// middleware first.
func (a *API) Mount(r chi.Router) {
	r.Use(a.requestID, a.observe, a.recoverer)
	r.NotFound(a.notFound)
	r.MethodNotAllowed(a.methodNotAllowed)
	r.Mount("/v1", a.v1())
}

func (a *API) v1() http.Handler {
	r := chi.NewRouter()
	r.NotFound(a.notFound)
	r.MethodNotAllowed(a.methodNotAllowed)
	r.Use(a.authenticate)
	r.Group(a.adminRoutes)
	r.Group(a.partnerRoutes)
	r.Group(a.auditRoutes)
	r.Group(a.webhookRoutes)
	return r
}

func (a *API) notFound(w http.ResponseWriter, r *http.Request) {
	stateFrom(r.Context()).unmatched = true
	a.fail(w, r, ErrRouteNotFound)
}

func (a *API) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	stateFrom(r.Context()).unmatched = true
	a.fail(w, r, ErrMethodNotAllowed)
}

// h adapts a handler that returns its failure: fail answers it, so no
// handler writes an error response itself.
func (a *API) h(fn func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := a.verifyAuth(r)
		if err == nil {
			err = fn(w, r)
		}
		if err != nil {
			a.fail(w, r, err)
		}
	}
}

// hGuarded is h for a handler whose first round trip checks the request's
// guard itself (guardFrom), saving h's. When that check finds the cached
// authentication stale, nothing was read or written: the request is
// authenticated afresh and served once more. A refusal is checked the
// same way before it is answered, since it may have been decided from the
// stale schema or filter without a round trip.
func (a *API) hGuarded(fn func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := fn(w, r)
		if err != nil && !errors.Is(err, commands.ErrScopeChanged) && guardFrom(r.Context()) != nil {
			switch cerr := a.auth.CheckGuard(r.Context(), guardFrom(r.Context())); {
			case errors.Is(cerr, commands.ErrScopeChanged):
				err = cerr
			case cerr == nil:
				stateFrom(r.Context()).guard = nil
			}
		}
		if errors.Is(err, commands.ErrScopeChanged) {
			if err = a.reauthenticate(r); err == nil {
				err = fn(w, r)
			}
		}
		if err != nil {
			a.fail(w, r, err)
		}
	}
}

// fail answers err as a problem; a 5xx is logged once, with the request id,
// and its cause never reaches the client. A 401 costs the client address
// a unit of its budget, and is a 429 when none is left.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err)
	if p.Status == http.StatusUnauthorized {
		// The budget shown so far was a token's that turned out stale:
		// an unauthenticated request has none.
		w.Header().Del("RateLimit")
		w.Header().Del("RateLimit-Policy")
		if aerr := a.addresses.take(w, r, 1); aerr != nil {
			p = problemFor(aerr)
		}
	}
	if p.Status >= 500 && p.Status != http.StatusServiceUnavailable {
		a.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("request_id", requestIDFrom(r.Context())), slog.String("method", r.Method),
			slog.String("route", routePattern(r)), slog.String("err", err.Error()))
	}
	writeProblem(w, r, p)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
