package installer

import (
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// SiteValues are a site's chart values by chart name, from --values
// CHART=FILE and --set CHART.KEY=VAL. They win over a chart's bundled values.
type SiteValues map[string]map[string]any

// AddYAML merges the YAML mapping data over chart's values (a later file
// wins key by key, like repeated helm -f).
func (v SiteValues) AddYAML(chart string, data []byte) error {
	if chart == "" {
		return fmt.Errorf("values need a chart: write CHART=FILE")
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("values for chart %s: not a YAML mapping: %w", chart, err)
	}
	v[chart] = mergeMaps(v[chart], m)
	return nil
}

// ParseValuesFlag splits "CHART=FILE" (ferry-install's --values).
func ParseValuesFlag(s string) (chart, file string, err error) {
	chart, file, ok := strings.Cut(s, "=")
	if !ok || chart == "" || file == "" {
		return "", "", fmt.Errorf("%q is not CHART=FILE: e.g. longhorn=site-longhorn.yaml", s)
	}
	return chart, file, nil
}

// Set applies one --set CHART.KEY=VAL: KEY is a dotted path below the
// chart's values; VAL is typed like Helm's --set (true and false are
// booleans, null is nil, base-10 integers without a leading zero are
// integers, anything else is a string). One assignment per --set; commas
// are part of the value.
func (v SiteValues) Set(expr string) error {
	lhs, val, ok := strings.Cut(expr, "=")
	if !ok {
		return fmt.Errorf("%q is not CHART.KEY=VALUE: e.g. nfs-subdir-external-provisioner.nfs.server=10.0.0.5", expr)
	}
	chart, key, ok := strings.Cut(lhs, ".")
	if !ok || chart == "" || key == "" {
		return fmt.Errorf("%q does not name a chart and a key: write CHART.KEY=VALUE", expr)
	}
	if v[chart] == nil {
		v[chart] = map[string]any{}
	}
	return SetValue(v[chart], key, val)
}

// SetValue sets the dotted path key in values to the typed val, creating
// maps on the way and replacing anything that is not a map.
func SetValue(values map[string]any, key, val string) error {
	steps := strings.Split(key, ".")
	for _, s := range steps {
		if s == "" {
			return fmt.Errorf("value path %q has an empty step: write keys like a.b.c", key)
		}
	}
	cur := values
	for _, s := range steps[:len(steps)-1] {
		next, ok := cur[s].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[s] = next
		}
		cur = next
	}
	cur[steps[len(steps)-1]] = typedValue(val)
	return nil
}

// typedValue types a --set value the way Helm does.
func typedValue(s string) any {
	switch s {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if len(s) > 1 && s[0] == '0' {
		return s
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	return s
}

// mergeMaps deep-merges src over dst in place and returns dst.
func mergeMaps(dst, src map[string]any) map[string]any {
	if dst == nil {
		dst = map[string]any{}
	}
	for k, sv := range src {
		sm, ok := sv.(map[string]any)
		dm, ok2 := dst[k].(map[string]any)
		if ok && ok2 {
			dst[k] = mergeMaps(dm, sm)
			continue
		}
		dst[k] = sv
	}
	return dst
}
