package domain_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
)

var (
	leadID = uuid.MustParse("00000000-0000-0000-0000-0000000000e1")
	fileA  = domain.FileMeta{ID: uuid.MustParse("00000000-0000-0000-0000-00000000fa01"), Name: "quote.pdf", ContentType: "application/pdf", Size: 3, SHA256: "ab"}
	fileB  = domain.FileMeta{ID: uuid.MustParse("00000000-0000-0000-0000-00000000fa02"), Name: "photo.jpg", ContentType: "image/jpeg", Size: 9, SHA256: "cd"}
)

func leadCreated(status string, fields domain.Fields) domain.LeadCreated {
	return domain.LeadCreated{LeadID: leadID, CampaignID: campID, AccountID: acct, Status: status, Fields: fields, At: t0}
}

func TestCreateLeadDecisions(t *testing.T) {
	t.Parallel()
	s := fullSchema()
	create := func(status string, in map[string]any) func(domain.Lead) ([]domain.Event, error) {
		return func(domain.Lead) ([]domain.Event, error) {
			return domain.CreateLead(leadID, campID, acct, status, in, s, t0)
		}
	}
	runDecisions(t, domain.FoldLead, []decision[domain.Lead]{
		{name: "default status is the first", when: create("", map[string]any{"name": "Ada"}),
			then: []domain.Event{leadCreated("new", domain.Fields{"name": "Ada"})}},
		{name: "given status", when: create("lost", map[string]any{"name": "Ada"}),
			then: []domain.Event{leadCreated("lost", domain.Fields{"name": "Ada"})}},
		{name: "fields normalized", when: create("", map[string]any{"name": "Ada", "budget": json.Number("10"), "email": nil,
			"interests": []any{"solar", "solar"}, "seen_at": "2026-03-01T10:00:00+01:00"}),
			then: []domain.Event{leadCreated("new", domain.Fields{"name": "Ada", "budget": 10.0, "interests": []string{"solar"},
				"seen_at": "2026-03-01T09:00:00Z"})}},
		{name: "unknown status", when: create("gone", map[string]any{"name": "Ada"}),
			invalid: []fc{{"status", domain.CodeUnknownStatus}}},
		{name: "status is case-sensitive", when: create("New", map[string]any{"name": "Ada"}),
			invalid: []fc{{"status", domain.CodeUnknownStatus}}},
		{name: "field and status problems together", when: create("gone", map[string]any{"colour": "red"}),
			invalid: []fc{{"fields.colour", domain.CodeUnknownField}, {"fields.name", domain.CodeRequired}, {"status", domain.CodeUnknownStatus}}},
	})
	t.Run("a schema without statuses gives no status", func(t *testing.T) {
		events, err := domain.CreateLead(leadID, campID, acct, "", nil, domain.Schema{}, t0)
		if err != nil || events[0].(domain.LeadCreated).Status != "" {
			t.Fatalf("%v %v", events, err)
		}
	})
}

func TestLeadUpdateDecisions(t *testing.T) {
	t.Parallel()
	s := fullSchema()
	created := []domain.Event{leadCreated("new", domain.Fields{"name": "Ada", "budget": 10.0, "interests": []string{"solar"}, "email": "a@b.co"})}
	update := func(in map[string]any, status string) func(domain.Lead) ([]domain.Event, error) {
		return func(l domain.Lead) ([]domain.Event, error) { return l.Update(in, status, s, t1) }
	}
	updated := func(fields domain.Fields, from, to string) []domain.Event {
		return []domain.Event{domain.LeadUpdated{LeadID: leadID, Fields: fields, StatusFrom: from, StatusTo: to, At: t1}}
	}
	runDecisions(t, domain.FoldLead, []decision[domain.Lead]{
		{name: "nothing", given: created, when: update(nil, ""), then: nil},
		{name: "same values", given: created,
			when: update(map[string]any{"name": "Ada", "budget": json.Number("1e1"), "interests": []any{"solar", "solar"}, "site": nil}, "new"),
			then: nil},
		{name: "only the changed fields", given: created,
			when: update(map[string]any{"name": "Ada", "budget": 12, "phone": "+1 555 0100"}, ""),
			then: updated(domain.Fields{"budget": 12.0, "phone": "+1 555 0100"}, "", "")},
		{name: "null clears a present field only", given: created, when: update(map[string]any{"email": nil, "site": nil}, ""),
			then: updated(domain.Fields{"email": nil}, "", "")},
		{name: "multiselect order is a change", given: append(created, domain.LeadUpdated{LeadID: leadID,
			Fields: domain.Fields{"interests": []string{"solar", "battery"}}, At: t0}),
			when: update(map[string]any{"interests": []any{"battery", "solar"}}, ""),
			then: updated(domain.Fields{"interests": []string{"battery", "solar"}}, "", "")},
		{name: "status only", given: created, when: update(nil, "won"), then: updated(nil, "new", "won")},
		{name: "status from the latest", given: append(created, domain.LeadUpdated{LeadID: leadID, StatusFrom: "new", StatusTo: "won", At: t0}),
			when: update(nil, "lost"), then: updated(nil, "won", "lost")},
		{name: "status and fields", given: created, when: update(map[string]any{"consent": true}, "lost"),
			then: updated(domain.Fields{"consent": true}, "new", "lost")},
		{name: "same values after a JSON round trip", given: []domain.Event{roundTrip(t, created[0])},
			when: update(map[string]any{"budget": 10, "interests": []string{"solar"}}, ""), then: nil},
		{name: "unknown status", given: created, when: update(nil, "gone"), invalid: []fc{{"status", domain.CodeUnknownStatus}}},
		{name: "required cannot be cleared", given: created, when: update(map[string]any{"name": nil}, "won"),
			invalid: []fc{{"fields.name", domain.CodeRequired}}},
		{name: "bad values and status together", given: created, when: update(map[string]any{"budget": "x"}, "gone"),
			invalid: []fc{{"fields.budget", domain.CodeWrongType}, {"status", domain.CodeUnknownStatus}}},
		{name: "on a missing lead", when: update(map[string]any{"name": "x"}, ""), sentinel: domain.ErrLeadNotFound},
	})
}

// roundTrip encodes and decodes e through the registry, as the store does.
func roundTrip(t *testing.T, e domain.Event) domain.Event {
	t.Helper()
	r := domain.NewRegistry()
	name, data, err := r.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	back, err := r.Decode(name, data)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

func TestLeadFileDecisions(t *testing.T) {
	t.Parallel()
	created := []domain.Event{leadCreated("new", domain.Fields{"name": "Ada"})}
	withA := append(append([]domain.Event{}, created...), domain.FileAttached{LeadID: leadID, File: fileA, At: t0})
	attach := func(f domain.FileMeta) func(domain.Lead) ([]domain.Event, error) {
		return func(l domain.Lead) ([]domain.Event, error) { return l.AttachFile(f, t1) }
	}
	remove := func(id uuid.UUID) func(domain.Lead) ([]domain.Event, error) {
		return func(l domain.Lead) ([]domain.Event, error) { return l.RemoveFile(id, t1) }
	}
	long := fileB
	long.Name = strings.Repeat("n", 256)
	runDecisions(t, domain.FoldLead, []decision[domain.Lead]{
		{name: "attach", given: created, when: attach(fileA), then: []domain.Event{domain.FileAttached{LeadID: leadID, File: fileA, At: t1}}},
		{name: "attach a second", given: withA, when: attach(fileB), then: []domain.Event{domain.FileAttached{LeadID: leadID, File: fileB, At: t1}}},
		{name: "attach without name and type", given: created, when: attach(domain.FileMeta{ID: fileB.ID}),
			invalid: []fc{{"file.name", domain.CodeInvalidValue}, {"file.content_type", domain.CodeRequired}}},
		{name: "attach with a 256-byte name", given: created, when: attach(long), invalid: []fc{{"file.name", domain.CodeInvalidValue}}},
		{name: "attach to a missing lead", when: attach(fileA), sentinel: domain.ErrLeadNotFound},
		{name: "remove", given: withA, when: remove(fileA.ID), then: []domain.Event{domain.FileRemoved{LeadID: leadID, FileID: fileA.ID, At: t1}}},
		{name: "remove an unknown file", given: withA, when: remove(fileB.ID), sentinel: domain.ErrFileNotFound},
		{name: "remove a removed file", given: append(append([]domain.Event{}, withA...), domain.FileRemoved{LeadID: leadID, FileID: fileA.ID, At: t0}),
			when: remove(fileA.ID), sentinel: domain.ErrFileNotFound},
		{name: "remove from a missing lead", when: remove(fileA.ID), sentinel: domain.ErrLeadNotFound},
	})
}

func TestFoldLead(t *testing.T) {
	t.Parallel()
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	history := []domain.Event{
		domain.LeadCreated{LeadID: leadID, CampaignID: campID, AccountID: acct, Status: "new",
			Fields: domain.Fields{"name": "Ada", "budget": 10.0, "email": "a@b.co"}, At: at(0)},
		domain.LeadUpdated{LeadID: leadID, Fields: domain.Fields{"budget": 12.0, "email": nil, "phone": "+1 555 0100"}, At: at(1)},
		domain.LeadUpdated{LeadID: leadID, StatusFrom: "new", StatusTo: "won", At: at(2)},
		domain.FileAttached{LeadID: leadID, File: fileA, At: at(3)},
		domain.FileAttached{LeadID: leadID, File: fileB, At: at(4)},
		domain.FileRemoved{LeadID: leadID, FileID: fileA.ID, At: at(5)},
	}
	want := domain.Lead{ID: leadID, CampaignID: campID, AccountID: acct, Status: "won",
		Fields: domain.Fields{"name": "Ada", "budget": 12.0, "phone": "+1 555 0100"}, Files: []domain.FileMeta{fileB},
		Version: 6, CreatedAt: at(0), UpdatedAt: at(5)}
	t.Run("in memory", func(t *testing.T) {
		if got := domain.FoldLead(history); !reflect.DeepEqual(got, want) {
			t.Fatalf("got  %+v\nwant %+v", got, want)
		}
	})
	t.Run("through the registry", func(t *testing.T) {
		stored := make([]domain.Event, len(history))
		for i, e := range history {
			stored[i] = roundTrip(t, e)
		}
		if got := domain.FoldLead(stored); !reflect.DeepEqual(got, want) {
			t.Fatalf("got  %+v\nwant %+v", got, want)
		}
	})
	t.Run("each step", func(t *testing.T) {
		var l domain.Lead
		if l.Exists() {
			t.Fatal("the zero lead exists")
		}
		for i, e := range history {
			next := l.Evolve(e)
			if next.Version != l.Version+1 || !next.Exists() {
				t.Fatalf("step %d: version %d after %d", i, next.Version, l.Version)
			}
			l = next
		}
	})
	t.Run("evolving does not change earlier states", func(t *testing.T) {
		first := domain.FoldLead(history[:1])
		_ = first.Evolve(history[1])
		withFile := first.Evolve(history[3])
		if first.Fields["budget"] != 10.0 || first.Fields["email"] != "a@b.co" || len(first.Files) != 0 || len(withFile.Files) != 1 {
			t.Fatalf("earlier state changed: %+v", first)
		}
	})
	t.Run("created without fields", func(t *testing.T) {
		l := domain.FoldLead([]domain.Event{domain.LeadCreated{LeadID: leadID, Status: "new", At: t0}})
		if l.Fields == nil || len(l.Fields) != 0 {
			t.Fatalf("fields %#v", l.Fields)
		}
	})
	t.Run("view and preview", func(t *testing.T) {
		l := domain.FoldLead(history[:3])
		v := l.View()
		if v.Status != "won" || !reflect.DeepEqual(v.Fields, l.Fields) || !v.CreatedAt.Equal(at(0)) || !v.UpdatedAt.Equal(at(2)) {
			t.Fatalf("view %+v", v)
		}
		p := l.Preview(history[3:])
		if !reflect.DeepEqual(p, want) || l.Version != 3 {
			t.Fatalf("preview %+v (lead version %d)", p, l.Version)
		}
	})
}
