package webhooks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/views"
	"github.com/leadsvc/leadsvc/internal/eventlog"
	"github.com/leadsvc/leadsvc/internal/testenv"
	"github.com/leadsvc/leadsvc/projections"
	"github.com/leadsvc/leadsvc/projections/webhooks"
	"github.com/leadsvc/leadsvc/queries"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// quiet discards logs; LEADSVC_TEST_LOG=debug shows them.
func quiet() *slog.Logger {
	if os.Getenv("LEADSVC_TEST_LOG") == "debug" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// clock is the dispatcher's schedule clock, moved by the test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is one isolated service: its own schema, NATS server and stream,
// relay, webhook projection and dispatcher, over real Postgres and NATS.
type env struct {
	t        *testing.T
	ctx      context.Context
	pool     *pgxpool.Pool
	store    *eventstore.Store
	c        commands.Commands
	q        *queries.Queries
	clock    *clock
	disp     *webhooks.Dispatcher
	log      eventlog.Log
	opts     envOptions
	account  uuid.UUID
	campaign uuid.UUID
}

type envOptions struct {
	bare              bool // the write side only: no NATS, relay, projection runner or dispatcher
	dispatcherPrivate bool // the dispatcher's AllowPrivate; the commands always allow them
	noDispatcher      bool // the test runs its own (env.dispatcher)
	schedule          []time.Duration
	perEndpoint       int
}

func newEnv(t *testing.T, opts envOptions) *env {
	t.Helper()
	url := testenv.Schema(t)
	ctx := context.Background()
	if err := eventstore.Migrate(ctx, url, nil); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	pool := testenv.Pool(t, url)
	store := eventstore.New(pool, domain.NewRegistry())
	t.Cleanup(store.Close)
	c, err := commands.New(commands.Config{Store: store, SecretKey: testKey, Webhooks: commands.WebhookTargets{AllowPrivate: true}})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, pool: pool, store: store, c: c, q: queries.New(queries.Config{Views: views.Of(store)}),
		clock: &clock{t: time.Now()}}
	acct, err := c.CreateAccount.Handle(ctx, commands.CreateAccount{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	e.account = acct.Account.ID
	camp, err := c.CreateCampaign.Handle(ctx, commands.CreateCampaign{AccountID: e.account, Name: "Solar", Schema: schema()})
	if err != nil {
		t.Fatal(err)
	}
	e.campaign = camp.Campaign.ID
	if opts.bare {
		return e
	}

	srv := testenv.StartNATS(t)
	nc := srv.Connect()
	stream, prefix := testenv.RandomName("WH_"), testenv.RandomName("wh")
	relay, err := eventstore.NewRelay(eventstore.RelayConfig{Stream: stream, SubjectPrefix: prefix, PollInterval: 5 * time.Millisecond},
		store, nc, quiet())
	if err != nil {
		t.Fatal(err)
	}
	e.run(relay.Run)
	log := eventlog.New(store)
	e.log = log
	runner, err := projections.NewRunner(projections.RunnerConfig{Stream: stream, SubjectPrefix: prefix, StatusEvery: time.Hour},
		pool, log, nc, domain.NewRegistry(), quiet(), nil, webhooks.New(log, views.Of(store)))
	if err != nil {
		t.Fatal(err)
	}
	e.run(runner.Run)
	e.opts = opts
	if opts.noDispatcher {
		return e
	}
	e.disp = e.dispatcher()
	e.run(e.disp.Run)
	return e
}

// dispatcher returns a dispatcher as newEnv runs it, not running.
func (e *env) dispatcher() *webhooks.Dispatcher {
	e.t.Helper()
	d, err := webhooks.NewDispatcher(webhooks.Config{
		AllowPrivate: e.opts.dispatcherPrivate,
		Clock:        e.clock.now,
		Schedule:     e.opts.schedule,
		Jitter:       -1,
		PerEndpoint:  e.opts.perEndpoint,
		PollInterval: 20 * time.Millisecond,
		OpenSecret:   e.c.Keys.OpenWebhookSecret,
		Disable: func(ctx context.Context, account, id uuid.UUID, reason, detail string) (bool, error) {
			res, err := e.c.DisableWebhook.Handle(ctx, commands.DisableWebhook{AccountID: account, WebhookID: id, Reason: reason, Detail: detail})
			return res.Position > 0, err
		},
		Events: e.log,
	}, e.pool, quiet(), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// run runs fn until the test ends.
func (e *env) run(fn func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := fn(ctx); err != nil {
			e.t.Errorf("run: %v", err)
		}
	}()
	e.t.Cleanup(func() { cancel(); <-done })
}

// tick moves the schedule clock and wakes the dispatcher.
func (e *env) tick(d time.Duration) {
	e.clock.advance(d)
	e.disp.Kick()
}

func schema() domain.Schema {
	return domain.Schema{
		Fields: []domain.Field{
			{Key: "name", Label: "Name", Type: domain.TypeText, Required: true},
			{Key: "source", Label: "Source", Type: domain.TypeSelect, Select: "source"},
			{Key: "budget", Label: "Budget", Type: domain.TypeNumber},
		},
		Selects: []domain.Select{{Key: "source", Label: "Source", Options: []domain.Option{{Value: "abc", Label: "Partner ABC"},
			{Value: "web", Label: "Website"}}}},
		Statuses: []domain.Status{{Slug: "new", Label: "New"}, {Slug: "won", Label: "Won"}},
	}
}

func (e *env) subscribe(url string, filter *uuid.UUID, types ...string) commands.WebhookSecretResult {
	e.t.Helper()
	res, err := e.c.CreateWebhook.Handle(e.ctx, commands.CreateWebhook{AccountID: e.account, CampaignID: e.campaign, FilterID: filter,
		URL: url, EventTypes: types})
	if err != nil {
		e.t.Fatalf("CreateWebhook: %v", err)
	}
	return res
}

func (e *env) filter(conds ...domain.Condition) uuid.UUID {
	e.t.Helper()
	res, err := e.c.CreateFilter.Handle(e.ctx, commands.CreateFilter{AccountID: e.account, CampaignID: e.campaign, Name: "f", Conditions: conds})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Filter.ID
}

func (e *env) lead(fields map[string]any) uuid.UUID {
	e.t.Helper()
	res, err := e.c.CreateLead.Handle(e.ctx, commands.CreateLead{AccountID: e.account, CampaignID: e.campaign, Fields: fields})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Lead.ID
}

func (e *env) update(id uuid.UUID, fields map[string]any) {
	e.t.Helper()
	if _, err := e.c.UpdateLead.Handle(e.ctx, commands.UpdateLead{AccountID: e.account, LeadID: id, Fields: fields}); err != nil {
		e.t.Fatal(err)
	}
}

// attempts returns a subscription's delivery log, oldest first.
func (e *env) attempts(hook uuid.UUID) []commands.WebhookDelivery {
	e.t.Helper()
	ds, err := e.q.WebhookDeliveries(e.ctx, e.account, hook, queries.DeliveryQuery{Limit: 10000})
	if err != nil {
		e.t.Fatal(err)
	}
	for i, j := 0, len(ds)-1; i < j; i, j = i+1, j-1 {
		ds[i], ds[j] = ds[j], ds[i]
	}
	return ds
}

// waitDelivered polls until n attempts of the subscription are recorded
// as successes: the receiver answers before the dispatcher records.
func (e *env) waitDelivered(hook uuid.UUID, n int) {
	e.t.Helper()
	testenv.CheckFor(e.t, 10*time.Second, func() error {
		ok := 0
		for _, a := range e.attempts(hook) {
			if a.Success {
				ok++
			}
		}
		if ok < n {
			return fmt.Errorf("%d successes recorded, want %d", ok, n)
		}
		return nil
	})
}

// cloudEvent is the part of a body the tests read.
type cloudEvent struct {
	ID            string          `json:"id"`
	Type          string          `json:"type"`
	Subject       string          `json:"subject"`
	StreamVersion int64           `json:"streamversion"`
	Data          json.RawMessage `json:"data"`
}

// hit is one request a receiver got.
type hit struct {
	header http.Header
	body   []byte
	event  cloudEvent
	status int // what the receiver answered
}

// receiver is an HTTP endpoint that records what it gets. answer decides
// the status of each request (default 204); it may block.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	hits   []hit
	answer func(h hit) int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		h := hit{header: req.Header.Clone(), body: body, status: http.StatusNoContent}
		if err := json.Unmarshal(body, &h.event); err != nil {
			t.Errorf("body is not JSON: %q", body)
		}
		r.mu.Lock()
		answer := r.answer
		r.mu.Unlock()
		if answer != nil {
			h.status = answer(h)
		}
		r.mu.Lock()
		r.hits = append(r.hits, h)
		r.mu.Unlock()
		w.WriteHeader(h.status)
		fmt.Fprintf(w, "status %d", h.status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) setAnswer(fn func(h hit) int) {
	r.mu.Lock()
	r.answer = fn
	r.mu.Unlock()
}

// got returns the requests answered 2xx, in the order they came.
func (r *receiver) got() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []hit
	for _, h := range r.hits {
		if h.status >= 200 && h.status < 300 {
			out = append(out, h)
		}
	}
	return out
}

func (r *receiver) all() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hit(nil), r.hits...)
}

// waitFor polls until the receiver has answered n requests 2xx.
func (r *receiver) waitFor(n int, d time.Duration) []hit {
	r.t.Helper()
	testenv.CheckFor(r.t, d, func() error {
		if got := len(r.got()); got < n {
			return fmt.Errorf("%d deliveries, want %d", got, n)
		}
		return nil
	})
	return r.got()
}

// verifySignature is Standard Webhooks' check written from the
// specification, independently of the dispatcher: the HMAC-SHA256 of
// "id.timestamp.body" with the base64-decoded part of the whsec_ secret,
// compared in constant time with every v1 signature of the header, and a
// timestamp within five minutes.
func verifySignature(secret string, h http.Header, body []byte) error {
	id, ts, header := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || header == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp %q", ts)
	}
	if d := time.Since(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("timestamp %s is %v away", ts, d)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, part := range strings.Fields(header) {
		version, sig, _ := strings.Cut(part, ",")
		got, err := base64.StdEncoding.DecodeString(sig)
		if version == "v1" && err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no signature matches")
}
