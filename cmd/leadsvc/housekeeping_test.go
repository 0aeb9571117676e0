package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leadsvc/leadsvc/internal/testenv"
)

// serve deletes expired idempotency keys from the start, keeps young
// ones, and logs how many it deleted.
func TestServeSweepsExpiredIdempotencyKeys(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	if code, _, errOut := runCLI(t, env, "migrate"); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, errOut)
	}
	pool := testenv.Pool(t, env("DATABASE_URL"))
	if _, err := pool.Exec(context.Background(), `INSERT INTO idempotency_keys (token_id, key, fingerprint, state, result, created_at, expires_at)
		VALUES ('t', 'old', '\x00', 'done', '{}', now() - interval '25 hours', now() - interval '1 hour'),
		       ('t', 'young', '\x00', 'done', '{}', now() - interval '23 hours', now() + interval '1 hour')`); err != nil {
		t.Fatal(err)
	}
	_, logs := mustRunMainLogging(t, env)
	testenv.CheckFor(t, 10*time.Second, func() error {
		var keys []string
		if err := pool.QueryRow(context.Background(), `SELECT coalesce(array_agg(key ORDER BY key), '{}') FROM idempotency_keys`).Scan(&keys); err != nil {
			return err
		}
		if strings.Join(keys, ",") != "young" {
			return fmt.Errorf("idempotency keys %v, want only young", keys)
		}
		if !strings.Contains(logs.String(), `"msg":"idempotency keys swept","deleted":1`) {
			return fmt.Errorf("no sweep logged yet")
		}
		return nil
	})
}

// mustRunMainLogging runs the service of env with its info-level JSON log
// kept for the test to read.
func mustRunMainLogging(t *testing.T, env func(string) string) (*Main, *syncBuffer) {
	t.Helper()
	cfg, err := LoadConfig(func(k string) string {
		if k == "LEADSVC_LOG_LEVEL" {
			return "info"
		}
		return env(k)
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cfg.LogFormat = "json"
	m := NewMain(cfg, newLogger(cfg, logs))
	if err := m.Run(t.Context()); err != nil {
		_ = m.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m, logs
}
