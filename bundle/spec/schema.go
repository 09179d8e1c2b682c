package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	ferry "github.com/ferry-k3s/ferry"
)

// schemaURL is the name the embedded schema is compiled under.
const schemaURL = "https://ferry.k3s.io/schemas/bundle.schema.json"

// compiledSchema compiles the embedded schema once; both results are
// read-only afterwards.
var compiledSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(ferry.Schema))
	if err != nil {
		return nil, fmt.Errorf("decode bundle.schema.json: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("load bundle.schema.json: %w", err)
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return nil, fmt.Errorf("compile bundle.schema.json: %w", err)
	}
	return sch, nil
})

// schemaDoc is the embedded schema as plain JSON data, for the descriptions,
// examples and error messages that the compiled form does not expose.
var schemaDoc = sync.OnceValue(func() map[string]any {
	var m map[string]any
	if err := json.Unmarshal(ferry.Schema, &m); err != nil {
		return map[string]any{}
	}
	return m
})

// subschema returns the part of the schema that describes the instance at
// ptr, or nil when the schema says nothing specific about it.
func subschema(ptr []string) map[string]any {
	s := schemaDoc()
	for _, tok := range ptr {
		if props, ok := s["properties"].(map[string]any); ok {
			if p, ok := props[tok].(map[string]any); ok {
				s = p
				continue
			}
		}
		if items, ok := s["items"].(map[string]any); ok && isIndex(tok) {
			s = items
			continue
		}
		return nil
	}
	return s
}

// propertyNames lists the fields the schema allows at ptr.
func propertyNames(ptr []string) []string {
	s := subschema(ptr)
	props, _ := s["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	return names
}

// example returns the first schema example for the field at ptr as JSON.
func example(ptr []string) (string, bool) {
	s := subschema(ptr)
	ex, _ := s["examples"].([]any)
	if len(ex) == 0 {
		return "", false
	}
	b, err := json.Marshal(ex[0])
	if err != nil {
		return "", false
	}
	return string(b), true
}

// errorMessage returns the schema's errorMessage for the field at ptr.
func errorMessage(ptr []string) string {
	s := subschema(ptr)
	m, _ := s["errorMessage"].(string)
	return m
}
