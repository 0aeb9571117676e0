package deploytest_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

var (
	chartDir = filepath.Join(root, "deployments", "kubernetes", "leadsvc")
	// everythingValues turns on every optional part of the chart.
	everythingValues = filepath.Join(chartDir, "ci", "everything-values.yaml")
)

// helmBinary is the Makefile's pinned Helm (HELM_MODULE) at HELM_BIN,
// bin/helm-<version>, installed there with `go install` when missing: once
// there, the tests need no network.
var helmBinary = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`(?m)^HELM_MODULE\s*:=\s*(\S+@(\S+))$`).FindSubmatch(b)
	if m == nil {
		return "", errors.New("the Makefile names no HELM_MODULE")
	}
	path, err := filepath.Abs(filepath.Join(root, "bin", "helm-"+string(m[2])))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	gobin, err := os.MkdirTemp(filepath.Dir(path), ".helm-install-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(gobin)
	cmd := exec.Command("go", "install", string(m[1]))
	cmd.Env = append(os.Environ(), "GOBIN="+gobin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s: %w\n%s", m[1], err, out)
	}
	return path, os.Rename(filepath.Join(gobin, "helm"), path)
})

// helm runs the pinned Helm with its home folders in a temporary folder:
// no user's repositories or plugins are read, and nothing is fetched.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin, err := helmBinary()
	if err != nil {
		t.Fatalf("no Helm to run: %v", err)
	}
	home := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// chart is what `helm template` rendered, each manifest decoded.
type chart struct {
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	secrets     []*corev1.Secret
	pdbs        []*policyv1.PodDisruptionBudget
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	jobs        []*batchv1.Job
}

// decodeManifests splits `helm template` output into its documents and
// decodes each strictly into its k8s.io/api type: a field the type does
// not know (matched case-sensitively, as the API server does), a
// duplicate field, or a kind the chart is not meant to render is an error.
func decodeManifests(out string) (chart, error) {
	var c chart
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(out, -1) {
		j, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			return c, err
		}
		if s := strings.TrimSpace(string(j)); s == "null" || s == "" {
			continue // a comment only
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(j, &tm); err != nil {
			return c, err
		}
		newObject, ok := map[string]func() any{
			"apps/v1 Deployment":                     func() any { return appendNew(&c.deployments) },
			"v1 Service":                             func() any { return appendNew(&c.services) },
			"v1 Secret":                              func() any { return appendNew(&c.secrets) },
			"policy/v1 PodDisruptionBudget":          func() any { return appendNew(&c.pdbs) },
			"autoscaling/v2 HorizontalPodAutoscaler": func() any { return appendNew(&c.hpas) },
			"batch/v1 Job":                           func() any { return appendNew(&c.jobs) },
		}[tm.APIVersion+" "+tm.Kind]
		if !ok {
			return c, fmt.Errorf("a %s %s: not a kind the chart renders", tm.APIVersion, tm.Kind)
		}
		into := newObject()
		strict, err := kjson.UnmarshalStrict(j, into, kjson.DisallowUnknownFields)
		if err != nil {
			return c, fmt.Errorf("%s: %w", tm.Kind, err)
		}
		if len(strict) > 0 {
			return c, fmt.Errorf("%s: %v", tm.Kind, strict)
		}
	}
	return c, nil
}

func appendNew[T any](list *[]*T) *T {
	v := new(T)
	*list = append(*list, v)
	return v
}

// mustRender renders the chart as release "leadsvc" with the values files
// given (none: values.yaml alone) and decodes it.
func mustRender(t *testing.T, valueFiles ...string) chart {
	t.Helper()
	args := []string{"template", "leadsvc", chartDir, "--namespace", "leads"}
	for _, f := range valueFiles {
		args = append(args, "--values", f)
	}
	out, err := helm(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := decodeManifests(out)
	if err != nil {
		t.Fatalf("a rendered manifest does not decode: %v", err)
	}
	return c
}

func one[T any](t *testing.T, what string, list []*T) *T {
	t.Helper()
	if len(list) != 1 {
		t.Fatalf("%d %s rendered, want 1", len(list), what)
	}
	return list[0]
}

// TestChartLints: `helm lint --strict` (warnings are errors, values are
// checked against values.schema.json) with the default values and with
// every optional part on.
func TestChartLints(t *testing.T) {
	t.Parallel()
	for name, files := range map[string][]string{"default values": nil, "every option": {everythingValues}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			args := []string{"lint", "--strict", chartDir}
			for _, f := range files {
				args = append(args, "--values", f)
			}
			if out, err := helm(t, args...); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

// TestChartDefaults: with values.yaml alone the chart renders two
// replicas on an existing Secret, a Service, a disruption budget and the
// migration hook; no Secret of its own and no autoscaler.
func TestChartDefaults(t *testing.T) {
	t.Parallel()
	c := mustRender(t)
	d := one(t, "Deployments", c.deployments)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", d.Spec.Replicas)
	}
	if len(c.secrets) != 0 || len(c.hpas) != 0 {
		t.Errorf("%d Secrets and %d autoscalers, want none by default", len(c.secrets), len(c.hpas))
	}
	checkChart(t, c, map[string]string{"LEADSVC_SECRET_KEY": "leadsvc", "LEADSVC_SECRET_KEYS_PREVIOUS": "leadsvc", "DATABASE_URL": "leadsvc"})
	container := d.Spec.Template.Spec.Containers[0]
	if got := env(container, "LEADSVC_STREAM_REPLICAS"); got != "3" {
		t.Errorf("LEADSVC_STREAM_REPLICAS %q, want 3 on the three-node cluster", got)
	}
	if got := env(container, "NATS_URL"); got != "nats://nats:4222" {
		t.Errorf("NATS_URL %q, want the NATS chart's Service nats:4222", got)
	}
	if got := env(container, "LEADSVC_SHUTDOWN_DELAY"); got != "5s" {
		t.Errorf("LEADSVC_SHUTDOWN_DELAY %q, want leadsvc's default 5s", got)
	}
}

// TestChartWithEveryOption: the chart's own Secret, made before the
// migration that reads it; the autoscaler owns the replica count.
func TestChartWithEveryOption(t *testing.T) {
	t.Parallel()
	c := mustRender(t, everythingValues)
	d := one(t, "Deployments", c.deployments)
	s := one(t, "Secrets", c.secrets)
	checkChart(t, c, map[string]string{"LEADSVC_SECRET_KEY": s.Name, "LEADSVC_SECRET_KEYS_PREVIOUS": s.Name, "DATABASE_URL": s.Name})

	if got, want := string(s.Data["LEADSVC_SECRET_KEY"]), "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0zMmJ5dGU="; got != want {
		t.Errorf("the Secret's LEADSVC_SECRET_KEY is %q, want the value given", got)
	}
	if !strings.HasPrefix(string(s.Data["DATABASE_URL"]), "postgres://") {
		t.Error("the Secret holds no DATABASE_URL")
	}
	job := one(t, "Jobs", c.jobs)
	if hookWeight(t, s.ObjectMeta) >= hookWeight(t, job.ObjectMeta) || hooks(s.ObjectMeta) != hooks(job.ObjectMeta) {
		t.Errorf("Secret hook %q weight %s, Job hook %q weight %s: the Secret must exist before the migration",
			hooks(s.ObjectMeta), s.Annotations["helm.sh/hook-weight"], hooks(job.ObjectMeta), job.Annotations["helm.sh/hook-weight"])
	}

	// An upgrade must not reset what the autoscaler chose.
	if d.Spec.Replicas != nil {
		t.Errorf("replicas %d with the autoscaler on, want none", *d.Spec.Replicas)
	}
	hpa := one(t, "autoscalers", c.hpas)
	if ref := hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || ref.Name != d.Name {
		t.Errorf("the autoscaler scales %+v, want Deployment %s", ref, d.Name)
	}
	if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
		t.Errorf("autoscaler from %v to %d, want at least 2", hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
	}

	container := d.Spec.Template.Spec.Containers[0]
	for k, want := range map[string]string{
		"LEADSVC_PUBLIC_URL":      "https://leads.example.com",
		"LEADSVC_TRUSTED_PROXIES": "10.0.0.0/8",
		"LEADSVC_RATE_LIMIT":      "1200",
		"LEADSVC_SHUTDOWN_DELAY":  "10s",
	} {
		if got := env(container, k); got != want {
			t.Errorf("%s %q, want %q", k, got, want)
		}
	}
	if got := container.Image; got != "registry.example.com/leadsvc:1.2.3" || job.Spec.Template.Spec.Containers[0].Image != got {
		t.Errorf("images %q and %q, want the one given to both", got, job.Spec.Template.Spec.Containers[0].Image)
	}
}

// checkChart holds what every rendering must keep: the probes, a shutdown
// that drains, non-root and read-only pods, secrets from the Secrets
// named in secretRefs (variable → Secret), never inline, and Service,
// budget and autoscaler selecting the Deployment's pods.
func checkChart(t *testing.T, c chart, secretRefs map[string]string) {
	t.Helper()
	d := one(t, "Deployments", c.deployments)
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	container := pod.Containers[0]
	if got := strings.Join(container.Args, " "); got != "serve" {
		t.Errorf("args %q, want serve", got)
	}

	// LEADSVC_ADDR is the container's port named http, which every probe
	// and the Service use.
	var httpPort int32
	for _, p := range container.Ports {
		if p.Name == "http" {
			httpPort = p.ContainerPort
		}
	}
	if httpPort == 0 || env(container, "LEADSVC_ADDR") != fmt.Sprintf(":%d", httpPort) {
		t.Errorf("port http %d, LEADSVC_ADDR %q: want the same port", httpPort, env(container, "LEADSVC_ADDR"))
	}
	for name, probe := range map[string]struct {
		p    *corev1.Probe
		path string
	}{
		"startup":   {container.StartupProbe, "/livez"},
		"liveness":  {container.LivenessProbe, "/livez"},
		"readiness": {container.ReadinessProbe, "/readyz"},
	} {
		if probe.p == nil || probe.p.HTTPGet == nil {
			t.Errorf("%s probe %+v, want GET %s", name, probe.p, probe.path)
			continue
		}
		if g := probe.p.HTTPGet; g.Path != probe.path || (g.Port.String() != "http" && g.Port.IntValue() != int(httpPort)) {
			t.Errorf("%s probe GET %s on %s, want %s on http", name, g.Path, g.Port.String(), probe.path)
		}
	}

	// preStop sleeps for the shutdown delay; the grace period covers it,
	// leadsvc's own delay and its drain timeout.
	delay := seconds(t, env(container, "LEADSVC_SHUTDOWN_DELAY"))
	timeout := seconds(t, env(container, "LEADSVC_SHUTDOWN_TIMEOUT"))
	var preStop int64 = -1
	if l := container.Lifecycle; l != nil && l.PreStop != nil && l.PreStop.Sleep != nil {
		preStop = l.PreStop.Sleep.Seconds
	}
	if preStop != delay || delay < 1 {
		t.Errorf("preStop sleeps %d s, LEADSVC_SHUTDOWN_DELAY %d s: want the same, at least 1", preStop, delay)
	}
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g <= preStop+delay+timeout {
		t.Errorf("terminationGracePeriodSeconds %v, want more than preStop %d + delay %d + timeout %d", g, preStop, delay, timeout)
	}
	if s := d.Spec.Strategy.RollingUpdate; s == nil || s.MaxUnavailable == nil || s.MaxUnavailable.IntValue() != 0 {
		t.Errorf("rolling update %+v, want maxUnavailable 0", s)
	}

	checkNonRoot(t, "Deployment", pod)
	mounts := map[string]bool{}
	for _, m := range container.VolumeMounts {
		mounts[m.MountPath] = true
	}
	// The root is read-only: uploads spool to TMPDIR.
	if !mounts["/tmp"] {
		t.Error("/tmp is not writable: uploads are spooled there")
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := container.Resources.Requests[r]; !ok {
			t.Errorf("no %s request", r)
		}
	}
	if _, ok := container.Resources.Limits[corev1.ResourceMemory]; !ok {
		t.Error("no memory limit")
	}

	// Secrets are referenced, never written into a pod's spec; the keys
	// that only open are there during a rotation alone.
	checkSecretRefs(t, "Deployment", container, secretRefs)
	for _, e := range container.Env {
		if e.Name == "LEADSVC_SECRET_KEYS_PREVIOUS" && (e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
			e.ValueFrom.SecretKeyRef.Optional == nil || !*e.ValueFrom.SecretKeyRef.Optional) {
			t.Errorf("LEADSVC_SECRET_KEYS_PREVIOUS is %+v, want an optional Secret reference", e)
		}
	}
	for _, job := range c.jobs {
		jc := job.Spec.Template.Spec.Containers
		if len(jc) != 1 || strings.Join(jc[0].Args, " ") != "migrate" || jc[0].Image != container.Image {
			t.Fatalf("the Job runs %+v, want one container running migrate on the replicas' image", jc)
		}
		if got := hooks(job.ObjectMeta); got != "pre-install,pre-upgrade" {
			t.Errorf("the migration's hooks %q, want pre-install,pre-upgrade", got)
		}
		if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever || job.Spec.BackoffLimit == nil {
			t.Errorf("the migration restarts %s, backoff %v: want Never and a limit", job.Spec.Template.Spec.RestartPolicy, job.Spec.BackoffLimit)
		}
		checkNonRoot(t, "Job", job.Spec.Template.Spec)
		checkSecretRefs(t, "Job", jc[0], map[string]string{"DATABASE_URL": secretRefs["DATABASE_URL"]})
	}
	if len(c.jobs) != 1 {
		t.Errorf("%d migration Jobs, want 1", len(c.jobs))
	}
	for _, s := range c.secrets {
		for k := range s.Data {
			if _, ok := secretRefs[k]; !ok {
				t.Errorf("Secret %s holds %s, which no pod reads", s.Name, k)
			}
		}
	}

	// Everything selects the Deployment's pods.
	labels := d.Spec.Template.Labels
	if !selects(d.Spec.Selector.MatchLabels, labels) {
		t.Errorf("the Deployment's selector %v does not select its pods %v", d.Spec.Selector.MatchLabels, labels)
	}
	svc := one(t, "Services", c.services)
	if !selects(svc.Spec.Selector, labels) || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("Service selects %v on %+v, want the pods %v on port http", svc.Spec.Selector, svc.Spec.Ports, labels)
	}
	pdb := one(t, "disruption budgets", c.pdbs)
	if pdb.Spec.Selector == nil || !selects(pdb.Spec.Selector.MatchLabels, labels) {
		t.Errorf("the disruption budget selects %v, want the pods %v", pdb.Spec.Selector, labels)
	}
	if m := pdb.Spec.MaxUnavailable; m == nil || m.IntValue() != 1 {
		t.Errorf("the disruption budget allows %v unavailable, want 1", m)
	}
}

func checkNonRoot(t *testing.T, what string, pod corev1.PodSpec) {
	t.Helper()
	ps := pod.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser == 0 {
		t.Errorf("%s: pod security %+v, want runAsNonRoot and a non-zero user", what, ps)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("%s: the service account token is mounted; leadsvc never calls the Kubernetes API", what)
	}
	for _, c := range pod.Containers {
		cs := c.SecurityContext
		if cs == nil || cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem ||
			cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation ||
			cs.Capabilities == nil || len(cs.Capabilities.Drop) != 1 || cs.Capabilities.Drop[0] != "ALL" {
			t.Errorf("%s %s: security %+v, want a read-only root, no privilege escalation, every capability dropped", what, c.Name, cs)
		}
		if cs != nil && cs.RunAsUser != nil && *cs.RunAsUser == 0 {
			t.Errorf("%s %s runs as root", what, c.Name)
		}
	}
}

// checkSecretRefs: each variable of refs comes from a key of the Secret
// named, and no variable has its value written in.
func checkSecretRefs(t *testing.T, what string, c corev1.Container, refs map[string]string) {
	t.Helper()
	for name, secret := range refs {
		var found bool
		for _, e := range c.Env {
			if e.Name != name {
				continue
			}
			found = true
			if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != secret {
				t.Errorf("%s: %s is %+v, want a reference to Secret %s", what, name, e, secret)
			}
		}
		if !found {
			t.Errorf("%s: no %s", what, name)
		}
	}
	for _, e := range c.Env {
		if strings.Contains(e.Value, "postgres://") || regexp.MustCompile(`^[A-Za-z0-9+/]{43}=$`).MatchString(e.Value) {
			t.Errorf("%s: %s holds what looks like a secret; it must come from a Secret", what, e.Name)
		}
	}
}

func env(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// seconds reads a whole number of seconds written as "5s".
func seconds(t *testing.T, v string) int64 {
	t.Helper()
	var n int64
	if _, err := fmt.Sscanf(v, "%ds", &n); err != nil || fmt.Sprintf("%ds", n) != v {
		t.Fatalf("%q is not a whole number of seconds such as 5s", v)
	}
	return n
}

func hooks(m metav1.ObjectMeta) string { return m.Annotations["helm.sh/hook"] }

func hookWeight(t *testing.T, m metav1.ObjectMeta) int {
	t.Helper()
	var w int
	if _, err := fmt.Sscanf(m.Annotations["helm.sh/hook-weight"], "%d", &w); err != nil {
		t.Fatalf("%s: hook weight %q", m.Name, m.Annotations["helm.sh/hook-weight"])
	}
	return w
}

// selects reports whether a label selector's every label is among labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestChartRefusesBadValues: values.schema.json and the templates refuse
// a misspelt key, a malformed key, a secret given as a plain variable and
// a chart Secret with nothing to put in it, before anything is applied.
func TestChartRefusesBadValues(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ values, want string }{
		"misspelt key":           {"replicaCont: 3\n", "replicaCont"},
		"short secret key":       {"secretKey: {existingSecret: \"\", value: c2hvcnQ=}\n", "/secretKey/value"},
		"secret as a variable":   {"env: {LEADSVC_SECRET_KEY: c2VjcmV0}\n", "LEADSVC_SECRET_KEY"},
		"database as a variable": {"env: {DATABASE_URL: \"postgres://u:p@db/leadsvc\"}\n", "DATABASE_URL"},
		"no stream replicas":     {"nats: {url: \"nats://nats:4222\", streamReplicas: 0}\n", "/nats/streamReplicas"},
		"no key to seal with":    {"secretKey: {existingSecret: \"\"}\n", "secretKey.value"},
		"no database":            {"database: {existingSecret: \"\"}\n", "database.url"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "values.yaml")
			if err := os.WriteFile(path, []byte(tc.values), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := helm(t, "template", "leadsvc", chartDir, "--values", path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("rendered (%v), want a refusal naming %s:\n%s", err, tc.want, out)
			}
		})
	}
}

// TestManifestDecodingIsStrict: the decoder refuses a field the API does
// not know, a field in the wrong case and a kind the chart does not
// render, so the checks above read what the cluster would be sent.
func TestManifestDecodingIsStrict(t *testing.T) {
	t.Parallel()
	out, err := helm(t, "template", "leadsvc", chartDir, "--show-only", "templates/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeManifests(out); err != nil {
		t.Fatalf("the Deployment alone does not decode: %v", err)
	}
	for name, tc := range map[string]struct{ old, new, want string }{
		"unknown field": {"  replicas:", "  replicaz: 3\n  replicas:", "replicaz"},
		"wrong case":    {"  replicas:", "  Replicas: 3\n  replicas:", "Replicas"},
		"unknown kind":  {"kind: Deployment", "kind: Deploymint", "Deploymint"},
		"duplicate":     {"  replicas: 2", "  replicas: 2\n  replicas: 3", "replicas"},
	} {
		broken := strings.Replace(out, tc.old, tc.new, 1)
		if broken == out {
			t.Fatalf("%s: nothing to break", name)
		}
		if _, err := decodeManifests(broken); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", name, err, tc.want)
		}
	}
}

// TestNATSValuesMakeAThreeNodeJetStreamCluster: the NATS chart's values
// ask for what leadsvc needs: three clustered nodes (the chart's stream
// replicas), JetStream on persistent files flushed before acknowledging.
func TestNATSValuesMakeAThreeNodeJetStreamCluster(t *testing.T) {
	t.Parallel()
	var v struct {
		Config struct {
			Cluster struct {
				Enabled  bool `json:"enabled"`
				Replicas int  `json:"replicas"`
			} `json:"cluster"`
			JetStream struct {
				Enabled   bool `json:"enabled"`
				FileStore struct {
					Enabled bool `json:"enabled"`
					PVC     struct {
						Enabled bool   `json:"enabled"`
						Size    string `json:"size"`
					} `json:"pvc"`
				} `json:"fileStore"`
				Merge map[string]any `json:"merge"`
			} `json:"jetstream"`
		} `json:"config"`
	}
	b := readFile(t, filepath.Join(root, "deployments", "kubernetes", "nats-values.yaml"))
	if err := yaml.Unmarshal([]byte(b), &v); err != nil {
		t.Fatal(err)
	}
	cl, js := v.Config.Cluster, v.Config.JetStream
	if !cl.Enabled || cl.Replicas != 3 {
		t.Errorf("cluster %+v, want 3 clustered nodes", cl)
	}
	if !js.Enabled || !js.FileStore.Enabled || !js.FileStore.PVC.Enabled || js.FileStore.PVC.Size == "" {
		t.Errorf("jetstream %+v, want file storage on a persistent volume", js)
	}
	if js.Merge["sync_interval"] != "always" {
		t.Errorf("jetstream sync_interval %v, want always, as deployments/nats/*.conf", js.Merge["sync_interval"])
	}
	var chartValues struct {
		NATS struct {
			StreamReplicas int `json:"streamReplicas"`
		} `json:"nats"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, filepath.Join(chartDir, "values.yaml"))), &chartValues); err != nil {
		t.Fatal(err)
	}
	if chartValues.NATS.StreamReplicas != cl.Replicas {
		t.Errorf("the chart asks for %d stream replicas on %d nodes", chartValues.NATS.StreamReplicas, cl.Replicas)
	}
}
