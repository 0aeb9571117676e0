package leads_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/eventstore/views"
	"github.com/leadsvc/leadsvc/internal/eventlog"
	"github.com/leadsvc/leadsvc/internal/testenv"
	"github.com/leadsvc/leadsvc/projections"
	"github.com/leadsvc/leadsvc/projections/leads"
)

// TestMessagesWithoutTheTransactionIDStillCheckpoint: a message published
// by a release that did not send domain.TxIDHeader is applied, and the
// checkpoint moves to its event, with the transaction id from the log.
func TestMessagesWithoutTheTransactionIDStillCheckpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.nc = testenv.StartNATS(t).Connect()
	camp := e.campaign()
	// The relay creates the stream and publishes what is there, then stops.
	relay, err := eventstore.NewRelay(eventstore.RelayConfig{Stream: e.stream, SubjectPrefix: e.prefix, PollInterval: 5 * time.Millisecond},
		e.store, e.nc, quiet())
	if err != nil {
		t.Fatal(err)
	}
	stopRelay := e.goUntilCleanup(relay.Run)
	js, err := e.nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	testenv.CheckFor(t, time.Minute, func() error {
		info, err := js.StreamInfo(e.stream)
		if err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		if n, err := e.store.Count(e.ctx); err != nil || info.State.Msgs != uint64(n) {
			return fmt.Errorf("%d messages in the stream, %d events in the log (%v)", info.State.Msgs, n, err)
		}
		return nil
	})
	stopRelay()

	log := eventlog.New(e.store)
	r, err := projections.NewRunner(projections.RunnerConfig{Stream: e.stream, SubjectPrefix: e.prefix, StatusEvery: time.Hour},
		e.pool, log, e.nc, domain.NewRegistry(), quiet(), nil, leads.New(log, domain.NewRegistry(), views.Of(e.store)))
	if err != nil {
		t.Fatal(err)
	}
	e.goUntilCleanup(r.Run)
	testenv.CheckFor(t, time.Minute, func() error {
		st, err := r.Status(e.ctx)
		if err != nil || !st[leads.Name].Live {
			return fmt.Errorf("runner not live: %v, %v", st, err)
		}
		return nil
	})

	lead := e.lead(camp.ID, "", map[string]any{"name": "Ada", "source": "abc"})
	recs, err := e.store.ReadStream(e.ctx, domain.LeadStream(lead.ID), eventstore.ReadOptions{})
	if err != nil || len(recs) != 1 {
		t.Fatalf("ReadStream = %d records, %v; want 1", len(recs), err)
	}
	body, err := json.Marshal(eventstore.ToCloudEvent(recs[0]))
	if err != nil {
		t.Fatal(err)
	}
	msg := message.NewMessage(recs[0].EventID.String(), body)
	msg.Metadata.Set("Content-Type", domain.CloudEventContentType)
	pub, err := eventstore.NewOrderedPublisher(e.nc, 16, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(eventstore.Subject(e.prefix, recs[0]), msg); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	testenv.CheckFor(t, time.Minute, func() error {
		c, err := projections.LoadCheckpoint(e.ctx, e.pool, leads.Name)
		if err != nil || c != recs[0].Cursor() {
			return fmt.Errorf("checkpoint %+v, %v; want %+v", c, err, recs[0].Cursor())
		}
		if _, err := e.reader.Get(e.ctx, e.account, lead.ID, nil); err != nil {
			return fmt.Errorf("lead view: %v", err)
		}
		return nil
	})
}
