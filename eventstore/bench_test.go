package eventstore_test

import (
	"context"
	"fmt"
	"sync"
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
// the same run, at the same concurrency, as a ratio.

const benchWindow = 3 * time.Second

// storePoolConns is the pool size the benchmarks give the store: enough
// to keep Postgres busy while commits wait for the disk, few enough that
// 64 writers do not become 64 backends fighting over 2 cores.
const storePoolConns = 16

// hammer runs op from writers goroutines for the window and returns the
// number of completed operations per second.
func hammer(b *testing.B, writers int, op func(ctx context.Context) error) float64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), benchWindow)
	defer cancel()
	var done atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := op(ctx); err != nil {
					if ctx.Err() == nil {
						failed.Store(err)
						cancel()
					}
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	return float64(done.Load()) / time.Since(start).Seconds()
}

// rawInsertRate is the physical limit: one-row INSERT transactions into a
// plain table of the same shape (bigint identity, text, jsonb).
func rawInsertRate(b *testing.B, pool *pgxpool.Pool, writers int) float64 {
	b.Helper()
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS raw_inserts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		stream text NOT NULL, data jsonb NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	return hammer(b, writers, func(ctx context.Context) error {
		_, err := pool.Exec(ctx, `INSERT INTO raw_inserts (stream, data) VALUES ($1, $2)`, uuid.NewString(), `{"n":1,"text":"benchmark"}`)
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
	raw := map[int]float64{}
	for _, w := range []int{1, 64} {
		raw[w] = rawInsertRate(b, pool, w)
	}
	for _, w := range []int{1, 64} {
		b.Run(fmt.Sprintf("raw_insert/writers=%d", w), func(b *testing.B) {
			b.ReportMetric(raw[w], "rows/s")
		})
	}
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
			txs := hammer(b, c.writers, func(ctx context.Context) error {
				a := eventstore.Append{StreamID: "bench-" + uuid.NewString(), AccountID: account}
				for i := range c.batch {
					a.Events = append(a.Events, noted{N: i, Text: "benchmark"})
				}
				_, err := s.Append(ctx, a)
				return err
			})
			events := txs * float64(c.batch)
			b.ReportMetric(events, "events/s")
			b.ReportMetric(txs, "appends/s")
			b.ReportMetric(events/raw[c.writers], "x_raw_insert")
			b.Logf("%s: %.0f events/s = %.2f x the raw single-row INSERT rate (%.0f rows/s, %d writers)",
				name, events, events/raw[c.writers], raw[c.writers], c.writers)
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
	peak := hammer(b, 64, func(ctx context.Context) error {
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
