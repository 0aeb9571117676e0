package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

var eraseSchema = domain.Schema{Fields: []domain.Field{
	{Key: "name", Label: "Name", Type: domain.TypeText},
	{Key: "email", Label: "Email", Type: domain.TypeEmail},
	{Key: "source", Label: "Source", Type: domain.TypeSelect, Select: "source"},
}}

// leadStore is a store that speaks the service's own events.
func leadStore(t *testing.T) (*eventstore.Store, *pgxpool.Pool) {
	t.Helper()
	url := testenv.Schema(t)
	if err := eventstore.Migrate(context.Background(), url, nil); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	pool := testenv.Pool(t, url)
	s := eventstore.New(pool, domain.NewRegistry())
	t.Cleanup(s.Close)
	return s, pool
}

// writeLead appends a lead with personal values, an update and a file,
// as any build wrote them: erasing a lead written before erasure existed
// is this same path.
func writeLead(t *testing.T, s *eventstore.Store, name string) uuid.UUID {
	t.Helper()
	id, campaign := uuid.New(), uuid.New()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	_, err := s.Append(context.Background(), eventstore.Append{StreamID: domain.LeadStream(id), AccountID: account,
		CampaignID: campaign, Events: []domain.Event{
			domain.LeadCreated{LeadID: id, CampaignID: campaign, AccountID: account, Status: "new",
				Fields: domain.Fields{"name": name, "email": name + "@example.com", "source": "website"}, At: at},
			domain.LeadUpdated{LeadID: id, Fields: domain.Fields{"name": name + " Jr"}, StatusFrom: "new", StatusTo: "won", At: at},
			domain.FileAttached{LeadID: id, File: domain.FileMeta{ID: uuid.New(), Name: name + ".pdf", ContentType: "application/pdf",
				Size: 3, SHA256: "abc"}, At: at},
		}})
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return id
}

func erasure(id uuid.UUID) eventstore.Erasure {
	return eventstore.Erasure{StreamID: domain.LeadStream(id), AccountID: account,
		Metadata: eventstore.Metadata{ActorTokenID: "admin"},
		Decide: func(h []eventstore.Record) (domain.LeadErased, error) {
			return domain.FoldLead(eventstore.Events(h)).Erase("asked", "admin", eraseSchema, time.Now().UTC())
		},
		Scrub: func(r eventstore.Record) (json.RawMessage, bool, error) {
			return domain.ScrubLeadEvent(r.Type, r.Data, eraseSchema)
		}}
}

func TestEraseKeepsTheChainVerifiable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := leadStore(t)
	ada, bob := writeLead(t, s, "Ada"), writeLead(t, s, "Bob")
	out, err := s.Erase(ctx, erasure(ada))
	if err != nil {
		t.Fatalf("Erase: %v", err)
	}
	ev := out.Records[0].Event.(domain.LeadErased)
	if !ev.ChainIntact || len(ev.Rows) != 3 || out.Records[0].StreamVersion != 4 {
		t.Fatalf("lead.erased %+v at v%d", ev, out.Records[0].StreamVersion)
	}
	var dump string
	if err := pool.QueryRow(ctx, `SELECT string_agg(data::text, ' ') FROM events WHERE stream_id = $1`, domain.LeadStream(ada)).Scan(&dump); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(dump, "Ada") || !strings.Contains(dump, `"website"`) || !strings.Contains(dump, `"won"`) {
		t.Fatalf("the erased stream holds %s", dump)
	}
	var erased int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM erased_streams WHERE stream_id = $1 AND position = $2`,
		domain.LeadStream(ada), out.Records[0].Position).Scan(&erased); err != nil || erased != 1 {
		t.Fatalf("erased_streams rows %d, %v", erased, err)
	}
	if br, err := s.VerifyStream(ctx, domain.LeadStream(ada)); err != nil || br != nil {
		t.Fatalf("VerifyStream after erasure = %+v, %v; want intact", br, err)
	}
	if breaks, err := s.VerifyAll(ctx, nil); err != nil || len(breaks) != 0 {
		t.Fatalf("VerifyAll after erasure = %+v, %v", breaks, err)
	}
	t.Run("erasing twice is refused as erased", func(t *testing.T) {
		if _, err := s.Erase(ctx, erasure(ada)); !errors.Is(err, domain.ErrLeadErased) {
			t.Fatalf("second Erase: %v", err)
		}
	})

	// Hand edits, of an erased row and of another lead's row, are found.
	if _, err := pool.Exec(ctx, `UPDATE events SET data = jsonb_set(data, '{fields,name}', '"Eve"') WHERE stream_id = $1 AND stream_version = 1`,
		domain.LeadStream(ada)); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE events SET data = jsonb_set(data, '{fields,name}', '"Eve"') WHERE stream_id = $1 AND stream_version = 2`,
		domain.LeadStream(bob)); err != nil {
		t.Fatal(err)
	}
	breaks, err := s.VerifyAll(ctx, nil)
	if err != nil || len(breaks) != 2 {
		t.Fatalf("VerifyAll after hand edits = %+v, %v; want two breaks", breaks, err)
	}
	for _, b := range breaks {
		want := map[string]int64{domain.LeadStream(ada): 1, domain.LeadStream(bob): 2}[b.StreamID]
		if b.StreamVersion != want {
			t.Errorf("break %+v, want version %d", b, want)
		}
	}
	if br, _ := s.VerifyStream(ctx, domain.LeadStream(ada)); br == nil || !strings.Contains(br.Reason, "erasure recorded") {
		t.Fatalf("the erased row's edit: %+v", br)
	}
}

func TestEraseRecordsABrokenChain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, pool := leadStore(t)
	id := writeLead(t, s, "Ada")
	// Tampered before the erasure: the scrub must not launder it.
	if _, err := pool.Exec(ctx, `UPDATE events SET data = jsonb_set(data, '{status_to}', '"lost"') WHERE stream_id = $1 AND stream_version = 2`,
		domain.LeadStream(id)); err != nil {
		t.Fatal(err)
	}
	out, err := s.Erase(ctx, erasure(id))
	if err != nil {
		t.Fatalf("Erase: %v", err)
	}
	if out.Records[0].Event.(domain.LeadErased).ChainIntact {
		t.Fatal("lead.erased says the tampered chain was intact")
	}
	if br, err := s.VerifyStream(ctx, domain.LeadStream(id)); err != nil || br == nil {
		t.Fatalf("VerifyStream = %+v, %v; want the break still reported", br, err)
	}
}

func TestEraseWinsOrLosesAgainstAConcurrentWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _ := leadStore(t)
	id := writeLead(t, s, "Ada")
	done := make(chan error, 1)
	go func() {
		_, err := s.Update(ctx, eventstore.Update{StreamID: domain.LeadStream(id), IfVersion: eventstore.AnyVersion, AccountID: account,
			Decide: func(h []eventstore.Record) ([]domain.Event, error) {
				return domain.FoldLead(eventstore.Events(h)).Update(map[string]any{"name": "Ada Late"}, "", eraseSchema, time.Now().UTC())
			}})
		done <- err
	}()
	if _, err := s.Erase(ctx, erasure(id)); err != nil {
		t.Fatalf("Erase: %v", err)
	}
	err := <-done
	recs, rerr := s.ReadStream(ctx, domain.LeadStream(id), eventstore.ReadOptions{})
	if rerr != nil {
		t.Fatal(rerr)
	}
	last := recs[len(recs)-1]
	switch {
	case err == nil:
		// The update came first: the erasure covers it.
		if last.Type != "lead.erased" || len(recs) != 5 {
			t.Fatalf("update then erase: last %s of %d", last.Type, len(recs))
		}
	case errors.Is(err, domain.ErrLeadErased):
	default:
		t.Fatalf("concurrent update: %v", err)
	}
	for _, r := range recs {
		if strings.Contains(string(r.Data), "Ada") {
			t.Fatalf("v%d escaped the erasure: %s", r.StreamVersion, r.Data)
		}
	}
}
