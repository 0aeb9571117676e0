package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leadsvc/leadsvc/api"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/internal/testenv"
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

// uploadBody is a multipart upload of one file part whose bytes come from
// content; it returns the body and its Content-Type.
func uploadBody(content io.Reader) (io.Reader, string) {
	pr, pw := io.Pipe()
	boundary := "limits-test-boundary"
	go func() {
		_, err := io.WriteString(pw, "--"+boundary+"\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n"+
			"Content-Type: application/octet-stream\r\n\r\n")
		if err == nil {
			_, err = io.Copy(pw, content)
		}
		if err == nil {
			_, err = io.WriteString(pw, "\r\n--"+boundary+"--\r\n")
		}
		pw.CloseWithError(err)
	}()
	return pr, "multipart/form-data; boundary=" + boundary
}

// startUpload sends an upload whose file part stays open until the
// returned function is called; that function waits for the answer.
func startUpload(t *testing.T, c *client, path string) (finish func() *http.Response) {
	t.Helper()
	gate := make(chan struct{})
	body, ctype := uploadBody(io.MultiReader(strings.NewReader("first half, "), readerFunc(func(p []byte) (int, error) {
		<-gate
		return 0, io.EOF
	})))
	req, err := http.NewRequest(http.MethodPost, c.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+c.token)
	done := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("held upload: %v", err)
			close(done)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- resp
	}()
	var once sync.Once
	var resp *http.Response
	return func() *http.Response {
		once.Do(func() {
			close(gate)
			resp = <-done
		})
		return resp
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// waitUploadsInProgress waits until /metrics says n uploads are in
// progress.
func waitUploadsInProgress(t *testing.T, m *Main, n int) {
	t.Helper()
	testenv.CheckFor(t, 10*time.Second, func() error {
		if got := uploadsInProgress(t, m); got != n {
			return fmt.Errorf("%d uploads in progress, want %d", got, n)
		}
		return nil
	})
}

// uploadsInProgress reads leadsvc_uploads_in_progress from /metrics.
func uploadsInProgress(t *testing.T, m *Main) int {
	t.Helper()
	resp, err := http.Get("http://" + m.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	resp.Body.Close()
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, "leadsvc_uploads_in_progress "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("leadsvc_uploads_in_progress %q", v)
			}
			return n
		}
	}
	t.Fatal("/metrics has no leadsvc_uploads_in_progress")
	return 0
}

// mustLead creates a campaign and a lead in it with an account-level
// token and returns the lead's files path.
func mustLeadFiles(t *testing.T, admin *client) string {
	t.Helper()
	camp := str(admin.do("POST", "/v1/campaigns", campaignBody).want(201).obj(), "id")
	l := admin.do("POST", "/v1/leads", map[string]any{"campaign_id": camp, "fields": map[string]any{"name": "A", "source": "website"}}).want(201).obj()
	return "/v1/leads/" + str(l, "id") + "/files"
}

// TestConcurrentUploadsAreCapped: past LEADSVC_UPLOADS_PER_ACCOUNT uploads
// running for one account, the next is 429; past
// LEADSVC_UPLOADS_PER_PROCESS in the process, 503; both with Retry-After
// and before the body is read. A finished upload frees its place.
func TestConcurrentUploadsAreCapped(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, "LEADSVC_UPLOADS_PER_ACCOUNT", "1", "LEADSVC_UPLOADS_PER_PROCESS", "2")
	a, b, c := mustAccount(t, m, "A"), mustAccount(t, m, "B"), mustAccount(t, m, "C")
	aFiles, bFiles, cFiles := mustLeadFiles(t, a), mustLeadFiles(t, b), mustLeadFiles(t, c)
	finishA := startUpload(t, a, aFiles)
	defer finishA()
	waitUploadsInProgress(t, m, 1)
	r := a.upload(aFiles, "file", "second.txt", "text/plain", []byte("second"))
	if p := r.problem(429); p.Type != api.ProblemTypePrefix+"too-many-uploads" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("a second upload of the account: %+v %v", p, r.Header)
	}
	finishB := startUpload(t, b, bFiles)
	defer finishB()
	waitUploadsInProgress(t, m, 2)
	r = c.upload(cFiles, "file", "third.txt", "text/plain", []byte("third"))
	if p := r.problem(503); p.Type != api.ProblemTypePrefix+"uploads-busy" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("an upload past the process's cap: %+v %v", p, r.Header)
	}
	if resp := finishA(); resp == nil || resp.StatusCode != 201 {
		t.Fatalf("the held upload: %v", resp)
	}
	c.upload(cFiles, "file", "third.txt", "text/plain", []byte("third")).want(201)
	a.upload(aFiles, "file", "second.txt", "text/plain", []byte("second")).want(201)
}

// TestUploadQuotaRefusesAndChangesNothing: an upload that would take the
// account past LEADSVC_UPLOAD_QUOTA_BYTES is 413 upload-quota-exceeded
// and writes nothing, before its body is read when its Content-Length
// says so; of several racing for the last room, one wins; a removed file
// frees its room, and so does a staged file a stopped process left.
func TestUploadQuotaRefusesAndChangesNothing(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t, "LEADSVC_UPLOAD_QUOTA_BYTES", "1000")
	admin := mustAccount(t, m, "Acme")
	files := mustLeadFiles(t, admin)
	first := admin.upload(files, "file", "a.bin", "", make([]byte, 600)).want(201).obj()
	mustWriteNothing(t, m, "an upload past the quota", func() {
		p := admin.upload(files, "file", "b.bin", "", make([]byte, 600)).problem(413)
		if p.Type != api.ProblemTypePrefix+"upload-quota-exceeded" || !strings.Contains(p.Detail, "1000 bytes") {
			t.Fatalf("over quota: %+v", p)
		}
	})

	// A Content-Length past the quota is refused while the body is still
	// on its way.
	gate := make(chan struct{})
	defer close(gate)
	body, ctype := uploadBody(readerFunc(func([]byte) (int, error) {
		select {
		case <-gate:
		case <-time.After(15 * time.Second): // the answer did not come first
		}
		return 0, io.EOF
	}))
	req, err := http.NewRequest(http.MethodPost, admin.base+files, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 1 << 20
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+admin.token)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("a held upload of 1 MiB: %v", err)
	}
	if got := readAll(t, resp); resp.StatusCode != 413 || !strings.Contains(got, "upload-quota-exceeded") {
		t.Fatalf("a held upload of 1 MiB: %d %s", resp.StatusCode, got)
	}
	resp.Body.Close()

	var account, lead string
	if err := m.Pool.QueryRow(context.Background(), `SELECT account_id::text, lead_id::text FROM lead_files`).Scan(&account, &lead); err != nil {
		t.Fatal(err)
	}
	admin.do("DELETE", files+"/"+str(first, "id"), nil).want(204)
	if _, err := m.Pool.Exec(context.Background(), `INSERT INTO lead_files (id, lead_id, account_id, name, content_type, size, sha256, created_at, attached)
		VALUES (gen_random_uuid(), $1, $2, 'left.bin', 'application/octet-stream', 900, '', now() - interval '2 hours', false)`, lead, account); err != nil {
		t.Fatal(err)
	}

	var created, refused atomic.Int32
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			switch r := admin.upload(files, "file", "race.bin", "", make([]byte, 600)); r.Status {
			case 201:
				created.Add(1)
			case 413:
				refused.Add(1)
			default:
				t.Errorf("racing upload: %d %s", r.Status, r.Body)
			}
		})
	}
	wg.Wait()
	if created.Load() != 1 || refused.Load() != 3 {
		t.Fatalf("4 uploads racing for 1000 bytes: %d stored, %d refused; want 1 and 3", created.Load(), refused.Load())
	}
	var stored int64
	if err := m.Pool.QueryRow(context.Background(), `SELECT coalesce(sum(size), 0) FROM lead_files`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 600 {
		t.Fatalf("%d bytes stored, want 600", stored)
	}
}

// TestLargeUploadIsStoredInChunksAndReadBackWhole: a file of several
// chunks, not a multiple of the chunk size, comes back byte for byte with
// its digest.
func TestLargeUploadIsStoredInChunksAndReadBackWhole(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	admin := mustAccount(t, m, "Acme")
	files := mustLeadFiles(t, admin)
	content := make([]byte, 3<<20+12345)
	_, _ = rand.Read(content)
	up := admin.upload(files, "file", "big.bin", "", content).want(201)
	// The download reads the lead from the views: wait for the upload.
	got := admin.do("GET", files+"/"+str(up.obj(), "id"), nil, "Leadsvc-Min-Position", up.Header.Get("Leadsvc-Position")).want(200)
	if string(got.Body) != string(content) || got.Header.Get("Content-Length") != strconv.Itoa(len(content)) {
		t.Fatalf("downloaded %d bytes (Content-Length %s), want the %d uploaded", len(got.Body), got.Header.Get("Content-Length"), len(content))
	}
	var chunks int
	if err := m.Pool.QueryRow(context.Background(), `SELECT count(*) FROM lead_file_chunks`).Scan(&chunks); err != nil {
		t.Fatal(err)
	}
	if chunks < 4 {
		t.Fatalf("a file of %d bytes in %d chunks", len(content), chunks)
	}
}

// TestRateLimitsAreSharedByProcessesAndOutliveThem: two processes on one
// database grant one budget per token: what the first spent, the second
// refuses within a sync, before it has granted the quota itself. A
// process started after both stopped refuses at once, even what the
// first spent just before it stopped.
func TestRateLimitsAreSharedByProcessesAndOutliveThem(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sk := base64.StdEncoding.EncodeToString(key)
	fast := func(m *Main) { m.LimitSync = 50 * time.Millisecond }
	a := mustRunMainWith(t, fast, "LEADSVC_SECRET_KEY", sk, "LEADSVC_RATE_LIMIT", "5")
	env := []string{"LEADSVC_SECRET_KEY", sk, "LEADSVC_RATE_LIMIT", "5", "DATABASE_URL", a.Config.DatabaseURL}
	b := mustRunMainWith(t, fast, env...)
	first, second := mustAccount(t, a, "First"), mustAccount(t, a, "Second")
	on := func(m *Main, c *client) *client { return &client{t: t, base: "http://" + m.Addr(), token: c.token} }
	spendAll := func(c *client) {
		t.Helper()
		for range 5 {
			c.do("GET", "/v1/campaigns", nil).want(200)
		}
		c.do("GET", "/v1/campaigns", nil).problem(429)
	}
	spendAll(first)
	// The first process's sync lands: 5 units of 12 s.
	pool := testenv.Pool(t, a.Config.DatabaseURL)
	testenv.CheckFor(t, 10*time.Second, func() error {
		var n int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM rate_limits
			WHERE policy = 'default' AND tat > now() + interval '50 seconds'`).Scan(&n); err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("%d spent budgets in the table, want 1", n)
		}
		return nil
	})
	granted := 0
	testenv.CheckFor(t, 10*time.Second, func() error {
		r := on(b, first).do("GET", "/v1/campaigns", nil)
		if r.Status == 429 {
			mustBeRateLimited(t, r, 60+granted*12)
			return nil
		}
		r.want(200)
		granted++
		return fmt.Errorf("the second process granted %d", granted)
	})
	if granted >= 5 {
		t.Fatalf("the second process granted %d of a spent budget: it counts alone", granted)
	}
	t.Logf("after the first process's sync, the second granted %d before it refused", granted)

	spendAll(second)
	// Stopping syncs what was spent since the last sync.
	for _, m := range []*Main{a, b} {
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
	c := mustRunMainWith(t, nil, env...)
	mustBeRateLimited(t, on(c, first).do("GET", "/v1/campaigns", nil), 60+granted*12)
	mustBeRateLimited(t, on(c, second).do("GET", "/v1/campaigns", nil), 60)
}

// TestRateLimitsHoldWhileTheirSyncFails: while the shared budgets cannot
// be written, the process limits from its own counts (429, never a 5xx)
// and logs it once; once a sync works, what it spent meanwhile is in the
// shared budget.
func TestRateLimitsHoldWhileTheirSyncFails(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	m, logs := mustRunMainLogging(t, func(k string) string {
		if k == "LEADSVC_RATE_LIMIT" {
			return "5"
		}
		return env(k)
	}, func(m *Main) { m.LimitSync = 20 * time.Millisecond })
	admin := mustAccount(t, m, "Acme")
	pool := testenv.Pool(t, m.Config.DatabaseURL)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `ALTER TABLE rate_limits RENAME TO rate_limits_away`); err != nil {
		t.Fatal(err)
	}
	testenv.CheckFor(t, 10*time.Second, func() error {
		if !strings.Contains(logs.String(), `"msg":"rate limit sync failed`) {
			return fmt.Errorf("no failed sync logged yet")
		}
		return nil
	})
	for range 5 {
		admin.do("GET", "/v1/campaigns", nil).want(200)
	}
	mustBeRateLimited(t, admin.do("GET", "/v1/campaigns", nil), 60)
	if _, err := pool.Exec(ctx, `ALTER TABLE rate_limits_away RENAME TO rate_limits`); err != nil {
		t.Fatal(err)
	}
	testenv.CheckFor(t, 10*time.Second, func() error {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM rate_limits
			WHERE policy = 'default' AND tat > now() + interval '50 seconds'`).Scan(&n); err != nil {
			return err
		}
		if n != 1 || !strings.Contains(logs.String(), `"msg":"rate limit sync works again"`) {
			return fmt.Errorf("%d spent budgets in the table, want 1, and the recovery logged", n)
		}
		return nil
	})
	if n := strings.Count(logs.String(), `"msg":"rate limit sync failed`); n != 2 {
		t.Fatalf("%d lines of failed syncs, want one for each budget", n)
	}
}

// mustBeRateLimited checks a 429 for a spent token budget of 5 a minute,
// full again within fullIn seconds: 60, and 12 more for each unit the
// processes granted beyond the quota before they saw each other.
func mustBeRateLimited(t *testing.T, r reply, fullIn int) {
	t.Helper()
	p := r.problem(429)
	var left, secs int
	if _, err := fmt.Sscanf(r.Header.Get("RateLimit"), `"default";r=%d;t=%d`, &left, &secs); err != nil || left != 0 || secs < 1 || secs > fullIn {
		t.Fatalf("429 RateLimit %q: want none left, full within %d s", r.Header.Get("RateLimit"), fullIn)
	}
	if retry, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || retry < 1 || retry > fullIn-48 {
		t.Fatalf("429 Retry-After %q, want at most until one unit is back, %d s", r.Header.Get("Retry-After"), fullIn-48)
	}
	if p.Type != api.ProblemTypePrefix+"rate-limited" || r.Header.Get("RateLimit-Policy") != `"default";q=5;w=60` {
		t.Fatalf("429 %+v, policy %q", p, r.Header.Get("RateLimit-Policy"))
	}
}
