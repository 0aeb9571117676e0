package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var wantPlots = []string{"creates.svg", "list-p99-a.svg", "list-p99-b.svg", "list-p99-c.svg", "bulk-list-p99.svg", "lag.svg",
	"cluster-creates.svg", "cluster-lag-p99.svg"}

func TestPlotWritesEverySVG(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	files, err := run(filepath.Join("testdata", "results.jsonl"), out)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if got, want := len(files), len(wantPlots); got != want {
		t.Errorf("files written = %d (%v), want %d", got, files, want)
	}
	for _, name := range wantPlots {
		svg, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Errorf("%s not written: %v", name, err)
			continue
		}
		if !bytes.Contains(svg, []byte("<svg")) || !bytes.HasSuffix(bytes.TrimSpace(svg), []byte("</svg>")) {
			t.Errorf("%s is not a whole SVG document", name)
		}
	}
	creates, _ := os.ReadFile(filepath.Join(out, "creates.svg"))
	for _, label := range []string{"leadsvc, POST /v1/leads", "batches of 100", "CRUD baseline", "raw one-row INSERT"} {
		if !bytes.Contains(creates, []byte(label)) {
			t.Errorf("creates.svg has no series %q", label)
		}
	}
}

func TestPlotFailsForAPlotWithoutRecords(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := filepath.Join(dir, "results.jsonl")
	only := `{"bench":"BenchmarkVersusCRUD","metric":"creates_per_s","service":"leadsvc","clients":32,"value":1000,"unit":"leads/s"}` + "\n"
	if err := os.WriteFile(in, []byte(only), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "plots")
	files, err := run(in, out)
	if err == nil {
		t.Fatal("run = nil error, want one naming each plot without records")
	}
	for _, name := range wantPlots[1:] {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
		if _, statErr := os.Stat(filepath.Join(out, name)); statErr == nil {
			t.Errorf("%s written without records", name)
		}
	}
	if len(files) != 1 || filepath.Base(files[0]) != "creates.svg" {
		t.Errorf("files written = %v, want only creates.svg", files)
	}
}
