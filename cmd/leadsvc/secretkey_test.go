package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/internal/testenv"
)

// TestMain lets a test run leadsvc as a process of its own, in the
// working directory and with the exact environment it chooses: with
// LEADSVC_TEST_MAIN=1 this test binary is leadsvc.
func TestMain(m *testing.M) {
	if os.Getenv("LEADSVC_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// runProcess runs leadsvc args as a process in dir with only env, and
// returns its exit code and output.
func runProcess(t *testing.T, dir string, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Dir = dir
	cmd.Env = []string{"LEADSVC_TEST_MAIN=1"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("leadsvc %v still running after 60s; stderr:\n%s", args, errOut.String())
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("leadsvc %v: %v", args, err)
	}
	return code, out.String(), errOut.String()
}

func TestDataDirDefaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"LEADSVC_DATA_DIR first", map[string]string{"LEADSVC_DATA_DIR": "/srv/leadsvc", "XDG_DATA_HOME": "/x", "HOME": "/home/u"}, "/srv/leadsvc"},
		{"then XDG_DATA_HOME", map[string]string{"XDG_DATA_HOME": "/x", "HOME": "/home/u"}, "/x/leadsvc"},
		{"a relative XDG_DATA_HOME is ignored", map[string]string{"XDG_DATA_HOME": "x", "HOME": "/home/u"}, "/home/u/.local/share/leadsvc"},
		{"then HOME", map[string]string{"HOME": "/home/u"}, "/home/u/.local/share/leadsvc"},
		{"none", map[string]string{}, ""},
	} {
		cfg, err := LoadConfig(func(k string) string { return tc.env[k] })
		if err != nil || cfg.DataDir != tc.want {
			t.Errorf("%s: DataDir = %q, %v; want %q", tc.name, cfg.DataDir, err, tc.want)
		}
	}
	if _, err := LoadConfig(func(k string) string {
		return map[string]string{"LEADSVC_DATA_DIR": ".data"}[k]
	}); err == nil || !strings.Contains(err.Error(), "LEADSVC_DATA_DIR") {
		t.Errorf("a relative LEADSVC_DATA_DIR: %v, want refused", err)
	}
	cfg, _ := LoadConfig(func(string) string { return "" })
	if _, err := cfg.dataDir(); err == nil || !strings.Contains(err.Error(), "set LEADSVC_DATA_DIR") {
		t.Errorf("no data directory: %v", err)
	}
}

// `leadsvc demo` run from two folders uses one data directory, so one
// key: the second run finds the first's demo, and "Show" works after.
func TestDataDirDoesNotDependOnTheWorkingDirectory(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	env := map[string]string{"DATABASE_URL": testenv.Schema(t), "HOME": home, "LEADSVC_LOG_LEVEL": "warn"}
	here, there := t.TempDir(), t.TempDir()
	code, first, errOut := runProcess(t, here, env, "demo")
	if code != 0 {
		t.Fatalf("demo in %s: exit %d: %s", here, code, errOut)
	}
	code, second, errOut := runProcess(t, there, env, "demo")
	if code != 0 || second != first {
		t.Fatalf("demo in %s: exit %d (%s), printed\n%s\nwant the first demo\n%s", there, code, errOut, second, first)
	}
	dataDir := filepath.Join(home, ".local", "share", "leadsvc")
	if _, err := os.Stat(filepath.Join(dataDir, secretKeyFile)); err != nil {
		t.Fatalf("the key is not in the user's data directory: %v", err)
	}
	for _, dir := range []string{here, there} {
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("demo wrote into its working directory %s: %v", dir, entries)
		}
	}
	setup := readDemo(t, dataDir)
	m := mustRunMain(t, "HOME", home, "LEADSVC_DATA_DIR", "", "DATABASE_URL", env["DATABASE_URL"])
	admin := &client{t: t, base: "http://" + m.Addr(), token: setup.Tokens[0].Secret}
	var shown struct {
		Secret string `json:"secret"`
	}
	admin.do("POST", "/v1/tokens/"+setup.Tokens[1].ID.String()+"/reveal", nil).want(200).into(&shown)
	if shown.Secret != setup.Tokens[1].Secret {
		t.Fatal("Show gave another secret")
	}
}

// Every command that seals secrets refuses to start with a key that
// cannot open those already stored: another data directory's generated
// key, or another LEADSVC_SECRET_KEY. It exits 1 naming the problem and
// writes nothing.
func TestAnotherSecretKeyIsRefused(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	code, out, errOut := runCLI(t, env, "account", "create", "--name", "First", "--json")
	if code != 0 {
		t.Fatalf("account create: exit %d: %s", code, errOut)
	}
	var acct struct {
		AccountID string `json:"account_id"`
	}
	if err := json.Unmarshal([]byte(out), &acct); err != nil {
		t.Fatal(err)
	}
	pool := testenv.Pool(t, env("DATABASE_URL"))
	before := logLength(t, pool)
	otherDir := t.TempDir()
	vars := map[string]string{"DATABASE_URL": env("DATABASE_URL"), "LEADSVC_ADDR": "127.0.0.1:0", "LEADSVC_LOG_LEVEL": "warn"}
	for _, tc := range []struct {
		name, key, value string
		args             []string
	}{
		{"serve, another data directory", "LEADSVC_DATA_DIR", otherDir, []string{"serve"}},
		{"serve, another LEADSVC_SECRET_KEY", "LEADSVC_SECRET_KEY", "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY=", []string{"serve"}},
		{"demo", "LEADSVC_DATA_DIR", otherDir, []string{"demo"}},
		{"account create", "LEADSVC_DATA_DIR", otherDir, []string{"account", "create", "--name", "Second"}},
	} {
		env := map[string]string{tc.key: tc.value}
		for k, v := range vars {
			env[k] = v
		}
		if tc.key == "LEADSVC_SECRET_KEY" {
			env["LEADSVC_DATA_DIR"] = t.TempDir()
		}
		code, out, errOut := runProcess(t, t.TempDir(), env, tc.args...)
		if code != 1 || !strings.Contains(errOut, "cannot open the secrets already stored") || strings.Contains(out, "lsk_") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 saying the key does not fit", tc.name, code, out, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(otherDir, secretKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a key that does not fit was kept in %s: %v", otherDir, err)
	}
	if after := logLength(t, pool); after != before {
		t.Errorf("%d events written by refused commands", after-before)
	}
	// The right key still works.
	if code, _, errOut := runCLI(t, env, "account", "create", "--name", "Second"); code != 0 {
		t.Fatalf("account create with the first key: exit %d: %s", code, errOut)
	}
}

// readDemo is the demo setup kept in dataDir.
func readDemo(t *testing.T, dataDir string) demoSetup {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, demoFile))
	if err != nil {
		t.Fatal(err)
	}
	var setup demoSetup
	if err := json.Unmarshal(b, &setup); err != nil {
		t.Fatal(err)
	}
	return setup
}

// logLength is the number of events in the log.
func logLength(t *testing.T, pool *pgxpool.Pool) (n int) {
	t.Helper()
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
