package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestConsoleCreatesACampaignFromLabels fills in the new-campaign form as
// an admin who thinks in labels: keys, option values and status keys are
// made from them and shown back; colliding and reserved keys and a
// repeated option are refused in plain words at their rows; a key or
// value typed in wins over the one made.
func TestConsoleCreatesACampaignFromLabels(t *testing.T) {
	t.Parallel()
	m := mustRunMain(t)
	admin := mustAccount(t, m, "Acme")
	s := mustSignIn(t, m, admin.token)
	if p := s.get("/campaigns/new").want(http.StatusOK); !p.contains(`>Long text</option>`) || !p.contains(`>Select list (one choice)</option>`) {
		t.Fatalf("the type picker does not name the types in words:\n%s", p.Body)
	}

	form := url.Values{"name": {"Solar"}, "nfields": {"6"},
		"fields[0].label": {"Full name"}, "fields[0].type": {"text"}, "fields[0].required": {"true"},
		"fields[1].label": {"E-mail"}, "fields[1].type": {"email"},
		"fields[2].label": {"Første kontakt"}, "fields[2].type": {"date"},
		"fields[3].label": {"Source"}, "fields[3].type": {"select"}, "fields[3].options": {"Website\nPartner ABC\n\nPartner ABC"},
		"fields[4].label": {"E mail"}, "fields[4].type": {"text"},
		"fields[5].label": {"Status"}, "fields[5].type": {"text"},
		"statuses": {"New\nCall back"}}
	p := s.post("/campaigns", form).want(http.StatusUnprocessableEntity)
	for _, want := range []string{
		`placeholder="full_name"`, `placeholder="forste_kontakt"`, `placeholder="e_mail"`,
		"placeholder=\"website\npartner-abc\npartner-abc\"", "placeholder=\"new\ncall_back\"",
		`id="f-fields-3-options-err"><span class="visually-hidden">Error: </span>“Partner ABC” is already an option of Source.`,
		`id="f-fields-4-key-err"><span class="visually-hidden">Error: </span>Another field already has the key “e_mail”.`,
		`id="f-fields-5-key-err"><span class="visually-hidden">Error: </span>The key “status” is taken`,
	} {
		if !p.contains(want) {
			t.Errorf("the refused form lacks %s", want)
		}
	}
	if t.Failed() {
		t.Fatalf("the refused form:\n%s", p.Body)
	}

	form.Set("fields[3].options", "Website\nPartner ABC")
	form.Set("fields[3].values", "web")
	form.Set("fields[4].key", "email_2")
	form.Set("fields[5].key", "stage")
	p = s.post("/campaigns", form).wantRedirect("/console/campaigns/")
	campaign := regexp.MustCompile(`/console/campaigns/([0-9a-f-]{36})`).FindStringSubmatch(p.Location)[1]
	var camp struct {
		Fields []struct {
			Key, Type, Select string
			Required          bool
		} `json:"fields"`
		Selects []struct {
			Key     string                          `json:"key"`
			Options []struct{ Value, Label string } `json:"options"`
		} `json:"selects"`
		Statuses []struct{ Slug string } `json:"statuses"`
	}
	admin.do(http.MethodGet, "/v1/campaigns/"+campaign, nil).want(http.StatusOK).into(&camp)
	var keys []string
	for _, f := range camp.Fields {
		keys = append(keys, f.Key+":"+f.Type)
	}
	if got, want := strings.Join(keys, " "), "full_name:text e_mail:email forste_kontakt:date source:select email_2:text stage:text"; got != want {
		t.Errorf("fields = %s, want %s", got, want)
	}
	if !camp.Fields[0].Required || camp.Fields[3].Select != "source" {
		t.Errorf("fields = %+v", camp.Fields)
	}
	if len(camp.Selects) != 1 || camp.Selects[0].Key != "source" || len(camp.Selects[0].Options) != 2 ||
		camp.Selects[0].Options[0].Value != "web" || camp.Selects[0].Options[1].Value != "partner-abc" || camp.Selects[0].Options[1].Label != "Partner ABC" {
		t.Errorf("selects = %+v, want source with web (typed) and partner-abc (made)", camp.Selects)
	}
	if len(camp.Statuses) != 2 || camp.Statuses[1].Slug != "call_back" {
		t.Errorf("statuses = %+v", camp.Statuses)
	}
	if p := s.get("/campaigns/" + campaign); !p.contains(`data-label="Type">Date</td>`) {
		t.Errorf("the campaign page does not name the field types in words:\n%s", p.Body)
	}
}
