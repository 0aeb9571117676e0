package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leadsvc/leadsvc/internal/testenv"
)

// TestDemoExamplesWorkAgainstTheService runs the curl lines `leadsvc demo`
// prints, with the token it says to export, against a service on the same
// database: a newcomer's first requests must succeed as printed.
func TestDemoExamplesWorkAgainstTheService(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	code, out, errOut := runCLI(t, env, "demo")
	if code != 0 {
		t.Fatalf("demo: exit %d: %s", code, errOut)
	}
	token := regexp.MustCompile(`(?m)^  export TOKEN=(lsk_\S+)$`).FindStringSubmatch(out)
	if token == nil {
		t.Fatalf("demo prints no TOKEN to export:\n%s", out)
	}
	if !strings.Contains(out, "Ctrl-C") || !strings.Contains(out, "make demo-reset") {
		t.Fatalf("demo does not say how to stop and start over:\n%s", out)
	}
	cfg, err := LoadConfig(env)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMain(cfg, newLogger(cfg, io.Discard))
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })

	curls := demoCurlLines(out)
	if len(curls) != 3 {
		t.Fatalf("demo prints %d curl examples, want 3:\n%s", len(curls), out)
	}
	do := func(line string) (string, error) {
		req := parseCurl(t, line, map[string]string{"TOKEN": token[1]}, cfg.PublicURL, "http://"+m.Addr())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 || !json.Valid(b) {
			t.Fatalf("%s\n→ %d %s", line, resp.StatusCode, b)
		}
		return string(b), nil
	}
	if schema, _ := do(curls[0]); !strings.Contains(schema, `"partner-abc"`) {
		t.Errorf("the schema example does not show the partner's option: %s", schema)
	}
	if created, _ := do(curls[1]); !strings.Contains(created, "Mary Somerville") {
		t.Errorf("the create example did not create the lead: %s", created)
	}
	// The views follow the log within moments; a person types slower.
	testenv.CheckFor(t, 10*time.Second, func() error {
		list, _ := do(curls[2])
		if !strings.Contains(list, "Ada Lovelace") || !strings.Contains(list, "Mary Somerville") {
			return fmt.Errorf("the list example does not show the partner's leads yet: %s", list)
		}
		if strings.Contains(list, "Alan Turing") {
			t.Fatalf("the list example shows a lead outside the partner's slice: %s", list)
		}
		return nil
	})
}

// TestDemoResetRevokesTheOldTokens: --reset starts over with fresh tokens,
// the old partner tokens stop working, and the next plain run prints the
// new demo.
func TestDemoResetRevokesTheOldTokens(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	secrets := regexp.MustCompile(`lsk_[0-9A-Za-z]{49}`)
	_, first, errOut := runCLI(t, env, "demo")
	old := secrets.FindAllString(first, 3) // admin, then the partners'
	if len(old) != 3 {
		t.Fatalf("demo printed no secrets: %s", errOut)
	}
	code, reset, errOut := runCLI(t, env, "demo", "--reset")
	if code != 0 {
		t.Fatalf("demo --reset: exit %d: %s", code, errOut)
	}
	for _, s := range old {
		if strings.Contains(reset, s) {
			t.Fatalf("demo --reset printed an old secret again:\n%s", reset)
		}
	}
	if code, again, _ := runCLI(t, env, "demo"); code != 0 || again != reset {
		t.Fatalf("demo after --reset differs from the reset (exit %d):\n%s\nvs\n%s", code, again, reset)
	}
	if code, _, errOut := runCLI(t, env, "demo", "--reset", "--reset=false"); code != 0 {
		t.Fatalf("demo --reset=false: exit %d: %s", code, errOut)
	}
	cfg, err := LoadConfig(env)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMain(cfg, newLogger(cfg, io.Discard))
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	// The old partner tokens are revoked; the old admin token stays (an
	// account keeps its last admin) and reaches only the old account.
	for i, s := range old {
		req, _ := http.NewRequest("GET", "http://"+m.Addr()+"/v1/leads", nil)
		req.Header.Set("Authorization", "Bearer "+s)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := http.StatusUnauthorized
		if i == 0 {
			want = http.StatusOK
		}
		if resp.StatusCode != want {
			t.Fatalf("old demo token %d after --reset: %d, want %d", i, resp.StatusCode, want)
		}
	}
}

// demoCurlLines joins the printed curl examples' continuation lines.
func demoCurlLines(out string) []string {
	var lines []string
	joined := strings.ReplaceAll(out, "\\\n", " ")
	for _, l := range strings.Split(joined, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "curl ") {
			lines = append(lines, l)
		}
	}
	return lines
}

// parseCurl turns the curl options the demo prints (-s, -H, -d, a URL)
// into a request, expanding $VAR from vars and moving the printed base URL
// to the test's.
func parseCurl(t *testing.T, line string, vars map[string]string, printedBase, base string) *http.Request {
	t.Helper()
	words := shellWords(t, line, vars)
	var (
		headers [][2]string
		body    string
		target  string
	)
	for i := 1; i < len(words); i++ {
		switch w := words[i]; w {
		case "-s":
		case "-H", "-d":
			if i+1 == len(words) {
				t.Fatalf("%s: %s without a value", line, w)
			}
			i++
			if w == "-d" {
				body = words[i]
				continue
			}
			k, v, ok := strings.Cut(words[i], ":")
			if !ok {
				t.Fatalf("%s: header %q", line, words[i])
			}
			headers = append(headers, [2]string{k, strings.TrimSpace(v)})
		default:
			if strings.HasPrefix(w, "-") || target != "" {
				t.Fatalf("%s: unexpected %q", line, w)
			}
			target = w
		}
	}
	if !strings.HasPrefix(target, printedBase+"/") {
		t.Fatalf("%s: the URL is not under the service's %s", line, printedBase)
	}
	method := "GET"
	if body != "" {
		method = "POST"
	}
	req, err := http.NewRequest(method, base+strings.TrimPrefix(target, printedBase), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		req.Header.Set(h[0], h[1])
	}
	return req
}

// shellWords splits a line as sh would for the quoting the demo uses:
// single quotes literal, double quotes expanding $VAR.
func shellWords(t *testing.T, line string, vars map[string]string) []string {
	t.Helper()
	var (
		words []string
		cur   strings.Builder
		in    bool
		quote rune
	)
	expand := func(s string) string {
		return regexp.MustCompile(`\$([A-Z_]+)`).ReplaceAllStringFunc(s, func(v string) string { return vars[v[1:]] })
	}
	var pending strings.Builder // unquoted or double-quoted text, expanded on flush
	flushPending := func() {
		cur.WriteString(expand(pending.String()))
		pending.Reset()
	}
	for _, r := range line {
		switch {
		case quote == '\'':
			if r == '\'' {
				quote = 0
				continue
			}
			cur.WriteRune(r)
		case quote == '"':
			if r == '"' {
				flushPending()
				quote = 0
				continue
			}
			pending.WriteRune(r)
		case r == '\'' || r == '"':
			flushPending()
			quote, in = r, true
		case r == ' ':
			if in {
				flushPending()
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			pending.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		t.Fatalf("unbalanced quotes in %s", line)
	}
	if in {
		flushPending()
		words = append(words, cur.String())
	}
	return words
}
