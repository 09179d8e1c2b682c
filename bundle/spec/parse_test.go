package spec

import (
	"errors"
	"strings"
	"testing"
)

// head is a valid spec prefix of five lines; cases append to it so that
// their line numbers start at 6.
const head = `apiVersion: ferry.k3s.io/v1
kind: Bundle
metadata: {name: edge, version: 1.0.0}
k3s:
  version: v1.31.4+k3s1
`

var sum = strings.Repeat("ab", 32)

func TestParseBadSpecs(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // the complete error text, one problem per line
	}{
		{"unknown field with suggestion", head + "  arhc: [amd64]\n",
			"ferry.yaml:6: k3s.arhc: unknown field (did you mean arch?)"},
		{"unknown field without suggestion", head + "colour: blue\n",
			"ferry.yaml:6: colour: unknown field: remove it (known fields: apiVersion, charts, files, images, k3s, kind, kubeVersion, metadata, templates, traefik)"},
		{"unknown field in a chart", head + "charts:\n  - {name: a, repo: ./a, version: 1.0.0, namepsace: x}\n",
			"ferry.yaml:7: charts[0].namepsace: unknown field (did you mean namespace?)"},
		{"wrong type: number for string", "apiVersion: ferry.k3s.io/v1\nkind: Bundle\nmetadata: {name: edge, version: 1.4}\nk3s: {version: v1.31.4+k3s1}\n",
			`ferry.yaml:3: metadata.version: wrong type: got number, want string: quote it: "1.4"`},
		{"wrong type: object for list", head + "charts: {name: a}\n",
			"ferry.yaml:6: charts: wrong type: got object, want array"},
		{"wrong type: null", head + "traefik:\n  values:\n",
			"ferry.yaml:7: traefik.values: wrong type: got null, want object: give it a value or remove the key"},
		{"wrong type: unquoted mode", head + "files:\n  - source: a.rpm\n    sha256: " + sum + "\n    hostPath: /opt/a.rpm\n    mode: 0755\n",
			`ferry.yaml:10: files[0].mode: wrong type: got number, want string: quote it: "0755"`},
		{"missing chart version", head + "charts:\n  - name: longhorn\n    repo: https://charts.longhorn.io\n    version: 1.7.2\n  - name: nfs-subdir-external-provisioner\n    repo: https://kubernetes-sigs.github.io/nfs-subdir-external-provisioner\n",
			`ferry.yaml:10: charts[1].version: missing required value: add version: "4.0.18"`},
		{"missing k3s", "apiVersion: ferry.k3s.io/v1\nkind: Bundle\nmetadata: {name: edge, version: 1.0.0}\n",
			`ferry.yaml:1: k3s: missing required value: add k3s: {"version":"v1.31.4+k3s1"}`},
		{"missing metadata name", "apiVersion: ferry.k3s.io/v1\nkind: Bundle\nmetadata:\n  version: 1.0.0\nk3s: {version: v1.31.4+k3s1}\n",
			`ferry.yaml:3: metadata.name: missing required value: add name: "factory-edge"`},
		{"bad arch", head + "  arch: [amd64, x86_64]\n",
			`ferry.yaml:6: k3s.arch[1]: "x86_64" is not one of amd64, arm64, arm (did you mean amd64?)`},
		{"bad arch typo", head + "  arch:\n    - amd64\n    - arm46\n",
			`ferry.yaml:8: k3s.arch[1]: "arm46" is not one of amd64, arm64, arm (did you mean arm64?)`},
		{"empty arch", head + "  arch: []\n",
			`ferry.yaml:6: k3s.arch: has 0 items, needs at least 1, e.g. ["amd64","arm64"]`},
		{"repeated arch", head + "  arch: [arm64, arm64]\n",
			"ferry.yaml:6: k3s.arch[1]: repeats item 0: list each value once"},
		{"bad k3s version", "apiVersion: ferry.k3s.io/v1\nkind: Bundle\nmetadata: {name: edge, version: 1.0.0}\nk3s:\n  version: 1.31.4\n",
			`ferry.yaml:5: k3s.version: "1.31.4" is not a k3s release tag: write one such as v1.31.4+k3s1`},
		{"bad sha256", head + "files:\n  - source: a.rpm\n    sha256: ABC123\n    hostPath: /opt/a.rpm\n",
			`ferry.yaml:8: files[0].sha256: "ABC123" is not a sha256: write the 64 lowercase hex digits printed by sha256sum`},
		{"relative hostPath", head + "files:\n  - source: a.rpm\n    sha256: " + sum + "\n    hostPath: opt/a.rpm\n",
			`ferry.yaml:9: files[0].hostPath: "opt/a.rpm" is not an absolute file path: write the full path on the host, e.g. /opt/ferry/files/k3s-selinux.rpm`},
		{"unclean hostPath", head + "files:\n  - {source: a.rpm, sha256: " + sum + ", hostPath: /opt/../etc/a.rpm}\n",
			`ferry.yaml:7: files[0].hostPath: "/opt/../etc/a.rpm" is not a clean absolute path: write it as "/etc/a.rpm"`},
		{"version range caret", head + "charts:\n  - name: longhorn\n    repo: https://charts.longhorn.io\n    version: ^1.2\n",
			`ferry.yaml:9: charts[0].version: "^1.2" is not an exact chart version: write one such as "4.0.18" (ranges like ^1.2 or ~1.7 are not allowed)`},
		{"version range comparison", head + "charts:\n  - {name: longhorn, repo: https://charts.longhorn.io, version: '>=1.7.0'}\n",
			`ferry.yaml:7: charts[0].version: ">=1.7.0" is not an exact chart version: write one such as "4.0.18" (ranges like ^1.2 or ~1.7 are not allowed)`},
		{"bad apiVersion", "apiVersion: ferry.k3s.io/v2\nkind: Bundle\nmetadata: {name: edge, version: 1.0.0}\nk3s: {version: v1.31.4+k3s1}\n",
			`ferry.yaml:1: apiVersion: "ferry.k3s.io/v2" is not allowed: write apiVersion: "ferry.k3s.io/v1"`},
		{"malformed YAML", "apiVersion: ferry.k3s.io/v1\nkind: Bundle\nmetadata:\n  name: edge\n   version: 1.0.0\n",
			"ferry.yaml:5: malformed YAML: mapping values are not allowed in this context"},
		{"malformed YAML tab", "apiVersion: ferry.k3s.io/v1\nkind: Bundle\nk3s:\n\tversion: v1.31.4+k3s1\n",
			"ferry.yaml:4: malformed YAML: found character that cannot start any token"},
		{"empty file", "# nothing yet\n",
			"ferry.yaml:1: empty spec: start with apiVersion: ferry.k3s.io/v1 and kind: Bundle"},
		{"not a mapping", "- apiVersion: ferry.k3s.io/v1\n",
			"ferry.yaml:1: wrong type: got array, want object: a spec is a YAML mapping that starts with apiVersion: ferry.k3s.io/v1"},
		{"two documents", head + "---\nkind: Bundle\n",
			"ferry.yaml:6: a second YAML document: a spec file holds one document; remove the '---' and what follows"},
		{"duplicate key", head + "  version: v1.30.8+k3s1\n",
			"ferry.yaml:6: k3s.version: duplicate key (first at line 5): keep one"},
		{"alias cycle", head + "charts: &c [*c]\n",
			"ferry.yaml:6: charts[0][0]: alias *c refers to a value that contains it: remove the cycle"},
		{"bad expires", "apiVersion: ferry.k3s.io/v1\nkind: Bundle\nmetadata:\n  name: edge\n  version: 1.0.0\n  expires: next year\nk3s: {version: v1.31.4+k3s1}\n",
			`ferry.yaml:6: metadata.expires: "next year" is not an RFC 3339 date-time: write e.g. 2026-12-31T00:00:00Z`},
		{"bad required path", head + "charts:\n  - {name: nfs, repo: ./nfs, version: 4.0.18, required: [nfs..server]}\n",
			`ferry.yaml:7: charts[0].required[0]: "nfs..server" is not a dotted value path: write keys separated by single dots, e.g. nfs.server`},
		{"duplicate release", head + "charts:\n  - {name: app, repo: ./a, version: 1.0.0}\n  - {name: app, repo: ./b, version: 1.0.1}\n",
			`ferry.yaml:8: charts[1].name: release "app" is already used by charts[0]: give one of them a unique releaseName`},
		{"duplicate file name", head + "files:\n  - {source: a/x.rpm, sha256: " + sum + ", hostPath: /opt/a.rpm}\n  - {source: b/x.rpm, sha256: " + sum + ", hostPath: /opt/b.rpm}\n",
			`ferry.yaml:8: files[1].source: bundle file name "x.rpm" is already used by files[0]: set a unique name`},
		{"image URL", head + "images:\n  extra: [https://docker.io/library/nginx:1.27]\n",
			`ferry.yaml:7: images.extra[0]: "https://docker.io/library/nginx:1.27" is not an image reference: write [registry/]repository[:tag][@sha256:digest], e.g. docker.io/library/nginx:1.27`},
		{"bad chart repo scheme", head + "charts:\n  - {name: a, repo: 'ftp://example.com/charts', version: 1.0.0}\n",
			`ferry.yaml:7: charts[0].repo: "ftp://example.com/charts" is not a chart repository: write an https://, http:// or oci:// URL, or a local path without a scheme`},
		{"several problems sorted by line", "apiVersion: ferry.k3s.io/v1\nkind: Bundel\nmetadata: {name: Edge, version: 1.0.0}\nk3s: {version: v1.31.4+k3s1, arch: [s390x]}\n",
			strings.Join([]string{
				`ferry.yaml:2: kind: "Bundel" is not allowed: write kind: "Bundle"`,
				`ferry.yaml:3: metadata.name: "Edge" is not a DNS label: use lowercase letters, digits and '-' (at most 63), e.g. factory-edge`,
				`ferry.yaml:4: k3s.arch[0]: "s390x" is not one of amd64, arm64, arm`,
			}, "\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse("ferry.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse succeeded with %+v, want error %q", s, tt.want)
			}
			if s != nil {
				t.Errorf("Parse returned a spec with an error")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n got: %s\nwant: %s", got, tt.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.File != "ferry.yaml" || fe.Line < 1 {
				t.Errorf("error %T is not a *FieldError with file and line", err)
			}
		})
	}
}

func TestValidValuePath(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"nfs.server", true},
		{"a", true},
		{"persistence.defaultClass", true},
		{"a.b-c.d_e.0", true},
		{"", false},
		{".a", false},
		{"a.", false},
		{"a..b", false},
		{"a. b", false},
		{"a.b\tc", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			err := ValidValuePath(tt.path)
			if (err == nil) != tt.ok {
				t.Errorf("ValidValuePath(%q) = %v, want ok=%v", tt.path, err, tt.ok)
			}
		})
	}
}

func TestParseManyProblemsIsCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString(head)
	for i := 0; i < 100; i++ {
		b.WriteString("  x" + strings.Repeat("y", i) + ": 1\n")
	}
	_, err := Parse("ferry.yaml", []byte(b.String()))
	if err == nil {
		t.Fatal("want error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxErrors+1 || !strings.Contains(lines[maxErrors], "and 70 more problems") {
		t.Errorf("got %d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

func TestParseAliasesAndMerges(t *testing.T) {
	src := head + `charts:
  - &lh
    name: longhorn
    repo: https://charts.longhorn.io
    version: 1.7.2
    values: {a: 1}
  - <<: *lh
    releaseName: longhorn-b
    namespace: b
`
	s, err := Parse("ferry.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Charts) != 2 || s.Charts[1].Name != "longhorn" || s.Charts[1].ReleaseName != "longhorn-b" || s.Charts[1].Values["a"] != 1 {
		t.Errorf("charts = %+v", s.Charts)
	}
	// An error inside merged content is reported at the line of the key
	// that was merged in.
	bad := strings.Replace(src, "version: 1.7.2", "version: latest", 1)
	_, err = Parse("ferry.yaml", []byte(bad))
	want := "ferry.yaml:10: charts[0].version: \"latest\" is not an exact chart version: write one such as \"4.0.18\" (ranges like ^1.2 or ~1.7 are not allowed)\n" +
		"ferry.yaml:10: charts[1].version: \"latest\" is not an exact chart version: write one such as \"4.0.18\" (ranges like ^1.2 or ~1.7 are not allowed)"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got: %v\nwant: %s", err, want)
	}
}

func TestParseAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString(head + "traefik:\n  values:\n    a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("    a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	_, err := Parse("ferry.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "YAML nodes (aliases included): simplify it") {
		t.Errorf("error = %v, want the node limit", err)
	}
}
