package spec

import (
	"sort"
	"strings"
	"testing"
)

// TestSchemaDocumentsEveryField walks bundle.schema.json: every property and
// list item has a description for editors, and every object that lists its
// properties refuses unknown ones.
func TestSchemaDocumentsEveryField(t *testing.T) {
	if _, err := compiledSchema(); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, s map[string]any)
	count := 0
	walk = func(path string, s map[string]any) {
		count++
		if d, _ := s["description"].(string); strings.TrimSpace(d) == "" {
			t.Errorf("%s: no description", path)
		}
		if props, ok := s["properties"].(map[string]any); ok {
			if s["additionalProperties"] != false {
				t.Errorf("%s: additionalProperties is not false", path)
			}
			names := make([]string, 0, len(props))
			for k := range props {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				walk(path+"."+k, props[k].(map[string]any))
			}
		}
		if items, ok := s["items"].(map[string]any); ok {
			walk(path+"[]", items)
		}
		if _, ok := s["pattern"]; ok {
			if m, _ := s["errorMessage"].(string); m == "" {
				t.Errorf("%s: a pattern without an errorMessage gives users a regular expression to read", path)
			}
		}
	}
	walk("spec", schemaDoc())
	if count < 35 {
		t.Errorf("walked only %d schemas; did the schema lose its properties?", count)
	}
}

// TestSchemaMatchesTypes checks that every field the schema knows is a field
// of the Go types, by parsing a spec that sets all of them.
func TestSchemaMatchesTypes(t *testing.T) {
	src := `apiVersion: ferry.k3s.io/v1
kind: Bundle
metadata: {name: all, version: 2.0.0-rc.1, expires: "2030-01-01T00:00:00+02:00"}
k3s: {version: v1.32.0-rc1+k3s1, arch: [arm], source: "http://mirror.local/k3s"}
kubeVersion: v1.32.1
charts:
  - {name: a, repo: oci://r.local/c, version: 1.0.0, namespace: ns, releaseName: rel, values: {x: 1}, required: [x], keyring: /k.gpg}
traefik: {values: {y: true}}
images: {extra: ["r.local:5000/a/b:1@sha256:` + strings.Repeat("0", 64) + `"], exclude: ["docker.io/rancher/mirrored-*"]}
files:
  - {source: "file:///srv/x.bin", sha256: ` + strings.Repeat("f", 64) + `, hostPath: /opt/x.bin, mode: "0600", name: bin/x.bin}
templates: /etc/ferry/templates
`
	s, err := Parse("all.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c, f := s.Charts[0], s.Files[0]
	checks := map[string]bool{
		"metadata.expires":    s.Metadata.Expires != nil && s.Metadata.Expires.UTC().Hour() == 22,
		"k3s.arch":            len(s.K3s.Arch) == 1 && s.K3s.Arch[0] == "arm",
		"k3s.source":          s.K3s.Source == "http://mirror.local/k3s",
		"kubeVersion":         s.KubeVersion == "v1.32.1",
		"charts.namespace":    c.Namespace == "ns",
		"charts.releaseName":  c.ReleaseName == "rel",
		"charts.values":       c.Values["x"] == 1,
		"charts.required":     len(c.Required) == 1,
		"charts.keyring":      c.Keyring == "/k.gpg",
		"traefik.values":      s.Traefik.Values["y"] == true,
		"images.extra":        len(s.Images.Extra) == 1,
		"images.exclude":      s.Images.Excludes("docker.io/rancher/mirrored-coredns-coredns:1.12.0"),
		"files.mode":          f.Mode == "0600",
		"files.name":          f.Name == "bin/x.bin",
		"files.source":        f.Source == "file:///srv/x.bin" && !f.IsLocal(),
		"templates":           s.Templates == "/etc/ferry/templates",
		"images.exclude miss": !s.Images.Excludes("docker.io/library/nginx:1.27"),
	}
	for field, ok := range checks {
		if !ok {
			t.Errorf("%s did not reach the Go value: %+v", field, s)
		}
	}
}

func TestKubeVersionOf(t *testing.T) {
	for tag, want := range map[string]string{
		"v1.31.4+k3s1":     "v1.31.4",
		"v1.32.0-rc1+k3s2": "v1.32.0",
		"v1.31.4":          "",
		"latest":           "",
	} {
		if got := KubeVersionOf(tag); got != want {
			t.Errorf("KubeVersionOf(%q) = %q, want %q", tag, got, want)
		}
	}
}
