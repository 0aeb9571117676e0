package apidoc

import (
	"fmt"
	"strings"

	"github.com/leadsvc/leadsvc/commands"
	"github.com/leadsvc/leadsvc/domain"
)

// builder assembles one set of documents. Components are defined
// generously and pruned to the ones the document refers to.
type builder struct {
	s        Scope
	camp     *domain.Campaign
	schema   domain.Schema
	shown    domain.Schema                 // the schema as the token's scope shows it
	conds    map[string][]domain.Condition // top-level conditions by field or attribute
	defaults map[string]any
	flds     []*fieldDoc

	schemas, parameters, headers, responses *M
}

func newBuilder(s Scope) *builder {
	b := &builder{s: s, conds: map[string][]domain.Condition{}, defaults: map[string]any{},
		schemas: obj(), parameters: obj(), headers: obj(), responses: obj()}
	if t := s.Token; t != nil && t.Campaign != nil {
		b.camp = t.Campaign
		b.schema = t.Campaign.Schema
		b.shown = t.Scope.Schema(b.schema)
		if f := t.Scope.Filter(); f != nil {
			for _, c := range f.Conditions {
				b.conds[c.Field] = append(b.conds[c.Field], c)
			}
		}
		b.defaults = t.Scope.Defaults(b.schema)
	}
	b.flds = b.fields()
	return b
}

// campaignScoped: the documents describe one campaign's live schema.
func (b *builder) campaignScoped() bool { return b.camp != nil }

// noLead: the token's filter is gone, so it meets no lead and the
// documents show none, not even as an example.
func (b *builder) noLead() bool { return b.s.Token != nil && b.s.Token.Scope.Closed() }

func ref(kind, name string) *M { return obj("$ref", "#/components/"+kind+"/"+name) }
func sref(name string) *M      { return ref("schemas", name) }

func str(desc string) *M { return obj("type", "string", "description", desc) }
func uuidSchema(desc string) *M {
	return obj("type", "string", "format", "uuid", "description", desc)
}
func timeSchema(desc string) *M {
	return obj("type", "string", "format", "date-time", "description", desc)
}

func object(required []string, props ...any) *M {
	o := obj("type", "object")
	if len(required) > 0 {
		r := make([]any, len(required))
		for i, k := range required {
			r[i] = k
		}
		o.set("required", r)
	}
	o.set("properties", obj(props...))
	return o
}

// closed marks a request body object: the service refuses unknown members.
func closed(o *M) *M { return o.set("additionalProperties", false) }

func list(items *M, desc string) *M {
	return obj("type", "array", "items", items, "description", desc)
}

func page(items *M, what string) *M {
	return object([]string{"data", "next_cursor"},
		"data", list(items, what),
		"next_cursor", obj("type", []any{"string", "null"}, "description",
			"Opaque cursor of the next page; null on the last page."))
}

func stringEnum(vals ...string) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = v
	}
	return out
}

// keyPattern is the service's rule for field, select and status keys.
const keyPattern = `^[a-z][a-z0-9_]{0,62}$`

// defineComponents fills the component maps; document prunes them.
func (b *builder) defineComponents() {
	b.commonComponents()
	b.leadComponents()
	b.campaignComponents()
	b.adminComponents()
	b.auditComponents()
	b.webhookComponents()
	b.exportComponents()
}

func (b *builder) commonComponents() {
	b.schemas.set("Problem", obj("type", "object",
		"description", "An RFC 9457 problem: the body of every 4xx and 5xx.",
		"required", stringEnum("type", "title", "status", "errors"),
		"properties", obj(
			"type", obj("type", "string", "pattern", "^urn:leadsvc:problem:[a-z-]+$",
				"description", "A stable URN to match on: urn:leadsvc:problem:validation, not-found, outside-scope, …"),
			"title", str("A short summary of the problem type."),
			"status", obj("type", "integer", "minimum", 400, "maximum", 599, "description", "The HTTP status."),
			"detail", str("What went wrong with this request."),
			"instance", str("The request's path."),
			"request_id", str("The X-Request-Id of the response; quote it when reporting a problem."),
			"errors", list(sref("FieldError"), "Field-level errors; empty when no single field is to blame.")),
		"examples", []any{obj("type", "urn:leadsvc:problem:validation", "title", "The request has invalid fields",
			"status", 422, "detail", "invalid input: fields.email: \"nope\" is not an email address",
			"instance", "/v1/leads", "request_id", exampleRequest,
			"errors", []any{obj("field", "fields.email", "code", "invalid_format", "message", "fields.email: \"nope\" is not an email address")}),
		}))
	b.schemas.set("FieldError", object([]string{"field", "code", "message"},
		"field", str("A path into the body (fields.email, conditions[0].op), a query parameter (limit) or a header (If-Match)."),
		"code", obj("type", "string", "description", "A stable code.", "examples", stringEnum(
			domain.CodeUnknownField, domain.CodeWrongType, domain.CodeUnknownOption, domain.CodeUnknownStatus,
			domain.CodeRequired, domain.CodeInvalidFormat, domain.CodeInvalidValue, "malformed", "unknown_parameter",
			"invalid_cursor", "invalid_idempotency_key", "idempotency_key_reused", "outside_scope", "unsupported_media_type")),
		"message", str("The error in words.")))

	b.headers.set("X-Request-Id", obj("description", "The request's id: the client's X-Request-Id when it is 1 to 128 characters of [A-Za-z0-9._:-], a new one otherwise.",
		"required", true, "schema", obj("type", "string", "pattern", `^[A-Za-z0-9._:-]{1,128}$`)))
	b.headers.set("RateLimit", obj("description", `Where the token stands: r requests left, t seconds until the bucket is full (IETF RateLimit header fields draft). On a 429 for the client address's failed requests the policy is "address".`,
		"required", true, "schema", obj("type", "string", "pattern", `^"(default|address)";r=[0-9]+;t=[0-9]+$`),
		"example", `"default";r=599;t=1`))
	b.headers.set("RateLimit-Policy", obj("description", `The token's quota q per window of w seconds ("address": the client address's quota of failed requests).`,
		"required", true, "schema", obj("type", "string", "pattern", `^"(default|address)";q=[0-9]+;w=[0-9]+$`),
		"example", `"default";q=600;w=60`))
	b.headers.set("Retry-After", obj("description", "Seconds until one request is allowed again.",
		"required", true, "schema", obj("type", "integer", "minimum", 1)))
	b.headers.set("WWW-Authenticate", obj("description", `The Bearer challenge (RFC 6750): Bearer realm="leadsvc", with error="invalid_token" when a token was sent.`,
		"required", true, "schema", obj("type", "string", "pattern", `^Bearer realm="leadsvc"`)))
	b.headers.set("ETag", obj("description", `The resource's version as a strong entity tag ("3"); send it back in If-Match.`,
		"required", true, "schema", obj("type", "string", "pattern", `^"[0-9a-f]+"$`)))
	b.headers.set("Location", obj("description", "The URL of the created resource.",
		"required", true, "schema", obj("type", "string", "format", "uri")))
	b.headers.set("Leadsvc-Position", obj("description", "The log position of the write; send it as Leadsvc-Min-Position to read your own write. Absent when the write changed nothing.",
		"schema", obj("type", "integer", "minimum", 1)))
	b.headers.set("Idempotent-Replayed", obj("description", "true when the answer is the stored answer of an earlier request with the same Idempotency-Key: nothing was written again.",
		"schema", obj("type", "string", "enum", stringEnum("true"))))
	b.headers.set("Leadsvc-Stale", obj("description", "Present when the views had not reached Leadsvc-Min-Position within 5 seconds: the answer may not show that write yet.",
		"schema", obj("type", "string", "enum", stringEnum("true"))))
	b.headers.set("Link", obj("description", `The next page: <…&cursor=…>; rel="next". Absent on the last page.`,
		"schema", obj("type", "string")))

	b.parameters.set("IdempotencyKey", obj("name", "Idempotency-Key", "in", "header",
		"description", "Makes a retry safe: the same key with the same request answers the first response again without writing; with another request it is 422; while the first is still running, 409. 1 to 255 printable ASCII characters, bare or quoted; kept 24 hours per token.",
		"schema", obj("type", "string", "minLength", 1, "maxLength", 257), "example", "order-4711-create"))
	b.parameters.set("IfMatch", obj("name", "If-Match", "in", "header",
		"description", `Apply the change only to this version (the ETag, such as "3"; a bare 3 and * are accepted too). A stale version is 412 and changes nothing; without If-Match the change applies to the latest version.`,
		"schema", obj("type", "string"), "example", `"3"`))
	b.parameters.set("MinPosition", obj("name", "Leadsvc-Min-Position", "in", "header",
		"description", "Read your own write: wait (at most 5 seconds) until the views reflect this log position (the Leadsvc-Position of your write). If they do not in time the answer comes with Leadsvc-Stale: true.",
		"schema", obj("type", "integer", "minimum", 0), "example", 42))

	okHeaders := func(extra ...string) *M {
		h := obj()
		for _, n := range append([]string{"X-Request-Id", "RateLimit", "RateLimit-Policy"}, extra...) {
			h.set(n, ref("headers", n))
		}
		return h
	}
	problem := func(status, title, desc string, headers ...string) *M {
		// A read that waited for Leadsvc-Min-Position in vain can still end
		// in a problem, and a replay answers a stored one.
		h := okHeaders(append(headers, "Leadsvc-Stale", "Idempotent-Replayed")...)
		if status == "401" {
			h = obj("X-Request-Id", ref("headers", "X-Request-Id"), "WWW-Authenticate", ref("headers", "WWW-Authenticate"))
		}
		slug := strings.ToLower(strings.ReplaceAll(title, " ", "-"))
		return obj("description", desc, "headers", h, "content", obj("application/problem+json", obj(
			"schema", sref("Problem"),
			"example", obj("type", "urn:leadsvc:problem:"+slug, "title", title, "status", atoi(status), "detail", desc,
				"instance", "/v1/…", "request_id", exampleRequest, "errors", []any{}))))
	}
	b.responses.set("BadRequest", problem("400", "Bad request", "The request cannot be read: malformed JSON; an unknown member (names match exactly, case included) or one given twice; a NUL character or text that is not UTF-8 in a member, parameter or path segment; a bad or unknown query parameter, a limit outside its range, a bad cursor, a bad If-Match, Idempotency-Key or Leadsvc-Min-Position header."))
	b.responses.set("Unauthenticated", problem("401", "Unauthenticated", "No token, or a malformed, unknown, revoked or expired one (type …:token-expired)."))
	b.responses.set("Forbidden", problem("403", "Forbidden", "The token lacks the permission for this request."))
	b.responses.set("NotFound", problem("404", "Not found", "Missing, of another account, or outside the token's scope: the answers are identical."))
	b.responses.set("Conflict", problem("409", "Conflict", "The same Idempotency-Key is still running, the resource is too busy to write after retries, the token is revoked, or the change would revoke or demote the account's last admin token (type …:last-admin-token)."))
	b.responses.set("Gone", problem("410", "Gone", "The lead was erased (lead-erased); the detail says when."))
	b.responses.set("PreconditionFailed", problem("412", "Precondition failed", "If-Match names a stale version; nothing changed."))
	b.responses.set("TooLarge", problem("413", "Body too large", "A JSON body over 1 MiB, an upload over the service's upload limit, or a file that does not fit in the account's file quota (type …:upload-quota-exceeded); nothing is stored."))
	b.responses.set("UnsupportedMediaType", problem("415", "Unsupported media type", "The body is not of the route's media type."))
	b.responses.set("Unprocessable", problem("422", "Validation", "The request was read and its content is refused: an unknown member or field, a wrong type, an unknown option or status, a missing required field, a bad format; a write that would leave the token's filter (type …:outside-scope, naming the condition); a reused Idempotency-Key."))
	b.responses.set("TooManyRequests", problem("429", "Rate limited", "The token's rate limit is spent, too many failed requests came from the client's address, or the account has as many uploads in progress as it may (type …:too-many-uploads); retry after Retry-After seconds.", "Retry-After"))
	b.responses.set("UploadsBusy", problem("503", "Uploads busy", "The service has as many uploads in progress as it takes; retry after Retry-After seconds.", "Retry-After"))
	b.responses.set("Internal", problem("500", "Internal", "The request failed on the service's side; quote the request_id."))
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

// leadComponents are a lead and its parts. For a campaign token they are
// the campaign's live schema under the token's filter; otherwise generic.
func (b *builder) leadComponents() {
	fieldsRead, fieldsCreate, fieldsUpdate := b.leadFieldSchemas()
	b.schemas.set("LeadFields", fieldsRead)
	b.schemas.set("LeadFieldsCreate", fieldsCreate)
	b.schemas.set("LeadFieldsUpdate", fieldsUpdate)
	b.schemas.set("LeadStatus", b.statusSchema())

	campaignID := uuidSchema("The lead's campaign.")
	if b.campaignScoped() {
		campaignID.set("const", b.camp.ID.String())
	}
	b.schemas.set("Lead", object([]string{"id", "campaign_id", "status", "fields", "files", "version", "created_at", "updated_at"},
		"id", uuidSchema("The lead's id."),
		"campaign_id", campaignID,
		"status", sref("LeadStatus"),
		"fields", sref("LeadFields"),
		"files", list(sref("File"), "The lead's files (metadata; the bytes are at each url)."),
		"version", obj("type", "integer", "minimum", 1, "description", "Increases with every change; the ETag."),
		"created_at", timeSchema("When the lead was created (UTC)."),
		"updated_at", timeSchema("When the lead last changed (UTC)."),
		"defaulted", list(obj("type", "string"), "On create only: the members filled in from the token's filter."),
	))
	if !b.noLead() {
		b.schemas.get("Lead").(*M).set("examples", []any{b.leadExample(false)})
	}

	status := sref("LeadStatus")
	createReq := []string{}
	if b.statusNeededOnCreate() && b.campaignScoped() {
		createReq = append(createReq, "status")
	}
	for _, fd := range b.flds {
		if fd.NeedCreate {
			createReq = append(createReq, "fields")
			break
		}
	}
	create := closed(object(createReq,
		"status", b.writableStatus(status, b.createStatusWords()),
		"fields", sref("LeadFieldsCreate"),
		"campaign_id", b.createCampaignID()))
	if !b.campaignScoped() {
		create.set("required", stringEnum("campaign_id"))
	}
	createEx := obj()
	if !b.campaignScoped() {
		createEx.set("campaign_id", exampleID)
		createEx.set("fields", obj("name", "Ada Lovelace", "email", "ada@example.com"))
	} else {
		if b.statusNeededOnCreate() {
			createEx.set("status", b.statusExample())
		}
		createEx.set("fields", b.leadFieldsExample(b.flds, modeCreate))
	}
	if b.createExampleComplete() {
		create.set("examples", []any{createEx})
	}
	b.schemas.set("LeadCreate", create)
	batch := closed(object([]string{"leads"},
		"leads", list(sref("LeadCreate"), "The leads to create, each as POST /v1/leads takes it.").
			set("minItems", 1).set("maxItems", commands.MaxBatchLeads)))
	if b.createExampleComplete() {
		batch.set("examples", []any{obj("leads", []any{createEx, b.withVariant(createEx)})})
	}
	b.schemas.set("LeadBatch", batch)
	b.schemas.set("LeadList", object([]string{"data"},
		"data", list(sref("Lead"), "The created leads, in the order sent.").
			set("minItems", 1).set("maxItems", commands.MaxBatchLeads)))
	upd := closed(object(nil,
		"status", b.writableStatus(status, "The new status."),
		"fields", sref("LeadFieldsUpdate")))
	updEx := obj("status", b.secondStatus())
	if ex := b.updateFieldsExample(); ex.len() > 0 {
		updEx.set("fields", ex)
	}
	if !b.noLead() {
		upd.set("examples", []any{updEx})
	}
	b.schemas.set("LeadUpdate", upd)
	b.schemas.set("LeadPage", page(sref("Lead"), "The leads of this page, in (updated_at, id) order."))

	b.schemas.set("File", object([]string{"id", "name", "content_type", "size", "sha256", "url"},
		"id", uuidSchema("The file's id."),
		"name", str("The file name as uploaded, without path or control characters."),
		"content_type", str("The media type given at upload, or sniffed from the bytes."),
		"size", obj("type", "integer", "minimum", 0, "description", "Bytes."),
		"sha256", obj("type", "string", "pattern", "^[0-9a-f]{64}$", "description", "Hex SHA-256 of the bytes; the download's ETag."),
		"url", obj("type", "string", "format", "uri", "description", "Where to GET the bytes (with the token)."),
	).set("examples", []any{b.fileExample()}))
	b.schemas.set("FilePage", page(sref("File"), "The lead's files; next_cursor is always null."))
	b.schemas.set("FileUpload", object([]string{"file"},
		"file", obj("type", "string", "contentMediaType", "application/octet-stream",
			"description", "The file; its part's filename and Content-Type are kept (a missing or octet-stream type is sniffed)."),
	).set("additionalProperties", false))

	b.schemas.set("TokenSchema", object([]string{"campaign", "permissions", "filter", "scope", "defaults"},
		"campaign", sref("Campaign"),
		"permissions", list(sref("Permission"), "The token's permissions."),
		"filter", obj("anyOf", []any{sref("Filter"), obj("type", "null")}, "description", "The token's filter; null when it has none."),
		"scope", list(obj("type", "string"), "Which leads the token sees, in words."),
		"defaults", obj("type", "object", "description", "Values a create fills in when the lead omits them (from the filter's eq conditions), by field key or status.",
			"patternProperties", obj(keyPattern, obj()))))
}

func (b *builder) createCampaignID() *M {
	if b.campaignScoped() {
		return obj("type", "string", "format", "uuid", "const", b.camp.ID.String(),
			"description", "Optional: this token writes to its own campaign only.")
	}
	return uuidSchema("The campaign of the new lead (account-level tokens name it).")
}

func (b *builder) createStatusWords() string {
	def := b.schema.DefaultStatus()
	if v, ok := b.defaults[domain.AttrStatus].(string); ok {
		return "The initial status; when omitted, " + v + " (from the token's filter)."
	}
	if def == "" {
		return "The initial status; when omitted, the campaign's first status."
	}
	if b.statusNeededOnCreate() {
		return "The initial status. Required: the campaign's first status (" + def + ") is outside the token's filter."
	}
	return "The initial status; when omitted, " + def + " (the campaign's first)."
}

func (b *builder) secondStatus() string {
	sts := b.activeStatuses()
	switch {
	case len(sts) > 1:
		return sts[1].Slug
	case len(sts) == 1:
		return sts[0].Slug
	}
	return "contacted"
}

// updateFieldsExample changes one field that has an example.
func (b *builder) updateFieldsExample() *M {
	for _, fd := range b.flds {
		if fd.HasExample && !fd.HasDefault {
			return obj(fd.Key, plainValue(fd.Example))
		}
	}
	if !b.campaignScoped() {
		return obj("email", "ada@example.com")
	}
	return obj()
}

// writableStatus is status for a write: the retired statuses refused.
func (b *builder) writableStatus(status *M, desc string) *M {
	s := obj("allOf", []any{status}, "description", desc)
	var retired []any
	for _, st := range b.statuses() {
		if st.Retired {
			retired = append(retired, st.Slug)
		}
	}
	if len(retired) > 0 {
		s.set("not", obj("enum", retired))
		s.set("description", desc+" Not a retired status.")
	}
	return s
}

func (b *builder) statusSchema() *M {
	if !b.campaignScoped() {
		return obj("type", "string", "pattern", keyPattern, "description", "A status slug of the lead's campaign.")
	}
	var vals, labels []string
	for _, st := range b.statuses() {
		label := st.Label
		if st.Retired {
			label += retiredWords
		}
		vals, labels = append(vals, st.Slug), append(labels, label)
	}
	s := enumSchema(vals, labels, "status")
	s = prepend(s, "title", "Status")
	d, _ := s.get("description").(string)
	if words := b.scopeWordsFor(domain.AttrStatus); words != "" {
		d += "\n\nThe token's filter requires: " + words + "."
	}
	s.set("description", "The lead's status, in the campaign's order. "+d)
	return s
}

func (b *builder) scopeWordsFor(key string) string {
	var out []string
	for _, c := range b.conds[key] {
		out = append(out, domain.DescribeCondition(b.schema, c))
	}
	return strings.Join(out, "; ")
}

// leadFieldSchemas are the fields object in each mode.
func (b *builder) leadFieldSchemas() (read, create, update *M) {
	if !b.campaignScoped() {
		byKey := func(types ...any) *M {
			return obj(keyPattern, obj("type", types, "items", obj("type", "string")))
		}
		read = obj("type", "object", "description", "Field values by key, as the campaign's schema (GET /v1/schema?campaign_id=) defines them.",
			"patternProperties", byKey("string", "number", "boolean", "array"))
		create = obj("type", "object", "description", "Field values by key; the campaign's schema decides which are required and what they take. null is ignored.",
			"patternProperties", byKey("string", "number", "boolean", "array", "null"))
		update = obj("type", "object", "description", "The fields to change; null clears an optional field. Omitted fields keep their values.",
			"patternProperties", byKey("string", "number", "boolean", "array", "null"))
		return read, create, update
	}
	build := func(m mode) *M {
		props := obj()
		var req []string
		for _, fd := range b.flds {
			if fd.Retired && m != modeRead {
				continue // a write naming it is refused
			}
			props.set(fd.Key, b.fieldSchema(fd, m))
			if m == modeRead && fd.NeedPresent || m == modeCreate && fd.NeedCreate {
				req = append(req, fd.Key)
			}
		}
		o := object(req)
		o.set("properties", props)
		switch m {
		case modeRead:
			o.set("description", "The lead's field values by key; a field without a value is absent.")
		case modeCreate:
			o.set("description", "Field values by key. Unknown keys are refused; null is the same as leaving a field out.")
			o.set("additionalProperties", false)
		case modeUpdate:
			o.set("description", "The fields to change; omitted fields keep their values and null clears an optional one. Unknown keys are refused.")
			o.set("additionalProperties", false)
		}
		return o
	}
	return build(modeRead), build(modeCreate), build(modeUpdate)
}

func (b *builder) leadExample(created bool) *M {
	campaign := exampleID
	if b.campaignScoped() {
		campaign = b.camp.ID.String()
	}
	fields := b.leadFieldsExample(b.flds, modeRead)
	if !b.campaignScoped() {
		fields = obj("name", "Ada Lovelace", "email", "ada@example.com")
	}
	ex := obj("id", exampleLeadID, "campaign_id", campaign, "status", b.statusExample(), "fields", fields,
		"files", []any{}, "version", 1, "created_at", exampleTime, "updated_at", exampleTime)
	if created {
		var def []any
		for _, fd := range b.flds {
			if fd.HasDefault {
				def = append(def, fd.Key)
			}
		}
		if _, ok := b.defaults[domain.AttrStatus]; ok {
			def = append(def, domain.AttrStatus)
		}
		if len(def) > 0 {
			ex.set("defaulted", def)
		}
	}
	return ex
}

// exampleVariant is what a batch example's second lead changes in the
// first's fields: another value of a text field that the token's filter
// also lets through ("Grace Hopper" beside "Ada Lovelace"), so that the
// example shows two different leads; empty when there is none.
func (b *builder) exampleVariant() *M {
	if !b.campaignScoped() {
		return obj("name", "Grace Hopper", "email", "grace@example.org")
	}
	for _, fd := range b.flds {
		if fd.Type != domain.TypeText || !fd.HasExample || fd.HasDefault {
			continue
		}
		for _, c := range sampleValues(fd.Field) {
			if c != fd.Example && b.validFor(fd, c) && b.holds(fd.Key, c) {
				return obj(fd.Key, c)
			}
		}
	}
	return obj()
}

// withVariant is a copy of a lead example whose fields take the variant.
func (b *builder) withVariant(lead *M) *M {
	out := obj()
	for _, e := range lead.kv {
		out.set(e.k, e.v)
	}
	fields := obj()
	if f, ok := lead.get("fields").(*M); ok {
		for _, e := range f.kv {
			fields.set(e.k, e.v)
		}
	}
	for _, e := range b.exampleVariant().kv {
		fields.set(e.k, e.v)
	}
	return out.set("fields", fields)
}

// createdExamples are the leads a batch of the create examples answers.
func (b *builder) createdExamples() []any {
	return []any{b.leadExample(true), b.withVariant(b.leadExample(true)).set("id", exampleLeadID2)}
}

func (b *builder) fileExample() *M {
	return obj("id", exampleFileID, "name", "offer.pdf", "content_type", "application/pdf", "size", 48213,
		"sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"url", b.s.PublicURL+"/v1/leads/"+exampleLeadID+"/files/"+exampleFileID)
}

// campaignComponents describe a campaign's schema as GET /v1/schema and
// the admin routes answer it.
func (b *builder) campaignComponents() {
	types := make([]string, len(domain.FieldTypes))
	for i, t := range domain.FieldTypes {
		types[i] = string(t)
	}
	b.schemas.set("Field", object([]string{"key", "label", "type", "required"},
		"key", obj("type", "string", "pattern", keyPattern, "description", "The field's key in a lead's fields."),
		"label", str("The field's name for people."),
		"type", obj("type", "string", "enum", stringEnum(types...)),
		"required", obj("type", "boolean", "description", "Creates must give it; it cannot be cleared."),
		"select", str("For select and multiselect: the key of the select list of its options."),
		"campaign", uuidSchema("For relation: the target campaign."),
		"retired", retiredSchema("field"),
		"personal", obj("type", "boolean", "description", "Whether its values are personal data, erased with the lead (POST /v1/leads/{id}/erase).")))
	b.schemas.set("Option", object([]string{"value", "label"},
		"value", obj("type", "string", "minLength", 1, "maxLength", 200, "description", "What a lead stores and clients send."),
		"label", obj("type", "string", "minLength", 1, "description", "The option's name for people."),
		"retired", retiredSchema("option")))
	b.schemas.set("Select", object([]string{"key", "label", "options"},
		"key", obj("type", "string", "pattern", keyPattern),
		"label", obj("type", "string", "minLength", 1),
		"options", list(sref("Option"), "The options, in order.")))
	b.schemas.set("Status", object([]string{"slug", "label"},
		"slug", obj("type", "string", "pattern", keyPattern),
		"label", obj("type", "string", "minLength", 1),
		"retired", retiredSchema("status")))
	b.schemas.set("Campaign", object([]string{"id", "name", "fields", "selects", "statuses", "version", "created_at", "updated_at"},
		"id", uuidSchema("The campaign's id."),
		"name", str("The campaign's name."),
		"fields", list(sref("Field"), "The fields, in order."),
		"selects", list(sref("Select"), "The option lists select fields use."),
		"statuses", list(sref("Status"), "The statuses, in order; the first that is not retired is a new lead's default."),
		"version", obj("type", "integer", "minimum", 1),
		"created_at", timeSchema("When the campaign was created."),
		"updated_at", timeSchema("When its schema, name or retention policy last changed."),
		"retention", obj("anyOf", []any{sref("Retention"), obj("type", "null")},
			"description", "The policy that erases the campaign's leads; null when it has none.")))
	b.schemas.set("Retention", closed(object([]string{"erase_after", "counted_from"},
		"erase_after", obj("type", "string", "pattern", "^[0-9]+[dh]$",
			"description", "How long a lead is kept: a whole number of days (d) or hours (h), from 1h to 36500d."),
		"counted_from", obj("type", "string", "enum", stringEnum(domain.RetentionFromCreated, domain.RetentionFromUpdated),
			"description", "created: from the lead's creation; updated: from its last change."))).
		set("examples", []any{obj("erase_after", "730d", "counted_from", "created")}))
	ops := make([]string, len(domain.Ops))
	for i, o := range domain.Ops {
		ops[i] = string(o)
	}
	b.schemas.set("Condition", object([]string{"field", "op"},
		"field", str("A field key, or status, created_at, updated_at."),
		"op", obj("type", "string", "enum", stringEnum(ops...)),
		"value", obj("description", "The value to compare with: absent for empty and not_empty, an array for in, not_in and between ([low, high]).")))
	b.schemas.set("Filter", object([]string{"id", "campaign_id", "name", "match", "conditions", "explain", "version"},
		"id", uuidSchema("The filter's id."),
		"campaign_id", uuidSchema("The filter's campaign."),
		"name", str("The filter's name."),
		"match", sref("FilterMatch"),
		"conditions", list(sref("Condition"), "Every condition must hold."),
		"any", obj("type", "array", "items", list(sref("Condition"), "At least one of these must hold."),
			"description", "Groups of which at least one condition each must hold; absent when there are none."),
		"explain", list(obj("type", "string"), "The filter in words, one condition each, with option labels; [\"every lead of the campaign\"] when match is all."),
		"version", obj("type", "integer", "minimum", 1)))
	b.schemas.set("FilterMatch", obj("type", "string", "enum", stringEnum(string(domain.MatchConditions), string(domain.MatchAll)),
		"description", "conditions: the leads the conditions let through; all: every lead of the campaign, a filter without any condition, made only on purpose."))
	b.schemas.set("Permission", obj("type", "string", "enum", stringEnum("read", "write", "admin", "audit"),
		"description", "read: GET leads, files and schema; write: create and change leads and files; admin: campaigns, filters, tokens, webhooks (account-level tokens only); audit: the audit routes (account-level tokens only)."))
}

func (b *builder) adminComponents() {
	name := func() *M { return obj("type", "string", "minLength", 1, "maxLength", domain.MaxNameLength) }
	label := func() *M { return obj("type", "string", "minLength", 1, "maxLength", domain.MaxLabelLength) }
	b.schemas.set("FieldInput", closed(object([]string{"key", "label", "type"},
		"key", obj("type", "string", "pattern", keyPattern, "description", "Lowercase letters, digits and _, starting with a letter; not id, status, created_at, updated_at, campaign_id, version or files."),
		"label", label(),
		"type", sref("FieldType"),
		"required", obj("type", "boolean", "default", false),
		"select", str("For select and multiselect: the key of one of the campaign's selects."),
		"campaign", uuidSchema("For relation: the target campaign."),
		"personal", obj("type", "boolean", "description", "Whether its values are personal data, erased with the lead. Default: true for text, textarea, email, phone and url; false otherwise."))))
	types := make([]string, len(domain.FieldTypes))
	for i, t := range domain.FieldTypes {
		types[i] = string(t)
	}
	b.schemas.set("FieldType", obj("type", "string", "enum", stringEnum(types...)))
	b.schemas.set("OptionInput", closed(object([]string{"value", "label"},
		"value", obj("type", "string", "minLength", 1, "maxLength", domain.MaxOptionValue),
		"label", label())))
	b.schemas.set("SelectInput", closed(object([]string{"key", "label"},
		"key", obj("type", "string", "pattern", keyPattern),
		"label", label(),
		"options", list(sref("OptionInput"), "The options, in order.").set("maxItems", domain.MaxOptions))))
	position := func(what string) *M {
		return obj("type", "integer", "minimum", 1, "description", "The "+what+"'s place in the list, 1 being first.")
	}
	retire := obj("type", "boolean", "description", "true retires, false restores.")
	b.schemas.set("OptionChange", closed(object(nil, "label", label(), "retired", retire)).set("minProperties", 1).
		set("examples", []any{obj("label", "Partner ABC Ltd"), obj("retired", true)}))
	b.schemas.set("FieldChange", closed(object(nil, "label", label(),
		"required", obj("type", "boolean", "description", "Whether creates must give it; a retired field cannot be required."),
		"retired", retire, "position", position("field"),
		"personal", obj("type", "boolean", "description", "Whether its values are personal data, erased with the lead."))).set("minProperties", 1).
		set("examples", []any{obj("label", "Budget (EUR)", "position", 1)}))
	b.schemas.set("StatusChange", closed(object(nil, "label", label(), "retired", retire, "position", position("status"))).
		set("minProperties", 1).set("examples", []any{obj("label", "Reached", "position", 2)}))
	b.schemas.set("StatusInput", closed(object([]string{"slug", "label"},
		"slug", obj("type", "string", "pattern", keyPattern),
		"label", label())))
	b.schemas.set("CampaignCreate", closed(object([]string{"name", "statuses"},
		"name", name(),
		"fields", list(sref("FieldInput"), "The fields, in order.").set("maxItems", domain.MaxFields),
		"selects", list(sref("SelectInput"), "The option lists.").set("maxItems", domain.MaxSelects),
		"statuses", obj("type", "array", "items", sref("StatusInput"), "minItems", 1, "maxItems", domain.MaxStatuses,
			"description", "At least one; the first is a new lead's default."),
	)).set("examples", []any{obj("name", "Home energy",
		"fields", []any{obj("key", "name", "label", "Name", "type", "text", "required", true),
			obj("key", "source", "label", "Source", "type", "select", "select", "source", "required", true)},
		"selects", []any{obj("key", "source", "label", "Source", "options", []any{obj("value", "partner-abc", "label", "Partner ABC")})},
		"statuses", []any{obj("slug", "new", "label", "New"), obj("slug", "won", "label", "Won")})}))
	b.schemas.set("CampaignPatch", closed(object(nil,
		"name", name(),
		"add_field", sref("FieldInput"),
		"add_select", sref("SelectInput"),
		"add_status", sref("StatusInput"),
	)).set("minProperties", 1).set("maxProperties", 1).
		set("description", "Exactly one change per request, so that each request is one atomic event. Changes are additive."))
	b.schemas.set("CampaignPage", page(sref("Campaign"), "The account's campaigns, oldest first."))
	anyGroups := obj("type", "array", "items", obj("type", "array", "items", sref("ConditionInput"), "minItems", 1, "maxItems", domain.MaxConditions),
		"maxItems", domain.MaxConditions)
	conditions := func(desc string) *M {
		return list(sref("ConditionInput"), desc+fmt.Sprintf(" At most %d, those of any groups included.", domain.MaxConditions)).
			set("maxItems", domain.MaxConditions)
	}
	b.schemas.set("ConditionInput", closed(object([]string{"field", "op"},
		"field", str("A field key, or status, created_at, updated_at."),
		"op", obj("type", "string", "enum", stringEnum(func() []string {
			out := make([]string, len(domain.Ops))
			for i, o := range domain.Ops {
				out[i] = string(o)
			}
			return out
		}()...)),
		"value", obj("description", "Absent for empty and not_empty; an array for in, not_in and between."))))
	b.schemas.set("FilterCreate", closed(object([]string{"name"},
		"name", name(),
		"match", obj("anyOf", []any{sref("FilterMatch"), obj("type", "null")},
			"description", "all for a filter that lets every lead of the campaign through, with no condition; absent, the filter needs at least one condition."),
		"conditions", conditions("Every condition must hold; at least one unless match is all."),
		"any", obj("anyOf", []any{anyGroups, obj("type", "null")}, "description", "Groups of which at least one condition each must hold."),
	)).set("examples", []any{obj("name", "Partner ABC", "conditions", []any{obj("field", "source", "op", "eq", "value", "partner-abc")})}))
	b.schemas.set("FilterPatch", closed(object(nil,
		"name", name(),
		"match", obj("anyOf", []any{sref("FilterMatch"), obj("type", "null")},
			"description", "all removes the conditions and groups not given in the same request; a filter left without condition needs it."),
		"conditions", conditions("Replaces the conditions."),
		"any", obj("anyOf", []any{anyGroups, obj("type", "null")}, "description", "Replaces the groups; null clears them."),
	)).set("description", "The members given replace the filter's; the others keep their values."))
	b.schemas.set("FilterPage", page(sref("Filter"), "The campaign's live filters, by name."))
	b.schemas.set("Token", object([]string{"id", "name", "campaign_id", "filter_id", "permissions", "expires_at", "revoked_at",
		"secret_prefix", "secret_last4", "previous_secret_valid_until", "last_used_at", "created_at", "version", "docs_url"},
		"id", uuidSchema("The token's id."),
		"name", str("The token's name."),
		"campaign_id", obj("type", []any{"string", "null"}, "format", "uuid", "description", "The token's campaign; null for an account-level token."),
		"filter_id", obj("type", []any{"string", "null"}, "format", "uuid", "description", "The token's filter; null for none."),
		"permissions", list(sref("Permission"), "What the token may do."),
		"expires_at", obj("type", []any{"string", "null"}, "format", "date-time"),
		"revoked_at", obj("type", []any{"string", "null"}, "format", "date-time"),
		"secret_prefix", str("The first characters of the secret, to recognise it."),
		"secret_last4", obj("type", "string", "minLength", 4, "maxLength", 4),
		"previous_secret_valid_until", obj("type", []any{"string", "null"}, "format", "date-time", "description", "After a rotation: until when the old secret still works."),
		"last_used_at", obj("type", []any{"string", "null"}, "format", "date-time", "description", "Recorded at most once a minute."),
		"created_at", timeSchema("When the token was created."),
		"version", obj("type", "integer", "minimum", 1),
		"docs_url", obj("type", "string", "format", "uri", "description", "The token's public API documentation (HTML; openapi.yaml and postman.json beneath it). No secret inside; dead once the token is revoked."),
		"secret", obj("type", []any{"string", "null"}, "pattern", "^lsk_[0-9A-Za-z]+$", "description", "Only in the answers of create, reveal and rotate. null when an Idempotency-Key replay may not show it: the secret was rotated or revoked since (secret_withheld)."),
		"secret_withheld", obj("type", "string", "enum", stringEnum("rotated", "revoked"), "description", "On a replay whose secret is null: why. A replay shows a secret only while it is still the token's, and records that as token.revealed."),
	))
	perms := obj("type", "array", "items", sref("Permission"), "minItems", 1)
	b.schemas.set("TokenCreate", closed(object([]string{"name", "permissions"},
		"name", name(),
		"campaign_id", obj("type", []any{"string", "null"}, "description", "The campaign of a campaign token; omit for an account-level token."),
		"filter_id", obj("type", []any{"string", "null"}, "description", "Required with campaign_id: a filter of that campaign, whose leads alone the token sees, or null for every lead of the campaign, on purpose."),
		"permissions", perms,
		"expires_at", obj("type", []any{"string", "null"}, "format", "date-time"),
	)).set("dependentRequired", obj("campaign_id", []any{"filter_id"})).set("examples", []any{obj("name", "Partner ABC", "campaign_id", exampleID, "filter_id", exampleFilterID, "permissions", stringEnum("read", "write"))}))
	b.schemas.set("TokenPatch", closed(object(nil,
		"name", name(),
		"filter_id", obj("type", []any{"string", "null"}, "description", "A filter of the token's campaign; null removes the filter."),
		"permissions", perms,
		"expires_at", obj("type", []any{"string", "null"}, "format", "date-time", "description", "null removes the expiry."),
	)))
	b.schemas.set("TokenRotate", closed(object(nil,
		"grace_period", obj("anyOf", []any{obj("type", "string", "description", `A duration such as "24h" or "90m".`),
			obj("type", "number", "minimum", 0, "maximum", 604800, "description", "Seconds."), obj("type", "null")},
			"description", "How long the old secret keeps working: absent, null or 0, it ends at once (the usual reason to rotate is a leak); at most 7 days."))))
	b.schemas.set("Empty", closed(obj("type", "object", "maxProperties", 0)))
	b.schemas.set("LeadErase", closed(object([]string{"reason"},
		"reason", obj("type", "string", "minLength", 1, "maxLength", domain.MaxEraseReason,
			"description", "Why the lead is erased (a request of the person, a retention policy); recorded in lead.erased. Say why, not who: it is kept."))))
	b.schemas.set("LeadErasure", object([]string{"lead_id", "erased_at", "fields", "rows", "chain_intact"},
		"lead_id", uuidSchema("The erased lead."),
		"erased_at", obj("type", "string", "format", "date-time"),
		"fields", obj("type", "array", "items", obj("type", "string"), "description", "The keys of the fields whose values were erased."),
		"rows", obj("type", "integer", "description", "How many of the lead's events were scrubbed."),
		"chain_intact", obj("type", "boolean", "description", "Whether the lead's hash chain verified when the erasure began; false stays reported by audit verify.")))
	b.schemas.set("TokenPage", page(sref("Token"), "The account's tokens, newest first; never their secrets."))
}

// auditComponents and webhookComponents list the members these routes
// answer; their objects stay open, and the contract tests do not cover
// them (x-leadsvc-contract).
func (b *builder) auditComponents() {
	nullableTime := func(desc string) *M {
		return obj("type", []any{"string", "null"}, "format", "date-time", "description", desc)
	}
	b.schemas.set("AuditEntry", object([]string{"stream_id", "type", "time", "actor", "request_id", "data"},
		"position", obj("type", "integer", "description", "The event's position in the log; absent on synthesized entries."),
		"stream_id", str("The event's stream (lead-…, token-…)."),
		"stream_version", obj("type", "integer", "description", "The event's version in its stream."),
		"event_id", uuidSchema("The event id (the CloudEvents id)."),
		"type", str("The event name, such as lead.created or token.revoked."),
		"time", timeSchema("When the event was recorded."),
		"campaign_id", uuidSchema("The event's campaign."),
		"actor", obj("anyOf", []any{object([]string{"token_id"}, "token_id", str("The acting token."), "name", str("Its name.")), obj("type", "null")},
			"description", "The token that caused the event; null for the service itself."),
		"request_id", str("The request that caused it."),
		"correlation_id", str(""), "causation_id", str(""),
		"data", obj("description", "The event's data."),
		"kind", str("What the entry is about, in a word."),
		"changes", list(object([]string{"field"}, "field", str("The member that changed."), "before", obj(), "after", obj()), "What changed."),
		"synthesized", obj("type", "boolean", "description", "An entry the log implies (an expiry) rather than an event."),
		"note", str("A remark for people."),
		"hash", str("The entry's link in the lead's hash chain."),
		"prev_hash", str("The previous link.")))
	integrity := object([]string{"intact", "first_break"},
		"intact", obj("type", "boolean", "description", "Whether every event's hash and link match."),
		"first_break", obj("description", "The first event whose hash or link does not match, or null."))
	b.schemas.set("AuditIntegrity", integrity)
	b.schemas.set("AuditLeadHistory", object([]string{"lead_id", "campaign_id", "version", "data", "integrity"},
		"lead_id", uuidSchema("The lead."), "campaign_id", uuidSchema("Its campaign."),
		"version", obj("type", "integer", "description", "The lead's latest version."),
		"data", list(sref("AuditEntry"), "The lead's events, in order."),
		"integrity", sref("AuditIntegrity")))
	b.schemas.set("AuditLeadVerify", object([]string{"lead_id", "intact", "first_break"},
		"lead_id", uuidSchema("The lead."),
		"intact", obj("type", "boolean"), "first_break", obj()))
	b.schemas.set("AuditLead", object([]string{"id", "campaign_id", "status", "fields", "files", "version", "created_at", "updated_at"},
		"id", uuidSchema("The lead."), "campaign_id", uuidSchema("Its campaign."), "status", str("Its status then."),
		"fields", obj("type", "object", "description", "Its field values then."),
		"files", obj("type", "array", "description", "Its files then."),
		"version", obj("type", "integer"), "created_at", timeSchema(""), "updated_at", timeSchema(""),
		"at", timeSchema("The moment asked for, when at was given.")))
	b.schemas.set("AuditTokenState", object([]string{"id", "name", "permissions"},
		"id", uuidSchema("The token."), "name", str(""), "campaign_id", obj("type", []any{"string", "null"}),
		"filter_id", obj("type", []any{"string", "null"}), "permissions", list(obj("type", "string"), ""),
		"expires_at", nullableTime(""), "revoked_at", nullableTime(""), "secret_prefix", str(""), "secret_last4", str(""),
		"created_at", timeSchema(""), "version", obj("type", "integer"), "state", str("active, revoked, expired, …")))
	b.schemas.set("AuditTokenHistory", object([]string{"token_id", "token", "data", "next_after"},
		"token_id", uuidSchema("The token."), "token", sref("AuditTokenState"),
		"data", list(sref("AuditEntry"), "Its lifecycle events and its writes, in log order."),
		"next_after", obj("type", []any{"integer", "null"}, "description", "Send as after for the next page; null on the last.")))
	b.schemas.set("AuditVisibleLeads", object([]string{"token_id", "at", "state", "token", "count", "data"},
		"token_id", uuidSchema("The token."), "at", timeSchema("The moment."),
		"state", str("active when the token could read; otherwise why it read nothing: not_created, revoked, expired, no_read_permission, filter_deleted."),
		"token", sref("AuditTokenState"),
		"filter", obj("description", "The token's filter as it was then, or null."),
		"count", obj("type", "integer"),
		"data", list(obj("type", "string", "format", "uuid"), "The ids of the leads the token could read then, sorted.")))
}

func (b *builder) webhookComponents() {
	nullableTime := obj("type", []any{"string", "null"}, "format", "date-time")
	b.schemas.set("Webhook", object([]string{"id", "campaign_id", "filter_id", "url", "event_types", "enabled", "created_at", "updated_at", "version"},
		"id", uuidSchema("The subscription's id."),
		"campaign_id", uuidSchema("The campaign whose lead events are delivered."),
		"filter_id", obj("type", []any{"string", "null"}, "format", "uuid", "description", "Only leads this filter lets through."),
		"url", obj("type", "string", "format", "uri", "description", "The HTTPS endpoint."),
		"event_types", list(obj("type", "string"), "Only these event types; empty for every type."),
		"enabled", obj("type", "boolean"),
		"disabled_at", nullableTime, "disabled_reason", obj("type", []any{"string", "null"}),
		"disabled_detail", obj("type", []any{"string", "null"}),
		"failing_since", nullableTime, "previous_secret_valid_until", nullableTime,
		"created_at", timeSchema(""), "updated_at", timeSchema(""), "version", obj("type", "integer"),
		"secret", obj("type", []any{"string", "null"}, "pattern", "^whsec_", "description", "The signing secret; only in the answers of create and rotate-secret. null when an Idempotency-Key replay may not show it (secret_withheld)."),
		"secret_withheld", obj("type", "string", "enum", stringEnum("rotated", "deleted"), "description", "On a replay whose secret is null: why. A replay shows a secret only while it is still the subscription's, and records that as webhook.secret_revealed.")))
	b.schemas.set("WebhookCreate", object([]string{"url", "campaign_id"},
		"url", obj("type", "string", "format", "uri"),
		"campaign_id", obj("type", "string", "format", "uuid"),
		"filter_id", obj("type", []any{"string", "null"}, "format", "uuid"),
		"event_types", obj("type", "array", "items", obj("type", "string"))))
	b.schemas.set("WebhookPatch", object(nil,
		"url", obj("type", "string", "format", "uri"),
		"filter_id", obj("type", []any{"string", "null"}, "format", "uuid"),
		"event_types", obj("type", "array", "items", obj("type", "string")),
		"enabled", obj("type", "boolean")))
	b.schemas.set("WebhookRotate", object(nil, "grace_period", obj("description",
		`How long the old secret keeps signing beside the new one: a duration such as "24h", or seconds; absent, null or 0, it stops at once; at most 7 days.`)))
	b.schemas.set("WebhookRedeliver", object(nil,
		"since", obj("type", "string", "format", "date-time", "description", "Deliver again every event since then."),
		"delivery_id", str("Deliver this one attempt's event again.")))
	b.schemas.set("WebhookAccepted", obj("type", "object", "description", "What was queued."))
	b.schemas.set("WebhookPage", page(sref("Webhook"), "The subscriptions."))
	b.schemas.set("Delivery", object([]string{"id", "event_id", "event_type", "attempt", "attempted_at", "success"},
		"id", str("The attempt's id."),
		"event_id", uuidSchema("The delivered event (the webhook-id header)."),
		"event_type", str("lead.created, lead.updated, …"),
		"lead_id", obj("type", []any{"string", "null"}), "lead_version", obj("type", []any{"integer", "null"}),
		"attempt", obj("type", "integer"), "attempted_at", timeSchema(""),
		"status", obj("type", []any{"integer", "null"}, "description", "The endpoint's HTTP status."),
		"latency_ms", obj("type", "number"), "response_excerpt", str(""), "error", obj("type", []any{"string", "null"}),
		"success", obj("type", "boolean"),
		"message_state", str("pending, delivered, failed (given up) or skipped."),
		"next_attempt_at", nullableTime))
	b.schemas.set("DeliveryPage", page(sref("Delivery"), "The delivery attempts, newest first."))
	b.schemas.set("CloudEvent", object([]string{"specversion", "id", "source", "type", "subject", "time", "data"},
		"specversion", obj("type", "string", "const", "1.0"),
		"id", str("The event id: the same in the event log, on NATS and in every delivery attempt (webhook-id)."),
		"source", str("/leadsvc/<account id>"),
		"type", str("The event name: lead.created, lead.updated, …"),
		"subject", str("The aggregate id (the lead's id)."),
		"time", timeSchema("When the event was recorded."),
		"data", obj("type", "object", "description", "The event's data; lead events carry the lead's version, so receivers can drop stale ones.")))
}

// createExampleComplete: every field a create needs has an example (a
// required select without options has none, and then no create is
// possible to show).
func (b *builder) createExampleComplete() bool {
	if b.noLead() {
		return false
	}
	for _, fd := range b.flds {
		if fd.NeedCreate && !fd.HasExample {
			return false
		}
	}
	return true
}

// retiredSchema documents the retired flag of a schema item; absent means
// false.
func retiredSchema(what string) *M {
	return obj("type", "boolean", "description", "Present and true when the "+what+
		" is retired: leads keep it and read it, new writes of it are refused (422, code retired).")
}
