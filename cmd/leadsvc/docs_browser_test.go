package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's Chromium, which make test installs
// (deployments/local/stack.sh).
const chromiumPath = "/usr/bin/chromium"

// TestDocsPageRendersInChromium opens a partner token's docs page in
// headless Chromium, checks that it shows the campaign's fields, its
// scope and no write operation, and saves a screenshot under
// testartifacts/docs/. Missing Chromium fails the test (make test
// installs it); only -short skips it.
func TestDocsPageRendersInChromium(t *testing.T) {
	needChromium(t)
	m := mustRunMain(t)
	s := mustSetup(t, m)
	page := "http://" + m.Addr() + urlPath(t, s.abc.docsURL)

	bctx := mustBrowser(t, 20*time.Second, 1280, 1600)

	if err := chromedp.Do(bctx, chromedp.Navigate(page), chromedp.WaitVisible("#fields")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("chromium: text of %s: %v", sel, err)
		}
		return s
	}
	title, fields, access, nav := text("#title"), text("#fields"), text("#access"), text("nav.side")
	// The inline style sheet passed the page's CSP: the header is styled.
	background, err := chromedp.Run(bctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("header.top")).backgroundImage`))
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("chromium: screenshot: %v", err)
	}
	if title != "Home energy" {
		t.Errorf("title %q", title)
	}
	for _, w := range []string{"name", "Name", "email", "budget", "source", "partner-abc", "PARTNER-ABC"} {
		if !strings.Contains(fields, w) {
			t.Errorf("the fields table lacks %q:\n%s", w, fields)
		}
	}
	if strings.Contains(fields, "partner-xyz") {
		t.Error("the page shows another partner's option")
	}
	if !strings.Contains(access, "source = PARTNER-ABC (partner-abc)") || !strings.Contains(access, "read-only") {
		t.Errorf("the access section: %q", access)
	}
	if strings.Contains(nav, "POST") || strings.Contains(nav, "PATCH") || strings.Contains(nav, "DELETE") {
		t.Errorf("a read-only token's page lists writes: %q", nav)
	}
	if !strings.Contains(background, "gradient") {
		t.Errorf("the page is unstyled (background %q): its style sheet was blocked", background)
	}
	saveDocsShot(t, "partner-read-only.png", shot)
}

// TestDocsPageSamplesCopyAndSearchInChromium uses the page as a partner's
// developer would on a wide screen: the code beside the text, a language
// chosen once for every operation, a copy button on every code block and
// a search that narrows operations and fields. The page's script runs
// under its CSP (allowed by hash) or none of this works.
func TestDocsPageSamplesCopyAndSearchInChromium(t *testing.T) {
	needChromium(t)
	m := mustRunMain(t)
	s := mustSetup(t, m)
	page := "http://" + m.Addr() + urlPath(t, s.abc.rwDocs)
	bctx := mustBrowser(t, 30*time.Second, 1600, 1400)
	if err := chromedp.Do(bctx, chromedp.Navigate(page), chromedp.WaitVisible("#updateLead")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	eval := func(what, js string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("chromium: %s: %v", what, err)
		}
		return v
	}
	if got := eval("script ran", `document.documentElement.className`); !strings.Contains(got, "js") {
		t.Fatalf("the page's script did not run (class %q): blocked by its CSP?", got)
	}
	if got := eval("side by side", `(() => { const a = document.querySelector("#updateLead .op-text").getBoundingClientRect();
		const c = document.querySelector("#updateLead .op-code").getBoundingClientRect();
		return c.left >= a.right - 1 && c.top < a.bottom ? "beside" : "below " + JSON.stringify([a, c]) })()`); got != "beside" {
		t.Errorf("on a wide screen the code is not beside the text: %s", got)
	}
	visible := `[...document.querySelectorAll("#updateLead .sample")].filter(e => e.offsetParent !== null).map(e => e.dataset.lang).join(",")`
	if got := eval("default language", visible); got != "curl" {
		t.Errorf("visible samples %q, want curl alone", got)
	}
	if err := chromedp.Do(bctx, chromedp.Click(`#createLead .tab[data-lang="python"]`)); err != nil {
		t.Fatal(err)
	}
	if got := eval("language chosen", visible); got != "python" {
		t.Errorf("after choosing Python elsewhere, this operation shows %q", got)
	}
	if got := eval("python sample", `document.querySelector('#updateLead .sample[data-lang="python"] code').textContent`); !strings.Contains(got, "requests.request(") ||
		!strings.Contains(got, `os.environ["LEADSVC_TOKEN"]`) {
		t.Errorf("the Python sample: %s", got)
	}
	if got := eval("copy buttons", `document.querySelectorAll("pre").length + "/" + document.querySelectorAll("pre > button.copy").length`); !regexp.MustCompile(`^(\d+)/(\d+)$`).MatchString(got) ||
		strings.Split(got, "/")[0] != strings.Split(got, "/")[1] || got == "0/0" {
		t.Errorf("code blocks / copy buttons = %s", got)
	}
	if err := chromedp.Do(bctx, chromedp.Click(`#updateLead .sample.active button.copy`)); err != nil {
		t.Fatal(err)
	}
	testenvCheckText(t, bctx, `#updateLead .sample.active button.copy`, "Copied", "Press Ctrl+C")
	if err := chromedp.Do(bctx, chromedp.SendKeys("#search", "file")); err != nil {
		t.Fatal(err)
	}
	ops := `[...document.querySelectorAll("article.op")].filter(a => !a.hidden).map(a => a.id).join(",")`
	got := eval("search", ops)
	if !strings.Contains(got, "uploadFile") || strings.Contains(got, "getSchema") {
		t.Errorf("searching 'file' shows %q", got)
	}
	if status := eval("search status", `document.getElementById("search-status").textContent`); !strings.Contains(status, "operations") {
		t.Errorf("search status %q", status)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(80))
	if err != nil {
		t.Fatal(err)
	}
	saveDocsShot(t, "partner-writer-wide-search.png", shot)
}

// testenvCheckText waits until the element's text is one of want.
func testenvCheckText(t *testing.T, bctx context.Context, sel string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		got, err := chromedp.Run(bctx, chromedp.Text(sel))
		if err == nil && slices.Contains(want, got) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: text %q (%v), want one of %q", sel, got, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func saveDocsShot(t *testing.T, name string, shot []byte) {
	t.Helper()
	dir := filepath.Join("..", "..", "testartifacts", "docs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), shot, 0o644); err != nil {
		t.Fatal(err)
	}
}

// mustBrowser starts headless Chromium with the flags this machine's
// closed network needs (no background connections) and a fresh profile;
// it is stopped, and its context cancelled, when the test ends.
// needChromium runs the test in parallel with a headless Chromium, or
// skips it under -short; a missing Chromium fails it.
func needChromium(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no browser")
	}
	t.Parallel()
	if _, err := exec.LookPath(chromiumPath); err != nil {
		t.Fatalf("Chromium is missing at %s (make test installs it via deployments/local/stack.sh): %v", chromiumPath, err)
	}
}

func mustBrowser(t *testing.T, timeout time.Duration, width, height int) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:0:0],
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc(); cancel() })
	return bctx
}
