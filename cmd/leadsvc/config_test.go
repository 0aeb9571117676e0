package main

import (
	"strings"
	"testing"
	"time"
)

// only is an environment holding one variable.
func only(name, value string) func(string) string {
	return func(k string) string { return map[string]string{name: value}[k] }
}

func TestShutdownDelayConfiguration(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"-1s", "soon", "5"} {
		_, err := LoadConfig(only("LEADSVC_SHUTDOWN_DELAY", v))
		if err == nil || !strings.Contains(err.Error(), "LEADSVC_SHUTDOWN_DELAY") {
			t.Errorf("LEADSVC_SHUTDOWN_DELAY=%s: %v", v, err)
		}
	}
	for v, want := range map[string]time.Duration{"": DefaultShutdownDelay, "0": 0, "250ms": 250 * time.Millisecond} {
		cfg, err := LoadConfig(only("LEADSVC_SHUTDOWN_DELAY", v))
		if err != nil || cfg.ShutdownDelay != want {
			t.Errorf("LEADSVC_SHUTDOWN_DELAY=%q: %v %v, want %v", v, cfg.ShutdownDelay, err, want)
		}
	}
	if DefaultShutdownDelay != 5*time.Second {
		t.Errorf("the default delay is %v; docs and the chart's preStop say 5s", DefaultShutdownDelay)
	}
}

func TestStreamReplicasConfiguration(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"0", "6", "-1", "three"} {
		if _, err := LoadConfig(only("LEADSVC_STREAM_REPLICAS", v)); err == nil || !strings.Contains(err.Error(), "LEADSVC_STREAM_REPLICAS") {
			t.Errorf("LEADSVC_STREAM_REPLICAS=%s: %v", v, err)
		}
	}
	// Unset, the relay chooses (0); set, it is the number asked for.
	for v, want := range map[string]int{"": 0, "1": 1, "5": 5} {
		cfg, err := LoadConfig(only("LEADSVC_STREAM_REPLICAS", v))
		if err != nil || cfg.StreamReplicas != want {
			t.Errorf("LEADSVC_STREAM_REPLICAS=%q: %d %v, want %d", v, cfg.StreamReplicas, err, want)
		}
	}
}

func TestTracingConfiguration(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, c := range []struct {
		name string
		env  func(string) string
		want bool
	}{
		{"unset", env(), false},
		{"endpoint", env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"), true},
		{"traces endpoint", env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4318/v1/traces"), true},
		{"exporter otlp", env("OTEL_TRACES_EXPORTER", "otlp"), true},
		{"exporter none", env("OTEL_TRACES_EXPORTER", "none", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"), false},
		{"sdk disabled", env("OTEL_SDK_DISABLED", "true", "OTEL_TRACES_EXPORTER", "otlp"), false},
	} {
		cfg, err := LoadConfig(c.env)
		if err != nil || cfg.Tracing != c.want {
			t.Errorf("%s: Tracing = %v, %v; want %v", c.name, cfg.Tracing, err, c.want)
		}
	}
	for _, e := range []func(string) string{
		env("OTEL_TRACES_EXPORTER", "jaeger"),
		env("OTEL_TRACES_EXPORTER", "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
	} {
		if _, err := LoadConfig(e); err == nil || !strings.Contains(err.Error(), "OTEL_") {
			t.Errorf("LoadConfig = %v, want an OTEL_ problem", err)
		}
	}

	off, err := openTracing(t.Context(), Config{})
	if off != nil || err != nil {
		t.Fatalf("openTracing(off) = %v, %v; want nil, nil", off, err)
	}
	on, err := openTracing(t.Context(), Config{Tracing: true})
	if on == nil || err != nil {
		t.Fatalf("openTracing(on) = %v, %v; want a provider", on, err)
	}
	if err := on.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown with nothing to send: %v", err)
	}
}

func TestRetentionIntervalConfiguration(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"0", "-1m", "500ms", "daily"} {
		if _, err := LoadConfig(only("LEADSVC_RETENTION_INTERVAL", v)); err == nil || !strings.Contains(err.Error(), "LEADSVC_RETENTION_INTERVAL") {
			t.Errorf("LEADSVC_RETENTION_INTERVAL=%s: %v", v, err)
		}
	}
	for v, want := range map[string]time.Duration{"": time.Minute, "off": 0, "10m": 10 * time.Minute} {
		cfg, err := LoadConfig(only("LEADSVC_RETENTION_INTERVAL", v))
		if err != nil || cfg.RetentionInterval != want {
			t.Errorf("LEADSVC_RETENTION_INTERVAL=%q: %v %v, want %v", v, cfg.RetentionInterval, err, want)
		}
	}
}
