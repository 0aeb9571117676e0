package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/api"
	"github.com/leadsvc/leadsvc/domain"
)

// statementCounter counts the statements the service's pool sends, by the
// X-Request-Id of the HTTP request they serve: a test sends its requests
// with ids of its own and asks how many statements each cost.
type statementCounter struct {
	mu   sync.Mutex
	byID map[string]int
}

func newStatementCounter() *statementCounter { return &statementCounter{byID: map[string]int{}} }

func (c *statementCounter) count(ctx context.Context) {
	if id := api.RequestID(ctx); id != "" {
		c.mu.Lock()
		c.byID[id]++
		c.mu.Unlock()
	}
}

// of is the number of statements sent for the requests whose id starts
// with prefix.
func (c *statementCounter) of(prefix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for id, k := range c.byID {
		if strings.HasPrefix(id, prefix) {
			n += k
		}
	}
	return n
}

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.count(ctx)
	return ctx
}
func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *statementCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.count(ctx)
	return ctx
}
func (c *statementCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *statementCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}
func (c *statementCounter) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceCopyFromStartData) context.Context {
	c.count(ctx)
	return ctx
}
func (c *statementCounter) TraceCopyFromEnd(context.Context, *pgx.Conn, pgx.TraceCopyFromEndData) {}

// unknownSecret is a well-formed token secret no token has: only the
// database can tell.
func unknownSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return domain.FormatTokenSecret(b)
}

// TestFailedAuthenticationIsLimitedPerAddress: each 401 costs the client
// address one unit of LEADSVC_ADDRESS_RATE_LIMIT; an address with none
// left is answered 429 with Retry-After before any database work, except
// for a token this process already knows. Behind a trusted proxy the
// address is the one the proxy forwards; from anyone else
// X-Forwarded-For is ignored.
func TestFailedAuthenticationIsLimitedPerAddress(t *testing.T) {
	t.Parallel()
	stmts := newStatementCounter()
	m := mustRunMainWith(t, func(m *Main) { m.Tracer = stmts }, "LEADSVC_ADDRESS_RATE_LIMIT", "5")
	admin := mustAccount(t, m, "Acme")
	admin.do("GET", "/v1/campaigns", nil).want(200)
	bad := admin.as(unknownSecret())
	for i := range 5 {
		bad.do("GET", "/v1/leads", nil, "X-Request-Id", fmt.Sprint("failed-", i)).problem(401)
	}
	if n := stmts.of("failed-"); n < 5 {
		t.Fatalf("5 unknown tokens cost %d statements: the counter sees nothing", n)
	}
	for i, c := range []*client{bad, admin.as(""), admin.as("lsk_malformed"), admin.as(unknownSecret())} {
		r := c.do("GET", "/v1/leads", nil, "X-Request-Id", fmt.Sprint("limited-", i))
		p := r.problem(429)
		if p.Type != api.ProblemTypePrefix+"rate-limited" || r.Header.Get("WWW-Authenticate") != "" {
			t.Fatalf("over the address's limit: %+v %v", p, r.Header)
		}
		if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs < 1 || secs > 60 {
			t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
		}
		if r.Header.Get("RateLimit-Policy") != `"address";q=5;w=60` || !strings.HasPrefix(r.Header.Get("RateLimit"), `"address";r=0;t=`) {
			t.Fatalf("429 rate limit headers %v", r.Header)
		}
	}
	if n := stmts.of("limited-"); n != 0 {
		t.Fatalf("refused for the address's limit, 4 requests cost %d statements", n)
	}
	// A token this process has authenticated lately costs no query: it
	// passes (the office an attacker shares keeps working).
	admin.do("GET", "/v1/campaigns", nil).want(200)

	// Without a trusted proxy, X-Forwarded-For is the client's word.
	bad.do("GET", "/v1/leads", nil, "X-Forwarded-For", "203.0.113.9").problem(429)
}

// TestTrustedProxiesForwardTheClientAddress: behind a proxy of
// LEADSVC_TRUSTED_PROXIES, each forwarded client has its own budget, and
// what a client writes into the header itself does not change its
// address.
func TestTrustedProxiesForwardTheClientAddress(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, "LEADSVC_ADDRESS_RATE_LIMIT", "2", "LEADSVC_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")
	bad := mustAccount(t, m, "Acme").as(unknownSecret())
	for range 2 {
		bad.do("GET", "/v1/leads", nil, "X-Forwarded-For", "203.0.113.7").problem(401)
	}
	bad.do("GET", "/v1/leads", nil, "X-Forwarded-For", "203.0.113.7").problem(429)
	// The client's own claim, then a trusted inner proxy: the address is
	// still the one the outer proxy saw.
	bad.do("GET", "/v1/leads", nil, "X-Forwarded-For", "198.51.100.1, 203.0.113.7, 10.1.2.3").problem(429)
	bad.do("GET", "/v1/leads", nil, "X-Forwarded-For", "203.0.113.8").problem(401)
	// An IPv6 client's budget is its /64's.
	for range 2 {
		bad.do("GET", "/v1/leads", nil, "X-Forwarded-For", "2001:db8:1:2::1").problem(401)
	}
	bad.do("GET", "/v1/leads", nil, "X-Forwarded-For", "2001:db8:1:2:ffff::9").problem(429)
	bad.do("GET", "/v1/leads", nil, "X-Forwarded-For", "2001:db8:1:3::1").problem(401)

	for _, v := range []string{"10.0.0.0/33", "proxy.example", "::1/129"} {
		_, err := LoadConfig(func(k string) string {
			if k == "LEADSVC_TRUSTED_PROXIES" {
				return v
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), "LEADSVC_TRUSTED_PROXIES") {
			t.Errorf("LEADSVC_TRUSTED_PROXIES=%s: %v", v, err)
		}
	}
}

// TestUnknownDocsIDsAreLimitedPerAddress: an unknown docs id costs the
// address a unit; past the limit every docs id is 429 before it is
// looked up.
func TestUnknownDocsIDsAreLimitedPerAddress(t *testing.T) {
	t.Parallel()
	stmts := newStatementCounter()
	m := mustRunMainWith(t, func(m *Main) { m.Tracer = stmts }, "LEADSVC_ADDRESS_RATE_LIMIT", "3")
	s := mustSetup(t, m)
	anon := s.admin.as("")
	docs := urlPath(t, s.abc.docsURL)
	anon.do("GET", docs, nil).want(200)
	for i := range 3 {
		anon.do("GET", "/docs/"+strings.Repeat("Z", 26)+strconv.Itoa(i), nil, "X-Request-Id", fmt.Sprint("unknown-", i)).problem(404)
	}
	if n := stmts.of("unknown-"); n < 3 {
		t.Fatalf("3 unknown docs ids cost %d statements: the counter sees nothing", n)
	}
	for i, path := range []string{"/docs/" + strings.Repeat("Y", 27), "/docs/" + strings.Repeat("Y", 27) + "/openapi.yaml", docs} {
		r := anon.do("GET", path, nil, "X-Request-Id", fmt.Sprint("limited-", i))
		r.problem(429)
		if r.Header.Get("Retry-After") == "" {
			t.Fatalf("GET %s: 429 without Retry-After: %v", path, r.Header)
		}
	}
	if n := stmts.of("limited-"); n != 0 {
		t.Fatalf("refused for the address's limit, docs requests cost %d statements", n)
	}
	// The general documentation reads nothing and stays open.
	anon.do("GET", "/docs/openapi.yaml", nil).want(200)
}

// TestConsoleSignInsAreLimitedPerAddress: every sign-in attempt costs the
// address a unit; past the limit the form answers 429 with Retry-After
// without looking the token up, even for a good one.
func TestConsoleSignInsAreLimitedPerAddress(t *testing.T) {
	t.Parallel()
	stmts := newStatementCounter()
	m := mustRunMainWith(t, func(m *Main) { m.Tracer = stmts }, "LEADSVC_ADDRESS_RATE_LIMIT", "3")
	admin := mustAccount(t, m, "Acme")
	s := newConsoleSession(t, m)
	for range 3 {
		s.signIn(unknownSecret()).want(http.StatusUnauthorized)
	}
	s.get("/login").want(http.StatusOK)
	form := url.Values{"token": {admin.token}, "csrf": {s.csrf}}
	req, err := http.NewRequest(http.MethodPost, s.base+"/console/login", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Request-Id", "limited-sign-in")
	p := s.do(req).want(http.StatusTooManyRequests)
	if secs, err := strconv.Atoi(p.Header.Get("Retry-After")); err != nil || secs < 1 || !p.contains("Too many sign-in attempts") {
		t.Fatalf("429 sign-in: Retry-After %q\n%s", p.Header.Get("Retry-After"), p.Body)
	}
	if n := stmts.of("limited-"); n != 0 {
		t.Fatalf("a sign-in refused for the address's limit cost %d statements", n)
	}
	if p.Header.Get("Set-Cookie") != "" && strings.Contains(p.Header.Get("Set-Cookie"), "leadsvc_console=") {
		t.Fatalf("a refused sign-in opened a session: %v", p.Header)
	}
}

// TestRateLimitedTokenIsRefusedWithoutAQuery: once a token's budget is
// spent, its requests are 429 without a statement, whether the process
// caches its authentication or not (a token whose filter was deleted is
// read again on every request).
func TestRateLimitedTokenIsRefusedWithoutAQuery(t *testing.T) {
	t.Parallel()
	stmts := newStatementCounter()
	m := mustRunMainWith(t, func(m *Main) { m.Tracer = stmts }, "LEADSVC_RATE_LIMIT", "20")
	s := mustSetup(t, m)
	s.admin.do("DELETE", "/v1/filters/"+s.xyz.filterID, nil).want(204)
	for _, tc := range []struct {
		name string
		c    *client
	}{{"cached", s.abc.ro}, {"filter-deleted", s.xyz.ro}} {
		served := 0
		for ; ; served++ {
			r := tc.c.do("GET", "/v1/leads", nil, "X-Request-Id", fmt.Sprint(tc.name, "-served-", served))
			if r.Status == 429 {
				break
			}
			r.want(200)
			if served > 40 {
				t.Fatalf("%s: never limited", tc.name)
			}
		}
		if n := stmts.of(tc.name + "-served-"); n < served {
			t.Fatalf("%s: %d lists cost %d statements: the counter sees nothing", tc.name, served, n)
		}
		for i := range 5 {
			r := tc.c.do("GET", "/v1/leads", nil, "X-Request-Id", fmt.Sprint(tc.name, "-limited-", i))
			r.problem(429)
			if r.Header.Get("Retry-After") == "" || !strings.HasPrefix(r.Header.Get("RateLimit"), `"default";r=0;t=`) {
				t.Fatalf("%s: 429 headers %v", tc.name, r.Header)
			}
		}
		if n := stmts.of(tc.name + "-limited-"); n != 0 {
			t.Fatalf("%s: 5 requests refused for the token's limit cost %d statements", tc.name, n)
		}
	}
}
