package apidoc

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/leadsvc/leadsvc/domain"
)

// document assembles the OpenAPI document from the operations.
func (b *builder) document(ops []*operation) *M {
	b.defineComponents()
	paths := obj()
	for _, o := range ops {
		item, _ := paths.get(o.Path).(*M)
		if item == nil {
			item = obj()
			paths.set(o.Path, item)
		}
		item.set(strings.ToLower(o.Method), b.operationObject(o))
	}
	doc := obj(
		"openapi", OpenAPIVersion,
		"info", obj("title", b.title(), "version", "v1", "summary", b.summary(), "description", b.description()),
		"servers", []any{obj("url", b.s.PublicURL, "description", "leadsvc")},
		"security", []any{obj("bearerAuth", []any{})},
		"tags", b.tags(ops),
		"paths", paths,
	)
	if b.can(domain.PermAdmin) {
		doc.set("webhooks", b.webhooks())
	}
	if t := b.s.Token; t != nil {
		doc.set("x-leadsvc-token", b.tokenExtension())
	}
	comps := obj("securitySchemes", obj("bearerAuth", obj("type", "http", "scheme", "bearer", "bearerFormat", "lsk_…",
		"description", "Send Authorization: Bearer lsk_… with the token your administrator gave you. The secret never appears in these documents.")))
	used := b.usedComponents(doc)
	for _, kind := range []struct {
		name string
		m    *M
	}{{"schemas", b.schemas}, {"parameters", b.parameters}, {"headers", b.headers}, {"responses", b.responses}} {
		out := obj()
		names := make([]string, 0, kind.m.len())
		for _, e := range kind.m.kv {
			if used["#/components/"+kind.name+"/"+e.k] {
				names = append(names, e.k)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			out.set(n, kind.m.get(n))
		}
		if out.len() > 0 {
			comps.set(kind.name, out)
		}
	}
	doc.set("components", comps)
	return doc
}

// usedComponents follows $refs from the paths and webhooks through the
// components, so that the document holds only what it uses.
func (b *builder) usedComponents(doc *M) map[string]bool {
	used := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case *M:
			for _, e := range x.kv {
				if e.k == "$ref" {
					r, _ := e.v.(string)
					if used[r] {
						continue
					}
					used[r] = true
					parts := strings.Split(strings.TrimPrefix(r, "#/components/"), "/")
					if len(parts) != 2 {
						continue
					}
					var m *M
					switch parts[0] {
					case "schemas":
						m = b.schemas
					case "parameters":
						m = b.parameters
					case "headers":
						m = b.headers
					case "responses":
						m = b.responses
					}
					if m != nil {
						walk(m.get(parts[1]))
					}
					continue
				}
				walk(e.v)
			}
		case []any:
			for _, it := range x {
				walk(it)
			}
		}
	}
	walk(doc)
	return used
}

func (b *builder) operationObject(o *operation) *M {
	op := obj("operationId", o.ID, "tags", []any{o.Tag}, "summary", o.Summary)
	desc := o.Description
	if perm := string(o.Perm); perm != "" {
		desc = strings.TrimSpace(desc + "\n\nNeeds the " + perm + " permission.")
	}
	op.set("description", desc)
	if len(o.Params) > 0 {
		ps := make([]any, len(o.Params))
		for i, p := range o.Params {
			ps[i] = p
		}
		op.set("parameters", ps)
	}
	if o.Body != nil {
		media := obj("schema", sref(o.Body.Schema))
		if ex := b.bodyExample(o); ex != nil {
			media.set("example", ex)
		}
		op.set("requestBody", obj("required", o.Body.Required, "content", obj(o.Body.MediaType, media)))
	}
	rs := obj()
	for _, r := range o.Responses {
		if r.Ref != "" {
			rs.set(r.Status, ref("responses", r.Ref))
			continue
		}
		h := obj("X-Request-Id", ref("headers", "X-Request-Id"), "RateLimit", ref("headers", "RateLimit"),
			"RateLimit-Policy", ref("headers", "RateLimit-Policy"))
		for _, name := range r.Headers {
			h.set(name, b.header(name))
			if name == "Leadsvc-Position" {
				h.set("Idempotent-Replayed", ref("headers", "Idempotent-Replayed"))
			}
		}
		ro := obj("description", r.Desc, "headers", h)
		switch {
		case r.Schema == "-binary":
			ro.set("content", obj(r.MediaType, obj("schema", obj("type", "string", "contentMediaType", "application/octet-stream"))))
		case r.Schema != "":
			media := obj("schema", sref(r.Schema))
			if ex := b.responseExample(o, r); ex != nil {
				media.set("example", ex)
			}
			ro.set("content", obj(r.MediaType, media))
		}
		rs.set(r.Status, ro)
	}
	op.set("responses", rs)
	op.set("x-codeSamples", b.codeSamplesExtension(o))
	if o.Unverified {
		op.set("x-leadsvc-contract", "Not covered by the contract tests; members beyond those listed may appear.")
	}
	return op
}

// header is a reference to a shared header, or an inline one for the
// headers only a file download sends.
func (b *builder) header(name string) *M {
	switch name {
	case "Content-Disposition":
		return obj("description", `attachment; filename="…"`, "required", true, "schema", obj("type", "string", "pattern", "^attachment"))
	case "Repr-Digest":
		return obj("description", "sha-256=:<base64>: of the bytes (RFC 9530).", "required", true, "schema", obj("type", "string", "pattern", "^sha-256=:"))
	case "Digest":
		return obj("description", "sha-256=<base64>, the older form of Repr-Digest.", "required", true, "schema", obj("type", "string"))
	case "X-Content-Type-Options":
		return obj("description", "nosniff.", "required", true, "schema", obj("type", "string", "const", "nosniff"))
	case "Content-Security-Policy":
		return obj("description", "sandbox: a browser never runs a downloaded file.", "required", true, "schema", obj("type", "string"))
	case "ETag":
		return ref("headers", "ETag")
	}
	return ref("headers", name)
}

func (b *builder) bodyExample(o *operation) any {
	if s, ok := b.schemas.get(o.Body.Schema).(*M); ok {
		if ex, ok := s.get("examples").([]any); ok && len(ex) > 0 {
			return ex[0]
		}
	}
	return nil
}

func (b *builder) responseExample(o *operation, r resp) any {
	if b.noLead() {
		if r.Schema == "LeadPage" {
			return obj("data", []any{}, "next_cursor", null)
		}
		if r.Schema != "TokenSchema" {
			return nil
		}
	}
	switch r.Schema {
	case "Lead":
		if o.ID == "updateLead" {
			return b.updatedLeadExample(o)
		}
		return b.leadExample(o.ID == "createLead")
	case "LeadList":
		return obj("data", b.createdExamples())
	case "LeadPage":
		return obj("data", []any{b.leadExample(false)}, "next_cursor", null)
	case "File":
		return b.fileExample()
	case "FilePage":
		return obj("data", []any{b.fileExample()}, "next_cursor", null)
	case "TokenSchema":
		if b.campaignScoped() {
			return b.tokenSchemaExample()
		}
	}
	return nil
}

// updatedLeadExample is the lead example after the operation's request
// example: its status and fields applied (null clears a field), one
// version later, so that the answer shown matches the request shown.
func (b *builder) updatedLeadExample(o *operation) *M {
	lead := b.leadExample(false)
	req, _ := b.bodyExample(o).(*M)
	if req == nil {
		return lead
	}
	if st := req.get("status"); st != nil {
		lead.set("status", st)
	}
	if changed, ok := req.get("fields").(*M); ok {
		fields, _ := lead.get("fields").(*M)
		if fields == nil {
			fields = obj()
		}
		for _, m := range changed.kv {
			if m.v == null {
				fields.del(m.k)
				continue
			}
			fields.set(m.k, m.v)
		}
		lead.set("fields", fields)
	}
	return lead.set("version", 2).set("updated_at", exampleUpdated)
}

// tokenSchemaExample is what GET /v1/schema answers this token now.
func (b *builder) tokenSchemaExample() *M {
	c, t := b.camp, b.s.Token
	fields := make([]any, 0, len(b.shown.Fields))
	for _, f := range b.shown.Fields {
		fields = append(fields, fromPlain(toPlain(f)))
	}
	selects := make([]any, 0, len(b.shown.Selects))
	for _, s := range b.shown.Selects {
		opts := make([]any, 0, len(s.Options))
		for _, o := range s.Options {
			opt := obj("value", o.Value, "label", o.Label)
			if o.Retired {
				opt.set("retired", true)
			}
			opts = append(opts, opt)
		}
		selects = append(selects, obj("key", s.Key, "label", s.Label, "options", opts))
	}
	statuses := make([]any, 0, len(b.shown.Statuses))
	for _, s := range b.shown.Statuses {
		st := obj("slug", s.Slug, "label", s.Label)
		if s.Retired {
			st.set("retired", true)
		}
		statuses = append(statuses, st)
	}
	perms := make([]any, 0)
	for _, p := range t.Permissions {
		perms = append(perms, string(p))
	}
	scope := b.scopeWords()
	var filter any = null
	defaults := obj()
	if f := t.Scope.Filter(); f != nil {
		conds := make([]any, 0)
		for _, cd := range f.Conditions {
			conds = append(conds, fromPlain(toPlain(cd)))
		}
		filter = obj("id", f.ID.String(), "campaign_id", c.ID.String(), "name", f.Name, "match", string(f.Match()),
			"conditions", conds, "explain", append([]any{}, scope...), "version", f.Version)
	}
	for _, k := range slices.Sorted(maps.Keys(b.defaults)) {
		defaults.set(k, plainValue(b.defaults[k]))
	}
	return obj("campaign", obj("id", c.ID.String(), "name", c.Name, "fields", fields, "selects", selects, "statuses", statuses,
		"version", c.Version, "created_at", c.CreatedAt.UTC().Format("2006-01-02T15:04:05Z07:00"),
		"updated_at", c.UpdatedAt.UTC().Format("2006-01-02T15:04:05Z07:00")),
		"permissions", perms, "filter", filter, "scope", scope, "defaults", defaults)
}

// scopeWords says in words which leads the token sees, as GET /v1/schema
// does.
func (b *builder) scopeWords() []any {
	var out []any
	for _, s := range b.s.Token.Scope.Explain(b.schema) {
		out = append(out, s)
	}
	return out
}

var tagWords = map[string]string{
	"Leads":     "Read and write the leads this token's scope allows.",
	"Files":     "Files attached to a lead: metadata in the lead, bytes at each file's url.",
	"Schema":    "The campaign schema the token sees, live.",
	"Campaigns": "Campaigns and their schemas: fields, select lists, statuses. Account-level tokens with admin.",
	"Filters":   "Filters: the data slice a token may see.",
	"Tokens":    "Tokens: named, scoped, revocable credentials.",
	"Webhooks":  "Lead events delivered to your HTTPS endpoint, signed per Standard Webhooks.",
	"Audit":     "Replay token and lead history from the event log. Account-level tokens with audit.",
	"Privacy":   "Everything held about a lead, in one document. Account-level tokens with admin.",
}

func (b *builder) tags(ops []*operation) []any {
	var out []any
	seen := map[string]bool{}
	for _, o := range ops {
		if !seen[o.Tag] {
			seen[o.Tag] = true
			out = append(out, obj("name", o.Tag, "description", tagWords[o.Tag]))
		}
	}
	return out
}

func (b *builder) summary() string {
	t := b.s.Token
	switch {
	case t == nil:
		return "Every route of the REST API: partners, admins, audit and webhooks."
	case t.Campaign == nil:
		return "What this account-level token may do."
	}
	return fmt.Sprintf("The leads of campaign %q this token may %s.", t.Campaign.Name, b.verbs())
}

func (b *builder) verbs() string {
	switch {
	case b.can(domain.PermRead) && b.can(domain.PermWrite):
		return "read and write"
	case b.can(domain.PermWrite):
		return "write"
	case b.can(domain.PermRead):
		return "read"
	}
	return "reach"
}

// description is the document's introduction in Markdown: the token's
// access in words, then the conventions every route follows.
func (b *builder) description() string {
	p := append(b.accessWords(), conventions)
	return strings.Join(p, "\n\n")
}

// accessWords are the paragraphs about what the documented token may do.
func (b *builder) accessWords() []string {
	t := b.s.Token
	if t == nil {
		return []string{"The REST API of leadsvc. Admins (an account-level token with admin) shape campaigns, filters, tokens and webhooks; partners read and write the leads their token's campaign and filter allow; auditors replay history. Every token has its own documentation at its docs_url, generated from its campaign's live schema: the fields, options and statuses it meets, and only the operations it may call."}
	}
	var p []string
	perms := make([]string, len(t.Permissions))
	for i, pm := range t.Permissions {
		perms[i] = string(pm)
	}
	if t.Campaign == nil {
		p = append(p, fmt.Sprintf("These documents are for the account-level token %q (permissions: %s). It reaches every campaign of the account: lead writes name campaign_id, and GET /v1/schema?campaign_id= shows a campaign's fields.", t.Name, strings.Join(perms, ", ")))
		return p
	}
	p = append(p, fmt.Sprintf("These documents are for the token %q of campaign **%s** (permissions: %s). They are generated from the campaign's schema as it is now: a new field, option or status shows here on your next visit.", t.Name, t.Campaign.Name, strings.Join(perms, ", ")))
	switch {
	case t.Scope.Closed():
		p = append(p, "**Scope:** this token's filter was deleted, so it sees no lead and cannot write one. Ask your administrator.")
	case t.Scope.Filter() != nil:
		var lines []string
		for _, s := range t.Scope.Explain(b.schema) {
			lines = append(lines, "- "+s)
		}
		p = append(p, "**Scope:** this token sees only the leads that meet its filter:\n\n"+strings.Join(lines, "\n"))
		if b.can(domain.PermWrite) {
			if w := strings.TrimSpace(b.createNote()); w != "" {
				p = append(p, w)
			}
		}
	default:
		p = append(p, "**Scope:** this token sees every lead of the campaign.")
	}
	if !b.can(domain.PermWrite) {
		p = append(p, "This token is read-only: it cannot create or change leads, so no write operation is listed.")
	}
	return p
}

// conventions are the rules every route follows (docs/api.md).
const conventions = `**Conventions.** JSON everywhere, under /v1, with Authorization: Bearer lsk_… .
Errors are RFC 9457 application/problem+json with a field-level errors list: 400 when the request cannot be read, 422 when its content is refused; a refused request changes nothing.
Input is strict: member names match exactly (case included), and an unknown or repeated member, a NUL character (\u0000) or text that is not UTF-8 in a member, parameter or path is 400 naming it; limit is an integer from 1 to 1000 (anything else is 400).
Writes accept Idempotency-Key (kept 24 hours per token): a retry with the same key and request answers the first response again.
Leads answer ETag: "<version>"; PATCH with If-Match: "<version>" is 412 when someone changed the lead first.
Lists page with an opaque, signed next_cursor (null on the last page) and a Link: rel="next" header.
Every response carries RateLimit-Policy and RateLimit; past the quota the answer is 429 with Retry-After, before anything is read. Failed authentications from one address are limited too.
Reads come from views that lag writes by a little: a write answers Leadsvc-Position, and a read sent with Leadsvc-Min-Position waits (at most 5 s) for it, or says Leadsvc-Stale: true.
Every response carries X-Request-Id; quote it when reporting a problem.`

// tokenExtension restates the token's scope for tools: permissions, the
// filter in words and the create defaults.
func (b *builder) tokenExtension() *M {
	t := b.s.Token
	perms := make([]any, len(t.Permissions))
	for i, p := range t.Permissions {
		perms[i] = string(p)
	}
	ext := obj("name", t.Name, "permissions", perms)
	if t.Campaign != nil {
		ext.set("campaign_id", t.Campaign.ID.String())
		ext.set("campaign_name", t.Campaign.Name)
	}
	if t.Campaign == nil {
		ext.set("scope", []any{domain.ScopeEveryLead})
		return ext
	}
	ext.set("scope", b.scopeWords())
	if t.Scope.Filter() != nil {
		defs := obj()
		for _, k := range slices.Sorted(maps.Keys(b.defaults)) {
			defs.set(k, plainValue(b.defaults[k]))
		}
		ext.set("create_defaults", defs)
	}
	return ext
}

// webhooks documents the deliveries an endpoint receives (OpenAPI 3.1
// webhooks).
func (b *builder) webhooks() *M {
	hdr := func(desc string) *M {
		return obj("name", "", "in", "header", "required", true, "description", desc, "schema", obj("type", "string"))
	}
	params := []any{
		hdr("The event id, the same on every attempt: drop repeats.").set("name", "webhook-id"),
		hdr("Unix seconds of the attempt; refuse old ones.").set("name", "webhook-timestamp"),
		hdr("v1,<base64 HMAC-SHA256 of id.timestamp.body> with the subscription's whsec_ secret.").set("name", "webhook-signature"),
	}
	return obj("leadEvent", obj("post", obj(
		"operationId", "leadEvent", "tags", []any{"Webhooks"}, "summary", "A lead event delivered to your endpoint",
		"description", "A CloudEvents 1.0 envelope. Answer 2xx within 15 s; other answers are retried (after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h); 410 Gone disables the subscription.",
		"security", []any{},
		"parameters", params,
		"requestBody", obj("required", true, "content", obj("application/cloudevents+json", obj("schema", sref("CloudEvent")))),
		"responses", obj("2XX", obj("description", "Received.")),
		"x-leadsvc-contract", "Not covered by the contract tests.",
	)))
}
