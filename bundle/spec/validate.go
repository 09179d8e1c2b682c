package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"gopkg.in/yaml.v3"
)

// maxErrors caps how many problems one Parse reports.
const maxErrors = 30

// checker turns problems at JSON pointers into FieldErrors with lines.
type checker struct {
	name string
	root *yaml.Node
	tree any
	errs []*FieldError
}

// at records a problem with the field at ptr.
func (c *checker) at(ptr []string, format string, args ...any) {
	c.errs = append(c.errs, &FieldError{
		File: c.name,
		Line: lineOf(c.root, ptr),
		Path: fieldPath(c.tree, ptr),
		Msg:  fmt.Sprintf(format, args...),
	})
}

// lineAt records a problem with the field at ptr, reported at the line of
// the node at lineptr (the parent, for a missing field).
func (c *checker) lineAt(lineptr, ptr []string, format string, args ...any) {
	c.errs = append(c.errs, &FieldError{
		File: c.name,
		Line: lineOf(c.root, lineptr),
		Path: fieldPath(c.tree, ptr),
		Msg:  fmt.Sprintf(format, args...),
	})
}

// err returns the recorded problems sorted by line, or nil.
func (c *checker) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(c.errs, func(a, b *FieldError) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return strings.Compare(a.Path, b.Path)
	})
	c.errs = slices.CompactFunc(c.errs, func(a, b *FieldError) bool { return *a == *b })
	errs := make([]error, 0, min(len(c.errs), maxErrors)+1)
	for i, e := range c.errs {
		if i == maxErrors {
			errs = append(errs, &FieldError{File: c.name, Line: e.Line, Msg: fmt.Sprintf("and %d more problems: fix the ones above first", len(c.errs)-maxErrors)})
			break
		}
		errs = append(errs, e)
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// validateSchema checks the tree against bundle.schema.json.
func (c *checker) validateSchema() error {
	sch, err := compiledSchema()
	if err != nil {
		return err
	}
	err = sch.Validate(c.tree)
	var ve *jsonschema.ValidationError
	if err == nil || !errors.As(err, &ve) {
		return err
	}
	c.report(ve)
	return nil
}

var printer = message.NewPrinter(language.English)

// report records every leaf of a validation error tree.
func (c *checker) report(ve *jsonschema.ValidationError) {
	if len(ve.Causes) > 0 {
		for _, cause := range ve.Causes {
			c.report(cause)
		}
		return
	}
	ptr := ve.InstanceLocation
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			field := append(slices.Clip(ptr), m)
			if ex, ok := example(field); ok {
				c.lineAt(ptr, field, "missing required value: add %s: %s", m, ex)
			} else {
				c.lineAt(ptr, field, "missing required value: add %s", m)
			}
		}
	case *kind.AdditionalProperties:
		known := propertyNames(ptr)
		for _, p := range k.Properties {
			field := append(slices.Clip(ptr), p)
			if s := suggest(p, known); s != "" {
				c.at(field, "unknown field (did you mean %s?)", s)
			} else {
				slices.Sort(known)
				c.at(field, "unknown field: remove it (known fields: %s)", strings.Join(known, ", "))
			}
		}
	case *kind.Type:
		c.at(ptr, "wrong type: got %s, want %s%s", k.Got, strings.Join(k.Want, " or "), c.typeHint(ptr, k))
	case *kind.Const:
		c.at(ptr, "%s is not allowed: write %s: %s", show(k.Got), last(ptr), show(k.Want))
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprint(w)
		}
		hint := ""
		if s, ok := k.Got.(string); ok {
			if g := synonyms[strings.ToLower(s)]; g != "" && slices.Contains(want, g) {
				hint = fmt.Sprintf(" (did you mean %s?)", g)
			} else if g := suggest(s, want); g != "" {
				hint = fmt.Sprintf(" (did you mean %s?)", g)
			}
		}
		c.at(ptr, "%s is not one of %s%s", show(k.Got), strings.Join(want, ", "), hint)
	case *kind.Pattern:
		c.at(ptr, "%s %s", show(k.Got), orDefault(errorMessage(ptr), "does not match "+k.Want))
	case *kind.Format:
		c.at(ptr, "%s %s", show(k.Got), orDefault(errorMessage(ptr), "is not a valid "+k.Want))
	case *kind.MinItems:
		c.at(ptr, "has %d items, needs at least %d%s", k.Got, k.Want, exampleHint(ptr))
	case *kind.MinLength:
		c.at(ptr, "is empty: give it a value or remove it")
	case *kind.MaxLength:
		c.at(ptr, "is %d characters long, at most %d are allowed", k.Got, k.Want)
	case *kind.UniqueItems:
		dup := append(slices.Clip(ptr), fmt.Sprint(k.Duplicates[1]))
		c.at(dup, "repeats item %d: list each value once", k.Duplicates[0])
	default:
		c.at(ptr, "%s", ve.ErrorKind.LocalizedString(printer))
	}
}

// synonyms maps other names of enum values to the names the schema uses.
var synonyms = map[string]string{
	"x86_64":  "amd64",
	"x86-64":  "amd64",
	"x64":     "amd64",
	"aarch64": "arm64",
	"armv8":   "arm64",
	"armhf":   "arm",
	"armv7":   "arm",
	"armv7l":  "arm",
}

// typeHint suggests how to reach the wanted type from what was written.
func (c *checker) typeHint(ptr []string, k *kind.Type) string {
	wantString := slices.Contains(k.Want, "string")
	switch {
	case len(ptr) == 0:
		return ": a spec is a YAML mapping that starts with apiVersion: " + APIVersion
	case k.Got == "null":
		return ": give it a value or remove the key"
	case wantString && (k.Got == "number" || k.Got == "integer" || k.Got == "boolean"):
		if n := nodeAt(c.root, ptr); n != nil && n.Kind == yaml.ScalarNode {
			return fmt.Sprintf(": quote it: %q", n.Value)
		}
		return ": quote it"
	}
	return exampleHint(ptr)
}

func exampleHint(ptr []string) string {
	if ex, ok := example(ptr); ok {
		return ", e.g. " + ex
	}
	return ""
}

// show renders an instance value for a message, shortened.
func show(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	s := strings.TrimSuffix(b.String(), "\n")
	if r := []rune(s); len(r) > 80 {
		s = string(r[:77]) + "..."
	}
	return s
}

func last(ptr []string) string {
	if len(ptr) == 0 {
		return ""
	}
	return ptr[len(ptr)-1]
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// nodeAt returns the YAML node at ptr, or nil.
func nodeAt(root *yaml.Node, ptr []string) *yaml.Node {
	n := root
	for _, tok := range ptr {
		if n, _ = child(n, tok, 0); n == nil {
			return nil
		}
	}
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// suggest returns the candidate closest to s when it is close enough to be
// a likely typo, or "".
func suggest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if strings.EqualFold(s, c) {
			return c
		}
		d := distance(strings.ToLower(s), strings.ToLower(c))
		if d < bestD && d < len(c) || d == bestD && best != "" && c < best {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the optimal string alignment distance (edits and adjacent
// transpositions) between a and b.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return 1 << 30
	}
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
