package benchresults_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/leadsvc/leadsvc/internal/benchresults"
)

func TestPlotInputKeepsTheLastRecordOfAKey(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "results.jsonl")
	w := benchresults.NewWriter(path)
	for _, v := range []float64{1, 2} {
		if err := w.Write(benchresults.Record{Bench: "B", Metric: "creates_per_s", Service: "leadsvc", Clients: 32, Value: v}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Write(benchresults.Record{Bench: "B", Metric: "creates_per_s", Service: "leadsvc", Clients: 64, Value: 3}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := benchresults.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(recs), 3; got != want {
		t.Fatalf("records read = %d, want %d", got, want)
	}
	latest := benchresults.Latest(recs)
	if got, want := latest[benchresults.Key{Bench: "B", Metric: "creates_per_s", Service: "leadsvc", Clients: 32}].Value, 2.0; got != want {
		t.Errorf("latest value at 32 clients = %v, want %v", got, want)
	}
	if got, want := len(latest), 2; got != want {
		t.Errorf("keys = %d, want %d", got, want)
	}
}
