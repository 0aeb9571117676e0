package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/leadsvc/leadsvc/internal/testenv"
)

// The processes of BenchmarkVersusCRUD: leadsvc and the CRUD baseline,
// each built with go build and run on its own, so that neither shares the
// load generator's CPU accounting or memory and RSS is each one's own.

// buildBinary builds pkg (a package path of this module) into dir.
func buildBinary(b *testing.B, dir, pkg string) string {
	b.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		b.Fatalf("the benchmark builds the services with go build: %v", err)
	}
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command(gobin, "build", "-o", out, pkg)
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build %s: %v\n%s", pkg, err, msg)
	}
	return out
}

// benchNATS is NATS_URL with a connection to it, or, when it is unset, a
// NATS server of the benchmark's own.
func benchNATS(b *testing.B) (url string, nc *nats.Conn) {
	b.Helper()
	if url = os.Getenv("NATS_URL"); url != "" {
		return url, testenv.ConnectNATS(b)
	}
	n := testenv.StartNATS(b)
	return n.URL(), n.Connect()
}

// freeAddr is a loopback address with a port nothing listens on now.
func freeAddr(b testing.TB) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// process is a service started by the benchmark, its output kept in a
// file of the benchmark's temporary directory.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when it exits
}

// startProcess runs bin with exactly env and waits until GET base/livez
// answers 200; a process that exits first fails the benchmark with the
// end of its output. It is stopped when the benchmark ends.
func startProcess(b *testing.B, name, bin, base string, env []string, args ...string) *process {
	b.Helper()
	logf, err := os.CreateTemp(b.TempDir(), name+"-*.log")
	if err != nil {
		b.Fatal(err)
	}
	p := &process{name: name, cmd: exec.Command(bin, args...), log: logf.Name(), done: make(chan struct{})}
	p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = env, logf, logf
	if err := p.cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		_ = logf.Close()
		close(p.done)
	}()
	b.Cleanup(p.stop)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-p.done:
			b.Fatalf("%s exited before answering: %s", name, p.tail())
		default:
		}
		if resp, err := http.Get(base + "/livez"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s does not answer on %s: %s", name, base, p.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the process with SIGTERM (SIGKILL after 30 s); stopping a
// stopped process does nothing.
func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// tail is the end of the process's output.
func (p *process) tail() string {
	out, _ := os.ReadFile(p.log)
	if len(out) > 4000 {
		out = out[len(out)-4000:]
	}
	return string(out)
}

// rssBytes is the process's resident set (VmRSS of /proc/PID/status).
func (p *process) rssBytes() (int64, error) { return p.memoryField("VmRSS:") }

// memoryField is a field in kB of /proc/PID/status (VmRSS:, VmHWM:), in
// bytes.
func (p *process) memoryField(name string) (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, name); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no " + name + " in /proc status")
}

// apiClient sends requests to one service with one token.
type apiClient struct {
	base, token string
	hc          *http.Client
}

// newHTTPClient keeps enough idle connections for the largest number of
// concurrent clients: every request after the first reuses one.
func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 128}, Timeout: 2 * time.Minute}
}

func (c apiClient) with(token string) apiClient {
	return apiClient{base: c.base, token: token, hc: c.hc}
}

// do sends body (nil: none) and reads the whole answer.
func (c apiClient) do(method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// mustDo sends v as JSON, fails the benchmark unless the answer has
// status want, and decodes the answer into a map.
func (c apiClient) mustDo(b *testing.B, method, path string, v any, want int) map[string]any {
	b.Helper()
	var body []byte
	if v != nil {
		var err error
		if body, err = json.Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
	code, out, err := c.do(method, path, body)
	if err != nil || code != want {
		b.Fatalf("%s %s: %d %.500s %v; want %d", method, path, code, out, err, want)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		b.Fatalf("%s %s: %v", method, path, err)
	}
	return m
}

// leadsvcWorkLeft says what the leadsvc at base has yet to do with its
// log, "" for nothing, from what it exposes: /readyz's relay lag, and the
// JetStream consumers of its stream, one per projection /readyz names,
// holding nothing to deliver or unacknowledged (a message is acknowledged
// once the transaction that applied it commits). /readyz's projection
// lags are not the measure: a checkpoint is the latest position applied,
// so events of a later transaction with lower positions count as lag
// until the next event, on a service with nothing left to do.
func leadsvcWorkLeft(ctx context.Context, hc *http.Client, base string, js nats.JetStreamContext, stream string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var rz struct {
		Checks struct {
			Relay struct {
				Detail struct {
					LagEvents int64 `json:"lag_events"`
				} `json:"detail"`
			} `json:"relay"`
			Projections struct {
				Detail map[string]json.RawMessage `json:"detail"`
			} `json:"projections"`
		} `json:"checks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&rz); err != nil {
		return "", fmt.Errorf("/readyz: %w", err)
	}
	if n := rz.Checks.Relay.Detail.LagEvents; n > 0 {
		return fmt.Sprintf("%d events to relay", n), nil
	}
	if len(rz.Checks.Projections.Detail) == 0 {
		return "no projection status yet", nil
	}
	consumers := 0
	for ci := range js.Consumers(stream, nats.Context(ctx)) {
		consumers++
		if ci.NumPending > 0 || ci.NumAckPending > 0 {
			return fmt.Sprintf("consumer %s: %d messages to deliver, %d unacknowledged", ci.Name, ci.NumPending, ci.NumAckPending), nil
		}
	}
	if consumers < len(rz.Checks.Projections.Detail) {
		return fmt.Sprintf("%d of %d consumers on the stream", consumers, len(rz.Checks.Projections.Detail)), nil
	}
	return "", nil
}
