package eventstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// gathered is the value of the one series named name in reg.
func gathered(t *testing.T, reg *prometheus.Registry, name string) (float64, bool) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name || len(f.GetMetric()) != 1 {
			continue
		}
		m := f.GetMetric()[0]
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

func TestRelayMetricsFollowTheLogAndTheStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	nc := testenv.StartNATS(t).Connect()
	for i := range 3 {
		if _, err := s.Append(ctx, appendN("lead-m", eventstore.AnyVersion, i)); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	cfg := relayConfig()
	cfg.Registerer = reg
	r, err := eventstore.NewRelay(cfg, s, nc, quietLogger())
	if err != nil {
		t.Fatal(err)
	}

	// Not yet running: three events wait, the oldest for some time. They
	// count once no older transaction of the database is in flight
	// (invariant 3), which other tests can delay.
	testenv.CheckFor(t, 15*time.Second, func() error {
		if got, ok := gathered(t, reg, "leadsvc_relay_lag_events"); !ok || got != 3 {
			return fmt.Errorf("leadsvc_relay_lag_events = %v (%v), want 3", got, ok)
		}
		if got, _ := gathered(t, reg, "leadsvc_relay_lag_seconds"); got <= 0 {
			return fmt.Errorf("leadsvc_relay_lag_seconds = %v, want > 0 with events waiting", got)
		}
		if got, ok := gathered(t, reg, "leadsvc_relay_leader"); !ok || got != 0 {
			return fmt.Errorf("leadsvc_relay_leader = %v (%v) before running, want 0", got, ok)
		}
		return nil
	})

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	testenv.CheckFor(t, 15*time.Second, func() error {
		want := map[string]float64{"leadsvc_relay_lag_events": 0, "leadsvc_relay_lag_seconds": 0,
			"leadsvc_relay_leader": 1, "leadsvc_relay_events_total": 3, "leadsvc_relay_publish_errors_total": 0}
		for name, w := range want {
			if got, ok := gathered(t, reg, name); !ok || got != w {
				return fmt.Errorf("%s = %v (%v), want %v", name, got, ok, w)
			}
		}
		return nil
	})
}

func TestTracedAppendKeepsItsTraceparentUpToTheStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	s, _ := newStore(t, eventstore.WithTracer(tp))
	nc := testenv.StartNATS(t).Connect()
	cfg := relayConfig()

	ctx, parent := tp.Tracer("test").Start(ctx, "request")
	if _, err := s.Append(ctx, appendN("lead-t", 0, 1)); err != nil {
		t.Fatal(err)
	}
	parent.End()
	traceID := parent.SpanContext().TraceID().String()

	recs, err := s.ReadStream(ctx, "lead-t", eventstore.ReadOptions{})
	if err != nil || len(recs) != 1 {
		t.Fatalf("ReadStream = %d, %v", len(recs), err)
	}
	tp0 := recs[0].Metadata.Traceparent
	if !strings.HasPrefix(tp0, "00-"+traceID+"-") {
		t.Fatalf("stored traceparent = %q, want one of trace %s", tp0, traceID)
	}
	var appendSpan sdktrace.ReadOnlySpan
	for _, sp := range spans.GetSpans().Snapshots() {
		if sp.Name() == "eventstore.append" {
			appendSpan = sp
		}
	}
	if appendSpan == nil || appendSpan.Parent().SpanID() != parent.SpanContext().SpanID() || !strings.Contains(tp0, appendSpan.SpanContext().SpanID().String()) {
		t.Fatalf("append span %v; want a child of the request whose id the traceparent %q names", appendSpan, tp0)
	}

	startRelay(t, s, nc, cfg)
	checkExactlyOnceInOrder(t, s, nc, cfg, 1)
	msg := streamMessages(t, nc, cfg.Stream)[0]
	ce, err := domain.DecodeCloudEvent(msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get("traceparent"); got != tp0 || ce.Traceparent != tp0 {
		t.Fatalf("NATS header traceparent %q, envelope %q; want %q in both", got, ce.Traceparent, tp0)
	}
}

func TestUntracedAppendStoresNoTraceparent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	s, _ := newStore(t) // tracing off, though the caller traces
	ctx, span := tp.Tracer("test").Start(ctx, "request")
	defer span.End()
	if _, err := s.Append(ctx, appendN("lead-u", 0, 1)); err != nil {
		t.Fatal(err)
	}
	recs, err := s.ReadStream(ctx, "lead-u", eventstore.ReadOptions{})
	if err != nil || len(recs) != 1 || recs[0].Metadata.Traceparent != "" {
		t.Fatalf("ReadStream = %+v, %v; want one event without a traceparent", recs, err)
	}
}
