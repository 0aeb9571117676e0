package console

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/projections/leads"
)

// tokenRow is one token of a list.
type tokenRow struct {
	T      commands.TokenInfo
	Access string
	// Scope says in words which leads the token reaches.
	Scope   []string
	State   string // active, expired or revoked
	DocsURL string
}

func (c *Console) docsURL(t commands.TokenInfo) string { return c.publicURL + "/docs/" + t.DocsID }

func tokenState(t commands.TokenInfo, now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return "revoked"
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return "expired"
	}
	return "active"
}

// scopeOf says which leads a token reaches; filters are the campaign's
// live filters by id.
func scopeOf(t commands.TokenInfo, camp *domain.Campaign, filters map[uuid.UUID]domain.Filter) []string {
	switch {
	case t.CampaignID == nil:
		return []string{"every campaign of the account"}
	case t.FilterID == nil:
		return []string{"every lead of the campaign"}
	}
	f, ok := filters[*t.FilterID]
	if !ok || camp == nil {
		return []string{"no lead: its filter was deleted"}
	}
	return append(f.Explain(camp.Schema), "(filter “"+f.Name+"”)")
}

func (c *Console) tokenRows(ts []commands.TokenInfo, camp *domain.Campaign, filters map[uuid.UUID]domain.Filter) []tokenRow {
	now := c.now()
	out := make([]tokenRow, 0, len(ts))
	for _, t := range ts {
		out = append(out, tokenRow{T: t, Access: joinPerms(t.Permissions), Scope: scopeOf(t, camp, filters),
			State: tokenState(t, now), DocsURL: c.docsURL(t)})
	}
	return out
}

// tokenList is a page of tokens with the form that makes one.
type tokenList struct {
	Rows    []tokenRow
	Filters []domain.Filter // campaign tokens: the filters a token may get
	// Account is true on the account's page (account-level tokens).
	Account bool
	New     string // the id of a token just made, to highlight
	Expiry  string // the expiry input's earliest value
	// The form's values before the admin changes them: a new token's
	// defaults, or the edited token's.
	Edit      *commands.TokenInfo
	Name      string
	Perms     map[string]bool // account tokens
	Access    string          // campaign tokens: read or read_write
	Filter    string          // a filter id, everyLeadChoice, or none yet
	ExpiresAt string
}

func (c *Console) listAccountTokens(w http.ResponseWriter, r *http.Request) error {
	return c.renderTokens(w, r, http.StatusOK, nil, "tokens", nil)
}

func (c *Console) newAccountToken(w http.ResponseWriter, r *http.Request) error {
	return c.renderTokens(w, r, http.StatusOK, nil, "token_new", nil)
}

func (c *Console) listCampaignTokens(w http.ResponseWriter, r *http.Request) error {
	camp, err := c.campaignOf(r)
	if err != nil {
		return err
	}
	return c.renderTokens(w, r, http.StatusOK, &camp, "tokens", nil)
}

func (c *Console) newCampaignToken(w http.ResponseWriter, r *http.Request) error {
	camp, err := c.campaignOf(r)
	if err != nil {
		return err
	}
	return c.renderTokens(w, r, http.StatusOK, &camp, "token_new", nil)
}

// renderTokens shows the account's tokens (camp nil) or a campaign's, as
// the list or as the new-token form.
func (c *Console) renderTokens(w http.ResponseWriter, r *http.Request, status int, camp *domain.Campaign, page string, errs *formErrors) error {
	return c.renderTokenPage(w, r, status, camp, page, errs, nil)
}

// renderTokenPage is renderTokens, with edit the token the form changes
// (nil for a new one).
func (c *Console) renderTokenPage(w http.ResponseWriter, r *http.Request, status int, camp *domain.Campaign, page string, errs *formErrors,
	edit *commands.TokenInfo) error {
	acct := account(r).ID
	data := tokenList{Account: camp == nil, New: r.URL.Query().Get("new"), Expiry: c.now().UTC().Format(datetimeLocal),
		Perms: map[string]bool{"read": true}, Access: "read"}
	if edit != nil {
		data.Edit, data.Name, data.Perms, data.Access = edit, edit.Name, map[string]bool{}, "read"
		for _, p := range edit.Permissions {
			data.Perms[string(p)] = true
		}
		if edit.Can(domain.PermWrite) {
			data.Access = "read_write"
		}
		data.Filter = everyLeadChoice
		if edit.FilterID != nil {
			data.Filter = edit.FilterID.String()
		}
		if edit.ExpiresAt != nil {
			data.ExpiresAt = edit.ExpiresAt.UTC().Format(datetimeLocal)
		}
	}
	var campaignID *uuid.UUID
	filters := map[uuid.UUID]domain.Filter{}
	if camp != nil {
		campaignID = &camp.ID
		fs, err := c.q.ListFilters(r.Context(), acct, camp.ID)
		if err != nil {
			return err
		}
		data.Filters, filters = fs, filterNames(fs)
	}
	if page == "tokens" {
		ts, err := c.q.ListTokens(r.Context(), acct, campaignID)
		if err != nil {
			return err
		}
		if camp == nil {
			ts = accountLevel(ts)
		}
		data.Rows = c.tokenRows(ts, camp, filters)
	}
	v := &view{Title: "API tokens", Section: "tokens", Campaign: camp, Tab: "tokens", Notice: notice(r), Errors: errs,
		Idem: randomHex(16), Data: data}
	if camp != nil {
		v.Title, v.Section = "API tokens · "+camp.Name, "campaigns"
	}
	if page == "token_new" {
		v.Title = "New API token"
		if edit != nil {
			v.Title = "Edit " + edit.Name
		}
	}
	if r.Method == http.MethodPost {
		v.Form, v.Idem = r.PostForm, r.PostForm.Get("idem")
	}
	c.render(w, r, status, page, v)
	return nil
}

func accountLevel(ts []commands.TokenInfo) []commands.TokenInfo {
	var out []commands.TokenInfo
	for _, t := range ts {
		if t.CampaignID == nil {
			out = append(out, t)
		}
	}
	return out
}

func (c *Console) createAccountToken(w http.ResponseWriter, r *http.Request) error {
	var perms []domain.Permission
	for _, p := range r.PostForm["permissions"] {
		perms = append(perms, domain.Permission(p))
	}
	return c.createToken(w, r, nil, perms)
}

// everyLeadChoice is the token form's filter_id for every lead of the
// campaign, chosen on purpose.
const everyLeadChoice = "all"

// createCampaignToken makes a partner's token: Read, or Read + Write, of
// the campaign, narrowed by one of its filters or, when chosen, not.
func (c *Console) createCampaignToken(w http.ResponseWriter, r *http.Request) error {
	camp, err := c.campaignOf(r)
	if err != nil {
		return err
	}
	var perms []domain.Permission
	switch r.PostForm.Get("access") {
	case "read":
		perms = []domain.Permission{domain.PermRead}
	case "read_write":
		perms = []domain.Permission{domain.PermRead, domain.PermWrite}
	}
	return c.createToken(w, r, &camp, perms)
}

func (c *Console) createToken(w http.ResponseWriter, r *http.Request, camp *domain.Campaign, perms []domain.Permission) error {
	v := &domain.ValidationError{}
	cmd := commands.CreateToken{AccountID: account(r).ID, Name: trimmed(r, "name"), Permissions: perms,
		ExpiresAt: formTime(v, r, "expires_at"), Meta: meta(w, r), Idem: idempotency(r), WithoutSecret: true}
	back := "/tokens"
	if camp != nil {
		cmd.CampaignID = &camp.ID
		// No filter is preselected: every lead is a choice of its own.
		if cmd.EveryLead = r.PostForm.Get("filter_id") == everyLeadChoice; !cmd.EveryLead {
			cmd.FilterID = formUUID(v, r, "filter_id")
		}
		back = "/campaigns/" + camp.ID.String() + "/tokens"
	}
	err := v.Err()
	if err == nil {
		var res commands.TokenSecretResult
		res, err = c.cmd.CreateToken.Handle(r.Context(), cmd)
		if err == nil {
			id := res.Token.ID.String()
			redirect(w, r, back+"?notice=token_created&new="+id+"#token-"+id)
			return nil
		}
	}
	errs := validation(err)
	if errs == nil {
		return err
	}
	for i, e := range errs.List {
		switch {
		case e.Field == "permissions" && camp != nil:
			errs.List[i].Field, errs.List[i].Anchor = "access", "access"
		case e.Field == "filter_id" && r.PostForm.Get("filter_id") == "":
			errs.List[i].Message = "choose a filter, or “Every lead of the campaign” if this partner may see them all"
		}
	}
	return c.renderTokens(w, r, http.StatusUnprocessableEntity, camp, "token_new", errs)
}

// editToken shows a token's form filled in with what it is now.
func (c *Console) editToken(w http.ResponseWriter, r *http.Request) error {
	t, camp, err := c.tokenAndCampaign(r)
	if err != nil {
		return err
	}
	return c.renderTokenPage(w, r, http.StatusOK, camp, "token_new", nil, &t)
}

func (c *Console) tokenAndCampaign(r *http.Request) (commands.TokenInfo, *domain.Campaign, error) {
	t, err := c.tokenOf(r)
	if err != nil {
		return t, nil, err
	}
	if t.CampaignID == nil {
		return t, nil, nil
	}
	camp, err := c.q.Campaign(r.Context(), account(r).ID, *t.CampaignID)
	return t, &camp, err
}

// updateToken saves the edited name, access, filter and expiry, at the
// version the form was shown at: an edit made meanwhile is refused.
func (c *Console) updateToken(w http.ResponseWriter, r *http.Request) error {
	t, camp, err := c.tokenAndCampaign(r)
	if err != nil {
		return err
	}
	v := &domain.ValidationError{}
	name := trimmed(r, "name")
	cmd := commands.UpdateToken{AccountID: t.AccountID, TokenID: t.ID, Name: &name, ExpiresAt: formTime(v, r, "expires_at"),
		Meta: meta(w, r), Idem: idempotency(r)}
	cmd.IfVersion, _ = strconv.ParseInt(r.PostForm.Get("version"), 10, 64)
	cmd.ClearExpiry = cmd.ExpiresAt == nil && t.ExpiresAt != nil
	back := "/tokens"
	if camp == nil {
		for _, p := range r.PostForm["permissions"] {
			cmd.Permissions = append(cmd.Permissions, domain.Permission(p))
		}
	} else {
		back = "/campaigns/" + camp.ID.String() + "/tokens"
		switch r.PostForm.Get("access") {
		case "read":
			cmd.Permissions = []domain.Permission{domain.PermRead}
		case "read_write":
			cmd.Permissions = []domain.Permission{domain.PermRead, domain.PermWrite}
		}
		if cmd.ClearFilter = r.PostForm.Get("filter_id") == everyLeadChoice; !cmd.ClearFilter {
			cmd.FilterID = formUUID(v, r, "filter_id")
		}
	}
	err = v.Err()
	if err == nil {
		if _, err = c.cmd.UpdateToken.Handle(r.Context(), cmd); err == nil {
			id := t.ID.String()
			redirect(w, r, back+"?notice=token_saved&new="+id+"#token-"+id)
			return nil
		}
	}
	errs := validation(err)
	if errs == nil {
		return err
	}
	for i, e := range errs.List {
		if e.Field == "permissions" && camp != nil {
			errs.List[i].Field, errs.List[i].Anchor = "access", "access"
		}
	}
	return c.renderTokenPage(w, r, http.StatusUnprocessableEntity, camp, "token_new", errs, &t)
}

// tokenOf loads the token of the path, in the signed-in account.
func (c *Console) tokenOf(r *http.Request) (commands.TokenInfo, error) { return byPath(r, c.q.Token) }

// tokensPage is the token list a token belongs to.
func tokensPage(t commands.TokenInfo) string {
	if t.CampaignID != nil {
		return "/campaigns/" + t.CampaignID.String() + "/tokens"
	}
	return "/tokens"
}

// secretPage shows a token's secret once, after Show or rotation.
type secretPage struct {
	T       commands.TokenInfo
	Secret  string
	DocsURL string
	Rotated bool
	Back    string
	Example string
}

func (c *Console) renderSecret(w http.ResponseWriter, r *http.Request, t commands.TokenInfo, secret string, rotated bool) error {
	var camp *domain.Campaign
	if t.CampaignID != nil {
		cp, err := c.q.Campaign(r.Context(), t.AccountID, *t.CampaignID)
		if err != nil {
			return err
		}
		camp = &cp
	}
	example := "curl -H 'Authorization: Bearer " + secret + "' " + c.publicURL + "/v1/leads"
	if t.CampaignID == nil {
		example = "curl -H 'Authorization: Bearer " + secret + "' " + c.publicURL + "/v1/campaigns"
	}
	v := &view{Title: "Token “" + t.Name + "”", Section: "tokens", Campaign: camp, Tab: "tokens",
		Data: secretPage{T: t, Secret: secret, DocsURL: c.docsURL(t), Rotated: rotated, Back: Prefix + tokensPage(t), Example: example}}
	if camp != nil {
		v.Section = "campaigns"
	}
	c.render(w, r, http.StatusOK, "token_secret", v)
	return nil
}

// revealToken is "Show": it records token.revealed, like the API's.
func (c *Console) revealToken(w http.ResponseWriter, r *http.Request) error {
	t, err := c.tokenOf(r)
	if err != nil {
		return err
	}
	res, err := c.cmd.RevealToken.Handle(r.Context(), commands.RevealToken{AccountID: t.AccountID, TokenID: t.ID, Meta: meta(w, r)})
	if err != nil {
		return err
	}
	return c.renderSecret(w, r, res.Token, res.Secret, false)
}

// graceChoice is one grace period a rotation may keep the old secret for.
type graceChoice struct {
	Value   string
	Label   string
	Default bool
}

// graces are the rotation's choices, "now" first and chosen: the usual
// reason to rotate is a leak, and a leaked secret must stop at once.
var graces = []graceChoice{{"0s", "No: it stops now", true}, {"1h", "For 1 hour", false}, {"24h", "For 24 hours", false},
	{"168h", "For 7 days", false}}

// formGrace reads a rotation's grace choice; none is "now".
func formGrace(r *http.Request) (time.Duration, error) {
	v := r.PostForm.Get("grace")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, domain.Invalid("grace", domain.CodeInvalidFormat, "choose how long the old secret keeps working")
	}
	return d, nil
}

func (c *Console) confirmRotateToken(w http.ResponseWriter, r *http.Request) error {
	return c.confirmToken(w, r, "rotate", "Rotate the secret of “%s”?", []string{
		"The token gets a new secret. The old one stops working now, which is what a leaked secret needs; if the partner must switch without an outage, keep it working for a while instead.",
		"The token's permissions, filter and documentation link stay the same."}, "Rotate secret")
}

func (c *Console) confirmRevokeToken(w http.ResponseWriter, r *http.Request) error {
	return c.confirmToken(w, r, "revoke", "Revoke “%s”?", []string{
		"The token stops working at once, its secret is destroyed and its documentation link stops answering. This cannot be undone."},
		"Revoke token")
}

func (c *Console) confirmToken(w http.ResponseWriter, r *http.Request, action, heading string, lines []string, button string) error {
	t, err := c.tokenOf(r)
	if err != nil {
		return err
	}
	if t.RevokedAt != nil {
		return domain.ErrTokenRevoked
	}
	conf := confirmation{Action: Prefix + "/tokens/" + t.ID.String() + "/" + action,
		Heading: strings.Replace(heading, "%s", t.Name, 1), Lines: lines, Button: button, Back: Prefix + tokensPage(t)}
	if action == "rotate" {
		conf.Choices = graces
	}
	v := &view{Title: button, Section: "tokens", Data: conf}
	if t.CampaignID != nil {
		camp, err := c.q.Campaign(r.Context(), t.AccountID, *t.CampaignID)
		if err != nil {
			return err
		}
		v.Campaign, v.Tab, v.Section = &camp, "tokens", "campaigns"
	}
	c.render(w, r, http.StatusOK, "confirm", v)
	return nil
}

func (c *Console) rotateToken(w http.ResponseWriter, r *http.Request) error {
	t, err := c.tokenOf(r)
	if err != nil {
		return err
	}
	grace, err := formGrace(r)
	if err != nil {
		return err
	}
	res, err := c.cmd.RotateToken.Handle(r.Context(), commands.RotateToken{AccountID: t.AccountID, TokenID: t.ID, Grace: grace,
		Meta: meta(w, r)})
	if err != nil {
		return err
	}
	return c.renderSecret(w, r, res.Token, res.Secret, true)
}

func (c *Console) revokeToken(w http.ResponseWriter, r *http.Request) error {
	t, err := c.tokenOf(r)
	if err != nil {
		return err
	}
	if _, err := c.cmd.RevokeToken.Handle(r.Context(), commands.RevokeToken{AccountID: t.AccountID, TokenID: t.ID, Meta: meta(w, r)}); err != nil {
		return err
	}
	redirect(w, r, tokensPage(t)+"?notice=token_revoked")
	return nil
}

// previewPage is "Preview as this token".
type previewPage struct {
	T     commands.TokenInfo
	Scope []string
	// Refused is the API's answer when it would refuse the partner's
	// request altogether (revoked, expired, no read permission).
	Refused string
	Leads   []leadRow
	Next    string
	First   bool
}

// previewSize is how many leads a preview page holds, as the partner's
// default page.
const previewSize = 50

// previewToken lists the leads exactly as the token's GET /v1/leads
// would, through the API's own code (api.API.VisibleLeads).
func (c *Console) previewToken(w http.ResponseWriter, r *http.Request) error {
	t, err := c.tokenOf(r)
	if err != nil {
		return err
	}
	cs, err := c.q.ListCampaigns(r.Context(), t.AccountID)
	if err != nil {
		return err
	}
	byID := campaignNames(cs)
	var camp *domain.Campaign
	filters := map[uuid.UUID]domain.Filter{}
	if t.CampaignID != nil {
		cp, ok := byID[*t.CampaignID]
		if !ok {
			return domain.ErrCampaignNotFound
		}
		camp = &cp
		fs, err := c.q.ListFilters(r.Context(), t.AccountID, cp.ID)
		if err != nil {
			return err
		}
		filters = filterNames(fs)
	}
	data := previewPage{T: t, Scope: scopeOf(t, camp, filters)}
	after, err := parseAfter(r)
	if err != nil {
		return err
	}
	data.First = after == nil
	switch tokenState(t, c.now()) {
	case "revoked":
		data.Refused = "401 Unauthorized: this token is revoked, so the partner's requests are refused and see no lead."
	case "expired":
		data.Refused = "401 Unauthorized: this token has expired, so the partner's requests are refused and see no lead."
	default:
		if !t.Can(domain.PermRead) {
			data.Refused = "403 Forbidden: this token cannot read leads (it has no read permission)."
		}
	}
	if data.Refused == "" {
		page, err := c.preview(r.Context(), t, leads.Query{After: after, Limit: previewSize})
		if err != nil {
			return err
		}
		data.Leads = leadRows(page.Leads, byID, t.CampaignID == nil)
		if page.Next != nil {
			data.Next = afterParam(*page.Next)
		}
	}
	v := &view{Title: "Preview as “" + t.Name + "”", Section: "tokens", Data: data}
	if camp != nil {
		v.Campaign, v.Tab, v.Section = camp, "tokens", "campaigns"
	}
	c.render(w, r, http.StatusOK, "preview", v)
	return nil
}
