package views

import (
	"fmt"
	"testing"
)

func TestSchemaCacheDecodesEachSchemaOnceAndStaysBounded(t *testing.T) {
	var c schemaCache
	raw := []byte(`{"fields":[{"key":"name","type":"text","required":true}],"selects":[{"key":"source","options":[{"value":"a","label":"A"}]}],"statuses":[{"slug":"new","label":"New"}]}`)
	want, err := (*schemaCache)(nil).decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		got, err := c.decode(raw)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("decode = %+v, %v; want %+v", got, err, want)
		}
	}
	if len(c.m) != 1 {
		t.Fatalf("%d entries for one schema", len(c.m))
	}

	if _, err := c.decode([]byte(`{"fields": [`)); err == nil {
		t.Fatal("a malformed schema decoded")
	}
	if len(c.m) != 1 {
		t.Fatal("a malformed schema was kept")
	}

	for i := range 2 * schemaCacheMax {
		s, err := c.decode(fmt.Appendf(nil, `{"statuses":[{"slug":"s%d"}]}`, i))
		if err != nil || len(s.Statuses) != 1 || s.Statuses[0].Slug != fmt.Sprintf("s%d", i) {
			t.Fatalf("schema %d decoded as %+v, %v", i, s, err)
		}
		if len(c.m) > schemaCacheMax {
			t.Fatalf("%d entries, more than %d", len(c.m), schemaCacheMax)
		}
	}
}
