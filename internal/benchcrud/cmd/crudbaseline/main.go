// Command crudbaseline runs the benchmark's CRUD baseline (package
// benchcrud) as a process of its own: DATABASE_URL names its database
// (pool of 16 connections unless the URL sets pool_max_conns, as
// leadsvc), CRUD_ADDR its listen address (default 127.0.0.1:8090). It
// creates its tables on start and stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/internal/benchcrud"
	"github.com/leadsvc/leadsvc/internal/pgxuuid"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	if err := run(ctx, logger); err != nil {
		fmt.Fprintf(os.Stderr, "crudbaseline: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, logger *slog.Logger) error {
	url := os.Getenv("DATABASE_URL")
	addr := os.Getenv("CRUD_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8090"
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = 16
	}
	cfg.AfterConnect = pgxuuid.AfterConnect
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := benchcrud.Migrate(ctx, pool); err != nil {
		return err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return benchcrud.NewServer(pool, key, logger).Serve(ctx, addr)
}
