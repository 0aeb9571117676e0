package main

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"time"
)

// readinessCheck is one dependency /readyz asks about.
type readinessCheck struct {
	name  string
	check func(ctx context.Context) (detail any, err error)
	// optional checks report "degraded" without failing readiness: with
	// NATS down, writes still succeed and are relayed once it is back.
	optional bool
}

// health serves /livez, /healthz and /readyz. Readiness fails first on
// shutdown, so a load balancer stops sending before the listener closes.
type health struct {
	checks   []readinessCheck
	draining atomic.Bool
}

func (h *health) livez(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (h *health) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status, code := "ok", http.StatusOK
	if h.draining.Load() {
		status, code = "draining", http.StatusServiceUnavailable
	}
	results := map[string]any{}
	for _, c := range h.checks {
		detail, err := c.check(ctx)
		res := map[string]any{"status": "ok"}
		if detail != nil {
			res["detail"] = detail
		}
		switch {
		case err != nil && c.optional:
			res["status"], res["error"] = "degraded", err.Error()
			if status == "ok" {
				status = "degraded"
			}
		case err != nil:
			res["status"], res["error"] = "fail", err.Error()
			status, code = "fail", http.StatusServiceUnavailable
		}
		results[c.name] = res
	}
	writeJSON(w, code, map[string]any{"status": status, "checks": results})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
