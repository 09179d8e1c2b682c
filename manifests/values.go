package manifests

import (
	"fmt"
	"strings"

	"github.com/ferry-k3s/ferry/bundle"
)

// MergeValues deep-merges Helm values layers, later layers winning: chart
// defaults < spec values < site values. Nested maps merge key by key; any
// other value (scalar, list, nil) of a later layer replaces the earlier one.
// Nil layers are skipped. The inputs are not modified, and the result shares
// no maps with them; it is never nil.
func MergeValues(layers ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, l := range layers {
		mergeInto(out, l)
	}
	return out
}

// mergeInto merges src into dst, copying maps out of src.
func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		sv, srcIsMap := v.(map[string]any)
		if !srcIsMap {
			dst[k] = copyValue(v)
			continue
		}
		dv, dstIsMap := dst[k].(map[string]any)
		if !dstIsMap {
			dv = map[string]any{}
			dst[k] = dv
		}
		mergeInto(dv, sv)
	}
}

// copyValue deep-copies maps and lists so that the result never aliases an
// input layer.
func copyValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		mergeInto(m, t)
		return m
	case []any:
		l := make([]any, len(t))
		for i, e := range t {
			l[i] = copyValue(e)
		}
		return l
	default:
		return v
	}
}

// MissingValuesError reports required chart values that a site did not
// supply. Callers may branch on it (errors.As) to list the paths.
type MissingValuesError struct {
	// Chart names the chart; empty when unknown (the message then says CHART).
	Chart string
	// Paths are the missing dotted value paths, in the order required.
	Paths []string
}

// Error lists every missing path and how to supply it.
func (e *MissingValuesError) Error() string {
	chart := e.Chart
	if chart == "" {
		chart = "CHART"
	}
	sets := make([]string, len(e.Paths))
	for i, p := range e.Paths {
		sets[i] = fmt.Sprintf("--set %s.%s=VALUE", chart, p)
	}
	return fmt.Sprintf("chart %s is missing required values %s: supply them with %s, or with --values %s=FILE",
		chart, strings.Join(e.Paths, ", "), strings.Join(sets, " "), chart)
}

// CheckRequired checks that values holds every dotted path in required
// (e.g. "nfs.server"). A path is missing when any step is absent or not a
// map, or its value is nil or the empty string. The error, a
// *MissingValuesError, lists every missing path and the fix.
func CheckRequired(values map[string]any, required []string) error {
	var missing []string
	for _, p := range required {
		if !present(values, p) {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return &MissingValuesError{Paths: missing}
	}
	return nil
}

// CheckChart is CheckRequired for c.Required, naming c in the error.
func CheckChart(c bundle.Chart, values map[string]any) error {
	err := CheckRequired(values, c.Required)
	if e, ok := err.(*MissingValuesError); ok {
		e.Chart = c.Name
	}
	return err
}

// present reports whether the dotted path p holds a non-empty value.
func present(values map[string]any, p string) bool {
	cur := any(values)
	for _, step := range strings.Split(p, ".") {
		m, ok := cur.(map[string]any)
		if !ok || step == "" {
			return false
		}
		if cur, ok = m[step]; !ok {
			return false
		}
	}
	switch v := cur.(type) {
	case nil:
		return false
	case string:
		return v != ""
	default:
		return true
	}
}
