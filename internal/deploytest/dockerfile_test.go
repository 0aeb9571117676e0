package deploytest_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// root is the repository's root, seen from this package's directory.
var root = filepath.Join("..", "..")

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, …
	args string
}

// stage is one FROM and the instructions under it.
type stage struct {
	from  string // image reference
	name  string // AS name, if any
	steps []instruction
}

func (s stage) all(cmd string) []string {
	var out []string
	for _, in := range s.steps {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

func (s stage) last(cmd string) string {
	all := s.all(cmd)
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1]
}

// parseDockerfile reads the Dockerfile's stages: comments and blank lines
// dropped, lines ending in a backslash joined to the next.
func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		stages  []stage
		pending string
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending += cont + " "
			continue
		}
		line, pending = pending+line, ""
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			fields := strings.Fields(in.args)
			s := stage{from: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				s.name = fields[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("%s before the first FROM", in.cmd)
			}
			continue
		}
		stages[len(stages)-1].steps = append(stages[len(stages)-1].steps, in)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if pending != "" {
		t.Fatalf("the Dockerfile ends inside a continued line: %q", pending)
	}
	return stages
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// goVersion is go.mod's go directive.
func goVersion(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(readFile(t, filepath.Join(root, "go.mod")))
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return m[1]
}

// TestDockerfileBuildsAStaticNonRootImage holds the Dockerfile to what a
// deployment relies on, since no image can be built here: a Go build
// stage on go.mod's version, a static binary carrying its version, and a
// small final image that runs `leadsvc serve` as a non-root user with a
// data directory it can write.
func TestDockerfileBuildsAStaticNonRootImage(t *testing.T) {
	t.Parallel()
	stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	if len(stages) != 2 {
		t.Fatalf("%d stages, want 2 (build, then the image)", len(stages))
	}
	build, final := stages[0], stages[1]
	for _, s := range stages {
		if !strings.Contains(s.from, ":") || strings.HasSuffix(s.from, ":latest") {
			t.Errorf("FROM %s: name a version, not latest", s.from)
		}
	}

	// The build stage: the official Go image at go.mod's version.
	if want := "golang:" + goVersion(t); !strings.HasPrefix(build.from, want+"-") && build.from != want {
		t.Errorf("build stage FROM %s, want %s (go.mod's version)", build.from, want)
	}
	if build.name == "" {
		t.Error("the build stage has no name for COPY --from")
	}
	var goBuild string
	for _, r := range build.all("RUN") {
		if strings.Contains(r, "go build") {
			goBuild = r
		}
	}
	if goBuild == "" {
		t.Fatal("no RUN go build in the build stage")
	}
	if !strings.Contains(goBuild, "CGO_ENABLED=0") || !strings.Contains(goBuild, "./cmd/leadsvc") {
		t.Errorf("go build %q: want a static (CGO_ENABLED=0) build of ./cmd/leadsvc", goBuild)
	}
	// The version flag is the Makefile's, so that `leadsvc version` names
	// the build either way.
	flag := regexp.MustCompile(`-X main\.version=`)
	if !flag.MatchString(readFile(t, filepath.Join(root, "Makefile"))) || !flag.MatchString(goBuild) {
		t.Errorf("go build %q: want the Makefile's -X main.version= flag", goBuild)
	}

	// The image: distroless static (or scratch), non-root.
	if !strings.HasPrefix(final.from, "gcr.io/distroless/static-") && final.from != "scratch" {
		t.Errorf("image FROM %s, want gcr.io/distroless/static-… or scratch", final.from)
	}
	user := final.last("USER")
	if user == "" && !strings.HasSuffix(final.from, ":nonroot") {
		t.Error("the image sets no USER: it would run as root")
	}
	if name, _, _ := strings.Cut(user, ":"); name == "root" || name == "0" {
		t.Errorf("USER %s: want a non-root user", user)
	}
	if got := final.last("ENTRYPOINT"); got != `["/leadsvc"]` {
		t.Errorf("ENTRYPOINT %s, want [\"/leadsvc\"]", got)
	}
	if got := final.last("CMD"); got != `["serve"]` {
		t.Errorf("CMD %s, want [\"serve\"]", got)
	}
	// Distroless has no shell or curl: the binary checks itself.
	if got := final.last("HEALTHCHECK"); !strings.HasSuffix(got, `CMD ["/leadsvc", "healthcheck"]`) {
		t.Errorf("HEALTHCHECK %q, want CMD [\"/leadsvc\", \"healthcheck\"]", got)
	}
	if !slices.Contains(final.all("EXPOSE"), "8080") {
		t.Errorf("EXPOSE %q, want 8080", final.all("EXPOSE"))
	}
	var copiesBinary bool
	for _, c := range final.all("COPY") {
		if strings.Contains(c, "--from="+build.name) && strings.HasSuffix(c, " /leadsvc") {
			copiesBinary = true
		}
	}
	if !copiesBinary {
		t.Error("the image does not COPY /leadsvc from the build stage")
	}

	// LEADSVC_DATA_DIR: absolute, and created for the image's user, since
	// distroless has no shell to make it at start.
	dataDir := regexp.MustCompile(`LEADSVC_DATA_DIR=(\S+)`).FindStringSubmatch(strings.Join(final.all("ENV"), " "))
	if dataDir == nil || !strings.HasPrefix(dataDir[1], "/") {
		t.Fatalf("ENV %q: want LEADSVC_DATA_DIR set to an absolute path", final.all("ENV"))
	}
	var owned bool
	for _, c := range final.all("COPY") {
		if strings.Contains(c, "--chown=") && strings.HasSuffix(c, " "+dataDir[1]) {
			owned = strings.Contains(c, "--chown="+user) || strings.Contains(c, "--chown=65532")
		}
	}
	if !owned {
		t.Errorf("LEADSVC_DATA_DIR %s is not created for USER %s", dataDir[1], user)
	}
}

// TestDockerignoreKeepsTheSourcesAndDropsTheRest: the build context
// holds what go build needs and not the repository's history or outputs.
func TestDockerignoreKeepsTheSourcesAndDropsTheRest(t *testing.T) {
	t.Parallel()
	var patterns []string
	for _, line := range strings.Split(readFile(t, filepath.Join(root, ".dockerignore")), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	for _, want := range []string{".git", "bin"} {
		if !slices.Contains(patterns, want) {
			t.Errorf(".dockerignore %q does not exclude %s", patterns, want)
		}
	}
	// The build needs every package and its embedded files.
	for _, p := range patterns {
		for _, needed := range []string{"go.mod", "go.sum", "cmd", "api", "eventstore", "*.go", "**/*.go"} {
			if p == needed || p == needed+"/" {
				t.Errorf(".dockerignore excludes %s, which the build needs", p)
			}
		}
	}
}
