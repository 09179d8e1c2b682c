package spec

import (
	"fmt"
	"regexp"
	"strings"
)

// FieldError is one problem in a spec file, reported on one line as
// "FILE:LINE: PATH: MESSAGE" where PATH is a field path such as
// charts[1].version. Parse returns one FieldError, or several joined with
// errors.Join; find them with errors.As or by unwrapping.
type FieldError struct {
	// File is the name the spec was parsed under.
	File string
	// Line is the 1-based line of the field, or of its parent mapping when
	// the field is missing.
	Line int
	// Path is the field path; empty for the whole document.
	Path string
	// Msg says what is wrong and how to fix it.
	Msg string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Path, e.Msg)
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// displayPath renders JSON pointer tokens as a field path: a.b[1].c, with
// keys that are not identifiers quoted (values["x.y"]). Tokens that look
// like numbers are taken as list indexes; fieldPath knows better.
func displayPath(ptr []string) string { return fieldPath(nil, ptr) }

// fieldPath renders ptr as a field path, using the instance tree (when
// non-nil) to tell list indexes from mapping keys.
func fieldPath(tree any, ptr []string) string {
	var b strings.Builder
	for _, tok := range ptr {
		index := isIndex(tok)
		switch t := tree.(type) {
		case []any:
			index = true
			if i := atoi(tok); i >= 0 && i < len(t) {
				tree = t[i]
			} else {
				tree = nil
			}
		case map[string]any:
			index = false
			tree = t[tok]
		}
		switch {
		case index:
			b.WriteString("[" + tok + "]")
		case identRE.MatchString(tok):
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(tok)
		default:
			fmt.Fprintf(&b, "[%q]", tok)
		}
	}
	return b.String()
}

// isIndex reports whether a pointer token is an array index. Keys that look
// like numbers are rendered as indexes too; the line number disambiguates.
func isIndex(tok string) bool {
	if tok == "" || len(tok) > 9 {
		return false
	}
	for _, r := range tok {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func atoi(tok string) int {
	if !isIndex(tok) {
		return -1
	}
	n := 0
	for _, r := range tok {
		n = n*10 + int(r-'0')
	}
	return n
}
