package main

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleBreadthIsChosenInChromium clicks through, in headless
// Chromium, the console's three places where an admin could give away
// more than meant: a filter without condition is refused until "Every
// lead of the campaign" is ticked, and is then marked as such; the token
// form preselects no filter, and neither the browser nor the server takes
// it without a choice; a rotation offers "now" first and chosen, and with
// it the old secret stops at once. Screenshots go to
// testartifacts/console-breadth/. Missing Chromium fails the test; only
// -short skips it.
func TestConsoleBreadthIsChosenInChromium(t *testing.T) {
	needChromium(t)
	m := mustRunMain(t)
	admin := mustAccount(t, m, "Acme")
	campaign := mustConsoleCampaign(t, admin, "Home energy")
	dir := filepath.Join("..", "..", "testartifacts", "console-breadth")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := &browserStep{t: t, ctx: mustBrowser(t, 45*time.Second, 1280, 900), base: "http://" + m.Addr(), dir: dir}
	b.do("open the console", chromedp.Navigate(b.base+"/console"), chromedp.WaitVisible(chromedp.CSS("#f-token")))
	b.eval("mark", `document.body.dataset.old = "1"; ""`)
	b.do("sign in", chromedp.SendKeys(chromedp.CSS("#f-token"), admin.token+"\r"),
		chromedp.WaitVisible(chromedp.CSS(`body:not([data-old]) a[href="/console/campaigns/`+campaign+`"]`)))

	// A filter named, with no field chosen, is not saved.
	b.do("new filter", chromedp.Navigate(b.base+"/console/campaigns/"+campaign+"/filters/new"), chromedp.WaitVisible(chromedp.CSS("#f-name")))
	b.do("name the filter", chromedp.SendKeys(chromedp.CSS("#f-name"), "Everyone"))
	b.submit("save without a condition", `button.primary[value=save]`, "#f-match-err")
	if s := b.eval("the refusal", `document.querySelector("#f-match-err").innerText + "|" + document.querySelector(".error-summary").innerText`); strings.Count(s, "Add a condition, or choose “Every lead of the campaign”") != 2 ||
		!strings.Contains(s, "Which leads: Add a condition") {
		t.Fatalf("the refused filter says %q", s)
	}
	b.shot("filter-without-condition-refused")
	if n := len(mustFilters(t, admin, campaign)); n != 0 {
		t.Fatalf("%d filters after the refusal, want none", n)
	}
	// Chosen on purpose, it is saved and marked "every lead".
	b.do("tick every lead", chromedp.Click(chromedp.CSS("#f-match")))
	b.submit("save every lead", `button.primary[value=save]`, ".notice")
	if s := b.eval("the filter list", `(() => { const badge = document.querySelector("table.list tbody th .badge.every-lead");
		return badge ? badge.closest("tr").innerText : ""; })()`); !strings.HasPrefix(s, "Everyone") || !strings.Contains(s, "every lead of the campaign") {
		t.Fatalf("the filter's row, marked every lead: %q", s)
	}
	b.shot("every-lead-filter-listed")

	// The token form preselects nothing.
	b.do("new token", chromedp.Navigate(b.base+"/console/campaigns/"+campaign+"/tokens/new"), chromedp.WaitVisible(chromedp.CSS("#f-filter-id")))
	got := b.eval("the filter choice", `(() => { const s = document.querySelector("#f-filter-id");
		return s.value + "|" + s.selectedOptions[0].textContent + "|" + [...s.options].map(o => o.textContent).join(",") + "|" + s.form.checkValidity(); })()`)
	if got != "|Choose a filter…|Choose a filter…,Everyone (every lead),Every lead of the campaign (no filter)|false" {
		t.Fatalf("the token form's filter choice: %q", got)
	}
	b.do("name the token", chromedp.SendKeys(chromedp.CSS("#f-name"), "Partner"))
	b.shot("token-form-nothing-chosen")
	// The server refuses it too, when the browser does not check.
	b.eval("skip the browser's check", `document.querySelector("#f-filter-id").form.noValidate = true; ""`)
	b.submit("create without a choice", "form.stack button.primary", "#f-filter-id-err")
	if s := b.eval("the refusal", `document.querySelector("#f-filter-id-err").innerText`); !strings.Contains(s, "choose a filter, or “Every lead of the campaign”") {
		t.Fatalf("the refused token says %q", s)
	}
	b.shot("token-without-filter-refused")
	b.eval("choose every lead", `(() => { const s = document.querySelector("#f-filter-id");
		s.value = "all"; return s.value; })()`)
	b.submit("create the token", "form.stack button.primary", ".notice")
	row := `tr[data-token-name="Partner"]`
	if s := b.eval("the token row", `document.querySelector('`+row+`').innerText`); !strings.Contains(s, "every lead of the campaign") {
		t.Fatalf("the token row: %q", s)
	}

	// Show, then rotate: "now" is first and chosen, and ends the old secret.
	b.submit("show the token", row+` button[data-action=show]`, "#token-secret")
	old := b.eval("the secret", `document.querySelector("#token-secret").value`)
	b.submit("back to the tokens", "#back", row)
	b.submit("rotate", row+` a[href$="/rotate"]`, `input[name=grace]`)
	if s := b.eval("the choices", `[...document.querySelectorAll("input[name=grace]")].map(i => i.value + (i.checked ? "*" : "") + " " + i.parentElement.textContent.trim()).join("|")`); s != "0s* No: it stops now|1h For 1 hour|24h For 24 hours|168h For 7 days" {
		t.Fatalf("the rotation's choices: %q", s)
	}
	b.shot("rotate-now-chosen")
	b.submit("rotate now", "form.stack button.danger", "#token-secret")
	fresh := b.eval("the new secret", `document.querySelector("#token-secret").value`)
	if s := b.eval("the notice", `document.querySelector(".notice").innerText`); !strings.Contains(s, "The old one no longer works.") {
		t.Fatalf("after rotating: %q", s)
	}
	b.shot("rotated-now")
	if !regexp.MustCompile(`^lsk_\w+$`).MatchString(old) || fresh == old {
		t.Fatalf("secrets %q then %q", old, fresh)
	}
	admin.as(old).do(http.MethodGet, "/v1/leads", nil).problem(http.StatusUnauthorized)
	admin.as(fresh).do(http.MethodGet, "/v1/leads", nil).want(http.StatusOK)
}

// mustFilters lists a campaign's filters through the API.
func mustFilters(t *testing.T, admin *client, campaign string) []filterOut {
	t.Helper()
	var list struct{ Data []filterOut }
	admin.do(http.MethodGet, "/v1/campaigns/"+campaign+"/filters", nil).want(http.StatusOK).into(&list)
	return list.Data
}
