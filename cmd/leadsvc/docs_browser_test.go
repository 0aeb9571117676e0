package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
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
	dir := filepath.Join("..", "..", "testartifacts", "docs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "partner-read-only.png"), shot, 0o644); err != nil {
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
