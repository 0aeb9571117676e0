package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/leadsvc/leadsvc/commands"
)

// mustRunMain starts the service on 127.0.0.1:0 in its own schema with
// embedded NATS, plus any extra environment, and closes it when the test
// ends.
func mustRunMain(t *testing.T, extra ...string) *Main {
	t.Helper()
	return mustRunMainWith(t, nil, extra...)
}

// mustRunMainWith is mustRunMain with prepare, when not nil, called on
// the service before it runs.
func mustRunMainWith(t *testing.T, prepare func(*Main), extra ...string) *Main {
	t.Helper()
	env := testEnv(t)
	vars := map[string]string{}
	for i := 0; i+1 < len(extra); i += 2 {
		vars[extra[i]] = extra[i+1]
	}
	cfg, err := LoadConfig(func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		return env(k)
	})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMain(cfg, newLogger(cfg, io.Discard))
	if prepare != nil {
		prepare(m)
	}
	if err := m.Run(context.Background()); err != nil {
		_ = m.Close()
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// mustAccount creates an account and returns a client holding its owner
// token (every permission).
func mustAccount(t *testing.T, m *Main, name string) *client {
	t.Helper()
	res, err := m.Commands.CreateAccount.Handle(context.Background(), commands.CreateAccount{Name: name})
	if err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	return &client{t: t, base: "http://" + m.Addr(), token: res.Secret}
}

// client talks to the API with one token.
type client struct {
	t     *testing.T
	base  string
	token string
	hc    *http.Client // nil: http.DefaultClient
}

// as returns a client of the same service with another token.
func (c *client) as(token string) *client {
	return &client{t: c.t, base: c.base, token: token, hc: c.hc}
}

// reply is one HTTP answer, read whole.
type reply struct {
	t      *testing.T
	req    string
	Status int
	Header http.Header
	Body   []byte
}

// do sends a request; body is JSON-encoded unless it is a string or
// []byte (sent as is). headers are name, value pairs.
func (c *client) do(method, path string, body any, headers ...string) reply {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	// A read that waited for the views in vain (Leadsvc-Stale) is asked
	// again: on a loaded machine the service's 5 s wait can pass.
	deadline := time.Now().Add(30 * time.Second)
	for {
		hc := c.hc
		if hc == nil {
			hc = http.DefaultClient
		}
		resp, err := hc.Do(req)
		if err != nil {
			c.t.Fatalf("%s %s: %v", method, path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			c.t.Fatal(err)
		}
		if method == http.MethodGet && resp.Header.Get("Leadsvc-Stale") == "true" && time.Now().Before(deadline) {
			continue
		}
		return reply{t: c.t, req: method + " " + path, Status: resp.StatusCode, Header: resp.Header, Body: b}
	}
}

// upload sends a multipart upload of one part named field.
func (c *client) upload(path, field, name, ctype string, content []byte, headers ...string) reply {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := map[string][]string{"Content-Disposition": {`form-data; name="` + field + `"; filename="` + name + `"`}}
	if ctype != "" {
		h["Content-Type"] = []string{ctype}
	}
	pw, err := mw.CreatePart(h)
	if err != nil {
		c.t.Fatal(err)
	}
	_, _ = pw.Write(content)
	_ = mw.Close()
	return c.do(http.MethodPost, path, buf.Bytes(), append([]string{"Content-Type", mw.FormDataContentType()}, headers...)...)
}

// want fails the test unless the reply has status.
func (r reply) want(status int) reply {
	r.t.Helper()
	if r.Status != status {
		r.t.Fatalf("%s: status %d, want %d: %s", r.req, r.Status, status, r.Body)
	}
	return r
}

// into decodes the JSON body into v.
func (r reply) into(v any) reply {
	r.t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.t.Fatalf("%s: body %q: %v", r.req, r.Body, err)
	}
	return r
}

// obj is the JSON body as a map.
func (r reply) obj() map[string]any {
	r.t.Helper()
	var m map[string]any
	r.into(&m)
	return m
}

// problem is a problem+json body.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Instance  string `json:"instance"`
	RequestID string `json:"request_id"`
	Errors    []struct {
		Field   string `json:"field"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
}

// problem checks the reply is a problem of status and returns it.
func (r reply) problem(status int) problem {
	r.t.Helper()
	r.want(status)
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		r.t.Fatalf("%s: Content-Type %q, want application/problem+json", r.req, ct)
	}
	var p problem
	r.into(&p)
	if p.Status != status || p.Type == "" || p.Title == "" || p.RequestID != r.Header.Get("X-Request-Id") {
		r.t.Fatalf("%s: problem %+v does not match status %d and request id %q", r.req, p, status, r.Header.Get("X-Request-Id"))
	}
	return p
}

// hasError reports whether the problem blames field with code.
func (p problem) hasError(field, code string) bool {
	for _, e := range p.Errors {
		if e.Field == field && e.Code == code {
			return true
		}
	}
	return false
}

// countEvents is the number of events in the log.
func countEvents(t *testing.T, m *Main) int {
	t.Helper()
	var n int
	if err := m.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// mustWriteNothing fails the test if fn appends any event to the log;
// what names the requests fn sends.
func mustWriteNothing(t *testing.T, m *Main, what string, fn func()) {
	t.Helper()
	before := countEvents(t, m)
	fn()
	if after := countEvents(t, m); after != before {
		t.Fatalf("%s appended %d events", what, after-before)
	}
}

// str reads a string member of a decoded JSON object.
func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// urlPath is the path of an absolute URL the API handed out (they are
// built on LEADSVC_PUBLIC_URL, not on the test's listen address).
func urlPath(t *testing.T, s string) string {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}
