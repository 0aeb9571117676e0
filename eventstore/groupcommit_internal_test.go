package eventstore

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

type counted struct {
	N int `json:"n"`
}

func (counted) EventType() string { return "test.counted" }

// newCountingStore is a migrated store in a fresh schema that knows the
// counted event.
func newCountingStore(t *testing.T) *Store {
	t.Helper()
	url := testenv.Schema(t)
	if err := Migrate(context.Background(), url, nil); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	reg := domain.NewEmptyRegistry()
	domain.Register[counted](reg)
	s := New(testenv.Pool(t, url), reg)
	t.Cleanup(s.Close)
	return s
}

// TestGroupCommitChainsOneStreamTwiceInOneGroup hands one group several
// one-event appends to the same stream at AnyVersion, as concurrent
// callers can: each lands on its own version, chained to the one before,
// none is told of a conflict.
func TestGroupCommitChainsOneStreamTwiceInOneGroup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newCountingStore(t)

	account := uuid.New()
	var batch []*groupReq
	for i, stream := range []string{"s", "other", "s", "s"} {
		e, err := s.encode(context.Background(), Append{StreamID: stream, ExpectedVersion: AnyVersion, AccountID: account,
			Events: []domain.Event{counted{N: i}}})
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, &groupReq{ctx: ctx, enc: e, done: make(chan struct{})})
	}
	(&groupCommitter{}).commit(s, batch)

	var versions []int64
	for i, r := range batch {
		if r.err != nil || len(r.recs) != 1 {
			t.Fatalf("append %d: %d records, %v; want one", i, len(r.recs), r.err)
		}
		if r.enc.app.StreamID == "s" {
			versions = append(versions, r.recs[0].StreamVersion)
		}
	}
	if len(versions) != 3 || versions[0] != 1 || versions[1] != 2 || versions[2] != 3 {
		t.Fatalf("stream s versions = %v, want [1 2 3] in submission order", versions)
	}
	if br, err := s.VerifyStream(ctx, "s"); err != nil || br != nil {
		t.Fatalf("VerifyStream = %+v, %v; want an intact chain", br, err)
	}
	if tx := batch[0].recs[0].TxID; batch[3].recs[0].TxID != tx {
		t.Fatalf("group written in transactions %d and %d, want one", tx, batch[3].recs[0].TxID)
	}
}

// TestGroupCommitIsAllOrNothing fails the last statement of a group's
// batch (a several-event append the database refuses) after the
// set-based one has written its rows: nothing of the group may stay, and
// each member, retried alone, gets its own outcome.
func TestGroupCommitIsAllOrNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newCountingStore(t)

	account := uuid.New()
	apps := []Append{
		{StreamID: "a", AccountID: account, Events: []domain.Event{counted{N: 1}}},
		{StreamID: "b", AccountID: account, Events: []domain.Event{counted{N: 2}}},
		{StreamID: "bad\x00", AccountID: account, Events: []domain.Event{counted{N: 3}, counted{N: 4}}},
	}
	var encs []encoded
	for _, a := range apps {
		e, err := s.encode(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		encs = append(encs, e)
	}
	if _, _, err := s.sendAppends(ctx, s.pool, encs); err == nil {
		t.Fatal("a group with an append the database refuses was written")
	}
	if n, err := s.Count(ctx); err != nil || n != 0 {
		t.Fatalf("events after the failed group = %d, %v; want none", n, err)
	}

	var batch []*groupReq
	for _, a := range apps {
		e, _ := s.encode(context.Background(), a)
		batch = append(batch, &groupReq{ctx: ctx, enc: e, done: make(chan struct{})})
	}
	(&groupCommitter{}).commit(s, batch)
	if batch[0].err != nil || batch[1].err != nil || batch[2].err == nil {
		t.Fatalf("outcomes %v, %v, %v; want the two good appends written and the bad one refused", batch[0].err, batch[1].err, batch[2].err)
	}
	if n, err := s.Count(ctx); err != nil || n != 2 {
		t.Fatalf("events = %d, %v; want the two good ones, once each", n, err)
	}
}
