package apidoc_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestCodeSamplesMatchTheOpenAPIDocument: every operation of every kind of
// document has a sample in each language, each sends the request body
// the OpenAPI document gives as the operation's example, to the
// operation's path, and the OpenAPI document carries the same samples as
// x-codeSamples.
func TestCodeSamplesMatchTheOpenAPIDocument(t *testing.T) {
	t.Parallel()
	bodyInCurl := regexp.MustCompile(`(?s) -d '(.*)'$`)
	for name, d := range generatedDocs(t) {
		mustParse(t, name, d)
		j, err := d.OpenAPIJSON()
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Paths map[string]map[string]struct {
				OperationID string `json:"operationId"`
				RequestBody struct {
					Content map[string]struct {
						Example any `json:"example"`
					} `json:"content"`
				} `json:"requestBody"`
				CodeSamples []struct{ Lang, Label, Source string } `json:"x-codeSamples"`
			} `json:"paths"`
		}
		if err := json.Unmarshal(j, &doc); err != nil {
			t.Fatal(err)
		}
		samples := map[string]map[string]string{}
		for _, s := range d.CodeSamples() {
			if samples[s.Operation] == nil {
				samples[s.Operation] = map[string]string{}
			}
			samples[s.Operation][s.Lang] = s.Code
		}
		n := 0
		for path, item := range doc.Paths {
			for method, op := range item {
				n++
				got := samples[op.OperationID]
				if len(got) != 4 {
					t.Fatalf("%s: %s has samples in %d languages, want 4", name, op.OperationID, len(got))
				}
				if len(op.CodeSamples) != 4 {
					t.Fatalf("%s: %s has %d x-codeSamples, want 4", name, op.OperationID, len(op.CodeSamples))
				}
				for _, cs := range op.CodeSamples {
					if !slicesContains(got, cs.Source) {
						t.Fatalf("%s: %s: x-codeSamples %s differs from the page's samples", name, op.OperationID, cs.Label)
					}
				}
				// The path, with its parameters filled in, is in every sample.
				pathRE := regexp.MustCompile(regexp.QuoteMeta(publicURL) + regexp.MustCompile(`\\\{[a-z_]+\\\}`).ReplaceAllString(regexp.QuoteMeta(path), `[^/?"']+`) + `[?"']`)
				for lang, code := range got {
					if !pathRE.MatchString(code) {
						t.Fatalf("%s: %s %s: the %s sample does not call %s:\n%s", name, strings.ToUpper(method), path, lang, path, code)
					}
					if !strings.Contains(code, "LEADSVC_TOKEN") || strings.Contains(code, "lsk_") {
						t.Fatalf("%s: %s: the %s sample does not read the secret from LEADSVC_TOKEN:\n%s", name, op.OperationID, lang, code)
					}
				}
				media, ok := op.RequestBody.Content["application/json"]
				if !ok {
					continue
				}
				m := bodyInCurl.FindStringSubmatch(got["curl"])
				if m == nil {
					t.Fatalf("%s: %s: the curl sample sends no JSON body:\n%s", name, op.OperationID, got["curl"])
				}
				var sent any
				if err := json.Unmarshal([]byte(strings.ReplaceAll(m[1], `'\''`, "'")), &sent); err != nil {
					t.Fatalf("%s: %s: the curl sample's body is not JSON: %v", name, op.OperationID, err)
				}
				want := media.Example
				if want == nil {
					want = map[string]any{}
				}
				if !reflect.DeepEqual(sent, want) {
					t.Fatalf("%s: %s: the samples send %v, the OpenAPI example is %v", name, op.OperationID, sent, want)
				}
			}
		}
		if n == 0 {
			t.Fatalf("%s: no operations", name)
		}
	}
}

func slicesContains(m map[string]string, code string) bool {
	for _, c := range m {
		if c == code {
			return true
		}
	}
	return false
}

// TestEveryCodeSampleParses hands every distinct sample to its language's
// own checker: sh -n for curl, node's module parser, python3 -m
// py_compile and go vet. make test installs Node.js and Python (deployments/local/stack.sh).
func TestEveryCodeSampleParses(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs node, python3 and go vet")
	}
	t.Parallel()
	for _, tool := range []string{"sh", "node", "python3", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (make test installs it via deployments/local/stack.sh): %v", tool, err)
		}
	}
	seen := map[string]bool{}
	dir := t.TempDir()
	var sh, js, py []string
	goDirs := 0
	for _, d := range generatedDocs(t) {
		for _, s := range d.CodeSamples() {
			if seen[s.Lang+s.Code] {
				continue
			}
			seen[s.Lang+s.Code] = true
			name := fmt.Sprintf("%s_%d", s.Operation, len(seen))
			file := filepath.Join(dir, s.Lang, name+"."+s.Ext)
			code := s.Code
			if s.Lang == "go" {
				// One package, a file a sample, vets in one type-check:
				// each sample's main becomes a function of its own.
				goDirs++
				file = filepath.Join(dir, "go", fmt.Sprintf("sample%d.go", goDirs))
				code = strings.Replace(code, "func main() {", fmt.Sprintf("func sample%d() {", goDirs), 1)
			}
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(code+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			switch s.Lang {
			case "curl":
				sh = append(sh, file)
			case "javascript":
				js = append(js, file)
			case "python":
				py = append(py, file)
			}
		}
	}
	run := func(dir string, name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "PYTHONPYCACHEPREFIX="+filepath.Join(dir, ".pycache"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
	}
	for _, f := range sh {
		run(dir, "sh", "-n", f)
	}
	// node --check takes one file and a loaded machine starts node in
	// seconds: one node parses them all as ES modules, with the parser
	// node --check uses.
	checker := filepath.Join(dir, "check.mjs")
	if err := os.WriteFile(checker, []byte(moduleChecker), 0o644); err != nil {
		t.Fatal(err)
	}
	run(dir, "node", append([]string{"--no-warnings", "--experimental-vm-modules", checker}, js...)...)
	run(dir, "python3", append([]string{"-m", "py_compile"}, py...)...)
	goDir := filepath.Join(dir, "go")
	if err := os.WriteFile(filepath.Join(goDir, "go.mod"), []byte("module samples\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(goDir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(goDir, "go", "vet", "./...")
	if len(sh) == 0 || len(js) == 0 || len(py) == 0 || goDirs == 0 {
		t.Fatalf("samples: %d curl, %d JavaScript, %d Python, %d Go", len(sh), len(js), len(py), goDirs)
	}
	t.Logf("checked %d curl, %d JavaScript, %d Python and %d Go samples", len(sh), len(js), len(py), goDirs)
}

// moduleChecker parses each file named on its command line as an ES
// module and exits 1 naming those that do not parse.
const moduleChecker = `import vm from "node:vm";
import { readFileSync } from "node:fs";
let bad = 0;
for (const f of process.argv.slice(2)) {
  try {
    new vm.SourceTextModule(readFileSync(f, "utf8"), { identifier: f });
  } catch (e) {
    bad++;
    console.error(f + ": " + e.message);
  }
}
process.exit(bad ? 1 : 0);
`

// TestTheUpdateExampleAnswersWhatItAsked: the answer shown for PATCH
// /v1/leads/{id} carries the status and fields its request example sets.
func TestTheUpdateExampleAnswersWhatItAsked(t *testing.T) {
	t.Parallel()
	n := 0
	for name, d := range generatedDocs(t) {
		j, err := d.OpenAPIJSON()
		if err != nil {
			t.Fatal(err)
		}
		var paths struct {
			Paths map[string]map[string]json.RawMessage `json:"paths"`
		}
		if err := json.Unmarshal(j, &paths); err != nil {
			t.Fatal(err)
		}
		raw, ok := paths.Paths["/v1/leads/{id}"]["patch"]
		if !ok {
			continue
		}
		var op struct {
			RequestBody struct {
				Content map[string]struct {
					Example *struct {
						Status string         `json:"status"`
						Fields map[string]any `json:"fields"`
					} `json:"example"`
				} `json:"content"`
			} `json:"requestBody"`
			Responses map[string]struct {
				Content map[string]struct {
					Example *struct {
						Status  string         `json:"status"`
						Fields  map[string]any `json:"fields"`
						Version int            `json:"version"`
					} `json:"example"`
				} `json:"content"`
			} `json:"responses"`
		}
		if err := json.Unmarshal(raw, &op); err != nil {
			t.Fatal(err)
		}
		req := op.RequestBody.Content["application/json"].Example
		resp := op.Responses["200"].Content["application/json"].Example
		if req == nil || resp == nil {
			continue
		}
		n++
		if req.Status != "" && resp.Status != req.Status {
			t.Errorf("%s: the request sets status %q, the answer shows %q", name, req.Status, resp.Status)
		}
		for k, v := range req.Fields {
			got, present := resp.Fields[k]
			if v == nil && present || v != nil && !reflect.DeepEqual(got, v) {
				t.Errorf("%s: the request sets %s to %v, the answer shows %v", name, k, v, got)
			}
		}
		if resp.Version < 2 {
			t.Errorf("%s: the changed lead's version is %d", name, resp.Version)
		}
	}
	if n == 0 {
		t.Fatal("no document shows a lead update with examples")
	}
}
