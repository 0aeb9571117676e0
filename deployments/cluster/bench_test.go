package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadsvc/leadsvc/api"
	"github.com/leadsvc/leadsvc/internal/benchresults"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

const (
	benchBench         = "BenchmarkCluster"
	clusterClients     = 32
	lagEvery           = 10 // one create in lagEvery is followed to its visibility
	defaultWindow      = 20 * time.Second
	defaultKills       = 10
	takeoverWriterRest = 20 * time.Millisecond // between the creates that give the relay something to publish
)

// BenchmarkCluster measures creates/s from 32 clients spread over the
// replicas and the append-to-visible lag with 1, 2 and 3 replicas on a
// three-node loopback JetStream cluster, beside one replica with its
// embedded NATS; then the relay's takeover time over SIGKILLs of its
// holder (docs/benchmarks.md). LEADSVC_BENCH_CLUSTER_WINDOW (a duration)
// and LEADSVC_BENCH_CLUSTER_KILLS shorten it for a smoke run.
func BenchmarkCluster(b *testing.B) {
	testenv.Integration(b)
	window := defaultWindow
	if d, err := time.ParseDuration(os.Getenv("LEADSVC_BENCH_CLUSTER_WINDOW")); err == nil && d > 0 {
		window = d
	}
	kills := defaultKills
	if n, err := strconv.Atoi(os.Getenv("LEADSVC_BENCH_CLUSTER_KILLS")); err == nil && n > 0 {
		kills = n
	}
	results := testenv.Results(b)
	record := func(r benchresults.Record) {
		r.Bench = benchBench
		testenv.Record(b, results, r)
	}
	for _, cfg := range []struct {
		service             string
		replicas, natsNodes int
	}{{"embedded", 1, 0}, {"cluster", 1, 3}, {"cluster", 2, 3}, {"cluster", 3, 3}} {
		c := newCluster(b, cfg.replicas, cfg.natsNodes)
		_, writer := c.writer()
		c.waitRelayHolder()
		c.waitAtRest()
		rate, lags, stale := measureCreates(b, c, writer, window)
		p50, p99 := testenv.Percentile(lags, 50), testenv.Percentile(lags, 99)
		fmt.Fprintf(os.Stderr, "%s: %s, %d replicas, %d clients, %v: %.0f creates/s; append-to-visible lag p50 %v p99 %v (%d samples, %d stale after 5 s)\n",
			benchBench, cfg.service, cfg.replicas, clusterClients, window, rate, p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond), len(lags), stale)
		rec := benchresults.Record{Service: cfg.service, Replicas: cfg.replicas, Clients: clusterClients}
		for _, m := range []struct {
			metric, unit string
			value        float64
		}{{"creates_per_s", "leads/s", rate}, {"lag_p50_ms", "ms", testenv.Ms(p50)}, {"lag_p99_ms", "ms", testenv.Ms(p99)}} {
			rec.Metric, rec.Unit, rec.Value = m.metric, m.unit, m.value
			record(rec)
		}
		if cfg.replicas == 3 && cfg.natsNodes == 3 {
			b.ReportMetric(rate, "creates/s_3_replicas")
			takeovers := measureTakeovers(b, c, writer, kills)
			ms := make([]float64, len(takeovers))
			for i, d := range takeovers {
				ms[i] = testenv.Ms(d)
			}
			slices.Sort(ms)
			fmt.Fprintf(os.Stderr, "%s: relay takeover over %d SIGKILLs of its holder: min %.0f ms, median %.0f ms, max %.0f ms\n",
				benchBench, len(ms), ms[0], testenv.Median(ms), ms[len(ms)-1])
			for metric, v := range map[string]float64{"takeover_min_ms": ms[0], "takeover_median_ms": testenv.Median(ms), "takeover_max_ms": ms[len(ms)-1]} {
				record(benchresults.Record{Metric: metric, Service: cfg.service, Replicas: cfg.replicas, Value: v, Unit: "ms", Samples: ms})
			}
			b.ReportMetric(testenv.Median(ms), "takeover_median_ms")
		}
		c.stop()
	}
}

// measureCreates runs clusterClients clients for window, their creates
// sent to the replicas in turn, and returns creates/s. One create in
// lagEvery is followed by a read of the lead through the next replica
// with Leadsvc-Min-Position: the time from the create's answer to the
// read's is its append-to-visible lag (stale counts reads that waited the
// full 5 s in vain).
func measureCreates(b *testing.B, c *cluster, token string, window time.Duration) (rate float64, lags []time.Duration, stale int) {
	b.Helper()
	var (
		mu      sync.Mutex
		follows sync.WaitGroup
		turn    atomic.Int64
		stales  atomic.Int64
		failed  atomic.Value
	)
	body := []byte(`{"fields": {"name": "Bench lead"}}`)
	rate = testenv.Hammer(b, clusterClients, window, func(context.Context) error {
		k := int(turn.Add(1))
		r := c.replicas[k%len(c.replicas)]
		a, err := c.call("POST", r.base, "/v1/leads", token, body)
		if err != nil || a.code != http.StatusCreated {
			return fmt.Errorf("create through %s: %d %.300s %v", r.name, a.code, a.body, err)
		}
		if k%lagEvery != 0 {
			return nil
		}
		acked := time.Now()
		var lead struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(a.body, &lead); err != nil {
			return err
		}
		reader := c.replicas[(k+1)%len(c.replicas)]
		follows.Add(1)
		go func() {
			defer follows.Done()
			a, err := c.call("GET", reader.base, "/v1/leads/"+lead.ID, token, nil, api.HeaderMinPosition, a.header.Get(api.HeaderPosition))
			lag := time.Since(acked)
			stale := err == nil && a.header.Get(api.HeaderStale) != ""
			if stale {
				// The wait ran out before the lead showed (a 404): counted,
				// not timed.
				stales.Add(1)
				return
			}
			if err != nil || a.code != http.StatusOK {
				failed.Store(fmt.Errorf("read through %s: %d %.300s %v", reader.name, a.code, a.body, err))
				return
			}
			mu.Lock()
			lags = append(lags, lag)
			mu.Unlock()
		}()
		return nil
	})
	follows.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	slices.Sort(lags)
	return rate, lags, int(stales.Load())
}

// measureTakeovers SIGKILLs the relay's holder kills times while one
// client keeps creating, and returns each time from the kill to the
// stream's next message, published by another replica; the killed one
// is restarted before the next kill.
func measureTakeovers(b *testing.B, c *cluster, token string, kills int) []time.Duration {
	b.Helper()
	js := c.js()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		body := []byte(`{"fields": {"name": "Takeover lead"}}`)
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			case <-time.After(takeoverWriterRest):
			}
			// Errors are expected: a replica is down now and then.
			_, _ = c.call("POST", c.replicas[k%len(c.replicas)].base, "/v1/leads", token, body)
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	var out []time.Duration
	for range kills {
		holder, takeover := c.killRelayHolder(js, nil)
		out = append(out, takeover)
		holder.proc.Restart()
	}
	return out
}
