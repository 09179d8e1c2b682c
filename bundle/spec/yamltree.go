package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Limits on what a spec may expand to, so that a hostile file (deep nesting,
// alias bombs) cannot exhaust memory or the stack.
const (
	// MaxSpecSize is the largest spec file Parse accepts (4 MiB).
	MaxSpecSize = 4 << 20
	maxNodes    = 200_000
	maxDepth    = 200
)

var yamlLineRE = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

// parseYAML reads exactly one YAML document into a node tree. Errors are
// FieldErrors carrying the line the YAML parser names.
func parseYAML(name string, data []byte) (*yaml.Node, error) {
	if len(data) > MaxSpecSize {
		return nil, &FieldError{File: name, Line: 1, Msg: fmt.Sprintf("spec is %d bytes, more than the %d allowed: move large values into files", len(data), MaxSpecSize)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FieldError{File: name, Line: 1, Msg: "empty spec: start with apiVersion: " + APIVersion + " and kind: " + Kind}
		}
		return nil, yamlError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &FieldError{File: name, Line: extra.Line, Msg: "a second YAML document: a spec file holds one document; remove the '---' and what follows"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(name, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, &FieldError{File: name, Line: 1, Msg: "empty spec: start with apiVersion: " + APIVersion + " and kind: " + Kind}
	}
	return doc.Content[0], nil
}

func yamlError(name string, err error) error {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &FieldError{File: name, Line: line, Msg: "malformed YAML: " + m[2]}
	}
	msg := err.Error()
	if len(msg) > 6 && msg[:6] == "yaml: " {
		msg = msg[6:]
	}
	return &FieldError{File: name, Line: 1, Msg: "malformed YAML: " + msg}
}

// converter turns a yaml.Node tree into the JSON data model (map[string]any,
// []any, string, int/float64, bool, nil) that the schema validator and
// encoding/json understand, expanding aliases and merge keys.
type converter struct {
	name   string
	nodes  int
	active map[*yaml.Node]bool // aliases being expanded, to refuse cycles
}

func (c *converter) fail(n *yaml.Node, ptr []string, format string, args ...any) error {
	return &FieldError{File: c.name, Line: n.Line, Path: displayPath(ptr), Msg: fmt.Sprintf(format, args...)}
}

func (c *converter) convert(n *yaml.Node, ptr []string) (any, error) {
	c.nodes++
	if c.nodes > maxNodes {
		return nil, c.fail(n, ptr, "spec expands to more than %d YAML nodes (aliases included): simplify it", maxNodes)
	}
	if len(ptr) > maxDepth {
		return nil, c.fail(n, ptr, "spec nests deeper than %d levels: flatten it", maxDepth)
	}
	switch n.Kind {
	case yaml.AliasNode:
		if c.active[n.Alias] {
			return nil, c.fail(n, ptr, "alias *%s refers to a value that contains it: remove the cycle", n.Value)
		}
		c.active[n.Alias] = true
		v, err := c.convert(n.Alias, ptr)
		delete(c.active, n.Alias)
		return v, err
	case yaml.MappingNode:
		return c.mapping(n, ptr)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, item := range n.Content {
			v, err := c.convert(item, append(ptr, strconv.Itoa(i)))
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		return c.scalar(n, ptr)
	}
	return nil, c.fail(n, ptr, "unexpected YAML node: write plain mappings, lists and values")
}

func (c *converter) scalar(n *yaml.Node, ptr []string) (any, error) {
	switch n.ShortTag() {
	case "!!int", "!!float", "!!bool", "!!null":
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, c.fail(n, ptr, "%s is not a valid %s: quote it to make it a string", n.Value, n.ShortTag())
		}
		if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
			return nil, c.fail(n, ptr, "%s has no JSON form: quote it to make it a string", n.Value)
		}
		return v, nil
	}
	// Strings, timestamps, binary and custom tags stay as written.
	return n.Value, nil
}

func (c *converter) mapping(n *yaml.Node, ptr []string) (map[string]any, error) {
	out := make(map[string]any, len(n.Content)/2)
	explicit := make(map[string]int, len(n.Content)/2)
	var merged map[string]any
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			m, err := c.merge(v, ptr)
			if err != nil {
				return nil, err
			}
			if merged == nil {
				merged = m
				continue
			}
			for mk, mv := range m {
				if _, ok := merged[mk]; !ok {
					merged[mk] = mv
				}
			}
			continue
		}
		if k.Kind != yaml.ScalarNode {
			return nil, c.fail(k, ptr, "a key that is not a plain value: keys must be strings")
		}
		key := k.Value
		if first, ok := explicit[key]; ok {
			return nil, c.fail(k, append(ptr, key), "duplicate key (first at line %d): keep one", first)
		}
		explicit[key] = k.Line
		val, err := c.convert(v, append(ptr, key))
		if err != nil {
			return nil, err
		}
		out[key] = val
	}
	for mk, mv := range merged {
		if _, ok := out[mk]; !ok {
			out[mk] = mv
		}
	}
	return out, nil
}

// merge expands the value of a '<<' key: one mapping or a list of them,
// earlier ones winning.
func (c *converter) merge(v *yaml.Node, ptr []string) (map[string]any, error) {
	val, err := c.convert(v, ptr)
	if err != nil {
		return nil, err
	}
	switch m := val.(type) {
	case map[string]any:
		return m, nil
	case []any:
		out := map[string]any{}
		for _, item := range m {
			im, ok := item.(map[string]any)
			if !ok {
				return nil, c.fail(v, ptr, "'<<' merges mappings only: list aliases of mappings")
			}
			for k, x := range im {
				if _, ok := out[k]; !ok {
					out[k] = x
				}
			}
		}
		return out, nil
	}
	return nil, c.fail(v, ptr, "'<<' merges mappings only: give it an alias of a mapping")
}

// lineOf finds the line of the value at ptr (a JSON pointer split into
// tokens), following aliases and merge keys. For a mapping member it returns
// the line of the key. When ptr leads nowhere it returns the line of the
// deepest node found.
func lineOf(root *yaml.Node, ptr []string) int {
	n := root
	line := root.Line
	for _, tok := range ptr {
		next, keyLine := child(n, tok, 0)
		if next == nil {
			return line
		}
		n, line = next, keyLine
	}
	return line
}

// child returns the node under n for one pointer token and the line that
// names it (the key's line for mappings).
func child(n *yaml.Node, tok string, depth int) (*yaml.Node, int) {
	if depth > 32 {
		return nil, 0
	}
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.ShortTag() != "!!merge" && k.Value == tok {
				return n.Content[i+1], k.Line
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].ShortTag() != "!!merge" {
				continue
			}
			v := n.Content[i+1]
			for v.Kind == yaml.AliasNode && v.Alias != nil {
				v = v.Alias
			}
			sources := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				sources = v.Content
			}
			for _, m := range sources {
				if c, l := child(m, tok, depth+1); c != nil {
					return c, l
				}
			}
		}
	case yaml.SequenceNode:
		i, err := strconv.Atoi(tok)
		if err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i], n.Content[i].Line
		}
	}
	return nil, 0
}
