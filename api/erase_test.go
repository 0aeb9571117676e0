package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/leadsvc/leadsvc/domain"
)

func TestEraseLeadAnswersWhatWentAndThenGone(t *testing.T) {
	t.Parallel()
	s, c, partner := campaignToken(domain.PermRead, domain.PermWrite)
	admin := s.addToken(c.AccountID, nil, domain.PermAdmin, domain.PermRead)
	l := s.addLead(c, domain.Fields{"name": "Ada"})
	h := fakeAPI(t, s)
	path := "/v1/leads/" + l.ID.String()

	mustProblem(t, serve(t, h, http.MethodPost, path+"/erase", partner, `{"reason":"asked"}`), http.StatusForbidden, "forbidden")
	p := mustProblem(t, serve(t, h, http.MethodPost, path+"/erase", admin, `{"reason":""}`), http.StatusUnprocessableEntity, "validation")
	if len(p.Errors) != 1 || p.Errors[0].Field != "reason" {
		t.Fatalf("empty reason: %+v", p)
	}
	mustProblem(t, serve(t, h, http.MethodPost, path+"/erase", admin, `{"reason":"asked","who":"Ada"}`), http.StatusBadRequest, "bad-request")

	var got struct {
		LeadID      string   `json:"lead_id"`
		ErasedAt    string   `json:"erased_at"`
		Fields      []string `json:"fields"`
		ChainIntact bool     `json:"chain_intact"`
	}
	w := serve(t, h, http.MethodPost, path+"/erase", admin, `{"reason":"asked"}`)
	mustAnswer(t, w, http.StatusOK, "application/json", &got)
	if got.LeadID != l.ID.String() || got.ErasedAt == "" || len(got.Fields) != 1 || !got.ChainIntact || w.Header().Get("Leadsvc-Position") == "" {
		t.Fatalf("erasure %+v, headers %v", got, w.Header())
	}
	for _, secret := range []string{partner, admin} {
		p := mustProblem(t, serve(t, h, http.MethodGet, path, secret, ""), http.StatusGone, "lead-erased")
		if !strings.Contains(p.Detail, "erased at") || strings.Contains(p.Detail, "Ada") {
			t.Fatalf("GET after erasure: %+v", p)
		}
	}
	mustProblem(t, serve(t, h, http.MethodPost, path+"/erase", admin, `{"reason":"again"}`), http.StatusGone, "lead-erased")
}
