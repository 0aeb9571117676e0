package api

import (
	"context"

	gojson "github.com/goccy/go-json"

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
	v, q, err := a.scopedQuery(ctx, tok, q)
	if err != nil || v == nil {
		return LeadPage{}, err
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

// appendVisibleLeads appends to dst, as the elements of a JSON array, the
// page of leads that VisibleLeads returns, and gives where the next page
// starts. Rows the token's scope is exact for (no filter, or a filter
// whose view was evaluated at the filter's current version) are copied
// as stored; the others are decoded and re-checked (invariant 4).
func (a *API) appendVisibleLeads(ctx context.Context, dst []byte, tok commands.TokenInfo, q leads.Query) ([]byte, *leads.Key, error) {
	v, q, err := a.scopedQuery(ctx, tok, q)
	if err != nil || v == nil {
		return dst, nil, err
	}
	var version int64
	if f := v.scope.Filter(); f != nil {
		version = f.Version
	}
	rows, err := a.reader.ListRaw(ctx, q, version)
	if err != nil {
		return dst, nil, err
	}
	exact := rows.Exact || v.scope.Filter() == nil
	first := true
	for _, rl := range rows.Leads {
		mark := len(dst)
		if !first {
			dst = append(dst, ',')
		}
		if exact {
			if !v.scope.Owns(domain.Lead{AccountID: rl.AccountID, CampaignID: rl.CampaignID, Version: rl.Version}) {
				dst = dst[:mark]
				continue
			}
			var ok bool
			if dst, ok = appendRawLead(dst, rl); ok {
				first = false
				continue
			}
		}
		l, err := rl.Decode()
		if err != nil {
			return dst, nil, err
		}
		ok, err := a.sees(ctx, v, l)
		if err != nil {
			return dst, nil, err
		}
		if !ok {
			dst = dst[:mark]
			continue
		}
		enc, err := gojson.Marshal(a.leadOut(l))
		if err != nil {
			return dst, nil, err
		}
		dst, first = append(dst, enc...), false
	}
	return dst, rows.Next, nil
}

// scopedQuery is q bound to tok's scope: its account, and a campaign
// token's campaign and filter, whatever q says. It returns a nil
// visibility when the scope sees no lead (its filter is gone).
func (a *API) scopedQuery(ctx context.Context, tok commands.TokenInfo, q leads.Query) (*visibility, leads.Query, error) {
	v, err := a.visibility(ctx, tok)
	if err != nil || v.scope.Closed() {
		return nil, q, err
	}
	q.AccountID, q.FilterID = tok.AccountID, tok.FilterID
	if tok.CampaignID != nil {
		q.CampaignID = tok.CampaignID
	}
	return v, q, nil
}
