// Package benchresults is the machine-readable record of `make bench`:
// one JSON object a line, appended by the benchmarks and read by the plot
// tool (internal/benchplot). Nothing in the service imports it.
package benchresults

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Record is one figure of one benchmark. Ratio, when set, is the figure
// over its baseline of the same run (median of the rounds' ratios where
// the benchmark alternates rounds); Samples holds a distribution when the
// figure has one (e.g. every append-to-visible lag, in Unit).
type Record struct {
	Bench   string `json:"bench"`             // BenchmarkVersusCRUD, …
	Metric  string `json:"metric"`            // creates_per_s, list_p99_ms, rss_bytes, lag_ms, …
	Service string `json:"service,omitempty"` // leadsvc, leadsvc_batch, crud, raw_insert
	Clients int    `json:"clients,omitempty"`
	// Replicas is the number of leadsvc processes serving (BenchmarkCluster).
	Replicas int       `json:"replicas,omitempty"`
	Leads    int       `json:"leads,omitempty"` // the store's size
	Shape    string    `json:"shape,omitempty"` // a filter shape: a, b, c
	Value    float64   `json:"value"`
	Unit     string    `json:"unit"`
	Ratio    *float64  `json:"ratio,omitempty"`
	Rounds   []float64 `json:"rounds,omitempty"` // the value of each round
	Samples  []float64 `json:"samples,omitempty"`
	Time     time.Time `json:"time"`
}

// Key identifies the series point a record gives; of records with the
// same key, the last one read counts.
type Key struct {
	Bench, Metric, Service, Shape string
	Clients, Leads, Replicas      int
}

// Key returns r's key.
func (r Record) Key() Key {
	return Key{Bench: r.Bench, Metric: r.Metric, Service: r.Service, Shape: r.Shape, Clients: r.Clients, Leads: r.Leads, Replicas: r.Replicas}
}

// Writer appends records to a file; safe for concurrent use.
type Writer struct {
	mu   sync.Mutex
	path string
	now  func() time.Time
}

// NewWriter returns a writer appending to path (created when missing).
func NewWriter(path string) *Writer { return &Writer{path: path, now: time.Now} }

// Path is the file the writer appends to.
func (w *Writer) Path() string { return w.path }

// Write appends r, stamped with the time when it has none.
func (w *Writer) Write(r Record) error {
	if r.Time.IsZero() {
		r.Time = w.now().UTC()
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("bench results: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	f, err := os.OpenFile(w.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("bench results: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		_ = f.Close()
		return fmt.Errorf("bench results %s: %w", w.path, err)
	}
	return f.Close()
}

// Read returns the records of r in order; a line that is not a record is
// an error naming its line number.
func Read(r io.Reader) ([]Record, error) {
	var out []Record
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("bench results line %d: %w", n, err)
		}
		out = append(out, rec)
	}
	return out, sc.Err()
}

// Latest keeps, of records with the same key, the last one.
func Latest(recs []Record) map[Key]Record {
	out := map[Key]Record{}
	for _, r := range recs {
		out[r.Key()] = r
	}
	return out
}
