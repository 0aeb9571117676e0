package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

type noted struct {
	N    int    `json:"n"`
	Text string `json:"text,omitempty"`
}

func (noted) EventType() string { return "test.noted" }

func registry() *domain.Registry {
	r := domain.NewEmptyRegistry()
	domain.Register[noted](r)
	return r
}

// newStore returns a migrated store in a fresh schema, and its pool.
func newStore(t testing.TB, opts ...eventstore.Option) (*eventstore.Store, *pgxpool.Pool) {
	t.Helper()
	url := testenv.Schema(t)
	if err := eventstore.Migrate(context.Background(), url, nil); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	pool := testenv.Pool(t, url)
	s := eventstore.New(pool, registry(), opts...)
	t.Cleanup(s.Close)
	return s, pool
}

var account = uuid.MustParse("00000000-0000-0000-0000-0000000000aa")

func appendN(stream string, expected int64, ns ...int) eventstore.Append {
	a := eventstore.Append{StreamID: stream, ExpectedVersion: expected, AccountID: account}
	for _, n := range ns {
		a.Events = append(a.Events, noted{N: n})
	}
	return a
}

func TestAppendAndReadStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	campaign := uuid.New()
	a := appendN("lead-1", 0, 1, 2)
	a.CampaignID = campaign
	a.Metadata = eventstore.Metadata{ActorTokenID: "tok", RequestID: "req", CorrelationID: "cor", CausationID: "cau"}
	out, err := s.Append(ctx, a)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if got := len(out.Records); got != 2 {
		t.Fatalf("appended %d records, want 2", got)
	}
	if _, err := s.Append(ctx, appendN("lead-1", 2, 3)); err != nil {
		t.Fatalf("second Append: %v", err)
	}
	recs, err := s.ReadStream(ctx, "lead-1", eventstore.ReadOptions{})
	if err != nil {
		t.Fatalf("ReadStream: %v", err)
	}
	if len(recs) != 3 {
		t.Fatalf("read %d records, want 3", len(recs))
	}
	for i, r := range recs {
		if r.StreamVersion != int64(i+1) {
			t.Errorf("record %d version = %d, want %d", i, r.StreamVersion, i+1)
		}
		if got, want := r.Event.(noted).N, i+1; got != want {
			t.Errorf("record %d N = %d, want %d", i, got, want)
		}
	}
	first := recs[0]
	if first.EventID != out.Records[0].EventID || first.Position != out.Records[0].Position {
		t.Errorf("read back id/position %v/%d, appended %v/%d", first.EventID, first.Position, out.Records[0].EventID, out.Records[0].Position)
	}
	if first.Metadata != a.Metadata {
		t.Errorf("Metadata = %+v, want %+v", first.Metadata, a.Metadata)
	}
	if first.CampaignID != campaign || first.AccountID != account || first.Type != "test.noted" {
		t.Errorf("record = %+v, want campaign %v account %v type test.noted", first, campaign, account)
	}
	if string(first.Hash) != string(out.Records[0].Hash) || string(recs[1].PrevHash) != string(recs[0].Hash) {
		t.Errorf("hash chain not linked")
	}
	upTo, err := s.ReadStream(ctx, "lead-1", eventstore.ReadOptions{UpToVersion: 2})
	if err != nil || len(upTo) != 2 {
		t.Errorf("ReadStream up to version 2 = %d records, %v; want 2", len(upTo), err)
	}
	before, err := s.ReadStream(ctx, "lead-1", eventstore.ReadOptions{UpTo: first.RecordedAt.Add(-time.Second)})
	if err != nil || len(before) != 0 {
		t.Errorf("ReadStream before first event = %d records, %v; want 0", len(before), err)
	}
	v, err := s.StreamVersion(ctx, "lead-1")
	if err != nil || v != 3 {
		t.Errorf("StreamVersion = %d, %v; want 3", v, err)
	}
}

// inBothCommitModes runs test in parallel subtests on a fresh store
// without and with group commit.
func inBothCommitModes(t *testing.T, test func(t *testing.T, s *eventstore.Store)) {
	for _, group := range []bool{false, true} {
		t.Run(fmt.Sprintf("group_commit=%v", group), func(t *testing.T) {
			t.Parallel()
			var opts []eventstore.Option
			if group {
				opts = append(opts, eventstore.WithGroupCommit(64, 0))
			}
			s, _ := newStore(t, opts...)
			test(t, s)
		})
	}
}

// TestOneEventAppendsChain covers the one-event append at each kind of
// expected version: a new stream, a given version, AnyVersion, and the
// conflicts of the first two, alone and through group commit; the chain
// they write verifies, and what they return is what was stored.
func TestOneEventAppendsChain(t *testing.T) {
	t.Parallel()
	inBothCommitModes(t, func(t *testing.T, s *eventstore.Store) {
		ctx := context.Background()
		meta := eventstore.Metadata{ActorTokenID: "tok", RequestID: "req"}
		var returned []eventstore.Record
		for i, expected := range []int64{0, 1, eventstore.AnyVersion} {
			a := appendN("one", expected, i)
			a.CampaignID, a.Metadata = uuid.New(), meta
			out, err := s.Append(ctx, a)
			if err != nil || len(out.Records) != 1 || out.Records[0].StreamVersion != int64(i+1) {
				t.Fatalf("append %d at %d = %+v, %v; want version %d", i, expected, out.Records, err, i+1)
			}
			returned = append(returned, out.Records[0])
		}
		for _, expected := range []int64{0, 1} {
			if _, err := s.Append(ctx, appendN("one", expected, 9)); !errors.Is(err, eventstore.ErrVersionConflict) {
				t.Fatalf("append at %d to a stream at 3: %v, want a version conflict", expected, err)
			}
		}
		stored, err := s.ReadStream(ctx, "one", eventstore.ReadOptions{})
		if err != nil || len(stored) != 3 {
			t.Fatalf("ReadStream = %d records, %v; want 3", len(stored), err)
		}
		for i, r := range stored {
			if string(r.Hash) != string(returned[i].Hash) || r.EventID != returned[i].EventID || r.Position != returned[i].Position {
				t.Fatalf("version %d: stored %x at %d, returned %x at %d", i+1, r.Hash, r.Position, returned[i].Hash, returned[i].Position)
			}
			if i > 0 && string(r.PrevHash) != string(stored[i-1].Hash) {
				t.Fatalf("version %d is not chained to version %d", i+1, i)
			}
		}
		if br, err := s.VerifyStream(ctx, "one"); err != nil || br != nil {
			t.Fatalf("VerifyStream = %+v, %v; want an intact chain", br, err)
		}
	})
}

func TestAppendVersionConflicts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	if _, err := s.Append(ctx, appendN("s", 0, 1)); err != nil {
		t.Fatalf("Append: %v", err)
	}
	for _, expected := range []int64{0, 2, 7} {
		_, err := s.Append(ctx, appendN("s", expected, 2))
		if !errors.Is(err, eventstore.ErrVersionConflict) {
			t.Errorf("Append at expected %d: err = %v, want ErrVersionConflict", expected, err)
		}
	}
	if _, err := s.Append(ctx, appendN("s", eventstore.AnyVersion, 2)); err != nil {
		t.Fatalf("Append at AnyVersion: %v", err)
	}
	// Several streams are all or nothing.
	_, err := s.Append(ctx, appendN("other", 0, 1), appendN("s", 1, 3))
	if !errors.Is(err, eventstore.ErrVersionConflict) {
		t.Fatalf("multi-stream Append err = %v, want ErrVersionConflict", err)
	}
	if v, _ := s.StreamVersion(ctx, "other"); v != 0 {
		t.Errorf("other stream version after failed multi-stream append = %d, want 0", v)
	}
	if n, _ := s.Count(ctx); n != 2 {
		t.Errorf("Count = %d, want 2", n)
	}
}

// TestAppendInlineWritesManyAppendsTogether gives AppendInline one-event
// appends to new streams, a second append to one of them and a
// several-event append, as a batch create and an account create do: every
// append lands, chained, in one transaction that the inline step sees
// whole; and one stale version among them writes nothing at all.
func TestAppendInlineWritesManyAppendsTogether(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	apps := []eventstore.Append{appendN("a", 0, 1), appendN("b", 0, 2), appendN("a", 1, 3), appendN("c", 0, 4, 5), appendN("d", 0, 6)}
	var seen []eventstore.Record
	out, err := s.AppendInline(ctx, func(_ context.Context, _ pgx.Tx, recs []eventstore.Record) error {
		seen = recs
		return nil
	}, apps...)
	if err != nil {
		t.Fatalf("AppendInline: %v", err)
	}
	want := []struct {
		stream  string
		version int64
	}{{"a", 1}, {"b", 1}, {"a", 2}, {"c", 1}, {"c", 2}, {"d", 1}}
	if len(out.Records) != len(want) || len(seen) != len(want) {
		t.Fatalf("%d records returned, %d seen inline; want %d", len(out.Records), len(seen), len(want))
	}
	var last int64
	for i, r := range out.Records {
		if r.StreamID != want[i].stream || r.StreamVersion != want[i].version || r.TxID != out.Records[0].TxID {
			t.Fatalf("record %d = %s v%d in tx %d, want %s v%d in tx %d", i, r.StreamID, r.StreamVersion, r.TxID,
				want[i].stream, want[i].version, out.Records[0].TxID)
		}
		last = max(last, r.Position)
	}
	if out.LastPosition() != last {
		t.Fatalf("LastPosition = %d, want the highest position %d", out.LastPosition(), last)
	}
	if breaks, err := s.VerifyAll(ctx, nil); err != nil || len(breaks) != 0 {
		t.Fatalf("VerifyAll = %+v, %v; want intact chains", breaks, err)
	}

	ran := false
	_, err = s.AppendInline(ctx, func(context.Context, pgx.Tx, []eventstore.Record) error {
		ran = true
		return nil
	}, appendN("e", 0, 7), appendN("f", 0, 8), appendN("b", 0, 9), appendN("g", 0, 10, 11))
	if !errors.Is(err, eventstore.ErrVersionConflict) || ran {
		t.Fatalf("AppendInline with a stale version = %v, inline ran %v; want a conflict and no inline", err, ran)
	}
	if n, _ := s.Count(ctx); n != int64(len(want)) {
		t.Fatalf("Count = %d after the refused write, want %d", n, len(want))
	}
}

func TestConcurrentWritersOneWinner(t *testing.T) {
	t.Parallel()
	inBothCommitModes(t, func(t *testing.T, s *eventstore.Store) {
		ctx := context.Background()
		if _, err := s.Append(ctx, appendN("race", 0, 0)); err != nil {
			t.Fatalf("Append: %v", err)
		}
		const writers = 20
		var wins, conflicts atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := s.Append(ctx, appendN("race", 1, i))
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, eventstore.ErrVersionConflict):
					conflicts.Add(1)
				default:
					t.Errorf("Append: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 || conflicts.Load() != writers-1 {
			t.Fatalf("wins = %d, conflicts = %d; want 1 and %d", wins.Load(), conflicts.Load(), writers-1)
		}
		if v, _ := s.StreamVersion(ctx, "race"); v != 2 {
			t.Fatalf("version = %d, want 2", v)
		}
	})
}

// TestGroupCommitIsolatesAFailingAppend puts one append the database
// refuses (a NUL byte in its stream id) among concurrent ones: the group
// transaction fails, every member is retried alone, and each gets its own
// outcome.
func TestGroupCommitIsolatesAFailingAppend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t, eventstore.WithGroupCommit(64, 0))
	const writers = 30
	var wg sync.WaitGroup
	errs := make([]error, writers)
	start := make(chan struct{})
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("ok-%d", i)
			if i == writers/2 {
				stream = "bad\x00stream"
			}
			<-start
			_, errs[i] = s.Append(ctx, appendN(stream, 0, i))
		}()
	}
	close(start)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("appends still waiting after 30 s: the group committer is stuck")
	}
	for i, err := range errs {
		if (err != nil) != (i == writers/2) {
			t.Fatalf("append %d: %v; want only append %d to fail", i, err, writers/2)
		}
	}
	if n, err := s.Count(ctx); err != nil || n != writers-1 {
		t.Fatalf("events = %d, %v; want %d", n, err, writers-1)
	}
}

// TestGroupCommitMixesAppendShapes gathers, in groups, one-event appends
// to new streams, to a stream that already exists (a conflict) and to
// existing streams at their version and at AnyVersion, and a several-event
// append: each gets its own outcome, the returned hashes are the stored
// ones, and every chain verifies.
func TestGroupCommitMixesAppendShapes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newStore(t, eventstore.WithGroupCommit(64, 20*time.Millisecond))
	const existing, fresh = 8, 8
	for i := range existing {
		if _, err := s.Append(ctx, appendN(fmt.Sprintf("old-%d", i), 0, 0, 1)); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	if _, err := s.Append(ctx, appendN("taken", 0, 0)); err != nil {
		t.Fatalf("Append: %v", err)
	}
	type outcome struct {
		recs []eventstore.Record
		err  error
	}
	apps := []eventstore.Append{appendN("taken", 0, 1), appendN("multi", 0, 1, 2, 3)}
	for i := range existing {
		expected := int64(2)
		if i%2 == 0 {
			expected = eventstore.AnyVersion
		}
		apps = append(apps, appendN(fmt.Sprintf("old-%d", i), expected, 2))
	}
	for i := range fresh {
		apps = append(apps, appendN(fmt.Sprintf("fresh-%d", i), 0, i))
	}
	outs := make([]outcome, len(apps))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, a := range apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			got, err := s.Append(ctx, a)
			outs[i] = outcome{got.Records, err}
		}()
	}
	close(start)
	wg.Wait()

	if !errors.Is(outs[0].err, eventstore.ErrVersionConflict) {
		t.Fatalf("append to an existing stream at version 0: %v, want a version conflict", outs[0].err)
	}
	for i, o := range outs[1:] {
		a := apps[i+1]
		if o.err != nil || len(o.recs) != len(a.Events) {
			t.Fatalf("append to %s: %d records, %v; want %d", a.StreamID, len(o.recs), o.err, len(a.Events))
		}
		for _, r := range o.recs {
			stored, err := s.ReadStream(ctx, a.StreamID, eventstore.ReadOptions{UpToVersion: r.StreamVersion})
			if err != nil {
				t.Fatalf("ReadStream: %v", err)
			}
			last := stored[len(stored)-1]
			// PrevHash may be left out of a returned record (ReadStream has it).
			if last.EventID != r.EventID || string(last.Hash) != string(r.Hash) ||
				len(r.PrevHash) > 0 && string(last.PrevHash) != string(r.PrevHash) {
				t.Fatalf("%s@%d: returned record %x (prev %x) is not the stored %x (prev %x)",
					a.StreamID, r.StreamVersion, r.Hash, r.PrevHash, last.Hash, last.PrevHash)
			}
		}
		if want := map[bool]int64{true: 3, false: 1}[a.ExpectedVersion != 0]; o.recs[0].StreamVersion != want {
			t.Fatalf("append to %s at %d landed at version %d, want %d", a.StreamID, a.ExpectedVersion, o.recs[0].StreamVersion, want)
		}
	}
	breaks, err := s.VerifyAll(ctx, nil)
	if err != nil || len(breaks) != 0 {
		t.Fatalf("VerifyAll = %+v, %v; want no break", breaks, err)
	}
	var groups int
	if err := pool.QueryRow(ctx, `SELECT count(DISTINCT tx_id) FROM events`).Scan(&groups); err != nil {
		t.Fatal(err)
	}
	if groups >= len(apps) {
		t.Fatalf("%d appends in %d transactions: nothing was grouped", len(apps)-1, groups)
	}
}

// TestReadAllOrdersTransactionIDsAsNumbers writes events whose
// transaction ids compare differently as text ("10" < "9") than as
// numbers: the log's commit order is the numeric one.
func TestReadAllOrdersTransactionIDsAsNumbers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newStore(t)
	for _, tx := range []string{"10", "9"} {
		if _, err := pool.Exec(ctx, `INSERT INTO events (tx_id, stream_id, stream_version, event_id, event_type, account_id,
			data, recorded_at, hash) VALUES ($1::text::xid8, 'tx-'||$1, 1, gen_random_uuid(), 'test.noted', $2, '{}', now(), '\x00')`,
			tx, account); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := s.ReadAll(ctx, eventstore.Cursor{}, 10)
	if err != nil || len(recs) != 2 {
		t.Fatalf("ReadAll = %d, %v; want 2", len(recs), err)
	}
	if recs[0].TxID != 9 || recs[1].TxID != 10 {
		t.Fatalf("ReadAll order = tx %d, %d; want 9, 10", recs[0].TxID, recs[1].TxID)
	}
	if head, err := s.Head(ctx); err != nil || head.TxID != 10 {
		t.Fatalf("Head = %+v, %v; want transaction 10", head, err)
	}
	page, err := s.ReadAll(ctx, recs[0].Cursor(), 10)
	if err != nil || len(page) != 1 || page[0].TxID != 10 {
		t.Fatalf("ReadAll after tx 9 = %+v, %v; want the tx 10 event", page, err)
	}
}

func TestUpdateRetriesOnConflict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)
	var calls atomic.Int32
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Update(ctx, eventstore.Update{StreamID: "counter", IfVersion: eventstore.AnyVersion, AccountID: account,
				Decide: func(history []eventstore.Record) ([]domain.Event, error) {
					calls.Add(1)
					return []domain.Event{noted{N: i}}, nil
				}})
			if err != nil {
				t.Errorf("Update: %v", err)
			}
		}()
	}
	wg.Wait()
	if v, _ := s.StreamVersion(ctx, "counter"); v != 10 {
		t.Fatalf("version = %d, want 10 (every update applied once)", v)
	}
	_, err := s.Update(ctx, eventstore.Update{StreamID: "counter", IfVersion: 3, AccountID: account,
		Decide: func([]eventstore.Record) ([]domain.Event, error) { return []domain.Event{noted{}}, nil }})
	if !errors.Is(err, eventstore.ErrVersionConflict) {
		t.Fatalf("Update with stale IfVersion err = %v, want ErrVersionConflict", err)
	}
	out, err := s.Update(ctx, eventstore.Update{StreamID: "counter", IfVersion: 10, AccountID: account,
		Decide: func([]eventstore.Record) ([]domain.Event, error) { return nil, nil }})
	if err != nil || len(out.Records) != 0 {
		t.Fatalf("no-op Update = %d records, %v; want none", len(out.Records), err)
	}
}

// TestTailingReaderSkipsNothing holds transactions open on purpose while
// later positions commit: ReadAll must not pass the held ones, and a tailing
// loop must see every committed event exactly once.
func TestTailingReaderSkipsNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := newStore(t)

	release := make(chan struct{})
	held := make(chan error, 1)
	inserted := make(chan struct{})
	go func() {
		_, err := s.AppendInline(ctx, func(context.Context, pgx.Tx, []eventstore.Record) error {
			close(inserted)
			<-release
			return nil
		}, appendN("held", 0, 1))
		held <- err
	}()
	<-inserted
	if _, err := s.Append(ctx, appendN("later", 0, 1, 2, 3)); err != nil {
		t.Fatalf("Append: %v", err)
	}
	recs, err := s.ReadAll(ctx, eventstore.Cursor{}, 100)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if len(recs) != 0 {
		t.Fatalf("ReadAll while an earlier transaction is open returned %d events, want 0", len(recs))
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatalf("held append: %v", err)
	}
	// xmin is the whole database's: another test's transaction may hold
	// it a moment longer.
	testenv.CheckFor(t, 10*time.Second, func() error {
		recs, err = s.ReadAll(ctx, eventstore.Cursor{}, 100)
		if err != nil || len(recs) != 4 {
			return fmt.Errorf("ReadAll after commit = %d, %v; want 4", len(recs), err)
		}
		return nil
	})
	if recs[0].StreamID != "held" {
		t.Fatalf("first event is from %s, want the held transaction's", recs[0].StreamID)
	}

	// Many writers with random delays inside their transactions; a tailer
	// collects everything.
	const writers, each = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				stream := fmt.Sprintf("w%d-%d", w, i)
				_, err := s.AppendInline(ctx, func(context.Context, pgx.Tx, []eventstore.Record) error {
					time.Sleep(time.Duration((w*7+i*13)%5) * time.Millisecond)
					return nil
				}, appendN(stream, 0, i))
				if err != nil {
					t.Errorf("Append: %v", err)
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	seen := map[uuid.UUID]bool{}
	cursor := recs[len(recs)-1].Cursor()
	want := writers * each
	var got int
	deadline := time.Now().Add(60 * time.Second)
	for got < want && time.Now().Before(deadline) {
		page, err := s.ReadAll(ctx, cursor, 50)
		if err != nil {
			t.Fatalf("ReadAll: %v", err)
		}
		for _, r := range page {
			if seen[r.EventID] {
				t.Fatalf("event %v read twice", r.EventID)
			}
			if !cursor.Less(r.Cursor()) {
				t.Fatalf("cursor went backwards: %v after %v", r.Cursor(), cursor)
			}
			seen[r.EventID] = true
			cursor = r.Cursor()
			got++
		}
		if len(page) == 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	<-done
	if got != want {
		t.Fatalf("tailer saw %d events, want %d", got, want)
	}
	total, _ := s.Count(ctx)
	if int(total) != want+4 {
		t.Fatalf("Count = %d, want %d", total, want+4)
	}
}

func TestHashChainDetectsTampering(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := newStore(t)
	for _, stream := range []string{"a", "b", "c"} {
		if _, err := s.Append(ctx, appendN(stream, 0, 1, 2, 3)); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	if br, err := s.VerifyStream(ctx, "a"); err != nil || br != nil {
		t.Fatalf("VerifyStream on an intact stream = %+v, %v; want nil", br, err)
	}
	if _, err := pool.Exec(ctx, `UPDATE events SET data = '{"n": 99}' WHERE stream_id = 'a' AND stream_version = 2`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM events WHERE stream_id = 'b' AND stream_version = 2`); err != nil {
		t.Fatal(err)
	}
	br, err := s.VerifyStream(ctx, "a")
	if err != nil || br == nil || br.StreamVersion != 2 {
		t.Fatalf("VerifyStream after edit = %+v, %v; want a break at version 2", br, err)
	}
	var checked int64
	breaks, err := s.VerifyAll(ctx, func(n int64) { checked = n })
	if err != nil {
		t.Fatalf("VerifyAll: %v", err)
	}
	got := map[string]int64{}
	for _, b := range breaks {
		got[b.StreamID] = b.StreamVersion
	}
	if len(got) != 2 || got["a"] != 2 || got["b"] != 3 {
		t.Fatalf("VerifyAll breaks = %+v, want a@2 and b@3", breaks)
	}
	if checked != 8 {
		t.Errorf("progress reported %d events checked, want 8", checked)
	}
}

func TestMigrateTwiceIsNoop(t *testing.T) {
	t.Parallel()
	url := testenv.Schema(t)
	for i := range 2 {
		if err := eventstore.Migrate(context.Background(), url, nil); err != nil {
			t.Fatalf("Migrate run %d: %v", i+1, err)
		}
	}
}
