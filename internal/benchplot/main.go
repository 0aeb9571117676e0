// Command benchplot draws the SVG plots of docs/benchmarks.md from the
// results file `make bench` writes (internal/benchresults):
//
//	go run ./internal/benchplot -in bench-results.jsonl -out docs/benchmarks/
//
// Of records with the same key the last counts. A plot whose records are
// all missing is an error, so that a run that measured nothing cannot
// leave old plots looking current. It is a development tool, never part
// of the leadsvc binary.
package main

import (
	"errors"
	"flag"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/leadsvc/leadsvc/internal/benchresults"
)

const (
	versusBench  = "BenchmarkVersusCRUD"
	lagBench     = "BenchmarkAppendToVisibleLag"
	clusterBench = "BenchmarkCluster"
)

func main() {
	in := flag.String("in", "bench-results.jsonl", "results file written by make bench")
	out := flag.String("out", "docs/benchmarks", "directory for the SVG files")
	flag.Parse()
	files, err := run(*in, *out)
	for _, f := range files {
		fmt.Println(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchplot: %v\n", err)
		os.Exit(1)
	}
}

// run draws every plot from the records in the file in into the
// directory out and returns the files written; it draws all it can and
// then reports every plot it could not.
func run(in, out string) ([]string, error) {
	f, err := os.Open(in)
	if err != nil {
		return nil, err
	}
	recs, err := benchresults.Read(f)
	_ = f.Close()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	latest := benchresults.Latest(recs)
	plots := []struct {
		file string
		draw func(map[benchresults.Key]benchresults.Record) (*plot.Plot, error)
	}{
		{"creates.svg", createsPlot},
		{"list-p99-a.svg", listPlot("list_p99_ms", "a")},
		{"list-p99-b.svg", listPlot("list_p99_ms", "b")},
		{"list-p99-c.svg", listPlot("list_p99_ms", "c")},
		{"bulk-list-p99.svg", bulkPlot},
		{"lag.svg", lagPlot},
		{"cluster-creates.svg", clusterPlot("creates_per_s", "Lead creates per second, 32 clients spread over the replicas", "leads created per second")},
		{"cluster-lag-p99.svg", clusterPlot("lag_p99_ms", "Append-to-visible lag p99 (a create answered to its lead read\nthrough another replica), 32 clients spread over the replicas", "p99 lag (ms)")},
	}
	var written []string
	var errs []error
	for _, pl := range plots {
		p, err := pl.draw(latest)
		if err == nil {
			path := filepath.Join(out, pl.file)
			if err = p.Save(7*vg.Inch, 4.5*vg.Inch, path); err == nil {
				written = append(written, path)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", pl.file, err))
		}
	}
	return written, errors.Join(errs...)
}

// series is one line: its label, the service whose records it draws and
// its colour (the same service has the same colour in every plot).
type series struct {
	label, service string
	color          color.Color
}

var (
	blue  = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	green = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	red   = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	grey  = color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}

	createSeries = []series{
		{"leadsvc, POST /v1/leads", "leadsvc", blue},
		{"leadsvc, batches of 100 (leads/s)", "leadsvc_batch", green},
		{"CRUD baseline, POST /v1/leads", "crud", red},
		{"raw one-row INSERT", "raw_insert", grey},
	}
	listSeries    = []series{{"leadsvc", "leadsvc", blue}, {"CRUD baseline", "crud", red}}
	clusterSeries = []series{
		{"replicas on a 3-node loopback JetStream cluster", "cluster", blue},
		{"one replica, embedded NATS", "embedded", grey},
	}
)

// points are the (x, value) of a service's records of one metric, in x
// order, with x taken by xOf.
func points(latest map[benchresults.Key]benchresults.Record, bench, metric, service, shape string,
	xOf func(benchresults.Record) int) plotter.XYs {
	var xys plotter.XYs
	for k, r := range latest {
		if k.Bench == bench && k.Metric == metric && k.Service == service && k.Shape == shape && xOf(r) > 0 && r.Value > 0 {
			xys = append(xys, plotter.XY{X: float64(xOf(r)), Y: r.Value})
		}
	}
	slices.SortFunc(xys, func(a, b plotter.XY) int { return int(a.X - b.X) })
	return xys
}

// lines adds a line with points per series that has records, and fails
// when none has. It returns the largest y drawn.
func lines(p *plot.Plot, ss []series, pts func(service string) plotter.XYs) (float64, error) {
	var xs []float64
	top := 0.0
	for _, s := range ss {
		xys := pts(s.service)
		if len(xys) == 0 {
			continue
		}
		l, sc, err := plotter.NewLinePoints(xys)
		if err != nil {
			return 0, err
		}
		l.Color, sc.Color = s.color, s.color
		sc.Shape = draw.CircleGlyph{}
		p.Add(l, sc)
		p.Legend.Add(s.label, l, sc)
		for _, xy := range xys {
			xs, top = append(xs, xy.X), max(top, xy.Y)
		}
	}
	if len(xs) == 0 {
		return 0, errors.New("no records to draw")
	}
	slices.Sort(xs)
	var ticks []plot.Tick
	for _, x := range slices.Compact(xs) {
		ticks = append(ticks, plot.Tick{Value: x, Label: shortNumber(x)})
	}
	p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.ConstantTicks(ticks)
	p.Legend.Top, p.Legend.Left = true, true
	return top, nil
}

// shortNumber writes 10000 as 10k and 1000000 as 1M.
func shortNumber(x float64) string {
	switch {
	case x >= 1e6 && math.Mod(x, 1e5) == 0:
		return strconv.FormatFloat(x/1e6, 'f', -1, 64) + "M"
	case x >= 1e4 && math.Mod(x, 100) == 0:
		return strconv.FormatFloat(x/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(x, 'f', -1, 64)
}

// logTicks label 1, 2 and 5 times the powers of ten on a log axis.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for p := math.Pow(10, math.Floor(math.Log10(lo))); p <= hi; p *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if v := m * p; v >= lo && v <= hi {
				ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
			}
		}
	}
	return ticks
}

func createsPlot(latest map[benchresults.Key]benchresults.Record) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Lead creates per second against concurrent clients"
	p.X.Label.Text = "HTTP clients (raw INSERT: writers)"
	p.Y.Label.Text = "leads created per second (log scale)"
	top, err := lines(p, createSeries, func(service string) plotter.XYs {
		return points(latest, versusBench, "creates_per_s", service, "", func(r benchresults.Record) int { return r.Clients })
	})
	// Room above the lines for the legend.
	p.Y.Scale, p.Y.Tick.Marker, p.Y.Max = plot.LogScale{}, logTicks{}, top*6
	return p, err
}

func listPlot(metric, shape string) func(map[benchresults.Key]benchresults.Record) (*plot.Plot, error) {
	return func(latest map[benchresults.Key]benchresults.Record) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text = fmt.Sprintf("Scoped list p99, filter shape %s (4 clients, pages of 50)", shape)
		p.X.Label.Text = "leads in the store"
		p.Y.Label.Text = "p99 latency of a page (ms)"
		top, err := lines(p, listSeries, func(service string) plotter.XYs {
			return points(latest, versusBench, metric, service, shape, func(r benchresults.Record) int { return r.Leads })
		})
		p.Y.Min, p.Y.Max = 0, top*1.3
		return p, err
	}
}

// bulkPlot: the p99 of each filter shape on both services after a bulk
// load that no ANALYZE has followed, as grouped bars.
func bulkPlot(latest map[benchresults.Key]benchresults.Record) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "List p99 after a bulk load, before any ANALYZE"
	p.Y.Label.Text = "p99 latency of a page (ms)"
	shapes := []string{"a", "b", "c"}
	top := 0.0
	for i, s := range listSeries {
		vals := make(plotter.Values, len(shapes))
		leads := 0
		for j, sh := range shapes {
			for k, r := range latest {
				if k.Bench == versusBench && k.Metric == "bulk_list_p99_ms" && k.Service == s.service && k.Shape == sh {
					vals[j], leads, top = r.Value, r.Leads, max(top, r.Value)
				}
			}
		}
		bars, err := plotter.NewBarChart(vals, vg.Points(24))
		if err != nil {
			return nil, err
		}
		bars.Color, bars.LineStyle.Width = s.color, 0
		bars.Offset = vg.Points(float64(i*26 - 13))
		p.Add(bars)
		p.Legend.Add(s.label, bars)
		if leads > 0 {
			p.X.Label.Text = fmt.Sprintf("filter shape (%d leads loaded through the API)", leads)
		}
	}
	if top == 0 {
		return nil, errors.New("no records to draw")
	}
	p.NominalX(shapes...)
	p.Y.Min, p.Y.Max = 0, top*1.3
	p.Legend.Top, p.Legend.Left = true, true
	return p, nil
}

// clusterPlot: a metric of BenchmarkCluster against the number of
// replicas, the one replica with its embedded NATS as a point beside.
func clusterPlot(metric, title, ylabel string) func(map[benchresults.Key]benchresults.Record) (*plot.Plot, error) {
	return func(latest map[benchresults.Key]benchresults.Record) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text = title
		p.X.Label.Text = "leadsvc replicas"
		p.Y.Label.Text = ylabel
		top, err := lines(p, clusterSeries, func(service string) plotter.XYs {
			return points(latest, clusterBench, metric, service, "", func(r benchresults.Record) int { return r.Replicas })
		})
		// 1, 2, 3 evenly spaced, with room at the sides; the legend
		// right, away from the embedded point at 1.
		p.X.Scale, p.X.Min, p.X.Max = plot.LinearScale{}, 0.5, 3.5
		p.Y.Min, p.Y.Max = 0, top*1.3
		p.Legend.Left = false
		return p, err
	}
}

// lagPlot: the distribution of the append-to-visible lag as a CDF, with
// the aim (p99 ≤ 100 ms).
func lagPlot(latest map[benchresults.Key]benchresults.Record) (*plot.Plot, error) {
	r, ok := latest[benchresults.Key{Bench: lagBench, Metric: "lag_ms"}]
	if !ok || len(r.Samples) == 0 {
		return nil, errors.New("no records to draw")
	}
	samples := slices.Clone(r.Samples)
	slices.Sort(samples)
	cdf := make(plotter.XYs, len(samples))
	for i, s := range samples {
		cdf[i] = plotter.XY{X: s, Y: float64(i+1) / float64(len(samples))}
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Append-to-visible lag of %d creates at half the maximum rate\n(dashed: the aim, p99 ≤ 100 ms)", len(samples))
	p.X.Label.Text = "from the create's acknowledgement to the lead in its filter's view (ms)"
	p.Y.Label.Text = "fraction of creates visible"
	p.Y.Min, p.Y.Max, p.X.Min = 0, 1, 0
	l, err := plotter.NewLine(cdf)
	if err != nil {
		return nil, err
	}
	l.Color = blue
	aim, err := plotter.NewLine(plotter.XYs{{X: 100, Y: 0}, {X: 100, Y: 1}})
	if err != nil {
		return nil, err
	}
	aim.Color, aim.Dashes = red, []vg.Length{vg.Points(4), vg.Points(3)}
	// No legend: wherever it went, some distribution would run under it.
	p.Add(l, aim, plotter.NewGrid())
	return p, nil
}
