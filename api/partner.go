package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/projections/leads"
)

// partnerRoutes are the lead routes. Reads come from the lead views and
// are re-checked against the token's current filter; writes go through
// the commands with the token's scope (invariant 4).
func (a *API) partnerRoutes(r chi.Router) {
	read, write := a.require(domain.PermRead), a.require(domain.PermWrite)
	// The hot routes check a cached authentication in their own round
	// trip (hGuarded); the others in one of h's. A batch spends rate
	// budget ahead of its write, so it is not served twice.
	r.With(read).Get("/leads", a.hGuarded(a.listLeads))
	r.With(write).Post("/leads", a.hGuarded(a.createLead))
	r.With(write).Post("/leads/batch", a.h(a.createLeads))
	r.With(read).Get("/leads/{id}", a.hGuarded(a.getLead))
	r.With(write).Patch("/leads/{id}", a.h(a.updateLead))
	r.With(read).Get("/leads/{id}/files", a.h(a.listFiles))
	r.With(write).Post("/leads/{id}/files", a.h(a.uploadFile))
	r.With(read).Get("/leads/{id}/files/{file_id}", a.h(a.downloadFile))
	r.With(write).Delete("/leads/{id}/files/{file_id}", a.h(a.deleteFile))
	r.With(read).Get("/schema", a.h(a.schema))
}

// DefaultLimit is the page size when a list names none.
const DefaultLimit = 50

// visibility is the token's scope as it is now (its filter as it is,
// not as the views last saw it), with the schemas of the campaigns whose
// leads it re-checks.
type visibility struct {
	scope   domain.Scope
	schemas map[uuid.UUID]domain.Schema
}

func (a *API) visibility(ctx context.Context, tok commands.TokenInfo) (*visibility, error) {
	v := &visibility{schemas: map[uuid.UUID]domain.Schema{}}
	var read *commands.Scope
	if st := stateFrom(ctx); st.token != nil && st.token.ID == tok.ID {
		// Authentication read them a moment ago, in its round trip.
		read = st.scope
		if _, c, ok := read.Prefetched(); ok {
			v.schemas[c.ID] = c.Schema
		}
	}
	sc, err := a.auth.TokenScope(ctx, tok, read)
	if err != nil {
		return nil, err
	}
	v.scope = sc
	return v, nil
}

// sees re-checks a lead read from a view against the token's scope now.
// A view that lags can hide a lead from a token, never show it one it may
// not see.
func (a *API) sees(ctx context.Context, v *visibility, l domain.Lead) (bool, error) {
	if !v.scope.Owns(l) || v.scope.Filter() == nil {
		// Without a filter the values do not matter.
		return v.scope.Sees(domain.Schema{}, l), nil
	}
	s, ok := v.schemas[l.CampaignID]
	if !ok {
		c, err := a.q.Campaign(ctx, l.AccountID, l.CampaignID)
		if errors.Is(err, domain.ErrCampaignNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		s = c.Schema
		v.schemas[l.CampaignID] = s
	}
	return v.scope.Sees(s, l), nil
}

// waitForPosition honours Leadsvc-Min-Position: it waits, at most
// MaxMinPositionWait, for the views to reflect that log position, and
// marks the answer Leadsvc-Stale when they do not yet.
func (a *API) waitForPosition(w http.ResponseWriter, r *http.Request) error {
	v := r.Header.Get(HeaderMinPosition)
	if v == "" {
		return nil
	}
	pos, err := strconv.ParseInt(v, 10, 64)
	if err != nil || pos < 0 {
		return badRequest(HeaderMinPosition, domain.CodeInvalidFormat, HeaderMinPosition+" must be a log position from "+HeaderPosition)
	}
	// Nothing is read for a stale authentication, not even the log.
	if err := a.verifyAuth(r); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), MaxMinPositionWait)
	defer cancel()
	ok, err := a.reader.WaitFor(ctx, pos)
	if err != nil {
		return err
	}
	if !ok {
		w.Header().Set(HeaderStale, "true")
	}
	return nil
}

// visibleLead reads the lead of the path from the view and re-checks it;
// a lead the token may not see is domain.ErrLeadNotFound, exactly like a
// missing one.
func (a *API) visibleLead(w http.ResponseWriter, r *http.Request) (domain.Lead, error) {
	id, err := PathID(r, "id")
	if err != nil {
		return domain.Lead{}, err
	}
	if err := a.waitForPosition(w, r); err != nil {
		return domain.Lead{}, err
	}
	tok := tokenFrom(r.Context())
	l, err := a.reader.Get(r.Context(), tok.AccountID, id, guardCheck(r.Context()))
	if err != nil {
		return domain.Lead{}, err
	}
	v, err := a.visibility(r.Context(), tok)
	if err != nil {
		return domain.Lead{}, err
	}
	ok, err := a.sees(r.Context(), v, l)
	if err != nil {
		return domain.Lead{}, err
	}
	if !ok {
		return domain.Lead{}, domain.ErrLeadNotFound
	}
	if l.Erased() {
		// In scope (judged on what is left of it): say when it went.
		return domain.Lead{}, l.ErasedError()
	}
	return l, nil
}

func (a *API) getLead(w http.ResponseWriter, r *http.Request) error {
	l, err := a.visibleLead(w, r)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(l.Version))
	writeJSON(w, http.StatusOK, a.leadOut(l))
	return nil
}

// listQuery is GET /v1/leads's parameters.
type listQuery struct {
	limit        int
	status       string
	updatedSince *time.Time
	campaignID   *uuid.UUID // account-level tokens may narrow to one campaign
	cursor       string
}

// parseListQuery reads the list parameters; anything unreadable, and a
// limit outside 1..1000, is 400.
func parseListQuery(r *http.Request, tok commands.TokenInfo) (listQuery, error) {
	q := listQuery{limit: DefaultLimit}
	params, err := queryParams(r, "limit", "cursor", "status", "updated_since", "campaign_id")
	if err != nil {
		return q, err
	}
	if q.limit, err = queryLimit(params, DefaultLimit, leads.MaxLimit); err != nil {
		return q, err
	}
	if v, ok := params["status"]; ok {
		if v == "" || len(v) > 64 {
			return q, badRequest("status", domain.CodeInvalidValue, "status must be a status slug")
		}
		q.status = v
	}
	if v, ok := params["updated_since"]; ok {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return q, badRequest("updated_since", domain.CodeInvalidFormat, "updated_since must be an RFC 3339 date-time such as 2026-03-01T00:00:00Z")
		}
		t = t.UTC()
		q.updatedSince = &t
	}
	if q.campaignID, err = queryUUID(params, "campaign_id"); err != nil {
		return q, err
	}
	if q.campaignID != nil && tok.CampaignID != nil && *q.campaignID != *tok.CampaignID {
		return q, badRequest("campaign_id", domain.CodeInvalidValue, "this token reads one campaign only; leave campaign_id out")
	}
	q.cursor = params["cursor"]
	return q, nil
}

// listLeads pages through the leads the token sees, in (updated_at, id)
// order. A page may hold fewer than limit leads while next_cursor is set:
// rows the re-check drops still advance the cursor.
func (a *API) listLeads(w http.ResponseWriter, r *http.Request) error {
	tok := tokenFrom(r.Context())
	q, err := parseListQuery(r, tok)
	if err != nil {
		return err
	}
	binding := cursorBinding(tok.ID, q)
	var after *leads.Key
	if q.cursor != "" {
		k, err := a.decodeCursor(q.cursor, binding)
		if err != nil {
			return err
		}
		after = &k
	}
	if err := a.waitForPosition(w, r); err != nil {
		return err
	}
	// The page is written as it is read: most rows are copied as stored
	// (appendVisibleLeads), which spares decoding and encoding fifty
	// field sets a page.
	body := append(make([]byte, 0, 16<<10), `{"data":[`...)
	body, next, err := a.appendVisibleLeads(r.Context(), body, tok, leads.Query{CampaignID: q.campaignID, Status: q.status,
		UpdatedSince: q.updatedSince, After: after, Limit: q.limit, Check: guardCheck(r.Context())})
	if err != nil {
		return err
	}
	body = append(body, `],"next_cursor":`...)
	if next != nil {
		cursor := a.encodeCursor(*next, binding)
		body = strconv.AppendQuote(body, cursor)
		w.Header().Set("Link", "<"+a.nextURL(r, cursor)+`>; rel="next"`)
	} else {
		body = append(body, "null"...)
	}
	body = append(body, "}\n"...)
	startJSON(w, http.StatusOK)
	_, _ = w.Write(body)
	return nil
}

// nextURL is the request's own URL with the next cursor.
func (a *API) nextURL(r *http.Request, cursor string) string {
	q, _ := url.ParseQuery(r.URL.RawQuery)
	q.Set("cursor", cursor)
	return a.publicURL + r.URL.EscapedPath() + "?" + q.Encode()
}

type leadBody struct {
	Status     *string        `json:"status"`
	Fields     map[string]any `json:"fields"`
	CampaignID *string        `json:"campaign_id"`
}

// newLead is the lead the body asks the token to create: in the campaign
// it names, or the campaign token's own (an account-level token must name
// one). Problems go into v.
func (in leadBody) newLead(v *domain.ValidationError, tok commands.TokenInfo) commands.NewLead {
	n := commands.NewLead{Fields: in.Fields}
	if in.Status != nil {
		n.Status = *in.Status
	}
	campaign := parseUUIDField(v, "campaign_id", in.CampaignID)
	switch {
	case in.CampaignID == nil && tok.CampaignID != nil:
		campaign = tok.CampaignID
	case in.CampaignID == nil:
		v.Add("campaign_id", domain.CodeRequired, "an account-level token names the campaign of the lead")
	}
	if campaign != nil {
		n.CampaignID = *campaign
	}
	return n
}

// createdOut is a created lead as the API answers it, with the members
// its filter filled in.
func (a *API) createdOut(res commands.LeadResult) leadJSON {
	out := a.leadOut(res.Lead)
	out.Defaulted = res.Defaulted
	return out
}

// createLead creates a lead in the token's campaign (account-level tokens
// name campaign_id). Through a filtered token, omitted fields the filter
// pins with eq conditions are filled in and listed in "defaulted".
func (a *API) createLead(w http.ResponseWriter, r *http.Request) error {
	var in leadBody
	_, idem, err := readWrite(w, r, &in, false)
	if err != nil {
		return err
	}
	if idem != nil {
		// The key is claimed ahead of the append: check a cached
		// authentication before that.
		if err := a.verifyAuth(r); err != nil {
			return err
		}
	}
	tok := tokenFrom(r.Context())
	v := &domain.ValidationError{}
	n := in.newLead(v, tok)
	if err := v.Err(); err != nil {
		return err
	}
	res, err := a.cmd.CreateLead.Handle(r.Context(), commands.CreateLead{AccountID: tok.AccountID, CampaignID: n.CampaignID,
		Scope: scopeFrom(r.Context()), Status: n.Status, Fields: n.Fields, Meta: meta(r), Idem: idem, Guard: guardFrom(r.Context())})
	if err != nil {
		return err
	}
	w.Header().Set("Location", a.publicURL+"/v1/leads/"+res.Lead.ID.String())
	w.Header().Set("ETag", etag(res.Lead.Version))
	writeWritten(w, http.StatusCreated, res.Written, a.createdOut(res))
	return nil
}

// batchBody is the body of POST /v1/leads/batch. Its leads are kept raw
// and read one by one, so that a problem names the lead's index.
type batchBody struct {
	Leads []json.RawMessage `json:"leads"`
}

// newLeads reads the batch's leads as createLead reads one. A batch of
// the wrong size is refused on leads; every lead that cannot be read is
// named in one *commands.BatchError.
func (in batchBody) newLeads(tok commands.TokenInfo) ([]commands.NewLead, error) {
	if err := commands.CheckBatchSize(len(in.Leads)); err != nil {
		return nil, err
	}
	out := make([]commands.NewLead, len(in.Leads))
	refused := &commands.BatchError{}
	for i, raw := range in.Leads {
		if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
			refused.Items = append(refused.Items, commands.ItemError{Index: i,
				Err: domain.Invalid("", domain.CodeWrongType, "each lead is a JSON object")})
			continue
		}
		var lb leadBody
		err := decodeJSON(raw, &lb)
		var (
			verr *domain.ValidationError
			rerr *requestError
		)
		switch {
		case errors.As(err, &verr):
			refused.Items = append(refused.Items, commands.ItemError{Index: i, Err: err})
			continue
		case errors.As(err, &rerr):
			return nil, rerr.within("leads[" + strconv.Itoa(i) + "]")
		case err != nil:
			return nil, err
		}
		v := &domain.ValidationError{}
		out[i] = lb.newLead(v, tok)
		if err := v.Err(); err != nil {
			refused.Items = append(refused.Items, commands.ItemError{Index: i, Err: err})
		}
	}
	if len(refused.Items) > 0 {
		return nil, refused
	}
	return out, nil
}

// leadList is the answer of a batch: the leads in the order asked.
type leadList struct {
	Data []leadJSON `json:"data"`
}

// createLeads creates the batch's leads in one transaction, all or none,
// each as createLead would. It costs one unit of the rate limit per lead
// (at most the whole quota), so that batching is not a way around it.
func (a *API) createLeads(w http.ResponseWriter, r *http.Request) error {
	var in batchBody
	_, idem, err := readWrite(w, r, &in, false)
	if err != nil {
		return err
	}
	tok := tokenFrom(r.Context())
	leads, err := in.newLeads(tok)
	if err != nil {
		return err
	}
	// The request's own unit was spent on the way in.
	if err := a.spend(w, r, min(len(leads), a.limits.Policy().Quota)-1); err != nil {
		return err
	}
	res, err := a.cmd.CreateLeads.Handle(r.Context(), commands.CreateLeads{AccountID: tok.AccountID, Scope: scopeFrom(r.Context()),
		Leads: leads, Meta: meta(r), Idem: idem})
	if err != nil {
		return err
	}
	out := leadList{Data: make([]leadJSON, len(res.Leads))}
	for i, l := range res.Leads {
		out.Data[i] = a.createdOut(l)
	}
	writeWritten(w, http.StatusCreated, res.Written, out)
	return nil
}

// updateLead changes status and fields (null clears a field). If-Match is
// optional: a stale version is 412, none applies to the latest.
func (a *API) updateLead(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Status *string        `json:"status"`
		Fields map[string]any `json:"fields"`
	}
	id, _, idem, want, err := patchByPath(w, r, &in)
	if err != nil {
		return err
	}
	tok := tokenFrom(r.Context())
	cmd := commands.UpdateLead{AccountID: tok.AccountID, LeadID: id, Scope: scopeFrom(r.Context()), Fields: in.Fields,
		IfVersion: want, Meta: meta(r), Idem: idem}
	if in.Status != nil {
		cmd.Status = *in.Status
	}
	res, err := a.cmd.UpdateLead.Handle(r.Context(), cmd)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(res.Lead.Version))
	writeWritten(w, http.StatusOK, res.Written, a.leadOut(res.Lead))
	return nil
}

func (a *API) listFiles(w http.ResponseWriter, r *http.Request) error {
	l, err := a.visibleLead(w, r)
	if err != nil {
		return err
	}
	out := page[fileJSON]{Data: []fileJSON{}}
	for _, f := range l.Files {
		out.Data = append(out.Data, a.fileOut(l.ID, f))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// safeFileName keeps a file name printable and short: no path, no
// control characters, at most 255 bytes of valid UTF-8.
func safeFileName(s string) string {
	s = strings.ToValidUTF8(s, "_")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' || r == '"' {
			return '_'
		}
		return r
	}, s)
	s = strings.Trim(s, " .")
	for len(s) > 255 {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	if s == "" {
		return "file"
	}
	return s
}

// downloadFile serves a file's bytes with the recorded type and checksum,
// as an attachment that browsers neither sniff nor run.
func (a *API) downloadFile(w http.ResponseWriter, r *http.Request) error {
	// The path is read before anything is looked up: a path that is not
	// text is 400 whether or not the lead is visible yet.
	fileID, err := PathID(r, "file_id")
	if err != nil {
		return err
	}
	l, err := a.visibleLead(w, r)
	if err != nil {
		return err
	}
	f, err := a.q.File(r.Context(), l.AccountID, l.ID, fileID)
	if err != nil {
		return err
	}
	sum, _ := hex.DecodeString(f.Meta.SHA256)
	digest := base64.StdEncoding.EncodeToString(sum)
	tag := `"` + f.Meta.SHA256 + `"`
	h := w.Header()
	h.Set("ETag", tag)
	h.Set("Cache-Control", "private, no-store")
	if r.Header.Get("If-None-Match") == tag {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Type", f.Meta.ContentType)
	h.Set("Content-Length", strconv.FormatInt(f.Meta.Size, 10))
	h.Set("Repr-Digest", "sha-256=:"+digest+":")
	h.Set("Digest", "sha-256="+digest)
	disposition := mime.FormatMediaType("attachment", map[string]string{"filename": f.Meta.Name})
	if disposition == "" {
		disposition = "attachment"
	}
	h.Set("Content-Disposition", disposition)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	w.WriteHeader(http.StatusOK)
	// The bytes are read a few chunks at a time as they are sent. Once
	// the status is out, a failure can only cut the answer short: the
	// connection closes before Content-Length bytes, and the client sees
	// it incomplete.
	if err := a.q.WriteFile(r.Context(), w, f); err != nil {
		a.log.LogAttrs(r.Context(), slog.LevelWarn, "file download cut short", slog.String("request_id", requestIDFrom(r.Context())),
			slog.String("file_id", fileID.String()), slog.String("err", err.Error()))
	}
	return nil
}

func (a *API) deleteFile(w http.ResponseWriter, r *http.Request) error {
	id, idem, err := bodilessWrite(r)
	if err != nil {
		return err
	}
	fileID, err := PathID(r, "file_id")
	if err != nil {
		return err
	}
	tok := tokenFrom(r.Context())
	res, err := a.cmd.RemoveFile.Handle(r.Context(), commands.RemoveFile{AccountID: tok.AccountID, LeadID: id, FileID: fileID,
		Scope: scopeFrom(r.Context()), Meta: meta(r), Idem: idem})
	if err != nil {
		return err
	}
	writeWritten(w, http.StatusNoContent, res.Written, nil)
	return nil
}

// schemaJSON is what a token may know about its campaign: the schema, its
// permissions, and which leads it sees.
type schemaJSON struct {
	Campaign    campaignJSON        `json:"campaign"`
	Permissions []domain.Permission `json:"permissions"`
	Filter      *filterJSON         `json:"filter"`
	// Scope says in words which leads the token sees.
	Scope []string `json:"scope"`
	// Defaults are the values a create fills in when the lead omits them.
	Defaults map[string]any `json:"defaults"`
}

func (a *API) schema(w http.ResponseWriter, r *http.Request) error {
	tok := tokenFrom(r.Context())
	campaign, err := campaignParam(r)
	if err != nil {
		return err
	}
	switch {
	case tok.CampaignID != nil && campaign != nil && *campaign != *tok.CampaignID:
		return domain.ErrCampaignNotFound
	case tok.CampaignID != nil:
		campaign = tok.CampaignID
	case campaign == nil:
		return badRequest("campaign_id", domain.CodeRequired, "an account-level token names the campaign: ?campaign_id=")
	}
	c, err := a.q.Campaign(r.Context(), tok.AccountID, *campaign)
	if err != nil {
		return err
	}
	v, err := a.visibility(r.Context(), tok)
	if err != nil {
		return err
	}
	sc := v.scope
	shown := c
	shown.Schema = sc.Schema(c.Schema)
	out := schemaJSON{Campaign: campaignOut(shown), Permissions: nonNil(tok.Permissions), Scope: sc.Explain(c.Schema),
		Defaults: sc.Defaults(c.Schema)}
	if f := sc.Filter(); f != nil {
		fj := filterOut(*f, c.Schema)
		out.Filter = &fj
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
