// Package testenv gives each integration test its own Postgres schema and,
// where asked, its own NATS server, so tests run in parallel without sharing
// state. An unreachable Postgres fails the test: green means Postgres ran.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/leadsvc/leadsvc/internal/pgxuuid"
)

// DefaultDatabaseURL is used when DATABASE_URL is unset; `make test` creates it.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/leadsvc_test?sslmode=disable"

// DatabaseURL returns DATABASE_URL or the default test database.
func DatabaseURL() string {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u
	}
	return DefaultDatabaseURL
}

// Integration skips the test under -short; everything else runs for real.
func Integration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs Postgres and NATS")
	}
}

// RandomName returns prefix followed by 12 random hex characters, usable
// as a schema, stream or consumer name.
func RandomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Schema creates a fresh schema, dropped when the test ends, and returns a
// database URL whose search_path is that schema.
func Schema(t testing.TB) string {
	t.Helper()
	Integration(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := DatabaseURL()
	admin, err := pgxpool.New(ctx, base)
	if err != nil {
		t.Fatalf("connect %s: %v", redact(base), err)
	}
	defer admin.Close()
	name := RandomName("t_")
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create schema (is Postgres running? `make test` starts it): %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pool, err := pgxpool.New(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer pool.Close()
		if _, err := pool.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return WithSearchPath(base, name)
}

// WithSearchPath returns dbURL with its search_path set to schema.
func WithSearchPath(dbURL, schema string) string {
	u, err := url.Parse(dbURL)
	if err != nil || u.Scheme == "" {
		// keyword/value form
		return dbURL + " search_path=" + schema
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Pool opens a pool on dbURL, closed when the test ends.
func Pool(t testing.TB, dbURL string) *pgxpool.Pool {
	t.Helper()
	return PoolOfSize(t, dbURL, 0)
}

// PoolOfSize opens a pool of exactly conns connections on dbURL, opened
// at once (benchmarks must not measure connecting), closed when the test
// ends; conns 0 leaves pgxpool's default. Its connections handle
// uuid.UUID as the service's do (pgxuuid).
func PoolOfSize(t testing.TB, dbURL string, conns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		t.Fatalf("database url: %v", err)
	}
	cfg.AfterConnect = pgxuuid.AfterConnect
	if conns > 0 {
		cfg.MaxConns, cfg.MinConns = conns, conns
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// NATS is an embedded NATS server with JetStream on a random port, in its own
// temporary directory. Stop and Start let a test take it down and bring it
// back on the same port with the same storage.
type NATS struct {
	t    testing.TB
	opts *server.Options
	srv  *server.Server
}

// StartNATS starts an embedded JetStream server, shut down when the test ends.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	Integration(t)
	n := &NATS{t: t, opts: natsOptions(t)}
	n.Start()
	// Later restarts must come back on the port first chosen.
	n.opts.Port = n.srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(n.Stop)
	return n
}

// natsOptions are a quiet JetStream server's on a random loopback port
// with storage of its own.
func natsOptions(t testing.TB) *server.Options {
	return &server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	}
}

// StartCluster starts size JetStream servers clustered over loopback
// routes, shut down when the test ends, and returns their client URLs
// once the cluster can place a stream with size replicas.
func StartCluster(t testing.TB, size int) []string {
	t.Helper()
	nodes := make([]*server.Options, size)
	for i := range nodes {
		nodes[i] = &server.Options{JetStream: true, ServerName: fmt.Sprintf("n%d", i+1),
			Cluster: server.ClusterOpts{Name: "leadsvc-test"}}
	}
	return StartClusterOf(t, nodes)
}

// StartClusterOf runs nodes (from configuration files, say) as one
// cluster on this machine: each keeps its name, cluster name and
// JetStream settings but gets free loopback ports, routes to the others
// and storage of its own. It returns the client URLs once the cluster can
// place a stream on every node.
func StartClusterOf(t testing.TB, nodes []*server.Options) []string {
	t.Helper()
	Integration(t)
	routes := make([]string, len(nodes))
	ports := make([]int, len(nodes))
	for i := range nodes {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		routes[i] = fmt.Sprintf("nats://127.0.0.1:%d", ports[i])
		l.Close()
	}
	urls := make([]string, len(nodes))
	for i, node := range nodes {
		opts := node.Clone()
		opts.Host, opts.Port, opts.HTTPPort = "127.0.0.1", server.RANDOM_PORT, 0
		opts.StoreDir, opts.NoLog, opts.NoSigs = t.TempDir(), true, true
		opts.Cluster.Host, opts.Cluster.Port = "127.0.0.1", ports[i]
		opts.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		srv, err := server.NewServer(opts)
		if err != nil {
			t.Fatalf("nats server %s: %v", opts.ServerName, err)
		}
		go srv.Start()
		t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
		if !srv.ReadyForConnections(10 * time.Second) {
			t.Fatalf("nats server %s not ready", opts.ServerName)
		}
		urls[i] = srv.ClientURL()
	}
	WaitForCluster(t, urls)
	return urls
}

// WaitForCluster returns once the JetStream cluster of the servers at
// urls can place a stream with a replica on each of them: the meta group
// elects a leader and learns its peers before it can.
func WaitForCluster(t testing.TB, urls []string) {
	t.Helper()
	nc, err := nats.Connect(strings.Join(urls, ","))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	probe := RandomName("PROBE_")
	// Two minutes: on two cores busy with the rest of `make test`, the
	// nodes have been seen to take over one to elect a metadata leader.
	CheckFor(t, 2*time.Minute, func() error {
		if _, err := js.AddStream(&nats.StreamConfig{Name: probe, Subjects: []string{probe}, Replicas: len(urls)}); err != nil {
			return err
		}
		return js.DeleteStream(probe)
	})
}

// Start starts (or restarts) the server and waits until it takes clients.
func (n *NATS) Start() {
	n.t.Helper()
	srv, err := server.NewServer(n.opts)
	if err != nil {
		n.t.Fatalf("nats server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		n.t.Fatalf("nats server not ready")
	}
	n.srv = srv
}

// Stop shuts the server down; it is safe to call twice.
func (n *NATS) Stop() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

// StoreDir is the directory of the server's JetStream files.
func (n *NATS) StoreDir() string { return n.opts.StoreDir }

// URL is the client URL of the server.
func (n *NATS) URL() string {
	return fmt.Sprintf("nats://127.0.0.1:%d", n.opts.Port)
}

// Connect opens a client connection that reconnects forever, closed when the
// test ends.
func (n *NATS) Connect() *nats.Conn {
	n.t.Helper()
	nc, err := nats.Connect(n.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		n.t.Fatalf("nats connect: %v", err)
	}
	n.t.Cleanup(nc.Close)
	return nc
}

// CheckFor polls cond every 10ms until it returns nil or d elapses, then
// fails the test with the last error. Tests use it instead of sleeping.
func CheckFor(t testing.TB, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", d, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func redact(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "(database url)"
	}
	return u.Redacted()
}

// ConnectNATS connects to NATS_URL when it is set (the benchmarks measure
// the machine's NATS beside their baselines) or else to an embedded
// JetStream server of this test; closed when the test ends.
func ConnectNATS(t testing.TB) *nats.Conn {
	t.Helper()
	if u := os.Getenv("NATS_URL"); u != "" {
		nc, err := nats.Connect(u)
		if err != nil {
			t.Fatalf("connect %s: %v", u, err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	return StartNATS(t).Connect()
}

// SyncBuffer is a log destination a test reads while the goroutines
// under test write to it.
type SyncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
