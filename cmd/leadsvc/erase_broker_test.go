package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// syncBuffer is a log sink the service writes to from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// streamMsgs reads every message left in the JetStream stream, in order.
func streamMsgs(t *testing.T, m *Main) []*nats.RawStreamMsg {
	t.Helper()
	js, err := m.NATS.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	info, err := js.StreamInfo(m.Config.NATSStream)
	if errors.Is(err, nats.ErrStreamNotFound) {
		return nil // the relay has not made it yet
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []*nats.RawStreamMsg
	for seq := max(info.State.FirstSeq, 1); seq <= info.State.LastSeq; seq++ {
		msg, err := js.GetMsg(m.Config.NATSStream, seq)
		if err == nil {
			out = append(out, msg)
		} else if !errors.Is(err, nats.ErrMsgNotFound) {
			t.Fatalf("GetMsg %d: %v", seq, err)
		}
	}
	return out
}

// TestAnErasedLeadLeavesTheBrokerTheLogsAndTheSubscribers erases a lead
// through the service with its embedded JetStream and reads what is left
// outside PostgreSQL: once the relay has purged the lead's messages, the
// stream holds its lead.erased and every other event of the log in
// order, the stream's files and the service's log output (at debug) hold
// none of its personal values, and a webhook subscriber received
// lead.erased.
func TestAnErasedLeadLeavesTheBrokerTheLogsAndTheSubscribers(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	m := mustRunMainWith(t, func(m *Main) {
		m.Config.LogLevel = "debug"
		m.Logger = newLogger(m.Config, logs)
	}, "LEADSVC_WEBHOOKS_ALLOW_PRIVATE", "true", "LEADSVC_RATE_LIMIT", "100000")
	if m.natsServer == nil {
		t.Fatal("the test reads the embedded JetStream's files; NATS_URL must not reach the service")
	}
	admin := mustAccount(t, m, "Acme")
	campaignID := str(admin.do("POST", "/v1/campaigns", everyFieldType).want(201).obj(), "id")
	rcv := newHookReceiver(t)
	admin.do("POST", "/v1/webhooks", map[string]any{"url": rcv.srv.URL + "/hooks", "campaign_id": campaignID}).want(201)

	tag := strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	personal := map[string]string{"name": "Grace-" + tag, "email": "grace." + tag + "@example.com",
		"notes": "Notes-" + tag, "nickname": "Amazing-" + tag}
	var grace lead
	admin.do("POST", "/v1/leads", map[string]any{"campaign_id": campaignID, "fields": map[string]any{
		"name": personal["name"], "email": personal["email"], "nickname": personal["nickname"], "source": "website"}}).
		want(201).into(&grace)
	others := map[string]string{}
	for i := range 2 {
		var l lead
		name := fmt.Sprintf("Other-%d-%s", i, tag)
		admin.do("POST", "/v1/leads", map[string]any{"campaign_id": campaignID, "fields": map[string]any{"name": name}}).want(201).into(&l)
		others[l.ID] = name
		admin.do("PATCH", "/v1/leads/"+grace.ID, map[string]any{"fields": map[string]any{"notes": fmt.Sprint(personal["notes"], " ", i)}}).want(200)
		admin.do("PATCH", "/v1/leads/"+l.ID, map[string]any{"status": "won"}).want(200)
	}
	// Every one of them reached the stream and the subscriber.
	testenv.CheckFor(t, 30*time.Second, func() error {
		n := 0
		for _, msg := range streamMsgs(t, m) {
			if strings.HasSuffix(msg.Subject, "."+grace.ID) {
				n++
			}
		}
		if n != 3 || rcv.count() < 7 {
			return fmt.Errorf("the stream holds %d of the lead's 3 messages; %d webhooks", n, rcv.count())
		}
		return nil
	})
	for what, value := range personal {
		if !testenv.DirHolds(t, m.natsServer.StoreDir(), value) {
			t.Fatalf("the stream's files do not hold the %s before the erasure: the check below could not fail", what)
		}
	}

	admin.do("POST", "/v1/leads/"+grace.ID+"/erase", map[string]any{"reason": "the person asked"}).want(200)

	// The relay purges the lead's messages once past its erasure.
	ctx := context.Background()
	testenv.CheckFor(t, 30*time.Second, func() error {
		var n int64
		err := m.Pool.QueryRow(ctx, `SELECT messages FROM broker_purges WHERE stream_id = $1`, "lead-"+grace.ID).Scan(&n)
		if err != nil {
			return fmt.Errorf("no purge of the lead yet: %v", err)
		}
		if n != 3 {
			return fmt.Errorf("%d messages purged, want 3", n)
		}
		return nil
	})

	// The stream: the lead's erasure only, and every other event of the
	// log, in the log's order.
	var want []string
	for after := (eventstore.Cursor{}); ; {
		recs, err := m.Store.ReadAll(ctx, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			if r.StreamID != "lead-"+grace.ID || r.Type == "lead.erased" {
				want = append(want, r.EventID.String())
			}
		}
		last := recs[len(recs)-1]
		after = eventstore.Cursor{TxID: last.TxID, Position: last.Position}
	}
	testenv.CheckFor(t, 30*time.Second, func() error {
		var got []string
		for _, msg := range streamMsgs(t, m) {
			got = append(got, msg.Header.Get(nats.MsgIdHdr))
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("the stream holds %v, want %v", got, want)
		}
		return nil
	})

	// The stream's files: none of the lead's values, the others' still.
	testenv.CheckFor(t, 30*time.Second, func() error {
		for what, value := range personal {
			if testenv.DirHolds(t, m.natsServer.StoreDir(), value) {
				return fmt.Errorf("the stream's files still hold the %s", what)
			}
		}
		return nil
	})
	for _, name := range others {
		if !testenv.DirHolds(t, m.natsServer.StoreDir(), name) {
			t.Fatalf("the stream's files lost another lead's name %q", name)
		}
	}

	// The subscriber is told.
	testenv.CheckFor(t, 30*time.Second, func() error {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		for _, body := range rcv.got {
			if body["type"] == "lead.erased" && body["subject"] == grace.ID {
				return nil
			}
		}
		return fmt.Errorf("no lead.erased among %d webhooks", len(rcv.got))
	})

	// The service's logs: it logged the work, never the values.
	out := logs.String()
	if !strings.Contains(out, "erased stream purged") {
		t.Fatalf("the log does not show the purge; is it captured? %d bytes", len(out))
	}
	for what, value := range personal {
		if strings.Contains(out, value) {
			t.Fatalf("the service logged the %s", what)
		}
	}
}
