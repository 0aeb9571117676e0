package webhooks_test

import (
	"bytes"
	"context"
	"encoding/json"

	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/views"
	"github.com/leadsvc/leadsvc/internal/eventlog"
	"github.com/leadsvc/leadsvc/internal/testenv"
	"github.com/leadsvc/leadsvc/projections"
	"github.com/leadsvc/leadsvc/projections/webhooks"
)

const (
	benchSubscribers = 20 // half of them filtered (a filter every lead matches)
	benchRate        = 50 // lead creates per second
	benchWindow      = 6 * time.Second
)

// BenchmarkDeliveryLatency: the whole path as `leadsvc serve` runs it
// (command with group commit, relay at its default poll, JetStream, the
// delivery projection, the dispatcher) at a steady create rate, each
// lead delivered to 20 local receivers; the latency from the create
// being acknowledged to each receiver answering 2xx. Beside it, the raw
// figure of the same receivers: a bare HTTP POST round trip of the same
// body over a kept-alive connection.
func BenchmarkDeliveryLatency(b *testing.B) {
	testenv.Integration(b)
	ctx := context.Background()
	url := testenv.Schema(b)
	if err := eventstore.Migrate(ctx, url, nil); err != nil {
		b.Fatal(err)
	}
	pool := testenv.PoolOfSize(b, url, 16)
	store := eventstore.New(pool, domain.NewRegistry(), eventstore.WithGroupCommit(64, 0))
	b.Cleanup(store.Close)
	c, err := commands.New(commands.Config{Store: store, SecretKey: testKey, Webhooks: commands.WebhookTargets{AllowPrivate: true}})
	if err != nil {
		b.Fatal(err)
	}
	nc := testenv.ConnectNATS(b)
	stream, prefix := testenv.RandomName("BENCH_"), testenv.RandomName("bench")
	b.Cleanup(func() {
		if js, err := nc.JetStream(); err == nil {
			_ = js.DeleteStream(stream)
		}
	})
	acct, err := c.CreateAccount.Handle(ctx, commands.CreateAccount{Name: "Bench"})
	if err != nil {
		b.Fatal(err)
	}
	account := acct.Account.ID
	camp, err := c.CreateCampaign.Handle(ctx, commands.CreateCampaign{AccountID: account, Name: "Bench", Schema: schema()})
	if err != nil {
		b.Fatal(err)
	}
	campaign := camp.Campaign.ID
	filter, err := c.CreateFilter.Handle(ctx, commands.CreateFilter{AccountID: account, CampaignID: campaign, Name: "abc",
		Conditions: []domain.Condition{{Field: "source", Op: domain.OpEq, Value: "abc"}}})
	if err != nil {
		b.Fatal(err)
	}

	var mu sync.Mutex
	received := make([]map[uuid.UUID]time.Time, benchSubscribers) // per receiver: lead → first 2xx
	var servers []*httptest.Server
	for i := range benchSubscribers {
		received[i] = map[uuid.UUID]time.Time{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var ce struct {
				Subject string `json:"subject"`
			}
			body, _ := io.ReadAll(r.Body)
			if json.Unmarshal(body, &ce) == nil {
				if id, err := uuid.Parse(ce.Subject); err == nil {
					mu.Lock()
					if _, ok := received[i][id]; !ok {
						received[i][id] = time.Now()
					}
					mu.Unlock()
				}
			}
			w.WriteHeader(http.StatusNoContent)
		}))
		b.Cleanup(srv.Close)
		servers = append(servers, srv)
		var f *uuid.UUID
		if i%2 == 1 {
			f = &filter.Filter.ID
		}
		if _, err := c.CreateWebhook.Handle(ctx, commands.CreateWebhook{AccountID: account, CampaignID: campaign, FilterID: f,
			URL: srv.URL}); err != nil {
			b.Fatal(err)
		}
	}

	relay, err := eventstore.NewRelay(eventstore.RelayConfig{Stream: stream, SubjectPrefix: prefix}, store, nc, quiet())
	if err != nil {
		b.Fatal(err)
	}
	log := eventlog.New(store)
	runner, err := projections.NewRunner(projections.RunnerConfig{Stream: stream, SubjectPrefix: prefix,
		ConsumerTag: testenv.RandomName("bench")}, pool, log, nc, domain.NewRegistry(), quiet(), nil, webhooks.New(log, views.Of(store)))
	if err != nil {
		b.Fatal(err)
	}
	disp, err := webhooks.NewDispatcher(webhooks.Config{AllowPrivate: true, OpenSecret: c.Keys.OpenWebhookSecret,
		Disable: func(context.Context, uuid.UUID, uuid.UUID, string, string) (bool, error) { return false, nil }, Events: log},
		pool, quiet(), nil)
	if err != nil {
		b.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{relay.Run, runner.Run, disp.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = run(rctx) }()
	}
	defer func() { stop(); wg.Wait() }()

	// Warm up: one lead through every receiver before measuring (the
	// relay creates the stream on its way).
	warm, err := c.CreateLead.Handle(ctx, commands.CreateLead{AccountID: account, CampaignID: campaign, Fields: map[string]any{"name": "w", "source": "abc"}})
	if err != nil {
		b.Fatal(err)
	}
	waitAll(b, &mu, received, []uuid.UUID{warm.Lead.ID}, time.Minute)

	// A plain JetStream subscriber times when each create reaches NATS,
	// to split the latency between the relay and the webhook path.
	js, err := nc.JetStream()
	if err != nil {
		b.Fatal(err)
	}
	relayed := map[uuid.UUID]time.Time{}
	tap, err := js.Subscribe(prefix+".*.*.lead.created.*", func(m *nats.Msg) {
		var ce struct {
			Subject string `json:"subject"`
		}
		if json.Unmarshal(m.Data, &ce) == nil {
			if id, err := uuid.Parse(ce.Subject); err == nil {
				mu.Lock()
				relayed[id] = time.Now()
				mu.Unlock()
			}
		}
	}, nats.DeliverNew(), nats.AckNone())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = tap.Unsubscribe() }()

	b.ResetTimer()
	acked := map[uuid.UUID]time.Time{}
	var writers sync.WaitGroup
	tick := time.NewTicker(time.Second / benchRate)
	end := time.Now().Add(benchWindow)
	for now := range tick.C {
		if now.After(end) {
			break
		}
		writers.Add(1)
		go func() {
			defer writers.Done()
			res, err := c.CreateLead.Handle(ctx, commands.CreateLead{AccountID: account, CampaignID: campaign,
				Fields: map[string]any{"name": "x", "source": "abc", "budget": 10}})
			at := time.Now()
			if err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			acked[res.Lead.ID] = at
			mu.Unlock()
		}()
	}
	tick.Stop()
	writers.Wait()
	ids := make([]uuid.UUID, 0, len(acked))
	for id := range acked {
		ids = append(ids, id)
	}
	waitAll(b, &mu, received, ids, 2*time.Minute)
	b.StopTimer()

	var lat, relayLat []time.Duration
	mu.Lock()
	for _, id := range ids {
		for i := range received {
			lat = append(lat, received[i][id].Sub(acked[id]))
			if r, ok := relayed[id]; ok {
				relayLat = append(relayLat, received[i][id].Sub(r))
			}
		}
	}
	mu.Unlock()
	p50, p99 := percentiles(lat)
	h50, h99 := percentiles(relayLat)
	body, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": uuid.NewString(), "type": "lead.created",
		"data": map[string]any{"fields": map[string]any{"name": "x", "source": "abc", "budget": 10}}})
	r50, r99 := rawPostLatency(b, servers, body, 2000)
	b.ReportMetric(benchRate, "creates/s")
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(r50.Microseconds())/1000, "raw_post_p50_ms")
	b.ReportMetric(float64(r99.Microseconds())/1000, "raw_post_p99_ms")
	b.Logf("commit to receiver 2xx, %d creates/s for %v to %d subscribers (%d deliveries): p50 %v, p99 %v; "+
		"raw HTTP POST round trip to the same receivers p50 %v, p99 %v (delivery = %.0f x raw at p50, %.0f x at p99)",
		benchRate, benchWindow, benchSubscribers, len(lat), p50.Round(100*time.Microsecond), p99.Round(100*time.Microsecond),
		r50.Round(time.Microsecond), r99.Round(time.Microsecond), float64(p50)/float64(r50), float64(p99)/float64(r99))
	b.Logf("of which JetStream delivery to receiver 2xx (projection, dispatcher, HTTP): p50 %v, p99 %v",
		h50.Round(100*time.Microsecond), h99.Round(100*time.Microsecond))
}

// waitAll waits until every receiver has every lead.
func waitAll(b *testing.B, mu *sync.Mutex, received []map[uuid.UUID]time.Time, ids []uuid.UUID, d time.Duration) {
	b.Helper()
	deadline := time.Now().Add(d)
	for {
		missing := 0
		mu.Lock()
		for _, got := range received {
			for _, id := range ids {
				if _, ok := got[id]; !ok {
					missing++
				}
			}
		}
		mu.Unlock()
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d deliveries missing after %v", missing, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawPostLatency times n POSTs of body, round robin over the receivers,
// one at a time over kept-alive connections.
func rawPostLatency(b *testing.B, servers []*httptest.Server, body []byte, n int) (p50, p99 time.Duration) {
	b.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	var lat []time.Duration
	for i := range n {
		start := time.Now()
		resp, err := client.Post(servers[i%len(servers)].URL, "application/cloudevents+json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(start))
	}
	return percentiles(lat)
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	slices.Sort(d)
	return d[len(d)/2], d[len(d)*99/100]
}
