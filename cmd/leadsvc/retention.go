package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadsvc/leadsvc/commands"
)

// retentionBatch is how many leads of one campaign a round erases
// (docs/privacy.md#retention).
const retentionBatch = 100

// retentionMetrics count the retention job's work (no ids as labels).
type retentionMetrics struct {
	erasures prometheus.Counter
	failures prometheus.Counter
	rounds   prometheus.Counter
}

func newRetentionMetrics(reg prometheus.Registerer) retentionMetrics {
	m := retentionMetrics{
		erasures: prometheus.NewCounter(prometheus.CounterOpts{Name: "leadsvc_retention_erasures_total",
			Help: "Leads this process erased because they were past their campaign's retention policy."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "leadsvc_retention_failures_total",
			Help: "Retention erasures (or reads of a campaign's expired leads) that failed; retried next round."}),
		rounds: prometheus.NewCounter(prometheus.CounterOpts{Name: "leadsvc_retention_rounds_total",
			Help: "Rounds of the retention job this process ran."}),
	}
	reg.MustRegister(m.erasures, m.failures, m.rounds)
	return m
}

// retentionJob erases the leads past their campaign's retention policy,
// one round at start and then every interval until ctx ends; a round
// that found a full batch in some campaign is followed at once by the
// next. Every process runs it; a campaign is worked on by one at a time.
type retentionJob struct {
	cmd      commands.EraseExpiredLeadsHandler
	leads    commands.ExpiredLeads
	interval time.Duration
	metrics  retentionMetrics
	logger   *slog.Logger
}

// round runs one round and counts and logs what it did: counts only,
// never a lead's values.
func (j retentionJob) round(ctx context.Context) commands.RetentionRound {
	start := time.Now()
	r, err := j.cmd.Handle(ctx, commands.EraseExpiredLeads{Leads: j.leads, Batch: retentionBatch})
	if ctx.Err() != nil {
		return r
	}
	j.metrics.rounds.Inc()
	j.metrics.erasures.Add(float64(r.Erased))
	j.metrics.failures.Add(float64(r.Failed))
	switch {
	case err != nil:
		j.logger.Warn("retention: round failed in part", "erased", r.Erased, "skipped", r.Skipped, "failed", r.Failed,
			"campaigns", r.Campaigns, "busy", r.Busy, "err", err)
	case r.Erased > 0 || r.Skipped > 0:
		j.logger.Info("retention: leads erased", "erased", r.Erased, "skipped", r.Skipped, "campaigns", r.Campaigns,
			"busy", r.Busy, "duration", time.Since(start).Round(time.Millisecond))
	}
	return r
}

func (j retentionJob) run(ctx context.Context) {
	t := time.NewTicker(j.interval)
	defer t.Stop()
	for {
		// A full batch means more are due: go on, unless the round erased
		// nothing (every erasure failed or the views lag), which would spin.
		if r := j.round(ctx); r.More && r.Erased > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
