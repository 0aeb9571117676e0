package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
)

// contract is an http.RoundTripper that checks every request of the API
// tests, and its response, against the OpenAPI document of the token that
// sent it, fetched from the token's docs_url as the service serves it at
// that moment (the general document when no live token sent it). Docs and
// behaviour cannot drift apart:
//
//   - a request the document describes gets a response the document
//     describes (status, headers, body; strict about undeclared members);
//   - a request the document refuses is refused by the service (4xx);
//   - a request to an operation the document does not list (a read-only
//     token's POST) is refused with a problem.
//
// Routes described from the published contract but not covered here
// (/v1/audit, /v1/webhooks) pass unchecked.
type contract struct {
	t    *testing.T
	m    *Main
	next http.RoundTripper

	mu    sync.Mutex
	specs map[string]*contractSpec // docs path → document
	seen  int                      // requests checked
}

type contractSpec struct {
	etag string
	v    validator.Validator
}

// contractChecked makes c's requests, and those of the clients made from
// it with as, go through the contract check; the test fails if none was
// checked.
func contractChecked(t *testing.T, m *Main, c *client) *client {
	t.Helper()
	ct := &contract{t: t, m: m, next: http.DefaultTransport, specs: map[string]*contractSpec{}}
	t.Cleanup(func() {
		ct.mu.Lock()
		defer ct.mu.Unlock()
		if ct.seen == 0 && !t.Failed() {
			t.Error("contract: no request was checked against the documents")
		}
	})
	c.hc = &http.Client{Transport: ct}
	return c
}

// unchecked paths are the documents' Unverified operations: their
// events' data is free-form.
func unchecked(path string) bool {
	return !strings.HasPrefix(path, "/v1/") || strings.HasPrefix(path, "/v1/audit") || strings.HasPrefix(path, "/v1/webhooks") ||
		(strings.HasPrefix(path, "/v1/leads/") && strings.HasSuffix(path, "/export"))
}

func (c *contract) RoundTrip(req *http.Request) (*http.Response, error) {
	if unchecked(req.URL.Path) {
		return c.next.RoundTrip(req)
	}
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
	}
	spec, docs, err := c.spec(req)
	if err != nil {
		return nil, err
	}
	probe := req.Clone(context.Background())
	probe.Body = io.NopCloser(bytes.NewReader(body))
	reqOK, reqErrs := spec.v.ValidateHttpRequestSync(probe)
	described := true
	for _, e := range reqErrs {
		if e.ValidationType == helpers.PathValidation &&
			(e.ValidationSubType == helpers.ValidationMissing || e.ValidationSubType == helpers.ValidationMissingOperation) {
			described = false
		}
	}

	req.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	respBody, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))

	what := fmt.Sprintf("contract (%s): %s %s → %d", docs, req.Method, req.URL.RequestURI(), resp.StatusCode)
	c.mu.Lock()
	c.seen++
	c.mu.Unlock()
	switch {
	case !described:
		if !refusedWithProblem(resp, respBody, 401, 403, 404, 405) {
			c.t.Errorf("%s: the documents do not list this operation, but the service answered %s", what, respBody)
		}
		return resp, nil
	case !reqOK && resp.StatusCode < 400:
		c.t.Errorf("%s: the service accepted a request its documents refuse:\n%s", what, describeErrors(reqErrs))
	}
	check := resp
	check.Body = io.NopCloser(bytes.NewReader(respBody))
	probe = req.Clone(context.Background())
	probe.Body = io.NopCloser(bytes.NewReader(body))
	if ok, errs := spec.v.ValidateHttpResponse(probe, check); !ok {
		c.t.Errorf("%s: the response does not match the documents:\n%s\nbody: %.600s", what, describeErrors(errs), respBody)
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	return resp, nil
}

func refusedWithProblem(resp *http.Response, body []byte, statuses ...int) bool {
	var p struct {
		Type   string `json:"type"`
		Status int    `json:"status"`
	}
	ok := false
	for _, s := range statuses {
		ok = ok || resp.StatusCode == s
	}
	return ok && resp.Header.Get("Content-Type") == "application/problem+json" &&
		json.Unmarshal(body, &p) == nil && p.Status == resp.StatusCode && strings.HasPrefix(p.Type, "urn:leadsvc:problem:")
}

func describeErrors(errs []*liberrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "  - %s: %s\n", e.Message, e.Reason)
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "      %s %s: %s\n", f.FieldPath, f.KeywordLocation, f.Reason)
		}
	}
	return b.String()
}

// spec is the document of the request's token as the service serves it
// now, revalidated with its ETag on every request (a schema or scope
// change shows at once).
func (c *contract) spec(req *http.Request) (*contractSpec, string, error) {
	docs := "/docs"
	if scheme, secret, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		if tok, err := c.m.Commands.Auth.Authenticate(req.Context(), strings.TrimSpace(secret)); err == nil {
			docs = "/docs/" + tok.DocsID
		}
	}
	s, err := c.fetch(docs)
	if err == errDocsGone {
		// The token expired or was revoked since it was looked up: the
		// request meets the general document, as an unknown token does.
		docs = "/docs"
		s, err = c.fetch(docs)
	}
	return s, docs, err
}

var errDocsGone = fmt.Errorf("contract: the token's documents are gone")

// fetch gets the document at docs, revalidating a cached one by ETag.
func (c *contract) fetch(docs string) (*contractSpec, error) {
	c.mu.Lock()
	cached := c.specs[docs]
	c.mu.Unlock()
	get, err := http.NewRequest(http.MethodGet, "http://"+c.m.Addr()+docs+"/openapi.yaml", nil)
	if err != nil {
		return nil, err
	}
	if cached != nil {
		get.Header.Set("If-None-Match", cached.etag)
	}
	resp, err := c.next.RoundTrip(get)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusNotModified && cached != nil:
		return cached, nil
	case resp.StatusCode == http.StatusNotFound && docs != "/docs":
		return nil, errDocsGone
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("contract: GET %s/openapi.yaml: %d %s", docs, resp.StatusCode, raw)
	}
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		return nil, fmt.Errorf("contract: %s: %w", docs, err)
	}
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions(), config.WithStandardBodyDecoders(),
		config.WithStrictMode(), config.WithSchemaCache(nil))
	if len(errs) > 0 {
		return nil, fmt.Errorf("contract: %s: %v", docs, errs)
	}
	s := &contractSpec{etag: resp.Header.Get("ETag"), v: v}
	c.mu.Lock()
	c.specs[docs] = s
	c.mu.Unlock()
	return s, nil
}
