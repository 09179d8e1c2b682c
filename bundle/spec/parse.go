package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// Parse reads a spec from data. name labels errors (usually the file name,
// e.g. "ferry.yaml"). The YAML is validated against bundle.schema.json, then
// checked for what the schema cannot express, before the Spec is built;
// then defaults are applied (see the Default constants, KubeVersionOf, and
// the field docs). Local paths stay as written and Dir is empty; use Load to
// resolve them against the spec file's directory.
//
// Every problem is a *FieldError ("ferry.yaml:14: charts[1].version: ...");
// several are joined with errors.Join, one per line, sorted by line.
func Parse(name string, data []byte) (*Spec, error) {
	root, err := parseYAML(name, data)
	if err != nil {
		return nil, err
	}
	conv := &converter{name: name, active: map[*yaml.Node]bool{}}
	tree, err := conv.convert(root, nil)
	if err != nil {
		return nil, err
	}
	c := &checker{name: name, root: root, tree: tree}
	if err := c.validateSchema(); err != nil {
		return nil, err
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	c.checkTree()
	if err := c.err(); err != nil {
		return nil, err
	}
	s, err := build(tree)
	if err != nil {
		return nil, &FieldError{File: name, Line: root.Line, Msg: err.Error()}
	}
	s.applyDefaults()
	c.checkSpec(s)
	if err := c.err(); err != nil {
		return nil, err
	}
	return s, nil
}

// Load reads and parses the spec file at path (see Parse), sets Dir to the
// file's absolute directory and resolves every relative local path (chart
// repo directories, keyrings, file sources, templates) against it. It then
// checks the template overrides as hosts will (see checkTemplates).
func Load(path string) (*Spec, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load spec %s: %w", path, err)
	}
	f, err := os.Open(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("load spec: %w: pass the path of your ferry.yaml with -f (`ferry schema` prints its format)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("load spec: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load spec: %w", err)
	}
	if st.Size() > MaxSpecSize {
		return nil, fmt.Errorf("load spec %s: %d bytes, more than the %d allowed: move large values into files", path, st.Size(), MaxSpecSize)
	}
	data := make([]byte, st.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("load spec %s: %w", path, err)
	}
	s, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	s.resolve(filepath.Dir(abs))
	if err := s.checkTemplates(path, data); err != nil {
		return nil, err
	}
	return s, nil
}

// build turns a schema-valid tree into a Spec. Values maps are taken from
// the tree as they are, so integers stay integers.
func build(tree any) (*Spec, error) {
	b, err := json.Marshal(tree)
	if err != nil {
		return nil, fmt.Errorf("encode spec: %w", err)
	}
	var s Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode spec: %w", err)
	}
	top, _ := tree.(map[string]any)
	if charts, ok := top["charts"].([]any); ok {
		for i, ch := range charts {
			if m, ok := ch.(map[string]any); ok && i < len(s.Charts) {
				if v, ok := m["values"].(map[string]any); ok {
					s.Charts[i].Values = v
				}
			}
		}
	}
	if tr, ok := top["traefik"].(map[string]any); ok {
		if v, ok := tr["values"].(map[string]any); ok {
			s.Traefik.Values = v
		}
	}
	return &s, nil
}
