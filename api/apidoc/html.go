package apidoc

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"html/template"
	"io"
	"strings"

	"github.com/leadsvc/leadsvc/domain"
)

//go:embed page.html
var pageHTML string

//go:embed page.css
var pageCSS string

//go:embed page.js
var pageJS string

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"lower": strings.ToLower,
}).Parse(pageHTML))

// ContentSecurityPolicy is the policy the HTML page is served with: it
// loads nothing; its one style sheet and its one script (language tabs,
// copy buttons, search) are inline and allowed by their hashes.
func ContentSecurityPolicy() string {
	return "default-src 'none'; style-src '" + sha256Source(pageCSS) + "'; script-src '" + sha256Source(pageJS) +
		"'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

func sha256Source(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// view is what the page template shows.
type view struct {
	Title, Summary string
	CSS            template.CSS
	JS             template.JS
	General        bool
	TokenName      string
	CampaignName   string
	Permissions    []string
	Intro          []string
	Scope          []string
	CreateNote     string
	ReadOnly       bool
	FilterDeleted  bool
	BaseURL        string
	OpenAPIURL     string
	PostmanURL     string
	Fields         []fieldRow
	Statuses       []statusRow
	Sections       []section
	Conventions    []string
	Curl           string
}

type fieldRow struct {
	Key, Label, Type string
	Required         string
	Retired          bool
	Values           []domain.Option
	Notes            []string
	Target           string
}

type statusRow struct {
	Slug, Label string
	Allowed     bool
	Default     bool
	Retired     bool
}

type section struct {
	Tag, Words string
	Ops        []opView
}

type opView struct {
	Method, Path, Anchor, Summary, Description string
	Perm                                       string
	Params                                     []paramRow
	Body                                       string
	BodyType                                   string
	Response                                   string
	Statuses                                   []statusCode
	Unverified                                 bool
	Samples                                    []CodeSample
}

type paramRow struct{ Name, In, Description, Required string }

type statusCode struct{ Code, Description string }

// HTML renders the documents as one self-contained page. base is the
// path the page is served at; the YAML and Postman links are beneath it.
func (d *Doc) HTML(w io.Writer, base string) error {
	b := d.b
	base = strings.TrimRight(base, "/")
	v := view{Title: b.title(), Summary: b.summary(), CSS: template.CSS(pageCSS), JS: template.JS(pageJS), General: d.scope.Token == nil,
		BaseURL: b.s.PublicURL, OpenAPIURL: base + "/openapi.yaml", PostmanURL: base + "/postman.json",
		Conventions: strings.Split(strings.TrimPrefix(conventions, "**Conventions.** "), "\n")}
	if t := d.scope.Token; t != nil {
		v.TokenName = t.Name
		for _, p := range t.Permissions {
			v.Permissions = append(v.Permissions, string(p))
		}
		v.ReadOnly = !b.can(domain.PermWrite)
		v.FilterDeleted = t.Scope.Closed()
		if t.Campaign != nil {
			v.CampaignName = t.Campaign.Name
			v.Scope = t.Scope.Explain(b.schema)
			if b.can(domain.PermWrite) {
				v.CreateNote = strings.TrimSpace(b.createNote())
			}
		}
	} else {
		v.Intro = b.accessWords()
	}
	if t := d.scope.Token; t != nil && t.Campaign == nil {
		v.Intro = b.accessWords()
	}
	for _, fd := range b.flds {
		row := fieldRow{Key: fd.Key, Label: fd.Label, Type: string(fd.Type), Values: fd.Options, Notes: fd.Scope, Retired: fd.Retired}
		switch {
		case fd.Retired:
			row.Required = "retired: refused"
		case fd.NeedCreate:
			row.Required = "required"
		case fd.HasDefault:
			row.Required = "filled in: " + jsonText(fd.Default)
		default:
			row.Required = "optional"
		}
		if fd.Type == domain.TypeSelect || fd.Type == domain.TypeMultiselect {
			row.Type += " (" + fd.Select + ")"
		}
		if fd.Type == domain.TypeRelation && fd.Campaign != nil {
			row.Target = "a lead of campaign " + fd.Campaign.String()
		}
		v.Fields = append(v.Fields, row)
	}
	allowed := map[string]bool{}
	for _, st := range b.statuses() {
		allowed[st.Slug] = true
	}
	def := b.schema.DefaultStatus()
	if s, ok := b.defaults[domain.AttrStatus].(string); ok {
		def = s
	}
	for _, st := range b.schema.Statuses {
		if !allowed[st.Slug] {
			continue // the token never meets it
		}
		v.Statuses = append(v.Statuses, statusRow{Slug: st.Slug, Label: st.Label, Allowed: true, Default: st.Slug == def, Retired: st.Retired})
	}
	bySection := map[string]int{}
	for _, o := range d.ops {
		i, ok := bySection[o.Tag]
		if !ok {
			i = len(v.Sections)
			bySection[o.Tag] = i
			v.Sections = append(v.Sections, section{Tag: o.Tag, Words: tagWords[o.Tag]})
		}
		v.Sections[i].Ops = append(v.Sections[i].Ops, b.opView(o))
	}
	v.Curl = b.curlExample(d.ops)
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func (b *builder) opView(o *operation) opView {
	ov := opView{Method: o.Method, Path: o.Path, Anchor: o.ID, Summary: o.Summary, Description: o.Description,
		Perm: string(o.Perm), Unverified: o.Unverified, Samples: b.samples(o)}
	for _, p := range o.Params {
		p = b.resolveParam(p)
		name, _ := p.get("name").(string)
		in, _ := p.get("in").(string)
		desc, _ := p.get("description").(string)
		req := "optional"
		if p.get("required") == true {
			req = "required"
		}
		ov.Params = append(ov.Params, paramRow{Name: name, In: in, Description: desc, Required: req})
	}
	if o.Body != nil {
		ov.BodyType = o.Body.MediaType
		if ex := b.bodyExample(o); ex != nil {
			j, _ := jsonIndent(ex)
			ov.Body = strings.TrimSpace(string(j))
		} else if o.Body.MediaType == "multipart/form-data" {
			ov.Body = "file=@offer.pdf"
		}
	}
	for _, r := range o.Responses {
		desc := r.Desc
		if r.Ref != "" {
			if m, ok := b.responses.get(r.Ref).(*M); ok {
				desc, _ = m.get("description").(string)
			}
		} else if r.Schema != "" && r.Schema != "-binary" && ov.Response == "" {
			if ex := b.responseExample(o, r); ex != nil {
				j, _ := jsonIndent(ex)
				ov.Response = strings.TrimSpace(string(j))
			}
		}
		ov.Statuses = append(ov.Statuses, statusCode{Code: r.Status, Description: desc})
	}
	return ov
}

// curlExample is a first request to try: creating a lead when the token
// may, listing leads otherwise.
func (b *builder) curlExample(ops []*operation) string {
	for _, o := range ops {
		if o.ID == "createLead" {
			ex, _ := jsonIndent(b.bodyExample(o))
			body := strings.ReplaceAll(strings.TrimSpace(string(ex)), "'", `'\''`)
			return "curl -s " + b.s.PublicURL + "/v1/leads \\\n  -H \"Authorization: Bearer $LEADSVC_TOKEN\" \\\n  -H 'Content-Type: application/json' \\\n  -H 'Idempotency-Key: my-first-lead' \\\n  -d '" + body + "'"
		}
	}
	for _, o := range ops {
		if o.ID == "listLeads" {
			return "curl -s '" + b.s.PublicURL + "/v1/leads?limit=10' \\\n  -H \"Authorization: Bearer $LEADSVC_TOKEN\""
		}
	}
	return "curl -s " + b.s.PublicURL + "/v1/campaigns \\\n  -H \"Authorization: Bearer $LEADSVC_TOKEN\""
}
