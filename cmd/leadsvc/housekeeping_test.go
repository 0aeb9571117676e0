package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leadsvc/leadsvc/internal/testenv"
)

// serve deletes expired rows from the start (idempotency keys past
// their time, rate limits whose budget is full again), keeps the others,
// and logs how many it deleted.
func TestServeSweepsExpiredRows(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, seed, rows, want, logged string
	}{{
		name: "idempotency keys",
		seed: `INSERT INTO idempotency_keys (token_id, key, fingerprint, state, result, created_at, expires_at)
			VALUES ('t', 'old', '\x00', 'done', '{}', now() - interval '25 hours', now() - interval '1 hour'),
			       ('t', 'young', '\x00', 'done', '{}', now() - interval '23 hours', now() + interval '1 hour')`,
		rows:   `SELECT coalesce(array_agg(key ORDER BY key), '{}') FROM idempotency_keys`,
		want:   "young",
		logged: `"msg":"idempotency keys swept","deleted":1`,
	}, {
		name: "rate limits",
		seed: `INSERT INTO rate_limits (policy, key, tat, changed_at)
			VALUES ('default', 'full', now() - interval '1 second', now() - interval '1 minute'),
			       ('address', 'spent', now() + interval '1 hour', now())`,
		rows:   `SELECT coalesce(array_agg(convert_from(key, 'UTF8')), '{}') FROM rate_limits`,
		want:   "spent",
		logged: `"msg":"rate limits swept","deleted":1`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := testEnv(t)
			if code, _, errOut := runCLI(t, env, "migrate"); code != 0 {
				t.Fatalf("migrate: exit %d: %s", code, errOut)
			}
			pool := testenv.Pool(t, env("DATABASE_URL"))
			if _, err := pool.Exec(context.Background(), tc.seed); err != nil {
				t.Fatal(err)
			}
			_, logs := mustRunMainLogging(t, env)
			testenv.CheckFor(t, 10*time.Second, func() error {
				var keys []string
				if err := pool.QueryRow(context.Background(), tc.rows).Scan(&keys); err != nil {
					return err
				}
				if strings.Join(keys, ",") != tc.want {
					return fmt.Errorf("rows %v, want only %s", keys, tc.want)
				}
				if !strings.Contains(logs.String(), tc.logged) {
					return fmt.Errorf("no sweep logged yet")
				}
				return nil
			})
		})
	}
}

// mustRunMainLogging runs the service of env with its info-level JSON log
// kept for the test to read; each of prepare is called on the service
// before it runs.
func mustRunMainLogging(t *testing.T, env func(string) string, prepare ...func(*Main)) (*Main, *testenv.SyncBuffer) {
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
	logs := &testenv.SyncBuffer{}
	cfg.LogFormat = "json"
	m := NewMain(cfg, newLogger(cfg, logs))
	for _, f := range prepare {
		f(m)
	}
	if err := m.Run(t.Context()); err != nil {
		_ = m.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m, logs
}
