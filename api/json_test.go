package api_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/api"
)

// TestAnswersAreEncodedAsEncodingJSONWould compares the answers' encoder
// (go-json, for speed) with encoding/json on the values leads carry:
// HTML-significant and non-ASCII text, invalid UTF-8, floats at the edges
// of their notation, maps (sorted keys), nil and empty slices, times, ids.
func TestAnswersAreEncodedAsEncodingJSONWould(t *testing.T) {
	t.Parallel()
	type file struct {
		Name string `json:"name"`
		Size int64  `json:"size"`
	}
	type lead struct {
		ID        uuid.UUID      `json:"id"`
		Fields    map[string]any `json:"fields"`
		Files     []file         `json:"files"`
		None      []file         `json:"none"`
		At        time.Time      `json:"at"`
		Defaulted []string       `json:"defaulted,omitempty"`
		Next      *string        `json:"next"`
	}
	v := map[string]any{"data": []lead{{
		ID: uuid.MustParse("0190c2a4-7f36-7c4e-9d2c-6b1f0e8f2a11"),
		Fields: map[string]any{"name": "<Ada> & \"Bob\" \u2028 é 😀", "bad": "\xff\xfe", "zeta": 1.0, "alpha": 0.1,
			"big": 1e21, "small": 1e-7, "int": 12345678901234.0, "neg": -1.5, "flag": true, "none": nil,
			"tags": []string{"a", "b"}, "nested": map[string]any{"b": 2.5, "a": []any{}}},
		Files: []file{{Name: "note.txt", Size: 5}},
		At:    time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC),
	}}}
	rec := httptest.NewRecorder()
	api.WriteJSON(rec, 200, v)
	var want bytes.Buffer
	if err := json.NewEncoder(&want).Encode(v); err != nil {
		t.Fatal(err)
	}
	if got := rec.Body.String(); got != want.String() {
		t.Fatalf("answer =\n%s\nencoding/json =\n%s", got, want.String())
	}
}
