package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore/audit"
)

// feedWriteWindow is how long the client has to take each page of the
// feed: the server's write timeout would otherwise cut long streams.
const feedWriteWindow = time.Minute

// auditRoutes are the auditors' routes: an account-level token with the
// audit permission replays its own account's log (docs/audit.md).
func (a *API) auditRoutes(r chi.Router) {
	if a.audit == nil {
		return
	}
	r.Use(a.requireAudit)
	r.Get("/audit/leads/{id}", a.h(a.auditLead))
	r.Get("/audit/leads/{id}/events", a.h(a.auditLeadEvents))
	r.Get("/audit/leads/{id}/verify", a.h(a.auditLeadVerify))
	r.Get("/audit/tokens/{id}/events", a.h(a.auditTokenEvents))
	r.Get("/audit/tokens/{id}/visible-leads", a.h(a.auditVisibleLeads))
	r.Get("/audit/events", a.h(a.auditFeed))
}

// requireAudit admits account-level tokens with audit only (403).
func (a *API) requireAudit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := tokenFrom(r.Context())
		if !tok.Can(domain.PermAudit) || tok.CampaignID != nil {
			a.fail(w, r, fmt.Errorf("%w: %s on an account-level token", errForbidden, domain.PermAudit))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// queryTime parses an optional RFC 3339 query parameter.
func queryTime(q map[string]string, name string) (time.Time, error) {
	v, ok := q[name]
	if !ok {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, badRequest(name, domain.CodeInvalidFormat, name+" must be an RFC 3339 date-time such as 2026-03-01T00:00:00Z")
	}
	return t.UTC(), nil
}

// queryCount parses an optional non-negative integer query parameter.
func queryCount(q map[string]string, name, what string) (int64, error) {
	v, ok := q[name]
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest(name, domain.CodeInvalidFormat, name+" must be "+what)
	}
	return n, nil
}

// auditLead is the lead as it was at ?at= or ?version=, or as the log
// says it is now.
func (a *API) auditLead(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r, "at", "version")
	if err != nil {
		return err
	}
	at, err := queryTime(q, "at")
	if err != nil {
		return err
	}
	version, err := queryCount(q, "version", "a lead version (1, 2, …)")
	if err != nil {
		return err
	}
	if _, both := q["version"]; both && !at.IsZero() {
		return badRequest("version", domain.CodeInvalidValue, "give at or version, not both")
	}
	if _, given := q["version"]; given && version == 0 {
		return badRequest("version", domain.CodeInvalidValue, "versions start at 1")
	}
	id, err := PathID(r, "id")
	if err != nil {
		return err
	}
	l, err := a.audit.LeadAt(r.Context(), tokenFrom(r.Context()).AccountID, id, at, version)
	if err != nil {
		return err
	}
	out := struct {
		audit.LeadState
		At *time.Time `json:"at,omitempty"`
	}{LeadState: l}
	if !at.IsZero() {
		out.At = &at
	}
	w.Header().Set("ETag", etag(l.Version))
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) auditLeadEvents(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	id, err := PathID(r, "id")
	if err != nil {
		return err
	}
	h, err := a.audit.LeadHistory(r.Context(), tokenFrom(r.Context()).AccountID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (a *API) auditLeadVerify(w http.ResponseWriter, r *http.Request) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	id, err := PathID(r, "id")
	if err != nil {
		return err
	}
	res, err := a.audit.VerifyLead(r.Context(), tokenFrom(r.Context()).AccountID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		LeadID string `json:"lead_id"`
		audit.Integrity
	}{LeadID: id.String(), Integrity: res})
	return nil
}

// auditTokenEvents pages through a token's lifecycle and writes; the
// next page is ?after=<next_after>, also given as a Link header.
func (a *API) auditTokenEvents(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r, "after", "limit", "at")
	if err != nil {
		return err
	}
	after, err := queryCount(q, "after", "a position from next_after")
	if err != nil {
		return err
	}
	limit, err := queryLimit(q, audit.DefaultHistoryLimit, audit.MaxHistoryLimit)
	if err != nil {
		return err
	}
	at, err := queryTime(q, "at")
	if err != nil {
		return err
	}
	id, err := PathID(r, "id")
	if err != nil {
		return err
	}
	h, err := a.audit.TokenHistory(r.Context(), tokenFrom(r.Context()).AccountID, id,
		audit.TokenHistoryQuery{After: after, Limit: limit, UpTo: at})
	if err != nil {
		return err
	}
	if h.NextAfter != nil {
		next, _ := url.ParseQuery(r.URL.RawQuery)
		next.Set("after", itoa(*h.NextAfter))
		w.Header().Set("Link", "<"+a.publicURL+r.URL.EscapedPath()+"?"+next.Encode()+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

// auditVisibleLeads is the set of leads the token could read at ?at=
// (default now), replayed from the log.
func (a *API) auditVisibleLeads(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r, "at")
	if err != nil {
		return err
	}
	at, err := queryTime(q, "at")
	if err != nil {
		return err
	}
	if at.IsZero() {
		at = a.now().UTC()
	}
	id, err := PathID(r, "id")
	if err != nil {
		return err
	}
	v, err := a.audit.VisibleLeads(r.Context(), tokenFrom(r.Context()).AccountID, id, at)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// auditFeed streams the account's events after ?after= in commit order as
// NDJSON, flushed page by page, ending with a line {"end": true,
// "next_after": …}. A failure once streaming has begun ends the body with
// {"error": problem, "next_after": …} instead.
func (a *API) auditFeed(w http.ResponseWriter, r *http.Request) error {
	q, err := queryParams(r, "after", "limit")
	if err != nil {
		return err
	}
	after, err := queryCount(q, "after", "0 or the position of an event from this feed")
	if err != nil {
		return err
	}
	limit, err := queryLimit(q, audit.DefaultFeedLimit, audit.MaxFeedLimit)
	if err != nil {
		return err
	}
	feed, err := a.audit.OpenFeed(r.Context(), tokenFrom(r.Context()).AccountID,
		audit.FeedQuery{After: after, Limit: limit})
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	flush := func() error {
		_ = rc.SetWriteDeadline(time.Now().Add(feedWriteWindow))
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return nil
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_ = flush()
	end, err := feed.Stream(r.Context(), w, flush)
	if err == nil || errors.Is(r.Context().Err(), context.Canceled) {
		return nil
	}
	p := problemFor(err)
	p.Instance, p.RequestID = r.URL.Path, requestIDFrom(r.Context())
	if p.Errors == nil {
		p.Errors = []domain.FieldError{}
	}
	a.log.LogAttrs(r.Context(), slog.LevelError, "audit feed failed while streaming",
		slog.String("request_id", p.RequestID), slog.Int64("position", end.NextAfter), slog.String("err", err.Error()))
	_ = json.NewEncoder(w).Encode(struct {
		Error     Problem `json:"error"`
		NextAfter int64   `json:"next_after"`
	}{p, end.NextAfter})
	return nil
}
