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

// TestGroupCommitChainsOneStreamTwiceInOneGroup hands one group several
// one-event appends to the same stream at AnyVersion, as concurrent
// callers can: each lands on its own version, chained to the one before,
// none is told of a conflict.
func TestGroupCommitChainsOneStreamTwiceInOneGroup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testenv.Schema(t)
	if err := Migrate(ctx, url, nil); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	reg := domain.NewEmptyRegistry()
	domain.Register[counted](reg)
	s := New(testenv.Pool(t, url), reg)
	t.Cleanup(s.Close)

	account := uuid.New()
	var batch []*groupReq
	for i, stream := range []string{"s", "other", "s", "s"} {
		e, err := s.encode(Append{StreamID: stream, ExpectedVersion: AnyVersion, AccountID: account,
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
