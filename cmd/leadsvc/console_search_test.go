package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestConsoleLeadsNewestFirstWithSearch lists a campaign's leads with the
// most recently changed first and searches its text fields, whatever the
// capitals; select values are not searched; the pager keeps the search.
func TestConsoleLeadsNewestFirstWithSearch(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	admin := mustAccount(t, m, "Acme")
	campaign := mustConsoleCampaign(t, admin, "Home energy")
	ada := mustLead(t, admin, campaign, map[string]any{"name": "Ada Lovelace", "source": "website"})
	bo := mustLead(t, admin, campaign, map[string]any{"name": "Bo Berg", "source": "website"})
	king := mustLead(t, admin, campaign, map[string]any{"name": "Ada King", "source": "website"})
	s := mustSignIn(t, m, admin.token)
	page := "/campaigns/" + campaign + "/leads"

	p := s.get(page).want(http.StatusOK)
	if i, j, k := strings.Index(p.Body, king), strings.Index(p.Body, bo), strings.Index(p.Body, ada); i < 0 || j < i || k < j {
		t.Errorf("the leads are not newest first (positions %d, %d, %d):\n%s", i, j, k, p.Body)
	}
	p = s.get(page + "?q=aDA").want(http.StatusOK)
	if i, k := strings.Index(p.Body, king), strings.Index(p.Body, ada); i < 0 || k < i || p.contains(bo) {
		t.Errorf("the search for aDA lists (positions %d, %d; Bo: %v):\n%s", i, k, p.contains(bo), p.Body)
	}
	if !p.contains(`name="q" value="aDA"`) {
		t.Errorf("the search box does not keep the search:\n%s", p.Body)
	}
	if p := s.get(page + "?q=website").want(http.StatusOK); p.contains(ada) || !p.contains("holding “website”") {
		t.Errorf("a search matches a select's value:\n%s", p.Body)
	}
	later := s.get(page + "?q=ada&after=1_" + ada).want(http.StatusOK)
	if !later.contains(`href="?q=ada">First page</a>`) {
		t.Errorf("the pager does not keep the search:\n%s", later.Body)
	}
}
