package eventstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// The append benchmarks run each configuration for a fixed wall time (so
// `-benchtime=1x` gives stable figures) and report events per second
// beside the raw single-row INSERT rate of the same Postgres measured in
// the same run, at the same concurrency, as a ratio. On a shared virtual
// machine the raw rate drifts by a factor of two within a minute, so
// BenchmarkAppend alternates raw and store windows and reports the median
// of the round-by-round ratios.

const (
	benchWindow = 3 * time.Second
	roundWindow = 1500 * time.Millisecond
	benchRounds = 3
)

// storePoolConns is the pool size the benchmarks give the store: enough
// to keep Postgres busy while commits wait for the disk, few enough that
// 64 writers do not become 64 backends fighting over 2 cores.
const storePoolConns = 16

// tableInsertRate is one-row INSERT transactions straight into the events
// table, hash given: what its row and indexes cost before the store adds
// the head lookup, the hash and the version check.
func tableInsertRate(b *testing.B, pool *pgxpool.Pool, writers int, window time.Duration) float64 {
	b.Helper()
	return testenv.Hammer(b, writers, window, func(ctx context.Context) error {
		id, _ := uuid.NewV7()
		_, err := pool.Exec(ctx, `INSERT INTO events (stream_id, stream_version, event_id, event_type, account_id,
			data, metadata, recorded_at, hash) VALUES ($1, 1, $2, 'test.noted', $3, $4, '{}', now(), '\x00')`,
			"table-"+uuid.NewString(), id, account, `{"n":1,"text":"benchmark"}`)
		return err
	})
}

func BenchmarkAppend(b *testing.B) {
	testenv.Integration(b)
	url := testenv.Schema(b)
	if err := eventstore.Migrate(context.Background(), url, nil); err != nil {
		b.Fatal(err)
	}
	// The raw baseline gets one connection per writer; the store gets the
	// pool size recommended for it (storePoolConns), which on a small
	// machine beats one backend per writer.
	pool := testenv.PoolOfSize(b, url, 64)
	storePool := testenv.PoolOfSize(b, url, storePoolConns)
	type config struct {
		writers, batch int
		group          bool
	}
	for _, c := range []config{{1, 1, false}, {64, 1, false}, {1, 10, false}, {64, 10, false}, {64, 1, true}, {64, 10, true}} {
		name := fmt.Sprintf("store/writers=%d/batch=%d/group_commit=%v", c.writers, c.batch, c.group)
		b.Run(name, func(b *testing.B) {
			var opts []eventstore.Option
			if c.group {
				opts = append(opts, eventstore.WithGroupCommit(64, 0))
			}
			s := eventstore.New(storePool, registry(), opts...)
			defer s.Close()
			// The events table's own insert rate, for one-event appends
			// without group commit: the ceiling of that configuration.
			withTable := c.batch == 1 && !c.group
			var raws, stores, ratios, tables []float64
			for round := range benchRounds {
				raw := testenv.RawInsertRate(b, pool, c.writers, roundWindow, `{"n":1,"text":"benchmark"}`)
				txs := testenv.Hammer(b, c.writers, roundWindow, func(ctx context.Context) error {
					a := eventstore.Append{StreamID: "bench-" + uuid.NewString(), AccountID: account}
					for i := range c.batch {
						a.Events = append(a.Events, noted{N: i, Text: "benchmark"})
					}
					_, err := s.Append(ctx, a)
					return err
				})
				events := txs * float64(c.batch)
				raws, stores, ratios = append(raws, raw), append(stores, events), append(ratios, events/raw)
				line := fmt.Sprintf("round %d: raw INSERT %.0f rows/s, store %.0f events/s (%.2f x raw)", round+1, raw, events, events/raw)
				if withTable {
					table := tableInsertRate(b, storePool, c.writers, roundWindow)
					tables = append(tables, table)
					line += fmt.Sprintf(", events table INSERT %.0f rows/s (%.2f x raw)", table, table/raw)
				}
				b.Log(line)
			}
			b.ReportMetric(testenv.Median(stores), "events/s")
			b.ReportMetric(testenv.Median(stores)/float64(c.batch), "appends/s")
			b.ReportMetric(testenv.Median(raws), "raw_rows/s")
			b.ReportMetric(testenv.Median(ratios), "x_raw_insert")
			summary := fmt.Sprintf("%s: %.0f events/s, median %.2f x the raw single-row INSERT rate (%.0f rows/s, %d writers; %d alternating rounds)",
				name, testenv.Median(stores), testenv.Median(ratios), testenv.Median(raws), c.writers, benchRounds)
			if withTable {
				b.ReportMetric(testenv.Median(tables), "table_rows/s")
				summary += fmt.Sprintf("; the events table alone takes %.0f rows/s", testenv.Median(tables))
			}
			b.Log(summary)
		})
	}
}

// BenchmarkRelay measures the relay's sustained publish rate to JetStream
// over a backlog, beside the peak append rate (group commit, 64 writers)
// and the raw JetStream publish rate of the same server, in the same run.
func BenchmarkRelay(b *testing.B) {
	testenv.Integration(b)
	url := testenv.Schema(b)
	if err := eventstore.Migrate(context.Background(), url, nil); err != nil {
		b.Fatal(err)
	}
	pool := testenv.PoolOfSize(b, url, storePoolConns)
	nc := testenv.ConnectNATS(b)
	s := eventstore.New(pool, registry(), eventstore.WithGroupCommit(64, 0))
	defer s.Close()

	var appended atomic.Int64
	peak := testenv.Hammer(b, 64, benchWindow, func(ctx context.Context) error {
		_, err := s.Append(ctx, eventstore.Append{StreamID: "bench-" + uuid.NewString(), AccountID: account,
			Events: []domain.Event{noted{N: 1, Text: "benchmark"}}})
		if err == nil {
			appended.Add(1)
		}
		return err
	})
	backlog := appended.Load()

	rawJS := rawJetStreamRate(b, nc, 20000, false)
	rawJSAsync := rawJetStreamRate(b, nc, 50000, true)

	cfg := eventstore.RelayConfig{Stream: testenv.RandomName("BENCH_"), SubjectPrefix: testenv.RandomName("bench")}
	defer func() {
		if js, err := nc.JetStream(); err == nil {
			_ = js.DeleteStream(cfg.Stream)
		}
	}()
	r, err := eventstore.NewRelay(cfg, s, nc, quietLogger())
	if err != nil {
		b.Fatal(err)
	}
	js, err := nc.JetStream()
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- r.Run(ctx) }()
	// Done when the stream holds the whole backlog: positions are not
	// monotonic in commit order, so the relay's position cannot tell.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		info, err := js.StreamInfo(cfg.Stream)
		if err == nil && int64(info.State.Msgs) >= backlog {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("relay published %v of %d events after 5 minutes", info, backlog)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	rate := float64(backlog) / elapsed.Seconds()
	b.ReportMetric(peak, "peak_append_events/s")
	b.ReportMetric(rate, "relay_events/s")
	b.ReportMetric(rate/peak, "x_peak_append")
	b.ReportMetric(rawJS, "raw_js_publish/s")
	b.ReportMetric(rawJSAsync, "raw_js_async_publish/s")
	b.ReportMetric(rate/rawJSAsync, "x_raw_js_async")
	b.Logf("relay: %d events in %v = %.0f events/s = %.2f x the peak append rate (%.0f events/s); raw JetStream publish %.0f msgs/s acknowledged one by one, %.0f msgs/s pipelined (relay = %.2f x that)",
		backlog, elapsed.Round(time.Millisecond), rate, rate/peak, peak, rawJS, rawJSAsync, rate/rawJSAsync)
}

// rawJetStreamRate publishes n messages with de-duplication ids to a
// scratch stream and returns messages per second: acknowledged one by one,
// or pipelined (async, every ack awaited at the end), the relay's way.
func rawJetStreamRate(b *testing.B, nc *nats.Conn, n int, pipelined bool) float64 {
	b.Helper()
	js, err := nc.JetStream(nats.PublishAsyncMaxPending(4000))
	if err != nil {
		b.Fatal(err)
	}
	name := testenv.RandomName("RAW_")
	subject := testenv.RandomName("raw")
	if _, err := js.AddStream(&nats.StreamConfig{Name: name, Subjects: []string{subject + ".>"}, Storage: nats.FileStorage}); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = js.DeleteStream(name) }()
	body := []byte(`{"specversion":"1.0","type":"test.noted","data":{"n":1,"text":"benchmark"}}`)
	start := time.Now()
	for i := range n {
		if pipelined {
			_, err = js.PublishAsync(subject+".x", body, nats.MsgId(fmt.Sprint(i)))
		} else {
			_, err = js.Publish(subject+".x", body, nats.MsgId(fmt.Sprint(i)))
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	if pipelined {
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(time.Minute):
			b.Fatal("pipelined publishes not acknowledged after a minute")
		}
	}
	return float64(n) / time.Since(start).Seconds()
}
