package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A service's CPU time, so that a page's cost can be compared without the
// machine's noise: latency on 2 shared cores is mostly waiting for them,
// while CPU seconds spent are what a busier machine would queue behind.
// What a service costs is its own process's CPU and that of the
// PostgreSQL backends serving its connections, told apart from the
// benchmark's own by the application_name the service connects with.

// userHZ is the unit of /proc/PID/stat's utime and stime: fixed at 100
// by the Linux ABI whatever the kernel's tick.
const userHZ = 100

// withApplicationName names the connections made from dbURL in
// pg_stat_activity.
func withApplicationName(b testing.TB, dbURL, name string) string {
	b.Helper()
	u, err := url.Parse(dbURL)
	if err != nil || u.Scheme == "" {
		b.Fatalf("the benchmark needs DATABASE_URL as a URL: %v", err)
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// cpuMeter samples the CPU time of one service: its process (pid) and
// the backends of its connections (app, seen through pool).
type cpuMeter struct {
	pid  int
	app  string
	pool *pgxpool.Pool
}

// cpuSample is a meter's reading: the process's CPU time and each
// backend's, by pid.
type cpuSample struct {
	proc     time.Duration
	backends map[int]time.Duration
}

func (m cpuMeter) sample(b testing.TB) cpuSample {
	b.Helper()
	s := cpuSample{backends: map[int]time.Duration{}}
	var err error
	if s.proc, err = processCPU(m.pid); err != nil {
		b.Fatal(err)
	}
	rows, err := m.pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, m.app)
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		b.Fatal(err)
	}
	for _, pid := range pids {
		// A backend that has just exited has no CPU left to count.
		if cpu, err := processCPU(int(pid)); err == nil {
			s.backends[int(pid)] = cpu
		}
	}
	return s
}

// since is what the service spent between prev and s, in its process and
// in PostgreSQL. A backend that started in between counts from zero; one
// that ended in between is lost, which a pool that keeps its
// connections makes rare.
func (s cpuSample) since(prev cpuSample) (proc, pg time.Duration) {
	for pid, cpu := range s.backends {
		pg += cpu - prev.backends[pid]
	}
	return s.proc - prev.proc, pg
}

// processCPU is the user and system CPU time of a process so far.
func processCPU(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces; the fields
	// counted from the state (the third) follow its closing one.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var ticks int64
	for _, v := range f[11:13] { // utime and stime, the 14th and 15th fields
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}
