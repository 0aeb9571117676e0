package api

import (
	"bytes"
	"context"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	gojson "github.com/goccy/go-json"
	"github.com/google/uuid"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
)

// Response headers of read-your-writes (docs/api.md).
const (
	HeaderPosition    = "Leadsvc-Position"
	HeaderMinPosition = "Leadsvc-Min-Position"
	HeaderStale       = "Leadsvc-Stale"
)

// readJSON reads a JSON request body of at most MaxJSONBytes. An empty
// body is allowed (and returned empty) only when optional; a body of
// another media type is 415.
func readJSON(w http.ResponseWriter, r *http.Request, optional bool) ([]byte, error) {
	st := stateFrom(r.Context())
	if st.read {
		return st.body, nil // served again (hGuarded): the body was read and checked
	}
	body, err := readJSONOnce(w, r, optional)
	if err == nil {
		st.body, st.read = body, true
	}
	return body, err
}

func readJSONOnce(w http.ResponseWriter, r *http.Request, optional bool) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxJSONBytes))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, bodyTooLarge(MaxJSONBytes)
		}
		return nil, badRequest("body", CodeMalformed, "the request body could not be read")
	}
	if len(body) > 0 {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
			return nil, unsupportedMediaType("application/json")
		}
	}
	if len(bytes.TrimSpace(body)) == 0 && !optional {
		return nil, badRequest("body", CodeMalformed, "a JSON object is required as the request body")
	}
	return body, nil
}

// decodeJSON decodes one JSON object into dst, strictly: member names
// match exactly (FILTER_ID is not filter_id), and an unknown or repeated
// member, a NUL character or text that is not UTF-8 anywhere in the body
// is 400 naming the member; a value of the wrong type is 422 naming it.
// Nothing of a refused body reaches a command.
func decodeJSON(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := scanJSON(body); err != nil {
		return err
	}
	err := jsonv2.Unmarshal(body, dst, jsonv2.RejectUnknownMembers(true))
	if err == nil {
		return nil
	}
	var sem *jsonv2.SemanticError
	if !errors.As(err, &sem) {
		return badRequest("body", CodeMalformed, "the JSON body could not be read")
	}
	field := memberPath(body, sem.JSONPointer)
	switch {
	case field == "":
		return badRequest("body", CodeMalformed, "the request body must be a JSON object")
	case errors.Is(sem.Err, jsonv2.ErrUnknownName):
		return unknownMember(field, sem)
	case sem.JSONKind == '0' && sem.Err != nil:
		return domain.Invalid(field, domain.CodeInvalidValue, "the number does not fit %s", goTypeName(sem.GoType))
	}
	return domain.Invalid(field, domain.CodeWrongType, "expected %s, got %s", goTypeName(sem.GoType), jsonKindName(sem.JSONKind))
}

// within names the members of e as parts of the member at prefix (a
// batch's leads[3]).
func (e *requestError) within(prefix string) *requestError {
	out := &requestError{status: e.status, detail: prefix + "." + e.detail}
	for _, fe := range e.errs {
		fe.Field = prefix + "." + fe.Field
		fe.Message = prefix + "." + fe.Message
		out.errs = append(out.errs, fe)
	}
	return out
}

// scanJSON reads the body token by token: one well-formed value, UTF-8
// throughout, no member twice in an object and no NUL in any name or
// string. A problem is 400 naming where it is.
func scanJSON(body []byte) error {
	dec := jsontext.NewDecoder(bytes.NewReader(body)) // refuses duplicate names and invalid UTF-8 by default
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			return scanProblem(dec, err)
		}
		if tok.Kind() == '"' && strings.IndexByte(tok.String(), 0) >= 0 {
			field := stackPath(dec, dec.StackPointer())
			return badRequest(field, domain.CodeNUL, field+`: the text holds a NUL character (\u0000)`)
		}
		if dec.StackDepth() == 0 {
			break
		}
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return badRequest("body", CodeMalformed, "the request body holds more than one JSON value")
	}
	return nil
}

func scanProblem(dec *jsontext.Decoder, err error) error {
	var syn *jsontext.SyntacticError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return badRequest("body", CodeMalformed, "the JSON body ends too early")
	case !errors.As(err, &syn):
		return badRequest("body", CodeMalformed, "the JSON body could not be read")
	}
	field := stackPath(dec, syn.JSONPointer)
	msg := syn.Err.Error()
	switch {
	case errors.Is(syn.Err, jsontext.ErrDuplicateName):
		return badRequest(field, domain.CodeDuplicateMember, field+": the member is given more than once")
	case strings.Contains(msg, "UTF-8"), strings.Contains(msg, "surrogate"):
		if field == "" {
			field = "body"
		}
		return badRequest(field, domain.CodeInvalidUTF8, field+": the text is not valid UTF-8")
	}
	return badRequest("body", CodeMalformed, fmt.Sprintf("malformed JSON at byte %d: %s", syn.ByteOffset, msg))
}

// stackPath names the member ptr points at the way errors[].field does
// (conditions[0].op), using the scanner's stack to tell array indexes
// from member names.
func stackPath(dec *jsontext.Decoder, ptr jsontext.Pointer) string {
	level := 0
	return dottedPath(ptr, func(string) bool {
		level++
		if level > dec.StackDepth() {
			return false
		}
		kind, _ := dec.StackIndex(level)
		return kind == '['
	})
}

// memberPath is stackPath for a body already known to be well-formed.
func memberPath(body []byte, ptr jsontext.Pointer) string {
	var node any
	_ = jsonv2.Unmarshal(body, &node)
	return dottedPath(ptr, func(tok string) bool {
		switch n := node.(type) {
		case []any:
			i, _ := strconv.Atoi(tok)
			node = nil
			if i >= 0 && i < len(n) {
				node = n[i]
			}
			return true
		case map[string]any:
			node = n[tok]
		}
		return false
	})
}

// dottedPath joins ptr's tokens as a member path; indexes tells, token by
// token, whether the token indexes an array. Names are kept printable.
func dottedPath(ptr jsontext.Pointer, indexes func(tok string) bool) string {
	var b strings.Builder
	for tok := range ptr.Tokens() {
		if indexes(tok) {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strings.ReplaceAll(strings.ToValidUTF8(tok, "\uFFFD"), "\x00", `\u0000`))
	}
	return b.String()
}

// unknownMember refuses a member the request does not have, and says so
// when only its case differs from one it has.
func unknownMember(field string, sem *jsonv2.SemanticError) error {
	name := sem.JSONPointer.LastToken()
	msg := fmt.Sprintf("%s: the request has no member %q", field, shorten(name))
	if want := caseVariantOf(sem.GoType, name); want != "" {
		msg += fmt.Sprintf("; member names are case-sensitive: did you mean %q?", want)
	}
	return badRequest(field, domain.CodeUnknownField, msg)
}

// caseVariantOf returns the JSON name of t's field that equals name but
// for case, or "".
func caseVariantOf(t reflect.Type, name string) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return ""
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "" {
			tag = f.Name
		}
		if tag != "-" && f.IsExported() && strings.EqualFold(tag, name) {
			return tag
		}
	}
	return ""
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// goTypeName names a Go type the way a JSON client thinks of it.
func goTypeName(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == nil || t.Kind() == reflect.Interface:
		return "a JSON value"
	case reflect.PointerTo(t).Implements(textUnmarshaler):
		return "a string"
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "an integer"
}

func jsonKindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "a JSON string"
	case '0':
		return "a JSON number"
	case 't', 'f':
		return "a JSON boolean"
	case 'n':
		return "null"
	case '{':
		return "a JSON object"
	case '[':
		return "a JSON array"
	}
	return "a JSON value of another type"
}

// members returns the top-level members of a JSON object body, so a PATCH
// can tell "absent" (keep) from null (clear).
func members(body []byte) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(body, &m)
	return m
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// writeJSON answers v as JSON; API responses hold personal data, so no
// cache keeps them.
func writeJSON(w http.ResponseWriter, status int, v any) {
	startJSON(w, status)
	// go-json encodes as encoding/json does (sorted map keys, HTML
	// escaped), at a fraction of the CPU a page of leads cost.
	_ = gojson.NewEncoder(w).Encode(v)
}

// startJSON writes the status and headers of every JSON answer.
func startJSON(w http.ResponseWriter, status int) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
}

// writeWritten answers a write: its position in the log goes into
// Leadsvc-Position so the client can read its own write.
func writeWritten(w http.ResponseWriter, status int, wr commands.Written, v any) {
	if wr.Position > 0 {
		w.Header().Set(HeaderPosition, itoa(wr.Position))
	}
	if wr.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	if v == nil {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, status, v)
}

// pathParam is a path parameter as text: one that is not (NUL, invalid
// UTF-8, once percent-decoded) is 400 naming it.
func pathParam(r *http.Request, name string) (string, error) {
	v := chi.URLParam(r, name)
	if r.URL.RawPath != "" { // chi matched the escaped path
		if u, err := url.PathUnescape(v); err == nil {
			v = u
		}
	}
	if err := checkText(name, v); err != nil {
		return "", err
	}
	return v, nil
}

// checkText is domain.TextProblem for a parameter or header: 400 naming it.
func checkText(name, v string) error {
	if code, reason := domain.TextProblem(v); code != "" {
		name = printable(name)
		return badRequest(name, code, name+": the text "+reason)
	}
	return nil
}

// printable keeps a name the client sent readable in a problem.
func printable(s string) string {
	return shorten(strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", `\u0000`))
}

// PathID parses a uuid path parameter; a malformed id names nothing, so
// it is ErrRouteNotFound like a missing one. A parameter that is not text
// is a 400 naming it.
func PathID(r *http.Request, name string) (uuid.UUID, error) {
	v, err := pathParam(r, name)
	if err != nil {
		return uuid.Nil, err
	}
	id, err := uuid.Parse(v)
	if err != nil {
		return uuid.Nil, ErrRouteNotFound
	}
	return id, nil
}

// ByPath loads the resource named by the path's {id} in account: another
// account's is not found, like a missing one.
func ByPath[T any](r *http.Request, account uuid.UUID, load func(context.Context, uuid.UUID, uuid.UUID) (T, error)) (T, error) {
	id, err := PathID(r, "id")
	if err != nil {
		var zero T
		return zero, err
	}
	return load(r.Context(), account, id)
}

// bodilessWrite is the path {id} and the idempotency of a write that
// takes no body (DELETE).
func bodilessWrite(r *http.Request) (uuid.UUID, *commands.Idempotency, error) {
	id, err := PathID(r, "id")
	if err != nil {
		return uuid.Nil, nil, err
	}
	idem, err := idempotency(r)
	return id, idem, err
}

// bodilessDelete is bodilessWrite for a conditional delete: it also
// reads If-Match (0 without one).
func bodilessDelete(r *http.Request) (uuid.UUID, *commands.Idempotency, int64, error) {
	id, idem, err := bodilessWrite(r)
	if err != nil {
		return uuid.Nil, nil, 0, err
	}
	want, err := ifMatch(r)
	return id, idem, want, err
}

// MaxIdempotencyKey is the longest Idempotency-Key accepted.
const MaxIdempotencyKey = 255

// idempotency returns the command's idempotency for a write, or nil when
// the request has no Idempotency-Key. The key is scoped to the token; the
// fingerprint covers method, path and the parts that make the request.
func idempotency(r *http.Request, parts ...[]byte) (*commands.Idempotency, error) {
	vals := r.Header.Values("Idempotency-Key")
	if len(vals) == 0 {
		return nil, nil
	}
	key := vals[0]
	// The draft makes the key a structured-field string: accept it quoted
	// or bare.
	if len(key) >= 2 && key[0] == '"' && key[len(key)-1] == '"' {
		key = key[1 : len(key)-1]
	}
	if len(vals) > 1 || !validIdempotencyKey(key) {
		return nil, badRequest("Idempotency-Key", CodeIdempotencyKey,
			"Idempotency-Key must be one value of 1 to 255 printable ASCII characters")
	}
	fp := append([][]byte{[]byte(r.Method), []byte(r.URL.EscapedPath())}, parts...)
	return &commands.Idempotency{TokenID: tokenFrom(r.Context()).ID.String(), Key: key, Fingerprint: commands.Fingerprint(fp...)}, nil
}

func validIdempotencyKey(k string) bool {
	if k == "" || len(k) > MaxIdempotencyKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// ifMatch returns the version an If-Match header names: 0 for none or
// "*". Versions are strong entity tags ("3"); a bare 3 is accepted too.
func ifMatch(r *http.Request) (int64, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64)
	if err != nil || n < 1 {
		return 0, badRequest("If-Match", domain.CodeInvalidFormat, `If-Match must be the quoted version from an ETag, such as "3"`)
	}
	return n, nil
}

func etag(version int64) string { return `"` + itoa(version) + `"` }

// queryParams returns the query, refusing parameters the route does not
// take and repeated ones: a typo must not silently widen a list. Names
// and values must be text (no NUL, valid UTF-8).
func queryParams(r *http.Request, allowed ...string) (map[string]string, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("query", CodeMalformed, "the query string could not be parsed")
	}
	out := map[string]string{}
	for k, vs := range q {
		if err := checkText(k, k); err != nil {
			return nil, err
		}
		for _, v := range vs {
			if err := checkText(k, v); err != nil {
				return nil, err
			}
		}
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			return nil, badRequest(k, CodeUnknownParam, fmt.Sprintf("unknown query parameter %q (this route takes: %s)",
				shorten(k), strings.Join(allowed, ", ")))
		}
		if len(vs) > 1 {
			return nil, badRequest(k, CodeMalformed, fmt.Sprintf("query parameter %q is given more than once", k))
		}
		out[k] = vs[0]
	}
	return out, nil
}

func shorten(s string) string {
	if len(s) > 40 {
		return strings.ToValidUTF8(s[:40], "") + "…"
	}
	return s
}

// MaxLimit is the largest page a list of resources gives.
const MaxLimit = 1000

// queryLimit reads a list's page size: def when absent, and 400 naming
// limit for anything but an integer from 1 to most. It is never clamped:
// a client that sends limit=-5 has a bug it should hear about.
func queryLimit(q map[string]string, def, most int) (int, error) {
	v, ok := q["limit"]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		return 0, badRequest("limit", domain.CodeInvalidValue, fmt.Sprintf("limit must be an integer from 1 to %d", most))
	}
	return n, nil
}

// queryUUID parses an optional uuid query parameter.
func queryUUID(q map[string]string, name string) (*uuid.UUID, error) {
	v, ok := q[name]
	if !ok {
		return nil, nil
	}
	id, err := uuid.Parse(v)
	if err != nil {
		return nil, badRequest(name, domain.CodeInvalidFormat, name+" must be an id")
	}
	return &id, nil
}

// campaignParam reads a query whose only parameter is the optional
// campaign_id.
func campaignParam(r *http.Request) (*uuid.UUID, error) {
	q, err := queryParams(r, "campaign_id")
	if err != nil {
		return nil, err
	}
	return queryUUID(q, "campaign_id")
}

// parseUUIDField parses an optional id member of a body into v's errors.
func parseUUIDField(v *domain.ValidationError, field string, s *string) *uuid.UUID {
	if s == nil {
		return nil
	}
	id, err := uuid.Parse(*s)
	if err != nil {
		v.Add(field, domain.CodeInvalidFormat, "%q is not an id", shorten(*s))
		return nil
	}
	return &id
}
