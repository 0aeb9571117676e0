package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
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

// decodeJSON decodes one JSON object into dst, refusing unknown members.
// A body that is not JSON is 400; JSON of the wrong shape (unknown
// member, wrong type) is 422 naming the member.
func decodeJSON(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			return badRequest("body", CodeMalformed, "the request body holds more than one JSON value")
		}
		return nil
	}
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return badRequest("body", CodeMalformed, fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return badRequest("body", CodeMalformed, "the JSON body ends too early")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badRequest("body", CodeMalformed, "the request body must be a JSON object")
		}
		return domain.Invalid(typ.Field, domain.CodeWrongType, "expected %s, got %s", goTypeName(typ.Type.String()), jsonValueName(typ.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return domain.Invalid(name, domain.CodeUnknownField, "the request has no member %q", name)
	}
	return badRequest("body", CodeMalformed, "the JSON body could not be read")
}

// goTypeName names a Go type the way a JSON client thinks of it.
func goTypeName(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "an array"
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "struct"), strings.Contains(t, "."):
		return "an object"
	case t == "string":
		return "a string"
	case t == "bool":
		return "a boolean"
	}
	return "a number"
}

func jsonValueName(v string) string {
	switch v {
	case "string", "number", "bool", "array", "object":
		return "a JSON " + v
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
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	// go-json encodes as encoding/json does (sorted map keys, HTML
	// escaped), at a fraction of the CPU a page of leads cost.
	_ = gojson.NewEncoder(w).Encode(v)
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

// pathID parses a uuid path parameter; a malformed id names nothing, so
// it is 404 like a missing one.
func pathID(r *http.Request, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(chi.URLParam(r, name))
	if err != nil {
		return uuid.Nil, errRouteNotFound
	}
	return id, nil
}

// bodilessWrite is the path {id} and the idempotency of a write that
// takes no body (DELETE).
func bodilessWrite(r *http.Request) (uuid.UUID, *commands.Idempotency, error) {
	id, err := pathID(r, "id")
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
// take and repeated ones: a typo must not silently widen a list.
func queryParams(r *http.Request, allowed ...string) (map[string]string, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("query", CodeMalformed, "the query string could not be parsed")
	}
	out := map[string]string{}
	for k, vs := range q {
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
		return s[:40] + "…"
	}
	return s
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
