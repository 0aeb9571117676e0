package webhooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/internal/testenv"
	"github.com/leadsvc/leadsvc/projections/webhooks"
)

func TestSignaturesVerifyWithTheStandardCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{dispatcherPrivate: true})
	rcv := newReceiver(t)
	sub := e.subscribe(rcv.srv.URL, nil)
	if !strings.HasPrefix(sub.Secret, "whsec_") {
		t.Fatalf("secret %q is not a whsec_ secret", sub.Secret)
	}
	lead := e.lead(map[string]any{"name": "Ada", "source": "web"})
	h := rcv.waitFor(1, 10*time.Second)[0]
	if err := verifySignature(sub.Secret, h.header, h.body); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if h.event.Type != "lead.created" || h.event.Subject != lead.String() || h.event.StreamVersion != 1 {
		t.Fatalf("event %+v", h.event)
	}
	if got := h.header.Get("webhook-id"); got != h.event.ID {
		t.Fatalf("webhook-id %q, want the event id %q", got, h.event.ID)
	}
	if ct := h.header.Get("Content-Type"); ct != "application/cloudevents+json" {
		t.Fatalf("Content-Type %q", ct)
	}
	if err := verifySignature(sub.Secret, h.header, append(h.body, ' ')); err == nil {
		t.Fatal("a changed body verified")
	}

	// During a rotation's grace both secrets sign: a receiver holding
	// either verifies.
	rot, err := e.c.RotateWebhookSecret.Handle(e.ctx, commands.RotateWebhookSecret{AccountID: e.account, WebhookID: sub.Webhook.ID,
		Grace: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	e.update(lead, map[string]any{"budget": 10})
	h = rcv.waitFor(2, 10*time.Second)[1]
	for _, s := range []string{sub.Secret, rot.Secret} {
		if err := verifySignature(s, h.header, h.body); err != nil {
			t.Errorf("during the grace, %s…: %v", s[:10], err)
		}
	}
	if n := len(strings.Fields(h.header.Get("webhook-signature"))); n != 2 {
		t.Errorf("%d signatures during the grace, want 2", n)
	}
	// After the grace, only the new one.
	e.clock.advance(25 * time.Hour)
	e.update(lead, map[string]any{"budget": 11})
	h = rcv.waitFor(3, 10*time.Second)[2]
	if err := verifySignature(rot.Secret, h.header, h.body); err != nil {
		t.Errorf("new secret after the grace: %v", err)
	}
	if err := verifySignature(sub.Secret, h.header, h.body); err == nil {
		t.Error("the old secret still verifies after the grace")
	}
}

func TestBodiesAreTheNATSEnvelope(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{dispatcherPrivate: true})
	rcv := newReceiver(t)
	e.subscribe(rcv.srv.URL, nil)
	lead := e.lead(map[string]any{"name": "Ada", "budget": 12.5})
	e.update(lead, map[string]any{"name": "Ada L.", "source": "abc"})
	hits := rcv.waitFor(2, 10*time.Second)
	recs, err := e.store.ReadStream(e.ctx, domain.LeadStream(lead), eventstore.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		want, err := json.Marshal(eventstore.ToCloudEvent(r))
		if err != nil {
			t.Fatal(err)
		}
		if string(hits[i].body) != string(want) {
			t.Errorf("body of v%d\n got  %s\n want %s", r.StreamVersion, hits[i].body, want)
		}
	}
}

func TestReceiverDownThenBackGetsEverythingInOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{dispatcherPrivate: true})
	rcv := newReceiver(t)
	var mu sync.Mutex
	down := true
	rcv.setAnswer(func(hit) int {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	sub := e.subscribe(rcv.srv.URL, nil)
	const leads, updates = 4, 5
	var ids []uuid.UUID
	for i := range leads {
		ids = append(ids, e.lead(map[string]any{"name": fmt.Sprint("L", i)}))
	}
	for u := range updates {
		for _, id := range ids {
			e.update(id, map[string]any{"budget": u})
		}
	}
	// Down for three attempts of each lead's first message: 0 s, 5 s, 5 min.
	testenv.CheckFor(t, 10*time.Second, func() error {
		if n := len(rcv.all()); n < leads {
			return fmt.Errorf("%d attempts", n)
		}
		return nil
	})
	for _, step := range []time.Duration{6 * time.Second, 6 * time.Minute} {
		e.tick(step)
		testenv.CheckFor(t, 10*time.Second, func() error {
			if n := len(rcv.all()); n < leads*2 {
				return fmt.Errorf("%d attempts", n)
			}
			return nil
		})
	}
	for _, h := range rcv.all() {
		if h.event.StreamVersion != 1 {
			t.Fatalf("v%d of a lead was sent while its v1 was failing", h.event.StreamVersion)
		}
	}
	mu.Lock()
	down = false
	mu.Unlock()
	e.tick(31 * time.Minute)
	got := rcv.waitFor(leads*(updates+1), 20*time.Second)
	seen := map[string]bool{}
	next := map[string]int64{}
	for _, h := range got {
		if seen[h.event.ID] {
			t.Errorf("event %s delivered twice after a success", h.event.ID)
		}
		seen[h.event.ID] = true
		if want := next[h.event.Subject] + 1; h.event.StreamVersion != want {
			t.Errorf("lead %s: got v%d, want v%d next", h.event.Subject, h.event.StreamVersion, want)
		}
		next[h.event.Subject] = h.event.StreamVersion
	}
	// Every repeat of an id is a retry after a failed attempt.
	for id, n := range countIDs(rcv.all()) {
		if failed := countIDs(failures(rcv.all()))[id]; n != failed+1 {
			t.Errorf("event %s sent %d times with %d failures", id, n, failed)
		}
	}
	// The receiver answers before the dispatcher records.
	var log []commands.WebhookDelivery
	testenv.CheckFor(t, 10*time.Second, func() error {
		if log = e.attempts(sub.Webhook.ID); len(log) != len(rcv.all()) {
			return fmt.Errorf("delivery log has %d attempts, the receiver saw %d", len(log), len(rcv.all()))
		}
		return nil
	})
	first := log[0]
	if first.Success || first.StatusCode == nil || *first.StatusCode != 503 || first.Attempt != 1 || first.ResponseExcerpt != "status 503" {
		t.Fatalf("first attempt logged as %+v", first)
	}
}

func countIDs(hits []hit) map[string]int {
	out := map[string]int{}
	for _, h := range hits {
		out[h.event.ID]++
	}
	return out
}

func failures(hits []hit) []hit {
	var out []hit
	for _, h := range hits {
		if h.status >= 300 {
			out = append(out, h)
		}
	}
	return out
}

func TestSlowReceiverDoesNotHoldUpAFastOne(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{dispatcherPrivate: true, perEndpoint: 2})
	slow, fast := newReceiver(t), newReceiver(t)
	release := make(chan struct{})
	slow.setAnswer(func(hit) int { <-release; return http.StatusOK })
	t.Cleanup(func() { close(release) })
	e.subscribe(slow.srv.URL, nil)
	e.subscribe(fast.srv.URL, nil)
	const n = 20
	start := time.Now()
	for i := range n {
		e.lead(map[string]any{"name": fmt.Sprint("L", i)})
	}
	fast.waitFor(n, 10*time.Second)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the fast receiver took %v", d)
	}
	if got := len(slow.all()); got != 0 {
		t.Errorf("the blocked receiver answered %d", got)
	}
}

func TestFilteredSubscriptionSeesOnlyItsScope(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{dispatcherPrivate: true})
	all, scoped := newReceiver(t), newReceiver(t)
	abc := e.filter(domain.Condition{Field: "source", Op: domain.OpEq, Value: "abc"})
	e.subscribe(all.srv.URL, nil)
	e.subscribe(scoped.srv.URL, &abc)

	in := e.lead(map[string]any{"name": "Inside", "source": "abc"})           // v1 in
	out := e.lead(map[string]any{"name": "Secret Outsider", "source": "web"}) // v1 out
	e.update(in, map[string]any{"budget": 1})                                 // v2 in
	e.update(in, map[string]any{"source": "web", "name": "Gone Away"})        // v3 leaves: left_scope
	e.update(in, map[string]any{"budget": 2})                                 // v4 out: nothing
	e.update(out, map[string]any{"budget": 3})                                // v2 out: nothing
	e.update(out, map[string]any{"source": "abc"})                            // v3 enters: lead.updated
	e.update(out, map[string]any{"budget": 4})                                // v4 in
	all.waitFor(8, 10*time.Second)
	scoped.waitFor(5, 10*time.Second)
	time.Sleep(200 * time.Millisecond) // nothing more may come
	got := scoped.got()
	var seq []string
	for _, h := range got {
		seq = append(seq, fmt.Sprintf("%s:%s:v%d", name(h.event.Subject, in, out), h.event.Type, h.event.StreamVersion))
		if strings.Contains(string(h.body), "Secret Outsider") || strings.Contains(string(h.body), "Gone Away") {
			t.Errorf("out-of-scope data delivered: %s", h.body)
		}
	}
	want := []string{"in:lead.created:v1", "in:lead.updated:v2", "in:lead.left_scope:v3", "out:lead.updated:v3", "out:lead.updated:v4"}
	slices.Sort(seq)
	slices.Sort(want)
	if !slices.Equal(seq, want) {
		t.Fatalf("scoped deliveries\n got  %v\n want %v", seq, want)
	}
	for _, h := range got {
		if h.event.Type == domain.EventLeadLeftScope {
			var data map[string]any
			if err := json.Unmarshal(h.event.Data, &data); err != nil || len(data) != 1 || data["lead_id"] != in.String() {
				t.Errorf("left_scope data %s, want only the lead id", h.event.Data)
			}
			if h.event.ID == "" || h.header.Get("webhook-id") != h.event.ID {
				t.Errorf("left_scope ids: body %q, header %q", h.event.ID, h.header.Get("webhook-id"))
			}
		}
	}

	// Narrowing the filter takes "out" out of scope: one left_scope, no data.
	if _, err := e.c.UpdateFilter.Handle(e.ctx, commands.UpdateFilter{AccountID: e.account, FilterID: abc, Name: "f",
		Conditions: []domain.Condition{{Field: "source", Op: domain.OpEq, Value: "abc"}, {Field: "budget", Op: domain.OpGt, Value: 100}}}); err != nil {
		t.Fatal(err)
	}
	got = scoped.waitFor(6, 10*time.Second)
	last := got[5]
	if last.event.Type != domain.EventLeadLeftScope || last.event.Subject != out.String() || last.event.StreamVersion != 4 {
		t.Fatalf("after narrowing the filter: %+v", last.event)
	}
	e.update(out, map[string]any{"budget": 5}) // still out: nothing
	all.waitFor(9, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	if n := len(scoped.got()); n != 6 {
		t.Fatalf("%d scoped deliveries, want 6", n)
	}
}

func name(subject string, in, out uuid.UUID) string {
	switch subject {
	case in.String():
		return "in"
	case out.String():
		return "out"
	}
	return subject
}

func TestEventTypesNarrowASubscription(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{dispatcherPrivate: true})
	rcv := newReceiver(t)
	e.subscribe(rcv.srv.URL, nil, "lead.updated")
	id := e.lead(map[string]any{"name": "Ada"})
	e.update(id, map[string]any{"budget": 1})
	got := rcv.waitFor(1, 10*time.Second)
	if got[0].event.Type != "lead.updated" || got[0].event.StreamVersion != 2 {
		t.Fatalf("got %+v", got[0].event)
	}
}

func TestFailingForFiveDaysDisablesAndRecordsIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{dispatcherPrivate: true, schedule: []time.Duration{time.Hour}})
	rcv := newReceiver(t)
	rcv.setAnswer(func(hit) int { return http.StatusInternalServerError })
	sub := e.subscribe(rcv.srv.URL, nil)
	lead := e.lead(map[string]any{"name": "Ada"})
	attempts := func(n int) {
		t.Helper()
		testenv.CheckFor(t, 10*time.Second, func() error {
			if got := len(rcv.all()); got < n {
				return fmt.Errorf("%d attempts, want %d", got, n)
			}
			return nil
		})
	}
	attempts(1)
	e.tick(2 * time.Hour) // the retry, then the message is given up
	attempts(2)
	// A new event every day: each fails; the fifth day disables.
	for day := 1; day <= 5; day++ {
		e.clock.advance(24 * time.Hour)
		e.update(lead, map[string]any{"budget": day})
		attempts(2 + day)
	}
	testenv.CheckFor(t, 10*time.Second, func() error {
		w, err := e.q.Webhook(e.ctx, e.account, sub.Webhook.ID)
		if err != nil {
			return err
		}
		if w.DisabledAt == nil || w.DisabledReason != domain.WebhookDisabledFailing {
			return fmt.Errorf("not disabled: %+v", w)
		}
		return nil
	})
	recs, err := e.store.ReadStream(e.ctx, domain.WebhookStream(sub.Webhook.ID), eventstore.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	last := recs[len(recs)-1].Event
	if d, ok := last.(domain.WebhookDisabled); !ok || d.Reason != "failing" || !strings.HasPrefix(d.Detail, "every attempt failed since") {
		t.Fatalf("last event %#v, want webhook.disabled for failing", last)
	}
	// Disabled: later events are not sent, nor are pending retries.
	before := len(rcv.all())
	e.update(lead, map[string]any{"budget": 99})
	e.tick(2 * time.Hour)
	time.Sleep(300 * time.Millisecond)
	if got := len(rcv.all()); got != before {
		t.Fatalf("%d attempts after disabling, want %d", got, before)
	}
}

func TestGoneDisablesAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{dispatcherPrivate: true})
	rcv := newReceiver(t)
	rcv.setAnswer(func(hit) int { return http.StatusGone })
	sub := e.subscribe(rcv.srv.URL, nil)
	e.lead(map[string]any{"name": "Ada"})
	testenv.CheckFor(t, 10*time.Second, func() error {
		w, err := e.q.Webhook(e.ctx, e.account, sub.Webhook.ID)
		if err != nil {
			return err
		}
		if w.DisabledReason != domain.WebhookDisabledGone {
			return fmt.Errorf("reason %q", w.DisabledReason)
		}
		return nil
	})
	if n := len(rcv.all()); n != 1 {
		t.Fatalf("%d attempts, want 1", n)
	}
	if log := e.attempts(sub.Webhook.ID); len(log) != 1 || log[0].State != "failed" {
		t.Fatalf("log %+v", log)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{dispatcherPrivate: true})
	target := newReceiver(t)
	redirect := httptest.NewServer(http.RedirectHandler(target.srv.URL, http.StatusTemporaryRedirect))
	t.Cleanup(redirect.Close)
	sub := e.subscribe(redirect.URL, nil)
	e.lead(map[string]any{"name": "Ada"})
	testenv.CheckFor(t, 10*time.Second, func() error {
		if len(e.attempts(sub.Webhook.ID)) == 0 {
			return fmt.Errorf("no attempt yet")
		}
		return nil
	})
	a := e.attempts(sub.Webhook.ID)[0]
	if a.Success || a.StatusCode == nil || *a.StatusCode != 307 || !strings.Contains(a.Error, "redirect") {
		t.Fatalf("attempt %+v", a)
	}
	if n := len(target.all()); n != 0 {
		t.Fatalf("the redirect target got %d requests", n)
	}
}

func TestPrivateAddressesAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{dispatcherPrivate: false})
	strict, err := commands.New(commands.Config{Store: e.store, SecretKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"http://127.0.0.1:8080/h", "https://10.0.0.7/h", "http://169.254.169.254/latest/meta-data",
		"http://[::1]/h", "http://localhost/h", "https://[fe80::1]/h"} {
		_, err := strict.CreateWebhook.Handle(e.ctx, commands.CreateWebhook{AccountID: e.account, CampaignID: e.campaign, URL: u})
		if fe := fieldError(err); fe.Field != "url" {
			t.Errorf("CreateWebhook(%s) = %v, want a url field error", u, err)
		}
	}
	// Allowed when made (another process's setting), the dispatcher of
	// this one still refuses to connect.
	rcv := newReceiver(t)
	sub := e.subscribe(rcv.srv.URL, nil)
	e.lead(map[string]any{"name": "Ada"})
	testenv.CheckFor(t, 10*time.Second, func() error {
		if len(e.attempts(sub.Webhook.ID)) == 0 {
			return fmt.Errorf("no attempt yet")
		}
		return nil
	})
	a := e.attempts(sub.Webhook.ID)[0]
	if a.Success || a.StatusCode != nil || !strings.Contains(a.Error, "private") {
		t.Fatalf("attempt %+v", a)
	}
	if n := len(rcv.all()); n != 0 {
		t.Fatalf("the private receiver got %d requests", n)
	}
}

func fieldError(err error) domain.FieldError {
	var v *domain.ValidationError
	if !errors.As(err, &v) || len(v.Errors) == 0 {
		return domain.FieldError{}
	}
	return v.Errors[0]
}

func TestRedeliverAndTestEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{dispatcherPrivate: true})
	rcv := newReceiver(t)
	sub := e.subscribe(rcv.srv.URL, nil)
	since := time.Now().Add(-time.Second)
	lead := e.lead(map[string]any{"name": "Ada"})
	e.update(lead, map[string]any{"budget": 7})
	first := rcv.waitFor(2, 10*time.Second)
	e.waitDelivered(sub.Webhook.ID, 2)
	res, err := e.c.RedeliverWebhook.Handle(e.ctx, commands.RedeliverWebhook{AccountID: e.account, WebhookID: sub.Webhook.ID, Since: &since})
	if err != nil || res.Messages != 2 {
		t.Fatalf("RedeliverWebhook = %+v, %v", res, err)
	}
	again := rcv.waitFor(4, 10*time.Second)
	e.waitDelivered(sub.Webhook.ID, 4)
	for i := range 2 {
		if again[2+i].event.ID != first[i].event.ID || again[2+i].event.StreamVersion != int64(i+1) {
			t.Errorf("redelivery %d: %+v, want %+v again", i, again[2+i].event, first[i].event)
		}
	}
	one, err := e.c.RedeliverWebhook.Handle(e.ctx, commands.RedeliverWebhook{AccountID: e.account, WebhookID: sub.Webhook.ID,
		EventID: ptr(uuid.MustParse(first[1].event.ID))})
	if err != nil || one.Messages != 1 {
		t.Fatalf("redeliver one: %+v, %v", one, err)
	}
	rcv.waitFor(5, 10*time.Second)
	if _, err := e.c.RedeliverWebhook.Handle(e.ctx, commands.RedeliverWebhook{AccountID: e.account, WebhookID: sub.Webhook.ID,
		EventID: ptr(uuid.New())}); !errors.Is(err, commands.ErrDeliveryNotFound) {
		t.Fatalf("unknown event: %v", err)
	}
	test, err := e.c.SendWebhookTest.Handle(e.ctx, commands.SendWebhookTest{AccountID: e.account, WebhookID: sub.Webhook.ID})
	if err != nil {
		t.Fatal(err)
	}
	h := rcv.waitFor(6, 10*time.Second)[5]
	if h.event.Type != domain.EventWebhookTest || h.event.ID != test.EventID.String() {
		t.Fatalf("test event %+v", h.event)
	}
	if err := verifySignature(sub.Secret, h.header, h.body); err != nil {
		t.Fatalf("test event signature: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestWakeChannelsAgree(t *testing.T) {
	if webhooks.WakeChannel != commands.WebhookWakeChannel {
		t.Fatalf("projection wakes on %q, commands notify %q", webhooks.WakeChannel, commands.WebhookWakeChannel)
	}
}

// An attempt answered just as the dispatcher stops is recorded, not
// released: sent again by the next dispatcher it would be a duplicate of
// a delivery that succeeded.
func TestAnAttemptAnsweredDuringShutdownIsNotSentAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{dispatcherPrivate: true, noDispatcher: true})
	rcv := newReceiver(t)
	sub := e.subscribe(rcv.srv.URL, nil)

	ctx, stop := context.WithCancel(context.Background())
	first := e.dispatcher()
	first.WrapTransport(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(req)
			if err == nil {
				// The whole answer is in before the stop.
				body, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				resp.Body, err = io.NopCloser(bytes.NewReader(body)), rerr
			}
			stop()
			return resp, err
		})
	})
	done := make(chan error, 1)
	go func() { done <- first.Run(ctx) }()
	e.lead(map[string]any{"name": "Ada"})
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		stop()
		t.Fatal("the first dispatcher did not stop after its attempt")
	}

	e.disp = e.dispatcher()
	e.run(e.disp.Run)
	e.waitDelivered(sub.Webhook.ID, 1)
	if n := len(rcv.got()); n != 1 {
		t.Fatalf("the receiver got the event %d times, want once", n)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
