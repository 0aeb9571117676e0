package apidoc

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// M is a JSON object whose members keep their order, so that the
// documents read top-down (info before paths, type before enum) in YAML
// and JSON alike. Build one with obj.
type M struct{ kv []member }

type member struct {
	k string
	v any
}

// obj builds an M from key, value pairs; a nil value is left out, so that
// optional members can be passed inline. Use null for an explicit null.
func obj(kv ...any) *M {
	m := &M{}
	for i := 0; i+1 < len(kv); i += 2 {
		m.set(kv[i].(string), kv[i+1])
	}
	return m
}

// nullValue marks a member whose value is JSON null.
type nullValue struct{}

var null = nullValue{}

func (m *M) set(k string, v any) *M {
	if isNil(v) {
		return m
	}
	for i := range m.kv {
		if m.kv[i].k == k {
			m.kv[i].v = v
			return m
		}
	}
	m.kv = append(m.kv, member{k, v})
	return m
}

func (m *M) get(k string) any {
	for _, e := range m.kv {
		if e.k == k {
			return e.v
		}
	}
	return nil
}

func (m *M) del(k string) {
	for i, e := range m.kv {
		if e.k == k {
			m.kv = append(m.kv[:i], m.kv[i+1:]...)
			return
		}
	}
}

func (m *M) len() int { return len(m.kv) }

func isNil(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case *M:
		return x == nil
	case []any:
		return x == nil
	case string:
		return false
	}
	return false
}

// MarshalJSON writes the members in order, without HTML escaping.
func (m *M) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range m.kv {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := marshalJSON(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func marshalJSON(v any) ([]byte, error) {
	if _, ok := v.(nullValue); ok {
		return []byte("null"), nil
	}
	if s, ok := v.([]any); ok {
		var b bytes.Buffer
		b.WriteByte('[')
		for i, it := range s {
			if i > 0 {
				b.WriteByte(',')
			}
			j, err := marshalJSON(it)
			if err != nil {
				return nil, err
			}
			b.Write(j)
		}
		b.WriteByte(']')
		return b.Bytes(), nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// MarshalYAML keeps the member order in YAML.
func (m *M) MarshalYAML() (any, error) { return yamlNode(m) }

func yamlNode(v any) (*yaml.Node, error) {
	switch x := v.(type) {
	case *M:
		n := &yaml.Node{Kind: yaml.MappingNode}
		for _, e := range x.kv {
			val, err := yamlNode(e.v)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: e.k}, val)
		}
		return n, nil
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for _, it := range x {
			val, err := yamlNode(it)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, val)
		}
		if len(x) < 8 && allScalars(x) {
			n.Style = yaml.FlowStyle
		}
		return n, nil
	case nullValue:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	case map[string]any, []string, []map[string]any:
		// Values taken from the domain (defaults, filter values):
		// round-trip through JSON to keep them plain.
		j, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		var plain any
		if err := json.Unmarshal(j, &plain); err != nil {
			return nil, err
		}
		return yamlNode(fromPlain(plain))
	}
	// Scalars are built directly (Node.Encode per scalar costs a whole
	// encoder); the emitter quotes a !!str that would read as another type.
	switch x := v.(type) {
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: x}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(x)}, nil
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(x)}, nil
	case int64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(x, 10)}, nil
	}
	n := &yaml.Node{}
	if err := n.Encode(v); err != nil {
		return nil, err
	}
	return n, nil
}

func allScalars(s []any) bool {
	for _, it := range s {
		switch x := it.(type) {
		case *M, []any:
			return false
		case string:
			if len(x) > 40 {
				return false
			}
		}
	}
	return true
}

// fromPlain turns decoded JSON into M and []any, sorting object keys so
// that output is stable.
func fromPlain(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := &M{}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if x[k] == nil {
				m.set(k, null)
				continue
			}
			m.set(k, fromPlain(x[k]))
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, it := range x {
			if it == nil {
				out[i] = null
				continue
			}
			out[i] = fromPlain(it)
		}
		return out
	}
	return v
}

// YAMLBytes encodes v (an *M tree) as YAML with two-space indentation.
func yamlBytes(v *M) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	n, err := yamlNode(v)
	if err != nil {
		return nil, err
	}
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// jsonIndent encodes v as indented JSON.
func jsonIndent(v any) ([]byte, error) {
	raw, err := marshalJSON(v)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// toPlain is v as decoded JSON.
func toPlain(v any) any {
	j, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	_ = json.Unmarshal(j, &out)
	return out
}
