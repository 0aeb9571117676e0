package poolmetrics_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leadsvc/leadsvc/internal/poolmetrics"
	"github.com/leadsvc/leadsvc/internal/testenv"
)

func values(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := map[string]float64{}
	for _, f := range families {
		m := f.GetMetric()[0]
		if m.GetCounter() != nil {
			out[f.GetName()] = m.GetCounter().GetValue()
		} else {
			out[f.GetName()] = m.GetGauge().GetValue()
		}
	}
	return out
}

func TestCollectorFollowsThePool(t *testing.T) {
	t.Parallel()
	testenv.Integration(t)
	pool := testenv.PoolOfSize(t, testenv.DatabaseURL(), 3)
	reg := prometheus.NewRegistry()
	reg.MustRegister(poolmetrics.New(pool))

	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	held := values(t, reg)
	conn.Release()
	for name, want := range map[string]float64{"leadsvc_db_pool_max_connections": 3, "leadsvc_db_pool_acquired_connections": 1} {
		if got := held[name]; got != want {
			t.Fatalf("%s = %v while one connection is held, want %v", name, got, want)
		}
	}
	if held["leadsvc_db_pool_acquires_total"] < 1 {
		t.Fatalf("leadsvc_db_pool_acquires_total = %v after an acquire", held["leadsvc_db_pool_acquires_total"])
	}
	testenv.CheckFor(t, 5*time.Second, func() error {
		v := values(t, reg)
		if v["leadsvc_db_pool_acquired_connections"] != 0 || v["leadsvc_db_pool_idle_connections"] != v["leadsvc_db_pool_total_connections"] {
			return fmt.Errorf("after release: %v", v)
		}
		return nil
	})
}
