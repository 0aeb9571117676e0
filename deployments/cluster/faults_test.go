package cluster_test

import (
	"context"
	crand "crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// TestClusterUnderFaults is `make test-cluster`: three leadsvc replicas
// on one database and a three-node JetStream cluster, written to through
// every replica with Idempotency-Keys and retries while the relay's
// holder is SIGKILLed (the takeover time is printed), the node leading
// the stream is SIGKILLed and restarted, and another replica is
// SIGKILLed and restarted. Then: every acknowledged create is one lead,
// the stream holds the log exactly once and in commit order, `leadsvc
// verify` is clean, both webhook receivers got every event, a repeat
// only from a dispatcher killed mid-delivery, and a client address's
// rate limit holds across the replicas and a restart.
func TestClusterUnderFaults(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, 3)
	js := c.js()
	campaign, writer := c.writer()
	hooks := []*receiver{newReceiver(t), newReceiver(t)}
	for _, h := range hooks {
		c.mustCall("POST", "/v1/webhooks", c.token, map[string]any{"url": h.srv.URL, "campaign_id": campaign}, 201)
	}
	c.waitRelayHolder()

	w := startWriters(c, writer, 4)
	var kills []time.Time // of leadsvc replicas: where a webhook may be repeated
	w.waitAcked(t, 20)

	// The relay's holder dies; another replica takes the lock and
	// publishes the next event.
	holder, takeover := c.killRelayHolder(js, &kills)
	next := c.waitRelayHolder()
	fmt.Fprintf(os.Stderr, "%s: relay takeover %v (%s SIGKILLed, %s published the next event)\n", t.Name(), takeover.Round(time.Millisecond), holder.name, next.name)
	t.Logf("relay takeover %v", takeover)
	if takeover > 5*time.Second {
		t.Errorf("relay takeover took %v, want < 5s", takeover)
	}
	holder.proc.Restart()

	// The node leading the stream dies, the relay goes on with the other
	// two, and the node comes back with its storage.
	w.waitAcked(t, 20)
	info, err := js.StreamInfo(c.stream)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 {
		t.Errorf("stream replicas = %d, want 3", info.Config.Replicas)
	}
	node := c.nats[slices.IndexFunc(c.nats, func(p *testenv.Process) bool { return p.Name == "nats-"+info.Cluster.Leader })]
	node.Kill()
	seq := info.State.LastSeq
	w.waitAcked(t, 20)
	testenv.CheckFor(t, time.Minute, func() error {
		if last, err := streamLastSeq(js, c.stream); err != nil || last <= seq {
			return fmt.Errorf("stream at %d with %s down, was %d: %v", last, node.Name, seq, err)
		}
		return nil
	})
	node.Restart()

	// A replica that does not hold the relay dies and comes back.
	w.waitAcked(t, 20)
	victim := c.replicas[(slices.Index(c.replicas, c.waitRelayHolder())+1)%len(c.replicas)]
	kills = append(kills, time.Now())
	victim.proc.Kill()
	w.waitAcked(t, 20)
	victim.proc.Restart()
	w.waitAcked(t, 20)
	acked := w.stop(t)
	fmt.Fprintf(os.Stderr, "%s: %d creates acknowledged, %d retried requests\n", t.Name(), len(acked), w.retries)

	// Every acknowledged create is exactly one lead, and nothing else is.
	var created, createdEvents []string // lead ids, event ids
	rows, err := c.db.Query(context.Background(), `SELECT stream_id, event_id::text FROM events WHERE event_type = 'lead.created'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var stream, event string
		if err := rows.Scan(&stream, &event); err != nil {
			t.Fatal(err)
		}
		created, createdEvents = append(created, strings.TrimPrefix(stream, "lead-")), append(createdEvents, event)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := make([]string, 0, len(acked))
	for _, id := range acked {
		want = append(want, id)
	}
	slices.Sort(want)
	slices.Sort(created)
	if !slices.Equal(created, want) {
		t.Errorf("lead.created events in the log: %d, acknowledged creates: %d; they differ", len(created), len(want))
	}
	testenv.CheckFor(t, 2*time.Minute, func() error {
		got, err := c.listLeads(writer)
		if err != nil {
			return err
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			return fmt.Errorf("the lead list has %d leads, %d creates were acknowledged", len(got), len(want))
		}
		return nil
	})

	// The stream holds the log, each event once, in commit order.
	var logged []string
	testenv.CheckFor(t, 2*time.Minute, func() error {
		logged = c.loggedEventIDs()
		last, err := streamLastSeq(js, c.stream)
		if err != nil || last < uint64(len(logged)) {
			return fmt.Errorf("stream at %d of %d logged events: %v", last, len(logged), err)
		}
		return nil
	})
	if got := streamEventIDs(t, js, c.stream); !slices.Equal(got, logged) {
		t.Errorf("stream (%d messages) differs from the log in commit order (%d events); first difference at %d",
			len(got), len(logged), firstDifference(got, logged))
	}

	if out, stderr, err := c.runCommand("verify"); err != nil {
		t.Errorf("leadsvc verify: %v\n%s%s", err, out, stderr)
	}

	// Every lead event reaches both receivers; a repeat only from a
	// replica killed while it delivered.
	for i, h := range hooks {
		testenv.CheckFor(t, 3*time.Minute, func() error {
			if missing := h.missing(createdEvents); missing > 0 {
				return fmt.Errorf("receiver %d: %d of %d events not delivered", i+1, missing, len(createdEvents))
			}
			return nil
		})
		repeats, err := h.check(createdEvents, kills)
		if err != nil {
			t.Errorf("receiver %d: %v", i+1, err)
		}
		fmt.Fprintf(os.Stderr, "%s: receiver %d: %d events, %d delivered twice or more\n", t.Name(), i+1, len(createdEvents), repeats)
	}

	checkSharedAddressLimit(t, c)
}

// addressLimitQuota is each client address's budget a minute of failed
// authentications on every replica together.
const addressLimitQuota = 20

// checkSharedAddressLimit spends one address's budget of failed
// authentications through all three replicas in turn: together they
// grant it about once, not once each, and a replica restarted afterwards
// still refuses.
func checkSharedAddressLimit(t *testing.T, c *cluster) {
	t.Helper()
	var secret [32]byte
	_, _ = crand.Read(secret[:])
	unknown := domain.FormatTokenSecret(secret)
	codes := map[int]int{}
	for i := range 3 * addressLimitQuota {
		r := c.replicas[i%len(c.replicas)]
		a, err := c.call("GET", r.base, "/v1/leads", unknown, nil)
		if err != nil {
			t.Fatal(err)
		}
		codes[a.code]++
		time.Sleep(50 * time.Millisecond) // the replicas share spending every 500 ms
	}
	// Each replica alone would answer 401 to its first 20: 60 in all.
	// Shared, the first 20 and what was spent elsewhere since a
	// replica's last sync pass.
	if codes[401] > addressLimitQuota+addressLimitQuota/2 || codes[429] == 0 || codes[401]+codes[429] != 3*addressLimitQuota {
		t.Errorf("%d failed authentications through 3 replicas with a budget of %d: answers %v", 3*addressLimitQuota, addressLimitQuota, codes)
	}
	fmt.Fprintf(os.Stderr, "%s: %d failed authentications through 3 replicas, a shared budget of %d: %d answered 401, %d 429\n",
		t.Name(), 3*addressLimitQuota, addressLimitQuota, codes[401], codes[429])
	// A restart does not give the budget back (a unit refills every 3 s).
	r := c.replicas[0]
	r.proc.Kill()
	r.proc.Restart()
	refused := 0
	for range 5 {
		a, err := c.call("GET", r.base, "/v1/leads", unknown, nil)
		if err != nil {
			t.Fatal(err)
		}
		if a.code == 429 {
			refused++
		}
	}
	if refused < 4 {
		t.Errorf("a replica restarted after the budget was spent refused %d of 5 failed authentications, want at least 4", refused)
	}
}

// writes are creates sent by several clients through every replica, each
// retried with its Idempotency-Key until acknowledged.
type writes struct {
	c       *cluster
	token   string
	stopped chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	acked   map[string]string // Idempotency-Key → lead id
	errs    []error
	retries int
}

func startWriters(c *cluster, token string, clients int) *writes {
	w := &writes{c: c, token: token, stopped: make(chan struct{}), acked: map[string]string{}}
	for i := range clients {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for n := 0; ; n++ {
				select {
				case <-w.stopped:
					return
				default:
				}
				if err := w.create(i, fmt.Sprintf("client%d-%d", i, n)); err != nil {
					w.mu.Lock()
					w.errs = append(w.errs, err)
					w.mu.Unlock()
					return
				}
			}
		}()
	}
	return w
}

// create sends one create, retrying through the next replica after a
// connection error, a 5xx or a 409 (the key is still held by a request
// under way, maybe on a replica that died), until a 201.
func (w *writes) create(client int, key string) error {
	body := fmt.Appendf(nil, `{"fields": {"name": %q}}`, key)
	deadline := time.Now().Add(3 * time.Minute)
	for attempt := 0; ; attempt++ {
		r := w.c.replicas[(client+attempt)%len(w.c.replicas)]
		a, err := w.c.call("POST", r.base, "/v1/leads", w.token, body, "Idempotency-Key", key)
		if err == nil && a.code == http.StatusCreated {
			var lead struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(a.body, &lead); err != nil || lead.ID == "" {
				return fmt.Errorf("create %s: answer without an id: %.300s", key, a.body)
			}
			w.mu.Lock()
			w.acked[key] = lead.ID
			w.mu.Unlock()
			return nil
		}
		if err == nil && a.code < 500 && a.code != http.StatusConflict {
			return fmt.Errorf("create %s through %s: %d %.300s", key, r.name, a.code, a.body)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("create %s: not acknowledged after 3 minutes of retries; last: %d %.300s %v", key, a.code, a.body, err)
		}
		w.mu.Lock()
		w.retries++
		w.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
}

// waitAcked waits until n more creates are acknowledged.
func (w *writes) waitAcked(t *testing.T, n int) {
	t.Helper()
	w.mu.Lock()
	target := len(w.acked) + n
	w.mu.Unlock()
	testenv.CheckFor(t, 2*time.Minute, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.errs) > 0 {
			t.Fatalf("writers: %v", w.errs)
		}
		if len(w.acked) < target {
			return fmt.Errorf("%d creates acknowledged, waiting for %d", len(w.acked), target)
		}
		return nil
	})
}

// stop lets every create under way finish and returns the acknowledged
// ones.
func (w *writes) stop(t *testing.T) map[string]string {
	t.Helper()
	close(w.stopped)
	w.wg.Wait()
	if len(w.errs) > 0 {
		t.Fatalf("writers: %v", w.errs)
	}
	return w.acked
}

// listLeads is every lead id the token's list shows, following cursors.
func (c *cluster) listLeads(token string) ([]string, error) {
	var ids []string
	path := "/v1/leads?limit=1000"
	for {
		a, err := c.call("GET", c.replicas[0].base, path, token, nil)
		if err != nil || a.code != http.StatusOK {
			return nil, fmt.Errorf("list: %d %.300s %v", a.code, a.body, err)
		}
		var page struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := json.Unmarshal(a.body, &page); err != nil {
			return nil, err
		}
		for _, l := range page.Data {
			ids = append(ids, l.ID)
		}
		if page.NextCursor == nil {
			return ids, nil
		}
		path = "/v1/leads?limit=1000&cursor=" + url.QueryEscape(*page.NextCursor)
	}
}

// loggedEventIDs are the ids of every event in the log, in commit order
// (the relay's).
func (c *cluster) loggedEventIDs() []string {
	c.t.Helper()
	rows, err := c.db.Query(context.Background(), `SELECT event_id::text FROM events ORDER BY tx_id, position`)
	if err != nil {
		c.t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			c.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		c.t.Fatal(err)
	}
	return ids
}

// streamEventIDs are the CloudEvents ids of every message of the stream,
// in stream order; each must equal its Nats-Msg-Id.
func streamEventIDs(t *testing.T, js nats.JetStreamContext, stream string) []string {
	t.Helper()
	info, err := js.StreamInfo(stream)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := js.SubscribeSync(info.Config.Subjects[0], nats.OrderedConsumer(), nats.BindStream(stream))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	var ids []string
	for uint64(len(ids)) < info.State.Msgs {
		m, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("reading the stream after %d of %d messages: %v", len(ids), info.State.Msgs, err)
		}
		var ce struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(m.Data, &ce); err != nil {
			t.Fatal(err)
		}
		if got := m.Header.Get(nats.MsgIdHdr); got != ce.ID {
			t.Errorf("message with event id %s has Nats-Msg-Id %q", ce.ID, got)
		}
		ids = append(ids, ce.ID)
	}
	return ids
}

func firstDifference(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// receiver is a webhook endpoint on loopback that records every delivery.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string][]time.Time // webhook-id → when each delivery came
	bad []string
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{got: map[string][]time.Time{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		at := time.Now()
		body, err := io.ReadAll(req.Body)
		var ce struct {
			ID string `json:"id"`
		}
		if err == nil {
			err = json.Unmarshal(body, &ce)
		}
		id := req.Header.Get("webhook-id")
		r.mu.Lock()
		if err != nil || id == "" || id != ce.ID {
			r.bad = append(r.bad, fmt.Sprintf("webhook-id %q with event %q (%v)", id, ce.ID, err))
		}
		r.got[id] = append(r.got[id], at)
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// missing counts the events of ids not delivered yet.
func (r *receiver) missing(ids []string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, id := range ids {
		if len(r.got[id]) == 0 {
			n++
		}
	}
	return n
}

// check reports deliveries of events not in ids, deliveries whose
// webhook-id is not their event's id, and repeats whose first delivery
// was not in the seconds before a replica was killed (a dispatcher that
// dies after sending and before recording sends again once its lease
// ends). It returns how many events came more than once.
func (r *receiver) check(ids []string, kills []time.Time) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var problems []string
	problems = append(problems, r.bad...)
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	repeats := 0
	for id, at := range r.got {
		if !want[id] {
			problems = append(problems, "delivered an event that is no lead event of the campaign: "+id)
		}
		if len(at) < 2 {
			continue
		}
		repeats++
		if !slices.ContainsFunc(kills, func(k time.Time) bool {
			return !at[0].Before(k.Add(-10*time.Second)) && at[0].Before(k.Add(time.Second))
		}) {
			problems = append(problems, fmt.Sprintf("event %s delivered %d times, first at %s, not around a replica's crash",
				id, len(at), at[0].Format(time.RFC3339Nano)))
		}
	}
	if len(problems) > 0 {
		return repeats, fmt.Errorf("%d problems: %s", len(problems), strings.Join(problems[:min(len(problems), 10)], "; "))
	}
	return repeats, nil
}
