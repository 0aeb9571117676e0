// Package poolmetrics exposes a pgx connection pool's statistics
// (pgxpool.Stat) as Prometheus metrics, read when scraped.
package poolmetrics

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector is a prometheus.Collector over one pool.
type Collector struct {
	pool *pgxpool.Pool

	acquired, idle, total, max                       *prometheus.Desc
	acquires, acquireSeconds, emptyAcquires, cancels *prometheus.Desc
}

// New returns the collector of pool's leadsvc_db_pool_* metrics.
func New(pool *pgxpool.Pool) *Collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("leadsvc_db_pool_"+name, help, nil, nil)
	}
	return &Collector{pool: pool,
		acquired:       d("acquired_connections", "Connections of the pool in use now."),
		idle:           d("idle_connections", "Connections of the pool open and idle now."),
		total:          d("total_connections", "Connections of the pool open now, in use, idle or being opened."),
		max:            d("max_connections", "The pool's size limit (DATABASE_URL pool_max_conns)."),
		acquires:       d("acquires_total", "Connections taken from the pool."),
		acquireSeconds: d("acquire_seconds_total", "Time spent waiting to take connections from the pool."),
		emptyAcquires:  d("empty_acquires_total", "Takes that found no idle connection and had to wait or open one."),
		cancels:        d("canceled_acquires_total", "Takes given up (context ended) before a connection came."),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.acquired, c.idle, c.total, c.max, c.acquires, c.acquireSeconds, c.emptyAcquires, c.cancels} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.acquired, float64(s.AcquiredConns()))
	gauge(c.idle, float64(s.IdleConns()))
	gauge(c.total, float64(s.TotalConns()))
	gauge(c.max, float64(s.MaxConns()))
	counter(c.acquires, float64(s.AcquireCount()))
	counter(c.acquireSeconds, s.AcquireDuration().Seconds())
	counter(c.emptyAcquires, float64(s.EmptyAcquireCount()))
	counter(c.cancels, float64(s.CanceledAcquireCount()))
}
