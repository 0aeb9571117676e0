package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
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

// healthcheck asks the service listening on this machine at LEADSVC_ADDR's
// port whether it is ready, and fails unless /readyz answers 200: a
// container's health check, for images with no curl or shell.
func healthcheck(ctx context.Context, cfg Config, stdout io.Writer) error {
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return fmt.Errorf("LEADSVC_ADDR %q: %w", cfg.Addr, err)
	}
	// A wildcard listener is reached on loopback.
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("readyz: %w", err)
	}
	defer resp.Body.Close()
	// The answer names the failing check; a container runtime keeps it.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if _, err := stdout.Write(body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz: %s", resp.Status)
	}
	return nil
}
