package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/projections/leads"
)

// storedFields are fields as PostgreSQL prints a jsonb object: members in
// its own order (shorter names first), ", " and ": " between them, its
// own escaping.
var storedFields = []string{
	`{}`,
	`{"name": "Ada"}`,
	`{"a": 1, "bb": 2.5, "ccc": -0.001, "zz": 1000000000000000000000}`,
	`{"name": "<b>&amp;</b> \"quoted\" back\\slash", "email": "ada@example.com", "budget": 12000}`,
	`{"tags": ["x", "y z", "ü"], "notes": "line\nbreak\ttab \u0001", "source": "partner-abc"}`,
	`{"é": "non-ASCII name", "name": "☃ \u2028 snowman", "empty": "", "multi": []}`,
	`{"b": true, "a": false, "c": null, "d": {"nested": [1, {"x": "y"}]}}`,
	`{"a": 1, "a b": 2, "a!": 3}`,
}

func TestRawLeadsAreTheLeadsAsDecoded(t *testing.T) {
	t.Parallel()
	a := &API{publicURL: "http://127.0.0.1:8080"}
	at := time.Date(2026, 12, 4, 3, 4, 5, 120000000, time.UTC)
	for _, fields := range storedFields {
		rl := leads.RawLead{ID: uuid.New(), AccountID: uuid.New(), CampaignID: uuid.New(), Status: "new",
			Fields: []byte(fields), Files: []byte("[]"), Version: 3, CreatedAt: at, UpdatedAt: at.Add(time.Second)}
		raw, ok := appendRawLead(nil, rl)
		if !ok {
			t.Errorf("%s: not copied", fields)
			continue
		}
		l, err := rl.Decode()
		if err != nil {
			t.Fatal(err)
		}
		decoded, err := json.Marshal(a.leadOut(l))
		if err != nil {
			t.Fatal(err)
		}
		var got, want any
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("%s: the copy is not JSON: %v\n%s", fields, err, raw)
		}
		if err := json.Unmarshal(decoded, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\ncopied  %s\ndecoded %s", fields, raw, decoded)
		}
		if names := memberNames(t, raw, "fields"); !sortedStrings(names) {
			t.Errorf("%s: fields copied in the order %q, want encoding/json's (sorted)", fields, names)
		}
		if bytes.ContainsAny(raw, " \n") && !bytes.Contains([]byte(fields), []byte(" ")) {
			t.Errorf("%s: whitespace in the copy %s", fields, raw)
		}
	}
}

func TestRowsThatCannotBeCopiedAreLeftToTheDecoder(t *testing.T) {
	t.Parallel()
	base := leads.RawLead{ID: uuid.New(), CampaignID: uuid.New(), Status: "new", Fields: []byte(`{"a": 1}`), Files: []byte("[]"), Version: 1}
	for name, rl := range map[string]leads.RawLead{
		"files":        func() leads.RawLead { r := base; r.Files = []byte(`[{"id": "x"}]`); return r }(),
		"escaped name": func() leads.RawLead { r := base; r.Fields = []byte(`{"a\"b": 1}`); return r }(),
		"status html":  func() leads.RawLead { r := base; r.Status = "<new>"; return r }(),
		"not object":   func() leads.RawLead { r := base; r.Fields = []byte(`[1]`); return r }(),
		"truncated":    func() leads.RawLead { r := base; r.Fields = []byte(`{"a": [1, 2`); return r }(),
	} {
		if out, ok := appendRawLead([]byte("prefix"), rl); ok || string(out) != "prefix" {
			t.Errorf("%s: copied as %s, want it left to the decoder with nothing appended", name, out)
		}
	}
}

// FuzzSortedObject: whatever object it is given, the copy is either
// refused or the same JSON value.
func FuzzSortedObject(f *testing.F) {
	for _, s := range storedFields {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"a" : [ 1 , "x y" ] , "b":{}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var want map[string]any
		if json.Unmarshal(in, &want) != nil || want == nil {
			return
		}
		out, ok := appendSortedObject(nil, in)
		if !ok {
			return
		}
		var got map[string]any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("copy of %q is not JSON: %q: %v", in, out, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("copy of %q is %q", in, out)
		}
	})
}

// memberNames is the names of the object at member key of the object
// doc, in the order they appear.
func memberNames(t *testing.T, doc []byte, key string) []string {
	t.Helper()
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(doc, &outer); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(outer[key]))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var names []string
	for dec.More() {
		name, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, name.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return names
}

func sortedStrings(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] > s[i] {
			return false
		}
	}
	return true
}
