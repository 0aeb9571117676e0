// Package cluster_test runs the loopback cluster of cluster.sh from Go:
// nats-server and `leadsvc serve` processes on free loopback ports, one
// database schema, so that a test can kill and restart each of them.
package cluster_test

import (
	"bytes"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"

	"github.com/leadsvc/leadsvc/internal/testenv"
)

var (
	buildOnce sync.Once
	buildDir  string
	binPath   string
)

// leadsvcBinary builds ./cmd/leadsvc once per test binary.
func leadsvcBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "leadsvc-cluster-bin-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = dir
		binPath = testenv.BuildBinary(t, dir, "github.com/leadsvc/leadsvc/cmd/leadsvc")
	})
	if binPath == "" {
		t.Fatal("building leadsvc failed in an earlier test")
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// natsServerBinary is nats-server on PATH, else the Debian package's.
func natsServerBinary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nats-server"); err != nil {
		t.Fatal("no nats-server on PATH or at /usr/sbin/nats-server (`make test` installs it)")
	}
	return "/usr/sbin/nats-server"
}

// startNATSCluster runs size nats-server processes clustered with
// JetStream over loopback routes, each with storage of its own (kept
// across restarts), and returns them once the cluster can place a stream
// on every node. The flags are cluster.sh's.
func startNATSCluster(t testing.TB, size int) (nodes []*testenv.Process, urls []string) {
	t.Helper()
	bin := natsServerBinary(t)
	clientAddrs, routeAddrs := make([]string, size), make([]string, size)
	routes := make([]string, size)
	for i := range size {
		clientAddrs[i], routeAddrs[i] = testenv.FreeAddr(t), testenv.FreeAddr(t)
		routes[i] = "nats://" + routeAddrs[i]
		urls = append(urls, "nats://"+clientAddrs[i])
	}
	for i := range size {
		host, port, _ := net.SplitHostPort(clientAddrs[i])
		name := fmt.Sprintf("n%d", i+1)
		nodes = append(nodes, testenv.StartProcess(t, "nats-"+name, bin, nil, tcpReady(clientAddrs[i]),
			"-a", host, "-p", port, "-n", name, "-js", "-sd", t.TempDir(),
			"--cluster_name", "leadsvc", "--cluster", routes[i], "--routes", strings.Join(routes, ","), "--no_advertise=true"))
	}
	return nodes, urls
}

func tcpReady(addr string) func() error {
	return func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err
	}
}

// cluster is a leadsvc deployment on this machine: replicas sharing one
// schema, one secret key and either a NATS cluster or, with one replica,
// its embedded NATS.
type cluster struct {
	t        testing.TB
	bin      string
	env      []string // shared by every replica and command
	nats     []*testenv.Process
	natsURLs []string
	stream   string
	replicas []*replica
	db       *pgxpool.Pool // the test's own, on the same schema
	hc       *http.Client
	token    string // the account's token, every permission
}

// replica is one `leadsvc serve` process.
type replica struct {
	name, base string
	proc       *testenv.Process
}

// newCluster migrates a fresh schema, creates an account and starts
// replicas leadsvc processes on natsNodes clustered NATS servers (0: one
// replica with its embedded NATS).
func newCluster(t testing.TB, replicas, natsNodes int) *cluster {
	t.Helper()
	testenv.Integration(t)
	c := &cluster{t: t, bin: leadsvcBinary(t), stream: testenv.RandomName("CLUSTER_"),
		hc: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	dbURL := testenv.Schema(t)
	c.db = testenv.PoolOfSize(t, dbURL, 2)
	key := make([]byte, 32)
	_, _ = crand.Read(key)
	vars := map[string]string{"DATABASE_URL": dbURL, "LEADSVC_SECRET_KEY": base64.StdEncoding.EncodeToString(key),
		"LEADSVC_NATS_STREAM": c.stream, "LEADSVC_NATS_SUBJECT_PREFIX": testenv.RandomName("cluster"),
		"LEADSVC_WEBHOOKS_ALLOW_PRIVATE": "true", "LEADSVC_SHUTDOWN_DELAY": "0", "LEADSVC_RATE_LIMIT": "1000000",
		// Failed authentications are what the test spends of a shared
		// budget (addressLimitQuota); the writers never fail one.
		"LEADSVC_ADDRESS_RATE_LIMIT": strconv.Itoa(addressLimitQuota),
		"LEADSVC_LOG_FORMAT":         "json", "LEADSVC_LOG_LEVEL": "info", "PATH": os.Getenv("PATH"), "HOME": os.Getenv("HOME")}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range append(c.nats, c.procs()...) {
				t.Logf("the end of %s's output:\n%s", p.Name, p.Tail())
			}
		}
	})
	if natsNodes > 0 {
		c.nats, c.natsURLs = startNATSCluster(t, natsNodes)
		testenv.WaitForCluster(t, c.natsURLs)
		vars["NATS_URL"] = strings.Join(c.natsURLs, ",")
		vars["LEADSVC_STREAM_REPLICAS"] = strconv.Itoa(natsNodes)
	}
	for k, v := range vars {
		c.env = append(c.env, k+"="+v)
	}
	c.run("migrate")
	var acct struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(c.run("account", "create", "--name", "Cluster", "--json"), &acct); err != nil {
		t.Fatal(err)
	}
	c.token = acct.Token
	for i := range replicas {
		addr := testenv.FreeAddr(t)
		r := &replica{name: fmt.Sprintf("leadsvc-%d", i+1), base: "http://" + addr}
		env := append(c.env[:len(c.env):len(c.env)], "LEADSVC_ADDR="+addr, "LEADSVC_DATA_DIR="+t.TempDir())
		r.proc = testenv.StartProcess(t, r.name, c.bin, env, testenv.HTTPReady(r.base+"/readyz"), "serve")
		c.replicas = append(c.replicas, r)
	}
	return c
}

// run runs a leadsvc command on the cluster's configuration and returns
// its standard output; exit status 0 or the test fails.
func (c *cluster) run(args ...string) []byte {
	c.t.Helper()
	out, stderr, err := c.runCommand(args...)
	if err != nil {
		c.t.Fatalf("leadsvc %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
	}
	return out
}

func (c *cluster) runCommand(args ...string) (stdout []byte, stderr string, err error) {
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(c.env[:len(c.env):len(c.env)], "LEADSVC_DATA_DIR="+c.t.TempDir())
	var se strings.Builder
	cmd.Stderr = &se
	stdout, err = cmd.Output()
	return stdout, se.String(), err
}

// js connects to the NATS cluster; closed when the test ends.
func (c *cluster) js() nats.JetStreamContext {
	c.t.Helper()
	nc, err := nats.Connect(strings.Join(c.natsURLs, ","), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(nc.Close)
	js, err := nc.JetStream(nats.MaxWait(10 * time.Second))
	if err != nil {
		c.t.Fatal(err)
	}
	return js
}

// answer is an HTTP response, read whole.
type answer struct {
	code   int
	header http.Header
	body   []byte
}

// call sends body (nil: none) as JSON to base+path with the token and
// the extra headers (name, value, …).
func (c *cluster) call(method, base, path, token string, body []byte, headers ...string) (answer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return answer{code: resp.StatusCode, header: resp.Header, body: out}, err
}

// mustCall sends v as JSON through the first replica, fails the test
// unless the answer has status want, and decodes it.
func (c *cluster) mustCall(method, path, token string, v any, want int) map[string]any {
	c.t.Helper()
	body, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	a, err := c.call(method, c.replicas[0].base, path, token, body)
	if err != nil || a.code != want {
		c.t.Fatalf("%s %s: %d %.500s %v; want %d", method, path, a.code, a.body, err, want)
	}
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return m
}

// campaignBody is the campaign the cluster's leads are created in.
var campaignBody = map[string]any{
	"name":     "Cluster",
	"fields":   []map[string]any{{"key": "name", "label": "Name", "type": "text", "required": true}},
	"selects":  []map[string]any{},
	"statuses": []map[string]any{{"slug": "new", "label": "New"}},
}

// writer makes a campaign and returns its id and a token that writes
// every lead of it.
func (c *cluster) writer() (campaign, token string) {
	c.t.Helper()
	campaign = c.mustCall("POST", "/v1/campaigns", c.token, campaignBody, 201)["id"].(string)
	tok := c.mustCall("POST", "/v1/tokens", c.token, map[string]any{"name": "writer", "campaign_id": campaign,
		"filter_id": nil, "permissions": []string{"read", "write"}}, 201)
	return campaign, tok["secret"].(string)
}

// readiness is what a replica's /readyz says of its relay and
// projections.
type readiness struct {
	Checks struct {
		Relay struct {
			Detail struct {
				Leader    bool  `json:"leader"`
				Position  int64 `json:"position"`
				LagEvents int64 `json:"lag_events"`
			} `json:"detail"`
		} `json:"relay"`
		Projections struct {
			Detail map[string]struct {
				LagEvents int64 `json:"lag_events"`
				Live      bool  `json:"live"`
			} `json:"detail"`
		} `json:"projections"`
	} `json:"checks"`
}

func (c *cluster) readiness(r *replica) (readiness, error) {
	var rz readiness
	a, err := c.call("GET", r.base, "/readyz", "", nil)
	if err != nil {
		return rz, err
	}
	if err := json.Unmarshal(a.body, &rz); err != nil {
		return rz, fmt.Errorf("%s /readyz: %w", r.name, err)
	}
	return rz, nil
}

// relayHolder is the replica whose /readyz says it leads the relay, or
// nil when none does now.
func (c *cluster) relayHolder() *replica {
	for _, r := range c.replicas {
		if !r.proc.Running() {
			continue
		}
		if rz, err := c.readiness(r); err == nil && rz.Checks.Relay.Detail.Leader {
			return r
		}
	}
	return nil
}

// waitRelayHolder waits until a replica leads the relay.
func (c *cluster) waitRelayHolder() *replica {
	c.t.Helper()
	var holder *replica
	testenv.CheckFor(c.t, time.Minute, func() error {
		if holder = c.relayHolder(); holder == nil {
			return fmt.Errorf("no replica leads the relay")
		}
		return nil
	})
	return holder
}

// waitAtRest waits until every replica's /readyz shows the relay and
// every projection caught up and live: a measurement started before would
// time the relay creating the stream and the projections' first catch-up
// (seen as a relay at position 0 with thousands of events behind while
// the first creates came in).
func (c *cluster) waitAtRest() {
	c.t.Helper()
	testenv.CheckFor(c.t, 2*time.Minute, func() error {
		for _, r := range c.replicas {
			rz, err := c.readiness(r)
			if err != nil {
				return err
			}
			if rz.Checks.Relay.Detail.Position == 0 || rz.Checks.Relay.Detail.LagEvents > 0 {
				return fmt.Errorf("%s: relay at %d, %d events behind", r.name, rz.Checks.Relay.Detail.Position, rz.Checks.Relay.Detail.LagEvents)
			}
			if len(rz.Checks.Projections.Detail) == 0 {
				return fmt.Errorf("%s: no projections in /readyz", r.name)
			}
			for name, p := range rz.Checks.Projections.Detail {
				if !p.Live || p.LagEvents > 0 {
					return fmt.Errorf("%s: projection %s live %v, %d events behind", r.name, name, p.Live, p.LagEvents)
				}
			}
		}
		return nil
	})
}

// killRelayHolder SIGKILLs the replica leading the relay and returns it
// with the time from the kill to the stream's next message: another
// replica took the lock and published. Something must be writing. The
// kill's own time goes onto kills, when not nil: finding the holder
// can take seconds, and a webhook repeat is judged against the kill.
func (c *cluster) killRelayHolder(js nats.JetStreamContext, kills *[]time.Time) (*replica, time.Duration) {
	c.t.Helper()
	holder := c.waitRelayHolder()
	killed := time.Now()
	if kills != nil {
		*kills = append(*kills, killed)
	}
	holder.proc.Kill()
	// Read once it is gone: what it sent before dying is in the stream.
	seq, err := streamLastSeq(js, c.stream)
	if err != nil {
		c.t.Fatal(err)
	}
	testenv.CheckFor(c.t, time.Minute, func() error {
		if last, err := streamLastSeq(js, c.stream); err != nil || last <= seq {
			return fmt.Errorf("stream at %d, was %d when the relay's holder died: %v", last, seq, err)
		}
		return nil
	})
	return holder, time.Since(killed)
}

func (c *cluster) procs() []*testenv.Process {
	var out []*testenv.Process
	for _, r := range c.replicas {
		out = append(out, r.proc)
	}
	return out
}

// stop ends every process of the cluster.
func (c *cluster) stop() {
	for _, r := range c.replicas {
		r.proc.Stop()
	}
	for _, n := range c.nats {
		n.Stop()
	}
}

// streamLastSeq is the stream's last sequence number.
func streamLastSeq(js nats.JetStreamContext, stream string) (uint64, error) {
	info, err := js.StreamInfo(stream)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq, nil
}
