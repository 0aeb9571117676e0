package apidoc

import (
	"strings"
)

// PostmanSchema is the collection format the Postman document follows.
const PostmanSchema = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"

// Postman is a Postman collection (v2.1) of the documented operations,
// with a baseUrl variable set to the service's URL and bearer
// authentication through a token variable left empty: the secret never
// appears in the documents.
func (d *Doc) Postman() ([]byte, error) {
	b := d.b
	var folders []any
	byTag := map[string]*M{}
	for _, o := range d.ops {
		f := byTag[o.Tag]
		if f == nil {
			f = obj("name", o.Tag, "description", tagWords[o.Tag], "item", []any{})
			byTag[o.Tag] = f
			folders = append(folders, f)
		}
		f.set("item", append(f.get("item").([]any), b.postmanItem(o)))
	}
	coll := obj(
		"info", obj("name", b.title(), "description", b.description(), "schema", PostmanSchema),
		"auth", obj("type", "bearer", "bearer", []any{obj("key", "token", "value", "{{token}}", "type", "string")}),
		"variable", []any{
			obj("key", "baseUrl", "value", b.s.PublicURL, "type", "string"),
			obj("key", "token", "value", "", "type", "string", "description", "Your token's secret (lsk_…); set it in your environment, never in a shared collection."),
		},
		"item", folders,
	)
	return jsonIndent(coll)
}

func (b *builder) postmanItem(o *operation) *M {
	var path []any
	var vars []any
	for _, seg := range strings.Split(strings.TrimPrefix(o.Path, "/"), "/") {
		if strings.HasPrefix(seg, "{") {
			name := strings.Trim(seg, "{}")
			seg = ":" + name
			vars = append(vars, obj("key", name, "value", examplePathValue(name, o.Path), "description", paramDescription(o, name)))
		}
		path = append(path, seg)
	}
	var queryParams, headers []any
	for _, p := range o.Params {
		p = b.resolveParam(p)
		name, _ := p.get("name").(string)
		in, _ := p.get("in").(string)
		desc, _ := p.get("description").(string)
		val := paramExample(p)
		switch in {
		case "query":
			queryParams = append(queryParams, obj("key", name, "value", val, "description", desc, "disabled", p.get("required") != true))
		case "header":
			headers = append(headers, obj("key", name, "value", val, "description", desc, "disabled", true))
		}
	}
	raw := "{{baseUrl}}/" + strings.Join(anyStrings(path), "/")
	url := obj("raw", raw, "host", []any{"{{baseUrl}}"}, "path", path)
	if len(queryParams) > 0 {
		url.set("query", queryParams)
	}
	if len(vars) > 0 {
		url.set("variable", vars)
	}
	req := obj("method", o.Method, "description", o.Description)
	if o.Body != nil {
		switch o.Body.MediaType {
		case "multipart/form-data":
			req.set("body", obj("mode", "formdata", "formdata", []any{obj("key", "file", "type", "file", "src", "")}))
		default:
			headers = append([]any{obj("key", "Content-Type", "value", "application/json")}, headers...)
			ex, _ := jsonIndent(b.bodyExample(o))
			if b.bodyExample(o) == nil {
				ex = []byte("{}")
			}
			req.set("body", obj("mode", "raw", "raw", strings.TrimSpace(string(ex)), "options", obj("raw", obj("language", "json"))))
		}
	}
	if len(headers) > 0 {
		req.set("header", headers)
	} else {
		req.set("header", []any{})
	}
	req.set("url", url)
	return obj("name", o.Summary, "request", req)
}

func (b *builder) resolveParam(p *M) *M {
	if r, ok := p.get("$ref").(string); ok {
		if c, ok := b.parameters.get(strings.TrimPrefix(r, "#/components/parameters/")).(*M); ok {
			return c
		}
	}
	return p
}

func paramExample(p *M) string {
	if ex := p.get("example"); ex != nil {
		return jsonScalar(ex)
	}
	s, _ := p.get("schema").(*M)
	if s == nil {
		return ""
	}
	if c := s.get("const"); c != nil {
		return jsonScalar(c)
	}
	if d := s.get("default"); d != nil {
		return jsonScalar(d)
	}
	switch s.get("format") {
	case "uuid":
		return exampleID
	case "date-time":
		return exampleTime
	}
	return ""
}

func jsonScalar(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return jsonText(v)
}

func examplePathValue(name, path string) string {
	switch {
	case name == "file_id":
		return exampleFileID
	case name == "key":
		return "source"
	case strings.HasPrefix(path, "/v1/leads"), strings.HasPrefix(path, "/v1/audit/leads"):
		return exampleLeadID
	case strings.HasPrefix(path, "/v1/tokens"), strings.HasPrefix(path, "/v1/audit/tokens"):
		return exampleTokenID
	case strings.HasPrefix(path, "/v1/filters"):
		return exampleFilterID
	}
	return exampleID
}

func paramDescription(o *operation, name string) string {
	for _, p := range o.Params {
		if p.get("name") == name {
			d, _ := p.get("description").(string)
			return d
		}
	}
	return ""
}

func anyStrings(s []any) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i], _ = v.(string)
	}
	return out
}
