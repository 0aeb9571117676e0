package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
	"github.com/leadsvc/leadsvc/eventstore/audit"
)

// Problem is an RFC 9457 problem detail, the body of every 4xx and 5xx.
// Errors is always present (empty when no single field is to blame) so
// clients can iterate it without a nil check.
type Problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail,omitempty"`
	Instance  string              `json:"instance,omitempty"`
	RequestID string              `json:"request_id,omitempty"`
	Errors    []domain.FieldError `json:"errors"`
}

// ProblemTypePrefix starts every problem type: stable URNs clients can
// match on, listed in docs/api.md.
const ProblemTypePrefix = "urn:leadsvc:problem:"

// Field error codes the API adds to the domain's (domain.Code*).
const (
	CodeMalformed       = "malformed"         // the body or a parameter cannot be parsed
	CodeUnknownParam    = "unknown_parameter" // a query parameter the route does not take
	CodeOutsideScope    = "outside_scope"     // the write would leave the token's filter
	CodeInvalidCursor   = "invalid_cursor"    // not a cursor this token issued for this query
	CodeIdempotencyKey  = "invalid_idempotency_key"
	CodeKeyReused       = "idempotency_key_reused"
	CodeUnsupportedType = "unsupported_media_type"
)

// ErrRouteNotFound and ErrMethodNotAllowed are the router's failures, the
// console's as well as the API's, so that both answer them from one table.
var (
	ErrRouteNotFound    = errors.New("no such route")
	ErrMethodNotAllowed = errors.New("method not allowed on this route")
)

// The API's own failures; commands and domain errors are mapped as they come.
var (
	errForbidden      = errors.New("the token lacks the permission for this request")
	errRateLimited    = errors.New("rate limit exceeded")
	errAddressLimited = errors.New("too many unauthenticated or failed requests from this address")
	errTooManyUploads = errors.New("too many uploads of this account in progress")
	errUploadsBusy    = errors.New("too many uploads in progress on this server")
)

// requestError is a request the API cannot read (status 400), or, with
// status set, one refused for its form (413, 415).
type requestError struct {
	status int
	detail string
	errs   []domain.FieldError
}

func (e *requestError) Error() string { return e.detail }

// badRequest is a 400 blaming one field, header or parameter.
func badRequest(field, code, msg string) error {
	return &requestError{status: http.StatusBadRequest, detail: msg,
		errs: []domain.FieldError{{Field: field, Code: code, Message: msg}}}
}

func bodyTooLarge(limit int64) *requestError {
	return &requestError{status: http.StatusRequestEntityTooLarge,
		detail: "the request body is larger than " + humanBytes(limit)}
}

func unsupportedMediaType(want string) error {
	msg := "the request body must be " + want
	return &requestError{status: http.StatusUnsupportedMediaType, detail: msg,
		errs: []domain.FieldError{{Field: "Content-Type", Code: CodeUnsupportedType, Message: msg}}}
}

// problemFor is the API's reading of the error table. Whatever the table
// does not know is a 500 whose detail never reaches the client.
func problemFor(err error) Problem {
	var (
		rerr  *requestError
		mbErr *http.MaxBytesError
		berr  *commands.BatchError
	)
	switch {
	case errors.As(err, &rerr):
		return requestProblem(rerr)
	case errors.As(err, &mbErr):
		return requestProblem(bodyTooLarge(mbErr.Limit))
	case errors.As(err, &berr):
		return batchProblem(berr)
	}
	if row := rowFor(err, false); row != nil {
		p := Problem{Type: ProblemTypePrefix + row.slug, Title: row.title, Status: row.status, Detail: row.detail(err)}
		if row.fields != nil {
			p.Errors = row.fields(err)
		}
		return p
	}
	return Problem{Type: ProblemTypePrefix + "internal", Title: "Internal server error", Status: http.StatusInternalServerError,
		Detail: "the request failed on our side; quote the request_id when reporting it"}
}

// PageFailure is the console's reading of the error table: the status and
// the sentence a person is shown. An error the console has no sentence for
// is 500 with an empty message, for the caller to log and replace.
func PageFailure(err error) (status int, message string) {
	if isA[*requestError](err) { // a path parameter that is not text
		return http.StatusBadRequest, "The request could not be read."
	}
	row := rowFor(err, true)
	if row == nil {
		return http.StatusInternalServerError, ""
	}
	status = row.status
	if row.pageStatus != 0 {
		status = row.pageStatus
	}
	return status, row.page(err)
}

func requestProblem(e *requestError) Problem {
	p := Problem{Type: ProblemTypePrefix + "bad-request", Title: "The request could not be read", Status: http.StatusBadRequest,
		Detail: e.detail, Errors: e.errs}
	switch e.status {
	case http.StatusRequestEntityTooLarge:
		p.Type, p.Title, p.Status = ProblemTypePrefix+"body-too-large", "Request body too large", e.status
	case http.StatusUnsupportedMediaType:
		p.Type, p.Title, p.Status = ProblemTypePrefix+"unsupported-media-type", "Unsupported media type", e.status
	}
	return p
}

// errorRow is one line of the error table: the errors it takes, the
// problem the API answers and, where the console meets them, the
// console's sentence.
type errorRow struct {
	match       func(error) bool
	status      int
	slug, title string
	detail      func(error) string
	fields      func(error) []domain.FieldError
	// page is the console's sentence; nil where the console never meets
	// the error. pageStatus is its status when it is not the API's.
	page       func(error) string
	pageStatus int
}

// rowFor is the first row that takes err; for pages, the first that has
// a sentence for it.
func rowFor(err error, page bool) *errorRow {
	for i := range errorTable {
		row := &errorTable[i]
		if (!page || row.page != nil) && row.match(err) {
			return row
		}
	}
	return nil
}

// The console's sentences that more than one row shares.
const (
	pageChanged  = "Someone changed this at the same time. Reload the page and try again."
	pageNotFound = "There is nothing here: it does not exist, was deleted, or belongs to another account."
)

// errorTable maps the errors of domain, commands and the API to answers,
// the first matching row winning.
var errorTable = append([]errorRow{
	{match: isA[*domain.ValidationError], status: http.StatusUnprocessableEntity, slug: "validation",
		title: "The request has invalid fields", detail: validationText, page: validationText,
		fields: func(err error) []domain.FieldError { return asErr[*domain.ValidationError](err).Errors }},
	{match: isA[*domain.ScopeError], status: http.StatusUnprocessableEntity, slug: "outside-scope",
		title: "The lead would be outside the token's filter", detail: func(err error) string { return asErr[*domain.ScopeError](err).Error() },
		fields: scopeFields},
	{match: is(commands.ErrIdempotencyKeyReused), status: http.StatusUnprocessableEntity, slug: "idempotency-key-reused",
		title: "Idempotency-Key reused", detail: errText,
		fields: func(err error) []domain.FieldError {
			return []domain.FieldError{{Field: "Idempotency-Key", Code: CodeKeyReused, Message: err.Error()}}
		},
		page: text("This form was already sent with other values. Reload the page to start again."), pageStatus: http.StatusConflict},
	{match: is(commands.ErrIdempotencyInProgress), status: http.StatusConflict, slug: "idempotency-in-progress",
		title: "A request with this Idempotency-Key is in progress", detail: func(err error) string { return err.Error() + "; retry once it has finished" },
		page: text("This form is still being saved. Wait a moment and reload.")},
	// 410: the lead existed and was erased; only when, never what it held.
	{match: isA[*domain.LeadErasedError], status: http.StatusGone, slug: "lead-erased", title: "The lead was erased",
		detail: func(err error) string { return asErr[*domain.LeadErasedError](err).Error() },
		page: func(err error) string {
			return "This lead was erased: " + asErr[*domain.LeadErasedError](err).Error() + "."
		}},
	{match: is(commands.ErrPreconditionFailed), status: http.StatusPreconditionFailed, slug: "precondition-failed",
		title: "Precondition failed", detail: preconditionDetail, page: text(pageChanged), pageStatus: http.StatusConflict},
	{match: is(commands.ErrConflict), status: http.StatusConflict, slug: "conflict", title: "Conflict", detail: errText,
		page: text(pageChanged)},
	// 409: the request is well formed; the account's state refuses it.
	{match: isA[*commands.LastAdminError], status: http.StatusConflict, slug: "last-admin-token", title: "The account's last admin token",
		detail: func(err error) string {
			lerr := asErr[*commands.LastAdminError](err)
			return lerr.Error() + ". Make another admin token first (POST /v1/tokens with the admin permission); " +
				"if none is left, an operator can make one on the server: " + lerr.Recovery()
		},
		page: text("This is the account's last admin token, so it was not revoked: nobody could administer " +
			"the account any more. Make another account token with the admin permission first, then revoke this one.")},
	{match: is(domain.ErrTokenRevoked, commands.ErrSecretUnavailable), status: http.StatusConflict, slug: "token-revoked",
		title: "The token is revoked", detail: text("a revoked token cannot be changed and its secret no longer exists"),
		page: text("This token is revoked: it cannot be changed and its secret no longer exists.")},
	{match: is(commands.ErrWebhookDisabled), status: http.StatusConflict, slug: "webhook-disabled", title: "The webhook is disabled",
		detail: text("enable it (PATCH enabled: true) first"), page: text("This webhook is disabled. Enable it first.")},
	{match: is(domain.ErrAlreadyExists), status: http.StatusConflict, slug: "conflict", title: "Conflict",
		detail: text("the resource already exists")},
	{match: is(commands.ErrTokenExpired), status: http.StatusUnauthorized, slug: "token-expired", title: "Token expired",
		detail: text("the token has expired; ask your administrator for a new one")},
	{match: is(commands.ErrUnauthenticated), status: http.StatusUnauthorized, slug: "unauthenticated", title: "Unauthenticated",
		detail: text("send a valid token as Authorization: Bearer lsk_…")},
	{match: is(errForbidden), status: http.StatusForbidden, slug: "forbidden", title: "Forbidden", detail: errText},
	{match: is(errRateLimited), status: http.StatusTooManyRequests, slug: "rate-limited", title: "Too many requests",
		detail: text("this token's rate limit is exhausted; retry after the time in Retry-After")},
	{match: is(errAddressLimited), status: http.StatusTooManyRequests, slug: "rate-limited", title: "Too many requests",
		detail: text("too many unauthenticated or failed requests from your address; retry after the time in Retry-After")},
	{match: is(errTooManyUploads), status: http.StatusTooManyRequests, slug: "too-many-uploads", title: "Too many uploads in progress",
		detail: text("the account has as many uploads in progress as it may; retry after the time in Retry-After")},
	{match: is(errUploadsBusy), status: http.StatusServiceUnavailable, slug: "uploads-busy", title: "Too many uploads in progress",
		detail: text("the server has as many uploads in progress as it takes; retry after the time in Retry-After")},
	{match: is(commands.ErrUploadQuotaExceeded), status: http.StatusRequestEntityTooLarge, slug: "upload-quota-exceeded",
		title: "Upload quota exceeded", detail: quotaDetail},
	{match: is(ErrMethodNotAllowed), status: http.StatusMethodNotAllowed, slug: "method-not-allowed", title: "Method not allowed",
		detail: errText, page: text("This page cannot be used that way.")},
	{match: is(ErrRouteNotFound), status: http.StatusNotFound, slug: "not-found", title: "Not found", detail: text("no such route"),
		page: text(pageNotFound)},
	{match: is(audit.ErrUnknownPosition), status: http.StatusBadRequest, slug: "bad-request", title: "The request could not be read",
		detail: text(audit.ErrUnknownPosition.Error()),
		fields: func(error) []domain.FieldError {
			return []domain.FieldError{{Field: "after", Code: CodeInvalidCursor, Message: audit.ErrUnknownPosition.Error()}}
		}},
	{match: is(audit.ErrPositionNotSettled), status: http.StatusConflict, slug: "position-not-settled", title: "Position not settled yet",
		detail: text(audit.ErrPositionNotSettled.Error())},
	{match: is(audit.ErrBeforeCreation), status: http.StatusNotFound, slug: "not-found", title: "Not found",
		detail: text(audit.ErrBeforeCreation.Error())},
}, notFoundRows(domain.ErrLeadNotFound, domain.ErrFileNotFound, domain.ErrCampaignNotFound,
	domain.ErrFilterNotFound, domain.ErrFilterDeleted, domain.ErrTokenNotFound, domain.ErrAccountNotFound,
	domain.ErrWebhookNotFound, commands.ErrDeliveryNotFound, domain.ErrSchemaItemNotFound)...)

// notFoundRows answer each sentinel with only its own text: a wrapped
// error may name ids the caller did not send.
func notFoundRows(sentinels ...error) []errorRow {
	rows := make([]errorRow, 0, len(sentinels))
	for _, nf := range sentinels {
		rows = append(rows, errorRow{match: is(nf), status: http.StatusNotFound, slug: "not-found", title: "Not found",
			detail: text(nf.Error()), page: text(pageNotFound)})
	}
	return rows
}

func scopeFields(err error) []domain.FieldError {
	serr := asErr[*domain.ScopeError](err)
	field := serr.Condition.Field
	switch field {
	case "", domain.AttrStatus, domain.AttrCreatedAt, domain.AttrUpdatedAt:
	default:
		field = "fields." + field
	}
	return []domain.FieldError{{Field: field, Code: CodeOutsideScope, Message: "required by the token's filter: " + serr.Description}}
}

func validationText(err error) string { return asErr[*domain.ValidationError](err).Error() }

func errText(err error) string { return err.Error() }

func text(s string) func(error) string { return func(error) string { return s } }

func is(targets ...error) func(error) bool {
	return func(err error) bool {
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
}

func isA[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}

// asErr is the T in err's chain; rows call it only after isA[T] matched.
func asErr[T error](err error) T {
	var t T
	errors.As(err, &t)
	return t
}

// batchProblem is the one 422 of a refused batch: each refused item's
// errors exactly as the same write alone would get them, with the item's
// index in front of their fields (leads[3].fields.budget). Its type is
// outside-scope when every item is refused for the token's filter, and
// validation otherwise.
func batchProblem(e *commands.BatchError) Problem {
	out := Problem{Status: http.StatusUnprocessableEntity}
	var msgs []string
	for _, it := range e.Items {
		ip := problemFor(it.Err)
		if ip.Status != http.StatusUnprocessableEntity {
			return ip // not a refusal of the item: answered as it would be alone
		}
		if out.Type != ProblemTypePrefix+"validation" {
			out.Type, out.Title = ip.Type, ip.Title
		}
		path := "leads[" + strconv.Itoa(it.Index) + "]"
		for _, fe := range ip.Errors {
			msg := strings.TrimPrefix(fe.Message, fe.Field+": ")
			if fe.Field == "" {
				fe.Field = path
			} else {
				fe.Field = path + "." + fe.Field
			}
			fe.Message = fe.Field + ": " + msg
			out.Errors = append(out.Errors, fe)
			msgs = append(msgs, fe.Message)
		}
	}
	out.Detail = "nothing of the batch was written: " + strings.Join(msgs, "; ")
	return out
}

// quotaDetail is the quota error's own text: the quota and the file's
// size, never what the account holds, which counts files out of a
// scoped token's sight.
func quotaDetail(err error) string {
	var qe *commands.QuotaError
	if errors.As(err, &qe) {
		return qe.Error()
	}
	return commands.ErrUploadQuotaExceeded.Error()
}

// preconditionDetail keeps the version part of a precondition error and
// drops the store's wording about streams.
func preconditionDetail(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "the lead is at version"); i >= 0 {
		return msg[i:]
	}
	return commands.ErrPreconditionFailed.Error()
}

// writeProblem answers with p as application/problem+json.
func writeProblem(w http.ResponseWriter, r *http.Request, p Problem) {
	if p.Errors == nil {
		p.Errors = []domain.FieldError{}
	}
	p.Instance = r.URL.Path
	p.RequestID = requestIDFrom(r.Context())
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	if p.Status == http.StatusUnauthorized {
		// RFC 6750: a request without credentials gets the bare challenge.
		challenge := `Bearer realm="leadsvc"`
		if r.Header.Get("Authorization") != "" {
			challenge += `, error="invalid_token", error_description="` + p.Title + `"`
		}
		h.Set("WWW-Authenticate", challenge)
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return itoa(n>>10) + " KiB"
	}
	return itoa(n) + " bytes"
}

// FieldSubject is what a page knows of the thing a field error is about,
// so that its sentence names it as the admin does.
type FieldSubject struct {
	// Label is the label of what the error's path names: the option's
	// "Partner ABC", the field's "Email".
	Label string
	// List is the label of the list that holds it: the select list's
	// "Source".
	List string
	// Value is the key, slug or option value that was sent, typed or
	// made from the label.
	Value string
}

// fieldSentence is one line of the console's table of field errors: the
// errors it takes (by the last element of their path and their code) and
// what the admin is told to do.
type fieldSentence struct {
	match func(part, code string, s FieldSubject) bool
	say   func(s FieldSubject, fe domain.FieldError) string
}

// PageFieldMessage is the console's sentence for one field error, shown
// next to the input it concerns: what to do, in everyday words. Errors
// the table does not know keep the domain's message, as a sentence.
func PageFieldMessage(fe domain.FieldError, s FieldSubject) string {
	part := fe.Field
	if i := strings.LastIndexByte(part, '.'); i >= 0 {
		part = part[i+1:]
	}
	if i := strings.IndexByte(part, '['); i >= 0 {
		part = part[:i]
	}
	for _, row := range fieldSentences {
		if row.match(part, fe.Code, s) {
			return row.say(s, fe)
		}
	}
	return sentence(strings.TrimPrefix(fe.Message, fe.Field+": "))
}

// fieldSentences are tried in order, the first match winning.
var fieldSentences = []fieldSentence{
	{match: sent("value", domain.CodeInvalidValue, false), say: func(s FieldSubject, _ domain.FieldError) string {
		return quoted(or(s.Label, s.Value)) + " is already an option of " + or(s.List, "this list") + "."
	}},
	{match: sent("value", domain.CodeInvalidValue, true), say: say("Type the option's label.")},
	{match: func(part, code string, s FieldSubject) bool {
		return part == "key" && code == domain.CodeInvalidValue && domain.ReservedFieldKeys[s.Value]
	}, say: func(s FieldSubject, _ domain.FieldError) string {
		return "The key " + quoted(s.Value) + " is taken by what every lead has anyway. Type another key, such as " +
			quoted("lead_"+s.Value) + "."
	}},
	{match: sent("key", domain.CodeInvalidValue, false), say: func(s FieldSubject, fe domain.FieldError) string {
		return "Another " + listWord(fe.Field) + " already has the key " + quoted(s.Value) + ". Change this one's label or type another key."
	}},
	{match: sent("slug", domain.CodeInvalidValue, false), say: func(s FieldSubject, _ domain.FieldError) string {
		return "Another status already has the key " + quoted(s.Value) + ". Change this one's label or key."
	}},
	{match: func(part, code string, s FieldSubject) bool {
		return (part == "key" || part == "slug") && (code == domain.CodeInvalidFormat || code == domain.CodeRequired || s.Value == "")
	}, say: say("A key is lowercase letters a–z, digits and _, and starts with a letter, such as lead_source.")},
	{match: on("match", domain.CodeRequired), say: say("Add a condition, or choose “Every lead of the campaign” to let every lead through.")},
	{match: func(part, code string, s FieldSubject) bool {
		return part == "match" && code == domain.CodeInvalidValue && s.Value == "all"
	},
		say: say("“Every lead of the campaign” takes no condition: remove the conditions, or do not choose it.")},
	{match: on("label", domain.CodeRequired), say: say("Type a label: the name people see.")},
	{match: on("statuses", domain.CodeRequired), say: say("Type at least one status, such as New.")},
	{match: on("campaign", domain.CodeRequired), say: say("Choose the campaign whose leads this field links to.")},
	{match: on("url", domain.CodeInvalidFormat), say: say("Type the whole address, starting with https://, such as https://example.com/hooks/leads.")},
}

// on matches the last path element part with code.
func on(part, code string) func(string, string, FieldSubject) bool {
	return func(p, c string, _ FieldSubject) bool { return p == part && c == code }
}

// sent is on for an error about a value that was sent (or made), blank
// when blank is set and non-empty otherwise.
func sent(part, code string, blank bool) func(string, string, FieldSubject) bool {
	return func(p, c string, s FieldSubject) bool { return p == part && c == code && (s.Value == "") == blank }
}

func say(s string) func(FieldSubject, domain.FieldError) string {
	return func(FieldSubject, domain.FieldError) string { return s }
}

// listWord names the kind of schema element a path is in.
func listWord(path string) string {
	if strings.HasPrefix(path, "selects") {
		return "select list"
	}
	return "field"
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func quoted(s string) string { return "“" + s + "”" }

// sentence starts msg with a capital and ends it with a full stop.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	r := []rune(msg)
	r[0] = unicode.ToUpper(r[0])
	if last := r[len(r)-1]; last != '.' && last != '?' && last != '!' {
		r = append(r, '.')
	}
	return string(r)
}
