package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/leadsvc/leadsvc/commands"
)

// Expired idempotency keys are deleted this often, this many rows per
// statement (docs/api.md#idempotency).
const (
	idempotencySweepInterval = 10 * time.Minute
	idempotencySweepBatch    = 1000
)

// sweepIdempotencyKeys deletes expired idempotency keys at start and then
// every interval until ctx ends. Every process sweeps; they share the
// work (commands.SweepIdempotencyKeys skips rows another one holds).
func sweepIdempotencyKeys(ctx context.Context, c *commands.Commands, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		start := time.Now()
		n, err := c.SweepIdempotencyKeys(ctx, idempotencySweepBatch)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			logger.Warn("idempotency sweep failed", "deleted", n, "err", err)
		case n > 0:
			logger.Info("idempotency keys swept", "deleted", n, "duration", time.Since(start).Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
