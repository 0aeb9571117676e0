package apidoc

import (
	"encoding/json"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Languages of the code samples, in the order the page shows them.
var sampleLanguages = []struct{ Lang, Label, Ext string }{
	{"curl", "curl", "sh"},
	{"javascript", "JavaScript", "mjs"},
	{"python", "Python", "py"},
	{"go", "Go", "go"},
}

// tokenEnv is the environment variable every sample reads the secret
// from: the documents never hold it.
const tokenEnv = "LEADSVC_TOKEN"

// CodeSample is one operation's example request in one language.
type CodeSample struct {
	Operation string // operationId
	Lang      string // curl, javascript, python, go
	Label     string // as the page's tab shows it
	Ext       string // a file extension the code can be saved under
	Code      string
}

// sampleRequest is one operation's example request, the one model every
// language's sample is written from: its body is the operation's request
// example in the OpenAPI document, so that the samples and the document
// cannot disagree.
type sampleRequest struct {
	Method  string
	URL     string
	Headers [][2]string // beyond Authorization
	JSON    string      // the indented JSON body; "" for none
	Upload  bool        // a multipart upload of the file "offer.pdf"
	Binary  bool        // the answer is a file's bytes
}

// CodeSamples are the samples of every documented operation, in the
// documents' order and sampleLanguages' order.
func (d *Doc) CodeSamples() []CodeSample {
	var out []CodeSample
	for _, o := range d.ops {
		out = append(out, d.b.samples(o)...)
	}
	return out
}

func (b *builder) samples(o *operation) []CodeSample {
	r := b.sampleRequest(o)
	code := map[string]string{"curl": r.curl(), "javascript": r.javascript(), "python": r.python(), "go": r.golang()}
	out := make([]CodeSample, 0, len(sampleLanguages))
	for _, l := range sampleLanguages {
		out = append(out, CodeSample{Operation: o.ID, Lang: l.Lang, Label: l.Label, Ext: l.Ext, Code: code[l.Lang]})
	}
	return out
}

// codeSamplesExtension is the operation's x-codeSamples, the extension
// Redoc-style references show beside it.
func (b *builder) codeSamplesExtension(o *operation) []any {
	var out []any
	for _, s := range b.samples(o) {
		lang := s.Label
		if s.Lang == "curl" {
			lang = "Shell"
		}
		out = append(out, obj("lang", lang, "label", s.Label, "source", s.Code))
	}
	return out
}

func (b *builder) sampleRequest(o *operation) sampleRequest {
	r := sampleRequest{Method: o.Method}
	path := o.Path
	query := url.Values{}
	for _, p := range o.Params {
		p = b.resolveParam(p)
		name, _ := p.get("name").(string)
		in, _ := p.get("in").(string)
		required := p.get("required") == true
		switch {
		case in == "path":
			path = strings.ReplaceAll(path, "{"+name+"}", url.PathEscape(examplePathValue(name, o.Path)))
		case in == "query" && required:
			query.Set(name, paramExample(p))
		case in == "header" && required:
			r.Headers = append(r.Headers, [2]string{name, paramExample(p)})
		}
	}
	r.URL = b.s.PublicURL + path
	if len(query) > 0 {
		r.URL += "?" + query.Encode()
	}
	if o.Body != nil {
		switch o.Body.MediaType {
		case "multipart/form-data":
			r.Upload = true
		default:
			ex := b.bodyExample(o)
			if ex == nil {
				ex = obj()
			}
			j, _ := jsonIndent(ex)
			r.JSON = strings.TrimSpace(string(j))
			r.Headers = append([][2]string{{"Content-Type", "application/json"}}, r.Headers...)
		}
	}
	for _, resp := range o.Responses {
		if resp.Schema == "-binary" {
			r.Binary = true
		}
	}
	return r
}

func (r sampleRequest) curl() string {
	var b strings.Builder
	b.WriteString("curl -s")
	if r.Binary {
		b.WriteString(" -OJ") // saved under the name Content-Disposition gives
	}
	if r.Method != "GET" && !(r.Method == "POST" && (r.JSON != "" || r.Upload)) {
		b.WriteString(" -X " + r.Method)
	}
	b.WriteString(" " + shellQuote(r.URL) + " \\\n  -H \"Authorization: Bearer $" + tokenEnv + "\"")
	for _, h := range r.Headers {
		b.WriteString(" \\\n  -H " + shellQuote(h[0]+": "+h[1]))
	}
	switch {
	case r.Upload:
		b.WriteString(" \\\n  -F file=@offer.pdf")
	case r.JSON != "":
		b.WriteString(" \\\n  -d " + shellQuote(indentAfterFirst(r.JSON, "  ")))
	}
	return b.String()
}

func (r sampleRequest) javascript() string {
	var b strings.Builder
	if r.Upload {
		b.WriteString("import { openAsBlob } from \"node:fs\";\n\n")
		b.WriteString("const form = new FormData();\nform.append(\"file\", await openAsBlob(\"offer.pdf\"), \"offer.pdf\");\n\n")
	}
	b.WriteString("const res = await fetch(" + jsString(r.URL) + ", {\n")
	b.WriteString("  method: " + jsString(r.Method) + ",\n  headers: {\n")
	b.WriteString("    Authorization: `Bearer ${process.env." + tokenEnv + "}`,\n")
	for _, h := range r.Headers {
		b.WriteString("    " + jsString(h[0]) + ": " + jsString(h[1]) + ",\n")
	}
	b.WriteString("  },\n")
	switch {
	case r.Upload:
		b.WriteString("  body: form,\n")
	case r.JSON != "":
		b.WriteString("  body: JSON.stringify(" + indentAfterFirst(r.JSON, "  ") + "),\n")
	}
	b.WriteString("});\n")
	if r.Binary {
		b.WriteString("const bytes = new Uint8Array(await res.arrayBuffer());\nconsole.log(res.status, bytes.length, \"bytes\");")
	} else {
		b.WriteString("console.log(res.status, await res.text());")
	}
	return b.String()
}

func (r sampleRequest) python() string {
	var b strings.Builder
	b.WriteString("import os\n\nimport requests\n\n")
	b.WriteString("resp = requests.request(\n    " + pyString(r.Method) + ",\n    " + pyString(r.URL) + ",\n    headers={\n")
	b.WriteString("        \"Authorization\": \"Bearer \" + os.environ[" + pyString(tokenEnv) + "],\n")
	for _, h := range r.Headers {
		if h[0] == "Content-Type" && r.JSON != "" {
			continue // requests sets it for json=
		}
		b.WriteString("        " + pyString(h[0]) + ": " + pyString(h[1]) + ",\n")
	}
	b.WriteString("    },\n")
	switch {
	case r.Upload:
		b.WriteString("    files={\"file\": open(\"offer.pdf\", \"rb\")},\n")
	case r.JSON != "":
		b.WriteString("    json=" + indentAfterFirst(pyLiteral(r.JSON), "    ") + ",\n")
	}
	b.WriteString(")\n")
	if r.Binary {
		b.WriteString("print(resp.status_code, len(resp.content), \"bytes\")")
	} else {
		b.WriteString("print(resp.status_code, resp.text)")
	}
	return b.String()
}

func (r sampleRequest) golang() string {
	imports := []string{"fmt", "io", "net/http", "os"}
	var body strings.Builder
	bodyArg := "nil"
	switch {
	case r.Upload:
		imports = append(imports, "bytes", "mime/multipart")
		body.WriteString("\tvar buf bytes.Buffer\n\tform := multipart.NewWriter(&buf)\n")
		body.WriteString("\tpart, err := form.CreateFormFile(\"file\", \"offer.pdf\")\n\tif err != nil {\n\t\tpanic(err)\n\t}\n")
		body.WriteString("\tf, err := os.Open(\"offer.pdf\")\n\tif err != nil {\n\t\tpanic(err)\n\t}\n\tdefer f.Close()\n")
		body.WriteString("\tif _, err := io.Copy(part, f); err != nil {\n\t\tpanic(err)\n\t}\n")
		body.WriteString("\tif err := form.Close(); err != nil {\n\t\tpanic(err)\n\t}\n")
		bodyArg = "&buf"
	case r.JSON != "":
		imports = append(imports, "strings")
		body.WriteString("\tbody := strings.NewReader(" + goString(r.JSON) + ")\n")
		bodyArg = "body"
	}
	sort.Strings(imports)
	var b strings.Builder
	b.WriteString("package main\n\nimport (\n")
	for _, i := range imports {
		b.WriteString("\t" + strconv.Quote(i) + "\n")
	}
	b.WriteString(")\n\nfunc main() {\n")
	b.WriteString(body.String())
	b.WriteString("\treq, err := http.NewRequest(" + strconv.Quote(r.Method) + ", " + strconv.Quote(r.URL) + ", " + bodyArg + ")\n")
	b.WriteString("\tif err != nil {\n\t\tpanic(err)\n\t}\n")
	b.WriteString("\treq.Header.Set(\"Authorization\", \"Bearer \"+os.Getenv(" + strconv.Quote(tokenEnv) + "))\n")
	if r.Upload {
		b.WriteString("\treq.Header.Set(\"Content-Type\", form.FormDataContentType())\n")
	}
	for _, h := range r.Headers {
		b.WriteString("\treq.Header.Set(" + strconv.Quote(h[0]) + ", " + strconv.Quote(h[1]) + ")\n")
	}
	b.WriteString("\tresp, err := http.DefaultClient.Do(req)\n\tif err != nil {\n\t\tpanic(err)\n\t}\n\tdefer resp.Body.Close()\n")
	b.WriteString("\tout, err := io.ReadAll(resp.Body)\n\tif err != nil {\n\t\tpanic(err)\n\t}\n")
	if r.Binary {
		b.WriteString("\tfmt.Println(resp.Status, len(out), \"bytes\")\n}")
	} else {
		b.WriteString("\tfmt.Println(resp.Status, string(out))\n}")
	}
	return b.String()
}

// shellQuote quotes s for sh in single quotes.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// jsString and pyString are JSON strings: valid string literals in
// JavaScript and in Python alike.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func pyString(s string) string { return jsString(s) }

// goString is a raw string literal when s allows one.
func goString(s string) string {
	if strings.Contains(s, "`") || strings.Contains(s, "\r") {
		return strconv.Quote(s)
	}
	return "`" + s + "`"
}

// indentAfterFirst indents every line of s but the first by prefix, so
// that a multi-line value sits under the expression it continues.
func indentAfterFirst(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// pyLiteral rewrites indented JSON as a Python literal: the same text,
// members in the same order, but for true, false and null outside
// strings.
func pyLiteral(j string) string {
	var b strings.Builder
	inString, escaped := false, false
	for i := 0; i < len(j); i++ {
		c := j[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c >= 'a' && c <= 'z':
			end := i
			for end < len(j) && j[end] >= 'a' && j[end] <= 'z' {
				end++
			}
			word := j[i:end]
			b.WriteString(map[string]string{"true": "True", "false": "False", "null": "None"}[word])
			i = end - 1
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
