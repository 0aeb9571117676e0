package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/internal/pgxuuid"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// testEnv is the environment of one test: its own schema, data directory
// (embedded NATS, secret key) and a free port.
func testEnv(t *testing.T) func(string) string {
	t.Helper()
	testenv.Integration(t)
	vars := map[string]string{
		"DATABASE_URL":      testenv.Schema(t),
		"LEADSVC_DATA_DIR":  t.TempDir(),
		"LEADSVC_ADDR":      "127.0.0.1:0",
		"LEADSVC_LOG_LEVEL": "warn",
		// Tests close many services; each would otherwise wait the
		// default delay for a load balancer that is not there.
		"LEADSVC_SHUTDOWN_DELAY": "0",
	}
	return func(k string) string { return vars[k] }
}

func runCLI(t *testing.T, getenv func(string) string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, getenv, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestAccountCreatePrintsTheBootstrapJSON(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	code, out, errOut := runCLI(t, env, "account", "create", "--name", "Acme", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("stdout %q is not JSON: %v", out, err)
	}
	if _, err := uuid.Parse(got["account_id"]); err != nil || len(got) != 2 {
		t.Fatalf("bootstrap JSON %v: want exactly account_id and token", got)
	}
	if !domain.ValidTokenSecretFormat(got["token"]) {
		t.Fatalf("token %q is not an lsk_ secret", got["token"])
	}
	if strings.Contains(errOut, got["token"]) {
		t.Fatal("the secret was logged")
	}
}

func TestCommandLineMistakesExitWithUsage(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	for _, args := range [][]string{
		{"account", "create"},
		{"account", "create", "--name", " "},
		{"account", "delete"},
		{"account", "create", "--name", "A", "extra"},
		{"frobnicate"},
		{"serve", "--bogus"},
		{"rebuild", "extra"},
		{"history", "lead"},
		{"history", "lead", "not-an-id"},
		{"audit"},
		{"audit", "nope"},
		{},
	} {
		if code, _, errOut := runCLI(t, env, args...); code != 2 || errOut == "" && len(args) > 0 {
			t.Errorf("leadsvc %v: exit %d, stderr %q; want 2 with a message", args, code, errOut)
		}
	}
	if code, out, _ := runCLI(t, env, "version"); code != 0 || strings.TrimSpace(out) != version {
		t.Errorf("version: exit %d, %q", code, out)
	}
	bad := func(k string) string {
		if k == "LEADSVC_ADDR" {
			return "nonsense"
		}
		return env(k)
	}
	if code, _, errOut := runCLI(t, bad, "serve"); code != 2 || !strings.Contains(errOut, "LEADSVC_ADDR") {
		t.Errorf("a bad LEADSVC_ADDR: exit %d, %q", code, errOut)
	}
}

func TestDemoIsCreatedOnceAndPrintsItsTokens(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	code, first, errOut := runCLI(t, env, "demo")
	if code != 0 {
		t.Fatalf("demo: exit %d: %s", code, errOut)
	}
	secrets := map[string]bool{}
	for _, s := range regexp.MustCompile(`lsk_[0-9A-Za-z]{49}`).FindAllString(first, -1) {
		secrets[s] = true
	}
	if len(secrets) != 3 || !strings.Contains(first, "/docs/") {
		t.Fatalf("demo printed %d secrets and no docs links:\n%s", len(secrets), first)
	}
	if code, second, _ := runCLI(t, env, "demo"); code != 0 || second != first {
		t.Fatalf("a second demo differs (exit %d):\n%s\nvs\n%s", code, second, first)
	}
}

func TestServeIsReadyRelaysAndShutsDownGracefully(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	cfg, err := LoadConfig(env)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMain(cfg, newLogger(cfg, io.Discard))
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = m.Close()
		}
	}()
	base := "http://" + m.Addr()
	if code, _, errOut := runCLI(t, env, "account", "create", "--name", "Relayed"); code != 0 {
		t.Fatalf("account create: %s", errOut)
	}
	var ready struct {
		Status string `json:"status"`
		Checks map[string]struct {
			Status string `json:"status"`
			Detail struct {
				Leader   bool  `json:"leader"`
				Position int64 `json:"position"`
			} `json:"detail"`
		} `json:"checks"`
	}
	testenv.CheckFor(t, 10*time.Second, func() error {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&ready); err != nil {
			return err
		}
		relay := ready.Checks["relay"]
		if resp.StatusCode != 200 || ready.Status != "ok" || !relay.Detail.Leader || relay.Detail.Position < 2 {
			return fmt.Errorf("readyz %d %+v", resp.StatusCode, ready)
		}
		return nil
	})
	// Every projection reports its position and lag, and caught up.
	testenv.CheckFor(t, 10*time.Second, func() error {
		var r struct {
			Checks struct {
				Projections struct {
					Detail map[string]struct {
						Position  int64 `json:"position"`
						LagEvents int64 `json:"lag_events"`
					} `json:"detail"`
				} `json:"projections"`
			} `json:"checks"`
		}
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return err
		}
		d := r.Checks.Projections.Detail
		for _, name := range []string{"lead_views", "webhooks"} {
			if p, ok := d[name]; !ok || p.Position < 2 || p.LagEvents != 0 {
				return fmt.Errorf("projections in readyz = %+v, want %s caught up", d, name)
			}
		}
		return nil
	})
	for _, path := range []string{"/livez", "/healthz", "/metrics"} {
		resp, err := http.Get(base + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", path, resp, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if path == "/metrics" && !bytes.Contains(body, []byte(`leadsvc_projection_events_total{projection="webhooks"}`)) {
			t.Fatalf("/metrics lacks the webhook projection's events:\n%.2000s", body)
		}
	}
	closed = true
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := http.Get(base + "/livez"); err == nil {
		t.Fatal("still serving after Close")
	}
}

// TestRebuildAndVerifyCommands rebuilds the views of the demo from the
// log, verifies them, then edits a row by hand: verify names it and
// exits 1.
func TestRebuildAndVerifyCommands(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	if code, _, errOut := runCLI(t, env, "demo"); code != 0 {
		t.Fatalf("demo: exit %d: %s", code, errOut)
	}
	code, out, errOut := runCLI(t, env, "rebuild")
	// How much comes in the snapshot and how much in the swap's tail
	// depends on other tests' transactions (the database's xmin); the
	// tables must hold the demo's three leads and two memberships either way.
	if code != 0 || !regexp.MustCompile(`^rebuilt lead_views: \d+ events, \d+ leads, \d+ memberships`).MatchString(out) {
		t.Fatalf("rebuild: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	pool := testenv.Pool(t, env("DATABASE_URL"))
	testenv.CheckFor(t, 20*time.Second, func() error {
		var leadRows, memberRows int
		if err := pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM lead_views), (SELECT count(*) FROM filter_members)`).
			Scan(&leadRows, &memberRows); err != nil {
			return err
		}
		if leadRows != 3 || memberRows != 2 {
			// Nothing consumes live events here: rebuild again.
			runCLI(t, env, "rebuild")
			return fmt.Errorf("after rebuild: %d lead rows, %d memberships; want 3 and 2", leadRows, memberRows)
		}
		return nil
	})
	if !strings.Contains(errOut, "events/s") || !strings.Contains(errOut, "ETA") {
		t.Fatalf("rebuild progress on stderr = %q, want a rate and an ETA", errOut)
	}
	if code, out, errOut := runCLI(t, env, "verify", "--projection", "lead_views"); code != 0 || !strings.Contains(out, " 0 differences") {
		t.Fatalf("verify after rebuild: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	var id string
	if err := pool.QueryRow(context.Background(), `UPDATE lead_views SET status = 'won'
		WHERE id = (SELECT id FROM lead_views ORDER BY id LIMIT 1) RETURNING id::text`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLI(t, env, "verify")
	if code != 1 || !strings.Contains(out, "lead_views\t"+id+"\tdiffers in status") {
		t.Fatalf("verify after a hand edit: exit %d, stdout %q; want exit 1 naming lead %s", code, out, id)
	}
	if code, _, errOut := runCLI(t, env, "rebuild", "--projection", "nope"); code != 2 || !strings.Contains(errOut, "unknown projection") {
		t.Fatalf("rebuild --projection nope: exit %d, %q", code, errOut)
	}
}

// The service's pool sends ids as 16 bytes, not through database/sql's
// text round trip (internal/pgxuuid).
func TestServicePoolHandlesUUIDsNatively(t *testing.T) {
	t.Parallel()
	testenv.Integration(t)
	ctx := context.Background()
	pool, err := openPool(ctx, testenv.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if !pgxuuid.Registered(conn.Conn().TypeMap()) {
		t.Fatal("the service's connections use pgx's database/sql path for uuid.UUID")
	}
}
