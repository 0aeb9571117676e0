package deploytest_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

var composeFile = filepath.Join(root, "deployments", "compose", "compose.yaml")

// composeSecrets stand for what an operator exports; none is in the file.
var composeSecrets = map[string]string{
	"LEADSVC_SECRET_KEY": "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0zMmJ5dGU=",
	"POSTGRES_PASSWORD":  "test-password",
}

// loadCompose loads a compose file the way `docker compose` does, with the
// compose specification's schema validation (unknown fields are errors),
// interpolation of env and the consistency checks, with only env set.
func loadCompose(t *testing.T, path string, env map[string]string) (*types.Project, error) {
	t.Helper()
	var vars []string
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{path},
		cli.WithWorkingDirectory(filepath.Dir(path)),
		cli.WithEnv(vars),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func mustLoadCompose(t *testing.T) *types.Project {
	t.Helper()
	p, err := loadCompose(t, composeFile, composeSecrets)
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	return p
}

var (
	natsNodes = []string{"nats1", "nats2", "nats3"}
	replicas  = []string{"leadsvc1", "leadsvc2"}
)

// TestComposeFileRunsReplicasOnANATSCluster: the compose file loads
// strictly and runs what docs and README promise: PostgreSQL 15, three
// clustered JetStream nodes, a migration before two replicas that each
// answer a health check, and a load balancer on :8080 that checks them.
func TestComposeFileRunsReplicasOnANATSCluster(t *testing.T) {
	t.Parallel()
	p := mustLoadCompose(t)
	want := append(append([]string{"postgres", "migrate", "lb"}, natsNodes...), replicas...)
	if got := p.ServiceNames(); !sameSet(got, want) {
		t.Fatalf("services %q, want %q", got, want)
	}
	svc := func(name string) types.ServiceConfig {
		s, err := p.GetService(name)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	for _, s := range p.Services {
		// A moving tag changes what runs without a change here.
		if name, tag, ok := strings.Cut(s.Image, ":"); !ok || tag == "" || tag == "latest" || name == "" {
			t.Errorf("%s: image %q, want a pinned tag, not latest", s.Name, s.Image)
		}
		// The one-shot migration's health is its exit code.
		if s.Name == "migrate" {
			continue
		}
		if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 {
			t.Errorf("%s: no health check", s.Name)
		}
	}
	if img := svc("postgres").Image; !strings.HasPrefix(img, "postgres:15") {
		t.Errorf("postgres image %s, want PostgreSQL 15", img)
	}
	dependsOn(t, svc("migrate"), map[string]string{"postgres": types.ServiceConditionHealthy})
	if m := svc("migrate"); !slices.Equal(m.Command, []string{"migrate"}) || m.Restart != "no" || m.Build == nil {
		t.Errorf("migrate: command %q restart %q build %v, want the image's migrate, once", m.Command, m.Restart, m.Build)
	}

	// The NATS cluster: JetStream on file storage in a volume, one
	// cluster name, and each node routed to the two others.
	cluster := ""
	for _, n := range natsNodes {
		s := svc(n)
		if !strings.HasPrefix(s.Image, "nats:2.10") {
			t.Errorf("%s: image %s, want nats:2.10", n, s.Image)
		}
		flags := map[string]string{}
		for _, arg := range s.Command {
			k, v, _ := strings.Cut(arg, "=")
			flags[k] = v
		}
		if _, ok := flags["--jetstream"]; !ok {
			t.Errorf("%s: command %q has no --jetstream", n, s.Command)
		}
		if !slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool {
			return v.Type == types.VolumeTypeVolume && v.Target == flags["--store_dir"]
		}) {
			t.Errorf("%s: store_dir %q is not on a volume", n, flags["--store_dir"])
		}
		if cluster == "" {
			cluster = flags["--cluster_name"]
		}
		if flags["--cluster_name"] != cluster || cluster == "" || flags["--name"] != n {
			t.Errorf("%s: name %q cluster %q, want its own name in one cluster", n, flags["--name"], flags["--cluster_name"])
		}
		for _, other := range natsNodes {
			if other != n && !strings.Contains(flags["--routes"], "nats://"+other+":6222") {
				t.Errorf("%s: routes %q miss %s", n, flags["--routes"], other)
			}
		}
	}

	lb := svc("lb")
	if !slices.ContainsFunc(lb.Ports, func(port types.ServicePortConfig) bool {
		return port.Published == "8080" && port.Target == 8080
	}) {
		t.Errorf("lb ports %+v, want 8080:8080", lb.Ports)
	}
	lbAddress := ""
	for _, n := range lb.Networks {
		if n != nil && n.Ipv4Address != "" {
			lbAddress = n.Ipv4Address
		}
	}
	checked := lbChecksReadiness(t)

	for _, r := range replicas {
		s := svc(r)
		if s.Build == nil || filepath.Clean(s.Build.Context) != mustAbs(t, root) {
			t.Errorf("%s: build %+v, want the repository's Dockerfile", r, s.Build)
		}
		// The image has no shell or curl: only the binary can check.
		if hc := strings.Join(s.HealthCheck.Test, " "); hc != "CMD /leadsvc healthcheck" {
			t.Errorf("%s: health check %q, want CMD /leadsvc healthcheck", r, hc)
		}
		if !checked[r] {
			t.Errorf("%s: the load balancer does not check its /readyz", r)
		}
		dependsOn(t, s, map[string]string{
			"postgres": types.ServiceConditionHealthy,
			"migrate":  types.ServiceConditionCompletedSuccessfully,
			"nats1":    types.ServiceConditionHealthy,
			"nats2":    types.ServiceConditionHealthy,
			"nats3":    types.ServiceConditionHealthy,
		})
		env := func(k string) string {
			if v := s.Environment[k]; v != nil {
				return *v
			}
			return ""
		}
		for _, n := range natsNodes {
			if !strings.Contains(env("NATS_URL"), "nats://"+n+":4222") {
				t.Errorf("%s: NATS_URL %q does not list %s", r, env("NATS_URL"), n)
			}
		}
		if !strings.Contains(env("DATABASE_URL"), "@postgres:5432/") {
			t.Errorf("%s: DATABASE_URL %q is not the postgres service", r, env("DATABASE_URL"))
		}
		// Every replica opens the same sealed secrets: one key, given.
		if env("LEADSVC_SECRET_KEY") != composeSecrets["LEADSVC_SECRET_KEY"] {
			t.Errorf("%s: LEADSVC_SECRET_KEY is not the operator's", r)
		}
		// Behind the balancer every request comes from it: the client's
		// address is the one it forwards, from it only.
		if lbAddress == "" || !strings.Contains(env("LEADSVC_TRUSTED_PROXIES"), lbAddress) {
			t.Errorf("%s: LEADSVC_TRUSTED_PROXIES %q, want the balancer's fixed address %q", r, env("LEADSVC_TRUSTED_PROXIES"), lbAddress)
		}
	}
}

// TestComposeFileCommitsNoSecret: without the operator's key and
// password the file does not load, rather than falling back to one
// written in it.
func TestComposeFileCommitsNoSecret(t *testing.T) {
	t.Parallel()
	for missing := range composeSecrets {
		env := map[string]string{}
		for k, v := range composeSecrets {
			if k != missing {
				env[k] = v
			}
		}
		if _, err := loadCompose(t, composeFile, env); err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("without %s: %v, want a refusal naming it", missing, err)
		}
	}
}

// TestComposeLoadingIsStrict: a field the specification does not know is
// an error, so the checks above run on what compose would run.
func TestComposeLoadingIsStrict(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(b), "  postgres:\n    image:", "  postgres:\n    imgae: postgres\n    image:", 1)
	if broken == string(b) {
		t.Fatal("no postgres service to break")
	}
	path := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadCompose(t, path, composeSecrets); err == nil || !strings.Contains(err.Error(), "imgae") {
		t.Fatalf("an unknown field loaded: %v", err)
	}
}

// lbChecksReadiness reads haproxy.cfg: the servers of the backend that
// asks GET /readyz and expects 200, by name, when checks are on.
func lbChecksReadiness(t *testing.T) map[string]bool {
	t.Helper()
	cfg := readFile(t, filepath.Join(root, "deployments", "compose", "haproxy.cfg"))
	checked := map[string]bool{}
	// Each backend section runs to the next unindented line.
	for _, section := range regexp.MustCompile(`(?m)^backend `).Split(cfg, -1)[1:] {
		lines := strings.Split(section, "\n")
		for i, l := range lines[1:] {
			if l != "" && l[0] != ' ' && l[0] != '\t' {
				lines = lines[:i+1]
				break
			}
		}
		var readyz, status200, checksOn bool
		var servers []string
		for _, l := range lines {
			f := strings.Fields(l)
			switch {
			case len(f) == 0 || strings.HasPrefix(f[0], "#"):
			case slices.Equal(f, []string{"option", "httpchk", "GET", "/readyz"}):
				readyz = true
			case slices.Equal(f, []string{"http-check", "expect", "status", "200"}):
				status200 = true
			case f[0] == "default-server" && slices.Contains(f, "check"):
				checksOn = true
			case f[0] == "server" && len(f) >= 3:
				host, _, _ := strings.Cut(f[2], ":")
				servers = append(servers, host)
				if slices.Contains(f, "check") {
					checked[host] = readyz && status200
				}
			}
		}
		for _, s := range servers {
			checked[s] = checked[s] || (checksOn && readyz && status200)
		}
	}
	return checked
}

func dependsOn(t *testing.T, s types.ServiceConfig, want map[string]string) {
	t.Helper()
	for dep, cond := range want {
		if got, ok := s.DependsOn[dep]; !ok || got.Condition != cond {
			t.Errorf("%s: depends_on %s %+v, want condition %s", s.Name, dep, got, cond)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
