// Package telemetry carries W3C trace context across the places where a
// context.Context cannot go: event metadata, NATS headers and webhook
// bodies. With tracing off nothing here is called on a request's path.
package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TracerName names the instrumentation scope of every leadsvc span.
const TracerName = "github.com/leadsvc/leadsvc"

// Header is the W3C trace context header, and the CloudEvents distributed
// tracing extension attribute of the same name.
const Header = "traceparent"

// Tracer is tp's leadsvc tracer, or nil when tp is nil: callers test for
// nil so that tracing off costs a comparison.
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		return nil
	}
	return tp.Tracer(TracerName)
}

// Traceparent is the W3C traceparent of ctx's span, "" when ctx has none.
func Traceparent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	return c[Header]
}

// WithTraceparent returns ctx with the remote span that traceparent names
// as its parent; an empty or malformed value leaves ctx as it is.
func WithTraceparent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{Header: traceparent})
}
