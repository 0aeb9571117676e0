package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{}, &slog.HandlerOptions{Level: slog.LevelError}))
}

type testWriter struct{}

func (testWriter) Write(p []byte) (int, error) { return len(p), nil }

// startRelay runs a relay until the returned stop is called.
func startRelay(t *testing.T, s *eventstore.Store, nc *nats.Conn, cfg eventstore.RelayConfig) (stop func()) {
	t.Helper()
	r, err := eventstore.NewRelay(cfg, s, nc, quietLogger())
	if err != nil {
		t.Fatalf("NewRelay: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := r.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// streamMessages reads every message of the stream, in stream order.
func streamMessages(t *testing.T, nc *nats.Conn, stream string) []*nats.Msg {
	t.Helper()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	info, err := js.StreamInfo(stream)
	if err != nil {
		return nil
	}
	var out []*nats.Msg
	for seq := max(info.State.FirstSeq, 1); seq <= info.State.LastSeq; seq++ {
		m, err := js.GetMsg(stream, seq)
		if errors.Is(err, nats.ErrMsgNotFound) {
			continue // deleted (purged)
		}
		if err != nil {
			t.Fatalf("GetMsg %d: %v", seq, err)
		}
		out = append(out, &nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data})
	}
	return out
}

func relayConfig() eventstore.RelayConfig {
	return eventstore.RelayConfig{
		Stream:        testenv.RandomName("EV_"),
		SubjectPrefix: testenv.RandomName("ls"),
		PollInterval:  5 * time.Millisecond,
	}
}

// checkExactlyOnceInOrder compares the stream with the log: every event
// once, in the log's global order, with its id and subject.
func checkExactlyOnceInOrder(t *testing.T, s *eventstore.Store, nc *nats.Conn, cfg eventstore.RelayConfig, want int) {
	t.Helper()
	ctx := context.Background()
	testenv.CheckFor(t, 30*time.Second, func() error {
		if n := len(streamMessages(t, nc, cfg.Stream)); n < want {
			return fmt.Errorf("%d of %d events in the stream", n, want)
		}
		return nil
	})
	recs, err := s.ReadAll(ctx, eventstore.Cursor{}, want+10)
	if err != nil || len(recs) != want {
		t.Fatalf("ReadAll = %d records, %v; want %d", len(recs), err, want)
	}
	msgs := streamMessages(t, nc, cfg.Stream)
	if len(msgs) != want {
		t.Fatalf("stream holds %d messages, want exactly %d", len(msgs), want)
	}
	for i, m := range msgs {
		r := recs[i]
		if got := m.Header.Get(nats.MsgIdHdr); got != r.EventID.String() {
			t.Fatalf("message %d Nats-Msg-Id = %q, want event id %s", i, got, r.EventID)
		}
		if got, want := m.Subject, eventstore.Subject(cfg.SubjectPrefix, r); got != want {
			t.Fatalf("message %d subject = %q, want %q", i, got, want)
		}
		ce, err := domain.DecodeCloudEvent(m.Data)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if ce.ID != r.EventID.String() || ce.Type != r.Type || ce.Position != r.Position || ce.Source != "/leadsvc/"+r.AccountID.String() {
			t.Fatalf("message %d envelope = %+v, want event %d", i, ce, r.Position)
		}
	}
}

func TestRelayPublishesEveryEventOnceInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	srv := testenv.StartNATS(t)
	nc := srv.Connect()
	cfg := relayConfig()
	campaign := uuid.New()
	for i := range 20 {
		a := appendN(fmt.Sprintf("lead-%d", i%4), eventstore.AnyVersion, i)
		if i%2 == 0 {
			a.CampaignID = campaign
		}
		if _, err := s.Append(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	stop := startRelay(t, s, nc, cfg)
	checkExactlyOnceInOrder(t, s, nc, cfg, 20)

	// A restarted relay resumes from its checkpoint: nothing is sent again.
	stop()
	for i := range 5 {
		if _, err := s.Append(ctx, appendN("after", eventstore.AnyVersion, i)); err != nil {
			t.Fatal(err)
		}
	}
	startRelay(t, s, nc, cfg)
	checkExactlyOnceInOrder(t, s, nc, cfg, 25)

	msgs := streamMessages(t, nc, cfg.Stream)
	var ce domain.CloudEvent
	if err := json.Unmarshal(msgs[0].Data, &ce); err != nil || ce.CampaignID != campaign.String() {
		t.Fatalf("first envelope campaign = %q, %v; want %s", ce.CampaignID, err, campaign)
	}
}

// TestRelayAcrossNATSRestart stops and starts the NATS server while a
// writer appends: every write succeeds and every event arrives exactly once.
func TestRelayAcrossNATSRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	srv := testenv.StartNATS(t)
	nc := srv.Connect()
	cfg := relayConfig()
	startRelay(t, s, nc, cfg)

	const total = 300
	written := make(chan int, total)
	go func() {
		defer close(written)
		for i := range total {
			if _, err := s.Append(ctx, appendN(fmt.Sprintf("s%d", i%10), eventstore.AnyVersion, i)); err != nil {
				t.Errorf("Append %d while NATS restarts: %v", i, err)
				return
			}
			written <- i
			time.Sleep(time.Millisecond)
		}
	}()
	for i := range written {
		if i == 100 {
			srv.Stop()
		}
		if i == 200 {
			srv.Start()
		}
	}
	checkExactlyOnceInOrder(t, s, nc, cfg, total)
}

func TestOnlyOneRelayLeadsAndAnotherTakesOver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	srv := testenv.StartNATS(t)
	cfg := relayConfig()
	// Without de-duplication a second active relay would show as repeats.
	cfg.DuplicateWindow = 10 * time.Second
	stopA := startRelay(t, s, srv.Connect(), cfg)
	startRelay(t, s, srv.Connect(), cfg)
	for i := range 50 {
		if _, err := s.Append(ctx, appendN("one", eventstore.AnyVersion, i)); err != nil {
			t.Fatal(err)
		}
	}
	nc := srv.Connect()
	checkExactlyOnceInOrder(t, s, nc, cfg, 50)
	stopA()
	stopA() // idempotent
	for i := range 50 {
		if _, err := s.Append(ctx, appendN("two", eventstore.AnyVersion, i)); err != nil {
			t.Fatal(err)
		}
	}
	checkExactlyOnceInOrder(t, s, nc, cfg, 100)
}

// TestOrderedPublisherStoresOnlyAPrefix loses a message in the middle of
// a pipelined call (its subject has no stream): JetStream must refuse
// every later one, so the stream never holds events out of order, and a
// retry from the lost one completes the sequence without duplicates.
func TestOrderedPublisherStoresOnlyAPrefix(t *testing.T) {
	t.Parallel()
	srv := testenv.StartNATS(t)
	nc := srv.Connect()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	stream, subject := testenv.RandomName("ORD_"), testenv.RandomName("ord")
	if _, err := js.AddStream(&nats.StreamConfig{Name: stream, Subjects: []string{subject + ".>"}, Duplicates: time.Minute}); err != nil {
		t.Fatal(err)
	}
	pub, err := eventstore.NewOrderedPublisher(nc, 100, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 6)
	msgs := make([]eventstore.Outgoing, 6)
	for i := range msgs {
		ids[i] = uuid.NewString()
		msgs[i] = eventstore.Outgoing{Subject: subject + ".e", Message: message.NewMessage(ids[i], []byte(fmt.Sprint(i)))}
	}
	lost := msgs[2]
	lost.Subject = "nowhere." + subject
	first := append(append(append([]eventstore.Outgoing{}, msgs[:2]...), lost), msgs[3:]...)

	n, err := pub.PublishOrdered(first)
	if n != 2 || err == nil {
		t.Fatalf("PublishOrdered with message 2 lost = %d, %v; want 2 and an error", n, err)
	}
	if got := msgIDs(t, nc, stream); !slices.Equal(got, ids[:2]) {
		t.Fatalf("stream after the loss = %v, want only the prefix %v", got, ids[:2])
	}

	// A retry from the start: the stored prefix is acknowledged as
	// duplicates, the rest lands in order.
	if n, err := pub.PublishOrdered(msgs); n != len(msgs) || err != nil {
		t.Fatalf("retry = %d, %v; want %d, nil", n, err, len(msgs))
	}
	if got := msgIDs(t, nc, stream); !slices.Equal(got, ids) {
		t.Fatalf("stream after the retry = %v, want %v", got, ids)
	}
}

func msgIDs(t *testing.T, nc *nats.Conn, stream string) []string {
	t.Helper()
	var out []string
	for _, m := range streamMessages(t, nc, stream) {
		out = append(out, m.Header.Get(nats.MsgIdHdr))
	}
	return out
}

// TestRelaysOfTwoSchemasLeadAtOnce runs two logs in two schemas of one
// database, with the same relay and stream names: each has its own
// leader (advisory locks are database-wide; the key includes the schema).
func TestRelaysOfTwoSchemasLeadAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := eventstore.RelayConfig{Stream: "SAME_STREAM", SubjectPrefix: "same", PollInterval: 5 * time.Millisecond}
	for range 2 {
		s, _ := newStore(t)
		nc := testenv.StartNATS(t).Connect()
		startRelay(t, s, nc, cfg)
		for i := range 5 {
			if _, err := s.Append(ctx, appendN("s", eventstore.AnyVersion, i)); err != nil {
				t.Fatal(err)
			}
		}
		checkExactlyOnceInOrder(t, s, nc, cfg, 5)
	}
}

// TestRelaySendsTheTransactionID: consumers checkpoint from the header,
// without reading the log.
func TestRelaySendsTheTransactionID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	nc := testenv.StartNATS(t).Connect()
	cfg := relayConfig()
	out, err := s.AppendInline(ctx, nil, appendN("lead-1", 0, 1), appendN("lead-2", 0, 2))
	if err != nil {
		t.Fatal(err)
	}
	startRelay(t, s, nc, cfg)
	checkExactlyOnceInOrder(t, s, nc, cfg, 2)
	for i, m := range streamMessages(t, nc, cfg.Stream) {
		if got, want := m.Header.Get(domain.TxIDHeader), fmt.Sprint(out.Records[0].TxID); got != want {
			t.Fatalf("message %d %s = %q, want %s", i, domain.TxIDHeader, got, want)
		}
	}
}
