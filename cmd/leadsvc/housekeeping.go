package main

import (
	"context"
	"log/slog"
	"time"
)

// Expired idempotency keys are deleted this often, this many rows per
// statement (docs/api.md#idempotency); so are the rate limits' rows
// whose budget is full again (docs/api.md#rate-limits).
const (
	idempotencySweepInterval = 10 * time.Minute
	idempotencySweepBatch    = 1000
	rateLimitSweepInterval   = time.Minute
	rateLimitSweepBatch      = 1000
)

// sweep runs one housekeeping deletion of what (it returns the rows
// deleted) at start and then every interval until ctx ends. Every process
// sweeps; they share the work, since each deletion skips rows another one
// holds.
func sweep(ctx context.Context, what string, interval time.Duration, deleteRows func(context.Context) (int64, error), logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		start := time.Now()
		n, err := deleteRows(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			logger.Warn(what+" sweep failed", "deleted", n, "err", err)
		case n > 0:
			logger.Info(what+" swept", "deleted", n, "duration", time.Since(start).Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
