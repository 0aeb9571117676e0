package eventstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

// upcastStore is a store whose codec upcasts every test.noted, as a new
// shape of the event would, and a plain store over the same log.
func upcastStore(t *testing.T) (upcast, plain *eventstore.Store) {
	t.Helper()
	url := testenv.Schema(t)
	if err := eventstore.Migrate(context.Background(), url, nil); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	pool := testenv.Pool(t, url)
	r := domain.NewEmptyRegistry()
	domain.Register[noted](r, func(data json.RawMessage) (json.RawMessage, error) {
		var n noted
		if err := json.Unmarshal(data, &n); err != nil {
			return nil, err
		}
		n.Text = "upcast"
		return json.Marshal(n)
	})
	upcast, plain = eventstore.New(pool, r), eventstore.New(pool, registry())
	t.Cleanup(upcast.Close)
	t.Cleanup(plain.Close)
	return upcast, plain
}

func wantUpcast(t *testing.T, what string, recs []eventstore.Record, n int) {
	t.Helper()
	if len(recs) != n {
		t.Fatalf("%s: %d records, want %d", what, len(recs), n)
	}
	for _, r := range recs {
		if got, ok := r.Event.(noted); !ok || got.Text != "upcast" {
			t.Fatalf("%s: event %d = %#v, want it upcast", what, r.Position, r.Event)
		}
	}
}

func TestReadsDecodeThroughTheStoresUpcasters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, plain := upcastStore(t)
	out, err := plain.Append(ctx, appendN("lead-1", 0, 1, 2, 3))
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	err = pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
		recs, err := s.ReadStreamRange(ctx, tx, "lead-1", 1, 3)
		if err != nil {
			return err
		}
		wantUpcast(t, "ReadStreamRange", recs, 2)
		if recs[0].StreamVersion != 2 || recs[1].StreamVersion != 3 {
			t.Fatalf("ReadStreamRange(1, 3) read versions %d, %d; want 2, 3", recs[0].StreamVersion, recs[1].StreamVersion)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("ReadStreamRange: %v", err)
	}
	recs, err := s.ReadPositions(ctx, []int64{out.Records[2].Position, out.Records[0].Position, -1})
	if err != nil {
		t.Fatalf("ReadPositions: %v", err)
	}
	wantUpcast(t, "ReadPositions", recs, 2)
	if recs[0].Position != out.Records[0].Position || recs[0].TxID != out.Records[0].TxID || recs[0].Metadata != out.Records[0].Metadata {
		t.Fatalf("ReadPositions[0] = %+v, want the first event appended", recs[0])
	}
}

func TestCountsAndTransactionStreams(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	first, err := s.Append(ctx, appendN("lead-1", 0, 1))
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	both, err := s.AppendInline(ctx, nil, appendN("lead-1", 1, 2, 3), appendN("lead-2", 0, 1), appendN("token-1", 0, 1))
	if err != nil {
		t.Fatalf("AppendInline: %v", err)
	}
	// CountAfter counts below the oldest running transaction, which
	// other tests' transactions in the database can hold back.
	testenv.CheckFor(t, time.Minute, func() error {
		if n, err := s.CountAfter(ctx, first.Records[0].Cursor(), 100); err != nil || n != 4 {
			return fmt.Errorf("CountAfter(first) = %d, %v; want 4", n, err)
		}
		return nil
	})
	if n, err := s.CountAfter(ctx, eventstore.Cursor{}, 2); err != nil || n != 2 {
		t.Fatalf("CountAfter(limit 2) = %d, %v; want 2", n, err)
	}
	if n, err := s.CountUpTo(ctx, first.Records[0].Position); err != nil || n != 1 {
		t.Fatalf("CountUpTo(first) = %d, %v; want 1", n, err)
	}
	got, err := s.StreamVersions(ctx, both.Records[0].TxID, both.LastPosition(), "lead-")
	if err != nil || len(got) != 2 || got["lead-1"] != 3 || got["lead-2"] != 1 {
		t.Fatalf("StreamVersions = %v, %v; want lead-1 at 3, lead-2 at 1", got, err)
	}
	var after, before bool
	err = s.Pool().QueryRow(ctx, `SELECT `+eventstore.CreatedAfterSQL(`'lead-2'`, `$1`, `$2`)+`, `+
		eventstore.CreatedAfterSQL(`'lead-1'`, `$1`, `$2`), strconv.FormatUint(first.Records[0].TxID, 10), first.Records[0].Position).Scan(&after, &before)
	if err != nil || !after || before {
		t.Fatalf("created after the first event: lead-2 %v, lead-1 %v, %v; want true, false", after, before, err)
	}
}
