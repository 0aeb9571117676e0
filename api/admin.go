package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
)

// adminRoutes are the account administration routes: an account-level
// token with the admin permission shapes campaigns, filters and tokens.
func (a *API) adminRoutes(r chi.Router) {
	r.Use(a.require(domain.PermAdmin))
	r.Post("/campaigns", a.h(a.createCampaign))
	r.Get("/campaigns", a.h(a.listCampaigns))
	r.Get("/campaigns/{id}", a.h(a.getCampaign))
	r.Patch("/campaigns/{id}", a.h(a.changeCampaign))
	r.Post("/campaigns/{id}/selects/{key}/options", a.h(a.addOption))
	r.Patch("/campaigns/{id}/selects/{key}/options/{value}", a.h(a.editOption))
	r.Patch("/campaigns/{id}/fields/{key}", a.h(a.editField))
	r.Patch("/campaigns/{id}/statuses/{slug}", a.h(a.editStatus))
	r.Put("/campaigns/{id}/retention", a.h(a.putRetention))
	r.Delete("/campaigns/{id}/retention", a.h(a.deleteRetention))
	r.Post("/campaigns/{id}/filters", a.h(a.createFilter))
	r.Get("/campaigns/{id}/filters", a.h(a.listFilters))
	r.Get("/filters/{id}", a.h(a.getFilter))
	r.Patch("/filters/{id}", a.h(a.updateFilter))
	r.Delete("/filters/{id}", a.h(a.deleteFilter))
	r.Post("/tokens", a.h(a.createToken))
	r.Get("/tokens", a.h(a.listTokens))
	r.Get("/tokens/{id}", a.h(a.getToken))
	r.Patch("/tokens/{id}", a.h(a.updateToken))
	r.Delete("/tokens/{id}", a.h(a.revokeToken))
	r.Post("/tokens/{id}/reveal", a.h(a.revealToken))
	r.Post("/tokens/{id}/rotate", a.h(a.rotateToken))
	if a.audit != nil {
		r.Get("/leads/{id}/export", a.h(a.exportLead))
	}
	r.Post("/leads/{id}/erase", a.h(a.eraseLead))
}

// eraseBody is POST /v1/leads/{id}/erase's body.
type eraseBody struct {
	Reason string `json:"reason"`
}

// eraseLead erases a lead's personal values everywhere leadsvc keeps
// them; the answer says what was erased, never a value.
func (a *API) eraseLead(w http.ResponseWriter, r *http.Request) error {
	var in eraseBody
	id, idem, err := writeByPath(w, r, &in, false)
	if err != nil {
		return err
	}
	res, err := a.cmd.EraseLead.Handle(r.Context(), commands.EraseLead{AccountID: tokenFrom(r.Context()).AccountID, LeadID: id,
		Reason: in.Reason, Meta: meta(r), Idem: idem})
	if err != nil {
		return err
	}
	writeWritten(w, http.StatusOK, res.Written, erasureJSON{LeadID: res.LeadID, ErasedAt: res.ErasedAt, Fields: nonNil(res.Fields),
		Rows: res.Rows, ChainIntact: res.ChainIntact})
	return nil
}

// readWrite reads a write's JSON body into dst and returns the raw body
// and the request's idempotency (nil without a key).
func readWrite(w http.ResponseWriter, r *http.Request, dst any, optional bool) ([]byte, *commands.Idempotency, error) {
	body, err := readJSON(w, r, optional)
	if err != nil {
		return nil, nil, err
	}
	idem, err := idempotency(r, body)
	if err != nil {
		return nil, nil, err
	}
	return body, idem, decodeJSON(body, dst)
}

// readPatch is readWrite for a conditional change: it also reads If-Match
// (0 without one).
func readPatch(w http.ResponseWriter, r *http.Request, dst any) ([]byte, *commands.Idempotency, int64, error) {
	body, idem, err := readWrite(w, r, dst, false)
	if err != nil {
		return nil, nil, 0, err
	}
	want, err := ifMatch(r)
	return body, idem, want, err
}

// writeByPath is readWrite for a write to the resource the path's {id}
// names; a malformed id is refused before the body is read.
func writeByPath(w http.ResponseWriter, r *http.Request, dst any, optional bool) (uuid.UUID, *commands.Idempotency, error) {
	id, err := PathID(r, "id")
	if err != nil {
		return uuid.Nil, nil, err
	}
	_, idem, err := readWrite(w, r, dst, optional)
	return id, idem, err
}

// patchByPath is readPatch for the resource the path's {id} names.
func patchByPath(w http.ResponseWriter, r *http.Request, dst any) (uuid.UUID, []byte, *commands.Idempotency, int64, error) {
	id, err := PathID(r, "id")
	if err != nil {
		return uuid.Nil, nil, nil, 0, err
	}
	body, idem, want, err := readPatch(w, r, dst)
	return id, body, idem, want, err
}

// fieldBody is a campaign field as clients send it; ids are parsed here so
// a bad one is a field error, not an unreadable body.
type fieldBody struct {
	Key      string  `json:"key"`
	Label    string  `json:"label"`
	Type     string  `json:"type"`
	Required bool    `json:"required"`
	Select   string  `json:"select,omitempty"`
	Campaign *string `json:"campaign,omitempty"`
	Personal *bool   `json:"personal,omitempty"` // absent: the type's default
}

func (f fieldBody) field(v *domain.ValidationError, path string) domain.Field {
	return domain.Field{Key: f.Key, Label: f.Label, Type: domain.FieldType(f.Type), Required: f.Required, Select: f.Select,
		Campaign: parseUUIDField(v, path+".campaign", f.Campaign), Personal: f.Personal}
}

type campaignBody struct {
	Name     string          `json:"name"`
	Fields   []fieldBody     `json:"fields"`
	Selects  []domain.Select `json:"selects"`
	Statuses []domain.Status `json:"statuses"`
}

func (a *API) createCampaign(w http.ResponseWriter, r *http.Request) error {
	var in campaignBody
	_, idem, err := readWrite(w, r, &in, false)
	if err != nil {
		return err
	}
	v := &domain.ValidationError{}
	schema := domain.Schema{Selects: in.Selects, Statuses: in.Statuses}
	for i, f := range in.Fields {
		schema.Fields = append(schema.Fields, f.field(v, "fields["+strconv.Itoa(i)+"]"))
	}
	if err := v.Err(); err != nil {
		return err
	}
	res, err := a.cmd.CreateCampaign.Handle(r.Context(), commands.CreateCampaign{AccountID: tokenFrom(r.Context()).AccountID,
		Name: in.Name, Schema: schema, Meta: meta(r), Idem: idem})
	if err != nil {
		return err
	}
	w.Header().Set("Location", a.publicURL+"/v1/campaigns/"+res.Campaign.ID.String())
	a.writeCampaign(w, http.StatusCreated, res)
	return nil
}

func (a *API) writeCampaign(w http.ResponseWriter, status int, res commands.CampaignResult) {
	w.Header().Set("ETag", etag(res.Campaign.Version))
	writeWritten(w, status, res.Written, campaignOut(res.Campaign))
}

func (a *API) listCampaigns(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	cs, err := a.q.ListCampaigns(r.Context(), tokenFrom(r.Context()).AccountID)
	if err != nil {
		return err
	}
	out := page[campaignJSON]{Data: []campaignJSON{}}
	for _, c := range cs {
		out.Data = append(out.Data, campaignOut(c))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// byPath is ByPath in the token's account.
func byPath[T any](r *http.Request, load func(context.Context, uuid.UUID, uuid.UUID) (T, error)) (T, error) {
	return ByPath(r, tokenFrom(r.Context()).AccountID, load)
}

func (a *API) getCampaign(w http.ResponseWriter, r *http.Request) error {
	c, err := byPath(r, a.q.Campaign)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(c.Version))
	writeJSON(w, http.StatusOK, campaignOut(c))
	return nil
}

// campaignPatch is one change of a campaign: exactly one member is set.
// Campaign changes are additive (a field, select or status is never
// removed), and each request is one event, so a PATCH is all or nothing.
type campaignPatch struct {
	Name      *string        `json:"name"`
	AddField  *fieldBody     `json:"add_field"`
	AddSelect *domain.Select `json:"add_select"`
	AddStatus *domain.Status `json:"add_status"`
}

func (a *API) changeCampaign(w http.ResponseWriter, r *http.Request) error {
	var in campaignPatch
	id, idem, err := writeByPath(w, r, &in, false)
	if err != nil {
		return err
	}
	cmd := commands.ChangeCampaign{AccountID: tokenFrom(r.Context()).AccountID, CampaignID: id, Rename: in.Name,
		AddSelect: in.AddSelect, AddStatus: in.AddStatus, Meta: meta(r), Idem: idem}
	v := &domain.ValidationError{}
	n := count(in.Name != nil, in.AddField != nil, in.AddSelect != nil, in.AddStatus != nil)
	if n != 1 {
		v.Add("body", domain.CodeInvalidValue, "give exactly one of name, add_field, add_select, add_status")
	}
	if in.AddField != nil {
		f := in.AddField.field(v, "add_field")
		cmd.AddField = &f
	}
	if err := v.Err(); err != nil {
		return err
	}
	if cmd.IfMatch, err = ifMatch(r); err != nil {
		return err
	}
	res, err := a.cmd.ChangeCampaign.Handle(r.Context(), cmd)
	if err != nil {
		return renamePaths(err, map[string]string{"fields[": "add_field", "selects[": "add_select", "statuses[": "add_status"})
	}
	a.writeCampaign(w, http.StatusOK, res)
	return nil
}

// renamePaths rewrites the field paths of a validation error, so that an
// error about the schema's new last field names the member the client
// sent (add_field) rather than fields[7], and one about an added option
// its member (label) rather than option.label. A prefix ending in [
// takes the index with it.
func renamePaths(err error, prefixes map[string]string) error {
	var verr *domain.ValidationError
	if !errors.As(err, &verr) {
		return err
	}
	out := &domain.ValidationError{}
	for _, fe := range verr.Errors {
		for from, to := range prefixes {
			rest, ok := strings.CutPrefix(fe.Field, from)
			if !ok {
				continue
			}
			if strings.HasSuffix(from, "[") {
				i := strings.Index(rest, "]")
				if i < 0 {
					continue
				}
				rest = rest[i+1:]
			}
			renamed := to + rest
			fe.Message = renamed + strings.TrimPrefix(fe.Message, fe.Field)
			fe.Field = renamed
		}
		out.Errors = append(out.Errors, fe)
	}
	return out
}

func (a *API) addOption(w http.ResponseWriter, r *http.Request) error {
	id, err := PathID(r, "id")
	if err != nil {
		return err
	}
	key, err := pathParam(r, "key")
	if err != nil {
		return err
	}
	var in domain.Option
	_, idem, err := readWrite(w, r, &in, false)
	if err != nil {
		return err
	}
	res, err := a.cmd.ChangeCampaign.Handle(r.Context(), commands.ChangeCampaign{AccountID: tokenFrom(r.Context()).AccountID,
		CampaignID: id, AddOption: &commands.SelectOption{Select: key, Option: in}, Meta: meta(r), Idem: idem})
	if err != nil {
		return renamePaths(err, map[string]string{"option.": ""})
	}
	a.writeCampaign(w, http.StatusCreated, res)
	return nil
}

// optionEditBody, fieldEditBody and statusEditBody are the schema
// evolution PATCHes: each member given changes, each omitted keeps.
type optionEditBody struct {
	Label   *string `json:"label"`
	Retired *bool   `json:"retired"`
}

type fieldEditBody struct {
	Label    *string `json:"label"`
	Required *bool   `json:"required"`
	Retired  *bool   `json:"retired"`
	Position *int    `json:"position"`
	Personal *bool   `json:"personal"`
}

type statusEditBody struct {
	Label    *string `json:"label"`
	Retired  *bool   `json:"retired"`
	Position *int    `json:"position"`
}

// editSchemaItem runs one schema evolution PATCH: the campaign from the
// path, the item's identifier from the path parameter param, the body
// decoded into in, and If-Match on the campaign's version.
func (a *API) editSchemaItem(w http.ResponseWriter, r *http.Request, param string, in any, members func() int,
	edit func(cmd *commands.ChangeCampaign, item string)) error {
	id, _, idem, want, err := patchByPath(w, r, in)
	if err != nil {
		return err
	}
	item, err := pathParam(r, param)
	if err != nil {
		return err
	}
	if members() == 0 {
		return domain.Invalid("body", domain.CodeRequired, "give at least one member to change")
	}
	cmd := commands.ChangeCampaign{AccountID: tokenFrom(r.Context()).AccountID, CampaignID: id, IfMatch: want, Meta: meta(r), Idem: idem}
	edit(&cmd, item)
	res, err := a.cmd.ChangeCampaign.Handle(r.Context(), cmd)
	if err != nil {
		return err
	}
	a.writeCampaign(w, http.StatusOK, res)
	return nil
}

func (a *API) editOption(w http.ResponseWriter, r *http.Request) error {
	key, err := pathParam(r, "key")
	if err != nil {
		return err
	}
	var in optionEditBody
	return a.editSchemaItem(w, r, "value", &in, func() int { return count(in.Label != nil, in.Retired != nil) },
		func(cmd *commands.ChangeCampaign, value string) {
			cmd.EditOption = &commands.OptionEdit{Select: key, Value: value, Change: domain.OptionChange{Label: in.Label, Retired: in.Retired}}
		})
}

func (a *API) editField(w http.ResponseWriter, r *http.Request) error {
	var in fieldEditBody
	return a.editSchemaItem(w, r, "key", &in, func() int {
		return count(in.Label != nil, in.Required != nil, in.Retired != nil, in.Position != nil, in.Personal != nil)
	},
		func(cmd *commands.ChangeCampaign, key string) {
			cmd.EditField = &commands.FieldEdit{Key: key, Change: domain.FieldChange{Label: in.Label, Required: in.Required,
				Retired: in.Retired, Position: in.Position, Personal: in.Personal}}
		})
}

func (a *API) editStatus(w http.ResponseWriter, r *http.Request) error {
	var in statusEditBody
	return a.editSchemaItem(w, r, "slug", &in, func() int { return count(in.Label != nil, in.Retired != nil, in.Position != nil) },
		func(cmd *commands.ChangeCampaign, slug string) {
			cmd.EditStatus = &commands.StatusEdit{Slug: slug, Change: domain.StatusChange{Label: in.Label, Retired: in.Retired,
				Position: in.Position}}
		})
}

// retentionBody is a campaign's retention policy as clients send it.
type retentionBody struct {
	EraseAfter  *string `json:"erase_after"`
	CountedFrom *string `json:"counted_from"`
}

// putRetention sets the campaign's retention policy (docs/privacy.md#retention),
// with If-Match on the campaign's version.
func (a *API) putRetention(w http.ResponseWriter, r *http.Request) error {
	var in retentionBody
	id, _, idem, want, err := patchByPath(w, r, &in)
	if err != nil {
		return err
	}
	v := &domain.ValidationError{}
	if in.EraseAfter == nil {
		v.Add("erase_after", domain.CodeRequired, "the period, such as \"730d\" or \"48h\"")
	}
	if in.CountedFrom == nil {
		v.Add("counted_from", domain.CodeRequired, "%q or %q", domain.RetentionFromCreated, domain.RetentionFromUpdated)
	}
	if err := v.Err(); err != nil {
		return err
	}
	return a.changeRetention(w, r, id, want, idem, &domain.Retention{EraseAfter: *in.EraseAfter, CountedFrom: *in.CountedFrom})
}

// deleteRetention removes the campaign's retention policy: its leads are
// kept until erased one by one.
func (a *API) deleteRetention(w http.ResponseWriter, r *http.Request) error {
	id, idem, want, err := bodilessDelete(r)
	if err != nil {
		return err
	}
	return a.changeRetention(w, r, id, want, idem, nil)
}

func (a *API) changeRetention(w http.ResponseWriter, r *http.Request, id uuid.UUID, want int64, idem *commands.Idempotency,
	policy *domain.Retention) error {
	res, err := a.cmd.ChangeCampaign.Handle(r.Context(), commands.ChangeCampaign{AccountID: tokenFrom(r.Context()).AccountID,
		CampaignID: id, IfMatch: want, Retention: &commands.RetentionChange{Policy: policy}, Meta: meta(r), Idem: idem})
	if err != nil {
		return err
	}
	a.writeCampaign(w, http.StatusOK, res)
	return nil
}

// count counts the true ones.
func count(set ...bool) int {
	n := 0
	for _, s := range set {
		if s {
			n++
		}
	}
	return n
}

type filterBody struct {
	Name       *string              `json:"name"`
	Match      *string              `json:"match"`
	Conditions []domain.Condition   `json:"conditions"`
	Any        [][]domain.Condition `json:"any"`
}

// match is the body's match; absent or null, the conditions imply it.
func (b filterBody) match() domain.FilterMatch {
	if b.Match == nil {
		return ""
	}
	return domain.FilterMatch(*b.Match)
}

func (a *API) createFilter(w http.ResponseWriter, r *http.Request) error {
	var in filterBody
	id, idem, err := writeByPath(w, r, &in, false)
	if err != nil {
		return err
	}
	name := ""
	if in.Name != nil {
		name = *in.Name
	}
	res, err := a.cmd.CreateFilter.Handle(r.Context(), commands.CreateFilter{AccountID: tokenFrom(r.Context()).AccountID,
		CampaignID: id, Name: name, Match: in.match(), Conditions: in.Conditions, Any: in.Any, Meta: meta(r), Idem: idem})
	if err != nil {
		return err
	}
	w.Header().Set("Location", a.publicURL+"/v1/filters/"+res.Filter.ID.String())
	return a.writeFilter(w, r, http.StatusCreated, res)
}

// writeFilter answers a filter with its explanation in the campaign's
// current words.
func (a *API) writeFilter(w http.ResponseWriter, r *http.Request, status int, res commands.FilterResult) error {
	c, err := a.q.Campaign(r.Context(), res.Filter.AccountID, res.Filter.CampaignID)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(res.Filter.Version))
	writeWritten(w, status, res.Written, filterOut(res.Filter, c.Schema))
	return nil
}

func (a *API) listFilters(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	c, err := byPath(r, a.q.Campaign)
	if err != nil {
		return err
	}
	fs, err := a.q.ListFilters(r.Context(), c.AccountID, c.ID)
	if err != nil {
		return err
	}
	out := page[filterJSON]{Data: []filterJSON{}}
	for _, f := range fs {
		out.Data = append(out.Data, filterOut(f, c.Schema))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getFilter(w http.ResponseWriter, r *http.Request) error {
	f, err := byPath(r, a.q.Filter)
	if err != nil {
		return err
	}
	return a.writeFilter(w, r, http.StatusOK, commands.FilterResult{Filter: f})
}

// updateFilter merges the members given into the current filter (a
// missing member keeps its value; "any": null clears the groups) and
// replaces it. "match": "all" clears the conditions and groups not
// given; without match, a filter left with no condition is refused
// unless the request did not touch them. Without If-Match the merge is
// still made against the version read, so a concurrent change is never
// silently overwritten.
func (a *API) updateFilter(w http.ResponseWriter, r *http.Request) error {
	var in filterBody
	body, idem, want, err := readPatch(w, r, &in)
	if err != nil {
		return err
	}
	present := members(body)
	var res commands.FilterResult
	for attempt := 0; ; attempt++ {
		cur, err := byPath(r, a.q.Filter)
		if err != nil {
			return err
		}
		cmd := commands.UpdateFilter{AccountID: cur.AccountID, FilterID: cur.ID, Name: cur.Name, Conditions: cur.Conditions,
			Any: cur.Any, IfVersion: cur.Version, Meta: meta(r), Idem: idem}
		if want > 0 {
			cmd.IfVersion = want
		}
		if in.Name != nil {
			cmd.Name = *in.Name
		}
		if _, ok := present["conditions"]; ok {
			cmd.Conditions = in.Conditions
		}
		if raw, ok := present["any"]; ok {
			cmd.Any = in.Any
			if isNull(raw) {
				cmd.Any = nil
			}
		}
		_, conds := present["conditions"]
		_, groups := present["any"]
		switch cmd.Match = in.match(); {
		case cmd.Match == domain.MatchAll:
			if !conds {
				cmd.Conditions = nil
			}
			if !groups {
				cmd.Any = nil
			}
		case cmd.Match == "" && !conds && !groups:
			cmd.Match = cur.Match()
		}
		res, err = a.cmd.UpdateFilter.Handle(r.Context(), cmd)
		if errors.Is(err, commands.ErrPreconditionFailed) && want == 0 && attempt < 3 {
			continue // changed between our read and write: merge again
		}
		if err != nil {
			return err
		}
		break
	}
	return a.writeFilter(w, r, http.StatusOK, res)
}

func (a *API) deleteFilter(w http.ResponseWriter, r *http.Request) error {
	id, idem, want, err := bodilessDelete(r)
	if err != nil {
		return err
	}
	res, err := a.cmd.UpdateFilter.Handle(r.Context(), commands.UpdateFilter{AccountID: tokenFrom(r.Context()).AccountID,
		FilterID: id, Delete: true, IfVersion: want, Meta: meta(r), Idem: idem})
	if err != nil {
		return err
	}
	writeWritten(w, http.StatusNoContent, res.Written, nil)
	return nil
}

type tokenBody struct {
	Name        string   `json:"name"`
	CampaignID  *string  `json:"campaign_id"`
	FilterID    *string  `json:"filter_id"`
	Permissions []string `json:"permissions"`
	ExpiresAt   *string  `json:"expires_at"`
}

func permissions(in []string) []domain.Permission {
	if in == nil {
		return nil
	}
	out := make([]domain.Permission, len(in))
	for i, p := range in {
		out[i] = domain.Permission(p)
	}
	return out
}

func parseTime(v *domain.ValidationError, field string, s *string) *time.Time {
	if s == nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		v.Add(field, domain.CodeInvalidFormat, "%q is not an RFC 3339 date-time", shorten(*s))
		return nil
	}
	t = t.UTC()
	return &t
}

// createToken makes a token; a campaign token must send filter_id, with
// null meaning every lead of the campaign, so that its breadth is chosen.
func (a *API) createToken(w http.ResponseWriter, r *http.Request) error {
	var in tokenBody
	body, idem, err := readWrite(w, r, &in, false)
	if err != nil {
		return err
	}
	v := &domain.ValidationError{}
	raw, named := members(body)["filter_id"]
	cmd := commands.CreateToken{AccountID: tokenFrom(r.Context()).AccountID, Name: in.Name,
		CampaignID: parseUUIDField(v, "campaign_id", in.CampaignID), FilterID: parseUUIDField(v, "filter_id", in.FilterID),
		EveryLead: named && isNull(raw), Permissions: permissions(in.Permissions), ExpiresAt: parseTime(v, "expires_at", in.ExpiresAt), Meta: meta(r), Idem: idem}
	if err := v.Err(); err != nil {
		return err
	}
	res, err := a.cmd.CreateToken.Handle(r.Context(), cmd)
	if errors.Is(err, domain.ErrCampaignNotFound) {
		err = domain.Invalid("campaign_id", domain.CodeInvalidValue, "no campaign %s in this account", cmd.CampaignID)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Location", a.publicURL+"/v1/tokens/"+res.Token.ID.String())
	a.writeTokenSecret(w, http.StatusCreated, res)
	return nil
}

func (a *API) writeToken(w http.ResponseWriter, status int, wr commands.Written, t commands.TokenInfo, secret string) {
	w.Header().Set("ETag", etag(t.Version))
	writeWritten(w, status, wr, a.tokenOut(t, secret))
}

// writeTokenSecret answers a write that made or shows a secret; a replay
// that may not show it answers "secret": null and secret_withheld.
func (a *API) writeTokenSecret(w http.ResponseWriter, status int, res commands.TokenSecretResult) {
	out := a.tokenOut(res.Token, res.Secret)
	out.Secret, out.SecretWithheld = secretMember(res.Secret, res.Withheld), res.Withheld
	w.Header().Set("ETag", etag(res.Token.Version))
	writeWritten(w, status, res.Written, out)
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) error {
	campaign, err := campaignParam(r)
	if err != nil {
		return err
	}
	ts, err := a.q.ListTokens(r.Context(), tokenFrom(r.Context()).AccountID, campaign)
	if err != nil {
		return err
	}
	out := page[tokenJSON]{Data: []tokenJSON{}}
	for _, t := range ts {
		out.Data = append(out.Data, a.tokenOut(t, ""))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getToken(w http.ResponseWriter, r *http.Request) error {
	t, err := byPath(r, a.q.Token)
	if err != nil {
		return err
	}
	a.writeToken(w, http.StatusOK, commands.Written{}, t, "")
	return nil
}

// updateToken changes name, permissions, filter or expiry; filter_id or
// expires_at null clears it. The very next request with the token sees
// the change (invariant 5).
func (a *API) updateToken(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name        *string  `json:"name"`
		FilterID    *string  `json:"filter_id"`
		Permissions []string `json:"permissions"`
		ExpiresAt   *string  `json:"expires_at"`
	}
	id, body, idem, want, err := patchByPath(w, r, &in)
	if err != nil {
		return err
	}
	present := members(body)
	v := &domain.ValidationError{}
	cmd := commands.UpdateToken{AccountID: tokenFrom(r.Context()).AccountID, TokenID: id, Name: in.Name,
		Permissions: permissions(in.Permissions), FilterID: parseUUIDField(v, "filter_id", in.FilterID),
		ExpiresAt: parseTime(v, "expires_at", in.ExpiresAt), IfVersion: want, Meta: meta(r), Idem: idem}
	cmd.ClearFilter = isNull(present["filter_id"])
	cmd.ClearExpiry = isNull(present["expires_at"])
	if raw, ok := present["permissions"]; ok && isNull(raw) {
		v.Add("permissions", domain.CodeRequired, "permissions cannot be null")
	}
	if err := v.Err(); err != nil {
		return err
	}
	res, err := a.cmd.UpdateToken.Handle(r.Context(), cmd)
	if err != nil {
		return err
	}
	a.writeToken(w, http.StatusOK, res.Written, res.Token, "")
	return nil
}

// revokeToken ends a token now; it answers the revoked token.
func (a *API) revokeToken(w http.ResponseWriter, r *http.Request) error {
	id, idem, err := bodilessWrite(r)
	if err != nil {
		return err
	}
	res, err := a.cmd.RevokeToken.Handle(r.Context(), commands.RevokeToken{AccountID: tokenFrom(r.Context()).AccountID,
		TokenID: id, Meta: meta(r), Idem: idem})
	if err != nil {
		return err
	}
	a.writeToken(w, http.StatusOK, res.Written, res.Token, "")
	return nil
}

// revealToken is "Show": every call records token.revealed. It takes an
// Idempotency-Key like every write but needs none: a retried reveal is
// one more honest record of the secret being shown.
func (a *API) revealToken(w http.ResponseWriter, r *http.Request) error {
	var in struct{}
	id, _, err := writeByPath(w, r, &in, true)
	if err != nil {
		return err
	}
	res, err := a.cmd.RevealToken.Handle(r.Context(), commands.RevealToken{AccountID: tokenFrom(r.Context()).AccountID,
		TokenID: id, Meta: meta(r)})
	if err != nil {
		return err
	}
	a.writeToken(w, http.StatusOK, res.Written, res.Token, res.Secret)
	return nil
}

// rotateToken gives the token a new secret. The old one ends at once
// unless grace_period ("1h" or a number of seconds, at most 7 days) asks
// to keep it working meanwhile: the usual reason to rotate is a leak.
func (a *API) rotateToken(w http.ResponseWriter, r *http.Request) error {
	id, idem, grace, err := readRotation(w, r)
	if err != nil {
		return err
	}
	res, err := a.cmd.RotateToken.Handle(r.Context(), commands.RotateToken{AccountID: tokenFrom(r.Context()).AccountID,
		TokenID: id, Grace: grace, Meta: meta(r), Idem: idem})
	if err != nil {
		return err
	}
	a.writeTokenSecret(w, http.StatusOK, res)
	return nil
}

// readRotation reads a rotation of the secret of the resource the path's
// {id} names, with its optional grace_period.
func readRotation(w http.ResponseWriter, r *http.Request) (uuid.UUID, *commands.Idempotency, time.Duration, error) {
	var in struct {
		GracePeriod json.RawMessage `json:"grace_period"`
	}
	id, idem, err := writeByPath(w, r, &in, true)
	if err != nil {
		return uuid.Nil, nil, 0, err
	}
	grace, err := parseGrace(in.GracePeriod)
	return id, idem, grace, err
}

// parseGrace reads a grace period: a Go duration string ("24h", "90m")
// or a number of seconds. Zero, null or absent is none: the old secret
// ends at once.
func parseGrace(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || isNull(raw) {
		return 0, nil
	}
	bad := domain.Invalid("grace_period", domain.CodeInvalidFormat, `a duration such as "24h" or a number of seconds`)
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, bad
		}
		return d, nil
	}
	var secs float64
	if err := json.Unmarshal(raw, &secs); err != nil || secs < 0 || secs > float64(domain.MaxRotationGrace/time.Second) {
		if err == nil {
			return 0, domain.Invalid("grace_period", domain.CodeInvalidValue, "the grace period is between 0 (the old secret ends at once) and 7 days")
		}
		return 0, bad
	}
	return time.Duration(secs * float64(time.Second)), nil
}
