package apidoc

import (
	"strings"

	"github.com/leadsvc/leadsvc/domain"
)

// operation is one route as every document shows it.
type operation struct {
	Method, Path, ID, Tag, Summary, Description string
	Perm                                        domain.Permission
	Params                                      []*M
	Body                                        *body
	Responses                                   []resp
	// Unverified marks routes the contract tests do not exercise (audit,
	// webhooks): their objects may hold members beyond those listed.
	Unverified bool
}

type body struct {
	MediaType string
	Schema    string // component schema
	Required  bool
}

type resp struct {
	Status    string
	Ref       string // a component response (the problems)
	Desc      string
	Headers   []string
	Schema    string // component schema; "" for no body
	MediaType string
}

var problemRefs = map[string]string{"400": "BadRequest", "401": "Unauthenticated", "403": "Forbidden", "404": "NotFound",
	"409": "Conflict", "410": "Gone", "412": "PreconditionFailed", "413": "TooLarge", "415": "UnsupportedMediaType", "422": "Unprocessable",
	"429": "TooManyRequests", "500": "Internal", "503": "UploadsBusy"}

// errs are the problem answers of an operation: the ones every
// authenticated route can give, and those listed.
func errs(statuses ...string) []resp {
	// Any route can be 400: a path segment or parameter that is not text.
	all := append(append([]string{}, statuses...), "400", "401", "403", "429", "500")
	out := make([]resp, 0, len(all))
	seen := map[string]bool{}
	for _, s := range sortedStatuses(all) {
		if !seen[s] {
			seen[s] = true
			out = append(out, resp{Status: s, Ref: problemRefs[s]})
		}
	}
	return out
}

func sortedStatuses(s []string) []string {
	out := append([]string{}, s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func ok(status, desc, schema string, headers ...string) resp {
	r := resp{Status: status, Desc: desc, Schema: schema, Headers: headers}
	if schema != "" {
		r.MediaType = "application/json"
	}
	return r
}

func pathID(desc string) *M {
	return obj("name", "id", "in", "path", "required", true, "description", desc+" A malformed id is 404, like a missing one.",
		"schema", obj("type", "string", "format", "uuid"))
}

func query(name, desc string, schema *M) *M {
	return obj("name", name, "in", "query", "description", desc, "schema", schema)
}

func jsonBody(schema string, required bool) *body {
	return &body{MediaType: "application/json", Schema: schema, Required: required}
}

const writesNote = " Accepts Idempotency-Key."

// operations are the routes the documented token may call, in order.
func (b *builder) operations() []*operation {
	var ops []*operation
	add := func(o *operation) {
		if b.can(o.Perm) {
			ops = append(ops, o)
		}
	}
	idem, ifMatch, minPos := ref("parameters", "IdempotencyKey"), ref("parameters", "IfMatch"), ref("parameters", "MinPosition")
	leadID := pathID("The lead's id.")
	fileID := obj("name", "file_id", "in", "path", "required", true, "description", "The file's id.",
		"schema", obj("type", "string", "format", "uuid"))
	campaignQuery := query("campaign_id", "Account-level tokens: only leads of this campaign.", obj("type", "string", "format", "uuid"))
	schemaCampaign := query("campaign_id", "The campaign whose schema to show; account-level tokens must name it.", obj("type", "string", "format", "uuid"))
	if b.campaignScoped() {
		campaignQuery = query("campaign_id", "Optional: this token reads its own campaign only.", obj("type", "string", "format", "uuid", "const", b.camp.ID.String()))
		schemaCampaign = query("campaign_id", "Optional: this token's campaign.", obj("type", "string", "format", "uuid", "const", b.camp.ID.String()))
	} else {
		schemaCampaign.set("required", true)
	}
	scopeNote := b.scopeNote()

	add(&operation{Method: "GET", Path: "/v1/leads", ID: "listLeads", Tag: "Leads", Perm: domain.PermRead,
		Summary: "List leads",
		Description: "Pages through the leads this token sees, in (updated_at, id) order." + scopeNote +
			" A page can hold fewer than limit leads and still have a next_cursor; follow next_cursor (or the Link header) until it is null. A lead changed while you page moves behind the cursor and is seen again, never skipped.",
		Params: []*M{
			query("limit", "Page size: default 50; an integer outside 1 to 1000 is refused (400).", obj("type", "integer", "minimum", 1, "maximum", 1000, "default", 50)),
			query("cursor", "next_cursor of the previous page. Signed and bound to this token and to the other parameters (not limit).", obj("type", "string")),
			query("status", "Only leads with this status slug.", obj("type", "string", "minLength", 1, "maxLength", 64)),
			query("updated_since", "Only leads updated at or after this RFC 3339 date-time.", obj("type", "string", "format", "date-time")),
			campaignQuery, minPos},
		Responses: append([]resp{ok("200", "A page of leads.", "LeadPage", "Link", "Leadsvc-Stale")}, errs("400")...)})
	add(&operation{Method: "POST", Path: "/v1/leads", ID: "createLead", Tag: "Leads", Perm: domain.PermWrite,
		Summary:     "Create a lead",
		Description: "Creates a lead in this token's campaign." + b.createNote() + writesNote,
		Params:      []*M{idem}, Body: jsonBody("LeadCreate", true),
		Responses: append([]resp{ok("201", "The created lead; defaulted lists the members filled in from the token's filter.", "Lead",
			"Location", "ETag", "Leadsvc-Position")}, errs("400", "404", "409", "410", "413", "415", "422")...)})
	add(&operation{Method: "POST", Path: "/v1/leads/batch", ID: "createLeads", Tag: "Leads", Perm: domain.PermWrite,
		Summary: "Create leads in a batch",
		Description: "Creates 1 to 100 leads in one transaction, all or none: each lead is read and checked exactly as POST /v1/leads checks one." + b.createNote() +
			" When any lead is refused, nothing is written, and the 422 problem names the members of every refused lead by its index (leads[3].fields.budget). Accepts Idempotency-Key, which covers the whole batch. A batch costs one unit of the rate limit per lead.",
		Params: []*M{idem}, Body: jsonBody("LeadBatch", true),
		Responses: append([]resp{ok("201", "The created leads, in the order sent; defaulted lists the members filled in from the token's filter. A read sent with the answer's Leadsvc-Position sees every lead of the batch.",
			"LeadList", "Leadsvc-Position")}, errs("400", "409", "410", "413", "415", "422")...)})
	add(&operation{Method: "GET", Path: "/v1/leads/{id}", ID: "getLead", Tag: "Leads", Perm: domain.PermRead,
		Summary: "Get a lead", Description: "One lead; a lead outside this token's scope is 404, exactly like a missing one.",
		Params:    []*M{leadID, minPos},
		Responses: append([]resp{ok("200", "The lead.", "Lead", "ETag", "Leadsvc-Stale")}, errs("400", "404", "410")...)})
	add(&operation{Method: "PATCH", Path: "/v1/leads/{id}", ID: "updateLead", Tag: "Leads", Perm: domain.PermWrite,
		Summary:     "Change a lead",
		Description: "Changes the status and the fields given; omitted fields keep their values and null clears an optional one. A change that would take the lead outside the token's filter is 422 outside-scope." + writesNote,
		Params:      []*M{leadID, ifMatch, idem}, Body: jsonBody("LeadUpdate", true),
		Responses: append([]resp{ok("200", "The changed lead.", "Lead", "ETag", "Leadsvc-Position")},
			errs("400", "404", "409", "410", "412", "413", "415", "422")...)})
	add(&operation{Method: "GET", Path: "/v1/leads/{id}/files", ID: "listFiles", Tag: "Files", Perm: domain.PermRead,
		Summary: "List a lead's files", Params: []*M{leadID, minPos},
		Responses: append([]resp{ok("200", "The lead's files.", "FilePage", "Leadsvc-Stale")}, errs("400", "404", "410")...)})
	add(&operation{Method: "POST", Path: "/v1/leads/{id}/files", ID: "uploadFile", Tag: "Files", Perm: domain.PermWrite,
		Summary:     "Upload a file",
		Description: "multipart/form-data with one part named file. Retries are recognised by the file's name, type and bytes, not by the multipart framing. An account's files share a quota (413 upload-quota-exceeded), and uploads in progress at once are capped per account (429 too-many-uploads) and per service (503 uploads-busy), both with Retry-After." + writesNote,
		Params:      []*M{leadID, idem}, Body: &body{MediaType: "multipart/form-data", Schema: "FileUpload", Required: true},
		Responses: append([]resp{ok("201", "The file's metadata.", "File", "Location", "ETag", "Leadsvc-Position")},
			errs("400", "404", "409", "410", "413", "415", "422", "503")...)})
	add(&operation{Method: "GET", Path: "/v1/leads/{id}/files/{file_id}", ID: "downloadFile", Tag: "Files", Perm: domain.PermRead,
		Summary:     "Download a file",
		Description: "The bytes, with the recorded Content-Type, as an attachment. If-None-Match with the ETag answers 304.",
		Params: []*M{leadID, fileID, minPos, obj("name", "If-None-Match", "in", "header", "description", "The ETag you hold: 304 when it still matches.",
			"schema", obj("type", "string"))},
		Responses: append([]resp{
			{Status: "200", Desc: "The file's bytes.", MediaType: "*/*", Schema: "-binary",
				Headers: []string{"ETag", "Content-Disposition", "Repr-Digest", "Digest", "X-Content-Type-Options", "Content-Security-Policy", "Leadsvc-Stale"}},
			{Status: "304", Desc: "Not modified: the ETag still matches.", Headers: []string{"ETag"}},
		}, errs("400", "404")...)})
	add(&operation{Method: "DELETE", Path: "/v1/leads/{id}/files/{file_id}", ID: "deleteFile", Tag: "Files", Perm: domain.PermWrite,
		Summary: "Delete a file", Description: "Removes the file from the lead." + writesNote,
		Params:    []*M{leadID, fileID, idem},
		Responses: append([]resp{ok("204", "Deleted.", "", "Leadsvc-Position")}, errs("400", "404", "409", "410")...)})
	add(&operation{Method: "GET", Path: "/v1/schema", ID: "getSchema", Tag: "Schema", Perm: domain.PermRead,
		Summary:     "Get the campaign schema this token sees",
		Description: "The campaign's fields, selects and statuses as they are now, the token's permissions, its filter in words and the values a create fills in.",
		Params:      []*M{schemaCampaign},
		Responses:   append([]resp{ok("200", "The schema and the token's scope.", "TokenSchema")}, errs("400", "404")...)})

	b.adminOperations(add, idem, ifMatch)
	b.auditOperations(add)
	return ops
}

func (b *builder) scopeNote() string {
	t := b.s.Token
	switch {
	case t == nil || t.Campaign == nil:
		return " An account-level token sees every lead of the account; a campaign token only its campaign's, through its filter."
	case t.Scope.Closed():
		return " This token's filter was deleted: it sees no lead."
	case t.Scope.Filter() != nil:
		return " This token sees only the leads its filter lets through: " + strings.Join(t.Scope.Explain(b.schema), "; ") + "."
	}
	return " This token sees every lead of its campaign."
}

func (b *builder) createNote() string {
	if !b.campaignScoped() {
		return " Account-level tokens name campaign_id; campaign tokens may leave it out. A token with a filter fills in the fields its eq conditions pin when they are omitted, and refuses a lead its filter would not let through (422 outside-scope)."
	}
	var parts []string
	if must := b.mustWords(); must != "" {
		parts = append(parts, " Leads you create must have "+must+".")
	}
	var defs []string
	for _, fd := range b.flds {
		if fd.HasDefault {
			defs = append(defs, fd.Key+" = "+jsonText(fd.Default))
		}
	}
	if v, ok := b.defaults[domain.AttrStatus]; ok {
		defs = append(defs, "status = "+jsonText(v))
	}
	if len(defs) > 0 {
		parts = append(parts, " When you leave them out, these are filled in: "+strings.Join(defs, ", ")+"; the answer lists them in defaulted.")
	}
	if len(parts) > 0 {
		parts = append(parts, " A lead the filter would not let through is refused with 422 outside-scope, naming the condition.")
	}
	return strings.Join(parts, "")
}

// mustWords is the token's filter in words, or "".
func (b *builder) mustWords() string {
	t := b.s.Token
	if t == nil || t.Scope.Filter() == nil || t.Campaign == nil {
		return ""
	}
	return strings.Join(t.Scope.Explain(b.schema), " and ")
}

func (b *builder) adminOperations(add func(*operation), idem, ifMatch *M) {
	campaignID := pathID("The campaign's id.")
	filterID := pathID("The filter's id.")
	tokenID := pathID("The token's id.")
	writeErrs := errs("400", "404", "409", "413", "415", "422")
	patchErrs := errs("400", "404", "409", "412", "413", "415", "422") // a conditional change
	admin := func(o *operation) {
		o.Perm = domain.PermAdmin
		add(o)
	}
	admin(&operation{Method: "POST", Path: "/v1/campaigns", ID: "createCampaign", Tag: "Campaigns", Summary: "Create a campaign",
		Description: "A campaign with its fields, select lists and statuses." + writesNote, Params: []*M{idem}, Body: jsonBody("CampaignCreate", true),
		Responses: append([]resp{ok("201", "The campaign.", "Campaign", "Location", "ETag", "Leadsvc-Position")}, errs("400", "409", "413", "415", "422")...)})
	admin(&operation{Method: "GET", Path: "/v1/campaigns", ID: "listCampaigns", Tag: "Campaigns", Summary: "List campaigns",
		Responses: append([]resp{ok("200", "The account's campaigns.", "CampaignPage")}, errs("400")...)})
	admin(&operation{Method: "GET", Path: "/v1/campaigns/{id}", ID: "getCampaign", Tag: "Campaigns", Summary: "Get a campaign",
		Params: []*M{campaignID}, Responses: append([]resp{ok("200", "The campaign.", "Campaign", "ETag")}, errs("404")...)})
	admin(&operation{Method: "PATCH", Path: "/v1/campaigns/{id}", ID: "changeCampaign", Tag: "Campaigns", Summary: "Change a campaign",
		Description: "Exactly one of name, add_field, add_select, add_status. If-Match holds at the append. To rename, reorder or retire what exists, use the option, field and status changes below." + writesNote,
		Params:      []*M{campaignID, ifMatch, idem}, Body: jsonBody("CampaignPatch", true),
		Responses: append([]resp{ok("200", "The campaign.", "Campaign", "ETag", "Leadsvc-Position")},
			patchErrs...)})
	admin(&operation{Method: "POST", Path: "/v1/campaigns/{id}/selects/{key}/options", ID: "addSelectOption", Tag: "Campaigns",
		Summary: "Add a select option", Description: "Adds an option to a select list, such as a new partner in the source list." + writesNote,
		Params: []*M{campaignID, obj("name", "key", "in", "path", "required", true, "description", "The select list's key.",
			"schema", obj("type", "string")), idem}, Body: jsonBody("OptionInput", true),
		Responses: append([]resp{ok("201", "The campaign.", "Campaign", "ETag", "Leadsvc-Position")}, writeErrs...)})
	pathKey := func(name, desc string) *M {
		return obj("name", name, "in", "path", "required", true, "description", desc, "schema", obj("type", "string"))
	}
	evolves := " Each request is one event in the campaign's history; If-Match holds at the append." + writesNote
	admin(&operation{Method: "PATCH", Path: "/v1/campaigns/{id}/selects/{key}/options/{value}", ID: "changeSelectOption", Tag: "Campaigns",
		Summary:     "Rename or retire a select option",
		Description: "Changes an option's label, or retires it (or restores it). Its value stays what leads and filters hold. A retired option stays on the leads that have it and in the filters that name it; new writes of it are 422 (code retired)." + evolves,
		Params:      []*M{campaignID, pathKey("key", "The select list's key."), pathKey("value", "The option's value."), ifMatch, idem},
		Body:        jsonBody("OptionChange", true),
		Responses:   append([]resp{ok("200", "The campaign.", "Campaign", "ETag", "Leadsvc-Position")}, patchErrs...)})
	admin(&operation{Method: "PATCH", Path: "/v1/campaigns/{id}/fields/{key}", ID: "changeField", Tag: "Campaigns",
		Summary:     "Rename, reorder, require or retire a field",
		Description: "Changes a field's label, whether creates must give it, its position (1 is first), or retires it (or restores it). Its key and type stay. A retired field is never required; leads keep its values, and new values are 422 (code retired)." + evolves,
		Params:      []*M{campaignID, pathKey("key", "The field's key."), ifMatch, idem},
		Body:        jsonBody("FieldChange", true),
		Responses:   append([]resp{ok("200", "The campaign.", "Campaign", "ETag", "Leadsvc-Position")}, patchErrs...)})
	admin(&operation{Method: "PATCH", Path: "/v1/campaigns/{id}/statuses/{slug}", ID: "changeStatus", Tag: "Campaigns",
		Summary:     "Rename, reorder or retire a status",
		Description: "Changes a status's label, its position (1 is first), or retires it (or restores it). Its slug stays. Leads keep a retired status; no lead moves to one (422, code retired), a new lead gets the first status that is not retired, and the last active status cannot retire." + evolves,
		Params:      []*M{campaignID, pathKey("slug", "The status's slug."), ifMatch, idem},
		Body:        jsonBody("StatusChange", true),
		Responses:   append([]resp{ok("200", "The campaign.", "Campaign", "ETag", "Leadsvc-Position")}, patchErrs...)})
	admin(&operation{Method: "PUT", Path: "/v1/campaigns/{id}/retention", ID: "setRetention", Tag: "Campaigns",
		Summary:     "Set the campaign's retention policy",
		Description: "From then on a background job erases the campaign's leads once erase_after has passed since they were created or last changed (counted_from), as POST /v1/leads/{id}/erase would, with the policy as the reason. The same policy again changes nothing." + evolves,
		Params:      []*M{campaignID, ifMatch, idem},
		Body:        jsonBody("Retention", true),
		Responses:   append([]resp{ok("200", "The campaign.", "Campaign", "ETag", "Leadsvc-Position")}, patchErrs...)})
	admin(&operation{Method: "DELETE", Path: "/v1/campaigns/{id}/retention", ID: "removeRetention", Tag: "Campaigns",
		Summary:     "Remove the campaign's retention policy",
		Description: "Its leads are kept until erased one by one." + evolves,
		Params:      []*M{campaignID, ifMatch, idem},
		Responses:   append([]resp{ok("200", "The campaign.", "Campaign", "ETag", "Leadsvc-Position")}, errs("400", "404", "409", "412")...)})
	admin(&operation{Method: "POST", Path: "/v1/campaigns/{id}/filters", ID: "createFilter", Tag: "Filters", Summary: "Create a filter",
		Description: "A filter is the data slice a token may see: every condition must hold, and one condition of each any group." + writesNote,
		Params:      []*M{campaignID, idem}, Body: jsonBody("FilterCreate", true),
		Responses: append([]resp{ok("201", "The filter, explained in words.", "Filter", "Location", "ETag", "Leadsvc-Position")}, writeErrs...)})
	admin(&operation{Method: "GET", Path: "/v1/campaigns/{id}/filters", ID: "listFilters", Tag: "Filters", Summary: "List a campaign's filters",
		Params: []*M{campaignID}, Responses: append([]resp{ok("200", "The filters.", "FilterPage")}, errs("400", "404")...)})
	admin(&operation{Method: "GET", Path: "/v1/filters/{id}", ID: "getFilter", Tag: "Filters", Summary: "Get a filter",
		Params: []*M{filterID}, Responses: append([]resp{ok("200", "The filter.", "Filter", "ETag")}, errs("404")...)})
	admin(&operation{Method: "PATCH", Path: "/v1/filters/{id}", ID: "updateFilter", Tag: "Filters", Summary: "Change a filter",
		Description: "The members given replace the filter's (any: null clears the groups). Tokens using the filter see the change on their next request." + writesNote,
		Params:      []*M{filterID, ifMatch, idem}, Body: jsonBody("FilterPatch", true),
		Responses: append([]resp{ok("200", "The filter.", "Filter", "ETag", "Leadsvc-Position")},
			patchErrs...)})
	admin(&operation{Method: "DELETE", Path: "/v1/filters/{id}", ID: "deleteFilter", Tag: "Filters", Summary: "Delete a filter",
		Description: "Tokens using it see nothing from then on." + writesNote, Params: []*M{filterID, ifMatch, idem},
		Responses: append([]resp{ok("204", "Deleted.", "", "Leadsvc-Position")}, errs("400", "404", "409", "412")...)})
	admin(&operation{Method: "POST", Path: "/v1/tokens", ID: "createToken", Tag: "Tokens", Summary: "Create a token",
		Description: "An account-level token (no campaign_id; may carry admin and audit) or a campaign token (read and/or write), which must name its filter_id: a filter of the campaign, or null for every lead of it. The answer holds the secret and the token's docs_url." + writesNote,
		Params:      []*M{idem}, Body: jsonBody("TokenCreate", true),
		Responses: append([]resp{ok("201", "The token, with its secret.", "Token", "Location", "ETag", "Leadsvc-Position")}, errs("400", "409", "413", "415", "422")...)})
	admin(&operation{Method: "GET", Path: "/v1/tokens", ID: "listTokens", Tag: "Tokens", Summary: "List tokens",
		Params:    []*M{query("campaign_id", "Only the tokens of this campaign.", obj("type", "string", "format", "uuid"))},
		Responses: append([]resp{ok("200", "The tokens, newest first; secrets are never listed.", "TokenPage")}, errs("400")...)})
	admin(&operation{Method: "GET", Path: "/v1/tokens/{id}", ID: "getToken", Tag: "Tokens", Summary: "Get a token",
		Params: []*M{tokenID}, Responses: append([]resp{ok("200", "The token.", "Token", "ETag")}, errs("404")...)})
	admin(&operation{Method: "PATCH", Path: "/v1/tokens/{id}", ID: "updateToken", Tag: "Tokens", Summary: "Change a token",
		Description: "Name, permissions, filter or expiry; filter_id or expires_at null removes it. The token's next request sees the change. Taking admin from the account's last live admin token is 409 last-admin-token." + writesNote,
		Params:      []*M{tokenID, ifMatch, idem}, Body: jsonBody("TokenPatch", true),
		Responses: append([]resp{ok("200", "The token.", "Token", "ETag", "Leadsvc-Position")},
			patchErrs...)})
	admin(&operation{Method: "DELETE", Path: "/v1/tokens/{id}", ID: "revokeToken", Tag: "Tokens", Summary: "Revoke a token",
		Description: "Ends the token now: its next request is 401 and its docs_url answers 404. The account's last live admin token cannot be revoked: 409 last-admin-token, whose detail names the server command that makes another." + writesNote, Params: []*M{tokenID, idem},
		Responses: append([]resp{ok("200", "The revoked token.", "Token", "ETag", "Leadsvc-Position")}, errs("400", "404", "409")...)})
	admin(&operation{Method: "POST", Path: "/v1/tokens/{id}/reveal", ID: "revealToken", Tag: "Tokens", Summary: "Show a token's secret",
		Description: "Every call is recorded as a token.revealed event; an Idempotency-Key is accepted but a reveal is never replayed.",
		Params:      []*M{tokenID, idem}, Body: jsonBody("Empty", false),
		Responses: append([]resp{ok("200", "The token, with its secret.", "Token", "ETag", "Leadsvc-Position")}, writeErrs...)})
	admin(&operation{Method: "POST", Path: "/v1/tokens/{id}/rotate", ID: "rotateToken", Tag: "Tokens", Summary: "Rotate a token's secret",
		Description: "A new secret; the old one ends at once, unless a grace_period keeps it working that long." + writesNote,
		Params:      []*M{tokenID, idem}, Body: jsonBody("TokenRotate", false),
		Responses: append([]resp{ok("200", "The token, with its new secret.", "Token", "ETag", "Leadsvc-Position")}, writeErrs...)})
	admin(&operation{Method: "GET", Path: "/v1/leads/{id}/export", ID: "exportLead", Tag: "Privacy", Summary: "Export everything held about a lead",
		Description: "One JSON document: every event of the lead with its actor, time, type and data, the state they add up to, its files as links and the webhook deliveries that carried it. A lead of another account is 404.",
		Params:      []*M{pathID("The lead's id.")}, Unverified: true,
		Responses: append([]resp{ok("200", "The lead's export.", "LeadExport", "Content-Disposition")}, errs("400", "404")...)})
	admin(&operation{Method: "POST", Path: "/v1/leads/{id}/erase", ID: "eraseLead", Tag: "Leads", Summary: "Erase a lead's personal data",
		Description: "Replaces every personal value of the lead (the fields marked personal, file names) by \"[erased]\" in its events, deletes its files and the stored answers and webhook bodies that carried it, in one transaction; the history stays verifiable. Afterwards the lead answers 410 and is in no list; erasing it again is 410. The reason is recorded in the lead.erased event: say why, not who (docs/privacy.md)." + writesNote,
		Params:      []*M{pathID("The lead's id."), idem}, Body: jsonBody("LeadErase", true),
		Responses: append([]resp{ok("200", "What was erased: the field keys and the number of event rows scrubbed, never a value.", "LeadErasure", "Leadsvc-Position")},
			errs("400", "404", "410", "413", "415", "422")...)})

	webhookID := pathID("The subscription's id.")
	hook := func(o *operation) {
		o.Perm, o.Tag, o.Unverified = domain.PermAdmin, "Webhooks", true
		add(o)
	}
	hook(&operation{Method: "POST", Path: "/v1/webhooks", ID: "createWebhook", Summary: "Subscribe an endpoint",
		Description: "Lead events of one campaign (optionally narrowed by a filter and event types) are POSTed to url, signed per Standard Webhooks with the returned secret." + writesNote,
		Params:      []*M{idem}, Body: jsonBody("WebhookCreate", true),
		Responses: append([]resp{ok("201", "The subscription, with its signing secret.", "Webhook", "Leadsvc-Position")}, errs("400", "409", "413", "415", "422")...)})
	hook(&operation{Method: "GET", Path: "/v1/webhooks", ID: "listWebhooks", Summary: "List subscriptions",
		Responses: append([]resp{ok("200", "The subscriptions.", "WebhookPage")}, errs("400")...)})
	hook(&operation{Method: "GET", Path: "/v1/webhooks/{id}", ID: "getWebhook", Summary: "Get a subscription",
		Params: []*M{webhookID}, Responses: append([]resp{ok("200", "The subscription.", "Webhook")}, errs("404")...)})
	hook(&operation{Method: "PATCH", Path: "/v1/webhooks/{id}", ID: "updateWebhook", Summary: "Change a subscription",
		Description: "url, filter, event types, or enabled (true re-enables a disabled one)." + writesNote,
		Params:      []*M{webhookID, idem}, Body: jsonBody("WebhookPatch", true),
		Responses: append([]resp{ok("200", "The subscription.", "Webhook", "Leadsvc-Position")}, errs("400", "404", "409", "413", "415", "422")...)})
	hook(&operation{Method: "DELETE", Path: "/v1/webhooks/{id}", ID: "deleteWebhook", Summary: "Delete a subscription",
		Params: []*M{webhookID, idem}, Responses: append([]resp{ok("204", "Deleted.", "", "Leadsvc-Position")}, errs("400", "404", "409")...)})
	hook(&operation{Method: "GET", Path: "/v1/webhooks/{id}/deliveries", ID: "listDeliveries", Summary: "List delivery attempts",
		Params: []*M{webhookID, query("limit", "Page size: default 50; an integer outside 1 to 1000 is refused (400).", obj("type", "integer", "minimum", 1, "maximum", 1000, "default", 50)),
			query("cursor", "next_cursor of the previous page.", obj("type", "string"))},
		Responses: append([]resp{ok("200", "The delivery attempts, newest first.", "DeliveryPage")}, errs("400", "404")...)})
	hook(&operation{Method: "POST", Path: "/v1/webhooks/{id}/rotate-secret", ID: "rotateWebhookSecret", Summary: "Rotate the signing secret",
		Description: "A new secret; the old one stops signing at once, unless a grace_period keeps it: meanwhile deliveries carry signatures of both." + writesNote,
		Params:      []*M{webhookID, idem}, Body: jsonBody("WebhookRotate", false),
		Responses: append([]resp{ok("200", "The subscription, with its new secret.", "Webhook", "Leadsvc-Position")}, errs("400", "404", "409", "413", "415", "422")...)})
	hook(&operation{Method: "POST", Path: "/v1/webhooks/{id}/redeliver", ID: "redeliverWebhook", Summary: "Deliver again",
		Description: "Every event since a time, or one attempt's event, is delivered again.",
		Params:      []*M{webhookID, idem}, Body: jsonBody("WebhookRedeliver", true),
		Responses: append([]resp{ok("202", "Queued.", "WebhookAccepted")}, errs("400", "404", "409", "413", "415", "422")...)})
	hook(&operation{Method: "POST", Path: "/v1/webhooks/{id}/test", ID: "testWebhook", Summary: "Send a test event",
		Params:    []*M{webhookID, idem},
		Responses: append([]resp{ok("202", "Queued.", "WebhookAccepted")}, errs("400", "404", "409")...)})
}

func (b *builder) auditOperations(add func(*operation)) {
	at := query("at", "The moment to look at (RFC 3339); default now.", obj("type", "string", "format", "date-time"))
	after := query("after", "Only events after this log position (next_after of the previous page).", obj("type", "integer", "minimum", 0))
	audit := func(o *operation) {
		o.Perm, o.Tag, o.Unverified = domain.PermAudit, "Audit", true
		add(o)
	}
	audit(&operation{Method: "GET", Path: "/v1/audit/leads/{id}", ID: "auditLeadAt", Summary: "A lead as it was",
		Description: "The lead replayed from the log at a moment (at) or a version (version), or now.",
		Params:      []*M{pathID("The lead's id."), at, query("version", "A version of the lead (1, 2, …); not with at.", obj("type", "integer", "minimum", 1))},
		Responses:   append([]resp{ok("200", "The lead then.", "AuditLead", "ETag")}, errs("400", "404")...)})
	audit(&operation{Method: "GET", Path: "/v1/audit/leads/{id}/events", ID: "auditLeadEvents", Summary: "A lead's history",
		Params: []*M{pathID("The lead's id.")}, Responses: append([]resp{ok("200", "The lead's events, in order, with the hash chain's integrity.", "AuditLeadHistory")}, errs("400", "404")...)})
	audit(&operation{Method: "GET", Path: "/v1/audit/leads/{id}/verify", ID: "auditLeadVerify", Summary: "Check a lead's hash chain",
		Params: []*M{pathID("The lead's id.")}, Responses: append([]resp{ok("200", "Whether the lead's events are intact.", "AuditLeadVerify")}, errs("400", "404")...)})
	audit(&operation{Method: "GET", Path: "/v1/audit/tokens/{id}/events", ID: "auditTokenEvents", Summary: "A token's history",
		Description: "The token's lifecycle and the writes it made, paged: the next page is after=next_after, also in a Link header.",
		Params: []*M{pathID("The token's id."), after, query("limit", "Page size: default 1000; an integer outside 1 to 10000 is refused (400).", obj("type", "integer", "minimum", 1, "maximum", 10000, "default", 1000)),
			query("at", "Only up to this moment.", obj("type", "string", "format", "date-time"))},
		Responses: append([]resp{ok("200", "A page of the token's history.", "AuditTokenHistory", "Link")}, errs("400", "404")...)})
	audit(&operation{Method: "GET", Path: "/v1/audit/tokens/{id}/visible-leads", ID: "auditVisibleLeads", Summary: "What a token could read",
		Params: []*M{pathID("The token's id."), at}, Responses: append([]resp{ok("200", "The leads the token could read then, replayed from the log.", "AuditVisibleLeads")}, errs("400", "404")...)})
	feed := ok("200", `One event per line (NDJSON), in commit order, ending with {"end": true, "next_after": …}; resume with after=next_after.`, "AuditEntry")
	feed.MediaType = "application/x-ndjson"
	audit(&operation{Method: "GET", Path: "/v1/audit/events", ID: "auditFeed", Summary: "The account's event feed",
		Params:    []*M{after, query("limit", "At most this many events: default 10000; an integer outside 1 to 100000 is refused (400).", obj("type", "integer", "minimum", 1, "maximum", 100000, "default", 10000))},
		Responses: append([]resp{feed}, errs("400")...)})
}
