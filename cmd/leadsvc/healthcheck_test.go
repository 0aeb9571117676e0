package main

import (
	"strings"
	"testing"

	"github.com/leadsvc/leadsvc/internal/testenv"
)

// TestHealthcheckFollowsReadiness: `leadsvc healthcheck` is a container's
// health check, so it must pass exactly when /readyz does, failing as
// soon as the service drains and when nothing answers.
func TestHealthcheckFollowsReadiness(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	env := testEnv(t)
	at := func(addr string) func(string) string {
		return func(k string) string {
			if k == "LEADSVC_ADDR" {
				return addr
			}
			return env(k)
		}
	}
	_, port, _ := strings.Cut(m.Addr(), ":")
	// A wildcard address is asked on loopback.
	for _, addr := range []string{m.Addr(), ":" + port, "0.0.0.0:" + port} {
		if code, out, errOut := runCLI(t, at(addr), "healthcheck"); code != 0 || !strings.Contains(out, `"status":"ok"`) {
			t.Fatalf("healthcheck at %s of a ready service: exit %d, %s %s", addr, code, out, errOut)
		}
	}

	m.health.draining.Store(true)
	code, out, errOut := runCLI(t, at(m.Addr()), "healthcheck")
	if code != 1 || !strings.Contains(out, `"draining"`) || !strings.Contains(errOut, "503") {
		t.Fatalf("healthcheck of a draining service: exit %d, %s %s; want 1 and the 503", code, out, errOut)
	}

	if code, _, errOut := runCLI(t, at(testenv.FreeAddr(t)), "healthcheck"); code != 1 || !strings.Contains(errOut, "readyz") {
		t.Fatalf("healthcheck with nothing listening: exit %d, %s; want 1", code, errOut)
	}
}
