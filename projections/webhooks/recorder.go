package webhooks

import (
	"context"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/domain"
)

// recorded is one finished attempt on its way to the delivery log; done
// is closed once it is stored (or storing failed).
type recorded struct {
	m    outgoing
	r    result
	done chan struct{}
}

// maxRecordBatch bounds the attempts stored in one transaction.
const maxRecordBatch = 256

// recordLoop stores finished attempts, those that finish together in one
// transaction: group commit for the delivery log, so that its fsyncs do
// not bound the delivery rate.
func (d *Dispatcher) recordLoop(stop <-chan struct{}) {
	for {
		var items []recorded
		select {
		case it := <-d.records:
			items = append(items, it)
		case <-stop:
			return
		}
	gather:
		for len(items) < maxRecordBatch {
			select {
			case it := <-d.records:
				items = append(items, it)
			default:
				break gather
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		disable, err := d.store(ctx, items)
		if err != nil {
			// The messages keep their lease and go again when it ends: a
			// duplicate, never a loss.
			d.logger.Error("webhooks: recording attempts failed; their messages will be sent again", "attempts", len(items), "err", err)
		}
		for _, it := range items {
			close(it.done)
		}
		for _, x := range disable {
			d.disable(ctx, x)
		}
		cancel()
	}
}

// health is what a batch says of one endpoint, in the order its attempts
// were made.
type health struct {
	account              uuid.UUID
	lastOK               *time.Time
	failingFrom, lastBad *time.Time // the first failure after lastOK, and the last failure
	gone                 bool
}

type disabling struct {
	account, webhook uuid.UUID
	reason, detail   string
}

// store writes the attempts and moves their messages on: delivered on any
// 2xx; otherwise retried on the schedule, or given up when it is spent or
// the endpoint answered 410 Gone. It returns the endpoints to disable:
// those that answered Gone, and those whose every attempt has failed for
// DisableAfter.
func (d *Dispatcher) store(ctx context.Context, items []recorded) ([]disabling, error) {
	var (
		msgIDs, attemptNos, hooks = make([]int64, len(items)), make([]int32, len(items)), make([]uuid.UUID, len(items))
		ats                       = make([]time.Time, len(items))
		statuses                  = make([]*int32, len(items))
		durations                 = make([]float64, len(items))
		excerpts, errs            = make([]*string, len(items)), make([]*string, len(items))
		oks                       = make([]bool, len(items))
		delivered, failed, retry  []int64
		deliveredAt, failedAt     []time.Time
		retryAt                   []time.Time
		endpoints                 = map[uuid.UUID]*health{}
		order                     []uuid.UUID
	)
	for i, it := range items {
		m, r := it.m, it.r
		msgIDs[i], attemptNos[i], hooks[i], ats[i] = m.id, int32(m.attempts+1), m.webhook, r.at
		if r.status != 0 {
			st := int32(r.status)
			statuses[i] = &st
		}
		durations[i] = float64(r.duration.Microseconds()) / 1000
		excerpts[i], errs[i], oks[i] = nonEmpty(r.excerpt), nonEmpty(r.err), r.success()
		h := endpoints[m.webhook]
		if h == nil {
			h = &health{account: m.account}
			endpoints[m.webhook] = h
			order = append(order, m.webhook)
		}
		at := r.at
		if r.success() {
			delivered, deliveredAt = append(delivered, m.id), append(deliveredAt, at)
			h.lastOK, h.failingFrom = &at, nil
			continue
		}
		if h.failingFrom == nil {
			h.failingFrom = &at
		}
		h.lastBad = &at
		wait, again := retryWait(d.cfg.Schedule, m.attempts+1, d.cfg.Jitter, rand.Float64(), r.retryAfter, d.cfg.MaxRetryAfter)
		if r.status == http.StatusGone {
			again, h.gone = false, true
		}
		if again {
			retry, retryAt = append(retry, m.id), append(retryAt, at.Add(wait))
		} else {
			failed, failedAt = append(failed, m.id), append(failedAt, at)
		}
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO webhook_attempts (message_id, webhook_id, attempt, attempted_at, status_code, duration_ms,
			response_excerpt, error, success)
		SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::int[], $4::timestamptz[], $5::int[], $6::float8[], $7::text[],
			$8::text[], $9::bool[])`, msgIDs, hooks, attemptNos, ats, statuses, durations, excerpts, errs, oks)
	b.Queue(`UPDATE webhook_messages m SET state = 'delivered', attempts = attempts + 1, locked_until = NULL, finished_at = x.at
		FROM unnest($1::bigint[], $2::timestamptz[]) AS x(id, at) WHERE m.id = x.id AND m.state = 'pending'`, delivered, deliveredAt)
	b.Queue(`UPDATE webhook_messages m SET attempts = attempts + 1, locked_until = NULL, next_attempt_at = x.at
		FROM unnest($1::bigint[], $2::timestamptz[]) AS x(id, at) WHERE m.id = x.id AND m.state = 'pending'`, retry, retryAt)
	b.Queue(`UPDATE webhook_messages m SET state = 'failed', attempts = attempts + 1, locked_until = NULL, finished_at = x.at
		FROM unnest($1::bigint[], $2::timestamptz[]) AS x(id, at) WHERE m.id = x.id AND m.state = 'pending'`, failed, failedAt)
	// An endpoint's run of failures starts at its first failure after
	// its last success.
	for _, id := range order {
		h := endpoints[id]
		b.Queue(`INSERT INTO webhook_health AS h (webhook_id, failing_since, last_success_at, last_failure_at)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (webhook_id) DO UPDATE SET
				failing_since = CASE WHEN $3::timestamptz IS NOT NULL THEN $2 ELSE coalesce(h.failing_since, $2) END,
				last_success_at = coalesce($3, h.last_success_at), last_failure_at = coalesce($4, h.last_failure_at)
			RETURNING failing_since`, id, h.failingFrom, h.lastOK, h.lastBad)
	}
	var out []disabling
	err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		out = nil
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		for range 4 {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		for _, id := range order {
			var since *time.Time
			if err := br.QueryRow().Scan(&since); err != nil {
				return err
			}
			h := endpoints[id]
			switch {
			case h.gone:
				out = append(out, disabling{h.account, id, domain.WebhookDisabledGone, "the endpoint answered 410 Gone"})
			case since != nil && h.lastBad != nil && !h.lastBad.Before(since.Add(d.cfg.DisableAfter)):
				out = append(out, disabling{h.account, id, domain.WebhookDisabledFailing,
					"every attempt failed since " + since.UTC().Format(time.RFC3339)})
			}
		}
		return br.Close()
	})
	return out, err
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// disable records a subscription's disabling through the commands.
func (d *Dispatcher) disable(ctx context.Context, x disabling) {
	done, err := d.cfg.Disable(ctx, x.account, x.webhook, x.reason, x.detail)
	if err != nil {
		d.logger.Error("webhooks: disabling a subscription failed; the next failure tries again", "webhook_id", x.webhook, "err", err)
		return
	}
	if done {
		d.logger.Warn("webhooks: subscription disabled", "webhook_id", x.webhook, "reason", x.reason)
		d.metrics.disabled.WithLabelValues(x.reason).Inc()
	}
}
