package main

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/leadsvc/leadsvc/internal/testenv"
)

// scrape reads /metrics into series text ("name{labels}") → value.
func scrape(t *testing.T, m *Main) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + m.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// direct is c without the contract check: traceparent is a transport
// header, like X-Request-Id, that the partner documents do not list per
// operation.
func direct(c *client) *client { return &client{t: c.t, base: c.base, token: c.token} }

// failingReceiver answers every webhook 500.
func failingReceiver(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestMetricsOfRelayWebhooksAndPoolMoveWithActivity(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, "LEADSVC_WEBHOOKS_ALLOW_PRIVATE", "true")
	s := mustSetup(t, m)
	ok, failing := newHookReceiver(t), failingReceiver(t)
	for _, url := range []string{ok.srv.URL, failing.URL} {
		s.admin.do("POST", "/v1/webhooks", map[string]any{"url": url + "/hooks", "campaign_id": s.campaignID,
			"filter_id": s.abc.filterID}).want(201)
	}
	before := scrape(t, m)
	if got := before["leadsvc_db_pool_max_connections"]; got != defaultPoolConns {
		t.Fatalf("leadsvc_db_pool_max_connections = %v, want %d", got, defaultPoolConns)
	}

	// Tracing is off: a client's traceparent goes nowhere.
	direct(s.abc.rw).do("POST", "/v1/leads", map[string]any{"fields": map[string]any{"name": "Ada"}},
		"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").want(201)
	body, _ := ok.wait(t, 1)
	if _, has := body["traceparent"]; has {
		t.Fatalf("webhook body %v carries a traceparent with tracing off", body["raw"])
	}

	testenv.CheckFor(t, 20*time.Second, func() error {
		after := scrape(t, m)
		for series, check := range map[string]func(float64) bool{
			"leadsvc_relay_events_total":                        func(v float64) bool { return v > before["leadsvc_relay_events_total"] },
			"leadsvc_relay_leader":                              func(v float64) bool { return v == 1 },
			"leadsvc_relay_lag_events":                          func(v float64) bool { return v == 0 },
			"leadsvc_relay_lag_seconds":                         func(v float64) bool { return v == 0 },
			"leadsvc_relay_publish_errors_total":                func(v float64) bool { return v == 0 },
			`leadsvc_webhook_attempts_total{outcome="success"}`: func(v float64) bool { return v >= 1 },
			`leadsvc_webhook_attempts_total{outcome="failure"}`: func(v float64) bool { return v >= 1 },
			// The failing endpoint's message waits for its retry.
			"leadsvc_webhook_pending_messages":       func(v float64) bool { return v >= 1 },
			"leadsvc_webhook_oldest_pending_seconds": func(v float64) bool { return v > 0 },
			"leadsvc_db_pool_acquires_total":         func(v float64) bool { return v > before["leadsvc_db_pool_acquires_total"] },
			"leadsvc_db_pool_acquire_seconds_total":  func(v float64) bool { return v > 0 },
			"leadsvc_db_pool_total_connections":      func(v float64) bool { return v >= 1 && v <= defaultPoolConns },
		} {
			v, found := after[series]
			if !found || !check(v) {
				return fmt.Errorf("%s = %v (present: %v), before %v", series, v, found, before[series])
			}
		}
		return nil
	})
}

func TestOneTraceFromRequestThroughProjectionsToWebhook(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	m := mustRunMainWith(t, func(m *Main) { m.TracerProvider = tp }, "LEADSVC_WEBHOOKS_ALLOW_PRIVATE", "true")
	s := mustSetup(t, m)
	rcv := newHookReceiver(t)
	s.admin.do("POST", "/v1/webhooks", map[string]any{"url": rcv.srv.URL + "/hooks", "campaign_id": s.campaignID,
		"filter_id": s.abc.filterID}).want(201)

	const traceID, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	var created lead
	direct(s.abc.rw).do("POST", "/v1/leads", map[string]any{"fields": map[string]any{"name": "Ada"}},
		"traceparent", "00-"+traceID+"-"+clientSpan+"-01").want(201).into(&created)

	body, h := rcv.wait(t, 1)
	if str(body, "subject") != created.ID || !strings.HasPrefix(str(body, "traceparent"), "00-"+traceID+"-") {
		t.Fatalf("webhook body %v; want the lead's event carrying trace %s", body["raw"], traceID)
	}
	if got := h.Get("traceparent"); !strings.HasPrefix(got, "00-"+traceID+"-") || got == str(body, "traceparent") {
		t.Fatalf("webhook header traceparent %q; want the attempt's own span of trace %s", got, traceID)
	}

	want := []string{"POST /v1/leads", "eventstore.append", "projection.apply lead_views", "projection.apply webhooks", "webhook.deliver"}
	testenv.CheckFor(t, 20*time.Second, func() error {
		byName := map[string]sdktrace.ReadOnlySpan{}
		for _, sp := range spans.GetSpans().Snapshots() {
			if sp.SpanContext().TraceID().String() == traceID {
				byName[sp.Name()] = sp
			}
		}
		for _, name := range want {
			if byName[name] == nil {
				return fmt.Errorf("no span %q in trace %s; have %d spans of it", name, traceID, len(byName))
			}
		}
		server := byName["POST /v1/leads"]
		if server.SpanKind() != trace.SpanKindServer || server.Parent().SpanID().String() != clientSpan || !server.Parent().IsRemote() {
			return fmt.Errorf("request span kind %v, parent %v; want a server span under the client's %s",
				server.SpanKind(), server.Parent(), clientSpan)
		}
		if deliver := byName["webhook.deliver"]; deliver.SpanKind() != trace.SpanKindClient {
			return fmt.Errorf("webhook.deliver kind %v, want client", deliver.SpanKind())
		}
		return nil
	})
}
