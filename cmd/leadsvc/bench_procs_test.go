package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/leadsvc/leadsvc/internal/testenv"
)

// The processes of BenchmarkVersusCRUD: leadsvc and the CRUD baseline,
// each built with go build and run on its own (testenv.StartProcess), so
// that neither shares the load generator's CPU accounting or memory and
// RSS is each one's own.

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
