package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore/views"
	"github.com/leadsvc/leadsvc/internal/eventlog"
	"github.com/leadsvc/leadsvc/projections"
	"github.com/leadsvc/leadsvc/projections/leads"
)

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// onProjection opens the database and runs fn on the lead view
// projection with a progress bar on stderr.
func onProjection(ctx context.Context, cfg Config, logger *slog.Logger, stderr io.Writer,
	fn func(p *leads.Projection, pool *pgxpool.Pool, progress func(projections.Progress)) error) error {
	ws, err := openStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer ws.Close()
	bar := newProgressBar(stderr, isTerminal(stderr))
	defer bar.Finish()
	return fn(leads.New(eventlog.New(ws.store), domain.NewRegistry(), views.Of(ws.store)), ws.pool, bar.Update)
}

// rebuildCmd runs `leadsvc rebuild [--projection NAME]`: the views are
// rebuilt from the log into fresh tables and swapped in while a running
// service keeps serving.
func rebuildCmd(ctx context.Context, cfg Config, logger *slog.Logger, _ string, stdout, stderr io.Writer) error {
	return onProjection(ctx, cfg, logger, stderr, func(p *leads.Projection, pool *pgxpool.Pool, progress func(projections.Progress)) error {
		rep, err := p.Rebuild(ctx, pool, progress)
		if err != nil {
			return err
		}
		rate := float64(rep.Events) / max(rep.Duration.Seconds(), 1e-9)
		_, err = fmt.Fprintf(stdout, "rebuilt %s: %d events, %d leads, %d memberships in %v (%.0f events/s); %d events written meanwhile applied in the swap\n",
			leads.Name, rep.Events, rep.Leads, rep.Memberships, rep.Duration.Round(time.Millisecond), rate, rep.Tail)
		return err
	})
}

// verifyCmd runs `leadsvc verify [--projection NAME]`: it rebuilds into
// shadow tables, compares them with the live views and fails on any
// difference.
func verifyCmd(ctx context.Context, cfg Config, logger *slog.Logger, _ string, stdout, stderr io.Writer) error {
	return onProjection(ctx, cfg, logger, stderr, func(p *leads.Projection, pool *pgxpool.Pool, progress func(projections.Progress)) error {
		rep, err := p.Verify(ctx, pool, time.Minute, progress)
		if err != nil {
			return err
		}
		for _, d := range rep.Differences {
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", d.Table, d.Key, d.Problem)
		}
		fmt.Fprintf(stdout, "verify %s: %d events, %d leads compared, %d rows changed since the snapshot skipped, %d differences\n",
			leads.Name, rep.Events, rep.Leads, rep.Skipped, len(rep.Differences))
		if len(rep.Differences) > 0 {
			return errors.New("the live views differ from the log")
		}
		return nil
	})
}
