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
