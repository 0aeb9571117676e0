package domain_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/domain"
)

// sampleEvents has one fully populated value of every event the service
// writes, keyed by its stored name.
func sampleEvents() map[string]domain.Event {
	s := fullSchema()
	fid, exp := filterID, t0.Add(24*time.Hour)
	return map[string]domain.Event{
		"account.created":  domain.AccountCreated{AccountID: acct, Name: "Acme", At: t0},
		"campaign.created": domain.CampaignCreated{CampaignID: campID, AccountID: acct, Name: "Solar", Fields: s.Fields, Selects: s.Selects, Statuses: s.Statuses, At: t0},
		"campaign.renamed": domain.CampaignRenamed{CampaignID: campID, Name: "Wind", At: t1},
		"campaign.select_added": domain.SelectAdded{CampaignID: campID, Select: domain.Select{Key: "p", Label: "P",
			Options: []domain.Option{{Value: "a", Label: "A"}}}, At: t1},
		"campaign.select_option_added": domain.SelectOptionAdded{CampaignID: campID, Select: "source", Option: domain.Option{Value: "x", Label: "X"}, At: t1},
		"campaign.field_added": domain.FieldAdded{CampaignID: campID, Field: domain.Field{Key: "rel", Label: "Rel", Type: domain.TypeRelation,
			Required: true, Campaign: &otherID}, At: t1},
		"campaign.status_added": domain.StatusAdded{CampaignID: campID, Status: domain.Status{Slug: "callback", Label: "Call back"}, At: t1},
		"campaign.select_option_changed": domain.SelectOptionChanged{CampaignID: campID, Select: "source", Value: "partner-abc",
			Label: "Partner ABC (old)", Retired: true, At: t1},
		"campaign.field_changed": domain.FieldChanged{CampaignID: campID, Key: "budget", Label: "Budget (EUR)", Required: true,
			Position: 2, At: t1},
		"campaign.status_definition_changed": domain.StatusDefinitionChanged{CampaignID: campID, Slug: "contacted",
			Label: "Reached", Retired: true, Position: 3, At: t1},
		"campaign.retention_changed": domain.CampaignRetentionChanged{CampaignID: campID,
			Retention: &domain.Retention{EraseAfter: "730d", CountedFrom: domain.RetentionFromCreated}, At: t1},
		"filter.created": domain.FilterCreated{FilterID: fid, CampaignID: campID, AccountID: acct, Name: "F",
			Conditions: []domain.Condition{cond("source", domain.OpEq, "website"), cond("budget", domain.OpBetween, []any{1.0, 2.5}),
				cond("email", domain.OpEmpty, nil), cond("consent", domain.OpEq, true)},
			Any: [][]domain.Condition{{cond("status", domain.OpIn, []any{"new", "won"})}}, At: t0},
		"filter.updated": domain.FilterUpdated{FilterID: fid, Name: "G", Conditions: []domain.Condition{},
			Any: [][]domain.Condition{{cond("budget", domain.OpGt, 3.0)}, {cond("name", domain.OpContains, "a")}}, At: t1},
		"filter.deleted": domain.FilterDeleted{FilterID: fid, At: t1},
		"token.created": domain.TokenCreated{TokenID: tokID, AccountID: acct, CampaignID: &campID, FilterID: &fid, Name: "T",
			Permissions: []domain.Permission{domain.PermRead, domain.PermWrite}, ExpiresAt: &exp, SecretPrefix: "lsk_abcd",
			SecretLast4: "wxyz", DocsID: "d", At: t0},
		"token.updated": domain.TokenUpdated{TokenID: tokID, Name: ptr("U"), Permissions: []domain.Permission{domain.PermRead},
			FilterID: &fid, ClearFilter: true, ExpiresAt: &exp, ClearExpiry: true, At: t1},
		"token.rotated":  domain.TokenRotated{TokenID: tokID, SecretPrefix: "lsk_efgh", SecretLast4: "1234", PreviousValidUntil: exp, At: t1},
		"token.revealed": domain.TokenRevealed{TokenID: tokID, At: t1},
		"token.revoked":  domain.TokenRevoked{TokenID: tokID, At: t1},
		"lead.created": domain.LeadCreated{LeadID: leadID, CampaignID: campID, AccountID: acct, Status: "new",
			Fields: domain.Fields{"name": "Ada", "budget": 12.5, "consent": false, "interests": []string{"solar", "battery"}}, At: t0},
		"lead.updated": domain.LeadUpdated{LeadID: leadID, Fields: domain.Fields{"email": nil, "interests": []string{}, "budget": -1.0},
			StatusFrom: "new", StatusTo: "won", At: t1},
		"lead.file_attached": domain.FileAttached{LeadID: leadID, File: fileA, At: t1},
		"lead.file_removed":  domain.FileRemoved{LeadID: leadID, FileID: fileA.ID, At: t1},
		"lead.erased": domain.LeadErased{LeadID: leadID, Reason: "the person asked", Actor: "tok", Fields: []string{"email"},
			ChainIntact: true, Rows: []domain.ErasedRow{{Version: 1, Hash: "ab", Digest: "cd"}}, At: t1},
		"webhook.created": domain.WebhookCreated{WebhookID: hookID, AccountID: acct, CampaignID: campID, FilterID: &fid,
			URL: "https://hooks.example.com/leads", EventTypes: []string{"lead.created"}, At: t0},
		"webhook.updated": domain.WebhookUpdated{WebhookID: hookID, URL: ptr("https://example.org/h"), FilterID: &fid,
			ClearFilter: true, EventTypes: &[]string{}, At: t1},
		"webhook.secret_rotated":  domain.WebhookSecretRotated{WebhookID: hookID, PreviousValidUntil: exp, At: t1},
		"webhook.secret_revealed": domain.WebhookSecretRevealed{WebhookID: hookID, At: t1},
		"webhook.disabled":        domain.WebhookDisabled{WebhookID: hookID, Reason: domain.WebhookDisabledGone, Detail: "HTTP 410", At: t1},
		"webhook.enabled":         domain.WebhookEnabled{WebhookID: hookID, At: t1},
		"webhook.deleted":         domain.WebhookDeleted{WebhookID: hookID, At: t1},
	}
}

// storedForm is e as the aggregates see it after decoding: lead fields go
// through NormalizeStored (JSON arrays decode as []any).
func storedForm(e domain.Event) domain.Event {
	switch x := e.(type) {
	case domain.LeadCreated:
		x.Fields = domain.NormalizeStored(x.Fields)
		return x
	case domain.LeadUpdated:
		x.Fields = domain.NormalizeStored(x.Fields)
		return x
	}
	return e
}

func TestRegistryRoundTrip(t *testing.T) {
	t.Parallel()
	r := domain.NewRegistry()
	samples := sampleEvents()
	t.Run("every registered name has a sample and no more", func(t *testing.T) {
		var names []string
		for n := range samples {
			names = append(names, n)
		}
		slices.Sort(names)
		if got := r.Names(); !reflect.DeepEqual(got, names) {
			t.Fatalf("registered %v\nsamples    %v", got, names)
		}
		if !slices.IsSorted(r.Names()) {
			t.Fatal("Names is not sorted")
		}
	})
	for name, e := range samples {
		t.Run(name, func(t *testing.T) {
			if e.EventType() != name {
				t.Fatalf("%T is stored as %q, want %q", e, e.EventType(), name)
			}
			gotName, data, err := r.Encode(e)
			if err != nil || gotName != name {
				t.Fatalf("Encode: %q %v", gotName, err)
			}
			if !json.Valid(data) || !strings.HasPrefix(string(data), "{") {
				t.Fatalf("stored form %s", data)
			}
			back, err := r.Decode(name, data)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if reflect.TypeOf(back) != reflect.TypeOf(e) {
				t.Fatalf("decoded as %T, want %T", back, e)
			}
			if got := storedForm(back); !reflect.DeepEqual(got, e) {
				t.Fatalf("round trip\n got  %#v\n want %#v", got, e)
			}
			// Encoding the decoded value gives the same bytes.
			_, again, err := r.Encode(back)
			if err != nil || string(again) != string(data) {
				t.Fatalf("re-encoded %s\nfirst      %s (%v)", again, data, err)
			}
		})
	}
	t.Run("stored JSON uses snake_case names", func(t *testing.T) {
		_, data, _ := r.Encode(samples["token.created"])
		for _, key := range []string{`"token_id"`, `"account_id"`, `"campaign_id"`, `"filter_id"`, `"expires_at"`, `"secret_prefix"`, `"secret_last4"`, `"docs_id"`} {
			if !strings.Contains(string(data), key) {
				t.Errorf("%s lacks %s", data, key)
			}
		}
		if strings.Contains(string(data), "lsk_") && !strings.Contains(string(data), `"secret_prefix":"lsk_abcd"`) {
			t.Errorf("token.created holds more of the secret than its prefix: %s", data)
		}
	})
}

func TestRegistryRefusals(t *testing.T) {
	t.Parallel()
	r := domain.NewRegistry()
	t.Run("decode an unknown name", func(t *testing.T) {
		e, err := r.Decode("lead.teleported", json.RawMessage(`{}`))
		if e != nil || !errors.Is(err, domain.ErrUnknownEventType) {
			t.Fatalf("%v %v", e, err)
		}
	})
	t.Run("names are case-sensitive", func(t *testing.T) {
		if _, err := r.Decode("Lead.Created", json.RawMessage(`{}`)); !errors.Is(err, domain.ErrUnknownEventType) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("encode an unregistered type", func(t *testing.T) {
		name, data, err := domain.NewEmptyRegistry().Encode(domain.AccountCreated{AccountID: acct, Name: "A", At: t0})
		if name != "" || data != nil || !errors.Is(err, domain.ErrUnknownEventType) {
			t.Fatalf("%q %s %v", name, data, err)
		}
	})
	t.Run("decode malformed JSON", func(t *testing.T) {
		for _, data := range []string{`{`, `[]`, `{"lead_id":"not-a-uuid"}`, `{"at":"yesterday"}`} {
			e, err := r.Decode("lead.created", json.RawMessage(data))
			if err == nil || e != nil || errors.Is(err, domain.ErrUnknownEventType) {
				t.Errorf("%s: %v %v", data, e, err)
			}
		}
	})
	t.Run("registering a name twice panics", func(t *testing.T) {
		defer func() {
			if p := recover(); p == nil || !strings.Contains(p.(string), "account.created") {
				t.Fatalf("recovered %v", p)
			}
		}()
		domain.Register[domain.AccountCreated](r)
	})
	t.Run("an empty registry has no names", func(t *testing.T) {
		if n := domain.NewEmptyRegistry().Names(); len(n) != 0 {
			t.Fatalf("names %v", n)
		}
	})
	t.Run("registries are independent", func(t *testing.T) {
		a, b := domain.NewEmptyRegistry(), domain.NewEmptyRegistry()
		domain.Register[domain.AccountCreated](a)
		if _, _, err := b.Encode(domain.AccountCreated{}); !errors.Is(err, domain.ErrUnknownEventType) {
			t.Fatalf("a registration leaked into another registry: %v", err)
		}
	})
}

// contactNoted is the current shape of a test event. v1 stored {"who":...};
// v2 renamed it to {"contact":...}; v3 added "channel", "phone" for old data.
type contactNoted struct {
	Lead    uuid.UUID `json:"lead_id"`
	Contact string    `json:"contact"`
	Channel string    `json:"channel"`
}

func (contactNoted) EventType() string { return "test.contact_noted" }

func rewrite(f func(m map[string]any)) domain.Upcaster {
	return func(data json.RawMessage) (json.RawMessage, error) {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, err
		}
		f(m)
		return json.Marshal(m)
	}
}

func TestRegistryUpcasting(t *testing.T) {
	t.Parallel()
	var calls []string
	v1ToV2 := rewrite(func(m map[string]any) {
		calls = append(calls, "v1→v2")
		if who, ok := m["who"]; ok {
			m["contact"] = who
			delete(m, "who")
		}
	})
	v2ToV3 := rewrite(func(m map[string]any) {
		calls = append(calls, "v2→v3")
		if _, ok := m["channel"]; !ok {
			m["channel"] = "phone"
		}
	})
	r := domain.NewEmptyRegistry()
	domain.Register[contactNoted](r, v1ToV2, v2ToV3)
	for _, tc := range []struct {
		name, stored string
		want         contactNoted
	}{
		{"v1", `{"lead_id":"` + leadID.String() + `","who":"Ada"}`, contactNoted{Lead: leadID, Contact: "Ada", Channel: "phone"}},
		{"v2", `{"lead_id":"` + leadID.String() + `","contact":"Ada"}`, contactNoted{Lead: leadID, Contact: "Ada", Channel: "phone"}},
		{"v3", `{"lead_id":"` + leadID.String() + `","contact":"Ada","channel":"email"}`, contactNoted{Lead: leadID, Contact: "Ada", Channel: "email"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls = nil
			e, err := r.Decode("test.contact_noted", json.RawMessage(tc.stored))
			if err != nil || !reflect.DeepEqual(e, tc.want) {
				t.Fatalf("%#v %v", e, err)
			}
			if !reflect.DeepEqual(calls, []string{"v1→v2", "v2→v3"}) {
				t.Fatalf("upcasters ran %v, want both in order", calls)
			}
		})
	}
	t.Run("encode writes the current shape, untouched by upcasters", func(t *testing.T) {
		calls = nil
		_, data, err := r.Encode(contactNoted{Lead: leadID, Contact: "Ada", Channel: "sms"})
		if err != nil || len(calls) != 0 || !strings.Contains(string(data), `"channel":"sms"`) || strings.Contains(string(data), "who") {
			t.Fatalf("%s %v (upcasters ran %v)", data, err, calls)
		}
	})
	t.Run("a failing upcaster fails the decode", func(t *testing.T) {
		boom := errors.New("boom")
		bad := domain.NewEmptyRegistry()
		domain.Register[contactNoted](bad, func(json.RawMessage) (json.RawMessage, error) { return nil, boom })
		e, err := bad.Decode("test.contact_noted", json.RawMessage(`{}`))
		if e != nil || !errors.Is(err, boom) || !strings.Contains(err.Error(), "upcast test.contact_noted") {
			t.Fatalf("%v %v", e, err)
		}
	})
	t.Run("upcast output that does not decode", func(t *testing.T) {
		bad := domain.NewEmptyRegistry()
		domain.Register[contactNoted](bad, func(json.RawMessage) (json.RawMessage, error) { return json.RawMessage(`"text"`), nil })
		if e, err := bad.Decode("test.contact_noted", json.RawMessage(`{}`)); e != nil || err == nil {
			t.Fatalf("%v %v", e, err)
		}
	})
}
