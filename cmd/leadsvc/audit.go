package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/audit"
	"github.com/leadsvc/leadsvc/projections"
)

// newAuditReader answers audit questions from store's log, with the
// store's own hash-chain check.
func newAuditReader(store *eventstore.Store) *audit.Reader {
	return audit.New(audit.Config{Store: store})
}

// auditSide is what the auditor commands open: the log, read only. They
// neither migrate nor need the secret key, so they run with read-only
// database credentials.
type auditSide struct {
	pool   *pgxpool.Pool
	store  *eventstore.Store
	reader *audit.Reader
}

func openAuditSide(ctx context.Context, cfg Config) (*auditSide, error) {
	pool, err := openPool(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	store := eventstore.New(pool, domain.NewRegistry())
	return &auditSide{pool: pool, store: store, reader: newAuditReader(store)}, nil
}

func (s *auditSide) Close() {
	s.store.Close()
	s.pool.Close()
}

// auditVerify runs `leadsvc audit verify`: every stream's hash chain is
// recomputed, with progress on stderr; each broken stream is named with
// its first broken link on stdout, and any break exits 1.
func auditVerify(ctx context.Context, cfg Config, _ *slog.Logger, stdout, stderr io.Writer) error {
	s, err := openAuditSide(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	total, err := s.store.Count(ctx)
	if err != nil {
		return err
	}
	bar := newProgressBar(stderr, isTerminal(stderr))
	start := time.Now()
	var checked int64
	breaks, err := s.store.VerifyAll(ctx, func(n int64) {
		checked = n
		bar.Update(projections.Progress{Phase: "verify", Done: n, Total: max(total, n), Start: start})
	})
	bar.Finish()
	if err != nil {
		return err
	}
	if len(breaks) > 0 {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STREAM\tVERSION\tPOSITION\tFIRST BROKEN LINK")
		for _, b := range breaks {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", b.StreamID, b.StreamVersion, b.Position, b.Reason)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "audit verify: %d events checked in %v, %d broken streams\n",
		checked, time.Since(start).Round(time.Millisecond), len(breaks))
	if len(breaks) > 0 {
		return errors.New("the hash chain is broken: an event was edited or deleted")
	}
	return nil
}
