package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// eraseInline records stream as erased at the position of the append's
// last event, in the append's transaction, as the erasure does.
func eraseInline(stream string) eventstore.Inline {
	return func(ctx context.Context, tx pgx.Tx, recs []eventstore.Record) error {
		last := recs[len(recs)-1]
		_, err := tx.Exec(ctx, `INSERT INTO erased_streams (stream_id, account_id, campaign_id, erased_at, position)
			VALUES ($1, $2, $3, now(), $4)`, stream, last.AccountID, last.CampaignID, last.Position)
		return err
	}
}

// publishLegacy publishes recs as a relay of the previous release did:
// under the subject without the aggregate id, and records its checkpoint.
func publishLegacy(t *testing.T, pool *pgxpool.Pool, nc *nats.Conn, cfg eventstore.RelayConfig, recs []eventstore.Record) {
	t.Helper()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AddStream(&nats.StreamConfig{Name: cfg.Stream, Subjects: []string{cfg.SubjectPrefix + ".>"}, Duplicates: time.Minute}); err != nil {
		t.Fatal(err)
	}
	pub, err := eventstore.NewOrderedPublisher(nc, 100, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]eventstore.Outgoing, len(recs))
	for i, r := range recs {
		body, err := json.Marshal(eventstore.ToCloudEvent(r))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = eventstore.Outgoing{Subject: eventstore.LegacySubject(cfg.SubjectPrefix, r),
			Message: message.NewMessage(r.EventID.String(), body)}
	}
	if n, err := pub.PublishOrdered(out); n != len(out) || err != nil {
		t.Fatalf("legacy publish = %d, %v", n, err)
	}
	last := recs[len(recs)-1]
	if _, err := pool.Exec(context.Background(), `INSERT INTO relay_checkpoints (name, tx_id, position, updated_at)
		VALUES ('relay', $1::text::xid8, $2, now())`, strconv.FormatUint(last.TxID, 10), last.Position); err != nil {
		t.Fatal(err)
	}
}

// fetchIDs fetches what a pull consumer has for it, as event ids.
func fetchIDs(t *testing.T, sub *nats.Subscription, want int) []string {
	t.Helper()
	var ids []string
	testenv.CheckFor(t, 20*time.Second, func() error {
		msgs, err := sub.Fetch(want-len(ids), nats.MaxWait(200*time.Millisecond))
		for _, m := range msgs {
			ids = append(ids, m.Header.Get(nats.MsgIdHdr))
			_ = m.Ack()
		}
		if len(ids) < want {
			return fmt.Errorf("consumer got %d of %d messages (%v)", len(ids), want, err)
		}
		return nil
	})
	return ids
}

func eventIDs(recs ...eventstore.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.EventID.String()
	}
	return out
}

// TestBrokerForgetsAnErasedStream runs the subject change and an erasure
// on one stream: two leads' events published under the legacy subjects
// by the previous release, then under the current ones; one lead erased.
// Afterwards the stream holds none of the erased lead's messages but its
// erasure, every other lead's in order; a consumer that filtered on the
// legacy subjects went on receiving; a relay publishing the log again
// skips the erased lead.
func TestBrokerForgetsAnErasedStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newStore(t)
	srv := testenv.StartNATS(t)
	nc := srv.Connect()
	cfg := relayConfig()
	cfg.PurgeInterval = time.Hour // the erasure itself must wake the purge
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	campaign := uuid.New()
	leadA, leadB := domain.LeadStream(uuid.New()), domain.LeadStream(uuid.New())
	// What each lead's events say, to look for in the stream's files.
	marks := map[string]string{leadA: "erased-" + uuid.NewString(), leadB: "kept-" + uuid.NewString()}
	write := func(stream string, n int, inline eventstore.Inline) eventstore.Record {
		t.Helper()
		a := eventstore.Append{StreamID: stream, ExpectedVersion: eventstore.AnyVersion, AccountID: account,
			CampaignID: campaign, Events: []domain.Event{noted{N: n, Text: marks[stream]}}}
		if inline != nil {
			a.Events = []domain.Event{noted{N: n}} // an erasure holds no personal value
		}
		out, err := s.AppendInline(ctx, inline, a)
		if err != nil {
			t.Fatal(err)
		}
		return out.Records[0]
	}
	a1, b1, a2, b2 := write(leadA, 1, nil), write(leadB, 1, nil), write(leadA, 2, nil), write(leadB, 2, nil)
	publishLegacy(t, pool, nc, cfg, []eventstore.Record{a1, b1, a2, b2})

	// A subscriber's durable consumer on the legacy subjects of the
	// campaign, which has read the first message.
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	legacy := cfg.SubjectPrefix + "." + account.String() + "." + campaign.String() + ".test.*"
	sub, err := js.PullSubscribe(legacy, "SUBSCRIBER", nats.BindStream(cfg.Stream), nats.AckExplicit())
	if err != nil {
		t.Fatal(err)
	}
	if got := fetchIDs(t, sub, 1); !slices.Equal(got, eventIDs(a1)) {
		t.Fatalf("subscriber before the change got %v, want %v", got, eventIDs(a1))
	}

	// And a push consumer on every lead event of the account.
	pushFilter := cfg.SubjectPrefix + "." + account.String() + ".*.*.*"
	if _, err := js.AddConsumer(cfg.Stream, &nats.ConsumerConfig{Durable: "PUSHED", DeliverSubject: nats.NewInbox(),
		FilterSubject: pushFilter, AckPolicy: nats.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}

	startRelay(t, s, nc, cfg)
	a3, b3 := write(leadA, 3, nil), write(leadB, 3, nil)
	testenv.CheckFor(t, 20*time.Second, func() error {
		if got := msgIDs(t, nc, cfg.Stream); !slices.Equal(got, eventIDs(a1, b1, a2, b2, a3, b3)) {
			return fmt.Errorf("stream holds %v before the erasure", got)
		}
		return nil
	})
	erasure := write(leadA, 4, eraseInline(leadA))
	b4 := write(leadB, 4, nil)

	want := eventIDs(b1, b2, b3, erasure, b4)
	testenv.CheckFor(t, 20*time.Second, func() error {
		if got := msgIDs(t, nc, cfg.Stream); !slices.Equal(got, want) {
			return fmt.Errorf("stream holds %v, want %v", got, want)
		}
		return nil
	})
	for _, m := range streamMessages(t, nc, cfg.Stream) {
		if m.Header.Get(nats.MsgIdHdr) == erasure.EventID.String() {
			if got := eventstore.Subject(cfg.SubjectPrefix, erasure); m.Subject != got {
				t.Fatalf("erasure subject = %q, want %q", m.Subject, got)
			}
		}
	}
	// The row is written after the messages are gone: poll for it.
	testenv.CheckFor(t, 20*time.Second, func() error {
		var purged int64
		if err := pool.QueryRow(ctx, `SELECT messages FROM broker_purges WHERE broker_stream = $1 AND stream_id = $2`,
			cfg.Stream, leadA).Scan(&purged); err != nil || purged != 3 {
			return fmt.Errorf("broker_purges for the erased lead = %d, %v; want 3 messages (two legacy, one current)", purged, err)
		}
		return nil
	})

	// The subscriber's filter was widened: it receives the rest in
	// stream order, the current subjects included.
	if got, want := fetchIDs(t, sub, 5), eventIDs(b1, b2, b3, erasure, b4); !slices.Equal(got, want) {
		t.Fatalf("subscriber after the change got %v, want %v", got, want)
	}
	// Not only out of the index: out of the files.
	testenv.CheckFor(t, 20*time.Second, func() error {
		erased, kept := testenv.DirHolds(t, srv.StoreDir(), marks[leadA]), testenv.DirHolds(t, srv.StoreDir(), marks[leadB])
		if erased || !kept {
			return fmt.Errorf("stream files hold the erased lead's value: %v, the kept lead's: %v", erased, kept)
		}
		return nil
	})

	for name, f := range map[string]string{"SUBSCRIBER": legacy, "PUSHED": pushFilter} {
		info, err := js.ConsumerInfo(cfg.Stream, name)
		if err != nil || !slices.Equal(info.Config.FilterSubjects, []string{f, f + ".*"}) {
			t.Fatalf("%s filters = %q, %v; want %q and %q", name, info.Config.FilterSubjects, err, f, f+".*")
		}
	}

	for name, want := range map[string]float64{"leadsvc_broker_purged_streams_total": 1, "leadsvc_broker_purged_messages_total": 3,
		"leadsvc_broker_purge_errors_total": 0} {
		if got, ok := gathered(t, reg, name); !ok || got != want {
			t.Fatalf("%s = %v (%v), want %v", name, got, ok, want)
		}
	}

	// Forget is idempotent and only for erased streams.
	forgetting := cfg
	forgetting.Registerer = nil
	r, err := eventstore.NewRelay(forgetting, s, nc, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.Forget(ctx, leadA); n != 0 || err != nil {
		t.Fatalf("Forget again = %d, %v; want 0, nil", n, err)
	}
	if _, err := r.Forget(ctx, leadB); !errors.Is(err, eventstore.ErrNotErased) {
		t.Fatalf("Forget of a lead not erased = %v, want ErrNotErased", err)
	}

	// Publishing the whole log again (a new stream) skips the erased
	// lead's events but its erasure.
	again := relayConfig()
	again.Name = "again"
	againReg := prometheus.NewRegistry()
	again.Registerer = againReg
	startRelay(t, s, nc, again)
	want = eventIDs(b1, b2, b3, erasure, b4)
	testenv.CheckFor(t, 20*time.Second, func() error {
		if got := msgIDs(t, nc, again.Stream); !slices.Equal(got, want) {
			return fmt.Errorf("republished stream holds %v, want %v", got, want)
		}
		// Its purge ran and found nothing: the relay had skipped them.
		var n int64
		if err := pool.QueryRow(ctx, `SELECT messages FROM broker_purges WHERE broker_stream = $1 AND stream_id = $2`,
			again.Stream, leadA).Scan(&n); err != nil || n != 0 {
			return fmt.Errorf("purge of the republished stream = %d, %v; want 0 messages", n, err)
		}
		if got, _ := gathered(t, againReg, "leadsvc_relay_erased_skipped_total"); got != 3 {
			return fmt.Errorf("events skipped = %v, want 3", got)
		}
		return nil
	})
}

// TestForgetWaitsForTheRelay: a purge before the relay has published the
// erasure could miss the messages still to come; Forget refuses it.
func TestForgetWaitsForTheRelay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	nc := testenv.StartNATS(t).Connect()
	lead := domain.LeadStream(uuid.New())
	if _, err := s.AppendInline(ctx, eraseInline(lead), appendN(lead, 0, 1)); err != nil {
		t.Fatal(err)
	}
	r, err := eventstore.NewRelay(relayConfig(), s, nc, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Forget(ctx, lead); !errors.Is(err, eventstore.ErrNotRelayed) {
		t.Fatalf("Forget before the relay passed the erasure = %v, want ErrNotRelayed", err)
	}
}
