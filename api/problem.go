package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

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

// The API's own failures; commands and domain errors are mapped as they come.
var (
	errForbidden        = errors.New("the token lacks the permission for this request")
	errRouteNotFound    = errors.New("no such route")
	errMethodNotAllowed = errors.New("method not allowed on this route")
	errRateLimited      = errors.New("rate limit exceeded")
	errAddressLimited   = errors.New("too many unauthenticated or failed requests from this address")
	errTooManyUploads   = errors.New("too many uploads of this account in progress")
	errUploadsBusy      = errors.New("too many uploads in progress on this server")
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

func bodyTooLarge(limit int64) error {
	return &requestError{status: http.StatusRequestEntityTooLarge,
		detail: "the request body is larger than " + humanBytes(limit)}
}

func unsupportedMediaType(want string) error {
	msg := "the request body must be " + want
	return &requestError{status: http.StatusUnsupportedMediaType, detail: msg,
		errs: []domain.FieldError{{Field: "Content-Type", Code: CodeUnsupportedType, Message: msg}}}
}

// problemFor is the one table from errors to HTTP problems. Whatever it
// does not know is a 500 whose detail never reaches the client.
func problemFor(err error) Problem {
	p := func(status int, slug, title, detail string, fe ...domain.FieldError) Problem {
		return Problem{Type: ProblemTypePrefix + slug, Title: title, Status: status, Detail: detail, Errors: fe}
	}
	var (
		verr  *domain.ValidationError
		serr  *domain.ScopeError
		berr  *commands.BatchError
		lerr  *commands.LastAdminError
		rerr  *requestError
		mbErr *http.MaxBytesError
	)
	switch {
	case errors.As(err, &rerr):
		switch rerr.status {
		case http.StatusRequestEntityTooLarge:
			return p(rerr.status, "body-too-large", "Request body too large", rerr.detail, rerr.errs...)
		case http.StatusUnsupportedMediaType:
			return p(rerr.status, "unsupported-media-type", "Unsupported media type", rerr.detail, rerr.errs...)
		}
		return p(http.StatusBadRequest, "bad-request", "The request could not be read", rerr.detail, rerr.errs...)
	case errors.As(err, &mbErr):
		return problemFor(bodyTooLarge(mbErr.Limit))
	case errors.As(err, &berr):
		return batchProblem(berr)
	case errors.As(err, &verr):
		return p(http.StatusUnprocessableEntity, "validation", "The request has invalid fields", verr.Error(), verr.Errors...)
	case errors.As(err, &serr):
		field := serr.Condition.Field
		switch field {
		case "", domain.AttrStatus, domain.AttrCreatedAt, domain.AttrUpdatedAt:
		default:
			field = "fields." + field
		}
		return p(http.StatusUnprocessableEntity, "outside-scope", "The lead would be outside the token's filter", serr.Error(),
			domain.FieldError{Field: field, Code: CodeOutsideScope, Message: "required by the token's filter: " + serr.Description})
	case errors.Is(err, commands.ErrIdempotencyKeyReused):
		return p(http.StatusUnprocessableEntity, "idempotency-key-reused", "Idempotency-Key reused", err.Error(),
			domain.FieldError{Field: "Idempotency-Key", Code: CodeKeyReused, Message: err.Error()})
	case errors.Is(err, commands.ErrIdempotencyInProgress):
		return p(http.StatusConflict, "idempotency-in-progress", "A request with this Idempotency-Key is in progress",
			err.Error()+"; retry once it has finished")
	case errors.Is(err, commands.ErrPreconditionFailed):
		return p(http.StatusPreconditionFailed, "precondition-failed", "Precondition failed", preconditionDetail(err))
	case errors.Is(err, commands.ErrConflict):
		return p(http.StatusConflict, "conflict", "Conflict", err.Error())
	case errors.As(err, &lerr):
		// 409: the request is well formed; the account's state refuses it.
		return p(http.StatusConflict, "last-admin-token", "The account's last admin token",
			lerr.Error()+". Make another admin token first (POST /v1/tokens with the admin permission); "+
				"if none is left, an operator can make one on the server: "+lerr.Recovery())
	case errors.Is(err, domain.ErrTokenRevoked), errors.Is(err, commands.ErrSecretUnavailable):
		return p(http.StatusConflict, "token-revoked", "The token is revoked", "a revoked token cannot be changed and its secret no longer exists")
	case errors.Is(err, commands.ErrWebhookDisabled):
		return p(http.StatusConflict, "webhook-disabled", "The webhook is disabled", "enable it (PATCH enabled: true) first")
	case errors.Is(err, domain.ErrAlreadyExists):
		return p(http.StatusConflict, "conflict", "Conflict", "the resource already exists")
	case errors.Is(err, commands.ErrTokenExpired):
		return p(http.StatusUnauthorized, "token-expired", "Token expired", "the token has expired; ask your administrator for a new one")
	case errors.Is(err, commands.ErrUnauthenticated):
		return p(http.StatusUnauthorized, "unauthenticated", "Unauthenticated",
			"send a valid token as Authorization: Bearer lsk_…")
	case errors.Is(err, errForbidden):
		return p(http.StatusForbidden, "forbidden", "Forbidden", err.Error())
	case errors.Is(err, errRateLimited):
		return p(http.StatusTooManyRequests, "rate-limited", "Too many requests", "this token's rate limit is exhausted; retry after the time in Retry-After")
	case errors.Is(err, errAddressLimited):
		return p(http.StatusTooManyRequests, "rate-limited", "Too many requests",
			"too many unauthenticated or failed requests from your address; retry after the time in Retry-After")
	case errors.Is(err, errTooManyUploads):
		return p(http.StatusTooManyRequests, "too-many-uploads", "Too many uploads in progress",
			"the account has as many uploads in progress as it may; retry after the time in Retry-After")
	case errors.Is(err, errUploadsBusy):
		return p(http.StatusServiceUnavailable, "uploads-busy", "Too many uploads in progress",
			"the server has as many uploads in progress as it takes; retry after the time in Retry-After")
	case errors.Is(err, commands.ErrUploadQuotaExceeded):
		return p(http.StatusRequestEntityTooLarge, "upload-quota-exceeded", "Upload quota exceeded", quotaDetail(err))
	case errors.Is(err, errMethodNotAllowed):
		return p(http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed", err.Error())
	case errors.Is(err, errRouteNotFound):
		return p(http.StatusNotFound, "not-found", "Not found", "no such route")
	case errors.Is(err, audit.ErrUnknownPosition):
		return p(http.StatusBadRequest, "bad-request", "The request could not be read", audit.ErrUnknownPosition.Error(),
			domain.FieldError{Field: "after", Code: CodeInvalidCursor, Message: audit.ErrUnknownPosition.Error()})
	case errors.Is(err, audit.ErrPositionNotSettled):
		return p(http.StatusConflict, "position-not-settled", "Position not settled yet", audit.ErrPositionNotSettled.Error())
	case errors.Is(err, audit.ErrBeforeCreation):
		return p(http.StatusNotFound, "not-found", "Not found", audit.ErrBeforeCreation.Error())
	}
	for _, nf := range []error{domain.ErrLeadNotFound, domain.ErrFileNotFound, domain.ErrCampaignNotFound,
		domain.ErrFilterNotFound, domain.ErrFilterDeleted, domain.ErrTokenNotFound, domain.ErrAccountNotFound,
		domain.ErrWebhookNotFound, commands.ErrDeliveryNotFound} {
		if errors.Is(err, nf) {
			// Only the sentinel's text: a wrapped error may name ids the
			// caller did not send.
			return p(http.StatusNotFound, "not-found", "Not found", nf.Error())
		}
	}
	return p(http.StatusInternalServerError, "internal", "Internal server error",
		"the request failed on our side; quote the request_id when reporting it")
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
