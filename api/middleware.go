package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/projections/leads"
)

// reqState is what the edge middleware learns about a request as it goes:
// the access log line is written from it at the end.
type reqState struct {
	id        string
	token     *commands.TokenInfo
	scope     *commands.Scope // the token's, with its filter and campaign as authentication read them
	unmatched bool            // answered by the not-found or method-not-allowed handler
	// guard is set while the authentication comes from the process's
	// cache and is not yet checked: the request's first round trip must
	// check it (hGuarded), or h checks it before the handler runs.
	guard commands.Guard
	needs []domain.Permission // what require asked of the token, asked again after a fresh authentication
	body  []byte              // the JSON body once read, for a handler served again
	read  bool
}

type ctxKey struct{}

func stateFrom(ctx context.Context) *reqState {
	s, _ := ctx.Value(ctxKey{}).(*reqState)
	if s == nil {
		return &reqState{}
	}
	return s
}

func requestIDFrom(ctx context.Context) string { return stateFrom(ctx).id }

// RequestID is the X-Request-Id of the request ctx serves, "" outside
// one.
func RequestID(ctx context.Context) string { return requestIDFrom(ctx) }

// tokenFrom is the authenticated token; routes under /v1 always have one.
func tokenFrom(ctx context.Context) commands.TokenInfo {
	if t := stateFrom(ctx).token; t != nil {
		return *t
	}
	return commands.TokenInfo{}
}

// scopeFrom is the authenticated token's scope, nil for an account-level
// token.
func scopeFrom(ctx context.Context) *commands.Scope { return stateFrom(ctx).scope }

// guardFrom is the guard of a cached authentication not yet checked, nil
// when there is none: a handler served by hGuarded passes it to its first
// round trip.
func guardFrom(ctx context.Context) commands.Guard { return stateFrom(ctx).guard }

// guardCheck is guardFrom as a read's check, nil when there is no guard.
func guardCheck(ctx context.Context) *leads.Check {
	g := guardFrom(ctx)
	if len(g) == 0 {
		return nil
	}
	sql, args := g.CheckSQL()
	return &leads.Check{SQL: sql, Args: args, Err: commands.ErrScopeChanged}
}

// meta is the event metadata of a write: who asked, in which request.
func meta(r *http.Request) commands.Meta {
	s := stateFrom(r.Context())
	m := commands.Meta{RequestID: s.id}
	if s.token != nil {
		m.ActorTokenID = s.token.ID.String()
	}
	return m
}

// validRequestID accepts the ids proxies and clients commonly send (UUIDs,
// hex, ULIDs, dotted trace ids) and nothing that could forge a log line.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.:", c) >= 0) {
			return false
		}
	}
	return true
}

// requestID takes a sane incoming X-Request-Id or makes one, and echoes it
// on the response; it goes into every log line and event of the request.
func (a *API) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			var b [16]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, &reqState{id: id})))
	})
}

// routePattern is the chi pattern that served r ("/v1/leads/{id}"), never
// the path itself, so ids stay out of metrics and logs.
func routePattern(r *http.Request) string {
	if stateFrom(r.Context()).unmatched {
		return "unmatched"
	}
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			return p
		}
	}
	return "unmatched"
}

// observe writes the access log line and the request metrics. It logs
// neither headers, query strings nor bodies: they may hold secrets and
// personal data.
func (a *API) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var span trace.Span
		if a.tracer != nil {
			var ctx context.Context
			ctx, span = a.tracer.Start(propagation.TraceContext{}.Extract(r.Context(), propagation.HeaderCarrier(r.Header)),
				"HTTP "+metricMethod(r.Method), trace.WithSpanKind(trace.SpanKindServer))
			r = r.WithContext(ctx)
		}
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		elapsed := time.Since(start)
		route := routePattern(r)
		method := metricMethod(r.Method)
		a.metrics.observe(method, route, status, elapsed)
		s := stateFrom(r.Context())
		if span != nil {
			endServerSpan(span, method, route, status, s.id)
		}
		tokenID := ""
		if s.token != nil {
			tokenID = s.token.ID.String()
		}
		a.log.LogAttrs(r.Context(), slog.LevelInfo, "http request",
			slog.String("method", method), slog.String("route", route), slog.Int("status", status),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000), slog.Int("bytes", ww.BytesWritten()),
			slog.String("request_id", s.id), slog.String("token_id", tokenID))
	})
}

// endServerSpan names the span by its route pattern, never the path (ids
// stay out of span names, as out of metrics), and ends it.
func endServerSpan(span trace.Span, method, route string, status int, requestID string) {
	span.SetName(method + " " + route)
	span.SetAttributes(attribute.String("http.request.method", method), attribute.String("http.route", route),
		attribute.Int("http.response.status_code", status), attribute.String("leadsvc.request_id", requestID))
	if status >= 500 {
		span.SetStatus(codes.Error, "")
	}
	span.End()
}

// metricMethod bounds the method label: arbitrary methods would make
// arbitrary series.
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// recoverer turns a panic into a logged 500 problem, so one bad request
// never takes the process down.
func (a *API) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.log.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
				slog.String("request_id", requestIDFrom(r.Context())), slog.String("route", routePattern(r)),
				slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(debug.Stack())))
			if ww, ok := w.(interface{ Status() int }); ok && ww.Status() != 0 {
				return // the response has started; nothing more can be said
			}
			writeProblem(w, r, problemFor(fmt.Errorf("panic: %v", v)))
		}()
		next.ServeHTTP(w, r)
	})
}

// authenticate requires a Bearer token and spends one unit of its
// budget. A token seen lately comes from the process's cache with a
// guard that the request checks against the tokens, campaigns and filters
// tables before it reads or writes anything (in its own first round
// trip, or one of h's), so that revocation and every scope change are
// seen by the very next request (invariant 5).
//
// Nothing is read from the database for a request refused for a limit:
// a secret whose token was refused lately is weighed against its token's
// budget first, and a secret the cache does not hold is looked up only
// while the client address has failures left (AddressLimits).
func (a *API) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.admit(w, r); err != nil {
			a.fail(w, r, err)
			return
		}
		a.touch(r, tokenFrom(r.Context()))
		next.ServeHTTP(w, r)
	})
}

func (a *API) admit(w http.ResponseWriter, r *http.Request) error {
	secret, err := bearer(r)
	if err != nil {
		return err
	}
	hash := sha256.Sum256([]byte(secret))
	spent := false
	if id, ok := a.refused.get(hash); ok {
		if err := a.spendAs(w, id, 1); err != nil {
			return err
		}
		a.refused.drop(hash)
		spent = true
	}
	tok, scope, guard, cached := a.auth.CachedAuthentication(secret)
	if !cached {
		if err := a.addresses.take(w, r, 0); err != nil {
			return err
		}
		if tok, scope, err = a.auth.AuthenticateScoped(r.Context(), secret); err != nil {
			return err
		}
	}
	st := stateFrom(r.Context())
	st.token, st.scope, st.guard = &tok, scope, guard
	if spent {
		return nil
	}
	err = a.spend(w, r, 1)
	if errors.Is(err, errRateLimited) {
		a.refused.add(hash, tok.ID.String())
	}
	return err
}

func bearer(r *http.Request) (string, error) {
	scheme, secret, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", commands.ErrUnauthenticated
	}
	return strings.TrimSpace(secret), nil
}

// verifyAuth checks a cached authentication's guard on its own round trip;
// when it has moved, the request is authenticated afresh.
func (a *API) verifyAuth(r *http.Request) error {
	st := stateFrom(r.Context())
	if st.guard == nil {
		return nil
	}
	err := a.auth.CheckGuard(r.Context(), st.guard)
	if errors.Is(err, commands.ErrScopeChanged) {
		return a.reauthenticate(r)
	}
	if err == nil {
		st.guard = nil
	}
	return err
}

// reauthenticate reads the token, its filter and its campaign again, when
// the cached ones turned out stale, and asks again what require asked:
// the token may since have been revoked, narrowed or lost a permission.
func (a *API) reauthenticate(r *http.Request) error {
	secret, err := bearer(r)
	if err != nil {
		return err
	}
	tok, scope, err := a.auth.AuthenticateScoped(r.Context(), secret)
	if err != nil {
		return err
	}
	st := stateFrom(r.Context())
	st.token, st.scope, st.guard = &tok, scope, nil
	for _, p := range st.needs {
		if err := permits(tok, p); err != nil {
			return err
		}
	}
	return nil
}

// touch records the token's use; commands keep it to once a minute in the
// database, and this keeps it to once a minute per process, so a busy
// token does not add a write to every request.
func (a *API) touch(r *http.Request, tok commands.TokenInfo) {
	id, now := tok.ID.String(), a.now()
	a.touchMu.Lock()
	last, seen := a.touched[id]
	fresh := seen && now.Sub(last) < time.Minute
	if !fresh {
		a.touched[id] = now
		if len(a.touched) > 10000 {
			// Entries older than a minute decide nothing any more.
			for k, t := range a.touched {
				if now.Sub(t) >= time.Minute {
					delete(a.touched, k)
				}
			}
		}
	}
	a.touchMu.Unlock()
	if fresh {
		return
	}
	if err := a.auth.TouchLastUsed(r.Context(), tok.ID); err != nil {
		a.log.LogAttrs(r.Context(), slog.LevelWarn, "record token use", slog.String("request_id", requestIDFrom(r.Context())),
			slog.String("token_id", id), slog.String("err", err.Error()))
	}
}

// require refuses tokens without permission p (403); admin also needs an
// account-level token.
func (a *API) require(p domain.Permission) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			err := permits(tokenFrom(r.Context()), p)
			if err != nil && guardFrom(r.Context()) != nil {
				// Refused from the cache: the token may have changed since.
				if err = a.verifyAuth(r); err == nil {
					err = permits(tokenFrom(r.Context()), p)
				}
			}
			if err != nil {
				a.fail(w, r, err)
				return
			}
			st := stateFrom(r.Context())
			st.needs = append(st.needs, p)
			next.ServeHTTP(w, r)
		})
	}
}

func permits(tok commands.TokenInfo, p domain.Permission) error {
	if !tok.Can(p) || (p == domain.PermAdmin && tok.CampaignID != nil) {
		return fmt.Errorf("%w: %s", errForbidden, p)
	}
	return nil
}

// spend takes n units of the token's budget, all or none, and tells the
// client where it stands. Fewer than n left is errRateLimited, with
// Retry-After.
func (a *API) spend(w http.ResponseWriter, r *http.Request, n int) error {
	return a.spendAs(w, tokenFrom(r.Context()).ID.String(), n)
}

func (a *API) spendAs(w http.ResponseWriter, tokenID string, n int) error {
	if n <= 0 {
		return nil
	}
	d := a.limits.Take(tokenID, n)
	setRateHeaders(w.Header(), a.limits.Policy(), d)
	if !d.OK {
		return errRateLimited
	}
	return nil
}

// metrics are the HTTP series of DESIGN.md's operations conventions.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	uploads  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "leadsvc_http_requests_total",
			Help: "HTTP requests answered, by method, chi route pattern and status."}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "leadsvc_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by method and chi route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"method", "route"}),
		uploads: prometheus.NewGauge(prometheus.GaugeOpts{Name: "leadsvc_uploads_in_progress",
			Help: "File uploads being received or stored now."}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration, m.uploads)
	}
	return m
}

func (m *metrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}
