package builder

import (
	"maps"
	"strings"
)

// requiredPlaceholder stands in, at build time only, for a value the site
// supplies at install time (a chart's `required` list), so that charts
// whose templates insist on it still render for image discovery. It never
// reaches a bundle: the manifest carries the spec's values as written.
const requiredPlaceholder = "ferry-site-value"

// withPlaceholders returns a copy of values in which every required dotted
// path that is unset holds requiredPlaceholder.
func withPlaceholders(values map[string]any, required []string) map[string]any {
	out := deepCopy(values)
	for _, p := range required {
		m := out
		keys := strings.Split(p, ".")
		for i, k := range keys {
			if i == len(keys)-1 {
				if _, ok := m[k]; !ok {
					m[k] = requiredPlaceholder
				}
				break
			}
			next, ok := m[k].(map[string]any)
			if !ok {
				if _, set := m[k]; set {
					break // a non-map value is already there: leave it
				}
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
	}
	return out
}

func deepCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	maps.Copy(out, m)
	for k, v := range out {
		if sub, ok := v.(map[string]any); ok {
			out[k] = deepCopy(sub)
		}
	}
	return out
}
