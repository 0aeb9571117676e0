package api

import (
	"context"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/projections/leads"
)

// LeadPage is one page of the leads a token sees.
type LeadPage struct {
	Leads []domain.Lead
	// Next is where the following page starts, nil on the last page. Rows
	// the re-check drops still advance it, so a page may hold fewer leads
	// than asked for and still have a Next.
	Next *leads.Key
}

// VisibleLeads is the list behind GET /v1/leads: a page of the view rows
// in tok's scope, each re-checked against the token's current filter
// (invariant 4). The console's "Preview as this token" calls it too, so
// an admin sees exactly what the partner's request would return. The
// account, and a campaign token's campaign and filter, come from tok
// whatever q says; authentication and the read permission are the
// caller's to check.
func (a *API) VisibleLeads(ctx context.Context, tok commands.TokenInfo, q leads.Query) (LeadPage, error) {
	v, err := a.visibility(ctx, tok)
	if err != nil || v.scope.Closed() {
		return LeadPage{}, err
	}
	q.AccountID, q.FilterID = tok.AccountID, tok.FilterID
	if tok.CampaignID != nil {
		q.CampaignID = tok.CampaignID
	}
	rows, err := a.reader.List(ctx, q)
	if err != nil {
		return LeadPage{}, err
	}
	out := LeadPage{Next: rows.Next}
	for _, l := range rows.Leads {
		ok, err := a.sees(ctx, v, l)
		if err != nil {
			return LeadPage{}, err
		}
		if ok {
			out.Leads = append(out.Leads, l)
		}
	}
	return out, nil
}
