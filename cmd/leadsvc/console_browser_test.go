package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browserStep drives the console in headless Chromium and keeps a
// screenshot of each step under testartifacts/console/.
type browserStep struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string
	n    int
}

// do runs actions, failing the test with the step's name.
func (b *browserStep) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("chromium, %s: %v", what, err)
	}
}

// eval runs a script and returns its string result.
func (b *browserStep) eval(what, js string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		b.t.Fatalf("chromium, %s: %v", what, err)
	}
	return s
}

// submit clicks sel and waits until the next page shows wait; the old
// page is marked first, so that wait cannot match it.
func (b *browserStep) submit(what, sel, wait string) {
	b.t.Helper()
	b.eval(what, `document.body.dataset.old = "1"; ""`)
	b.do(what, chromedp.Click(chromedp.CSS(sel)), chromedp.WaitVisible(chromedp.CSS("body:not([data-old]) "+wait)))
}

// shot saves a screenshot of the page, numbered in step order.
func (b *browserStep) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("chromium, screenshot %s: %v", name, err)
	}
	b.n++
	if err := os.WriteFile(filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.n, name)), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// TestConsolePartnerSetupInChromium is the product guide's setup, clicked
// through in headless Chromium: sign in, make a campaign from labels, be
// refused an option the list has (the error beside its input), add the option "Partner ABC" to
// the Source select, make the filter source = Partner ABC, make a
// read-only and a read+write token, copy the docs link and Show the
// tokens. Then the partner uses them over HTTP and sees their own lead
// and only it; the console's preview of the token shows the same, and the
// leads page finds it by a search.
// Missing Chromium fails the test (make test installs it); only -short
// skips it.
func TestConsolePartnerSetupInChromium(t *testing.T) {
	needChromium(t)
	m := mustRunMain(t)
	admin := mustAccount(t, m, "Acme")
	campaign := mustConsoleCampaign(t, admin, "Home energy")
	website := mustLead(t, admin, campaign, map[string]any{"name": "Web visitor", "source": "website"})

	dir := filepath.Join("..", "..", "testartifacts", "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Alone it takes seconds; beside the whole suite on two cores, minutes.
	bctx := mustBrowser(t, 180*time.Second, 1280, 900)
	b := &browserStep{t: t, ctx: bctx, base: "http://" + m.Addr(), dir: dir}

	// Sign in, with the keyboard: type the token and press Enter.
	b.do("open the console", chromedp.Navigate(b.base+"/console"), chromedp.WaitVisible(chromedp.CSS("#f-token")))
	b.shot("sign-in")
	b.eval("mark", `document.body.dataset.old = "1"; ""`)
	b.do("sign in", chromedp.SendKeys(chromedp.CSS("#f-token"), admin.token+"\r"),
		chromedp.WaitVisible(chromedp.CSS(`body:not([data-old]) a[href="/console/campaigns/`+campaign+`"]`)))
	b.shot("campaigns")

	// A new campaign from labels: each key is made from its label as it
	// is typed and shown in its key input; a fourth field comes from "Add
	// another field", a select list's options are typed one per line.
	b.submit("new campaign", `a[href="/console/campaigns/new"]`, "#f-fields-0-label")
	b.do("label the fields", chromedp.SendKeys(chromedp.CSS("#f-name"), "Solar leads"),
		chromedp.SendKeys(chromedp.CSS("#f-fields-0-label"), "Full name"),
		chromedp.SendKeys(chromedp.CSS("#f-fields-1-label"), "E-mail"),
		chromedp.SendKeys(chromedp.CSS("#f-fields-2-label"), "Første kontakt"))
	b.eval("choose the types", `(() => { for (const [i, t] of [[1, "email"], [2, "date"]]) {
		const s = document.querySelector("#f-fields-" + i + "-type"); s.value = t; s.dispatchEvent(new Event("change", {bubbles: true})); }
		return ""; })()`)
	keys := `[0, 1, 2].map(i => document.querySelector("#f-fields-" + i + "-key").placeholder).join(" ")`
	if got := b.eval("the keys made", keys); got != "full_name e_mail forste_kontakt" {
		t.Errorf("the keys made as the labels are typed: %q", got)
	}
	if got := b.eval("the options of a text field", `String(document.querySelector("#f-fields-0-options").closest("[data-for-type]").hidden)`); got != "true" {
		t.Errorf("a text field's row shows the options input (hidden = %s)", got)
	}
	b.submit("add another field", `button[value=add_field]`, "#f-fields-3-label")
	if got := b.eval("the keys made by the server", keys); got != "full_name e_mail forste_kontakt" {
		t.Errorf("the keys shown after adding a row: %q", got)
	}
	b.do("a select field", chromedp.SendKeys(chromedp.CSS("#f-fields-3-label"), "Source"))
	b.eval("choose select", `(() => { const s = document.querySelector("#f-fields-3-type"); s.value = "select";
		s.dispatchEvent(new Event("change", {bubbles: true})); return ""; })()`)
	b.do("its options", chromedp.SendKeys(chromedp.CSS("#f-fields-3-options"), "Website\nPartner ABC"))
	if got := b.eval("the values made", `document.querySelector("#f-fields-3-values").placeholder`); got != "website\npartner-abc" {
		t.Errorf("the option values made from the labels: %q", got)
	}
	b.shot("campaign-new")
	b.submit("create the campaign", `.actions button.primary`, ".notice")
	if s := b.eval("the new campaign", `document.querySelector("main").innerText`); !strings.Contains(s, "forste_kontakt") ||
		!strings.Contains(s, "Email") || !strings.Contains(s, "Partner ABC") {
		t.Errorf("the campaign made from labels: %q", s)
	}
	b.shot("campaign-created")

	// Selects: an option the list has is refused in words next to its
	// input; then add the option "Partner ABC"; its value follows the label.
	b.do("back to the campaigns", chromedp.Navigate(b.base+"/console/campaigns"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/console/campaigns/`+campaign+`"]`)))
	b.submit("open the campaign", `a[href="/console/campaigns/`+campaign+`"]`, "#select-source")
	b.do("type an option it has", chromedp.SendKeys(chromedp.CSS("#f-opt-source-label"), "Website"))
	b.submit("add it again", `#select-source form[aria-label^="Add an option"] button[type=submit]`, "#f-opt-source-value-err")
	if s := b.eval("the error", `(() => { const e = document.querySelector("#f-opt-source-value-err");
		return e.closest(".field").contains(document.querySelector("#f-opt-source-value")) + "|" + e.textContent; })()`); !strings.HasPrefix(s, "true|") ||
		!strings.HasSuffix(s, "“Website” is already an option of Source.") {
		t.Errorf("the repeated option's error beside its input: %q", s)
	}
	b.shot("option-error")
	b.do("start again", chromedp.Navigate(b.base+"/console/campaigns/"+campaign), chromedp.WaitVisible(chromedp.CSS("#select-source")))
	b.do("type the option", chromedp.SendKeys(chromedp.CSS("#f-opt-source-label"), "Partner ABC"))
	if v := b.eval("the option's value", `document.querySelector("#f-opt-source-value").value`); v != "partner-abc" {
		t.Errorf("the option's value follows its label as %q, want partner-abc", v)
	}
	b.submit("add the option", `#select-source form[aria-label^="Add an option"] button[type=submit]`, ".notice")
	if s := b.eval("the options", `document.querySelector("#select-source").innerText`); !strings.Contains(s, "Partner ABC") {
		t.Fatalf("the Source select after adding: %q", s)
	}
	b.shot("option-added")

	// Filters: New filter, condition source = Partner ABC.
	b.submit("open the filters", `nav.tabs a[href$="/filters"]`, `a[href$="/filters/new"]`)
	b.submit("new filter", `a[href$="/filters/new"]`, "#f-name")
	b.do("name the filter", chromedp.SendKeys(chromedp.CSS("#f-name"), "Partner ABC"))
	got := b.eval("pick the field", `(() => {
		const f = document.querySelector("#f-conditions-0-field");
		f.value = "source"; f.dispatchEvent(new Event("change", {bubbles: true}));
		const ops = [...document.querySelector("#f-conditions-0-op").options].filter(o => !o.disabled).map(o => o.value);
		const c = document.querySelector("#f-conditions-0-choice");
		const shown = !c.hidden && document.querySelector("#f-conditions-0-value").hidden;
		c.value = "partner-abc";
		return ops.join(" ") + "|" + shown + "|" + [...c.options].map(o => o.textContent).join(",");
	})()`)
	if got != "eq neq in not_in empty not_empty|true|Website,Partner ABC" {
		t.Errorf("the editor for a select field offers %q; want its operators and options as choices", got)
	}
	b.shot("filter-editor")
	b.submit("save the filter", `button.primary[value=save]`, ".notice")
	if s := b.eval("the filters", `document.querySelector("table.list").innerText`); !strings.Contains(s, "source = Partner ABC (partner-abc)") {
		t.Fatalf("the filter list: %q", s)
	}
	b.shot("filter-saved")

	// API tokens: a read-only and a read+write token with the filter.
	pickFilter := `(() => { const s = document.querySelector("#f-filter-id");
		s.value = [...s.options].find(o => o.textContent === "Partner ABC").value; return s.value; })()`
	for _, tok := range []struct{ name, access string }{{"Partner ABC – read only", "read"}, {"Partner ABC – read + write", "read_write"}} {
		b.submit("open the tokens", `nav.tabs a[href$="/tokens"]`, `a[href$="/tokens/new"]`)
		b.submit("new token", `a[href$="/tokens/new"]`, "#f-name")
		b.do("fill in the token", chromedp.SendKeys(chromedp.CSS("#f-name"), tok.name),
			chromedp.Click(chromedp.CSS(`input[name=access][value=`+tok.access+`]`)))
		if b.eval("pick the filter", pickFilter) == "" {
			t.Fatal("no filter to pick")
		}
		if tok.access == "read_write" {
			b.shot("token-form")
		}
		b.submit("create the token", "form.stack button.primary", ".notice")
	}
	b.shot("tokens")
	row := func(name string) string { return `tr[data-token-name="` + name + `"]` }
	ro, rw := row("Partner ABC – read only"), row("Partner ABC – read + write")
	if s := b.eval("the rows", `document.querySelector('`+ro+`').innerText + "|" + document.querySelector('`+rw+`').innerText`); !strings.Contains(s, "Read\t") || !strings.Contains(s, "Read + Write") || strings.Count(s, "source = Partner ABC") != 2 {
		t.Errorf("the token rows: %q", s)
	}

	// Copy the docs link (the link button) and read it from the page.
	b.do("copy the docs link", chromedp.Click(chromedp.CSS(ro+" button[data-docs-url]")))
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`!!document.querySelector('`+ro+` button[data-copied]')`,
		chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Errorf("the copy button did not confirm the copy: %v", err)
	}
	docsURL := b.eval("the docs link", `document.querySelector('`+ro+` button[data-docs-url]').dataset.docsUrl`)
	b.shot("docs-link-copied")

	// Show each token and read its secret.
	secrets := map[string]string{}
	for _, r := range []string{ro, rw} {
		b.submit("show the token", r+` button[data-action=show]`, "#token-secret")
		secrets[r] = b.eval("the secret", `document.querySelector("#token-secret").value`)
		if r == rw {
			b.shot("token-shown")
		}
		b.submit("back to the tokens", "#back", ro)
	}

	// The partner, over HTTP: writes with the read+write token (the
	// filter fills in the source), reads with the read-only one, opens the
	// docs link.
	reader, writer := admin.as(secrets[ro]), admin.as(secrets[rw])
	created := writer.do(http.MethodPost, "/v1/leads", map[string]any{"fields": map[string]any{"name": "Ada Lovelace"}}).
		want(http.StatusCreated)
	mine := str(created.obj(), "id")
	var list struct {
		Data []struct {
			ID     string         `json:"id"`
			Fields map[string]any `json:"fields"`
		} `json:"data"`
	}
	reader.do(http.MethodGet, "/v1/leads", nil, "Leadsvc-Min-Position", created.Header.Get("Leadsvc-Position")).
		want(http.StatusOK).into(&list)
	if len(list.Data) != 1 || list.Data[0].ID != mine || list.Data[0].Fields["source"] != "partner-abc" {
		t.Fatalf("the partner's GET /v1/leads = %+v; want only their lead %s (the admin's %s is another source's)", list.Data, mine, website)
	}
	reader.do(http.MethodPost, "/v1/leads", map[string]any{"fields": map[string]any{"name": "x"}}).want(http.StatusForbidden)
	resp, err := http.Get(b.base + urlPath(t, docsURL))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("the docs link %s answers %d %s", docsURL, resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// Preview as the read-only token: exactly the partner's lead.
	b.submit("preview", ro+` a[href$="/preview"]`, "h1")
	if ids := b.eval("the preview", `[...document.querySelectorAll("[data-lead-id]")].map(e => e.dataset.leadId).join(",")`); ids != mine {
		t.Fatalf("the preview lists %q, want only the partner's lead %s", ids, mine)
	}
	b.shot("preview")

	// The leads page, newest first, searched by a name whatever its
	// capitals: only the partner's lead.
	b.do("open the leads", chromedp.Navigate(b.base+"/console/campaigns/"+campaign+"/leads"), chromedp.WaitVisible(chromedp.CSS("#f-q")))
	if ids := b.eval("the leads", `[...document.querySelectorAll("[data-lead-id]")].map(e => e.dataset.leadId).join(",")`); ids != mine+","+website {
		t.Errorf("the leads page lists %q, want the newest first: %s,%s", ids, mine, website)
	}
	b.do("search", chromedp.SendKeys(chromedp.CSS("#f-q"), "lOVE"))
	b.submit("show", `form.lead-choices button[type=submit]`, "#f-q")
	if ids := b.eval("the found leads", `[...document.querySelectorAll("[data-lead-id]")].map(e => e.dataset.leadId).join(",")`); ids != mine {
		t.Errorf("the search lOVE lists %q, want only %s (Ada Lovelace)", ids, mine)
	}
	b.shot("leads-search")

	// The lead page with its history, written by the partner's token.
	b.submit("open the lead", `a[href="/console/leads/`+mine+`"]`, "#history-h")
	if s := b.eval("the history", `document.querySelector(".history").innerText`); !strings.Contains(s, "lead.created") ||
		!strings.Contains(s, "Partner ABC – read + write") {
		t.Errorf("the lead's history: %q", s)
	}
	b.shot("lead")

	// The partner is renamed, then retired: leads keep the option, new
	// ones cannot use it.
	b.do("back to the campaign", chromedp.Navigate(b.base+"/console/campaigns/"+campaign), chromedp.WaitVisible(chromedp.CSS("#select-source")))
	b.do("open the option's change", chromedp.Click(chromedp.CSS(`#select-source li:nth-child(2) details.edit summary`)),
		chromedp.WaitVisible(chromedp.CSS("#f-opt-source-partner-abc-edit")))
	b.do("relabel", chromedp.SetValue(chromedp.CSS("#f-opt-source-partner-abc-edit"), "Partner ABC Ltd"))
	b.submit("save the label", `#select-source li:nth-child(2) form[aria-label^="Rename"] button[type=submit]`, ".notice")
	b.do("open it again", chromedp.Click(chromedp.CSS(`#select-source li:nth-child(2) details.edit summary`)),
		chromedp.WaitVisible(chromedp.CSS(`#select-source li:nth-child(2) input[name=retired][value=true] + button`)))
	b.submit("retire the partner", `#select-source li:nth-child(2) input[name=retired][value=true] + button`, ".notice")
	if s := b.eval("the options", `document.querySelector("#select-source").innerText`); !strings.Contains(s, "Partner ABC Ltd") || !strings.Contains(strings.ToLower(s), "retired") {
		t.Errorf("the Source select after the rename and retirement: %q", s)
	}
	b.shot("option-retired")

	// The read-only token is renamed from its edit form.
	b.do("open the tokens again", chromedp.Navigate(b.base+"/console/campaigns/"+campaign+"/tokens"), chromedp.WaitVisible(chromedp.CSS(ro)))
	b.submit("edit the token", ro+` a[href$="/edit"]`, "#f-name")
	b.do("rename the token", chromedp.SetValue(chromedp.CSS("#f-name"), "Partner ABC – reporting"))
	b.submit("save the token", "form.stack button.primary", ".notice")
	if s := b.eval("the tokens", `document.querySelector("table").innerText`); !strings.Contains(s, "Partner ABC – reporting") {
		t.Errorf("the tokens after the edit: %q", s)
	}
	b.shot("token-edited")

	// A phone-sized screen: nothing wider than the screen.
	b.do("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(b.base+"/console/campaigns/"+campaign+"/tokens"),
		chromedp.WaitVisible(chromedp.CSS(row("Partner ABC – reporting"))))
	if w := b.eval("the page width", `(() => { const w = document.documentElement.scrollWidth;
		return w > window.innerWidth ? w + " px" : ""; })()`); w != "" {
		t.Errorf("on a 390 px screen the page is %s wide", w)
	}
	b.shot("phone-tokens")
}
