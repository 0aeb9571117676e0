package apidoc_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi-validator/config"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/leadsvc/leadsvc/api/apidoc"
)

// checked is one generated document, parsed and validated.
type checked struct {
	yaml  []byte
	doc   libopenapi.Document
	plain map[string]any // the document as decoded JSON
	model *v3.Document
	sv    schema_validation.SchemaValidator
}

func newSchemaValidator() schema_validation.SchemaValidator {
	return schema_validation.NewSchemaValidator(config.WithFormatAssertions())
}

// mustValidate parses d's OpenAPI document with libopenapi, validates it
// against the OpenAPI 3.1 specification's schema, and validates every
// example it holds against the schema it illustrates.
func mustValidate(t *testing.T, name string, d *apidoc.Doc) checked {
	t.Helper()
	c := mustParse(t, name, d)
	if ok, verrs := schema_validation.ValidateOpenAPIDocument(c.doc); !ok {
		t.Fatalf("%s: not a valid OpenAPI 3.1 document:\n%s", name, describe(verrs))
	}
	j, err := d.OpenAPIJSON()
	if err != nil {
		t.Fatalf("%s: JSON: %v", name, err)
	}
	if err := json.Unmarshal(j, &c.plain); err != nil {
		t.Fatalf("%s: JSON document: %v", name, err)
	}
	if problems := c.exampleProblems(); len(problems) > 0 {
		t.Fatalf("%s: examples that do not validate:\n%s", name, strings.Join(problems, "\n"))
	}
	return c
}

func describe(errs []*liberrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "- %s: %s\n", e.Message, e.Reason)
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "    %s %s: %s\n", f.FieldPath, f.KeywordLocation, f.Reason)
		}
	}
	return b.String()
}

// schema is a component schema of the document.
func (c checked) schema(name string) *base.Schema {
	p := c.model.Components.Schemas.GetOrZero(name)
	if p == nil {
		return nil
	}
	return p.Schema()
}

// validates reports why v does not validate against s, or "".
func validates(sv schema_validation.SchemaValidator, s *base.Schema, v any) string {
	raw, _ := json.Marshal(v)
	if ok, errs := sv.ValidateSchemaBytes(s, raw); !ok {
		return describe(errs)
	}
	return ""
}

// exampleProblems validates the examples of component schemas, of the
// lead fields' properties, and of request and response bodies.
func (c checked) exampleProblems() []string {
	var out []string
	comps, _ := c.plain["components"].(map[string]any)
	schemas, _ := comps["schemas"].(map[string]any)
	for name, raw := range schemas {
		s := c.schema(name)
		for _, ex := range examplesOf(raw) {
			if why := validates(c.sv, s, ex); why != "" {
				out = append(out, fmt.Sprintf("schema %s example %v: %s", name, ex, why))
			}
		}
		if !strings.HasPrefix(name, "LeadFields") {
			continue
		}
		props, _ := raw.(map[string]any)["properties"].(map[string]any)
		for key, p := range props {
			ps := s.Properties.GetOrZero(key).Schema()
			for _, ex := range examplesOf(p) {
				if why := validates(c.sv, ps, ex); why != "" {
					out = append(out, fmt.Sprintf("%s.%s example %v: %s", name, key, ex, why))
				}
			}
		}
	}
	check := func(where string, content any) {
		media, _ := content.(map[string]any)
		for mt, mraw := range media {
			m, _ := mraw.(map[string]any)
			ex, has := m["example"]
			ref, _ := m["schema"].(map[string]any)["$ref"].(string)
			if !has || ref == "" {
				continue
			}
			if why := validates(c.sv, c.schema(strings.TrimPrefix(ref, "#/components/schemas/")), ex); why != "" {
				out = append(out, fmt.Sprintf("%s %s example: %s", where, mt, why))
			}
		}
	}
	paths, _ := c.plain["paths"].(map[string]any)
	for p, item := range paths {
		for method, opRaw := range item.(map[string]any) {
			op := opRaw.(map[string]any)
			if rb, ok := op["requestBody"].(map[string]any); ok {
				check(method+" "+p+" request", rb["content"])
			}
			for status, r := range op["responses"].(map[string]any) {
				check(method+" "+p+" "+status, r.(map[string]any)["content"])
			}
		}
	}
	responses, _ := comps["responses"].(map[string]any)
	for name, r := range responses {
		check("response "+name, r.(map[string]any)["content"])
	}
	return out
}

func examplesOf(raw any) []any {
	m, _ := raw.(map[string]any)
	ex, _ := m["examples"].([]any)
	return ex
}

// mustParse parses d's document into a model, without validating it (the
// other tests do).
func mustParse(t *testing.T, name string, d *apidoc.Doc) checked {
	t.Helper()
	y, err := d.OpenAPI()
	if err != nil {
		t.Fatalf("%s: YAML: %v", name, err)
	}
	doc, err := libopenapi.NewDocument(y)
	if err != nil {
		t.Fatalf("%s: parse: %v", name, err)
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("%s: model: %v", name, err)
	}
	return checked{yaml: y, doc: doc, model: &m.Model, sv: newSchemaValidator()}
}
