package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/leadsvc/leadsvc/internal/testenv"
)

// trap is a loopback listener that counts the connections made to it:
// a database or NATS server that fails the test if it is touched.
type trap struct {
	l     net.Listener
	count atomic.Int64
}

func newTrap(t *testing.T) *trap {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr := &trap{l: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			tr.count.Add(1)
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = l.Close() })
	return tr
}

// commandPaths lists every command of the tree below cmd, as arguments.
func commandPaths(cmd *cobra.Command, prefix []string) [][]string {
	var out [][]string
	for _, sub := range cmd.Commands() {
		p := append(slices.Clone(prefix), sub.Name())
		out = append(out, p)
		out = append(out, commandPaths(sub, p)...)
	}
	return out
}

// Every command answers --help and -h (and `leadsvc help CMD`) with its
// usage and flags, exit 0, and does nothing else: the configured database
// and NATS are never dialled, nothing listens, no data directory is made.
func TestEveryCommandAnswersHelpAndDoesNothingElse(t *testing.T) {
	t.Parallel()
	db, natsTrap := newTrap(t), newTrap(t)
	addr := testenv.FreeAddr(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	env := map[string]string{
		"DATABASE_URL":      "postgres://postgres@" + db.l.Addr().String() + "/leadsvc?sslmode=disable&connect_timeout=2",
		"NATS_URL":          "nats://" + natsTrap.l.Addr().String(),
		"LEADSVC_ADDR":      addr,
		"LEADSVC_DATA_DIR":  dataDir,
		"LEADSVC_LOG_LEVEL": "debug",
	}
	getenv := func(k string) string { return env[k] }
	c := &cli{getenv: getenv}
	paths := commandPaths(c.commands(), nil)
	var names []string
	for _, p := range paths {
		names = append(names, strings.Join(p, " "))
	}
	for _, want := range []string{"serve", "migrate", "account create", "token create", "demo", "rebuild", "verify",
		"history lead", "history token", "audit verify", "healthcheck", "version"} {
		if !slices.Contains(names, want) {
			t.Errorf("no command %q among %q", want, names)
		}
	}
	paths = append(paths, nil) // leadsvc itself
	for _, path := range paths {
		cmd, _, err := c.commands().Find(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{append(slices.Clone(path), "--help"), append(slices.Clone(path), "-h"),
			append([]string{"help"}, path...)} {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			var out, errOut bytes.Buffer
			code := run(ctx, args, getenv, &out, &errOut)
			cancel()
			usage := out.String()
			if code != 0 || errOut.Len() != 0 || !strings.Contains(usage, "Usage:\n  "+strings.Join(append([]string{"leadsvc"}, path...), " ")) {
				t.Errorf("leadsvc %s: exit %d, stderr %q, stdout:\n%s\nwant exit 0 and the usage only", strings.Join(args, " "), code, errOut.String(), usage)
				continue
			}
			cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
				if !strings.Contains(usage, "--"+f.Name) {
					t.Errorf("leadsvc %s: the usage does not name --%s:\n%s", strings.Join(args, " "), f.Name, usage)
				}
			})
		}
	}
	if n := db.count.Load() + natsTrap.count.Load(); n != 0 {
		t.Errorf("asking for help made %d connections to the database or NATS", n)
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("asking for help made the data directory: %v", err)
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		_ = conn.Close()
		t.Errorf("something listens on LEADSVC_ADDR %s", addr)
	}
	// And as a process, whose exit code is the one a shell sees.
	if code, out, errOut := runProcess(t, t.TempDir(), env, "serve", "--help"); code != 0 || errOut != "" || !strings.Contains(out, "Usage:") {
		t.Errorf("leadsvc serve --help as a process: exit %d, stderr %q, stdout %q", code, errOut, out)
	}
	if n := db.count.Load() + natsTrap.count.Load(); n != 0 {
		t.Errorf("serve --help made %d connections to the database or NATS", n)
	}
}
